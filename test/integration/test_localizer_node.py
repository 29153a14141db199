"""3D over real DDS: the synthetic RGB-D chain, the localizer fed by hand, rgbd:DIR, bad depth."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from glass_perception.core import messages
from glass_perception.core.geometry import Box
from glass_perception.core.image_codec import fill_image
from glass_perception.core.paths import DEFAULT_SCENES
from glass_perception.nodes.camera_node import calibrated_camera_info
from glass_perception.nodes.common import DIAGNOSTICS_QOS, IMAGE_QOS, RESULT_QOS
from glass_perception.workflow.evaluation_3d import load_rgbd_folder
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from .conftest import spin_until

pytestmark = pytest.mark.integration

FRAME_ID = 'rgbd_test_optical_frame'


def test_synthetic_rgbd_chain_gives_glasses_in_metres_and_markers(start_node, ros_node):
    classes, found, fragile, markers, truth2d, truth3d = {}, [], [], [], {}, {}

    def keep(store):
        return lambda m: store.__setitem__(messages.stamp_key(m.header), m)

    ros_node.create_subscription(
        Detection2DArray, 'glass/classifications', keep(classes), RESULT_QOS
    )
    ros_node.create_subscription(Detection3DArray, 'glass/detections_3d', found.append, RESULT_QOS)
    ros_node.create_subscription(Detection3DArray, 'glass/fragile_3d', fragile.append, RESULT_QOS)
    ros_node.create_subscription(MarkerArray, 'glass/markers', markers.append, RESULT_QOS)
    ros_node.create_subscription(
        Detection2DArray, 'camera/ground_truth', keep(truth2d), RESULT_QOS
    )
    ros_node.create_subscription(
        Detection3DArray, 'camera/ground_truth_3d', keep(truth3d), RESULT_QOS
    )
    nodes = [
        start_node('camera_node', {'fps': 3.0, 'frame_id': FRAME_ID}),
        start_node('detector_node'),
        start_node('classifier_node'),
        start_node('localizer_node'),
    ]

    def seen_here(msg):
        # our subscriptions match the publishers one by one: a 3D frame can come from a
        # classification published before ours matched. Only those may be missing here.
        return messages.stamp_key(msg.header) in classes

    def scorable(msg):
        # the truth subscriptions match late the same way: wait for frames we can score
        key = messages.stamp_key(msg.header)
        return bool(msg.detections) and seen_here(msg) and key in truth2d and key in truth3d

    got = spin_until(ros_node, lambda: sum(scorable(f) for f in found) >= 8, 180)
    logs = '\n'.join(f'--- {n.name}\n{n.output()[-1500:]}' for n in nodes)
    assert got, f'{len(found)} Detection3DArray messages\n{logs}'

    errors = []
    first_seen = min(classes)
    for msg in found:
        key = messages.stamp_key(msg.header)
        assert msg.header.frame_id == FRAME_ID, 'not a camera frame'
        if key not in classes:
            assert key < first_seen, f'classification {key} lost after {first_seen}'
            continue
        ids_2d = {d.id for d in classes[key].detections}
        boxes = {d.id: messages.box_of(d) for d in classes[key].detections}
        assert {d.id for d in msg.detections} == ids_2d  # one Detection3D per glass, same id
        t2, t3 = truth2d.get(key), truth3d.get(key)
        for d in msg.detections:
            assert d.header.frame_id == FRAME_ID
            assert d.bbox.size.z > 0 and d.bbox.size.x == d.bbox.size.y > 0
            scores = [r.hypothesis.score for r in d.results]
            assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-3
            cov = np.array(d.results[0].pose.covariance).reshape(6, 6)
            assert np.all(np.linalg.eigvalsh(cov[:3, :3]) > 0)
            if t2 is None or t3 is None:
                continue
            for g2, g3 in zip(t2.detections, t3.detections):
                if Box.iou(messages.box_of(g2), boxes[d.id]) >= 0.5:
                    true_base = g3.results[0].pose.pose.position
                    base = np.array(messages.base_of(d))
                    errors.append(np.linalg.norm(base - [true_base.x, true_base.y, true_base.z]))
    assert len(errors) >= 8
    assert np.median(errors) < 0.015 and np.mean(np.array(errors) < 0.04) >= 0.85, errors
    # fragile_3d: a subset of each frame's detections, by id
    by_stamp = {messages.stamp_key(m.header): {d.id for d in m.detections} for m in found}
    for f in fragile:
        assert {d.id for d in f.detections} <= by_stamp.get(messages.stamp_key(f.header), set())
    cylinders = [m for a in markers for m in a.markers if m.type == Marker.CYLINDER]
    texts = [m for a in markers for m in a.markers if m.type == Marker.TEXT_VIEW_FACING]
    assert cylinders and texts and all(m.header.frame_id == FRAME_ID for m in cylinders)
    assert all(m.lifetime.sec + m.lifetime.nanosec > 0 for m in cylinders)
    assert any(' m' in t.text for t in texts)
    for n in nodes:
        assert n.stop() == 0, n.output()[-2000:]
        assert 'Traceback' not in n.output()


def _scene():
    stem, colour, depth, camera, truth = next(iter(load_rgbd_folder(DEFAULT_SCENES)))
    mm = np.where(np.isfinite(depth), np.rint(depth * 1000), 0).astype(np.uint16)
    glasses = [o for o in truth['objects'] if o['kind'] in ('cup', 'beer_glass', 'soju_glass')]
    return mm, camera, glasses


def test_localizer_rejects_bad_depth_and_info_then_goes_on(start_node, ros_node):
    mm, camera, glasses = _scene()
    assert glasses
    out, health = [], []
    pub_cls = ros_node.create_publisher(Detection2DArray, 'glass/classifications', RESULT_QOS)
    pub_depth = ros_node.create_publisher(Image, 'camera/depth/image_raw', IMAGE_QOS)
    pub_info = ros_node.create_publisher(CameraInfo, 'camera/camera_info', IMAGE_QOS)
    ros_node.create_subscription(Detection3DArray, 'glass/detections_3d', out.append, RESULT_QOS)
    ros_node.create_subscription(DiagnosticArray, '/diagnostics', health.append, DIAGNOSTICS_QOS)
    node = start_node('localizer_node', {'stale_after_s': 1.0, 'diagnostics_period': 0.5})
    assert spin_until(
        ros_node,
        lambda: pub_cls.get_subscription_count() and pub_depth.get_subscription_count(),
        60,
    ), node.output()

    def frame(sec, depth_fn=None, info_fn=None):
        header = Header(frame_id=FRAME_ID)
        header.stamp.sec = sec
        info = calibrated_camera_info(header, camera)
        if info_fn:
            info_fn(info)
        pub_info.publish(info)
        depth = fill_image(Image(header=header), mm, '16UC1')
        if depth_fn:
            depth = depth_fn(depth) or depth
        pub_depth.publish(depth)
        spin_until(ros_node, lambda: False, 0.3)
        dets = [
            messages.detection(header, Box(*g['box']), [(g['kind'], 0.9), ('cup', 0.1)], str(i))
            for i, g in enumerate(glasses)
        ]
        pub_cls.publish(messages.detection_array(header, dets))

    def answered(sec):
        return any(m.header.stamp.sec == sec for m in out)

    # best-effort images can be lost in the first moments of a connection: warm it up
    for sec in range(100, 120):
        frame(sec)
        if spin_until(ros_node, lambda sec=sec: answered(sec), 3):
            break
    assert out, node.output()
    bad = [
        ('wrong encoding', lambda d: setattr(d, 'encoding', 'bgr8'), None),
        ('truncated', lambda d: setattr(d, 'data', d.data[:-7]), None),
        (
            'size differs',
            lambda d: fill_image(Image(header=d.header), mm[::2, ::2], '16UC1'),
            None,
        ),
        (
            '32FC1 all NaN',
            lambda d: fill_image(
                Image(header=d.header), np.full(mm.shape, np.nan, np.float32), '32FC1'
            ),
            None,
        ),
    ]
    for i, (_, depth_fn, info_fn) in enumerate(bad):
        frame(200 + i, depth_fn, info_fn)
    frame(300)  # the next good frame is processed
    assert spin_until(ros_node, lambda: answered(300), 20), node.output()
    assert spin_until(ros_node, lambda: answered(203), 5)  # all-NaN 32FC1: the size prior
    # rejected, except all-NaN 32FC1, which is valid depth with no reading: answered by the prior
    assert not any(answered(200 + i) for i in range(3))
    text = node.output()
    assert 'rejected frame 201' in text or 'rejected frame 200' in text

    # a camera_info with a zero K is refused; the last good one stays in use
    frame(400, info_fn=lambda info: setattr(info, 'k', [0.0] * 9))

    def reported(text):
        return any(
            text in s.message or any(text in kv.value for kv in s.values)
            for h in health
            for s in h.status
            if 'localizer_node' in s.name
        )

    assert spin_until(ros_node, lambda: reported('camera_info rejected'), 10), (
        node.output()[-3000:],
        [(s.message, [kv.value for kv in s.values if kv.key == 'note'])
         for h in health[-3:] for s in h.status],
    )

    # the depth stream stops: 2D keeps coming, and /diagnostics says why there is no 3D
    header = Header(frame_id=FRAME_ID)
    header.stamp.sec = 500
    pub_cls.publish(messages.detection_array(header, []))

    assert spin_until(ros_node, lambda: reported('no depth'), 15), node.output()[-1500:]
    # frames keep coming without their depth (lost on a network): the share shows as a warning
    for sec in range(501, 505):
        header.stamp.sec = sec
        pub_cls.publish(messages.detection_array(header, []))
    assert spin_until(ros_node, lambda: reported('had no depth image within'), 15), (
        node.output()[-1500:]
    )
    assert node.alive() and node.stop() == 0 and 'Traceback' not in node.output()


def test_camera_plays_an_rgbd_folder_with_depth_and_its_calibration(
    start_node, ros_node, tmp_path
):
    import cv2

    (tmp_path / 'color').mkdir()
    (tmp_path / 'depth').mkdir()
    from glass_perception.workflow.rgbd import camera_info_yaml

    (tmp_path / 'camera_info.yaml').write_text(camera_info_yaml('recorded'))
    for i in range(3):
        cv2.imwrite(
            str(tmp_path / 'color' / f'f{i}.png'), np.full((480, 640, 3), 60 * i, np.uint8)
        )
        cv2.imwrite(str(tmp_path / 'depth' / f'f{i}.png'), np.full((480, 640), 700 + i, np.uint16))
    depth, info = [], []
    ros_node.create_subscription(Image, 'camera/depth/image_raw', depth.append, IMAGE_QOS)
    ros_node.create_subscription(CameraInfo, 'camera/camera_info', info.append, IMAGE_QOS)
    cam = start_node(
        'camera_node', {'source': f'rgbd:{tmp_path}', 'fps': 5.0, 'frame_id': FRAME_ID}
    )
    assert spin_until(ros_node, lambda: len(depth) >= 4 and info, 30), cam.output()
    d = depth[-1]
    assert d.encoding == '16UC1' and (d.width, d.height) == (640, 480)
    assert d.header.frame_id == FRAME_ID
    values = {int(np.frombuffer(bytes(m.data), np.uint16)[0]) for m in depth}
    assert values <= {700, 701, 702} and len(values) >= 2  # stem order, looping
    k = list(info[-1].k)
    assert k[0] == 606.0 and k[2] == 319.5 and info[-1].distortion_model == 'plumb_bob'
    assert len(info[-1].p) == 12 and info[-1].p[0] == 606.0
    assert cam.stop() == 0


def test_a_broken_rgbd_folder_stops_the_camera_with_one_line(start_node, tmp_path):
    (tmp_path / 'color').mkdir()
    cam = start_node('camera_node', {'source': f'rgbd:{tmp_path}'})
    cam.proc.wait(30)
    assert cam.proc.returncode == 1
    lines = [x for x in cam.output().splitlines() if 'camera_info.yaml' in x]
    assert lines and 'Traceback' not in cam.output()
