"""
How well the localizer finds glasses in metres, on RGB-D scenes with truth (glass-synth rgbd).

Each frame goes through the code the nodes run: the detector (its node's thresholds, crop classes
and cross-class duplicate removal), the crops, the classifier, then
``core.localizer.localize_frame`` with and without the size fusion. Ground-truth glasses (cup,
beer_glass, soju_glass) at least ``min_visibility`` visible, not cut by the image border and
``distance`` away (their axis centre) are matched to the detections by box IoU >= 0.5. In the
same run, on the same glasses and boxes, the usual ROS YOLO-3D method (median valid depth in the
box, back-projected at the box centre) is scored as the reference, and the localizer is run again
on the true boxes to separate its errors from the detector's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
import time

import cv2
import numpy as np

from .evaluation_detector import detect_like_node
from .scoring import percentiles
from ..core.camera_model import Intrinsics, parse_camera_info_yaml
from ..core.geometry import Box, match_boxes, square_crop
from ..core.labels import rank
from ..core.localizer import localize_frame, Localizer, LocalizerConfig, naive_centre, SURFACE
from ..core.params import default, DETECTOR
from ..core.synthetic import CLASSES


def load_rgbd_folder(folder: Path):
    """Yield (stem, BGR colour, depth in metres with NaN, camera, truth) of an rgbd folder."""
    folder = Path(folder)
    info = parse_camera_info_yaml((folder / 'camera_info.yaml').read_text())
    camera = Intrinsics.from_k(
        info['width'], info['height'], info['k'], info['distortion_model'], info['d']
    )
    truth = json.loads((folder / 'truth.json').read_text())
    for stem in sorted(truth):
        colour = cv2.imread(str(folder / 'color' / f'{stem}.jpg'), cv2.IMREAD_COLOR)
        raw = cv2.imread(str(folder / 'depth' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        depth = raw.astype(np.float32) * np.float32(0.001)
        depth[raw == 0] = np.nan
        yield stem, colour, depth, camera, truth[stem]


def _eligible(o: dict, min_visibility: float, distance: tuple[float, float]) -> bool:
    d = float(np.linalg.norm(o['centre']))
    return (
        o['kind'] in CLASSES
        and not o.get('lying', False)  # the localizer places upright glasses
        and o['visibility'] >= min_visibility
        and not o['truncated']
        and distance[0] <= d <= distance[1]
    )


#: elevation bands (degrees of the view of a glass above its support) the figures are split by
ELEVATION_BANDS = ((15, 35), (35, 55), (55, 75), (75, 90))
#: an unflagged estimate whose base is further off than this is silently wrong (m)
SILENT_M = 0.05


def true_elevation(o: dict, table_plane) -> float:
    """Return the angle (degrees) between the camera's ray to a glass's base and the table."""
    ray = np.asarray(o['base'], float)
    ray = ray / max(float(np.linalg.norm(ray)), 1e-12)
    return math.degrees(math.asin(min(1.0, abs(float(ray @ np.asarray(table_plane[:3]))))))


def band_of(elevation: float) -> str:
    for lo, hi in ELEVATION_BANDS:
        if lo <= elevation < hi or (hi == 90 and elevation >= 90):
            return f'{lo}-{hi}'
    return f'<{ELEVATION_BANDS[0][0]}'


def _cm(values):
    return percentiles([100.0 * v for v in values], (50, 95))


class Tally3D:
    """Per-class lists of what was measured for each eligible glass."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, **row) -> None:
        self.rows.append(row)

    def summary(self) -> dict:
        out = {}
        for cls in (*CLASSES, 'all'):
            rows = [r for r in self.rows if cls in ('all', r['kind'])]
            if not rows:
                continue
            found = [r for r in rows if r['detected']]
            local = [r for r in found if r['method'] == SURFACE and not r['flag']]
            naive = [r for r in found if r['naive_error'] is not None]
            out[cls] = {
                'glasses': len(rows),
                'detected': len(found),
                'localised': len(local),
                'localised_fraction': len(local) / len(rows),
                'base_error_cm': _cm([r['base_error'] for r in local]),
                'base_error_cm_all_detected': _cm([r['base_error'] for r in found]),
                'centre_error_cm': _cm([r['centre_error'] for r in local]),
                'height_error_pct_p50': _p50([100 * r['height_error'] for r in local]),
                'diameter_error_pct_p50': _p50([100 * r['diameter_error'] for r in local]),
                'within_95pct_ellipsoid': (
                    sum(r['mahalanobis2'] <= 7.815 for r in local) / len(local) if local else None
                ),
                'crop_accuracy': _mean([r['crop_label'] == r['kind'] for r in found]),
                'fused_accuracy': _mean([r['fused_label'] == r['kind'] for r in found]),
                'unflagged_over_5cm': sum(r['base_error'] > SILENT_M for r in local),
                'true_box_unflagged_over_5cm': sum(
                    (r['true_box_base_error'] or 0.0) > SILENT_M for r in rows
                ),
                'naive_localised_fraction': len(naive) / len(rows),
                'naive_centre_error_cm': _cm([r['naive_error'] for r in naive]),
                'true_box_base_error_cm': _cm(
                    [
                        r['true_box_base_error']
                        for r in rows
                        if r['true_box_base_error'] is not None
                    ]
                ),
            }
        return out

    def by(self, key: str) -> dict:
        """
        Return the figures of each value of ``key`` ('band' or 'support'), all classes together.

        On detected boxes: localised, flagged (of the detected), base error p50/p95 of the
        unflagged; on the true boxes: the same, so the localizer is judged apart from the
        detector; the naive method's centre error beside.
        """
        out = {}
        for value in sorted({r[key] for r in self.rows}):
            rows = [r for r in self.rows if r[key] == value]
            found = [r for r in rows if r['detected']]
            local = [r for r in found if r['method'] == SURFACE and not r['flag']]
            naive = [r for r in found if r['naive_error'] is not None]
            true_ok = [r for r in rows if r['true_box_base_error'] is not None]
            out[value] = {
                'glasses': len(rows),
                'detected': len(found),
                'flagged_fraction': (len(found) - len(local)) / len(found) if found else None,
                'base_error_cm': _cm([r['base_error'] for r in local]),
                'centre_error_cm': _cm([r['centre_error'] for r in local]),
                'true_box_flagged_fraction': 1.0 - len(true_ok) / len(rows),
                'true_box_base_error_cm': _cm([r['true_box_base_error'] for r in true_ok]),
                'naive_centre_error_cm': _cm([r['naive_error'] for r in naive]),
            }
        return out


