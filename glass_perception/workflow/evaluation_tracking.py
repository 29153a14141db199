"""
Identity, label and position over time, on RGB-D sequences with ground-truth ids.

Every frame goes through the code the nodes run: the detector at the confidence its node runs
at when tracking, ``core.tracking.assign_ids``, the crops of the crop classes, the classifier and
``core.temporal.TrackLabels`` (the classifier node), then ``core.localizer.localize_frame`` with
the size fusion and ``core.temporal.TrackSmoothing`` (the localizer node), and in the same run
without the smoothing (the frame's own estimate), which is the reference.

* **Tracking** (py-motmetrics): the ground truth is every glass (cup, beer_glass, soju_glass) at
  least ``min_visibility`` visible; a hypothesis is a crop-class detection with its id, matched
  to the truth at box IoU >= 0.5. A detection that overlaps (IoU >= 0.5) a glass less visible
  than that, or cut off, is neither a hit nor a false positive (the MOTChallenge rule for
  ignored truth). MOTA, IDF1, id switches, precision and recall, per sequence and overall; each
  tracker algorithm is run on the same detections.
* **Labels**, on the track-frames the default tracker matched to a glass: the top class frame by
  frame (the classifier's own, ``glass/classifications_frame``) and smoothed
  (``glass/classifications``), and the 3D topics' fused labels raw and smoothed; flips (the top
  class of a track changing from its previous frame) per 100 track-frames, and accuracy per class
  after a track's first ``warmup`` frames.
* **Position jitter of static glasses**: every glass stands still on the table while the camera
  moves; the base point of each track matched to one glass is mapped to the world with the
  frame's true camera pose, and its jitter is the RMS distance from the track's mean (3D,
  after the warm-up, tracks with at least ``min_track_frames`` such frames). Raw and smoothed,
  with the base error against the truth to show the smoothing does not lag.
"""

from __future__ import annotations

from collections import defaultdict
import json
from pathlib import Path
import time

import numpy as np

from .evaluation_3d import load_rgbd_folder
from .scoring import percentiles
from ..core.geometry import Box, square_crop
from ..core.labels import label_batch
from ..core.localizer import localize_frame, Localizer
from ..core.params import CLASSIFIER, default, DETECTOR, LOCALIZER
from ..core.synthetic import CLASSES
from ..core.temporal import LabelSettings, PositionSettings, TrackLabels, TrackSmoothing
from ..core.tf_buffer import camera_in_world, TransformBuffer
from ..core.tracking import ALGORITHMS, assign_ids, drop_duplicates, make_tracker

DEFAULT_TRACKER = default(DETECTOR, 'tracker')


def _iou_distance(truth: list[Box], hyp: list[Box], max_d: float = 0.5) -> np.ndarray:
    d = np.full((len(truth), len(hyp)), np.nan)
    for i, t in enumerate(truth):
        for j, h in enumerate(hyp):
            v = 1.0 - Box.iou(t, h)
            if v <= max_d:
                d[i, j] = v
    return d


def _frames(folder: Path):
    """Yield (stem, colour, depth, camera, truth, stamp_s) of one sequence, in time order."""
    fps = json.loads((folder / 'sequence.json').read_text()).get('fps', 10.0)
    for k, (stem, colour, depth, camera, truth) in enumerate(load_rgbd_folder(folder)):
        yield stem, colour, depth, camera, truth, truth.get('time_s', k / fps)


def _detections(detector, colour, conf: float):
    return detector.detect(colour, conf, default(DETECTOR, 'iou'), default(DETECTOR, 'max_det'))


class _Sequence:
    """One sequence's per-frame inputs: detections at the tracking confidence, truth."""

    def __init__(self, folder: Path, detector):
        self.name = folder.name
        self.frames = []
        # what the detector node runs at while tracking (core.tracking.detect_conf)
        low = min(default(DETECTOR, 'conf'), default(DETECTOR, 'track_low_conf'))
        for stem, colour, depth, camera, truth, stamp in _frames(folder):
            found = drop_duplicates(
                _detections(detector, colour, low),
                default(DETECTOR, 'crop_classes'),
                default(DETECTOR, 'duplicate_iou'),
            )
            self.frames.append((stem, colour, depth, camera, truth, stamp, found))


