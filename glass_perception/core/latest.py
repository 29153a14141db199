"""
A depth-one hand-off between a message callback and a slow model: the latest item wins.

The callback ``put``s and returns at once; one worker thread runs ``handler`` on the newest item.
An item still waiting when a newer one arrives is dropped and counted, so latency never grows with
load and nothing queues up.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar('T')


class LatestWorker(Generic[T]):
    def __init__(
        self,
        handler: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        name: str = 'latest-worker',
    ):
        self._handler = handler
        self._on_error = on_error
        self._cond = threading.Condition()
        self._item: T | None = None
        self._has_item = False
        self._stopped = False
        self.received = 0
        self.dropped = 0
        self.processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        with self._cond:
            self.received += 1
            if self._has_item:
                self.dropped += 1
            self._item, self._has_item = item, True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_item and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                item, self._item, self._has_item = self._item, None, False
            try:
                self._handler(item)
            except Exception as e:  # a bad item must not kill the worker
                self._on_error(e)
            with self._cond:
                self.processed += 1

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout)
