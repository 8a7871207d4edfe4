"""Shared state of one local server: settings, store, logs, faults, jobs, file grants."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Dict, Optional

from .._version import __version__
from .connections import ConnectionRegistry
from .events import EventLog
from .faults import FaultRegistry, RateLimits
from .jobs import JobRunner
from .operations import OperationRegistry
from .requestlog import RequestLog
from .store import Store


@dataclass
class Settings:
    """Mutable server settings (the admin API changes them at run time)."""

    access_token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 30 * 86400.0
    refresh_rotation: bool = True
    min_client_version: str = "0.1.0"
    latest_client_version: str = __version__
    set_login_cookie: bool = True
    #: seconds a credential from ``GET /access`` stays valid
    storage_credentials_lifetime: float = 3600.0
    #: the smallest part but the last of a multipart upload (S3: 5 MiB)
    storage_min_part_size: int = 5 * 1024 * 1024
    #: The platform's major API version the server acts as: 2 (2.90) or 3 (3.x).
    api_version: int = 2


@dataclass(frozen=True)
class FileGrant:
    """Storage credentials for one location: ``bucket`` and ``key`` (an object or a prefix)."""

    bucket: str
    key: str
    user_id: str
    access_key_id: str
    secret: str
    expires_at: float

    def covers(self, bucket: str, key: str) -> bool:
        """Whether ``bucket/key`` lies in this grant's location (the key itself or below it)."""
        if bucket != self.bucket:
            return False
        scope = self.key.rstrip("/")
        return not scope or key == scope or key.startswith(scope + "/")

    def __repr__(self) -> str:  # never show the secret
        return f"FileGrant(bucket={self.bucket!r}, key={self.key!r}, access_key_id={self.access_key_id!r})"


class FileAccessRegistry:
    """Storage credentials issued by ``/access``: random per call, valid for one location.

    The S3 endpoint needs each secret to check signatures, so secrets are kept
    in memory only (a restarted server does not know the grants of the
    previous one). A grant expires ``lifetime`` seconds after it was issued
    (``Settings.storage_credentials_lifetime``); :meth:`expire_all` ends them
    all at once for tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: Dict[str, FileGrant] = {}

    def issue(self, bucket: str, key: str, user_id: str, lifetime: float) -> FileGrant:
        grant = FileGrant(
            bucket=bucket,
            key=key,
            user_id=user_id,
            access_key_id="AVTR" + secrets.token_hex(8).upper(),
            secret=secrets.token_urlsafe(30),
            expires_at=time.time() + float(lifetime),
        )
        with self._lock:
            self._grants[grant.access_key_id] = grant
        return grant

    def get(self, access_key_id: str) -> Optional[FileGrant]:
        with self._lock:
            return self._grants.get(access_key_id)

    def check(self, bucket: str, key: str, access_key_id: str, secret: str) -> bool:
        """Whether these plain credentials are live and cover ``bucket/key``."""
        grant = self.get(access_key_id)
        if grant is None or grant.expires_at <= time.time() or not grant.covers(bucket, key):
            return False
        return hmac.compare_digest(grant.secret.encode("utf-8"), secret.encode("utf-8"))

    def expire_all(self) -> int:
        """Make every issued credential expired (test helper); returns how many."""
        moment = time.time() - 1.0
        with self._lock:
            for name, grant in list(self._grants.items()):
                self._grants[name] = replace(grant, expires_at=min(grant.expires_at, moment))
            return len(self._grants)

    def count(self) -> int:
        with self._lock:
            return len(self._grants)


@dataclass
class ServerState:
    store: Store
    settings: Settings
    runner: JobRunner
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    api_log: RequestLog = field(default_factory=lambda: RequestLog("api"))
    storage_log: RequestLog = field(default_factory=lambda: RequestLog("storage"))
    file_access: FileAccessRegistry = field(default_factory=FileAccessRegistry)
    events: EventLog = field(default_factory=EventLog)
    operations: OperationRegistry = field(default_factory=OperationRegistry)
    connections: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    stop_event: threading.Event = field(default_factory=threading.Event)
    reset_tokens: Dict[str, str] = field(default_factory=dict)
    admin_secret: Optional[str] = None
    base_url: str = ""
    storage_base_url: str = ""
