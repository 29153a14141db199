"""
mAP50 of any detector on scenes with true boxes, for comparing two runtimes of one model.

Predictions are matched to true boxes of their class by IoU >= 0.5, best score first, each true
box at most once (as Ultralytics' validator matches them); the average precision per class comes
from Ultralytics' own ``ap_per_class``, so a figure here means what ``glass-train-detector
--evaluate-only`` means. Scores are taken down to ``conf`` (a low one, as validators use).
"""

from __future__ import annotations

import numpy as np

from ..core.geometry import Box


def match(truth: list[tuple[Box, str]], found) -> np.ndarray:
    """Return, for detections sorted best first, whether each is a true positive at IoU 0.5."""
    used = [False] * len(truth)
    tp = np.zeros(len(found), bool)
    for i, d in enumerate(found):
        best, best_iou = None, 0.5
        for j, (box, name) in enumerate(truth):
            if used[j] or name != d.class_name:
                continue
            iou = d.box.iou(box)
            if iou >= best_iou:
                best, best_iou = j, iou
        if best is not None:
            used[best] = True
            tp[i] = True
    return tp


def map50(detector, scenes, names: list[str], conf: float = 0.01, iou: float = 0.5) -> dict:
    """Return AP50 per class name (and 'all') of ``detector`` on (image, [(Box, name)]) scenes."""
    from ultralytics.utils.metrics import ap_per_class

    tps, confs, pred_cls, target_cls = [], [], [], []
    index = {n: i for i, n in enumerate(names)}
    for image, truth in scenes:
        found = sorted(detector.detect(image, conf, iou, 300), key=lambda d: -d.score)
        found = [d for d in found if d.class_name in index]
        tps.append(match(truth, found))
        confs += [d.score for d in found]
        pred_cls += [index[d.class_name] for d in found]
        target_cls += [index[n] for _, n in truth if n in index]
    tp = np.concatenate(tps) if tps else np.zeros(0, bool)
    result = ap_per_class(
        np.repeat(tp[:, None], 10, axis=1),
        np.asarray(confs),
        np.asarray(pred_cls),
        np.asarray(target_cls),
    )
    ap, classes = result[5], result[6]
    out = {names[int(c)]: float(ap[k, 0]) for k, c in enumerate(classes)}
    out['all'] = float(np.mean(ap[:, 0])) if len(classes) else float('nan')
    return out
