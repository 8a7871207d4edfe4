"""Typed objects for what the API sends and receives (plain dataclasses).

Response models are loaded from JSON by the schemas in ``schemas.py``; request
models are built by callers and check their values when constructed, raising
:class:`~avatars.errors.RequestValidationError` (naming the field) before
anything is sent.  ``to_json()`` gives a request's exact wire body.

``repr()`` of a model never shows a secret (tokens, passwords, plaintext API
keys, storage credentials, signed URL query values).

Conventions
-----------

* Ids are :class:`uuid.UUID`; timestamps are timezone-aware
  :class:`datetime.datetime`.  A timestamp the server sends without an offset
  is read as UTC.
* Enums are ``str`` enums: ``job.status == "finished"`` and
  ``str(job.status) == "finished"`` hold, on every Python version.
* A value a newer server sends that this client does not know (say a job
  status ``"paused"``) does not fail loading: it becomes a *pseudo-member* of
  the enum, an instance of the enum class that compares and prints as its raw
  string and has ``is_known == False``.  It is not listed by ``list(JobStatus)``.
  Request objects, on the other hand, only accept known members (a typo such
  as ``kind="standart"`` is caught before sending).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union
from uuid import UUID

from ._validate import require_email, require_text, require_text_list, require_uuid
from .errors import RequestValidationError, redact_url

__all__ = [
    # enums
    "JobKind",
    "JobStatus",
    "UserRole",
    "CompatibilityStatus",
    # responses
    "LoginResponse",
    "User",
    "Environment",
    "MeUser",
    "CreditsInfo",
    "FeaturesInfo",
    "ApiKey",
    "ApiKeyWithPlaintext",
    "CreateApiKeyResponse",
    "ResourceSetResponse",
    "JobResponse",
    "JobResponseList",
    "JobCreateResponse",
    "JobFlowCreateRequest",
    "JobFlowCreateResponse",
    "EventLogResponse",
    "CapabilitiesResponse",
    "ConnectionSummary",
    "ConnectionProbe",
    "ConnectionSample",
    "ConnectionField",
    "EngineDescriptor",
    "ConnectionPresetSummary",
    "BulkDeleteResponse",
    "FileCredentials",
    "FileAccess",
    "CompatibilityResponse",
    "HealthMessage",
    "Results",
    # requests
    "CreateUser",
    "CreateApiKeyRequest",
    "JobCreateRequest",
    "BulkDeleteRequest",
    "ResetPasswordRequest",
    "ForgottenPasswordRequest",
    "API_KEY_EXPIRATION_DAYS",
    "MAX_BULK_DELETE",
]

E = TypeVar("E", bound="_TolerantStrEnum")

_PSEUDO_LOCK = threading.Lock()


# --------------------------------------------------------------------------- enums


class _TolerantStrEnum(str, enum.Enum):
    """A ``str`` enum that accepts values it does not know (see the module docstring).

    ``str()`` and ``format()`` give the value on every Python version (a plain
    ``(str, Enum)`` gives ``"JobStatus.finished"`` from ``str()``).
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        with _PSEUDO_LOCK:
            member = cls._value2member_map_.get(value)
            if member is None:
                member = str.__new__(cls, value)
                member._name_ = value
                member._value_ = value
                # Cached so that the same unknown value always gives the same object.
                cls._value2member_map_[value] = member
        return member

    @property
    def is_known(self) -> bool:
        """False for a value this client does not know (sent by a newer server)."""
        return type(self)._member_map_.get(self._name_) is self

    @classmethod
    def parse(cls: Type[E], value: Any, *, field_name: str) -> E:
        """A known member from a member or its value; :class:`RequestValidationError` otherwise."""
        if isinstance(value, cls) and value.is_known:
            return value
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            member = cls._value2member_map_.get(value)
            if isinstance(member, cls) and member.is_known:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise RequestValidationError(f"{field_name} must be one of {allowed}, got {value!r}", field=field_name)

    def __str__(self) -> str:
        return str(self._value_)

    def __format__(self, format_spec: str) -> str:
        return format(str(self._value_), format_spec)

    def __repr__(self) -> str:
        if self.is_known:
            return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"
        return f"<{type(self).__name__} (unknown): {self._value_!r}>"


