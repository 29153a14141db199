"""
What a node counts and times, and how that becomes a health report once a period. No ROS here.

A node counts events (``received``, ``processed``, ``dropped``, ``rejected``, ``errors`` ...) and
records, per processed item, how long the work took and how old the item's stamp was when the
result went out (the latency from the camera up to this stage). ``report()`` turns the counts and
the timings since the previous report into a level, a one-line message and key/value pairs, which
``core.messages.diagnostic_array`` puts into a diagnostic_msgs/DiagnosticStatus.

Levels: OK; WARN when input stopped arriving, malformed messages were rejected in the period, or
frames are being dropped (the node is slower than its input; latest wins, so latency stays
bounded); ERROR when processing failed in the period, or the node says so (``fault``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import threading
import time

import numpy as np

OK, WARN, ERROR = 0, 1, 2
#: most timing samples kept between two reports (a report covers the latest of them)
MAX_SAMPLES = 2000


@dataclass
class Report:
    level: int
    message: str
    values: list[tuple[str, str]] = field(default_factory=list)


def _ms(values) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values, dtype=float) * 1000.0
    return {
        'p50': float(np.percentile(a, 50)),
        'p95': float(np.percentile(a, 95)),
        'max': float(a.max()),
    }


class StageMonitor:
    """Thread-safe counters and timings of one node; ``report()`` once a period."""

    def __init__(self, input_name: str, stale_after_s: float = 5.0, clock=time.monotonic):
        self.input_name = input_name
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._prev: Counter = Counter()
        self._work: list[float] = []
        self._age: list[float] = []
        self._started = clock()
        self._last_input: float | None = None
        self._last_report = self._started
        self._fault = ''
        self._warnings: list[str] = []

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n
            if key == 'received':
                self._last_input = self._clock()

    def set_count(self, key: str, value: int) -> None:
        """For counters kept elsewhere (a LatestWorker's), copied in before a report."""
        with self._lock:
            if key == 'received' and value != self._counts[key]:
                self._last_input = self._clock()
            self._counts[key] = value

    def timing(self, work_s: float, age_s: float | None = None) -> None:
        with self._lock:
            if len(self._work) < MAX_SAMPLES:
                self._work.append(work_s)
                if age_s is not None:
                    self._age.append(age_s)

    def warn(self, text: str) -> None:
        """Add a warning to the next report only (a condition the node checks each period)."""
        with self._lock:
            self._warnings.append(text)

    def fault(self, text: str) -> None:
        """Set a standing fault, reported as ERROR until cleared; an empty string clears it."""
        with self._lock:
            self._fault = text

    def report(self, extra: dict[str, str] | None = None) -> Report:
        now = self._clock()
        with self._lock:
            counts, prev = Counter(self._counts), self._prev
            self._prev = Counter(counts)
            work, age = self._work, self._age
            self._work, self._age = [], []
            period = max(now - self._last_report, 1e-6)
            self._last_report = now
            last_input, fault = self._last_input, self._fault
            warnings, self._warnings = self._warnings, []
        delta = {k: counts[k] - prev[k] for k in counts}
        values = [(k, str(counts[k])) for k in sorted(counts)]
        rate = delta.get('processed', 0) / period
        values.append(('processed_hz', f'{rate:.2f}'))
        for name, stats in (('processing_ms', _ms(work)), ('latency_ms', _ms(age))):
            for k, v in stats.items():
                values.append((f'{name}_{k}', f'{v:.1f}'))
        quiet_for = now - (last_input if last_input is not None else self._started)
        values.append(('since_last_input_s', f'{quiet_for:.1f}'))
        values += list((extra or {}).items())

        problems: list[tuple[int, str]] = []
        if fault:
            problems.append((ERROR, fault))
        problems += [(WARN, w) for w in warnings]
        if delta.get('errors', 0):
            problems.append(
                (ERROR, f'{delta["errors"]} processing errors in the last {period:.1f} s')
            )
        if quiet_for > self.stale_after_s:
            problems.append((WARN, f'no input on {self.input_name} for {quiet_for:.1f} s'))
        if delta.get('rejected', 0):
            problems.append(
                (
                    WARN,
                    f'{delta["rejected"]} malformed messages rejected in the last {period:.1f} s',
                )
            )
        received = delta.get('received', 0)
        if delta.get('dropped', 0) and received:
            problems.append(
                (
                    WARN,
                    f'dropping {100.0 * delta["dropped"] / received:.0f}% of frames '
                    '(slower than its input; the newest frame wins)',
                )
            )
        if problems:
            level = max(p[0] for p in problems)
            return Report(level, '; '.join(p[1] for p in problems), values)
        if not counts.get('processed'):
            return Report(OK, f'waiting for {self.input_name}', values)
        text = f'{rate:.1f} Hz'
        if work:
            text += f', processing p95 {_ms(work)["p95"]:.0f} ms'
        return Report(OK, text, values)
