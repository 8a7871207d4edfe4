"""The request log tests read, with secrets redacted.

Each origin (the API and the object storage) has its own :class:`RequestLog`.
A :class:`RequestRecord` keeps the method, the path (no query string), the
query as ``(key, value)`` pairs with secret values replaced by
``"[REDACTED]"``, a :func:`time.monotonic` timestamp, the status (``None`` when
the connection was dropped before a status line), the request headers with
``Authorization`` reduced to its scheme and ``Cookie`` redacted, and the
booleans ``had_authorization`` / ``had_cookie``.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

REDACTED = "[REDACTED]"

#: Query keys whose values never reach the log.
SECRET_QUERY_KEYS = frozenset(
    {
        "token",
        "refresh_token",
        "access_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "client_secret",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
#: Headers whose values never reach the log (Authorization keeps its scheme).
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-avatar-admin-secret", "x-api-key"})


def auth_scheme(value: Optional[str]) -> Optional[str]:
    """The scheme word of an ``Authorization`` value (``api-key-v1``, ``Bearer``...)."""
    if not value:
        return None
    word = value.strip().split(" ", 1)[0]
    lowered = word.lower()
    if lowered == "bearer":
        return "Bearer"
    if lowered == "api-key-v1":
        return "api-key-v1"
    if lowered == "basic":
        return "Basic"
    if lowered == "aws4-hmac-sha256":
        return "AWS4-HMAC-SHA256"  # the object store's SigV4 signatures
    return "other"


def redact_headers(headers: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered == "authorization":
            out[name] = f"{auth_scheme(value)} {REDACTED}"
        elif lowered in SECRET_HEADERS:
            out[name] = REDACTED
        else:
            out[name] = value
    return out


def redact_query(pairs: Iterable[Tuple[str, str]]) -> Tuple[Tuple[str, str], ...]:
    return tuple((key, REDACTED if key.lower() in SECRET_QUERY_KEYS else value) for key, value in pairs)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (secrets redacted)."""

    origin: str
    method: str
    path: str
    query: Tuple[Tuple[str, str], ...]
    timestamp: float
    status: Optional[int]
    headers: Dict[str, str] = field(default_factory=dict)
    auth_scheme: Optional[str] = None
    had_authorization: bool = False
    had_cookie: bool = False
    request_id: str = ""
    connection_id: Optional[int] = None
    fault: Optional[str] = None

    @property
    def query_keys(self) -> Tuple[str, ...]:
        return tuple(key for key, _ in self.query)

    def header(self, name: str) -> Optional[str]:
        """A request header value (case-insensitive name), redacted if secret."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


def _path_matches(pattern: str, path: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return pattern == path


class RequestLog:
    """Thread-safe, append-only list of :class:`RequestRecord`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._lock = threading.Lock()
        self._records: List[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def entries(self, method: Optional[str] = None, path: Optional[str] = None) -> List[RequestRecord]:
        """Records in arrival order, optionally filtered (``path`` may be a glob)."""
        with self._lock:
            records = list(self._records)
        if method is not None:
            records = [r for r in records if r.method == method.upper()]
        if path is not None:
            records = [r for r in records if _path_matches(path, r.path)]
        return records

    def count(self, method: Optional[str] = None, path: Optional[str] = None) -> int:
        return len(self.entries(method, path))

    def last(self, method: Optional[str] = None, path: Optional[str] = None) -> RequestRecord:
        records = self.entries(method, path)
        if not records:
            raise LookupError(f"no request matching {method} {path} in the {self.origin} log")
        return records[-1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.entries())


def monotonic() -> float:
    return time.monotonic()