class JobKind(_TolerantStrEnum):
    """What a job computes."""

    standard = "standard"  #: an avatarization
    privacy_metrics = "privacy_metrics"
    signal_metrics = "signal_metrics"
    report = "report"
    advice = "advice"
    # platform API 3.x
    extract = "extract"
    schema_discovery = "schema_discovery"
    reference = "reference"
    regenerate = "regenerate"


class JobStatus(_TolerantStrEnum):
    """Where a job is.  ``finished`` is the success end; ``error``,
    ``parent_error``, ``lost`` and ``orphaned`` are failure ends."""

    queued = "queued"
    created = "created"
    pending = "pending"
    finished = "finished"
    error = "error"
    parent_error = "parent_error"
    lost = "lost"
    orphaned = "orphaned"
    cancelled = "cancelled"  #: platform API 3.x: stopped on request
    empty = ""  #: the server has no status for the job yet

    @property
    def is_failure(self) -> bool:
        return self in _FAILURE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self is JobStatus.finished or self in _FAILURE_STATUSES


_FAILURE_STATUSES = frozenset(
    {JobStatus.error, JobStatus.parent_error, JobStatus.lost, JobStatus.orphaned, JobStatus.cancelled}
)


class UserRole(_TolerantStrEnum):
    admin = "admin"
    user = "user"


class CompatibilityStatus(_TolerantStrEnum):
    compatible = "compatible"
    incompatible = "incompatible"
    unknown = "unknown"


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class LoginResponse:
    """Answer of ``POST /login`` and ``POST /refresh``."""

    access_token: str = field(repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    token_type: str = "bearer"


@dataclass(frozen=True)
class User:
    """A user (``GET /users/{id}``, ``GET /users``, ``POST /users``)."""

    id: UUID
    organization_id: UUID
    email: str
    role: Optional[UserRole]  #: ``None`` when the platform sends ``null``; ``user`` when it sends nothing


@dataclass(frozen=True)
class Environment:
    """Limits of the caller's environment (part of :class:`MeUser`)."""

    dataset_expiration_days: int
    max_allowed_dimensions_per_dataset: int
    max_allowed_lines_per_dataset: int


@dataclass(frozen=True)
class MeUser(User):
    """The caller (``GET /users/me``)."""

    environment: Environment


@dataclass(frozen=True)
class CreditsInfo:
    """``GET /users/credits_info``.  ``credits`` is ``None`` when unlimited/unknown."""

    credits: Optional[int]
    is_credit_enabled: bool


@dataclass(frozen=True)
class FeaturesInfo:
    """``GET /users/features_info``: e.g. ``["single_table", "report"]``."""

    feature_scopes: List[str]

    def __contains__(self, scope: object) -> bool:
        return scope in self.feature_scopes


@dataclass(frozen=True)
class ApiKey:
    """An API key's metadata (never its secret)."""

    id: UUID
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: Optional[datetime]
    last_used_at: Optional[datetime]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class ApiKeyWithPlaintext(ApiKey):
    """A new API key with its secret, shown once (``plaintext``, hidden from ``repr``)."""

    plaintext: str = field(repr=False)


@dataclass(frozen=True)
class CreateApiKeyResponse:
    """``POST /api-keys``."""

    api_key: ApiKeyWithPlaintext
    message: str


@dataclass(frozen=True)
class ResourceSetResponse:
    """``POST``/``PUT /resources/...``."""

    set_name: UUID
    display_name: str


@dataclass(frozen=True)
class JobResponse:
    """A job, as ``GET /jobs/{name}`` describes it.

    One set of names (the platform's where it has one):

    * :attr:`done`: the server's own flag (the platform's field);
    * :attr:`succeeded`: the status is ``finished``;
    * :attr:`failed`: the status is ``error``, ``parent_error``, ``lost`` or
      ``orphaned``;
    * :attr:`is_terminal`: the job will not change again (``done``,
      succeeded or failed): what a polling loop waits for, so a server
      that ends a job without setting ``done``, or the other way round,
      cannot make the loop spin forever.
    """

    name: str
    set_name: UUID
    parameters_name: str
    display_name: str
    created_at: datetime
    kind: JobKind
    status: JobStatus
    exception: str
    done: bool
    progress: Optional[float]
    deleted_at: Optional[datetime]

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.finished

    @property
    def failed(self) -> bool:
        return self.status in _FAILURE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.done or self.succeeded or self.failed


@dataclass(frozen=True)
class JobResponseList:
    """``{"jobs": [...]}``.  Iterating it iterates the jobs; ``len()`` counts them."""

    jobs: List[JobResponse]

    def __iter__(self) -> Iterator[JobResponse]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)