def _node_tracker(algorithm: str):
    """Return the tracker the detector node makes with its default parameters."""
    return make_tracker(
        algorithm,
        default(DETECTOR, 'conf'),
        default(DETECTOR, 'track_low_conf'),
        default(DETECTOR, 'track_buffer_s'),
        default(DETECTOR, 'cut_threshold'),
    )


def _truth_split(truth: dict, min_visibility: float):
    """Return (glasses scored, boxes of glasses ignored)."""
    scored, ignored = [], []
    for o in truth['objects']:
        if o['kind'] not in CLASSES:
            continue
        if o['visibility'] >= min_visibility and not o['truncated']:
            scored.append(o)
        else:
            ignored.append(Box(*o['box']))
    return scored, ignored


def _hypotheses(tracked, crop_classes, ignored: list[Box]):
    out = []
    for d, det_id in tracked:
        if d.class_name not in crop_classes:
            continue
        if any(Box.iou(d.box, b) >= 0.5 for b in ignored):
            continue
        out.append((d, det_id))
    return out


def mot_figures(sequences, algorithm: str, min_visibility: float) -> tuple[dict, dict]:
    """Return (figures per sequence and overall, per sequence the frame -> {gt id: hyp id})."""
    import motmetrics as mm

    conf = default(DETECTOR, 'conf')
    crop_classes = set(default(DETECTOR, 'crop_classes'))
    accs, names, matches = [], [], {}
    for seq in sequences:
        tracker = _node_tracker(algorithm)
        acc = mm.MOTAccumulator(auto_id=True)
        for stem, colour, _depth, _camera, truth, stamp, found in seq.frames:
            tracked = assign_ids(tracker, found, conf, stamp, frame=colour)
            scored, ignored = _truth_split(truth, min_visibility)
            hyps = _hypotheses(tracked, crop_classes, ignored)
            acc.update(
                [o['track_id'] for o in scored],
                [int(i) for _, i in hyps],  # motmetrics keeps ids as numbers
                _iou_distance([Box(*o['box']) for o in scored], [d.box for d, _ in hyps]),
            )
        accs.append(acc)
        names.append(seq.name)
        events = acc.mot_events.reset_index()
        kept = events[events['Type'].isin(['MATCH', 'SWITCH', 'TRANSFER', 'ASCEND', 'MIGRATE'])]
        per_frame = defaultdict(dict)
        for row in kept.itertuples():
            per_frame[int(row.FrameId)][int(row.OId)] = str(int(row.HId))
        matches[seq.name] = per_frame
    mh = mm.metrics.create()
    metrics = ['mota', 'idf1', 'num_switches', 'precision', 'recall', 'num_unique_objects']
    metrics += ['num_frames', 'mostly_tracked', 'num_fragmentations']
    summary = mh.compute_many(accs, metrics=metrics, names=names, generate_overall=True)
    out = {str(name): {m: float(summary.loc[name, m]) for m in metrics} for name in summary.index}
    return out, matches


def _flips(labels_by_track: dict) -> int:
    return sum(sum(a != b for a, b in zip(seq, seq[1:])) for seq in labels_by_track.values())


