"""glass_perception.core.pairing.StampPairer: pairs two streams by key in a bounded cache."""

from __future__ import annotations

from glass_perception.core.pairing import StampPairer


def test_pairs_when_both_halves_are_in():
    p = StampPairer(4)
    assert p.add((1, 0), 0, 'crops') is None
    assert len(p) == 1
    assert p.add((1, 0), 1, 'candidates') == ('crops', 'candidates')
    assert len(p) == 0 and p.evicted == 0


def test_result_is_in_slot_order_whatever_arrived_first():
    p = StampPairer(4)
    assert p.add('k', 1, 'b') is None
    assert p.add('k', 0, 'a') == ('a', 'b')


def test_interleaved_keys():
    p = StampPairer(4)
    assert p.add(1, 0, 'a1') is None
    assert p.add(2, 1, 'b2') is None
    assert p.add(3, 0, 'a3') is None
    assert p.add(2, 0, 'a2') == ('a2', 'b2')
    assert p.add(1, 1, 'b1') == ('a1', 'b1')
    assert len(p) == 1  # key 3 still waits
    assert p.add(3, 1, 'b3') == ('a3', 'b3')
    assert p.evicted == 0


def test_oldest_key_is_evicted_and_counted():
    p = StampPairer(2)
    p.add(1, 0, 'a1')
    p.add(2, 0, 'a2')
    p.add(3, 0, 'a3')  # no room: key 1 goes
    assert len(p) == 2 and p.evicted == 1
    assert p.add(1, 1, 'b1') is None  # its partner is gone; key 1 waits afresh (and evicts key 2)
    assert p.evicted == 2
    assert p.add(3, 1, 'b3') == ('a3', 'b3')
    assert p.add(2, 1, 'b2') is None


def test_a_repeated_half_replaces_the_earlier_one():
    p = StampPairer(2)
    p.add('k', 0, 'old')
    p.add('k', 0, 'new')
    assert len(p) == 1
    assert p.add('k', 1, 'b') == ('new', 'b')


def test_falsy_values_still_pair():
    p = StampPairer(2)
    p.add('k', 0, 0)
    assert p.add('k', 1, '') == (0, '')


def test_capacity_is_at_least_one():
    p = StampPairer(0)
    assert p.capacity == 1
    p.add(1, 0, 'a')
    p.add(2, 0, 'b')
    assert len(p) == 1 and p.evicted == 1
    assert p.add(2, 1, 'c') == ('b', 'c')