@dataclass(frozen=True)
class JobCreateResponse:
    """``POST /jobs``: the new job's name and its URL (wire key ``Location``)."""

    name: str
    location: str


@dataclass(frozen=True)
class JobFlowCreateResponse:
    """``POST /jobs/flow`` (platform API 3.x): one :class:`JobCreateResponse` per job created."""

    jobs: List[JobCreateResponse]

    def __iter__(self) -> Iterator[JobCreateResponse]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)


@dataclass(frozen=True)
class EventLogResponse:
    """One entry of the caller's audit trail (``GET /event-logs``)."""

    id: UUID
    verb: str
    object_type: str
    created_at: datetime
    object_id: Optional[UUID] = None


@dataclass(frozen=True)
class CapabilitiesResponse:
    """``GET /capabilities`` (platform API 3.x).  ``connections`` are kept as the platform sends them."""

    input_protocols: List[str]
    database_engines: List[str]
    connections: List[Dict[str, Any]]


@dataclass(frozen=True)
class BulkDeleteResponse:
    """``POST /jobs/bulk-delete``: the deleted jobs and the names that could not be deleted."""

    deleted_jobs: List[JobResponse]
    failed_jobs: List[str]


@dataclass(frozen=True)
class FileCredentials:
    """Storage credentials for one file.  Secrets: ``repr`` masks both values."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return "FileCredentials(access_key_id='***', secret_access_key='***')"


@dataclass(frozen=True)
class FileAccess:
    """Short-lived storage credentials for one location (``GET /access``).

    ``url`` is the location (``s3://bucket/key``, or an API URL whose ``url``
    query parameter holds it); see :mod:`avatars.storage`.
    """

    url: str
    credentials: FileCredentials

    def __repr__(self) -> str:
        return f"FileAccess(url={redact_url(self.url)!r}, credentials={self.credentials!r})"


@dataclass(frozen=True)
class CompatibilityResponse:
    """``GET /check_client``."""

    message: str
    most_recent_compatible_client: Optional[str]
    status: CompatibilityStatus

    @property
    def is_compatible(self) -> bool:
        return self.status is CompatibilityStatus.compatible


@dataclass(frozen=True)
class HealthMessage:
    """``GET /``, ``GET /health``, ``GET /health/db``."""

    message: str


class Results(Mapping[str, List[str]]):
    """The result files of a job: ``{result kind: [url, ...]}`` (``GET /results/{job_name}``).

    A read-only mapping: ``results["shuffled"]`` is a list of URLs,
    ``results.get("report", [])``, ``dict(results)`` and ``results == {...}``
    work as for a dict.  ``print(results)`` lists the files by kind (query
    values that look like secrets, e.g. URL signatures, are masked in the
    printed text, not in the data).  An empty ``Results`` (falsy) means the
    server listed no files.
    """

    __slots__ = ("_data", "job_name")

    def __init__(self, data: Optional[Mapping[str, Iterable[str]]] = None, *, job_name: Optional[str] = None) -> None:
        self._data: Dict[str, Tuple[str, ...]] = {
            kind: (urls,) if isinstance(urls, str) else tuple(urls) for kind, urls in (data or {}).items()
        }
        self.job_name = job_name

    def __getitem__(self, kind: str) -> List[str]:
        return list(self._data[kind])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def kinds(self) -> List[str]:
        """The result kinds, in the server's order."""
        return list(self._data)

    @property
    def urls(self) -> List[str]:
        """Every URL, kind after kind."""
        return [url for urls in self._data.values() for url in urls]

    def files(self) -> List[Tuple[str, str, str]]:
        """``(kind, url, file name)`` for every URL.

        The file name is the end of the URL's path (percent-decoded, after
        its last ``/``; the query, which may hold a signature, is never part
        of it; see :func:`avatars._filenames.url_file_name`), or
        ``"<kind>-<n>"`` when the path has none.  Both come
        from the server, so every name is made a safe, plain file name and
        the names of one job are distinct (see :mod:`avatars._filenames`):
        ``../../x`` or ``/etc/passwd`` cannot become a path.
        """
        from ._filenames import safe_filename, unique_names, url_file_name

        entries = [(kind, url, index) for kind, urls in self._data.items() for index, url in enumerate(urls)]
        names = unique_names(
            [safe_filename(url_file_name(url), fallback=f"{kind}-{index}") for kind, url, index in entries]
        )
        return [(kind, url, name) for (kind, url, _), name in zip(entries, names)]

    def to_dict(self) -> Dict[str, List[str]]:
        return {k: list(v) for k, v in self._data.items()}

    def __str__(self) -> str:
        title = f"Results of job {self.job_name!r}" if self.job_name else "Results"
        if not self._data:
            return f"{title}: no files"
        count = sum(len(v) for v in self._data.values())
        lines = [f"{title}: {count} file{'s' if count != 1 else ''}"]
        for kind, urls in self._data.items():
            lines.append(f"  {kind}:")
            if not urls:
                lines.append("    (none)")
            lines.extend(f"    {redact_url(url)}" for url in urls)
        return "\n".join(lines)

    def __repr__(self) -> str:
        body = ", ".join(
            f"{kind!r}: [{', '.join(repr(redact_url(u)) for u in urls)}]" for kind, urls in self._data.items()
        )
        job = f", job_name={self.job_name!r}" if self.job_name else ""
        return f"Results({{{body}}}{job})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Results):
            return self._data == other._data
        if isinstance(other, _MappingABC):
            try:
                return self.to_dict() == {k: list(v) for k, v in other.items()}
            except TypeError:
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- requests

