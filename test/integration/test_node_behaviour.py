"""Single nodes over real DDS: bad input, parameters, start-up faults, signals."""

from __future__ import annotations

import signal
import time

from glass_perception.core.image_codec import fill_image
from glass_perception.core.synthetic import render_scene
from glass_perception.nodes.common import IMAGE_QOS, RESULT_QOS
import numpy as np
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from .conftest import spin_until

pytestmark = pytest.mark.integration


def _image(stamp_sec: int, bgr: np.ndarray) -> Image:
    msg = Image(header=Header(frame_id='probe'))
    msg.header.stamp.sec = stamp_sec
    return fill_image(msg, bgr, 'bgr8')


def _call(node, client, request, timeout=10.0):
    assert client.wait_for_service(timeout_sec=30.0), f'{client.srv_name} not available'
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f'{client.srv_name} did not answer'
    return future.result()


def test_malformed_image_is_rejected_and_next_frame_processed(start_node, ros_node):
    detector = start_node('detector_node', namespace='/fuzz')
    pub = ros_node.create_publisher(Image, '/fuzz/camera/image_raw', IMAGE_QOS)
    seen = []
    ros_node.create_subscription(
        Detection2DArray, '/fuzz/glass/detections', seen.append, RESULT_QOS
    )
    assert detector.wait_output('detector ', 120), detector.output()
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 30)

    good = render_scene(5, 0).image
    bad = _image(100, good)
    bad.step = bad.step - 7  # rows shorter than width x 3: inconsistent, must be rejected
    for attempt in range(40):  # best effort, and discovery may lag: repeat until both are seen
        pub.publish(bad)
        spin_until(ros_node, lambda: False, 0.3)
        pub.publish(_image(200 + attempt, good))
        spin_until(ros_node, lambda: any(m.header.stamp.sec >= 200 for m in seen), 1.5)
        if any(m.header.stamp.sec >= 200 for m in seen) and 'rejected image' in detector.output():
            break
    stamps = {m.header.stamp.sec for m in seen}
    assert any(s >= 200 for s in stamps), (
        f'valid frame never processed\n{detector.output()[-2000:]}'
    )
    assert 100 not in stamps, 'the malformed frame produced detections'
    assert 'rejected image' in detector.output()
    assert detector.alive()
    assert detector.stop() == 0


def test_parameters_refuse_invalid_values_and_keep_old(start_node, ros_node):
    detector = start_node('detector_node', namespace='/params')
    assert detector.wait_output('detector ', 120), detector.output()
    set_client = ros_node.create_client(SetParameters, '/params/detector_node/set_parameters')
    get_client = ros_node.create_client(GetParameters, '/params/detector_node/get_parameters')

    def set_param(name, value):
        p = Parameter(name=name)
        if isinstance(value, float):
            p.value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        else:
            p.value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        return _call(ros_node, set_client, SetParameters.Request(parameters=[p])).results[0]

    def get_param(name):
        return _call(ros_node, get_client, GetParameters.Request(names=[name])).values[0]

    r = set_param('conf', 1.5)
    assert not r.successful, 'conf=1.5 is outside [0, 1] and must be refused'
    assert get_param('conf').double_value == pytest.approx(0.25)
    r = set_param('imgsz', 640)
    assert not r.successful, 'imgsz is read-only'
    assert get_param('imgsz').integer_value == 480
    r = set_param('conf', 0.6)
    assert r.successful, r.reason
    assert get_param('conf').double_value == pytest.approx(0.6)
    assert detector.stop() == 0


