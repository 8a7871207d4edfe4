"""Shared state of one local server: settings, store, logs, faults, jobs, file grants."""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from .._version import __version__
from .events import EventLog
from .faults import FaultRegistry, RateLimits
from .jobs import JobRunner
from .operations import OperationRegistry
from .requestlog import RequestLog
from .store import Store
from .tokens import sha256_hex


@dataclass
class Settings:
    """Mutable server settings (the admin API changes them at run time)."""

    access_token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 30 * 86400.0
    refresh_rotation: bool = True
    min_client_version: str = "0.1.0"
    latest_client_version: str = __version__
    set_login_cookie: bool = True
    #: The platform's major API version the server acts as: 2 (2.90) or 3 (3.x).
    api_version: int = 2


@dataclass(frozen=True)
class FileGrant:
    key: str
    user_id: str
    access_key_id: str
    secret_hash: str


class FileAccessRegistry:
    """Storage credentials issued by ``/access``: random per call, checked by ``/download``.

    Only a hash of each secret is kept; grants live in memory (a restarted
    server does not know the grants of the previous one).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: Dict[str, FileGrant] = {}

    def issue(self, key: str, user_id: str) -> Tuple[str, str]:
        access_key_id = "AVTR" + secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(30)
        grant = FileGrant(key=key, user_id=user_id, access_key_id=access_key_id, secret_hash=sha256_hex(secret))
        with self._lock:
            self._grants[access_key_id] = grant
        return access_key_id, secret

    def check(self, key: str, access_key_id: str, secret: str) -> bool:
        with self._lock:
            grant = self._grants.get(access_key_id)
        if grant is None or grant.key != key:
            return False
        return hmac.compare_digest(grant.secret_hash, sha256_hex(secret))

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
    stop_event: threading.Event = field(default_factory=threading.Event)
    reset_tokens: Dict[str, str] = field(default_factory=dict)
    admin_secret: Optional[str] = None
    base_url: str = ""
    storage_base_url: str = ""
