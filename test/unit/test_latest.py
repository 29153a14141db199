"""glass_perception.core.latest.LatestWorker: the newest item wins, stale ones are dropped."""

from __future__ import annotations

import threading
import time

from glass_perception.core.latest import LatestWorker
import pytest

TIMEOUT = 5.0


def wait_for(predicate, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


@pytest.fixture
def workers():
    made = []
    yield made
    for w in made:
        w.stop()


def test_slow_handler_sees_first_and_latest_only(workers):
    started, release = threading.Event(), threading.Event()
    handled, errors = [], []

    def handler(item):
        handled.append(item)
        started.set()
        assert release.wait(TIMEOUT)

    w = LatestWorker(handler, errors.append)
    workers.append(w)
    w.put(1)
    assert started.wait(TIMEOUT)  # the worker is busy with item 1
    for item in (2, 3, 4, 5):
        w.put(item)  # 2, 3 and 4 are replaced before the worker is free
    release.set()
    assert wait_for(lambda: w.processed == 2)
    time.sleep(0.05)  # nothing else turns up
    assert handled == [1, 5]
    assert (w.received, w.dropped, w.processed) == (5, 3, 2)
    assert errors == []


def test_handler_exception_is_reported_and_worker_goes_on(workers):
    handled, errors = [], []

    def handler(item):
        if item == 'bad':
            raise ValueError('bad item')
        handled.append(item)

    w = LatestWorker(handler, errors.append)
    workers.append(w)
    w.put('bad')
    assert wait_for(lambda: w.processed == 1)
    assert len(errors) == 1 and isinstance(errors[0], ValueError) and str(errors[0]) == 'bad item'
    w.put('good')
    assert wait_for(lambda: w.processed == 2)
    assert handled == ['good']
    assert w.dropped == 0


def test_none_is_an_item_too(workers):
    handled = []
    w = LatestWorker(handled.append, lambda e: None)
    workers.append(w)
    w.put(None)
    assert wait_for(lambda: w.processed == 1)
    assert handled == [None]


def test_stop_ends_the_thread():
    w = LatestWorker(lambda item: None, lambda e: None, name='test-worker')
    assert w._thread.name == 'test-worker' and w._thread.daemon
    w.stop()
    assert not w._thread.is_alive()
