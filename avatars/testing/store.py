"""The server's data: users, credentials, resource sets, jobs, results, the object store.

Everything lives in memory behind one re-entrant lock. File contents (S3 objects,
job results) always live on disk under ``Store.root`` (the objects under
``root/objects``, see :mod:`avatars.testing.objects`):

* ``data_dir=None`` (default): ``root`` is a fresh temporary directory, deleted
  by :meth:`Store.close`; metadata is not written anywhere.
* ``data_dir=Path``: ``root`` is that directory; metadata is written to
  ``root/state.json`` (atomically, after every change) and read back by the
  next server started on the same directory. Jobs that were ``queued`` or
  ``pending`` when the previous server stopped come back as ``lost``.

Timestamps are stored as epoch seconds (floats) and rendered as ISO 8601 by
the endpoints.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Type, TypeVar

from ._util import new_id, now
from .objects import ObjectStore
from .tokens import new_secret

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_VERSION = 1

ROLE_ADMIN = "admin"
ROLE_USER = "user"

DEFAULT_FEATURE_SCOPES = [
    "single_table",
    "multi_table",
    "time_series",
    "report",
    "privacy_assessment",
]
DEFAULT_ENVIRONMENT = {
    "dataset_expiration_days": 365,
    "max_allowed_dimensions_per_dataset": 1000,
    "max_allowed_lines_per_dataset": 20_000_000,
}

#: ``cancelled``: platform API 3.x (a 2.90 server ends a cancelled job in ``error``).
FAILURE_STATUSES = frozenset({"error", "parent_error", "lost", "orphaned", "cancelled"})
END_STATUSES = FAILURE_STATUSES | {"finished"}


@dataclass
class User:
    id: str
    organization_id: str
    email: str
    username: str
    role: str
    password_hash: Optional[str]
    created_at: float
    credits: Optional[int] = None
    is_credit_enabled: bool = False
    feature_scopes: List[str] = field(default_factory=lambda: list(DEFAULT_FEATURE_SCOPES))
    environment: Dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ENVIRONMENT))


@dataclass
class ApiKey:
    id: str
    user_id: str
    name: str
    key_hash: str
    created_at: float
    expires_at: float
    revoked_at: Optional[float] = None
    last_used_at: Optional[float] = None


@dataclass
class RefreshToken:
    token_hash: str
    user_id: str
    session_id: str
    created_at: float
    expires_at: float
    used_at: Optional[float] = None
    revoked_at: Optional[float] = None


@dataclass
class ResourceSet:
    set_name: str
    display_name: str
    user_id: str
    text: str
    created_at: float
    updated_at: float


@dataclass
class Job:
    name: str
    user_id: str
    set_name: str
    parameters_name: Optional[str]
    display_name: str
    kind: str
    depends_on: List[str]
    status: str
    created_at: float
    seq: int
    exception: str = ""
    progress: Optional[float] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    deleted_at: Optional[float] = None

    @property
    def done(self) -> bool:
        return self.status in END_STATUSES


@dataclass
class ResultFile:
    id: str
    job_name: str
    user_id: str
    kind: str
    parameters_name: Optional[str]
    filename: str
    relpath: str
    size: int
    content_type: str
    created_at: float

    @property
    def key(self) -> str:
        """The object key on the storage origin (``/<key>`` is the URL path)."""
        return f"avatar-results/{self.id}/{self.filename}"


_T = TypeVar("_T")


def _load_records(cls: Type[_T], raw: Any) -> Dict[str, _T]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    out: Dict[str, _T] = {}
    if not isinstance(raw, dict):
        return out
    for key, value in raw.items():
        if isinstance(value, dict):
            out[key] = cls(**{k: v for k, v in value.items() if k in names})
    return out


class Store:
    """All server data behind ``self.lock`` (an RLock shared with the job runner)."""

    def __init__(self, data_dir: Optional[Path] = None) -> None:
        self.lock = threading.RLock()
        self.persistent = data_dir is not None
        if data_dir is None:
            self.root = Path(tempfile.mkdtemp(prefix="avatars-testing-"))
        else:
            self.root = Path(data_dir)
            self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("results", "jobs"):
            (self.root / sub).mkdir(exist_ok=True)
        #: the S3 objects (:mod:`avatars.testing.objects`), under ``root/objects``
        self.objects = ObjectStore(self.root / "objects")
        self.users: Dict[str, User] = {}
        self.api_keys: Dict[str, ApiKey] = {}
        self.refresh_tokens: Dict[str, RefreshToken] = {}
        self.resource_sets: Dict[str, ResourceSet] = {}
        self.jobs: Dict[str, Job] = {}
        self.results: Dict[str, ResultFile] = {}
        self.revoked_jtis: Dict[str, float] = {}
        self.jwt_secret = new_secret()
        self.default_organization_id = new_id()
        self.job_seq = 0
        self._closed = False
        if self.persistent:
            self._load()

    # -- persistence -------------------------------------------------------

    def _load(self) -> None:
        path = self.root / STATE_FILE
        if not path.exists():
            self.save()
            return
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.jwt_secret = str(raw.get("jwt_secret") or self.jwt_secret)
        self.default_organization_id = str(raw.get("default_organization_id") or self.default_organization_id)
        self.job_seq = int(raw.get("job_seq", 0))
        self.users = _load_records(User, raw.get("users"))
        self.api_keys = _load_records(ApiKey, raw.get("api_keys"))
        self.refresh_tokens = _load_records(RefreshToken, raw.get("refresh_tokens"))
        self.resource_sets = _load_records(ResourceSet, raw.get("resource_sets"))
        self.jobs = _load_records(Job, raw.get("jobs"))
        self.results = _load_records(ResultFile, raw.get("results"))
        revoked = raw.get("revoked_jtis")
        if isinstance(revoked, dict):
            self.revoked_jtis = {str(k): float(v) for k, v in revoked.items()}
        lost = 0
        for job in self.jobs.values():
            if job.status not in END_STATUSES:
                job.status = "lost"
                job.exception = "the local server stopped while this job was not finished"
                job.finished_at = now()
                lost += 1
        if lost:
            logger.info("marked %d unfinished job(s) from a previous run as lost", lost)
            self.save()

    def save(self) -> None:
        """Write metadata to ``state.json`` (no-op in memory mode)."""
        if not self.persistent or self._closed:
            return
        with self.lock:
            state = {
                "version": STATE_VERSION,
                "jwt_secret": self.jwt_secret,
                "default_organization_id": self.default_organization_id,
                "job_seq": self.job_seq,
                "users": {k: asdict(v) for k, v in self.users.items()},
                "api_keys": {k: asdict(v) for k, v in self.api_keys.items()},
                "refresh_tokens": {k: asdict(v) for k, v in self.refresh_tokens.items()},
                "resource_sets": {k: asdict(v) for k, v in self.resource_sets.items()},
                "jobs": {k: asdict(v) for k, v in self.jobs.items()},
                "results": {k: asdict(v) for k, v in self.results.items()},
                "revoked_jtis": dict(self.revoked_jtis),
            }
            tmp = self.root / (STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.root / STATE_FILE)

    def close(self) -> None:
        """Flush metadata (persistent mode) or delete the temporary root."""
        with self.lock:
            if self._closed:
                return
            if self.persistent:
                self.save()
            self._closed = True
        if not self.persistent:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- paths -------------------------------------------------------------

    def path(self, relpath: str) -> Path:
        return self.root / relpath

    # -- lookups -----------------------------------------------------------

    def user_by_login(self, login: str) -> Optional[User]:
        wanted = login.strip().lower()
        with self.lock:
            for user in self.users.values():
                if user.email.lower() == wanted or user.username.lower() == wanted:
                    return user
        return None

    def api_key_by_hash(self, key_hash: str) -> Optional[ApiKey]:
        with self.lock:
            for key in self.api_keys.values():
                if key.key_hash == key_hash:
                    return key
        return None

    def next_job_seq(self) -> int:
        with self.lock:
            self.job_seq += 1
            return self.job_seq
