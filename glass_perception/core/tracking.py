"""
Track ids for a frame's boxes, from Roboflow's ``trackers`` library (ByteTrack, BoT-SORT, ...).

The library does the association and the box motion model; this module adapts it to a ROS node:

* **ids are strings unique for the node's lifetime**: the library's integer ids restart on a
  reset, so each library track is given the next number of a counter that never restarts;
* **a glass has its id from its first frame**: the library returns a new box with id -1 until
  its track is confirmed on the next frame; here the new track (the tracklet the library created
  for that box) is given its id at once, and keeps it when the library confirms it;
* **the low-confidence stage**: the detector runs down to ``low_conf`` when tracking; a box under
  the node's ``conf`` is kept only if it continues a track (ByteTrack's second association: a
  glass half hidden behind another keeps its track and is still published);
* **time**: the frames' stamps drive the motion model, so dropped frames are predicted over; a
  stamp that goes back more than ``RESET_BACKWARDS_S`` (a bag played again, a looped folder)
  resets the tracks, whose ids are then new;
* **cuts**: a frame that differs from the previous one as a new shot does (the mean absolute
  difference of the two 32x24 grey thumbnails above ``cut_threshold`` grey levels: another scene,
  another camera) resets the tracks too, so that no glass inherits the id, the label or the
  position of one in another scene. Within the shipped and held-out sequences consecutive frames
  differ by 4 at most; between the shipped independent scenes by 46 (median), 5 at the least.

``trackers`` imports supervision, NumPy, SciPy and OpenCV, not torch: the ONNX nodes stay light.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import itertools
import warnings

import numpy as np

from .geometry import Box

#: tracker parameter -> the library class name; 'none' keeps per-frame indices as ids
ALGORITHMS = {
    'bytetrack': 'ByteTrackTracker',
    'botsort': 'BoTSORTTracker',
    'ocsort': 'OCSORTTracker',
    'sort': 'SORTTracker',
}
TRACKERS = (*ALGORITHMS, 'none')
#: the motion models' nominal frame rate; the stamps give the real time between frames
NOMINAL_FPS = 30.0
RESET_BACKWARDS_S = 0.5


@dataclass(frozen=True)
class TrackerSettings:
    algorithm: str = 'bytetrack'
    conf: float = 0.25  # a new track needs a box at least this confident
    low_conf: float = 0.1  # boxes down to this continue a track
    buffer_s: float = 1.0  # a track unseen for this long is gone
    min_iou: float = 0.1  # the least overlap for an association
    cut_threshold: float = 15.0  # grey levels; 255: never a cut


def _library_tracker(s: TrackerSettings):
    import trackers  # light: no torch

    cls = getattr(trackers, ALGORITHMS[s.algorithm])
    kwargs = {
        'lost_track_buffer': max(1, int(round(s.buffer_s * NOMINAL_FPS))),
        'frame_rate': NOMINAL_FPS,
        'minimum_consecutive_frames': 1,
    }
    if s.algorithm in ('bytetrack', 'botsort', 'ocsort'):
        kwargs['high_conf_det_threshold'] = s.conf
    if s.algorithm in ('bytetrack', 'botsort', 'sort'):
        kwargs['track_activation_threshold'] = s.conf
    if s.algorithm in ('bytetrack', 'sort', 'ocsort'):
        kwargs['minimum_iou_threshold'] = s.min_iou
    if s.algorithm == 'botsort':
        kwargs['minimum_iou_threshold_first_assoc'] = s.min_iou
    return cls(**kwargs)


class BoxTracker:
    """Assign track ids to each frame's boxes; see the module docstring."""

    def __init__(self, settings: TrackerSettings):
        if settings.algorithm not in ALGORITHMS:
            raise ValueError(f"tracker '{settings.algorithm}' is not one of {', '.join(TRACKERS)}")
        import supervision  # noqa: F401  (fail here, at configure, if it is missing)

        self.settings = settings
        self._counter = itertools.count(1)
        self._tracker = _library_tracker(settings)
        self._ours: dict[int, str] = {}  # library id -> our id
        # id(tentative tracklet) -> (the tracklet, held so that its id() is not reused, our id)
        self._pending: dict[int, tuple[object, str]] = {}
        self._last_stamp: float | None = None
        self._thumbnail: np.ndarray | None = None
        self.resets = 0

    def reset(self) -> None:
        """Forget every track; ids go on from the counter."""
        self._tracker.reset()
        self._ours.clear()
        self._pending.clear()
        self._last_stamp = None
        self.resets += 1

    @property
    def active_tracks(self) -> int:
        return len(self._ours) + len(self._pending)

    def update(
        self, boxes: list[Box], scores, stamp_s: float, frame: np.ndarray | None = None
    ) -> list[str | None]:
        """
        Return one id per box (None: a box under ``conf`` that continues no track: drop it).

        ``frame`` (BGR) is what BoT-SORT's camera-motion compensation looks at.
        """
        import supervision as sv

        if self._last_stamp is not None and stamp_s < self._last_stamp - RESET_BACKWARDS_S:
            self.reset()
        elif frame is not None and self._is_cut(frame):
            self.reset()
        if self._last_stamp is not None and stamp_s <= self._last_stamp:
            stamp_s = self._last_stamp + 1e-6  # the same stamp again: the library skips it
        self._last_stamp = stamp_s
        n = len(boxes)
        xyxy = np.array([b.xyxy() for b in boxes], float).reshape(n, 4)
        dets = sv.Detections(
            xyxy=xyxy,
            confidence=np.asarray(scores, float).reshape(n),
            class_id=np.zeros(n, int),
            data={'index': np.arange(n)},
        )
        use_frame = frame if self.settings.algorithm == 'botsort' else None  # its CMC
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            out = self._tracker.update(dets, frame=use_frame, timestamp=stamp_s)
        ids: list[str | None] = [None] * n
        index = out.data['index'] if len(out) else []
        alive = {id(t): t for t in self._tracker.tracks}
        for i, lib_id in zip(index, out.tracker_id):
            lib_id = int(lib_id)
            if lib_id < 0:
                continue
            if lib_id not in self._ours:
                # confirmed now: the id it had as a tentative track, else a new one
                tracklet = next((t for t in alive.values() if t.tracker_id == lib_id), None)
                held = self._pending.pop(id(tracklet), None) if tracklet else None
                self._ours[lib_id] = held[1] if held and held[0] is tracklet else self._next()
            ids[int(i)] = self._ours[lib_id]
        # boxes that started a tentative track get its id now
        for tracklet in alive.values():
            if tracklet.tracker_id != -1 or id(tracklet) in self._pending:
                continue
            start = np.asarray(tracklet.get_state_bbox(), float)
            for i in range(n):
                if ids[i] is None and np.allclose(xyxy[i], start, atol=1e-3):
                    ids[i] = self._next()
                    self._pending[id(tracklet)] = (tracklet, ids[i])
                    break
        # memory stays bounded: ids of tracks the library dropped are forgotten
        lib_alive = {t.tracker_id for t in alive.values()}
        self._ours = {k: v for k, v in self._ours.items() if k in lib_alive}
        self._pending = {k: v for k, v in self._pending.items() if alive.get(k) is v[0]}
        for i in range(n):
            if ids[i] is None and scores[i] >= self.settings.conf:
                ids[i] = self._next()  # above conf, never lost: an id of its own
        return ids

    def _is_cut(self, frame: np.ndarray) -> bool:
        import cv2

        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self._thumbnail = self._thumbnail, small
        if previous is None:
            return False
        return float(np.mean(np.abs(small - previous))) > self.settings.cut_threshold

    def _next(self) -> str:
        return str(next(self._counter))