def _bad_model(tmp_path, name: str) -> str:
    """Write the faulty model file ``name`` into tmp_path; return its path."""
    import json
    import pickle
    import shutil

    from glass_perception.core.paths import (
        DEFAULT_CLASSIFIER_CHECKPOINT as DEFAULT_CLASSIFIER,
        DEFAULT_DETECTOR_WEIGHTS as DEFAULT_DETECTOR,
    )
    import torch

    path = tmp_path / name
    meta = json.loads(DEFAULT_CLASSIFIER.with_suffix('.json').read_text())
    if name == 'empty.pt':
        path.write_bytes(b'')
    elif name == 'state_dict.pt':  # a torch state dict, not an Ultralytics checkpoint
        torch.save({'conv.weight': torch.zeros(2, 2)}, path)
    elif name == 'classify.pt':  # an Ultralytics classification model
        from ultralytics import YOLO

        YOLO('yolo11n-cls.yaml').save(path)
    elif name == 'random.pt':
        path.write_bytes(pickle.dumps({'hello': [1, 2, 3]}))
    elif name == 'truncated.pt':
        data = DEFAULT_DETECTOR.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == 'garbage.onnx':
        path.write_bytes(b'not an onnx model\n' * 20)
    else:  # classifier checkpoints: the shipped weights, a faulty JSON
        shutil.copyfile(DEFAULT_CLASSIFIER, path)
        json_text = {
            'resnet50.safetensors': json.dumps({**meta, 'architecture': 'resnet50'}),
            'four.safetensors': json.dumps({**meta, 'class_names': meta['class_names'] + ['mug']}),
            'malformed.safetensors': json.dumps(meta)[:40],
            'no_json.safetensors': None,
            'classifier.safetensors': None,
        }[name]
        if json_text is not None:
            path.with_suffix('.json').write_text(json_text)
    return str(path)


def _onnx_cuda() -> bool:
    import onnxruntime

    return 'CUDAExecutionProvider' in onnxruntime.get_available_providers()


def _no_cuda():
    import torch

    return not torch.cuda.is_available()


# params values starting with "@" name a faulty file that the test writes first; every needle must
# be on the one error line
@pytest.mark.parametrize(
    'node,params,needles',
    [
        (
            'classifier_node',
            {'model': '/nonexistent/glass.safetensors'},
            '/nonexistent/glass.safetensors',
        ),
        ('classifier_node', {'fragile_classes': ['wine_glass']}, 'wine_glass'),
        (
            'classifier_node',
            {'model': '@resnet50.safetensors'},
            ('resnet50.safetensors', 'weights are a mobilenet_v2'),
        ),
        (
            'classifier_node',
            {'model': '@four.safetensors'},
            ('four.safetensors', 'head has 3 outputs'),
        ),
        (
            'classifier_node',
            {'model': '@malformed.safetensors'},
            ('malformed.json', 'not valid JSON'),
        ),
        ('classifier_node', {'model': '@no_json.safetensors'}, ('no_json.json', 'file not found')),
        ('classifier_node', {'device': 'tpu'}, ("'tpu'", 'cpu, cuda, cuda:N')),
        pytest.param(  # the default ONNX model: onnxruntime must have CUDA
            'classifier_node',
            {'device': 'cuda'},
            ("'cuda'", 'onnxruntime-gpu', 'use device cpu'),
            marks=pytest.mark.skipif(_onnx_cuda(), reason='onnxruntime here has CUDA'),
        ),
        pytest.param(  # a checkpoint: torch must have CUDA
            'classifier_node',
            {'device': 'cuda', 'model': '@classifier.safetensors'},
            ("'cuda'", 'CUDA is not available', "use 'cpu'"),
            marks=pytest.mark.skipif(not _no_cuda(), reason='this machine has CUDA'),
        ),
        ('detector_node', {'model': '@empty.pt'}, 'empty.pt'),
        ('detector_node', {'model': '@state_dict.pt'}, ('state_dict.pt', 'cannot load detector')),
        ('detector_node', {'model': '@classify.pt'}, ('classify.pt', 'not a detection model')),
        ('detector_node', {'model': '@random.pt'}, ('random.pt', 'cannot load detector')),
        ('detector_node', {'model': '@truncated.pt'}, ('truncated.pt', 'truncated')),
        (
            'detector_node',
            {'model': '@classifier.safetensors'},
            ('classifier.safetensors', 'must be a .pt or .onnx'),
        ),
        (
            'detector_node',
            {'model': '@garbage.onnx'},
            ('garbage.onnx', 'not a readable ONNX model'),
        ),
        ('detector_node', {'device': 'tpu'}, 'tpu'),
        ('camera_node', {'source': '/nonexistent/frames/'}, '/nonexistent/frames/'),
        ('camera_node', {'fps': 1000.0}, 'fps'),
    ],
)
def test_startup_fault_exits_nonzero_with_one_clear_line(
    start_node, tmp_path, node, params, needles
):
    params = {
        k: _bad_model(tmp_path, v[1:]) if isinstance(v, str) and v.startswith('@') else v
        for k, v in params.items()
    }
    proc = start_node(node, params)
    try:
        proc.proc.wait(60)
    except Exception:
        pytest.fail(f'{node} did not exit on a start-up fault\n{proc.output()[-2000:]}')
    out = proc.output()
    assert proc.proc.returncode != 0
    errors = [line for line in out.splitlines() if line.startswith(f'[{node}] error:')]
    assert len(errors) == 1, out
    for needle in (needles,) if isinstance(needles, str) else needles:
        assert needle in errors[0], out
    assert 'Traceback' not in out, out


