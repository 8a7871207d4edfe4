"""The whole-call time budget: one :class:`Deadline` value travels with a call.

``ApiClient.request`` creates the deadline of a call (or joins the one of the
call already in progress in this thread, e.g. a token refresh made from a 401
hook: the refresh spends the same budget, it does not get a fresh one).  The
deadline

* caps the connect and read timeouts of each attempt to what is left;
* counts the attempts (urllib3 retries and the re-send after a refresh);
* is enforced by one shared watchdog thread, which shuts down the sockets the
  call holds when the budget runs out.  The connection pools of the adapters
  the library mounts (:class:`WatchedPoolManager`) tell the current deadline
  which connection it uses as soon as it is taken from the pool, so the
  header phase (a server trickling its headers) is bounded as well as the
  body;
* builds the timeout error, which says how long the call waited in all and
  how many attempts it made.
"""

from __future__ import annotations

import heapq
import socket
import threading
import time
import weakref
from contextvars import ContextVar
from typing import Any, Dict, List, Optional, Tuple

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager

from ._fork import reset_in_child
from .config import check_total_timeout
from .errors import ApiTimeoutError

__all__ = [
    "DEFAULT_TOTAL_TIMEOUT",
    "Deadline",
    "current_deadline",
    "check_total_timeout",
    "keep_for_body",
    "budget_of",
    "release",
    "WATCHED_POOL_CLASSES",
]

#: The whole-call budget when none is given: five minutes per call (connect,
#: send, wait, read the answer, retries, and a token refresh inside the call).
DEFAULT_TOTAL_TIMEOUT = 300.0

_CURRENT: ContextVar[Optional[Deadline]] = ContextVar("avatars_deadline", default=None)


def current_deadline() -> Optional[Deadline]:
    """The deadline of the call in progress in this thread (or context), if any."""
    return _CURRENT.get()


