"""The synthetic chain end to end, nodes in separate processes over real DDS."""

from __future__ import annotations

import math

from glass_perception.core import messages
from glass_perception.core.synthetic import CLASSES
from glass_perception.nodes.common import IMAGE_QOS, LATCHED_QOS, RESULT_QOS
import pytest
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from .conftest import spin_until

pytestmark = pytest.mark.integration

FRAME_ID = 'test_camera_frame'


def test_synthetic_chain_stamps_boxes_labels_and_clean_exit(start_node, ros_node):
    truth, classes, fragile, debug, info = {}, [], [], [], []
    ros_node.create_subscription(
        Detection2DArray,
        'camera/ground_truth',
        lambda m: truth.__setitem__(messages.stamp_key(m.header), m),
        RESULT_QOS,
    )
    ros_node.create_subscription(
        Detection2DArray, 'glass/classifications', classes.append, RESULT_QOS
    )
    ros_node.create_subscription(Detection2DArray, 'glass/fragile', fragile.append, RESULT_QOS)
    ros_node.create_subscription(Image, 'glass/debug_image', debug.append, IMAGE_QOS)
    ros_node.create_subscription(LabelInfo, 'glass/label_info', info.append, LATCHED_QOS)

    nodes = [
        start_node('camera_node', {'fps': 4.0, 'frame_id': FRAME_ID, 'seed': 11}),
        start_node('detector_node'),
        start_node('classifier_node'),
        start_node('overlay_node'),
    ]
    # count only frames whose truth reached us: our subscriptions match their publishers one by
    # one, so the first frames' truth can predate ours matching
    got = spin_until(
        ros_node,
        lambda: sum(1 for c in classes if c.detections and messages.stamp_key(c.header) in truth)
        >= 8
        and debug
        and info,
        150,
    )
    logs = '\n'.join(f'--- {n.name}\n{n.output()[-1500:]}' for n in nodes)
    assert got, (
        f'pipeline produced {len(classes)} classifications, {len(debug)} debug images\n{logs}'
    )

    # every classification answers a camera frame: same stamp, same frame_id. Our subscriptions
    # match their publishers one by one: the first frames' truth can predate ours matching.
    first_truth = min(truth)
    classes = [c for c in classes if messages.stamp_key(c.header) >= first_truth]
    for c in classes:
        assert c.header.frame_id == FRAME_ID
        assert messages.stamp_key(c.header) in truth, 'classification stamp is not a camera stamp'
        for d in c.detections:
            assert d.header.frame_id == FRAME_ID
            scores = [r.hypothesis.score for r in d.results]
            assert [r.hypothesis.class_id for r in d.results] and {
                r.hypothesis.class_id for r in d.results
            } == set(CLASSES)
            assert scores == sorted(scores, reverse=True), 'results must be best first'
            assert math.isclose(sum(scores), 1.0, abs_tol=1e-4)

    # the boxes are where the generator drew its glasses (source-image pixels)
    matched = total = 0
    for c in classes:
        gt = [
            messages.box_of(d)
            for d in truth[messages.stamp_key(c.header)].detections
            if messages.best_hypothesis(d)[0] in CLASSES
        ]
        for d in c.detections:
            total += 1
            matched += max((messages.box_of(d).iou(g) for g in gt), default=0.0) >= 0.5
    # A coordinate bug (letterbox or crop-space boxes) matches almost nothing; the detector's own
    # precision on these scenes (about 0.85) is measured by test_shipped_models, not here.
    assert total >= 8 and matched / total >= 0.6, (
        f'only {matched}/{total} boxes match the ground truth'
    )

    # fragile is a subset of the classified objects of the same frame
    by_stamp = {messages.stamp_key(c.header): {d.id for d in c.detections} for c in classes}
    for f in fragile:
        key = messages.stamp_key(f.header)
        if key in by_stamp:
            assert {d.id for d in f.detections} <= by_stamp[key]

    assert [v.class_name for v in info[-1].class_map] == sorted(CLASSES)
    assert math.isclose(info[-1].threshold, 0.3, abs_tol=1e-6)
    assert (debug[-1].width, debug[-1].height) == (640, 480) and debug[
        -1
    ].header.frame_id == FRAME_ID

    # the graph: names and types as documented, images published with the sensor-data profile
    expected = {
        '/camera/image_raw': 'sensor_msgs/msg/Image',
        '/camera/camera_info': 'sensor_msgs/msg/CameraInfo',
        '/camera/ground_truth': 'vision_msgs/msg/Detection2DArray',
        '/glass/detections': 'vision_msgs/msg/Detection2DArray',
        '/glass/candidates': 'vision_msgs/msg/Detection2DArray',
        '/glass/crops': 'sensor_msgs/msg/Image',
        '/glass/classifications': 'vision_msgs/msg/Detection2DArray',
        '/glass/fragile': 'vision_msgs/msg/Detection2DArray',
        '/glass/label_info': 'vision_msgs/msg/LabelInfo',
        '/glass/debug_image': 'sensor_msgs/msg/Image',
    }
    # discovery of a publisher nobody subscribes to (glass/detections) can lag: wait for it
    spin_until(
        ros_node, lambda: set(expected) <= set(dict(ros_node.get_topic_names_and_types())), 10
    )
    topics = dict(ros_node.get_topic_names_and_types())
    for name, type_name in expected.items():
        assert topics.get(name) == [type_name], f'{name}: {topics.get(name)}'
    camera_pub = ros_node.get_publishers_info_by_topic('/camera/image_raw')[0]
    assert camera_pub.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT

    # Ctrl-C ends every node promptly with exit code 0 and no traceback
    for n in nodes:
        code = n.stop()
        assert code == 0, f'{n.name} exited {code}\n{n.output()[-2000:]}'
        assert 'Traceback' not in n.output(), n.output()[-2000:]
