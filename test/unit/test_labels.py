"""glass_perception.core.labels: ranking and the fragile decision."""

from __future__ import annotations

from glass_perception.core.labels import Label, label, label_batch, rank
import numpy as np
import pytest

NAMES = ['cup', 'beer_glass', 'soju_glass']
FRAGILE = {'beer_glass', 'soju_glass'}


def test_rank_is_best_first_with_every_class():
    ranked = rank(np.array([0.2, 0.5, 0.3]), NAMES)
    assert [c for c, _ in ranked] == ['beer_glass', 'soju_glass', 'cup']
    assert [p for _, p in ranked] == pytest.approx([0.5, 0.3, 0.2])
    assert all(type(p) is float for _, p in ranked)


def test_rank_ties_keep_class_order():
    assert [c for c, _ in rank(np.array([0.25, 0.5, 0.25]), NAMES)] == [
        'beer_glass',
        'cup',
        'soju_glass',
    ]


def test_fragile_score_sums_fragile_classes():
    lab = label(np.array([0.5, 0.25, 0.25]), NAMES, FRAGILE, 0.6)
    assert isinstance(lab, Label)
    assert lab.fragile_score == pytest.approx(0.5)
    assert lab.fragile is False
    assert lab.best == ('cup', 0.5)


def test_sum_decides_even_when_best_class_is_not_fragile():
    # no single fragile class beats the cup, but together they reach the threshold
    lab = label(np.array([0.4, 0.3, 0.3]), NAMES, FRAGILE, 0.5)
    assert lab.best[0] == 'cup'
    assert lab.fragile is True


def test_threshold_is_inclusive():
    probs = np.array([0.5, 0.25, 0.25])  # exact in binary: the sum is exactly 0.5
    assert label(probs, NAMES, FRAGILE, 0.5).fragile is True
    assert label(probs, NAMES, FRAGILE, 0.5 + 1e-9).fragile is False
    assert label(np.array([0.51, 0.25, 0.24]), NAMES, FRAGILE, 0.5).fragile is False


def test_threshold_zero_and_one():
    assert label(np.array([1.0, 0.0, 0.0]), NAMES, FRAGILE, 0.0).fragile is True
    assert label(np.array([0.0, 0.5, 0.5]), NAMES, FRAGILE, 1.0).fragile is True
    assert label(np.array([0.01, 0.5, 0.49]), NAMES, FRAGILE, 1.0).fragile is False


def test_unknown_fragile_names_count_nothing():
    lab = label(np.array([0.2, 0.4, 0.4]), NAMES, {'wine_glass'}, 0.1)
    assert lab.fragile_score == 0.0 and lab.fragile is False


def test_label_batch_one_label_a_row():
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3]], np.float32)
    labels = label_batch(probs, NAMES, ['soju_glass', 'beer_glass'], 0.3)  # any iterable of names
    assert [lab.best[0] for lab in labels] == ['cup', 'beer_glass']
    assert [lab.fragile for lab in labels] == [False, True]
    assert labels[1].fragile_score == pytest.approx(0.9)
    assert label_batch(np.zeros((0, 3)), NAMES, FRAGILE, 0.3) == []
