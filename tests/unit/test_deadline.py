"""The watchdog of :mod:`avatars._deadline`: a deadline fires once its end has
passed, never before, whether it went into the heap (a near end) or into the
lock-free dict (an end further than twice the watchdog's longest sleep, as
every call's default budget)."""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest

from avatars import _deadline
from avatars._deadline import Deadline, _Watchdog


class _Recorded(Deadline):
    """A deadline that records when the watchdog fired it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.fired_at: List[float] = []
        self.fired = threading.Event()

    def fire(self) -> None:
        self.fired_at.append(time.monotonic())
        super().fire()
        self.fired.set()


@pytest.fixture()
def watchdog() -> Iterator[_Watchdog]:
    # Sleeps of at most 0.1 s: deadlines of 0.2 s or more take the lock-free road.
    dog = _Watchdog(max_sleep=0.1)
    yield dog
    thread = dog._thread
    dog.stop()
    if thread is not None:
        thread.join(10)
        assert not thread.is_alive()


def test_a_far_deadline_takes_the_lock_free_road_and_fires_after_its_end(watchdog: _Watchdog) -> None:
    deadline = _Recorded(0.6)
    watchdog.add(deadline)
    assert id(deadline) in watchdog._far and not watchdog._heap
    assert deadline.fired.wait(10), "the watchdog never fired a far deadline"
    assert deadline.fired_at[0] >= deadline.end  # never early
    assert deadline.expired and len(deadline.fired_at) == 1
    assert not watchdog._far


def test_a_near_deadline_takes_the_heap_and_fires_after_its_end(watchdog: _Watchdog) -> None:
    deadline = _Recorded(0.05)
    watchdog.add(deadline)
    assert id(deadline) in watchdog._live and id(deadline) not in watchdog._far
    assert deadline.fired.wait(10)
    assert deadline.fired_at[0] >= deadline.end


def test_a_far_deadline_added_while_the_watchdog_sleeps_long_is_still_seen(watchdog: _Watchdog) -> None:
    """The thread is asleep (nothing to watch: it sleeps max_sleep); a far
    deadline added then, without waking it, is found at its next look."""
    starter = _Recorded(0.01)
    watchdog.add(starter)
    assert starter.fired.wait(10)  # the thread runs, and now sleeps
    deadline = _Recorded(0.3)
    watchdog.add(deadline)
    assert deadline.fired.wait(10)
    assert deadline.fired_at[0] >= deadline.end


@pytest.mark.parametrize("seconds", [0.05, 0.4])
def test_a_removed_deadline_never_fires(watchdog: _Watchdog, seconds: float) -> None:
    removed = _Recorded(seconds)
    watchdog.add(removed)
    watchdog.remove(removed)
    later = _Recorded(seconds + 0.2)  # fires after the removed one would have
    watchdog.add(later)
    assert later.fired.wait(10)
    assert not removed.fired_at and not removed.expired


def test_many_far_deadlines_added_and_removed_from_threads_fire_only_when_due(watchdog: _Watchdog) -> None:
    kept: List[_Recorded] = []
    lock = threading.Lock()

    def work() -> None:
        for index in range(300):
            deadline = _Recorded(0.3 + (index % 7) / 100)
            watchdog.add(deadline)
            if index % 50 == 0:
                with lock:
                    kept.append(deadline)
            else:
                watchdog.remove(deadline)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for deadline in kept:
        assert deadline.fired.wait(10)
        assert deadline.fired_at[0] >= deadline.end and len(deadline.fired_at) == 1
    assert not watchdog._far and not watchdog._live


def test_the_process_watchdog_puts_the_default_budget_on_the_lock_free_road() -> None:
    deadline = Deadline(_deadline.DEFAULT_TOTAL_TIMEOUT)
    deadline.arm()
    try:
        assert id(deadline) in _deadline._WATCHDOG._far
    finally:
        deadline.disarm()
    assert id(deadline) not in _deadline._WATCHDOG._far