def _p50(values):
    return float(np.median(values)) if values else None


def _mean(values):
    return float(np.mean(values)) if values else None


def evaluate_3d(
    folder: Path,
    detector,
    classifier,
    sizes,
    min_visibility: float = 0.6,
    distance: tuple[float, float] = (0.4, 1.3),
    progress=lambda it: it,
    conf: float | None = None,
    config: LocalizerConfig | None = None,
) -> dict:
    """
    Run the chain on every scene of ``folder``; return per-class figures and timings.

    ``conf`` replaces the detector node's default confidence threshold; ``config`` the
    localizer's (to compare a check switched off, say).
    """
    conf = default(DETECTOR, 'conf') if conf is None else conf
    localizer = Localizer(config, base_ratios=sizes.base_ratio if sizes is not None else None)
    tally = Tally3D()
    frame_ms, frame_ms_fused, naive_ms = [], [], []
    for _stem, colour, depth, camera, truth in progress(list(load_rgbd_folder(folder))):
        found = detect_like_node(detector, colour, conf)
        boxes = [d.box for d in found]
        crops = [
            square_crop(
                colour, b, default(DETECTOR, 'crop_padding'), default(DETECTOR, 'crop_size')
            )
            for b in boxes
        ]
        probs = classifier.predict(crops) if crops else np.zeros((0, 3))
        dets = [
            (str(i), b, rank(p, classifier.class_names))
            for i, (b, p) in enumerate(zip(boxes, probs))
        ]
        t0 = time.perf_counter()
        plain = localize_frame(localizer, dets, depth, camera, None)
        frame_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        fused = localize_frame(localizer, dets, depth, camera, sizes)
        frame_ms_fused.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        naive = [naive_centre(b, depth, camera) for b in boxes]
        naive_ms.append(1000 * (time.perf_counter() - t0))
        objs = truth['objects']
        truth_boxes = [Box(*o['box']) for o in objs]
        match = match_boxes(truth_boxes, boxes)
        for i, o in enumerate(objs):
            if not _eligible(o, min_visibility, distance):
                continue
            true_loc = localizer.locate(
                truth_boxes[i], depth, camera, o['kind'], truth_boxes[:i] + truth_boxes[i + 1:]
            )
            row = {
                'kind': o['kind'],
                'variant': o['variant'],
                'band': band_of(true_elevation(o, truth['table_plane'])),
                'support': o.get('support') or 'table',
                'detected': match[i] is not None,
                'method': None,
                'flag': '',
                'true_box_base_error': (
                    float(np.linalg.norm(true_loc.base - o['base']))
                    if true_loc.method == SURFACE and not true_loc.flag
                    else None
                ),
                'naive_error': None,
            }
            j = match[i]
            if j is not None:
                g, gf = plain[j], fused[j]
                loc = g.localization
                err = loc.centre - np.asarray(o['centre'])
                row.update(
                    method=loc.method,
                    flag=loc.flag,
                    base_error=float(np.linalg.norm(loc.base - o['base'])),
                    centre_error=float(np.linalg.norm(err)),
                    height_error=abs(loc.height - o['height']) / o['height'],
                    diameter_error=abs(loc.diameter - o['diameter']) / o['diameter'],
                    mahalanobis2=float(err @ np.linalg.solve(loc.covariance, err)),
                    crop_label=g.crop[0][0],
                    crop=g.crop,
                    fused_label=gf.fused[0][0],
                    naive_error=(
                        None
                        if naive[j] is None
                        else float(np.linalg.norm(naive[j] - np.asarray(o['centre'])))
                    ),
                )
            tally.add(**row)
    return {
        'scenes': len(frame_ms),
        'per_class': tally.summary(),
        'by_elevation': tally.by('band'),
        'by_support': tally.by('support'),
        'localizer_ms_per_frame': percentiles(frame_ms, (50, 95)),
        'localizer_fused_ms_per_frame': percentiles(frame_ms_fused, (50, 95)),
        'naive_ms_per_frame': percentiles(naive_ms, (50, 95)),
        'settings': {
            'min_visibility': min_visibility,
            'distance_m': list(distance),
            'detector_conf': conf,
            'imgsz': default(DETECTOR, 'imgsz'),
        },
        'rows': tally.rows,
    }


