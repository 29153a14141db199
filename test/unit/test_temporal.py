"""Per-track smoothing: labels with hysteresis, the fragile latch, the position filter, ids."""

from __future__ import annotations

from glass_perception.core.temporal import (
    check_ids,
    FragileLatch,
    LabelSettings,
    LabelSmoother,
    PositionFilter,
    PositionSettings,
    TrackLabels,
    TrackSmoothing,
)
import numpy as np
import pytest

BEER = [('beer_glass', 0.8), ('soju_glass', 0.15), ('cup', 0.05)]
SOJU = [('soju_glass', 0.8), ('beer_glass', 0.15), ('cup', 0.05)]
CUP = [('cup', 0.9), ('beer_glass', 0.05), ('soju_glass', 0.05)]


def top(ranked):
    return ranked[0][0]


def test_one_doubtful_frame_does_not_flip_the_label_many_do():
    s = LabelSmoother(LabelSettings(window=8, hysteresis=0.7))
    labels = [top(s.update('3', 0.1 * k, BEER)) for k in range(10)]
    assert labels == ['beer_glass'] * 10
    assert top(s.update('3', 1.0, SOJU)) == 'beer_glass'  # one frame that says soju
    assert top(s.update('3', 1.1, SOJU)) == 'beer_glass'  # and a second one
    later = [top(s.update('3', 1.2 + 0.1 * k, SOJU)) for k in range(12)]
    assert later[-1] == 'soju_glass'  # the evidence moved: the label follows
    assert later.index('soju_glass') >= 2  # after the hysteresis, not at once
    assert sorted(later[later.index('soju_glass'):]) == ['soju_glass'] * len(
        later[later.index('soju_glass'):]
    )  # and does not flip back


def test_smoothed_probabilities_are_a_ranked_distribution():
    s = LabelSmoother(LabelSettings())
    for k, ranked in enumerate([BEER, SOJU, BEER, CUP]):
        out = s.update('9', 0.1 * k, ranked)
        probs = [p for _, p in out]
        assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-9
        assert {c for c, _ in out} == {'cup', 'beer_glass', 'soju_glass'}


def test_window_one_and_no_hysteresis_is_frame_by_frame():
    s = LabelSmoother(LabelSettings(window=1, hysteresis=0.0))
    for k, ranked in enumerate([BEER, SOJU, CUP, BEER]):
        out = dict(s.update('1', 0.1 * k, ranked))
        assert out == pytest.approx(dict(ranked), abs=1e-6)


def test_per_frame_and_empty_ids_are_never_accumulated():
    s = LabelSmoother(LabelSettings())
    for k in range(5):
        s.update('#0', 0.1 * k, BEER)
        s.update('', 0.1 * k, BEER)
    assert s.update('#0', 1.0, SOJU) == SOJU and s.update('', 1.0, CUP) == CUP
    assert len(s.tracks) == 0


def test_tracks_expire_by_stamp_and_memory_is_bounded():
    s = LabelSmoother(LabelSettings(expiry_s=2.0, max_tracks=50))
    for k in range(500):
        s.update(str(k), 100.0 + 0.01 * k, BEER)
        s.expire(100.0 + 0.01 * k)
    assert len(s.tracks) <= 50
    s.update('1000', 110.0, BEER)
    s.expire(110.0)
    assert len(s.tracks) == 1  # the others were last seen more than 2 s before
    assert s.frames('1000') == 1 and s.frames('499') == 0


def test_fragile_latch_holds_through_doubtful_frames():
    latch = FragileLatch(release_frames=5, expiry_s=2.0)
    assert latch.update('4', 0.0, True)
    assert latch.update('4', 0.1, False) and latch.update('4', 0.2, False)  # two doubtful frames
    assert latch.update('4', 0.3, True)
    held = [latch.update('4', 0.4 + 0.1 * k, False) for k in range(6)]
    assert held == [True, True, True, True, False, False]  # released after 5 calm frames
    assert not latch.update('#1', 0.0, False)  # per-frame ids: the frame's own verdict


def test_track_labels_fragile_from_the_smoothed_probabilities_latched():
    labels = TrackLabels(LabelSettings(), release_frames=3)
    fragile = []
    for k, ranked in enumerate([BEER] * 6 + [CUP] * 2 + [BEER]):
        ((smooth, is_fragile),) = labels.frame(0.1 * k, [('7', ranked)], ['beer_glass'], 0.3)
        fragile.append(is_fragile)
    assert all(fragile)


