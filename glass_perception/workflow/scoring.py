"""Scoring pipeline output against ground truth, and latency statistics. Pure Python + numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.geometry import Box, match_boxes


@dataclass
class Tally:
    correct: int = 0
    wrong: int = 0
    missed: int = 0
    per_class: dict = field(default_factory=dict)  # kind -> [correct, total]

    @property
    def total(self) -> int:
        return self.correct + self.wrong + self.missed

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float('nan')

    def add(self, other: 'Tally') -> None:
        self.correct += other.correct
        self.wrong += other.wrong
        self.missed += other.missed
        for k, (c, t) in other.per_class.items():
            cur = self.per_class.setdefault(k, [0, 0])
            cur[0] += c
            cur[1] += t


def score_frame(
    truth: list[tuple[Box, str]], predicted: list[tuple[Box, str]], min_iou: float = 0.5
) -> Tally:
    """Match greedily one-to-one by IoU; a truth object is correct when its match has its class."""
    tally = Tally()
    match = match_boxes([t for t, _ in truth], [p for p, _ in predicted], min_iou)
    for (_, kind), j in zip(truth, match):
        entry = tally.per_class.setdefault(kind, [0, 0])
        entry[1] += 1
        if j is None:
            tally.missed += 1
        elif predicted[j][1] == kind:
            tally.correct += 1
            entry[0] += 1
        else:
            tally.wrong += 1
    return tally


def percentiles(values, qs=(50, 95)) -> dict:
    if len(values) == 0:
        return {f'p{q}': float('nan') for q in qs} | {'max': float('nan')}
    a = np.asarray(values, dtype=float)
    return {f'p{q}': float(np.percentile(a, q)) for q in qs} | {'max': float(a.max())}


def score_frame_3d(truth, found) -> list[tuple[str, float | None, str | None]]:
    """
    Score one frame's 3D glasses: (kind, base error in m or None if missed, fused label).

    ``truth``: (Box, kind, base) of the scene's glassware; ``found``: (Box, base, label) of the
    published 3D glasses, matched to the truth by their 2D boxes (IoU >= 0.5).
    """
    match = match_boxes([t[0] for t in truth], [f[0] for f in found])
    out = []
    for (_, kind, base), j in zip(truth, match):
        if j is None:
            out.append((kind, None, None))
        else:
            err = float(np.linalg.norm(np.asarray(found[j][1]) - np.asarray(base)))
            out.append((kind, err, found[j][2]))
    return out
