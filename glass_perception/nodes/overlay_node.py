"""
overlay_node: camera/image_raw + glass/classifications + glass/fragile -> glass/debug_image.

Draws only while someone subscribes to glass/debug_image, so an unwatched overlay costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
import sys
import threading
import time

from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from .common import GlassNode, image_input, IMAGE_QOS, RESULT_QOS, run, SENSOR_PUB_QOS
from ..core import messages
from ..core.image_codec import fill_image, image_to_bgr, ImageError
from ..core.overlay import Annotation, draw
from ..core.pairing import StampPairer


class OverlayNode(GlassNode):
    def __init__(self):
        super().__init__('overlay_node')
        self.lock = threading.Lock()
        self.images: OrderedDict = OrderedDict()
        self.pairer = StampPairer(self.param('image_cache_size'))
        self.pub = self.create_publisher(Image, 'glass/debug_image', SENSOR_PUB_QOS)
        self.create_subscription(
            *image_input(self.param('image_transport')), self._on_image, IMAGE_QOS
        )
        self.create_subscription(
            Detection2DArray, 'glass/classifications', lambda m: self._on_result(0, m), RESULT_QOS
        )
        self.create_subscription(
            Detection2DArray, 'glass/fragile', lambda m: self._on_result(1, m), RESULT_QOS
        )
        self.start_health('glass/classifications', 'overlay')
        self.get_logger().info(
            f'drawing results on {self.pub.topic_name} while it has subscribers'
        )

    def _on_image(self, msg: Image) -> None:
        if self.pub.get_subscription_count() == 0:
            return
        with self.lock:
            self.images[messages.stamp_key(msg.header)] = msg
            while len(self.images) > self.param('image_cache_size'):
                self.images.popitem(last=False)

    def health_extra(self) -> dict[str, str]:
        return {'subscribers': str(self.pub.get_subscription_count())}

    def _on_result(self, slot: int, msg: Detection2DArray) -> None:
        started = time.monotonic()
        if slot == 0:
            self.monitor.count('received')
        key = messages.stamp_key(msg.header)
        with self.lock:
            pair = self.pairer.add(key, slot, msg)
            image = self.images.pop(key, None) if pair else None
        if pair is None or image is None:
            return
        classes, fragile = pair
        fragile_ids = {d.id for d in fragile.detections}
        try:
            bgr = image_to_bgr(image)
            notes = []
            for d in classes.detections:
                name, score = messages.best_hypothesis(d)
                notes.append(
                    Annotation(messages.box_of(d), name, score, d.id in fragile_ids, d.id)
                )
        except (ImageError, ValueError) as e:
            self.reject(f'cannot draw frame: {e}')
            return
        try:
            out = Image(header=messages.copy_header(image.header))
            fill_image(out, draw(bgr, notes, self.param('line_width')), 'bgr8')
            self.pub.publish(out)
        except (
            Exception
        ) as e:  # in a callback, an exception would end the process: count it, go on
            self.worker_error(e)
            return
        self.record(image.header, started)


def main(args=None) -> int:
    return run(OverlayNode, 'overlay_node', args)


if __name__ == '__main__':
    sys.exit(main())
