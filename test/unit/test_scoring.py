"""glass_perception.workflow.scoring: matching predictions to truth, latency percentiles."""

from __future__ import annotations

import math

from glass_perception.core.geometry import Box
from glass_perception.workflow.scoring import percentiles, score_frame, Tally
import pytest

CUP, BEER, SOJU = Box(50, 50, 20, 20), Box(150, 50, 20, 20), Box(250, 50, 20, 20)


def test_correct_wrong_and_missed():
    truth = [(CUP, 'cup'), (BEER, 'beer_glass'), (SOJU, 'soju_glass')]
    predicted = [(Box(51, 50, 20, 20), 'cup'), (Box(150, 51, 20, 20), 'cup')]
    t = score_frame(truth, predicted)
    assert (t.correct, t.wrong, t.missed, t.total) == (1, 1, 1, 3)
    assert t.accuracy == pytest.approx(1 / 3)
    assert t.per_class == {'cup': [1, 1], 'beer_glass': [0, 1], 'soju_glass': [0, 1]}


def test_extra_predictions_are_not_counted():
    t = score_frame([(CUP, 'cup')], [(CUP, 'cup'), (Box(400, 400, 20, 20), 'beer_glass')])
    assert (t.correct, t.wrong, t.missed) == (1, 0, 0)


def test_no_truth_no_score():
    t = score_frame([], [(CUP, 'cup')])
    assert t.total == 0 and math.isnan(t.accuracy) and t.per_class == {}


def test_min_iou_threshold():
    shifted = Box(60, 50, 20, 20)  # IoU with CUP = 10*20 / (2*400 - 200) = 1/3
    assert score_frame([(CUP, 'cup')], [(shifted, 'cup')], min_iou=0.5).missed == 1
    assert score_frame([(CUP, 'cup')], [(shifted, 'cup')], min_iou=0.3).correct == 1
    assert (
        score_frame([(CUP, 'cup')], [(shifted, 'cup')], min_iou=1 / 3).correct == 1
    )  # >= is a match


def test_one_prediction_matches_one_truth_only():
    # two truths overlap one prediction: the better overlap gets it, the other is missed
    a, b = Box(50, 50, 20, 20), Box(56, 50, 20, 20)
    t = score_frame([(a, 'cup'), (b, 'cup')], [(Box(55, 50, 20, 20), 'cup')], min_iou=0.3)
    assert (t.correct, t.missed) == (1, 1)


def test_greedy_takes_the_highest_iou_first():
    # the closest prediction has the wrong label; greedy matching uses it anyway
    t = score_frame(
        [(CUP, 'cup')], [(Box(50, 50, 20, 20), 'beer_glass'), (Box(53, 50, 20, 20), 'cup')]
    )
    assert (t.correct, t.wrong, t.missed) == (0, 1, 0)


def test_tally_add_merges_counts_and_classes():
    total = Tally()
    total.add(score_frame([(CUP, 'cup')], [(CUP, 'cup')]))
    total.add(score_frame([(CUP, 'cup'), (BEER, 'beer_glass')], [(CUP, 'soju_glass')]))
    assert (total.correct, total.wrong, total.missed) == (1, 1, 1)
    assert total.per_class == {'cup': [1, 2], 'beer_glass': [0, 1]}
    assert total.accuracy == pytest.approx(1 / 3)


def test_percentiles():
    p = percentiles(list(range(1, 101)))
    assert p == pytest.approx({'p50': 50.5, 'p95': 95.05, 'max': 100.0})
    assert percentiles([3.0], qs=(10, 99)) == {'p10': 3.0, 'p99': 3.0, 'max': 3.0}


def test_percentiles_of_nothing_are_nan():
    p = percentiles([], qs=(50, 90))
    assert set(p) == {'p50', 'p90', 'max'}
    assert all(math.isnan(v) for v in p.values())
