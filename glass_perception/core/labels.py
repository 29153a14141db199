"""Label logic: ranking class probabilities and deciding what is fragile. Pure Python + numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Label:
    ranked: list[tuple[str, float]]  # every class with its probability, best first
    fragile_score: float  # summed probability of the fragile classes
    fragile: bool

    @property
    def best(self) -> tuple[str, float]:
        return self.ranked[0]


def rank(probs: np.ndarray, class_names: list[str]) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind='stable')
    return [(class_names[i], float(probs[i])) for i in order]


def label(
    probs: np.ndarray, class_names: list[str], fragile_classes: set[str], threshold: float
) -> Label:
    """One crop's label. ``threshold`` is compared with the summed fragile probability (>=)."""
    score = float(sum(p for p, c in zip(probs, class_names) if c in fragile_classes))
    return Label(rank(probs, class_names), score, score >= threshold)


def label_batch(
    probs: np.ndarray, class_names: list[str], fragile_classes, threshold: float
) -> list[Label]:
    fragile = set(fragile_classes)
    return [label(p, class_names, fragile, threshold) for p in probs]
