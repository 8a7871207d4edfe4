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
``load(JobResponseListSchema, body)``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, TypeVar
from uuid import UUID

import marshmallow
from marshmallow import EXCLUDE, fields, post_load

from . import models
from .errors import schema_error, wrong_shape_error

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
    "load",
    "load_many",
    "load_results",
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
    role = TolerantEnum(models.UserRole, required=True)


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


# ``{kind: [url, ...]}``: the whole body is one mapping, so it is loaded by a
# field rather than a schema with declared fields.
_RESULTS_FIELD = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


# --------------------------------------------------------------------------- fast path
#
# Profiling ``load(JobResponseListSchema, body)`` on 10,000 jobs shows marshmallow's
# per-field machinery (``Schema._deserialize``, ``Field.deserialize``,
# ``_validate``, ``_call_and_store``, the ``getter`` closures) taking over 80 %
# of the time, the conversions themselves (UUID, datetime, enum) under 15 %.
# So each schema whose fields are all of the kinds below is compiled once into
# a plan: for every field its wire key, a converter that accepts only the
# plain, unsurprising form of the value, and what to do when the key is absent
# or null.  The plan builds the model directly.  Anything else (a missing
# required field, a null where none is allowed, a value of another type, a
# bool where a number is expected, an unknown enum value, a timestamp that is
# not canonical ISO 8601 with an offset, a non-finite float, ...) abandons the
# fast path and the WHOLE payload is loaded again by marshmallow, so that
# errors and edge-case results are exactly marshmallow's.  A converter is
# written so that, when it accepts a value, it returns what the marshmallow
# field returns for that value (tests/unit/test_fast_path.py checks it on
# random valid and invalid payloads, under marshmallow 3 and 4).


class _Fallback(Exception):
    """Raised by a converter: this payload takes marshmallow's road.  (A new
    instance each time: a shared one would keep the last traceback, and the
    payload in its frames, alive.)"""


_ABSENT: Any = object()

#: ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]`` then ``Z`` or ``+HH:MM``: the canonical form
#: servers send.  A string of this form that ``datetime.fromisoformat`` parses
#: into an aware datetime is what :func:`parse_datetime` returns for it.
_CANONICAL_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
).fullmatch

_Converter = Callable[[Any], Any]
#: (wire key, attribute, converter, required, load default or _ABSENT, allow_none)
_Step = Tuple[str, str, _Converter, bool, Any, bool]


def _to_str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _Fallback


def _to_int(value: Any) -> Any:
    if type(value) is int:  # not bool, not float: marshmallow's strict Integer accepts exactly these as is
        return value
    raise _Fallback


def _to_bool(value: Any) -> Any:
    if value is True or value is False:
        return value
    raise _Fallback


def _to_uuid(value: Any) -> Any:
    if type(value) is str:
        try:
            return UUID(value)  # what fields.UUID does with a str
        except ValueError:
            pass
    raise _Fallback


def _to_datetime(value: Any) -> Any:
    if type(value) is str and _CANONICAL_TIMESTAMP(value) is not None:
        try:
            parsed = datetime.fromisoformat(value)  # Python < 3.11 rejects "Z": marshmallow's road then
        except ValueError:
            raise _Fallback from None
        if parsed.tzinfo is not None:
            return parsed
    raise _Fallback


def _float_converter(allow_nan: bool) -> _Converter:
    def to_float(value: Any) -> Any:
        kind = type(value)
        if kind is float:
            if allow_nan or math.isfinite(value):
                return value
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                raise _Fallback from None
            if allow_nan or math.isfinite(number):
                return number
        raise _Fallback

    return to_float


def _enum_converter(enum: Type[models._TolerantStrEnum]) -> _Converter:
    known = {member.value: member for member in enum}  # unknown values: marshmallow's road (pseudo-members)
    lookup = known.get

    def to_member(value: Any) -> Any:
        if type(value) is str:
            member = lookup(value)
            if member is not None:
                return member
        raise _Fallback

    return to_member