#: The lifetimes the server accepts for a new API key, in days.
API_KEY_EXPIRATION_DAYS: Tuple[int, ...] = (30, 60, 120, 365, 3650)
#: At most this many jobs in one ``POST /jobs/bulk-delete``.
MAX_BULK_DELETE = 100


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class CreateUser:
    """Body of ``POST /users`` (admin only)."""

    email: str
    role: Union[UserRole, str] = UserRole.user
    password: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        require_email(self.email)
        _set(self, "role", UserRole.parse(self.role, field_name="role"))
        if self.password is not None:
            require_text(self.password, "password")

    def to_json(self) -> Dict[str, Any]:
        return {"email": self.email, "role": str(self.role), "password": self.password}


@dataclass(frozen=True)
class CreateApiKeyRequest:
    """Body of ``POST /api-keys``: a name (1 to 255 characters) and a lifetime
    in days, one of :data:`API_KEY_EXPIRATION_DAYS`."""

    name: str
    expiration_days: int

    def __post_init__(self) -> None:
        require_text(self.name, "name", max_length=255)
        days = self.expiration_days
        if isinstance(days, bool) or not isinstance(days, int) or days not in API_KEY_EXPIRATION_DAYS:
            allowed = ", ".join(map(str, API_KEY_EXPIRATION_DAYS))
            raise RequestValidationError(
                f"expiration_days must be one of {allowed}, got {days!r}", field="expiration_days"
            )

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "expiration_days": int(self.expiration_days)}


