"""The model nodes as lifecycle nodes, driven through lifecycle_msgs services over real DDS."""

from __future__ import annotations

from glass_perception.core.image_codec import fill_image
from glass_perception.core.synthetic import render_scene
from glass_perception.nodes.common import IMAGE_QOS, RESULT_QOS
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from .conftest import spin_until

pytestmark = pytest.mark.integration


def _call(node, client, request, timeout=20.0):
    assert client.wait_for_service(timeout_sec=timeout), client.srv_name
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f'{client.srv_name} did not answer'
    return future.result()


def _state(node, name):
    return _call(node, node.create_client(GetState, f'{name}/get_state'), GetState.Request())


def _change(node, name, transition):
    req = ChangeState.Request()
    req.transition.id = transition
    return _call(node, node.create_client(ChangeState, f'{name}/change_state'), req).success


def test_detector_configure_activate_deactivate_cleanup(start_node, ros_node):
    out = []
    ros_node.create_subscription(Detection2DArray, 'glass/detections', out.append, RESULT_QOS)
    pub = ros_node.create_publisher(Image, 'camera/image_raw', IMAGE_QOS)
    node = start_node('detector_node', {'autostart': False})
    image = fill_image(Image(), render_scene(3, 0).image, 'bgr8')

    def feed(seconds):
        before = len(out)
        for _ in range(int(seconds / 0.2)):
            image.header = Header(frame_id='lc', stamp=ros_node.get_clock().now().to_msg())
            pub.publish(image)
            spin_until(ros_node, lambda: False, 0.2)
        return len(out) - before

    assert _state(ros_node, 'detector_node').current_state.id == State.PRIMARY_STATE_UNCONFIGURED
    assert feed(1.0) == 0  # unconfigured: no model, no output
    assert _change(ros_node, 'detector_node', Transition.TRANSITION_CONFIGURE), node.output()
    assert _state(ros_node, 'detector_node').current_state.id == State.PRIMARY_STATE_INACTIVE
    assert feed(1.5) == 0  # inactive: loaded, silent
    assert _change(ros_node, 'detector_node', Transition.TRANSITION_ACTIVATE)
    assert _state(ros_node, 'detector_node').current_state.label == 'active'
    assert feed(4.0) > 0, node.output()
    assert _change(ros_node, 'detector_node', Transition.TRANSITION_DEACTIVATE)
    spin_until(ros_node, lambda: False, 0.5)
    assert feed(1.5) == 0  # deactivated: subscription released, publishers silent
    assert _change(ros_node, 'detector_node', Transition.TRANSITION_CLEANUP)
    assert _state(ros_node, 'detector_node').current_state.id == State.PRIMARY_STATE_UNCONFIGURED
    assert _change(ros_node, 'detector_node', Transition.TRANSITION_CONFIGURE)  # and back
    assert node.alive() and node.stop() == 0 and 'Traceback' not in node.output()


def test_a_configure_that_fails_leaves_the_node_unconfigured_with_one_line(
    start_node, ros_node, tmp_path
):
    bad = tmp_path / 'gone.onnx'
    node = start_node('classifier_node', {'autostart': False, 'model': str(bad)})
    assert not _change(ros_node, 'classifier_node', Transition.TRANSITION_CONFIGURE)
    assert _state(ros_node, 'classifier_node').current_state.id == State.PRIMARY_STATE_UNCONFIGURED
    lines = [x for x in node.output().splitlines() if 'configure failed' in x]
    assert len(lines) == 1 and 'gone.onnx' in lines[0] and 'Traceback' not in node.output()
    assert node.alive() and node.stop() == 0


def test_autostart_false_localizer_waits_and_autostart_true_fails_at_once(start_node, ros_node):
    waiting = start_node('localizer_node', {'autostart': False})
    assert _state(ros_node, 'localizer_node').current_state.label == 'unconfigured'
    assert waiting.stop() == 0
    failing = start_node('localizer_node', {'size_model': '/nonexistent/x.sizes.json'})
    failing.proc.wait(30)
    assert failing.proc.returncode == 1
    assert 'x.sizes.json' in failing.output() and 'Traceback' not in failing.output()