def _str_list(value: Any) -> Any:
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                raise _Fallback
        return list(value)
    raise _Fallback


def _plain_field(field: _Field) -> bool:
    """No validators, no field-level processors (marshmallow 4), no ``attribute``."""
    return (
        not field.validators
        and not getattr(field, "pre_load", None)
        and not getattr(field, "post_load", None)
        and field.attribute is None
        and not field.load_only
        and not field.dump_only
    )


def _converter_for(field: _Field) -> Optional[_Converter]:
    """The fast converter of a marshmallow field, or None when the field is of
    a kind (or configured in a way) the fast path does not cover."""
    if not _plain_field(field):
        return None
    kind = type(field)
    if kind is fields.String:
        return _to_str
    if kind is fields.UUID:
        return _to_uuid
    if kind is fields.Integer:
        return _to_int
    if kind is fields.Boolean:
        truthy, falsy = getattr(field, "truthy", None), getattr(field, "falsy", None)
        if truthy and falsy and True in truthy and False in falsy:
            return _to_bool
        return None
    if kind is fields.Float:
        assert isinstance(field, fields.Float)
        return _float_converter(field.allow_nan is not False)
    if kind is TolerantEnum:
        assert isinstance(field, TolerantEnum)
        return _enum_converter(field.enum)
    if kind is UtcDateTime:
        return _to_datetime
    if kind is fields.List:
        inner = getattr(field, "inner", None)
        if type(inner) is fields.String and inner is not None and _plain_field(inner) and not inner.allow_none:
            return _str_list
        return None
    if kind is fields.Nested:
        assert isinstance(field, fields.Nested)
        if field.only is not None or field.exclude or field.unknown is not None:
            return None
        nested = type(field.schema)
        load_one = _compiled(nested)
        if load_one is None:
            return None
        if not field.many:

            def to_object(value: Any) -> Any:
                if type(value) is dict:
                    return load_one(value)
                raise _Fallback

            return to_object

        def to_objects(value: Any) -> Any:
            if type(value) is list:
                return [load_one(item) if type(item) is dict else _fail() for item in value]
            raise _Fallback

        return to_objects
    return None


def _fail() -> Any:
    raise _Fallback


def _generated_init(model: Any) -> Any:
    """The ``__init__`` that ``@dataclass`` wrote for ``model``, or None (no
    ``__init__`` of its own, or one replaced since, e.g. wrapped by a test)."""
    init = vars(model).get("__init__")
    code = getattr(init, "__code__", None)
    if code is None or getattr(init, "__wrapped__", None) is not None:
        return None
    return init if code.co_name == "__init__" and code.co_filename.startswith("<") else None


def _model_builder(model: Any, attributes: List[str]) -> Callable[[Dict[str, Any]], Any]:
    """Make the model from its keyword arguments.

    A plain dataclass (generated ``__init__``, no ``__post_init__``, no
    ``__slots__``, every field set by the schema) is filled in directly: its
    generated ``__init__`` does nothing else, and for a frozen dataclass it
    costs ten times more (one ``object.__setattr__`` per field).  The
    arguments are passed in the dataclass's field order, so ``__dict__`` is
    the same as after ``__init__``.  Any other model is called, and so is a
    dataclass whose ``__init__`` has been replaced (a mock, an audit wrapper),
    then or later.
    """

    def call(kwargs: Dict[str, Any]) -> Any:
        return model(**kwargs)

    if not (isinstance(model, type) and dataclasses.is_dataclass(model)):
        return call
    cls: Any = model  # typed loosely: the checks below read dataclass internals
    names = [f.name for f in dataclasses.fields(cls)]
    generated = _generated_init(cls)
    direct = (
        generated is not None
        and cls.__dataclass_params__.init
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in vars(cls)
        and cls.__new__ is object.__new__
        and list(cls.__dataclass_fields__) == names
        and all(f.init for f in dataclasses.fields(cls))
        and sorted(names) == sorted(attributes)
    )
    if not direct:
        return call
    new = object.__new__

    def build(kwargs: Dict[str, Any]) -> Any:
        if cls.__init__ is not generated:  # replaced since compiling: honour it
            return cls(**kwargs)
        obj = new(cls)
        obj.__dict__.update(kwargs)
        return obj

    return build