def test_position_filter_averages_noise_and_reports_it_in_the_covariance():
    rng = np.random.default_rng(0)
    f = PositionFilter(PositionSettings(walk_sigma=0.003))
    true = np.array([0.05, 0.1, 0.8])
    cov = np.eye(3) * 0.005**2
    raw, out = [], []
    for k in range(40):
        z = true + rng.normal(0, 0.005, 3)
        s = f.update('2', 0.1 * k, z, cov, 0.1, 0.07, True)
        raw.append(z)
        out.append(s.position)
    raw, out = np.array(raw[10:]), np.array(out[10:])
    error = np.linalg.norm(out - true, axis=1).mean()
    assert error < 0.4 * np.linalg.norm(raw - true, axis=1).mean()
    assert np.trace(s.covariance) < 0.2 * np.trace(cov)


def _pose(angle: float, shift: float) -> np.ndarray:
    """Return a camera turned about its y axis and slid: p_camera = pose @ p_world."""
    c, s = np.cos(angle), np.sin(angle)
    pose = np.eye(4)
    pose[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    pose[:3, 3] = [shift, 0.0, 0.0]
    return pose


def test_a_static_glass_seen_by_a_moving_camera_is_averaged_in_the_fixed_frame():
    rng = np.random.default_rng(1)
    f = PositionFilter(PositionSettings(walk_sigma=0.003))
    world = np.array([0.0, 0.1, 0.9, 1.0])
    cov = np.eye(3) * 0.004**2
    errors_raw, errors = [], []
    for k in range(40):
        pose = _pose(0.02 * k, 0.01 * k)  # 1 cm and 1.1 degrees a frame
        f.set_pose(pose)
        true = (pose @ world)[:3]
        z = true + rng.normal(0, 0.004, 3)
        s = f.update('5', 0.1 * k, z, cov, 0.1, 0.07, True)
        if k >= 10:
            errors_raw.append(np.linalg.norm(z - true))
            errors.append(np.linalg.norm(s.position - true))  # published in the camera frame
    assert np.mean(errors) < 0.5 * np.mean(errors_raw)


def test_an_unknown_camera_pose_makes_the_next_measurement_a_fresh_start():
    f = PositionFilter(PositionSettings(walk_sigma=0.003))
    assert TrackSmoothing(PositionSettings(), 3).smooth_frame(0.0, None, []) is None
    cov = np.eye(3) * 0.003**2
    for k in range(10):
        f.update('3', 0.1 * k, np.array([0.0, 0.1, 0.9]), cov, 0.1, 0.07, True)
    f.set_pose(None)  # the camera moved, nobody says how
    s = f.update('3', 1.0, np.array([0.05, 0.1, 0.8]), cov, 0.1, 0.07, True)
    assert not s.rejected and np.linalg.norm(s.position - [0.05, 0.1, 0.8]) < 0.002


def test_an_outlier_is_rejected_and_a_glass_that_moved_restarts():
    f = PositionFilter(PositionSettings(walk_sigma=0.003, max_rejects=3))
    cov = np.eye(3) * 0.003**2
    here, there = np.array([0.0, 0.1, 0.9]), np.array([0.3, 0.1, 0.9])
    for k in range(10):
        f.update('8', 0.1 * k, here, cov, 0.1, 0.07, True)
    s = f.update('8', 1.0, there, cov, 0.1, 0.07, True)
    assert s.rejected and np.linalg.norm(s.position - here) < 0.003
    f.update('8', 1.1, there, cov, 0.1, 0.07, True)
    s = f.update('8', 1.2, there, cov, 0.1, 0.07, True)  # the third in a row: it moved
    assert not s.rejected and np.allclose(s.position, there)
    assert f.rejected == 2


def test_sizes_are_averaged_over_measured_frames_only():
    f = PositionFilter(PositionSettings())
    cov = np.eye(3) * 0.003**2
    p = np.array([0.0, 0.1, 0.9])
    f.update('1', 0.0, p, cov, 0.10, 0.08, True)
    f.update('1', 0.1, p, cov, 0.12, 0.06, True)
    s = f.update('1', 0.2, p, cov, 0.50, 0.50, False)  # a prior, not a measurement
    assert s.height == pytest.approx(0.11) and s.diameter == pytest.approx(0.07)


@pytest.mark.parametrize(
    'ids, reason',
    [
        (['1', '1'], 'twice'),
        (['x' * 65], 'characters'),
        (['a\nb'], 'printable'),
        (['\u00e9'], 'printable'),
    ],
)
def test_malformed_ids_are_refused(ids, reason):
    with pytest.raises(ValueError, match=reason):
        check_ids(ids)


def test_well_formed_ids_pass():
    check_ids(['1', '2', '#0', '', '', 'glass-7'])
