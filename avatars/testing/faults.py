"""Fault injection and rate limits, per route.

A route is a method (``"GET"``, ... or ``"*"``) and a path glob matched with
:func:`fnmatch.fnmatchcase` against the request path without its query string
(``/api/jobs/*`` matches ``/api/jobs/abc`` and ``/api/jobs/abc/cancel``). The
same registry serves the API origin (paths under ``/api``) and the storage
origin (paths under ``/storage`` on the API listener, or the second listener).

Each fault applies to the next ``count`` matching requests, then the route
behaves normally again. When several faults match, the one registered first
is used first. Kinds:

``delay(seconds)``
    wait, then answer normally.
``drop_before(rst=False)``
    close the TCP connection before any response byte (with ``rst=True`` the
    close is abortive, SO_LINGER 0, so the client sees a reset).
``drop_mid_body(fraction=0.5)``
    run the route, send the status and headers (full ``Content-Length``) and
    ``fraction`` of the body, then close.
``status(code=503, retry_after=None)``
    a proxy-style HTML error page (``text/html``) with that 5xx code.
``truncated_json``
    200 with the route's real JSON body cut in the middle (``Content-Length``
    matches what is sent).
``invalid_json``
    200, ``application/json``, a body that is not JSON.
``wrong_schema``
    200 with valid JSON lacking the required fields of the route's model.
``trickle(chunk_size=4, interval=0.05)``
    the real response body sent a few bytes at a time with pauses.
``redirect(location, status=302)``
    a redirect to ``location`` (any origin).
``status_code(code, body=None, headers=None)``
    an arbitrary answer (``body``: JSON-able object, str or bytes).
``drop_mid_request(after_bytes=0)``
    read ``after_bytes`` of the request body, then close the connection
    without an answer (an upload or a multipart part cut short).
``slow_down()`` (helper)
    the object store's 503 ``SlowDown`` S3 XML error (a ``status_code`` fault).

Every fault may also carry ``query``: a substring the request's raw query
string must contain (``query="partNumber=2"`` hits the second part of a
multipart upload only). Storage paths are ``/storage/<bucket>/<key>`` on the
API listener and ``/<bucket>/<key>`` on the second one; ``*/avatars/*``
matches both.

Rate limits: ``N`` requests per ``window`` seconds per route (all callers
together); the next one gets 429 with ``Retry-After`` (integer seconds) and
``retry_after`` in the body.
"""

from __future__ import annotations

import collections
import fnmatch
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Mapping, Optional

FAULT_KINDS = (
    "delay",
    "drop_before",
    "drop_mid_body",
    "status",
    "truncated_json",
    "invalid_json",
    "wrong_schema",
    "trickle",
    "redirect",
    "status_code",
    "drop_mid_request",
)
#: Faults that run the real route and then spoil its response.
POST_FAULTS = frozenset({"drop_mid_body", "truncated_json", "wrong_schema", "trickle"})


def _norm_method(method: str) -> str:
    return "*" if method == "*" else method.upper()


def _matches(method: str, pattern: str, req_method: str, req_path: str) -> bool:
    if method != "*" and method != req_method.upper():
        return False
    return fnmatch.fnmatchcase(req_path, pattern)


@dataclass
class Fault:
    """One fault rule; ``remaining`` counts down on each matching request."""

    kind: str
    method: str
    path: str
    remaining: int
    params: Dict[str, Any] = field(default_factory=dict)
    fired: int = 0