@dataclass(frozen=True)
class JobCreateRequest:
    """Body of ``POST /jobs``: run the parameters document ``parameters_name``
    of the resource set ``set_name``.

    The job's kind is the kind of that document (``AvatarParameters`` ->
    ``standard``, ...): the platform has no ``kind`` field here.
    ``depends_on`` holds jobs that must end first, each a job name or the
    ``location`` of an earlier :class:`JobCreateResponse` (stored as a tuple).
    """

    set_name: Union[UUID, str]
    parameters_name: str
    depends_on: Sequence[str] = ()

    def __post_init__(self) -> None:
        _set(self, "set_name", require_uuid(self.set_name, "set_name"))
        require_text(self.parameters_name, "parameters_name")
        _set(self, "depends_on", require_text_list(self.depends_on, "depends_on"))

    def to_json(self) -> Dict[str, Any]:
        return {
            "set_name": str(self.set_name),
            "parameters_name": self.parameters_name,
            "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True)
class JobFlowCreateRequest:
    """Body of ``POST /jobs/flow`` (platform API 3.x): launch every parameters document of a set."""

    set_name: Union[UUID, str]

    def __post_init__(self) -> None:
        _set(self, "set_name", require_uuid(self.set_name, "set_name"))

    def to_json(self) -> Dict[str, Any]:
        return {"set_name": str(self.set_name)}


@dataclass(frozen=True)
class BulkDeleteRequest:
    """Body of ``POST /jobs/bulk-delete``: 1 to :data:`MAX_BULK_DELETE` job names."""

    job_names: Sequence[str]

    def __post_init__(self) -> None:
        names = require_text_list(self.job_names, "job_names")
        if not names:
            raise RequestValidationError("job_names must name at least one job", field="job_names")
        if len(names) > MAX_BULK_DELETE:
            raise RequestValidationError(
                f"job_names holds {len(names)} names; at most {MAX_BULK_DELETE} per call",
                field="job_names",
            )
        _set(self, "job_names", names)

    def to_json(self) -> Dict[str, Any]:
        return {"job_names": list(self.job_names)}


@dataclass(frozen=True)
class ResetPasswordRequest:
    """Body of ``POST /login/reset_password`` (``token`` is the UUID from the e-mail)."""

    email: str
    new_password: str = field(repr=False)
    new_password_repeated: str = field(repr=False)
    token: Union[UUID, str] = field(repr=False)

    def __post_init__(self) -> None:
        require_email(self.email)
        require_text(self.new_password, "new_password")
        if self.new_password != self.new_password_repeated:
            raise RequestValidationError("new_password and new_password_repeated differ", field="new_password_repeated")
        try:
            _set(self, "token", require_uuid(self.token, "token"))
        except RequestValidationError:
            # The token is a secret: do not echo it.
            raise RequestValidationError("token must be the UUID from the reset e-mail", field="token") from None

    def to_json(self) -> Dict[str, Any]:
        return {
            "email": self.email,
            "new_password": self.new_password,
            "new_password_repeated": self.new_password_repeated,
            "token": str(self.token),
        }


@dataclass(frozen=True)
class ForgottenPasswordRequest:
    """Body of ``POST /login/forgotten_password``."""

    email: str

    def __post_init__(self) -> None:
        require_email(self.email)

    def to_json(self) -> Dict[str, Any]:
        return {"email": self.email}


# -- platform API 3.x: named database connections (``client.connections``) ---------------
# No model here has a connection string: the platform never returns one.


@dataclass(frozen=True)
class ConnectionSummary:
    """A named connection.  ``redacted`` is its connection string's display form (no password)."""

    name: str
    engine: str
    label: Optional[str] = None
    scope: Optional[str] = None
    redacted: Optional[str] = None


@dataclass(frozen=True)
class ConnectionProbe:
    """What opening a connection found; ``error`` says why it did not open."""

    reachable: bool
    engine: Optional[str] = None
    has_schema: Optional[bool] = None
    is_empty: Optional[bool] = None
    table_count: Optional[int] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class ConnectionSample:
    """A few values of the asked columns: ``samples[table][column]``; absent ones in ``missing``."""

    samples: Optional[Dict[str, Dict[str, List[Optional[str]]]]] = None
    missing: Optional[List[str]] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class ConnectionField:
    """One input of an engine's connection form (``secret``: never shown back)."""

    key: str
    label: str
    type: str = "text"
    required: bool = False
    secret: bool = False
    default: Optional[str] = None
    placeholder: Optional[str] = None
    options: Optional[List[Dict[str, str]]] = None
    advanced: bool = False


@dataclass(frozen=True)
class EngineDescriptor:
    """A kind of database (``kind``: ``sql`` or ``documents``) and its form
    (``form_fields``: the wire's ``fields``)."""

    engine: str
    label: str
    kind: str
    available: bool
    form_fields: List[ConnectionField]
    preview: bool = False


@dataclass(frozen=True)
class ConnectionPresetSummary:
    """A connection the deployment offers to add (``kind``: ``demo`` or ``sample``)."""

    name: str
    engine: str
    kind: str
    label: Optional[str] = None