@pytest.mark.parametrize(
    'source, needles',
    [
        ('nonsense', ("source 'nonsense': ", "'bag:PATH'", "'rgbd:DIR'", 'a glob')),
        ('bag:@junk.mcap', ('junk.mcap: not a readable ROS 2 bag',)),
        ('bag:@nodepth.mcap', ("no depth topic '/camera/camera/aligned_depth", 'bag_depth_topic')),
    ],
)
def test_a_bad_source_is_said_once(start_node, tmp_path, source, needles):
    if source == 'bag:@junk.mcap':
        (tmp_path / 'junk.mcap').write_bytes(b'garbage' * 100)
    if source == 'bag:@nodepth.mcap':  # a colour-only bag, the depth topic left at its default
        from glass_perception.core import bags

        with bags.BagWriter(tmp_path / 'nodepth.mcap') as w:
            image = bags.image_message(w.store, np.zeros((48, 64, 3), np.uint8), 'bgr8', 1, 'c')
            w.write(bags.REALSENSE_COLOUR, bags.IMAGE, 1, image)
    source = source.replace('@', str(tmp_path) + '/')
    camera = start_node('camera_node', {'source': source})
    camera.proc.wait(60)
    out = camera.output()
    errors = [line for line in out.splitlines() if line.startswith('[camera_node] error:')]
    assert camera.proc.returncode != 0 and len(errors) == 1, out
    assert errors[0].count(f"source '{source}'") == 1, errors[0]  # said once
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_a_misspelt_parameter_is_named_once_and_the_node_still_starts(start_node, tmp_path):
    params = tmp_path / 'p.yaml'
    params.write_text('detector_node:\n  ros__parameters:\n    cnof: 0.5\n')
    detector = start_node('detector_node', params_file=params)
    assert detector.wait_output('imgsz', 120), detector.output()
    out = detector.output()
    warned = [line for line in out.splitlines() if "'cnof' is not a parameter" in line]
    assert len(warned) == 1 and "did you mean 'conf'?" in warned[0], out
    assert detector.alive()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_node_cleanly(start_node, sig):
    camera = start_node('camera_node', {'fps': 20.0})
    assert camera.wait_output('publishing', 60), camera.output()
    time.sleep(1.0)
    t0 = time.monotonic()
    code = camera.stop(sig, timeout=10)
    assert code == 0, camera.output()
    assert time.monotonic() - t0 < 5.0
    assert 'Traceback' not in camera.output()


def test_file_source_without_loop_stops_cleanly_at_its_end(start_node, tmp_path):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f'f{i}.png'), render_scene(3, i, 160, 120).image)
    camera = start_node(
        'camera_node',
        {'source': str(tmp_path), 'loop': False, 'fps': 10.0, 'width': 160, 'height': 120},
    )
    camera.proc.wait(60)
    assert camera.proc.returncode == 0, camera.output()
    assert 'stopping (loop is false)' in camera.output()
    assert 'Traceback' not in camera.output()


def test_signal_during_a_publish_still_exits_cleanly(start_node):
    # at 120 fps the timer is often mid-publish when the signal shuts the context down
    for i, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM)):
        camera = start_node('camera_node', {'fps': 120.0, 'width': 320, 'height': 240})
        assert camera.wait_output('publishing', 60), camera.output()
        time.sleep(0.5 + 0.13 * i)
        assert camera.stop(sig, timeout=10) == 0, camera.output()
        assert 'Traceback' not in camera.output()
