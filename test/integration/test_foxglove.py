"""foxglove_node over real DDS and a real WebSocket: a Foxglove client decodes what it serves."""

from __future__ import annotations

import json
import os
import struct
import time

from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from glass_perception.core.foxglove_view import channel_decoder
from glass_perception.core.image_codec import fill_image
from glass_perception.nodes.common import DIAGNOSTICS_QOS, RESULT_QOS, SENSOR_PUB_QOS
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

pytestmark = pytest.mark.integration

websockets_sync = pytest.importorskip('websockets.sync.client')


def test_a_foxglove_client_receives_the_image_the_glasses_and_the_health(start_node, ros_node):
    port = 20000 + int(os.environ.get('ROS_DOMAIN_ID', '0')) * 7 % 20000
    bridge = start_node('foxglove_node', {'port': port, 'address': '127.0.0.1'})
    assert bridge.wait_output('serving Foxglove', 60), bridge.output()
    pub_image = ros_node.create_publisher(Image, 'glass/debug_image', SENSOR_PUB_QOS)
    pub_markers = ros_node.create_publisher(MarkerArray, 'glass/markers', RESULT_QOS)
    pub_health = ros_node.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
    header = Header(frame_id='camera_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 1767225600, 5
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, 32:] = (0, 0, 255)  # right half red (BGR)
    image = Image(header=header)
    fill_image(image, picture, 'bgr8')
    glass = Marker(header=header, ns='glasses', id=7, type=Marker.CYLINDER, action=Marker.ADD)
    glass.pose.position.x, glass.pose.position.z, glass.pose.orientation.w = 0.1, 0.6, 1.0
    glass.scale.x = glass.scale.y = 0.07
    glass.scale.z = 0.15
    glass.color.r, glass.color.a = 1.0, 0.8
    glass.lifetime = Duration(sec=1)
    label = Marker(header=header, ns='labels', id=7, type=Marker.TEXT_VIEW_FACING, text='beer')
    label.scale.z, label.color.a, label.pose.orientation.w = 0.03, 1.0, 1.0
    health = DiagnosticArray(header=header)
    health.status = [
        DiagnosticStatus(
            level=DiagnosticStatus.WARN, name='glass_perception: /localizer_node',
            message='no depth', values=[KeyValue(key='frames_without_depth', value='3')],
        )
    ]  # fmt: skip

    got = {}
    with websockets_sync.connect(
        f'ws://127.0.0.1:{port}', subprotocols=['foxglove.sdk.v1'], open_timeout=20
    ) as ws:
        channels, decoders = {}, {}
        deadline = time.monotonic() + 60
        while len(got) < 3 and time.monotonic() < deadline:
            pub_image.publish(image)
            pub_markers.publish(MarkerArray(markers=[glass, label]))
            pub_health.publish(health)
            try:
                frame = ws.recv(timeout=0.3)
            except TimeoutError:
                continue
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg.get('op') == 'advertise':
                    for c in msg['channels']:
                        sub = len(channels)
                        channels[sub] = c['topic']
                        decoders[sub] = channel_decoder(c)
                        subscribe = {'id': sub, 'channelId': c['id']}
                        ws.send(json.dumps({'op': 'subscribe', 'subscriptions': [subscribe]}))
                continue
            assert frame[0] == 0x01  # messageData: subscription id, log time, payload
            sub, _log_time = struct.unpack_from('<IQ', frame, 1)
            message = decoders[sub](frame[13:])
            if channels[sub] == '/diagnostics' and not any(
                st['name'] == health.status[0].name for st in message['status']
            ):
                continue  # the bridge's own health report, also on /diagnostics
            got[channels[sub]] = message
    assert set(got) == {'/glass/debug_image', '/glass/markers', '/diagnostics'}, (
        f'{sorted(got)}\n{bridge.output()[-2000:]}'
    )
    import cv2

    jpeg = got['/glass/debug_image']
    assert jpeg.format == 'jpeg' and jpeg.frame_id == 'camera_optical_frame'
    assert jpeg.timestamp.seconds == 1767225600  # the camera's stamp, end to end
    seen = cv2.imdecode(np.frombuffer(jpeg.data, np.uint8), cv2.IMREAD_COLOR)
    assert seen.shape == (48, 64, 3) and seen[24, 50, 2] > 200 and seen[24, 10, 2] < 40
    scene = got['/glass/markers']
    (cylinder,) = [e for e in scene.entities if e.cylinders]
    assert cylinder.id == 'glasses/7' and cylinder.frame_id == 'camera_optical_frame'
    assert cylinder.cylinders[0].size.z == pytest.approx(0.15)
    assert cylinder.cylinders[0].pose.position.z == pytest.approx(0.6)
    assert [e.texts[0].text for e in scene.entities if e.texts] == ['beer']
    (status,) = got['/diagnostics']['status']
    assert status['level'] == 'WARN' and status['values'] == {'frames_without_depth': '3'}
