"""
classifier_node: glass/candidates + glass/crops -> classifications, fragile, label_info.

The outputs are glass/classifications, glass/fragile and glass/label_info. Candidates and crops are
paired by exact stamp in a bounded cache; the crops of a frame are classified in batches of up to
PREDICT_CHUNK. A frame with no candidates is answered at once with an empty message; one with more
than MAX_CANDIDATES is rejected.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from .common import GlassLifecycleNode, LATCHED_QOS, PAIR_QOS, RESULT_QOS, run, StartupError
from ..core import messages
from ..core.cpu import set_threads
from ..core.geometry import unstack_crops
from ..core.image_codec import image_to_bgr, ImageError
from ..core.labels import label_batch
from ..core.latest import LatestWorker
from ..core.models import open_classifier
from ..core.pairing import StampPairer
from ..core.params import NODES
from ..core.paths import DEFAULT_CLASSIFIER
from ..core.temporal import check_ids, LabelSettings, TrackLabels

# A frame with more candidates than the detector can send (its max_det range) is refused: a 16 KB
# image of 1-pixel crops with 16384 candidates would otherwise take tens of GB in one forward pass.
MAX_CANDIDATES = int(next(p.high for p in NODES['detector_node'] if p.name == 'max_det'))
# Crops go through the model this many at a time, so memory stays bounded however many there are.
PREDICT_CHUNK = 32


class ClassifierNode(GlassLifecycleNode):
    def __init__(self):
        super().__init__('classifier_node')
        self.classifier = None
        self.pub_classes = self.pub_frame = self.pub_fragile = self.pub_info = None
        self.tracks = None
        self.lock = threading.Lock()
        self.pairer = StampPairer(self.param('pair_cache_size'))
        self.empty_frames = 0  # frames without candidates, answered in the callback
        self.add_check(self._fragile_check)
        self.on_change(
            lambda name, _v: self._publish_label_info() if name == 'fragile_threshold' else None
        )
        self.start_health(self.resolve_topic_name('glass/candidates'), 'classifier (unconfigured)')

    def configure(self) -> None:
        set_threads(self.param('threads'))
        self.classifier = open_classifier(
            self.param('model') or DEFAULT_CLASSIFIER,
            self.param('device'),
            self.param('threads'),
            self.param('runtime'),
        )
        names = self.classifier.class_names
        reason = self._fragile_check('fragile_classes', self.param('fragile_classes'))
        if reason:
            raise StartupError(f'{reason} (model {self.classifier.path})')
        self._health_id = f'{self.classifier.path.name} on {self.classifier.device}'
        self.pub_classes = self.lifecycle_publisher(
            Detection2DArray, 'glass/classifications', RESULT_QOS
        )
        # the frame's own probabilities, before the per-track smoothing (same ids and boxes)
        self.pub_frame = self.lifecycle_publisher(
            Detection2DArray, 'glass/classifications_frame', RESULT_QOS
        )
        self.pub_fragile = self.lifecycle_publisher(Detection2DArray, 'glass/fragile', RESULT_QOS)
        self.tracks = TrackLabels(
            LabelSettings(
                window=self.param('label_window'),
                hysteresis=self.param('label_hysteresis'),
                expiry_s=self.param('track_expiry_s'),
            ),
            self.param('fragile_release_frames'),
        )
        # metadata, latched: published while inactive too, so a planner knows the classes
        self.pub_info = self.create_publisher(LabelInfo, 'glass/label_info', LATCHED_QOS)
        self._publish_label_info()
        self.worker = LatestWorker(self._classify, self.worker_error, 'classifier')
        self.get_logger().info(
            f'classifier {self.classifier.path} ({self.classifier.meta.architecture}, '
            f'classes {names}) on {self.classifier.device} '
            f'({getattr(self.classifier, "runtime", "torch")})'
        )

    def activate(self) -> None:
        self.subs = [
            self.create_subscription(
                Detection2DArray, 'glass/candidates', self._on_candidates, PAIR_QOS
            ),
            self.create_subscription(Image, 'glass/crops', self._on_crops, PAIR_QOS),
        ]

    def cleanup(self) -> None:
        super().cleanup()
        if self.pub_info is not None:
            self.destroy_publisher(self.pub_info)
        self.classifier = self.tracks = None
        self.pub_classes = self.pub_frame = self.pub_fragile = self.pub_info = None
        self._health_id = 'classifier (unconfigured)'

    def _fragile_check(self, name, value) -> str | None:
        if name != 'fragile_classes' or self.classifier is None:
            return None
        unknown = [c for c in value if c not in self.classifier.class_names]
        if unknown:
            return (
                f'fragile_classes {unknown} are not classes of the classifier '
                f'({", ".join(self.classifier.class_names)})'
            )
        return None

    def _publish_label_info(self) -> None:
        if self.pub_info is None:
            return
        header = messages.Header()
        header.stamp = self.get_clock().now().to_msg()
        self.pub_info.publish(
            messages.label_info(
                header, self.classifier.class_names, self.param('fragile_threshold')
            )
        )

    def health_extra(self) -> dict[str, str]:
        if self.worker is not None:
            self.monitor.set_count('received', self.worker.received + self.empty_frames)
            self.monitor.set_count('dropped', self.worker.dropped)
        with self.lock:
            tracks = self.tracks
            return {
                'tracks_smoothed': str(len(tracks.smoother.tracks)) if tracks else '0',
                'unpaired_evicted': str(self.pairer.evicted),
                'waiting_for_partner': str(len(self.pairer)),
                'lifecycle_state': self.lifecycle_state(),
            }

    def _on_candidates(self, msg: Detection2DArray) -> None:
        if not msg.detections:
            # nothing to pair or classify: answered here, so it never waits in the worker's slot,
            # where an older frame whose crops came in just after would replace it (latest wins
            # by arrival)
            started = time.monotonic()
            empty = messages.detection_array(msg.header, [])
            self.pub_classes.publish(empty)
            self.pub_frame.publish(empty)
            self.pub_fragile.publish(empty)
            self.empty_frames += 1
            self.record(msg.header, started)
            return
        self._add(messages.stamp_key(msg.header), 0, msg)

    def _on_crops(self, msg: Image) -> None:
        self._add(messages.stamp_key(msg.header), 1, msg)

    def _add(self, key, slot, msg) -> None:
        with self.lock:
            pair = self.pairer.add(key, slot, msg)
        if pair is not None:
            self.worker.put(pair)

    def _classify(self, pair) -> None:
        started = time.monotonic()
        candidates, crops_msg = pair
        header = candidates.header
        try:
            if len(candidates.detections) > MAX_CANDIDATES:
                raise ValueError(
                    f'{len(candidates.detections)} candidates, more than the {MAX_CANDIDATES} '
                    'a detector sends at most'
                )
            check_ids([d.id for d in candidates.detections])
            boxes = [messages.box_of(d) for d in candidates.detections]
            crops = unstack_crops(image_to_bgr(crops_msg), len(candidates.detections))
        except (ImageError, ValueError) as e:
            self.reject(f'rejected frame {header.stamp.sec}.{header.stamp.nanosec:09d}: {e}')
            return
        probs = np.concatenate(
            [
                self.classifier.predict(crops[i: i + PREDICT_CHUNK])
                for i in range(0, len(crops), PREDICT_CHUNK)
            ]
        )
        labels = label_batch(
            probs,
            self.classifier.class_names,
            self.param('fragile_classes'),
            self.param('fragile_threshold'),
        )
        ids = [cand.id for cand in candidates.detections]
        smoothed = self.tracks.frame(
            messages.stamp_seconds(header),
            [(i, lab.ranked) for i, lab in zip(ids, labels)],
            self.param('fragile_classes'),
            self.param('fragile_threshold'),
        )
        all_dets, frame_dets, fragile = [], [], []
        for det_id, box, lab, (ranked, is_fragile) in zip(ids, boxes, labels, smoothed):
            d = messages.detection(header, box, ranked, det_id=det_id)
            all_dets.append(d)
            frame_dets.append(messages.detection(header, box, lab.ranked, det_id=det_id))
            if is_fragile:
                fragile.append(d)
        self.pub_classes.publish(messages.detection_array(header, all_dets))
        self.pub_frame.publish(messages.detection_array(header, frame_dets))
        self.pub_fragile.publish(messages.detection_array(header, fragile))
        self.record(header, started)


def main(args=None) -> int:
    return run(ClassifierNode, 'classifier_node', args)


if __name__ == '__main__':
    sys.exit(main())