class Deadline:
    """The budget of one call, from its start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.start = time.monotonic()
        self.end = self.start + self.seconds
        #: HTTP attempts made so far (1 + retries + re-sends).
        self.attempts = 1
        self.expired = False
        self._lock = threading.Lock()
        self._conns: List[Any] = []
        #: urllib3 answers whose connection serves this call while their body is read (weak).
        self._answers: List[weakref.ref[Any]] = []
        self._armed = False

    # ------------------------------------------------------------------ time

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def cap(self, timeout: Any) -> Any:
        """``timeout`` (seconds, ``(connect, read)`` or ``None``) capped to what is left."""
        left = max(self.remaining(), 0.001)
        if timeout is None:
            return (left, left)
        if isinstance(timeout, tuple):
            return (min(timeout[0], left), min(timeout[1], left))
        return min(float(timeout), left)

    # ------------------------------------------------------------------ the current call

    def enter(self) -> Any:
        """Make this the current deadline (returns the token for :meth:`leave`)."""
        return _CURRENT.set(self)

    @staticmethod
    def leave(token: Any) -> None:
        _CURRENT.reset(token)

    # ------------------------------------------------------------------ enforcement

    @property
    def armed(self) -> bool:
        """The watchdog enforces this deadline (between :meth:`arm` and :meth:`disarm`)."""
        return self._armed

    def arm(self) -> None:
        if not self._armed:
            self._armed = True
            _WATCHDOG.add(self)

    def disarm(self) -> None:
        if self._armed:
            self._armed = False
            _WATCHDOG.remove(self)
        with self._lock:
            for conn in self._conns:
                _set_owner(conn, None)
            self._conns.clear()
            self._answers.clear()

    def attach(self, conn: Any) -> None:
        """``conn`` now serves this call (called by the watched pools)."""
        with self._lock:
            self._conns.append(conn)
            _set_owner(conn, self)
            expired = self.expired
        if expired:
            _shut(conn)

    def attach_answer(self, raw: Any) -> None:
        """``raw`` (a urllib3 response) is this call's answer: if the budget runs
        out while its body is read, the connection it holds *then* is cut.
        Once the body is read, urllib3 gives the connection back (``raw.connection``
        becomes ``None``), so a connection that went on to serve another call is
        never touched.  Used for adapters whose pools do not report (an injected
        session's), and for streamed bodies."""
        with self._lock:
            self._answers.append(weakref.ref(raw))
            expired = self.expired
        if expired:
            _shut(_connection_of(raw))

    def detach(self, conn: Any) -> None:
        """``conn`` went back to its pool: it no longer serves this call."""
        with self._lock:
            try:
                self._conns.remove(conn)
            except ValueError:
                pass
            _set_owner(conn, None)

    def fire(self) -> None:
        """The budget ran out: cut the connections still serving the call."""
        with self._lock:
            self.expired = True
            conns = list(self._conns)
            answers = [ref() for ref in self._answers]
        for conn in conns:
            _shut(conn)
        for raw in answers:
            if raw is not None:
                _shut(_connection_of(raw))

    # ------------------------------------------------------------------ reporting

    def summary(self) -> str:
        attempts = f"{self.attempts} attempt" + ("" if self.attempts == 1 else "s")
        return f"waited {self.elapsed():.1f} s in all, {attempts}"

    def error(self, method: Optional[str], url: Optional[str], what: str = "the call") -> ApiTimeoutError:
        return ApiTimeoutError(
            f"{what} did not complete within its total budget of {self.seconds:g} s ({self.summary()})",
            method=method,
            url=url,
            waited=self.elapsed(),
            attempts=self.attempts,
        )


#: Which deadline each pooled connection serves now (nothing is set on the
#: connection).  A plain dict (a weak one costs a weak reference per lookup,
#: three times a call): an entry lives from :meth:`Deadline.attach` to
#: :meth:`Deadline.detach` (the connection went back to its pool) or
#: :meth:`Deadline.disarm` (the call ended), whichever comes first.
_OWNERS: Dict[Any, Deadline] = {}


def _set_owner(conn: Any, owner: Optional[Deadline]) -> None:
    try:
        if owner is None:
            _OWNERS.pop(conn, None)
        else:
            _OWNERS[conn] = owner
    except TypeError:  # pragma: no cover - a connection class that cannot be a dict key
        pass


def _owner_of(conn: Any) -> Optional[Deadline]:
    try:
        return _OWNERS.get(conn)
    except TypeError:  # pragma: no cover
        return None


def _connection_of(raw: Any) -> Any:
    """The connection a urllib3 response still holds (``None`` once released)."""
    return getattr(raw, "connection", None) or getattr(raw, "_connection", None)


# ---------------------------------------------------------------------- streamed bodies

#: The deadline of each streamed answer whose body the budget also covers.
_STREAMED: weakref.WeakKeyDictionary[Any, Deadline] = weakref.WeakKeyDictionary()


def keep_for_body(deadline: Deadline, response: Any) -> None:
    """The budget of ``deadline`` also covers reading the body of ``response``
    (a ``requests.Response`` of a ``stream=True`` call): the watchdog stays
    armed and cuts the answer's connection if the budget runs out while the
    body is read.  Nothing is patched on the response: :func:`budget_of` finds
    the deadline, :func:`release` ends the watch early (otherwise it ends at
    the deadline, harmlessly once the body has been read)."""
    _STREAMED[response] = deadline
    raw = getattr(response, "raw", None)
    if raw is not None:
        deadline.attach_answer(raw)


def budget_of(response: Any) -> Optional[Deadline]:
    """The deadline covering the body of a streamed ``response``, if any
    (``transfer.py`` reads it to say that the budget, not the network, cut a
    download)."""
    try:
        return _STREAMED.get(response)
    except TypeError:  # not weak-referenceable: never registered
        return None


def release(response: Any) -> None:
    """The body of ``response`` has been read or abandoned: stop watching it."""
    try:
        deadline = _STREAMED.pop(response, None)
    except TypeError:
        return
    if deadline is not None:
        deadline.disarm()


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watchdog:
    """One daemon thread for every deadline of the process.

    Two ways in, one rule for both: a deadline is fired once its end has
    passed, never before.

    * A deadline that ends within ``2 * max_sleep`` seconds goes into a heap by
      end time (under the lock, waking the thread when it must wake sooner).
    * A deadline further away (every call's default budget, 300 s) is put in a
      dict, without the lock or the heap: the thread never sleeps longer than
      ``max_sleep`` and scans that dict each time it wakes, so it has seen such
      a deadline at least ``max_sleep`` seconds before its end, and sleeps no
      later than the earliest end it has seen.
    """

    def __init__(self, max_sleep: float = 30.0) -> None:
        self._max_sleep = max_sleep
        self._cond = threading.Condition()
        self._heap: List[Tuple[float, int, Deadline]] = []
        self._live: dict[int, Deadline] = {}
        #: Deadlines ending more than 2 * max_sleep after they were added.
        self._far: dict[int, Deadline] = {}
        self._thread: Optional[threading.Thread] = None
        self._fork_safe = False
        #: When the watchdog thread will wake up by itself (inf: it is not waiting).
        self._wake_at = float("inf")

    def add(self, deadline: Deadline) -> None:
        if not self._fork_safe:
            # The child of a fork has no watchdog thread and may inherit a held lock.
            reset_in_child(self, _Watchdog.reset_after_fork)
            self._fork_safe = True
        if deadline.end - time.monotonic() >= 2 * self._max_sleep:
            thread = self._thread
            if thread is None or not thread.is_alive():
                with self._cond:
                    self._ensure_thread()
            self._far[id(deadline)] = deadline  # one atomic dict operation
            return
        with self._cond:
            self._ensure_thread()
            self._live[id(deadline)] = deadline
            heapq.heappush(self._heap, (deadline.end, id(deadline), deadline))
            if deadline.end < self._wake_at:  # only wake the watchdog when it would sleep too long
                self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        # Atomic dict operations: the watchdog skips heap entries that are no
        # longer live, so only the compaction below needs the lock.
        key = id(deadline)
        self._far.pop(key, None)
        self._live.pop(key, None)
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._live):
            with self._cond:
                self._heap = [e for e in self._heap if self._live.get(e[1]) is e[2]]
                heapq.heapify(self._heap)

    def _ensure_thread(self) -> None:
        # After a fork, reset_after_fork (registered by add) has set _thread to None.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="avatars-deadline-watchdog", daemon=True)
            self._thread.start()

    def _due(self, now: float) -> Tuple[List[Deadline], float]:
        """The deadlines to fire now, and when to look again (called under the lock)."""
        due: List[Deadline] = []
        next_look = now + self._max_sleep
        for deadline in list(self._far.values()):  # a copy: callers add and remove without the lock
            if deadline.end <= now:
                if self._far.pop(id(deadline), None) is deadline:
                    due.append(deadline)
            elif deadline.end < next_look:
                next_look = deadline.end
        heap = self._heap
        while heap:
            end, key, deadline = heap[0]
            if self._live.get(key) is not deadline:
                heapq.heappop(heap)  # removed by its call
                continue
            if end > now:
                next_look = min(next_look, end)
                break
            heapq.heappop(heap)
            if self._live.pop(key, None) is deadline:
                due.append(deadline)
        return due, next_look

    def stop(self) -> None:
        """End the thread (it is a daemon: the process never waits for it)."""
        with self._cond:
            self._thread = None
            self._cond.notify()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                if self._thread is not me:
                    return  # stopped, or replaced
                now = time.monotonic()
                due, next_look = self._due(now)
                if not due:
                    self._wake_at = next_look
                    self._cond.wait(next_look - now)
                    self._wake_at = float("inf")
                    continue
            for deadline in due:
                deadline.fire()

    def reset_after_fork(self) -> None:
        self._wake_at = float("inf")
        self._cond = threading.Condition()
        self._heap = []
        self._live = {}
        self._far = {}
        self._thread = None


_WATCHDOG = _Watchdog()


class _WatchedPoolMixin:
    """Tells the current call's deadline which connection serves it."""

    def _get_conn(self, timeout: Any = None) -> Any:
        deadline = _CURRENT.get()
        if deadline is not None:
            # With pool_block, a thread waits for a free connection: not beyond the budget.
            left = max(deadline.remaining(), 0.001)
            timeout = left if timeout is None else min(timeout, left)
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        if deadline is not None and conn is not None:
            deadline.attach(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        owner = _owner_of(conn) if conn is not None else None
        if owner is not None:
            owner.detach(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class WatchedHTTPConnectionPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class WatchedHTTPSConnectionPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


#: ``PoolManager.pool_classes_by_scheme`` for the adapters the library mounts.
WATCHED_POOL_CLASSES = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}


def watch_pools(manager: PoolManager) -> PoolManager:
    """Make ``manager`` create watched pools (it is the library's own manager)."""
    manager.pool_classes_by_scheme = dict(WATCHED_POOL_CLASSES)
    return manager
