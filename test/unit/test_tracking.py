"""Track ids from Roboflow's trackers: stable, from the first frame, unique for the lifetime."""

from __future__ import annotations

from dataclasses import dataclass

from glass_perception.core.geometry import Box
from glass_perception.core.tracking import (
    ALGORITHMS,
    assign_ids,
    BoxTracker,
    detect_conf,
    make_tracker,
    TrackerSettings,
)
import numpy as np
import pytest


@dataclass
class Det:
    box: Box
    score: float
    class_name: str = 'cup'


def moving(frame: int) -> list[Box]:
    return [
        Box.from_xyxy(50 + 4 * frame, 100, 90 + 4 * frame, 170),
        Box.from_xyxy(300 - 3 * frame, 200, 340 - 3 * frame, 250),
    ]


@pytest.mark.parametrize('algorithm', list(ALGORITHMS))
def test_each_glass_keeps_one_id_from_its_first_frame(algorithm):
    t = BoxTracker(TrackerSettings(algorithm, conf=0.35))
    seen = [t.update(moving(k), [0.9, 0.8], 0.1 * k) for k in range(15)]
    assert all(ids == seen[0] for ids in seen)
    assert len(set(seen[0])) == 2 and None not in seen[0]
    # a third glass enters: a new id at once, the others unchanged
    ids = t.update(moving(15) + [Box.from_xyxy(500, 50, 540, 120)], [0.9, 0.8, 0.7], 1.5)
    assert ids[:2] == seen[0] and ids[2] not in seen[0]
    again = t.update(moving(16) + [Box.from_xyxy(501, 50, 541, 120)], [0.9, 0.8, 0.7], 1.6)
    assert again == ids


def test_a_low_confidence_box_continues_a_track_but_starts_none():
    t = BoxTracker(TrackerSettings('bytetrack', conf=0.35, low_conf=0.1))
    first = t.update(moving(0), [0.9, 0.9], 0.0)
    ids = t.update(moving(1), [0.9, 0.15], 0.1)  # the second half hidden: its score drops
    assert ids == first
    ids = t.update(moving(2) + [Box.from_xyxy(500, 50, 540, 120)], [0.9, 0.9, 0.15], 0.2)
    assert ids[:2] == first and ids[2] is None  # a new box under conf is dropped


def test_ids_are_never_reused_after_a_reset():
    t = BoxTracker(TrackerSettings('bytetrack'))
    before = {i for k in range(3) for i in t.update(moving(k), [0.9, 0.9], 10 + 0.1 * k)}
    after = t.update(moving(0), [0.9, 0.9], 2.0)  # the stamps went back: a bag played again
    assert t.resets == 1 and not before & set(after)


def test_a_repeated_stamp_does_not_lose_the_tracks():
    t = BoxTracker(TrackerSettings('bytetrack'))
    a = t.update(moving(0), [0.9, 0.9], 5.0)
    assert t.update(moving(0), [0.9, 0.9], 5.0) == a


def test_without_a_tracker_ids_are_per_frame_indices():
    found = [Det(b, s) for b, s in zip(moving(0), [0.9, 0.2])]
    assert detect_conf(None, 0.35, 0.1) == 0.35
    assert [(d.score, i) for d, i in assign_ids(None, found, 0.35, 0.0)] == [(0.9, '#0')]


def test_assign_ids_keeps_the_detections_in_order():
    tracker = make_tracker('bytetrack', 0.35, 0.1, 1.0)
    assert detect_conf(tracker, 0.35, 0.1) == 0.1
    found = [Det(b, 0.9) for b in moving(0)]
    out = assign_ids(tracker, found, 0.35, 0.0)
    assert [d for d, _ in out] == found and len({i for _, i in out}) == 2
    assert make_tracker('none', 0.35, 0.1, 1.0) is None


def test_a_glass_seen_under_two_classes_is_one_box_and_the_glass_is_kept():
    from glass_perception.core.tracking import drop_duplicates

    pint = Box.from_xyxy(100, 50, 160, 200)
    found = [
        Det(Box.from_xyxy(101, 52, 160, 201), 0.86, 'bottle'),
        Det(pint, 0.23, 'wine glass'),
        Det(Box.from_xyxy(300, 50, 340, 120), 0.9, 'bottle'),  # a real bottle elsewhere
        Det(Box.from_xyxy(102, 50, 160, 199), 0.5, 'cup'),  # the same glass as a cup: kept once
    ]
    kept = drop_duplicates(found, {'cup', 'wine glass'}, 0.7)
    assert [d.class_name for d in kept] == ['bottle', 'cup']
    assert kept[0].box.cx == 320 and drop_duplicates(found, {'cup'}, 1.0) == found


def test_a_cut_to_another_scene_starts_the_tracks_afresh():
    t = BoxTracker(TrackerSettings('bytetrack'))
    scene = np.full((240, 320, 3), 90, np.uint8)
    first = t.update(moving(0), [0.9, 0.9], 0.0, frame=scene)
    assert t.update(moving(1), [0.9, 0.9], 0.1, frame=scene + 3) == first  # a camera moving
    other = np.full((240, 320, 3), 200, np.uint8)  # another scene, the glasses where they were
    after = t.update(moving(1), [0.9, 0.9], 0.2, frame=other)
    assert t.resets == 1 and not set(after) & set(first)
