"""
Which glasses the detector finds, at the node's own thresholds: recall by size and distance.

mAP summarises a detector over every threshold; a robot runs it at one. This runs each frame the
way ``detector_node`` does (its ``conf``, ``iou``, ``max_det``, the cross-class duplicate removal,
its ``crop_classes``) on scenes with ground truth and counts, per fine class (cup, beer_glass,
soju_glass), the glasses found: a true glass is found when a kept box of its detector class
(``cup``, ``wine glass``) overlaps it by IoU >= 0.5, one box per glass. Recall is split by the
glass's visible height in pixels and by its distance from the camera; precision and false
detections per frame count the kept crop-class boxes that overlap no true object of their class
(of any visibility), split by the kind of table the scene has (procedural or photographed; the
classic generator's scenes are all procedural).

Two kinds of folder: ``glass-synth detect`` (``--split``; distances are in the truth of scenes
rendered since the wide generator) and ``glass-synth rgbd`` (640x480, distance from the 3D truth).
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np

from .datasets import load_scenes
from .scoring import percentiles
from ..core.geometry import match_boxes
from ..core.params import default, DETECTOR
from ..core.synthetic import CLASSES, DETECTOR_NAME
from ..core.tracking import drop_duplicates

#: visible height in pixels, as the issue's table splits it
HEIGHT_BINS = ((0, 24), (24, 32), (32, 64), (64, 128), (128, 10_000))
#: metres from the camera to the middle of the glass's axis
DISTANCE_BINS = ((0.0, 0.6), (0.6, 0.9), (0.9, 1.2), (1.2, 1000.0))


def bin_name(lo: float, hi: float) -> str:
    """Name a bin as the reports print it: '32-64', or '>=128' for the open last one."""
    return f'{lo:g}-{hi:g}' if hi < 1000 else f'>={lo:g}'


def detect_as_node(detector, image: np.ndarray, conf: float | None = None) -> list:
    """Return every detection of one frame at the node's thresholds (``conf`` replaces its)."""
    conf = default(DETECTOR, 'conf') if conf is None else conf
    return detector.detect(image, conf, default(DETECTOR, 'iou'), default(DETECTOR, 'max_det'))


def keep_like_node(found: list) -> list:
    """Return the crop-class detections detector_node keeps of ``found`` (duplicates removed)."""
    keep = default(DETECTOR, 'crop_classes')
    found = drop_duplicates(found, keep, default(DETECTOR, 'duplicate_iou'))
    return [d for d in found if d.class_name in keep]


def detect_like_node(detector, image: np.ndarray, conf: float | None = None) -> list:
    """Return the kept crop-class detections of one frame, as detector_node keeps them."""
    return keep_like_node(detect_as_node(detector, image, conf))


def evaluate_detector(
    folder: Path,
    detector,
    split: str = 'test',
    min_visibility: float = 0.6,
    min_height: float = 24.0,
    progress=lambda it: it,
    conf: float | None = None,
) -> dict:
    """
    Run ``detector`` on every scene; return recall and precision figures and the frame time.

    The headline recall counts glasses at least ``min_visibility`` visible, not cut by the image
    border and at least ``min_height`` pixels tall; the bins count every such glass regardless of
    height. ``conf`` replaces the node's default threshold.
    """
    conf = default(DETECTOR, 'conf') if conf is None else conf
    rows, frame_ms = [], []
    tp_boxes = dict.fromkeys(default(DETECTOR, 'crop_classes'), 0)
    fp_boxes = dict.fromkeys(default(DETECTOR, 'crop_classes'), 0)
    fp_by_table: dict[str, list[int]] = {}
    for stem, image, objects in progress(list(load_scenes(folder, split))):
        t0 = time.perf_counter()
        found = detect_like_node(detector, image, conf)
        frame_ms.append(1000.0 * (time.perf_counter() - t0))
        table = objects[0]['table'] if objects else 'procedural'
        false = 0
        for name in tp_boxes:
            mine = [d for d in found if d.class_name == name]
            truth = [o for o in objects if DETECTOR_NAME[o['kind']] == name]
            match = match_boxes([o['box'] for o in truth], [d.box for d in mine])
            matched = {k for k in match if k is not None}
            tp_boxes[name] += len(matched)
            fp_boxes[name] += len(mine) - len(matched)
            false += len(mine) - len(matched)
            for o, k in zip(truth, match):
                if o['kind'] not in CLASSES:
                    continue
                rows.append(
                    {
                        'stem': stem,
                        'kind': o['kind'],
                        'variant': o['variant'],
                        'height_px': float(o['box'].h),
                        'distance_m': o['distance'],
                        'visibility': float(o['visibility']),
                        'truncated': bool(o['truncated']),
                        'found': k is not None,
                        'score': float(mine[k].score) if k is not None else None,
                        'lying': bool(o.get('lying', False)),
                    }
                )
        fp_by_table.setdefault('photo' if table != 'procedural' else 'procedural', []).append(
            false
        )
    frames = len(frame_ms)
    eligible = [r for r in rows if r['visibility'] >= min_visibility and not r['truncated']]
    per_class = {}
    for cls in (*CLASSES, 'all'):
        mine = [r for r in eligible if cls in ('all', r['kind'])]
        head = [r for r in mine if r['height_px'] >= min_height]
        per_class[cls] = {
            'glasses': len(head),
            'found': sum(r['found'] for r in head),
            'recall': _rate(head),
            'by_height_px': _by(mine, 'height_px', HEIGHT_BINS),
            'by_distance_m': _by(mine, 'distance_m', DISTANCE_BINS),
        }
    head = [r for r in eligible if r['height_px'] >= min_height]
    by_pose = {
        pose: {'glasses': len(mine), 'found': sum(r['found'] for r in mine), 'recall': _rate(mine)}
        for pose, mine in (
            ('upright', [r for r in head if not r['lying']]),
            ('lying', [r for r in head if r['lying']]),
        )
    }
    total_fp = sum(fp_boxes.values())
    return {
        'scenes': frames,
        'per_class': per_class,
        'by_pose': by_pose,
        'precision': {
            name: tp_boxes[name] / max(1, tp_boxes[name] + fp_boxes[name]) for name in tp_boxes
        },
        'false_per_frame': total_fp / max(1, frames),
        'false_per_frame_by_table': {
            k: {'frames': len(v), 'false_per_frame': float(np.mean(v))}
            for k, v in sorted(fp_by_table.items())
        },
        'frame_ms': percentiles(frame_ms, (50, 95)),
        'settings': {
            'min_visibility': min_visibility,
            'min_height_px': min_height,
            'conf': conf,
            'iou': default(DETECTOR, 'iou'),
            'duplicate_iou': default(DETECTOR, 'duplicate_iou'),
            'imgsz': getattr(detector, 'imgsz', None),
            'runtime': getattr(detector, 'runtime', None),
        },
        'rows': rows,
    }


