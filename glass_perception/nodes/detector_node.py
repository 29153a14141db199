"""
detector_node: camera/image_raw -> glass/detections, glass/candidates + glass/crops.

A lifecycle node: configure loads the model, activate subscribes, deactivate unsubscribes and
silences its publishers, cleanup frees the model (``autostart`` does the first two at start-up).

Frames are handed to one worker thread through a depth-one slot: a frame that arrives while the
model is busy replaces the one waiting, so latency does not grow with load.
"""

from __future__ import annotations

import sys
import time

from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from .common import (
    fastdds_transport_note,
    GlassLifecycleNode,
    image_input,
    IMAGE_QOS,
    PAIR_QOS,
    RESULT_QOS,
    run,
)
from ..core import messages
from ..core.cpu import set_threads
from ..core.detector import Detector
from ..core.geometry import square_crop, stack_crops
from ..core.image_codec import describe, fill_image, image_to_bgr, ImageError
from ..core.latest import LatestWorker
from ..core.tracking import assign_ids, detect_conf, drop_duplicates, make_tracker


class DetectorNode(GlassLifecycleNode):
    def __init__(self):
        super().__init__('detector_node')
        self.detector = self.tracker = None
        self.pub_detections = self.pub_candidates = self.pub_crops = None
        self.crops_sent = 0
        self.start_health(self.resolve_topic_name('camera/image_raw'), 'detector (unconfigured)')

    def configure(self) -> None:
        set_threads(self.param('threads'))
        self.detector = Detector(
            self.param('model'),
            self.param('device'),
            self.param('imgsz'),
            threads=self.param('threads'),
            runtime=self.param('runtime'),
        )
        self._health_id = (
            f'{self.detector.source} on {self.detector.device} ({self.detector.runtime})'
        )
        self.pub_detections = self.lifecycle_publisher(
            Detection2DArray, 'glass/detections', RESULT_QOS
        )
        self.pub_candidates = self.lifecycle_publisher(
            Detection2DArray, 'glass/candidates', PAIR_QOS
        )
        self.pub_crops = self.lifecycle_publisher(Image, 'glass/crops', PAIR_QOS)
        self.tracker = make_tracker(
            self.param('tracker'),
            self.param('conf'),
            self.param('track_low_conf'),
            self.param('track_buffer_s'),
            self.param('cut_threshold'),
        )
        self.worker = LatestWorker(self._process, self.worker_error, 'detector')
        unknown = set(self.param('crop_classes')) - set(self.detector.class_names)
        if unknown:
            self.get_logger().warning(
                f'crop_classes {sorted(unknown)} are not classes of the detector '
                f'({", ".join(self.detector.class_names)}); they will never be cropped'
            )
        for note in [*self.detector.notes, fastdds_transport_note()]:
            if note:
                self.get_logger().warning(note)
        self.get_logger().info(
            f'detector {self.detector.source} on {self.detector.device} '
            f'({self.detector.runtime}), '
            f'imgsz {self.detector.imgsz}, classes {self.detector.class_names}, '
            f'tracker {self.param("tracker")}'
        )

    def activate(self) -> None:
        self.subs = [
            self.create_subscription(
                *image_input(self.param('image_transport')), self.worker.put, IMAGE_QOS
            )
        ]

    def cleanup(self) -> None:
        super().cleanup()
        self.detector = self.tracker = None
        self.pub_detections = self.pub_candidates = self.pub_crops = None
        self._health_id = 'detector (unconfigured)'

    def health_extra(self) -> dict[str, str]:
        if self.worker is not None:
            self.monitor.set_count('received', self.worker.received)
            self.monitor.set_count('dropped', self.worker.dropped)
        tracks = 'off' if self.tracker is None else str(self.tracker.active_tracks)
        return {
            'crops_sent': str(self.crops_sent),
            'tracks': tracks,
            'lifecycle_state': self.lifecycle_state(),
        }

    def _process(self, msg: Image) -> None:
        started = time.monotonic()
        try:
            bgr = image_to_bgr(msg)
        except ImageError as e:
            self.reject(f'rejected image ({describe(msg)}): {e}')
            return
        conf = self.param('conf')
        found = self.detector.detect(
            bgr,
            detect_conf(self.tracker, conf, self.param('track_low_conf')),
            self.param('iou'),
            self.param('max_det'),
        )
        crop_classes = set(self.param('crop_classes'))
        found = drop_duplicates(found, crop_classes, self.param('duplicate_iou'))
        header = msg.header
        tracked = assign_ids(self.tracker, found, conf, messages.stamp_seconds(header), frame=bgr)
        self.pub_detections.publish(
            messages.detection_array(
                header,
                [
                    messages.detection(header, d.box, [(d.class_name, d.score)], det_id=i)
                    for d, i in tracked
                ],
            )
        )
        chosen = [(d, i) for d, i in tracked if d.class_name in crop_classes]
        candidates = [
            messages.detection(header, d.box, [(d.class_name, d.score)], det_id=i)
            for d, i in chosen
        ]
        if chosen:
            # crops first: the classifier acts when it holds both halves, whichever came last
            padding, size = self.param('crop_padding'), self.param('crop_size')
            crops = Image(header=messages.copy_header(header))
            fill_image(
                crops,
                stack_crops([square_crop(bgr, d.box, padding, size) for d, _ in chosen]),
                'bgr8',
            )
            self.pub_crops.publish(crops)
            self.crops_sent += len(chosen)
        self.pub_candidates.publish(messages.detection_array(header, candidates))
        self.record(header, started)


def main(args=None) -> int:
    return run(DetectorNode, 'detector_node', args)


if __name__ == '__main__':
    sys.exit(main())
