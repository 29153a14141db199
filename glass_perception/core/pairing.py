"""Pairing two message streams by exact stamp in a bounded cache (no message_filters needed)."""

from __future__ import annotations

from collections import deque, OrderedDict
from typing import Any, Hashable


class StampPairer:
    """
    Holds unmatched halves of pairs; ``add`` returns (a, b) once both halves of a key are in.

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


class NearestStamp:
    """
    The last ``capacity`` messages of a stream, found again by the stamp nearest to another's.

    Camera drivers stamp colour and depth separately unless they synchronise them; a result of
    the colour image is paired with the depth image whose stamp is nearest, within ``max_skew``
    seconds (what message_filters' ApproximateTime does for two topics, without its queue).
    """

    def __init__(self, capacity: int, max_skew: float):
        self._items: deque[tuple[float, Any]] = deque(maxlen=max(1, int(capacity)))
        self.max_skew = float(max_skew)

    def add(self, stamp: float, value: Any) -> None:
        self._items.append((float(stamp), value))

    def nearest(self, stamp: float) -> tuple[Any, float] | None:
        """Return (value, |skew| in seconds) of the nearest stamp within max_skew, else None."""
        if not self._items:
            return None
        t, value = min(self._items, key=lambda item: abs(item[0] - stamp))
        skew = abs(t - stamp)
        return (value, skew) if skew <= self.max_skew else None

    @property
    def newest(self) -> float | None:
        """Return the newest stamp held (None when empty)."""
        return self._items[-1][0] if self._items else None

    def __len__(self) -> int:
        return len(self._items)