def _rate(rows) -> float | None:
    return sum(r['found'] for r in rows) / len(rows) if rows else None


def _by(rows, key, bins) -> dict:
    out: dict[str, dict] = {}
    for lo, hi in bins:
        mine = [r for r in rows if r[key] is not None and lo <= r[key] < hi]
        out[bin_name(lo, hi)] = {'glasses': len(mine), 'recall': _rate(mine)}
    return out


def format_report(report: dict) -> str:
    """Return the figures as the table glass-evaluate-detector prints."""
    s = report['settings']
    lines = [
        f'{report["scenes"]} scenes; imgsz {s["imgsz"]} ({s["runtime"]}), conf {s["conf"]}; '
        f'glasses at least {s["min_visibility"]:.0%} visible, not cut by the border',
        f'recall (at least {s["min_height_px"]:g} px tall), then by visible height in px and by '
        'distance in m (every height):',
    ]
    first = report['per_class']['all']
    hb, db = list(first['by_height_px']), list(first['by_distance_m'])
    lines.append(
        f'{"class":<11} {"n":>4} {"recall":>7} | '
        + ' '.join(f'{b:>9}' for b in hb)
        + ' | '
        + ' '.join(f'{b:>9}' for b in db)
    )

    def cell(c):
        return f'{c["recall"]:>5.1%}/{c["glasses"]:<3}' if c['recall'] is not None else f'{"-":>9}'

    for cls, c in report['per_class'].items():
        rec = f'{c["recall"]:>7.1%}' if c['recall'] is not None else f'{"-":>7}'
        lines.append(
            f'{cls:<11} {c["glasses"]:>4} {rec} | '
            + ' '.join(cell(c['by_height_px'][b]) for b in hb)
            + ' | '
            + ' '.join(cell(c['by_distance_m'][b]) for b in db)
        )
    lying = report.get('by_pose', {}).get('lying', {})
    if lying.get('glasses'):
        lines.append(
            'on their side (glass-synth rgbd --lying): '
            + ', '.join(
                f'{pose} {c["recall"]:.1%} of {c["glasses"]}'
                for pose, c in report['by_pose'].items()
            )
        )
    lines.append(
        'precision: '
        + ', '.join(f'{k} {v:.3f}' for k, v in report['precision'].items())
        + f'; false detections per frame {report["false_per_frame"]:.3f} ('
        + ', '.join(
            f'{k} tables {v["false_per_frame"]:.3f} on {v["frames"]}'
            for k, v in report['false_per_frame_by_table'].items()
        )
        + ')'
    )
    ms = report['frame_ms']
    lines.append(f'detector per frame: p50 {ms["p50"]:.1f} ms, p95 {ms["p95"]:.1f} ms')
    return '\n'.join(lines)