class FaultRegistry:
    """Thread-safe registry of pending faults (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []

    # -- generic -------------------------------------------------------------

    def add(self, kind: str, method: str, path: str, *, count: int = 1, **params: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if count < 1:
            raise ValueError("count must be >= 1")
        _check_params(kind, params)
        fault = Fault(kind=kind, method=_norm_method(method), path=path, remaining=count, params=dict(params))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, query: str = "") -> Optional[Fault]:
        """The first pending fault matching the request, counted down (internal)."""
        with self._lock:
            for fault in self._faults:
                wanted = fault.params.get("query")
                if wanted and str(wanted) not in query:
                    continue
                if _matches(fault.method, fault.path, method, path):
                    fault.remaining -= 1
                    fault.fired += 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> List[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- one helper per kind ---------------------------------------------------

    def delay(self, method: str, path: str, seconds: float, *, count: int = 1) -> Fault:
        return self.add("delay", method, path, count=count, seconds=seconds)

    def drop_before(self, method: str, path: str, *, count: int = 1, rst: bool = False) -> Fault:
        return self.add("drop_before", method, path, count=count, rst=rst)

    def drop_mid_body(
        self, method: str, path: str, *, count: int = 1, fraction: float = 0.5, query: Optional[str] = None
    ) -> Fault:
        return self.add("drop_mid_body", method, path, count=count, fraction=fraction, query=query)

    def drop_mid_request(
        self, method: str, path: str, *, count: int = 1, after_bytes: int = 0, query: Optional[str] = None
    ) -> Fault:
        return self.add("drop_mid_request", method, path, count=count, after_bytes=after_bytes, query=query)

    def slow_down(self, method: str, path: str, *, count: int = 1, query: Optional[str] = None) -> Fault:
        """503 with S3's ``SlowDown`` XML error (what a busy object store answers)."""
        from .storage import slow_down_body

        return self.add(
            "status_code",
            method,
            path,
            count=count,
            code=503,
            body=slow_down_body(),
            headers={"Content-Type": "application/xml"},
            query=query,
        )

    def status(
        self,
        method: str,
        path: str,
        code: int = 503,
        *,
        count: int = 1,
        retry_after: Optional[int] = None,
    ) -> Fault:
        return self.add("status", method, path, count=count, code=code, retry_after=retry_after)

    def truncated_json(self, method: str, path: str, *, count: int = 1) -> Fault:
        return self.add("truncated_json", method, path, count=count)

    def invalid_json(self, method: str, path: str, *, count: int = 1) -> Fault:
        return self.add("invalid_json", method, path, count=count)

    def wrong_schema(self, method: str, path: str, *, count: int = 1) -> Fault:
        return self.add("wrong_schema", method, path, count=count)

    def trickle(
        self,
        method: str,
        path: str,
        *,
        count: int = 1,
        chunk_size: int = 4,
        interval: float = 0.05,
    ) -> Fault:
        return self.add("trickle", method, path, count=count, chunk_size=chunk_size, interval=interval)

    def redirect(self, method: str, path: str, location: str, *, status: int = 302, count: int = 1) -> Fault:
        return self.add("redirect", method, path, count=count, location=location, status=status)

    def status_code(
        self,
        method: str,
        path: str,
        code: int,
        body: Any = None,
        *,
        count: int = 1,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Fault:
        return self.add(
            "status_code",
            method,
            path,
            count=count,
            code=code,
            body=body,
            headers=dict(headers or {}),
        )


def _check_params(kind: str, params: Mapping[str, Any]) -> None:
    if kind == "delay" and float(params.get("seconds", -1)) < 0:
        raise ValueError("delay needs seconds >= 0")
    if kind == "status":
        code = int(params.get("code", 503))
        if not 400 <= code <= 599:
            raise ValueError("status fault code must be 4xx/5xx")
    if kind == "drop_mid_body":
        fraction = float(params.get("fraction", 0.5))
        if not 0.0 <= fraction < 1.0:
            raise ValueError("fraction must be in [0, 1)")
    if kind == "trickle":
        if int(params.get("chunk_size", 4)) < 1 or float(params.get("interval", 0.05)) < 0:
            raise ValueError("trickle needs chunk_size >= 1 and interval >= 0")
    if kind == "redirect":
        if not params.get("location"):
            raise ValueError("redirect needs a location")
        if int(params.get("status", 302)) not in (301, 302, 303, 307, 308):
            raise ValueError("redirect status must be 301/302/303/307/308")
    if kind == "drop_mid_request" and int(params.get("after_bytes", 0)) < 0:
        raise ValueError("drop_mid_request needs after_bytes >= 0")
    if kind == "status_code":
        code = int(params.get("code", 0))
        if not 100 <= code <= 599:
            raise ValueError("status_code needs an HTTP status code")


@dataclass
class RateLimit:
    method: str
    path: str
    limit: int
    window: float
    hits: Deque[float] = field(default_factory=collections.deque)


class RateLimits:
    """Sliding-window rate limits per route (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: List[RateLimit] = []

    def set(self, method: str, path: str, limit: int, window: float) -> RateLimit:
        """Allow ``limit`` requests per ``window`` seconds; replaces a rule on the same route."""
        if limit < 0 or window <= 0:
            raise ValueError("limit must be >= 0 and window > 0")
        rule = RateLimit(method=_norm_method(method), path=path, limit=int(limit), window=float(window))
        with self._lock:
            self._rules = [r for r in self._rules if (r.method, r.path) != (rule.method, path)]
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> List[RateLimit]:
        with self._lock:
            return list(self._rules)

    def check(self, method: str, path: str) -> Optional[int]:
        """None when allowed (and counted), else the seconds to wait (>= 1)."""
        clock = time.monotonic()
        with self._lock:
            matching = [r for r in self._rules if _matches(r.method, r.path, method, path)]
            for rule in matching:
                while rule.hits and rule.hits[0] <= clock - rule.window:
                    rule.hits.popleft()
                if len(rule.hits) >= rule.limit:
                    oldest = rule.hits[0] if rule.hits else clock
                    return max(1, int(math.ceil(oldest + rule.window - clock)))
            for rule in matching:
                rule.hits.append(clock)
        return None