_COMPILED: Dict[Any, Optional[Callable[[Dict[str, Any]], Any]]] = {}
_COMPILE_LOCK = threading.RLock()


def _compiled(schema_cls: Type[marshmallow.Schema]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    """The fast loader of one object of ``schema_cls`` (cached), or None when
    the schema cannot have one; it raises :class:`_Fallback` when the payload
    must go through marshmallow."""
    try:
        return _COMPILED[schema_cls]
    except KeyError:
        pass
    with _COMPILE_LOCK:  # one compilation at a time: a nested schema is never seen half-compiled
        if schema_cls in _COMPILED:
            return _COMPILED[schema_cls]
        _COMPILED[schema_cls] = None  # a schema nested in itself takes marshmallow's road
        loader = _compile(schema_cls)
        _COMPILED[schema_cls] = loader
        return loader


def _compile(schema_cls: Type[marshmallow.Schema]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    if not (isinstance(schema_cls, type) and issubclass(schema_cls, BaseSchema)):
        return None
    model = schema_cls.__model__
    if model is None:
        return None
    for name in dir(schema_cls):  # the only hook allowed is BaseSchema's post_load
        hook = getattr(getattr(schema_cls, name, None), "__marshmallow_hook__", None)
        if hook and getattr(schema_cls, name) is not BaseSchema.__dict__["_make_object"]:
            return None
    schema = _schema(schema_cls, False)
    if schema.unknown != EXCLUDE:
        return None
    steps: Dict[str, _Step] = {}
    for attr, field in schema.load_fields.items():
        converter = _converter_for(field)
        if converter is None or "." in attr:
            return None
        default = field.load_default
        if default is marshmallow.missing:
            default = _ABSENT
        elif callable(default):
            return None
        key = field.data_key if field.data_key is not None else attr
        steps[attr] = (key, attr, converter, bool(field.required), default, bool(field.allow_none))
    names = [f.name for f in dataclasses.fields(model)] if dataclasses.is_dataclass(model) else []
    build = _model_builder(model, list(steps))
    plan: Tuple[_Step, ...] = tuple(steps[n] for n in names if n in steps) + tuple(
        step for attr, step in steps.items() if attr not in names
    )

    def load_one(data: Dict[str, Any]) -> Any:
        kwargs: Dict[str, Any] = {}
        get = data.get
        for key, attr, convert, required, default, allow_none in plan:
            value = get(key, _ABSENT)
            if value is _ABSENT:
                if required:
                    raise _Fallback
                if default is not _ABSENT:
                    kwargs[attr] = default
            elif value is None:
                if not allow_none:
                    raise _Fallback
                kwargs[attr] = None
            else:
                kwargs[attr] = convert(value)
        return build(kwargs)

    return load_one


# --------------------------------------------------------------------------- loading

_CACHE: Dict[Any, marshmallow.Schema] = {}


def _schema(schema_cls: Type[marshmallow.Schema], many: bool) -> marshmallow.Schema:
    key = (schema_cls, many)
    schema = _CACHE.get(key)
    if schema is None:
        schema = schema_cls(many=many)
        _CACHE[key] = schema
    return schema


def load(
    schema_cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> Any:
    """Load one object; :class:`~avatars.errors.SchemaError` when it does not fit."""
    if not isinstance(data, dict):
        raise wrong_shape_error(endpoint, "an object", data, request_id=request_id)
    fast = _compiled(schema_cls)
    if fast is not None and type(data) is dict:
        try:
            return fast(data)
        except _Fallback:
            pass
    return _marshmallow_load(schema_cls, data, False, endpoint, request_id)


def load_many(
    schema_cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> List[Any]:
    """Load a list of objects; :class:`~avatars.errors.SchemaError` when it does not fit."""
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
