"""detector_node running an ONNX export of the shipped detector, over real DDS."""

from __future__ import annotations

from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from glass_perception.core import messages
from glass_perception.core.detector import Detector
from glass_perception.core.image_codec import fill_image
from glass_perception.core.paths import DEFAULT_DETECTOR_WEIGHTS as DEFAULT_DETECTOR
from glass_perception.core.synthetic import render_scene
from glass_perception.nodes.common import DIAGNOSTICS_QOS, IMAGE_QOS, RESULT_QOS
from glass_perception.tools.export_detector import export_onnx
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from .conftest import spin_until

pytestmark = pytest.mark.integration


def test_detector_node_runs_an_onnx_model(start_node, ros_node, tmp_path):
    model = export_onnx(DEFAULT_DETECTOR, tmp_path / 'shipped_detector.onnx', imgsz=320)
    detector = start_node('detector_node', {'model': str(model)}, namespace='/onnx')
    pub = ros_node.create_publisher(Image, '/onnx/camera/image_raw', IMAGE_QOS)
    seen = []
    ros_node.create_subscription(
        Detection2DArray, '/onnx/glass/detections', seen.append, RESULT_QOS
    )
    health = []
    ros_node.create_subscription(
        DiagnosticArray,
        '/diagnostics',
        lambda m: health.extend(
            f'{s.message} {[(kv.key, kv.value) for kv in s.values][:4]}'
            for s in m.status
            if '/onnx/' in s.name
        ),
        DIAGNOSTICS_QOS,
    )
    assert detector.wait_output('detector ', 120), detector.output()
    assert 'shipped_detector.onnx' in detector.output() and 'imgsz 320' in detector.output()
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 30)

    image = render_scene(3, 0).image
    msg = fill_image(Image(header=Header(frame_id='onnx_probe')), image, 'bgr8')
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1234, 5678
    for _ in range(40):  # best effort, and discovery may lag: repeat until answered
        pub.publish(msg)
        if spin_until(ros_node, lambda: seen, 1.5):
            break
    assert seen, f'no detections from the ONNX model\n{health[-1:]}\n{detector.output()[-2000:]}'
    out = seen[0]
    assert (out.header.stamp.sec, out.header.stamp.nanosec, out.header.frame_id) == (
        1234,
        5678,
        'onnx_probe',
    )
    # the same boxes, in pixels of the published image, as the core detector finds with this model
    # in-process
    expected = Detector(str(model), 'cpu', 320).detect(image, 0.35, 0.5, 50)
    got = [(messages.box_of(d), messages.best_hypothesis(d)[0]) for d in out.detections]
    assert expected and len(got) == len(expected), f'{got}\n{expected}'
    for e in expected:
        assert any(name == e.class_name and box.iou(e.box) > 0.9 for box, name in got), (
            f'{e} not in {got}'
        )
    assert 'Traceback' not in detector.output()
    assert detector.stop() == 0


YOLOV5N = Path(__file__).resolve().parents[3] / 'shared' / 'weights' / 'yolov5n.pt'


@pytest.fixture(scope='module')
def coco_yolov5n(tmp_path_factory):
    """Convert the official COCO YOLOv5n (no fine-tuning) to .pt and ONNX."""
    if not YOLOV5N.is_file():
        pytest.skip(f'{YOLOV5N} is not here (shared/weights)')
    from glass_perception.workflow.pretrained import read_yolov5_checkpoint
    from glass_perception.workflow.yolov5_training import (
        coco_model,
        DETECTOR_COCO_CLASSES,
        save_checkpoint,
    )

    folder = tmp_path_factory.mktemp('yolov5n')
    model = coco_model(read_yolov5_checkpoint(YOLOV5N), DETECTOR_COCO_CLASSES)
    pt = save_checkpoint(model, folder / 'yolov5n_coco_node.pt')
    return {'.pt': pt, '.onnx': export_onnx(pt, folder / 'yolov5n_coco_node.onnx', imgsz=480)}


@pytest.mark.parametrize('suffix', ['.onnx', '.pt'])
def test_detector_node_runs_the_converted_coco_yolov5n(
    start_node, ros_node, coco_yolov5n, suffix
):
    import cv2
    import skimage.data

    model = coco_yolov5n[suffix]
    ns = f'/v5{suffix[1:]}'
    detector = start_node('detector_node', {'model': str(model), 'imgsz': 480}, namespace=ns)
    pub = ros_node.create_publisher(Image, f'{ns}/camera/image_raw', IMAGE_QOS)
    seen = []
    ros_node.create_subscription(Detection2DArray, f'{ns}/glass/candidates', seen.append, 10)
    assert detector.wait_output('detector ', 120), detector.output()
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 30)
    image = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)  # a real photograph
    msg = fill_image(Image(header=Header(frame_id='coffee')), image, 'bgr8')
    for _ in range(40):
        pub.publish(msg)
        if spin_until(ros_node, lambda: seen and seen[-1].detections, 1.5):
            break
    assert seen and seen[-1].detections, detector.output()[-2000:]
    got = [(messages.box_of(d), messages.best_hypothesis(d)[0]) for d in seen[-1].detections]
    expected = [
        d for d in Detector(str(model), 'cpu', 480).detect(image, 0.35, 0.5, 50)
        if d.class_name == 'cup'
    ]
    assert len(expected) == 1
    assert any(n == 'cup' and b.iou(expected[0].box) > 0.9 for b, n in got), got
    assert 'Traceback' not in detector.output()
    assert detector.stop() == 0