def make_tracker(
    algorithm: str, conf: float, low_conf: float, buffer_s: float, cut_threshold: float = 15.0
):
    """Return a BoxTracker, or None for 'none'."""
    if algorithm == 'none':
        return None
    return BoxTracker(
        TrackerSettings(
            algorithm, conf, min(low_conf, conf), buffer_s, cut_threshold=cut_threshold
        )
    )


def detect_conf(tracker: BoxTracker | None, conf: float, low_conf: float) -> float:
    """Return the confidence the detector runs at: down to low_conf while tracking."""
    return conf if tracker is None else min(conf, low_conf)


def assign_ids(tracker: BoxTracker | None, found, conf: float, stamp_s: float, frame=None):
    """
    Return [(detection, id)] for a frame's detections (``.box``, ``.score``), in their order.

    Without a tracker: the detections at or above ``conf``, ids '#0', '#1', ... (per frame).
    With one: every detection that has a track (see BoxTracker.update), its id.
    """
    if tracker is None:
        kept = [d for d in found if d.score >= conf]
        return [(d, f'#{i}') for i, d in enumerate(kept)]
    if tracker.settings.conf != conf:  # conf changed at run time
        tracker.settings = replace(
            tracker.settings, conf=conf, low_conf=min(tracker.settings.low_conf, conf)
        )
    ids = tracker.update([d.box for d in found], [d.score for d in found], stamp_s, frame)
    return [(d, i) for d, i in zip(found, ids) if i is not None]


def drop_duplicates(found, keep_classes, iou: float):
    """
    Return the detections without boxes that repeat another object's box under another class.

    YOLO suppresses overlapping boxes class by class, so a pint can come out as a 'wine glass'
    and a 'bottle' at once; a tracker then hands its id from one box to the other. Boxes that
    overlap by ``iou`` or more are merged across classes (OpenCV's NMS), the ``keep_classes``
    ones (the glasses) first and then by score: a glass is never dropped for a bottle. ``iou``
    1 keeps everything.
    """
    if iou >= 1.0 or len(found) < 2:
        return list(found)
    import cv2

    keep_classes = set(keep_classes)
    boxes = [[d.box.xyxy()[0], d.box.xyxy()[1], d.box.w, d.box.h] for d in found]
    scores = [float(d.score) + (2.0 if d.class_name in keep_classes else 0.0) for d in found]
    kept = {int(i) for i in np.array(cv2.dnn.NMSBoxes(boxes, scores, 0.0, iou)).ravel()}
    return [d for i, d in enumerate(found) if i in kept]