def measurement_noise(
    folder: Path, base_ratios: dict | None = None, progress=lambda it: it
) -> tuple[np.ndarray, int]:
    """
    Return the covariance of log(measured / true) (height, diameter) on true boxes, and N.

    What the size model adds to its class densities: run on validation scenes, never on the
    scenes the figures are reported on.
    """
    localizer = Localizer(base_ratios=base_ratios)
    errors = []
    for _stem, _colour, depth, camera, truth in progress(list(load_rgbd_folder(folder))):
        objs = truth['objects']
        boxes = [Box(*o['box']) for o in objs]
        for i, o in enumerate(objs):
            if not _eligible(o, 0.6, (0.3, 1.6)):
                continue
            loc = localizer.locate(boxes[i], depth, camera, o['kind'], boxes[:i] + boxes[i + 1:])
            if loc.method == SURFACE and not loc.flag:
                errors.append(
                    (math.log(loc.height / o['height']), math.log(loc.diameter / o['diameter']))
                )
    e = np.asarray(errors)
    return np.cov(e.T) + np.mean(e, axis=0)[:, None] * np.mean(e, axis=0)[None, :], len(e)


def fit_temperature(rows: list[dict], grid=None) -> tuple[float, float]:
    """
    Return the temperature T minimising the crop probabilities' NLL on ``rows``, and that NLL.

    ``rows`` are evaluate_3d's rows of detected glasses on validation scenes: temperature
    scaling (Guo et al., 2017) calibrates the classifier's confidence before it meets the size.
    """
    grid = np.linspace(0.5, 8.0, 76) if grid is None else grid
    samples = [(dict(r['crop']), r['kind']) for r in rows if r.get('crop')]

    def nll(t):
        total = 0.0
        for probs, kind in samples:
            p = np.clip(np.array(list(probs.values())), 1e-9, 1.0) ** (1.0 / t)
            total -= math.log(max(probs.get(kind, 1e-9), 1e-9) ** (1.0 / t) / p.sum())
        return total / max(len(samples), 1)

    values = [nll(t) for t in grid]
    best = int(np.argmin(values))
    return float(grid[best]), float(values[best])