def temporal_figures(
    sequences,
    classifier,
    sizes,
    matches,
    min_visibility: float,
    warmup: int,
    min_frames: int,
    label_settings: LabelSettings | None = None,
    position_settings: PositionSettings | None = None,
    use_tf: bool = True,
) -> dict:
    """
    Labels and positions over the default tracker's track-frames; see the module docstring.

    The smoothing settings are the nodes' defaults unless given (to choose them on sequences
    that are not the held-out ones).
    """
    conf = default(DETECTOR, 'conf')
    crop_classes = set(default(DETECTOR, 'crop_classes'))
    fragile_classes = default(CLASSIFIER, 'fragile_classes')
    threshold = default(CLASSIFIER, 'fragile_threshold')
    label_settings = label_settings or LabelSettings(
        window=default(CLASSIFIER, 'label_window'),
        hysteresis=default(CLASSIFIER, 'label_hysteresis'),
        expiry_s=default(CLASSIFIER, 'track_expiry_s'),
    )
    position_settings = position_settings or PositionSettings(
        walk_sigma=default(LOCALIZER, 'position_walk_sigma'),
        expiry_s=default(LOCALIZER, 'track_expiry_s'),
    )
    rows = []  # one per matched track-frame
    smooth_ms, raw_ms = [], []
    for seq in sequences:
        tracker = _node_tracker(DEFAULT_TRACKER)
        labels = TrackLabels(label_settings, default(CLASSIFIER, 'fragile_release_frames'))
        smoothing = TrackSmoothing(
            position_settings,
            default(LOCALIZER, 'fragile_release_frames'),
        )
        tf = TransformBuffer()  # what the camera node publishes on /tf, the localizer looks up
        localizer = Localizer(base_ratios=sizes.base_ratio)
        track_frames = defaultdict(int)
        for k, (stem, colour, depth, camera, truth, stamp, found) in enumerate(seq.frames):
            tracked = assign_ids(tracker, found, conf, stamp, frame=colour)
            chosen = [(d, i) for d, i in tracked if d.class_name in crop_classes]
            crops = [
                square_crop(
                    colour,
                    d.box,
                    default(DETECTOR, 'crop_padding'),
                    default(DETECTOR, 'crop_size'),
                )
                for d, _ in chosen
            ]
            probs = classifier.predict(crops) if crops else np.zeros((0, 3))
            frame_labels = label_batch(probs, classifier.class_names, fragile_classes, threshold)
            smoothed = labels.frame(
                stamp,
                [(i, lab.ranked) for (_, i), lab in zip(chosen, frame_labels)],
                fragile_classes,
                threshold,
            )
            dets = [(i, d.box, ranked) for (d, i), (ranked, _) in zip(chosen, smoothed)]
            t0 = time.perf_counter()
            raw3d = localize_frame(
                localizer, dets, depth, camera, sizes, fragile_classes, threshold
            )
            raw_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            origin, quat = camera_in_world(truth['camera_pose'])
            tf.add('world', 'camera', stamp, origin, quat)
            pose = tf.lookup('camera', 'world', stamp) if use_tf else None
            smooth3d = localize_frame(
                localizer,
                dets,
                depth,
                camera,
                sizes,
                fragile_classes,
                threshold,
                tracks=smoothing,
                stamp_s=stamp,
                camera_pose=pose,
            )
            smooth_ms.append(1000 * (time.perf_counter() - t0))
            for _, i in chosen:
                track_frames[i] += 1
            by_id = {i: j for j, (_, i) in enumerate(chosen)}
            rot = np.asarray(truth['camera_pose']['R'])
            t = np.asarray(truth['camera_pose']['t'])
            objects = {o['track_id']: o for o in truth['objects']}
            for gt_id, hyp_id in matches[seq.name].get(k, {}).items():
                j = by_id.get(hyp_id)
                o = objects.get(gt_id)
                if j is None or o is None:
                    continue
                raw_base = raw3d[j].localization.base
                smooth_base = smooth3d[j].localization.base
                rows.append(
                    {
                        'sequence': seq.name,
                        'gt': int(gt_id),
                        'track': hyp_id,
                        'frame': k,
                        'age': track_frames[hyp_id],
                        'kind': o['kind'],
                        'steady': o['visibility'] >= min_visibility and not o['truncated'],
                        'holding': bool(truth.get('camera_holding', False)),
                        'frame_label': frame_labels[j].ranked[0][0],
                        'smoothed_label': smoothed[j][0][0][0],
                        'fused_label': raw3d[j].fused[0][0],
                        'fused_smoothed_label': smooth3d[j].fused[0][0],
                        'frame_fragile': frame_labels[j].fragile,
                        'fragile': smoothed[j][1],
                        'raw_world': (rot.T @ (raw_base - t)).tolist(),
                        'smooth_world': (rot.T @ (smooth_base - t)).tolist(),
                        'raw_error': float(np.linalg.norm(raw_base - o['base'])),
                        'smooth_error': float(np.linalg.norm(smooth_base - o['base'])),
                    }
                )
    return {
        'labels': label_summary(rows, warmup),
        'jitter': jitter_summary(rows, warmup, min_frames),
        'localizer_ms_per_frame': {
            'raw': percentiles(raw_ms, (50, 95)),
            'smoothed': percentiles(smooth_ms, (50, 95)),
        },
        'rows': rows,
    }


