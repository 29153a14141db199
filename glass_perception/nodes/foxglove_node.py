"""
foxglove_node: the pipeline live in Foxglove, over WebSocket, without rviz2 (foxglove-sdk).

Serves, on ``ws://<address>:<port>`` (Foxglove's default 8765; open it in Foxglove with "Open
connection"), the debug image (glass/debug_image as JPEG), the 3D glasses (glass/markers as a
Foxglove scene: cylinders and labels in the camera's optical frame) and /diagnostics (JSON), each
on a channel named after its ROS topic. Images are encoded only while a viewer subscribes. Off by
default: ``glass-pipeline --foxglove`` or ``foxglove:=true`` in the launch file starts it.
"""

from __future__ import annotations

import json
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from .common import DIAGNOSTICS_QOS, GlassNode, IMAGE_QOS, RESULT_QOS, run, StartupError
from ..core import foxglove_view as view
from ..core.image_codec import image_to_bgr, ImageError


class FoxgloveNode(GlassNode):
    def __init__(self):
        super().__init__('foxglove_node')
        try:
            import foxglove
            from foxglove.channels import CompressedImageChannel, SceneUpdateChannel
        except ImportError as e:
            raise StartupError(
                f'foxglove_node needs the foxglove-sdk package ({e}); pip install foxglove-sdk'
            ) from None
        address, port = self.param('address'), self.param('port')
        try:
            self.server = foxglove.start_server(name='glass_perception', host=address, port=port)
        except Exception as e:  # the SDK raises its own error for a port in use
            raise StartupError(f'cannot serve WebSocket on {address}:{port}: {e}') from None
        image_sub = self.create_subscription(Image, 'glass/debug_image', self._on_image, IMAGE_QOS)
        markers_sub = self.create_subscription(
            MarkerArray, 'glass/markers', self._on_markers, RESULT_QOS
        )
        self.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_diagnostics, DIAGNOSTICS_QOS
        )
        self.images = CompressedImageChannel(image_sub.topic_name)
        self.scene = SceneUpdateChannel(markers_sub.topic_name)
        self.health_channel = foxglove.Channel(
            '/diagnostics', schema=view.DIAGNOSTICS_SCHEMA, message_encoding='json'
        )
        self.sent = {'images': 0, 'scenes': 0, 'diagnostics': 0}
        self.start_health('glass/markers', f'foxglove ws://{address}:{self.server.port}')
        self.get_logger().info(
            f'serving Foxglove on ws://{address}:{self.server.port} '
            f'({self.images.topic}, {self.scene.topic}, /diagnostics)'
        )

    def health_extra(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.sent.items()}

    def _on_image(self, msg: Image) -> None:
        if not self.images.has_sinks():
            return  # no viewer: no JPEG
        self.monitor.count('received')
        started = time.monotonic()
        try:
            bgr = image_to_bgr(msg)
            self.images.log(
                view.compressed_image(
                    bgr, view.stamp_ns(msg.header), msg.header.frame_id,
                    self.param('jpeg_quality'),
                )
            )  # fmt: skip
        except (ImageError, ValueError) as e:
            self.reject(f'debug image not sent: {e}')
            return
        self.sent['images'] += 1
        self.record(msg.header, started)

    def _on_markers(self, msg: MarkerArray) -> None:
        self.monitor.count('received')
        try:
            update, _ = view.scene_update(msg)
            self.scene.log(update)
        except Exception as e:  # a bad marker must not end the bridge: count it, go on
            self.worker_error(e)
            return
        self.sent['scenes'] += 1

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if self.health_channel.has_sinks():
            self.health_channel.log(json.dumps(view.diagnostics(msg)).encode())
            self.sent['diagnostics'] += 1

    def close(self) -> None:
        self.server.stop()


def main(args=None) -> int:
    return run(FoxgloveNode, 'foxglove_node', args)


if __name__ == '__main__':
    sys.exit(main())
