"""Pairing two message streams by exact stamp in a bounded cache (no message_filters needed)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable


class StampPairer:
    """Holds unmatched halves of pairs; ``add`` returns (a, b) once both halves of a key are in.

    At most ``capacity`` keys wait; the oldest is evicted (and counted) when a new one needs room.
    A half that arrives again for a waiting key replaces the earlier one.
    """

    def __init__(self, capacity: int):
        self.capacity = max(1, int(capacity))
        self._waiting: OrderedDict[Hashable, list[Any]] = OrderedDict()
        self.evicted = 0

    def add(self, key: Hashable, slot: int, value: Any):
        halves = self._waiting.get(key)
        if halves is None:
            halves = [None, None]
            self._waiting[key] = halves
            while len(self._waiting) > self.capacity:
                self._waiting.popitem(last=False)
                self.evicted += 1
        halves[slot] = value
        if halves[0] is not None and halves[1] is not None:
            del self._waiting[key]
            return halves[0], halves[1]
        return None

    def __len__(self) -> int:
        return len(self._waiting)