def label_summary(rows: list[dict], warmup: int) -> dict:
    out = {}
    for key in ('frame_label', 'smoothed_label', 'fused_label', 'fused_smoothed_label'):
        by_track = defaultdict(list)
        for r in rows:
            by_track[(r['sequence'], r['track'])].append(r[key])
        late = [r for r in rows if r['age'] > warmup]
        per_class = {}
        for cls in CLASSES:
            mine = [r for r in late if r['kind'] == cls]
            per_class[cls] = {
                'track_frames': len(mine),
                'accuracy': float(np.mean([r[key] == cls for r in mine])) if mine else None,
            }
        out[key] = {
            'flips': _flips(by_track),
            'flips_per_100': 100.0 * _flips(by_track) / max(1, len(rows)),
            'track_frames': len(rows),
            'per_class': per_class,
        }
    fragile_rows = [r for r in rows if r['kind'] != 'cup' and r['age'] > warmup]
    out['fragile_missed'] = {
        'frame_by_frame': sum(not r['frame_fragile'] for r in fragile_rows),
        'latched': sum(not r['fragile'] for r in fragile_rows),
        'glass_track_frames': len(fragile_rows),
    }
    return out


def _jitter(rows: list[dict], warmup: int, min_frames: int, holding_only: bool) -> dict:
    groups = defaultdict(list)
    for r in rows:
        if r['age'] > warmup and r['steady'] and (r['holding'] or not holding_only):
            groups[(r['sequence'], r['gt'], r['track'])].append(r)
    raw, smooth, raw_err, smooth_err = [], [], [], []
    for g in groups.values():
        if len(g) < min_frames:
            continue
        for key, store in (('raw_world', raw), ('smooth_world', smooth)):
            p = np.array([r[key] for r in g])
            store.append(1000.0 * float(np.sqrt(np.mean(np.sum((p - p.mean(0)) ** 2, axis=1)))))
        raw_err += [100.0 * r['raw_error'] for r in g]
        smooth_err += [100.0 * r['smooth_error'] for r in g]
    if not raw:
        return {'tracks': 0}
    return {
        'tracks': len(raw),
        'raw_mm': percentiles(raw, (50, 90)),
        'smoothed_mm': percentiles(smooth, (50, 90)),
        'ratio_p50': float(np.median(raw) / max(np.median(smooth), 1e-9)),
        'base_error_cm': {
            'raw': percentiles(raw_err, (50, 95)),
            'smoothed': percentiles(smooth_err, (50, 95)),
        },
    }


def jitter_summary(rows: list[dict], warmup: int, min_frames: int) -> dict:
    """
    Return the jitter while the arm holds still, and over whole sequences (the camera moving).

    A glass is static in the world throughout; while the arm holds, it is static in the
    camera's view as well (but for the sway and vibration, which the world frame removes).
    """
    return {
        'holding': _jitter(rows, warmup, min_frames, True),
        'moving': _jitter(rows, warmup, min_frames, False),
    }


def evaluate_tracking(
    folders,
    detector,
    classifier,
    sizes,
    min_visibility: float = 0.3,
    warmup: int = 5,
    min_track_frames: int = 8,
    algorithms=tuple(ALGORITHMS),
    progress=lambda it: it,
) -> dict:
    """Run everything on each sequence folder; return the report."""
    import trackers as _library  # noqa: F401  (imported before the first tracker is timed)

    sequences = [_Sequence(Path(f), detector) for f in progress(list(folders))]
    trackers = {}
    matches = None
    for algorithm in algorithms:
        t0 = time.perf_counter()
        figures, m = mot_figures(sequences, algorithm, min_visibility)
        figures['ms_per_frame'] = (
            1000 * (time.perf_counter() - t0) / max(1, sum(len(s.frames) for s in sequences))
        )
        trackers[algorithm] = figures
        if algorithm == DEFAULT_TRACKER:
            matches = m
    if matches is None:
        _, matches = mot_figures(sequences, DEFAULT_TRACKER, min_visibility)
    temporal = temporal_figures(
        sequences, classifier, sizes, matches, min_visibility, warmup, min_track_frames
    )
    return {
        'sequences': [s.name for s in sequences],
        'frames': sum(len(s.frames) for s in sequences),
        'settings': {
            'min_visibility': min_visibility,
            'warmup_frames': warmup,
            'min_track_frames': min_track_frames,
            'default_tracker': DEFAULT_TRACKER,
        },
        'trackers': trackers,
        **temporal,
    }
