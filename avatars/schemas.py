"""Marshmallow schemas that load API responses into the models of ``models.py``.

Rules every schema follows:

* unknown fields are ignored (``unknown = EXCLUDE``): newer servers add fields;
* a field the contract marks nullable may also be absent (it loads as
  ``None``); every other field is required;
* a missing or malformed required field raises :class:`avatars.errors.SchemaError`
  naming the field and the endpoint;
* schema objects are built once and reused (building one is costly).

Works with marshmallow 3.13+ and 4.x: only ``load_default``, no ``context``,
no ``ordered``, no ``pass_many``, and this module's own :class:`TolerantEnum`
(``fields.Enum`` appeared in 3.18 and rejects unknown values).

Loading cost is dominated by marshmallow's per-field machinery; the custom
fields below are deliberately small (one ``isinstance`` and one conversion).
To profile: ``python -m cProfile -s cumtime -c "..."`` around
``load(JobResponseList, body)``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Type, TypeVar, overload

import marshmallow
from marshmallow import EXCLUDE, fields, post_load

from . import models
from .errors import ConfigurationError, schema_error, wrong_shape_error

__all__ = [
    "BaseSchema",
    "TolerantEnum",
    "UtcDateTime",
    "LoginResponseSchema",
    "UserSchema",
    "EnvironmentSchema",
    "MeUserSchema",
    "CreditsInfoSchema",
    "FeaturesInfoSchema",
    "ApiKeySchema",
    "ApiKeyWithPlaintextSchema",
    "CreateApiKeyResponseSchema",
    "ResourceSetResponseSchema",
    "JobResponseSchema",
    "JobResponseListSchema",
    "JobCreateResponseSchema",
    "BulkDeleteResponseSchema",
    "FileCredentialsSchema",
    "FileAccessSchema",
    "CompatibilityResponseSchema",
    "HealthMessageSchema",
    "JobFlowCreateResponseSchema",
    "EventLogResponseSchema",
    "CapabilitiesResponseSchema",
    "ConnectionSummarySchema",
    "ConnectionProbeSchema",
    "ConnectionSampleSchema",
    "ConnectionFieldSchema",
    "EngineDescriptorSchema",
    "ConnectionPresetSummarySchema",
    "load",
    "load_many",
    "load_results",
    "schema_for",
    "parse_datetime",
]

T = TypeVar("T")

if TYPE_CHECKING:  # marshmallow 4's Field is generic, 3's is not
    _Field = fields.Field[Any]
else:
    _Field = fields.Field


# --------------------------------------------------------------------------- fields


class TolerantEnum(_Field):
    """A string loaded into a :mod:`models` str enum.

    A value the enum does not know loads as a pseudo-member (see
    :mod:`avatars.models`) instead of failing: a newer server may add
    statuses or kinds.  A non-string is an error.
    """

    default_error_messages = {"invalid": "Not a valid string."}

    def __init__(self, enum: Type[models._TolerantStrEnum], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enum = enum

    def _deserialize(self, value: Any, attr: Optional[str], data: Optional[Mapping[str, Any]], **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return self.enum(value)

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware datetime; no offset means UTC.

    Accepts what the servers send and what ``datetime.fromisoformat`` rejects
    before Python 3.11 (``Z``, 1 to 9 fraction digits, ``+0000``).
    ``ValueError`` when it is not a timestamp.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _parse_iso_slow(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


def _parse_iso_slow(value: str) -> datetime:
    match = _ISO_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: Optional[timezone] = None
    if offset:
        if offset in ("Z", "z"):
            tz = timezone.utc
        else:
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            tz = timezone(-delta if offset[0] == "-" else delta)
    return datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=tz
    )


class UtcDateTime(_Field):
    """An ISO 8601 timestamp loaded as an aware :class:`datetime`.

    A timestamp without an offset is taken as UTC (the contract says every
    timestamp carries one; older servers sent naive UTC times).
    """

    default_error_messages = {"invalid": "Not a valid datetime."}

    def _deserialize(self, value: Any, attr: Optional[str], data: Optional[Mapping[str, Any]], **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_datetime(value)
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.isoformat()


#: Keyword arguments of a field the contract marks nullable: it may be null or
#: absent, and loads as ``None`` then.
_NULLABLE: Dict[str, Any] = {"load_default": None, "allow_none": True}


# --------------------------------------------------------------------------- base


class BaseSchema(marshmallow.Schema):
    """Loads into ``__model__`` (a dataclass) and ignores unknown fields."""

    __model__: Any = None

    class Meta:
        unknown = EXCLUDE

    @post_load
    def _make_object(self, data: Dict[str, Any], **kwargs: Any) -> Any:
        if self.__model__ is None:
            return data
        return self.__model__(**data)


# --------------------------------------------------------------------------- schemas


class LoginResponseSchema(BaseSchema):
    __model__ = models.LoginResponse

    access_token = fields.String(required=True)
    refresh_token = fields.String(load_default=None, allow_none=True)
    token_type = fields.String(load_default="bearer")


class UserSchema(BaseSchema):
    __model__: Any = models.User

    id = fields.UUID(required=True)
    organization_id = fields.UUID(required=True)
    email = fields.String(required=True)
    role = TolerantEnum(models.UserRole, load_default=models.UserRole.user, allow_none=True)


class EnvironmentSchema(BaseSchema):
    __model__ = models.Environment

    dataset_expiration_days = fields.Integer(required=True, strict=True)
    max_allowed_dimensions_per_dataset = fields.Integer(required=True, strict=True)
    max_allowed_lines_per_dataset = fields.Integer(required=True, strict=True)


class MeUserSchema(UserSchema):
    __model__ = models.MeUser

    environment = fields.Nested(EnvironmentSchema, required=True)


class CreditsInfoSchema(BaseSchema):
    __model__ = models.CreditsInfo

    credits = fields.Integer(strict=True, **_NULLABLE)
    is_credit_enabled = fields.Boolean(required=True)


class FeaturesInfoSchema(BaseSchema):
    __model__ = models.FeaturesInfo

    feature_scopes = fields.List(fields.String(), required=True)


class ApiKeySchema(BaseSchema):
    __model__: Any = models.ApiKey

    id = fields.UUID(required=True)
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    revoked_at = UtcDateTime(**_NULLABLE)
    last_used_at = UtcDateTime(**_NULLABLE)


class ApiKeyWithPlaintextSchema(ApiKeySchema):
    __model__ = models.ApiKeyWithPlaintext

    plaintext = fields.String(required=True)


class CreateApiKeyResponseSchema(BaseSchema):
    __model__ = models.CreateApiKeyResponse

    api_key = fields.Nested(ApiKeyWithPlaintextSchema, required=True)
    message = fields.String(required=True)


class ResourceSetResponseSchema(BaseSchema):
    __model__ = models.ResourceSetResponse

    set_name = fields.UUID(required=True)
    display_name = fields.String(required=True)


class JobResponseSchema(BaseSchema):
    __model__ = models.JobResponse

    name = fields.String(required=True)
    set_name = fields.UUID(required=True)
    parameters_name = fields.String(required=True)
    display_name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    kind = TolerantEnum(models.JobKind, required=True)
    status = TolerantEnum(models.JobStatus, required=True)
    exception = fields.String(required=True)
    done = fields.Boolean(required=True)
    progress = fields.Float(**_NULLABLE)
    deleted_at = UtcDateTime(**_NULLABLE)


class JobResponseListSchema(BaseSchema):
    __model__ = models.JobResponseList

    jobs = fields.Nested(JobResponseSchema, many=True, required=True)


class JobCreateResponseSchema(BaseSchema):
    __model__ = models.JobCreateResponse

    name = fields.String(required=True)
    location = fields.String(required=True, data_key="Location")


class BulkDeleteResponseSchema(BaseSchema):
    __model__ = models.BulkDeleteResponse

    deleted_jobs = fields.Nested(JobResponseSchema, many=True, required=True)
    failed_jobs = fields.List(fields.String(), required=True)


class FileCredentialsSchema(BaseSchema):
    __model__ = models.FileCredentials

    access_key_id = fields.String(required=True)
    secret_access_key = fields.String(required=True)


class FileAccessSchema(BaseSchema):
    __model__ = models.FileAccess

    url = fields.String(required=True)
    credentials = fields.Nested(FileCredentialsSchema, required=True)


class CompatibilityResponseSchema(BaseSchema):
    __model__ = models.CompatibilityResponse

    message = fields.String(required=True)
    most_recent_compatible_client = fields.String(**_NULLABLE)
    status = TolerantEnum(models.CompatibilityStatus, required=True)


class HealthMessageSchema(BaseSchema):
    __model__ = models.HealthMessage

    message = fields.String(required=True)


class JobFlowCreateResponseSchema(BaseSchema):
    __model__ = models.JobFlowCreateResponse

    jobs = fields.Nested(JobCreateResponseSchema, many=True, required=True)


class EventLogResponseSchema(BaseSchema):
    __model__ = models.EventLogResponse

    id = fields.UUID(required=True)
    verb = fields.String(required=True)
    object_type = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    object_id = fields.UUID(**_NULLABLE)


class CapabilitiesResponseSchema(BaseSchema):
    __model__ = models.CapabilitiesResponse

    input_protocols = fields.List(fields.String(), required=True)
    database_engines = fields.List(fields.String(), required=True)
    connections = fields.List(fields.Dict(), required=True)


class ConnectionSummarySchema(BaseSchema):
    __model__ = models.ConnectionSummary

    name = fields.String(required=True)
    engine = fields.String(required=True)
    label = fields.String(**_NULLABLE)
    scope = fields.String(**_NULLABLE)
    redacted = fields.String(**_NULLABLE)


class ConnectionProbeSchema(BaseSchema):
    __model__ = models.ConnectionProbe

    reachable = fields.Boolean(required=True)
    engine = fields.String(**_NULLABLE)
    has_schema = fields.Boolean(**_NULLABLE)
    is_empty = fields.Boolean(**_NULLABLE)
    table_count = fields.Integer(strict=True, **_NULLABLE)
    error = fields.String(**_NULLABLE)


class ConnectionSampleSchema(BaseSchema):
    __model__ = models.ConnectionSample

    samples = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String(allow_none=True))),
        **_NULLABLE,
    )
    missing = fields.List(fields.String(), **_NULLABLE)
    error = fields.String(**_NULLABLE)


class ConnectionFieldSchema(BaseSchema):
    __model__ = models.ConnectionField

    key = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(load_default="text")
    required = fields.Boolean(load_default=False)
    secret = fields.Boolean(load_default=False)
    default = fields.String(**_NULLABLE)
    placeholder = fields.String(**_NULLABLE)
    options = fields.List(fields.Dict(keys=fields.String(), values=fields.String()), **_NULLABLE)
    advanced = fields.Boolean(load_default=False)


class EngineDescriptorSchema(BaseSchema):
    __model__ = models.EngineDescriptor

    engine = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True)
    available = fields.Boolean(required=True)
    form_fields = fields.Nested(ConnectionFieldSchema, many=True, required=True, data_key="fields")
    preview = fields.Boolean(load_default=False)


class ConnectionPresetSummarySchema(BaseSchema):
    __model__ = models.ConnectionPresetSummary

    name = fields.String(required=True)
    engine = fields.String(required=True)
    kind = fields.String(required=True)
    label = fields.String(**_NULLABLE)


# ``{kind: [url, ...]}``: the whole body is one mapping, so it is loaded by a
# field rather than a schema with declared fields.
_RESULTS_FIELD = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


# --------------------------------------------------------------------------- fast path
#
# Each schema is compiled once into a plan by :mod:`avatars._fastpath`; see there.


class _Fallback(Exception):
    """Raised by a converter: this payload takes marshmallow's road.  (A new
    instance each time: a shared one would keep the last traceback, and the
    payload in its frames, alive.)"""


def _fail() -> Any:
    raise _Fallback


_COMPILE: Optional[Callable[[Type[marshmallow.Schema]], Optional[Callable[[Dict[str, Any]], Any]]]] = None


def _compiled(schema_cls: Type[marshmallow.Schema]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    """The fast loader of one object of ``schema_cls`` (cached), or None."""
    global _COMPILE
    if _COMPILE is None:
        # Imported on first use (it needs the schemas above), then kept: an
        # import statement on every load is a measurable part of a call.
        from ._fastpath import compiled

        _COMPILE = compiled
    return _COMPILE(schema_cls)


# --------------------------------------------------------------------------- loading

_CACHE: Dict[Any, marshmallow.Schema] = {}


def _schema(schema_cls: Type[marshmallow.Schema], many: bool) -> marshmallow.Schema:
    key = (schema_cls, many)
    schema = _CACHE.get(key)
    if schema is None:
        schema = schema_cls(many=many)
        _CACHE[key] = schema
    return schema


#: Model class -> the schema that loads it (filled on first use).
_SCHEMA_OF_MODEL: Dict[type, Type[BaseSchema]] = {}


def schema_for(cls: type) -> Type[marshmallow.Schema]:
    """The schema that loads ``cls``: a model of :mod:`avatars.models` (its
    schema is looked up), or a schema class itself (returned as is).
    :class:`~avatars.errors.ConfigurationError` for anything else."""
    if isinstance(cls, type) and issubclass(cls, marshmallow.Schema):
        return cls
    if not _SCHEMA_OF_MODEL:
        for name in __all__:
            candidate = globals().get(name)
            if isinstance(candidate, type) and issubclass(candidate, BaseSchema) and candidate.__model__ is not None:
                _SCHEMA_OF_MODEL.setdefault(candidate.__model__, candidate)
    schema = _SCHEMA_OF_MODEL.get(cls)
    if schema is None:
        raise ConfigurationError(f"no schema loads {getattr(cls, '__name__', cls)!r}")
    return schema


@overload
def load(
    cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = ...,
    request_id: Optional[str] = ...,
) -> Any: ...


@overload
def load(
    cls: Type[T],
    data: Any,
    *,
    endpoint: Optional[str] = ...,
    request_id: Optional[str] = ...,
) -> T: ...


def load(
    cls: Type[Any],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> Any:
    """Load one object of the model class ``cls`` (e.g. ``load(JobResponse, data)``
    is typed ``JobResponse``); :class:`~avatars.errors.SchemaError` when the data
    does not fit.  A schema class is also accepted (the result is then untyped)."""
    schema_cls = schema_for(cls)
    if not isinstance(data, dict):
        raise wrong_shape_error(endpoint, "an object", data, request_id=request_id)
    fast = _compiled(schema_cls)
    if fast is not None and type(data) is dict:
        try:
            return fast(data)
        except _Fallback:
            pass
    return _marshmallow_load(schema_cls, data, False, endpoint, request_id)


@overload
def load_many(
    cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = ...,
    request_id: Optional[str] = ...,
) -> List[Any]: ...


@overload
def load_many(
    cls: Type[T],
    data: Any,
    *,
    endpoint: Optional[str] = ...,
    request_id: Optional[str] = ...,
) -> List[T]: ...


def load_many(
    cls: Type[Any],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> List[Any]:
    """Load a list of objects of the model class ``cls`` (typed ``List[cls]``);
    :class:`~avatars.errors.SchemaError` when the data does not fit."""
    schema_cls = schema_for(cls)
    if not isinstance(data, list):
        raise wrong_shape_error(endpoint, "a list", data, request_id=request_id)
    fast = _compiled(schema_cls)
    if fast is not None:
        try:
            return [fast(item) if type(item) is dict else _fail() for item in data]
        except _Fallback:
            pass
    return list(_marshmallow_load(schema_cls, data, True, endpoint, request_id))


def _marshmallow_load(
    schema_cls: Type[marshmallow.Schema], data: Any, many: bool, endpoint: Optional[str], request_id: Optional[str]
) -> Any:
    """The full marshmallow load (no fast path), errors turned into a SchemaError."""
    try:
        return _schema(schema_cls, many).load(data)
    except marshmallow.ValidationError as exc:
        raise schema_error(endpoint, exc.messages, request_id=request_id) from None


def load_results(
    data: Any,
    *,
    job_name: Optional[str] = None,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> models.Results:
    """Load ``{kind: [url, ...]}`` into :class:`~avatars.models.Results`."""
    if not isinstance(data, dict):
        raise wrong_shape_error(endpoint, "an object", data, request_id=request_id)
    try:
        loaded = _RESULTS_FIELD.deserialize(data)
    except marshmallow.ValidationError as exc:
        raise schema_error(endpoint, exc.messages, request_id=request_id) from None
    return models.Results(loaded, job_name=job_name)
