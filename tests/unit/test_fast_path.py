"""The schemas' fast path gives exactly what plain marshmallow gives.

For every schema with a fast path, random payloads (valid, unusual and
invalid, field by field, nested included) are loaded twice: by
:func:`avatars.schemas.load` / :func:`~avatars.schemas.load_many` (fast path
first, marshmallow when it declines) and by the plain marshmallow load.  Both
must return the same objects (same types, same values, same time zones, the
same enum members) or raise the same :class:`SchemaError` (same message, same
fields).  Run under marshmallow 3 and 4 (``tox -e marshmallow-3,marshmallow-4``).
"""

from __future__ import annotations

import dataclasses
import json
import string
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Tuple, Type

import marshmallow
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields

from avatars import SchemaError
from avatars import _fastpath as fastpath
from avatars import models as m
from avatars import schemas as s

from . import _payloads as p

#: Every response schema; all of them get a fast path.
SCHEMAS: List[Type[marshmallow.Schema]] = [
    s.LoginResponseSchema,
    s.UserSchema,
    s.EnvironmentSchema,
    s.MeUserSchema,
    s.CreditsInfoSchema,
    s.FeaturesInfoSchema,
    s.ApiKeySchema,
    s.ApiKeyWithPlaintextSchema,
    s.CreateApiKeyResponseSchema,
    s.ResourceSetResponseSchema,
    s.JobResponseSchema,
    s.JobResponseListSchema,
    s.JobCreateResponseSchema,
    s.BulkDeleteResponseSchema,
    s.FileCredentialsSchema,
    s.FileAccessSchema,
    s.CompatibilityResponseSchema,
    s.HealthMessageSchema,
]

#: One valid wire payload per schema (the contract's canonical form).
VALID: Dict[Any, Callable[[], Dict[str, Any]]] = {
    s.LoginResponseSchema: lambda: {"access_token": "a", "refresh_token": "r", "token_type": "bearer"},
    s.UserSchema: p.user,
    s.EnvironmentSchema: p.environment,
    s.MeUserSchema: p.me,
    s.CreditsInfoSchema: p.credits_info,
    s.FeaturesInfoSchema: p.features_info,
    s.ApiKeySchema: p.api_key,
    s.ApiKeyWithPlaintextSchema: lambda: p.api_key_created()["api_key"],
    s.CreateApiKeyResponseSchema: p.api_key_created,
    s.ResourceSetResponseSchema: p.resource_set,
    s.JobResponseSchema: p.job,
    s.JobResponseListSchema: lambda: {"jobs": [p.job("a"), p.job("b", progress=None, status="pending")]},
    s.JobCreateResponseSchema: p.job_created,
    s.BulkDeleteResponseSchema: p.bulk_delete,
    s.FileCredentialsSchema: lambda: p.file_access()["credentials"],
    s.FileAccessSchema: p.file_access,
    s.CompatibilityResponseSchema: p.compatibility,
    s.HealthMessageSchema: p.health,
}


@pytest.fixture(autouse=True)
def _random_strings_are_not_secrets() -> Iterator[None]:
    """The suite's secrets audit (tests/secrets_audit.py) learns a secret from
    every ``LoginResponse``, ``FileCredentials`` and ``ApiKeyWithPlaintext``
    built; the random strings built here are not secrets, and one equal to,
    say, ``"ServerError"`` would later be reported as leaked by an unrelated
    error message.  Forget what these tests taught it."""
    try:
        from ..secrets_audit import get_audit
    except ImportError:  # pragma: no cover - the audit is optional
        yield
        return
    audit = get_audit()
    known = set(audit.secrets)
    yield
    audit.secrets.intersection_update(known)


SETTINGS = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- comparing results


def canon(value: Any) -> Any:
    """A structure equal for two values only when they are the same in every
    visible way: type, value, ``repr`` (time zone, enum member, -0.0, NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value), tuple((f.name, canon(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, canon(v)) for k, v in value.items()))
    if isinstance(value, datetime):
        return (type(value), value.isoformat(), repr(value.tzinfo), value.utcoffset())
    if isinstance(value, m._TolerantStrEnum):
        return (type(value), value.value, value.is_known, id(value))
    return (type(value), repr(value))


def outcome(fn: Callable[[], Any]) -> Tuple[str, Any]:
    try:
        return ("ok", canon(fn()))
    except SchemaError as exc:
        return ("error", (str(exc), exc.fields, exc.endpoint))


def assert_same(schema: Type[marshmallow.Schema], data: Any, many: bool = False) -> Tuple[str, Any]:
    snapshot = json.dumps(data, default=repr, sort_keys=True)
    if many:
        fast = outcome(lambda: s.load_many(schema, data, endpoint="GET /x"))
    else:
        fast = outcome(lambda: s.load(schema, data, endpoint="GET /x"))
    plain = outcome(lambda: s._marshmallow_load(schema, data, many, "GET /x", None))
    assert fast == plain, f"fast path differs from marshmallow for {schema.__name__}: {data!r}"
    assert json.dumps(data, default=repr, sort_keys=True) == snapshot, "the payload was modified"
    return fast


# ---------------------------------------------------------------- random payloads

_UTC_AND_OFFSETS = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(0))]
)


@st.composite
def _timestamps(draw: st.DrawFn) -> str:
    moment = draw(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_UTC_AND_OFFSETS)
    )
    text = moment.isoformat(timespec=draw(st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"])))
    variant = draw(st.integers(0, 9))
    if variant == 1:
        text = text.replace("+00:00", "Z")
    elif variant == 2:
        text = text.replace("+00:00", "z")
    elif variant == 3:
        text = text.replace("T", " ")
    elif variant == 4:
        text = text[: -len("+00:00")] if text[-6] in "+-" else text  # naive
    elif variant == 5:
        text = text[:-3] + text[-2:] if text[-6] in "+-" else text  # +0000
    elif variant == 6:
        digits = draw(st.text(alphabet="0123456789", min_size=1, max_size=9))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + digits + draw(st.sampled_from(["+00:00", "Z", "-03:00", ""]))
    elif variant == 7:
        text = text.split("T")[0]  # a date alone
    elif variant == 8:
        text = draw(
            st.sampled_from(
                [
                    "2024-13-01T00:00:00+00:00",
                    "2024-02-30T10:00:00+00:00",
                    "2024-01-01T24:00:00+00:00",
                    "2024-01-01T10:00:00+25:00",
                    "2024-01-01T10:00:00.1234567+00:00",
                    "2024-01-01T10:00:00,5+00:00",
                    "2024-01-01T10:00+00:00",
                    "20240101T100000Z",
                    " 2024-01-01T10:00:00+00:00",
                    "2024-01-01T10:00:00+00:00 ",
                    "\u0661\u0669\u0667\u0660-01-01T00:00:00+00:00",
                    "not a date",
                    "",
                ]
            )
        )
    return text


@st.composite
def _uuids(draw: st.DrawFn) -> Any:
    value = draw(st.uuids())
    return draw(
        st.sampled_from(
            [
                str(value),
                str(value).upper(),
                value.hex,
                "{" + str(value) + "}",
                value.urn,
                str(value)[:-1],
                str(value) + "0",
                " " + str(value),
                value.bytes,
                value,
            ]
        )
    )


_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers().map(lambda i: i * 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.text(alphabet=string.digits + ".-e", min_size=1, max_size=6),
    st.sampled_from(["true", "false", "1", "0", "yes", "on", "nan", "inf", "1.5", "12"]),
    st.binary(max_size=16),
    st.lists(st.integers(), max_size=2),
    st.lists(st.text(max_size=3), max_size=2).map(tuple),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _valid_value(field: Any, depth: int) -> st.SearchStrategy[Any]:
    kind = type(field)
    if kind is fields.String:
        return st.text(max_size=20)
    if kind is fields.UUID:
        return st.uuids().map(str) | _uuids()
    if kind is fields.Integer:
        return st.integers(min_value=-(2**64), max_value=2**64)
    if kind is fields.Float:
        return st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(2**64), max_value=2**64)
    if kind is fields.Boolean:
        return st.booleans()
    if kind is s.TolerantEnum:
        known = [member.value for member in field.enum]
        return st.sampled_from(known) | st.text(max_size=6)
    if kind is s.UtcDateTime:
        return _timestamps()
    if kind is fields.List:
        return st.lists(st.text(max_size=5), max_size=3) | st.lists(st.text(max_size=3) | _ODD, max_size=3)
    if kind is fields.Nested:
        nested = payloads(type(field.schema), depth + 1)
        if field.many:
            return st.lists(nested | _ODD, max_size=3) if depth < 1 else st.lists(nested, max_size=2)
        return nested
    raise AssertionError(f"no strategy for {kind.__name__}")


@st.composite
def payloads(draw: st.DrawFn, schema_cls: Type[marshmallow.Schema], depth: int = 0) -> Dict[str, Any]:
    """A payload of ``schema_cls``: each field valid (mostly), odd, null or absent; some unknown keys."""
    schema = s._schema(schema_cls, False)
    data: Dict[str, Any] = {}
    for attr, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else attr
        choice = draw(st.integers(0, 19))
        if choice == 0:
            continue  # absent
        if choice == 1:
            data[key] = None
        elif choice == 2:
            data[key] = draw(_ODD)
        else:
            data[key] = draw(_valid_value(field, depth))
    if draw(st.integers(0, 4)) == 0:
        data.update(draw(st.dictionaries(st.text(max_size=4), _ODD, max_size=2)))
    return data


def _strict_payloads(schema_cls: Type[marshmallow.Schema]) -> st.SearchStrategy[Dict[str, Any]]:
    """Mostly fast-path payloads: the valid canonical one with one field replaced."""
    schema = s._schema(schema_cls, False)
    keys = [f.data_key if f.data_key is not None else a for a, f in schema.load_fields.items()]

    @st.composite
    def build(draw: st.DrawFn) -> Dict[str, Any]:
        data = VALID[schema_cls]()
        key = draw(st.sampled_from(keys))
        attr = next(a for a, f in schema.load_fields.items() if (f.data_key or a) == key)
        replacement = draw(_valid_value(schema.load_fields[attr], 0) | _ODD | st.just(fastpath._ABSENT))
        if replacement is fastpath._ABSENT:
            data.pop(key, None)
        else:
            data[key] = replacement
        return data

    return build()


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("schema_cls", SCHEMAS, ids=lambda c: c.__name__)
def test_every_schema_has_a_fast_path_that_takes_the_canonical_payload(schema_cls: Type[marshmallow.Schema]) -> None:
    fast = s._compiled(schema_cls)
    assert fast is not None
    data = VALID[schema_cls]()
    assert canon(fast(data)) == canon(s._marshmallow_load(schema_cls, data, False, None, None))


@pytest.mark.parametrize("schema_cls", SCHEMAS, ids=lambda c: c.__name__)
def test_random_payloads_load_as_with_marshmallow(schema_cls: Type[marshmallow.Schema]) -> None:
    @SETTINGS
    @given(data=payloads(schema_cls))
    def check(data: Dict[str, Any]) -> None:
        assert_same(schema_cls, data)

    check()


@pytest.mark.parametrize("schema_cls", SCHEMAS, ids=lambda c: c.__name__)
def test_near_canonical_payloads_load_as_with_marshmallow(schema_cls: Type[marshmallow.Schema]) -> None:
    @SETTINGS
    @given(data=_strict_payloads(schema_cls))
    def check(data: Dict[str, Any]) -> None:
        assert_same(schema_cls, data)

    check()


@pytest.mark.parametrize("schema_cls", [s.UserSchema, s.ApiKeySchema, s.FileAccessSchema], ids=lambda c: c.__name__)
def test_random_lists_load_as_with_marshmallow(schema_cls: Type[marshmallow.Schema]) -> None:
    @SETTINGS
    @given(data=st.lists(payloads(schema_cls) | _strict_payloads(schema_cls) | _ODD, max_size=4))
    def check(data: List[Any]) -> None:
        assert_same(schema_cls, data, many=True)

    check()


@SETTINGS
@given(stamp=_timestamps(), offset=_UTC_AND_OFFSETS)
def test_timestamps_load_as_with_marshmallow(stamp: str, offset: Any) -> None:
    assert_same(s.JobResponseSchema, p.job(created_at=stamp, deleted_at=stamp))


@SETTINGS
@given(value=st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.integers().map(lambda i: i * 10**400))
def test_floats_load_as_with_marshmallow(value: Any) -> None:
    assert_same(s.JobResponseSchema, p.job(progress=value))


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "paused"},  # unknown enum value: a pseudo-member, through marshmallow
        {"kind": "standard", "status": ""},
        {"created_at": "2026-11-27T10:00:00"},  # naive: read as UTC
        {"created_at": "2026-11-27T10:00:00Z"},
        {"created_at": "2026-11-27 10:00:00.123456789+0100"},
        {"created_at": "2026-11-27T10:00:00.5+01:00"},
        {"progress": 1},
        {"progress": float("nan")},
        {"progress": "0.5"},
        {"done": 1},
        {"done": "true"},
        {"set_name": "7F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"},
        {"set_name": "{7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}"},
        {"set_name": "nope"},
        {"name": None},
        {"progress": None, "deleted_at": None},
        {"extra": {"nested": [1, 2]}},
    ],
)
def test_edge_cases_load_as_with_marshmallow(overrides: Dict[str, Any]) -> None:
    assert_same(s.JobResponseSchema, p.job(**overrides))
    assert_same(s.JobResponseListSchema, {"jobs": [p.job(), p.job(**overrides)]})


def test_missing_nullable_and_defaults() -> None:
    job = p.job()
    del job["progress"], job["deleted_at"]
    assert assert_same(s.JobResponseSchema, job)[0] == "ok"
    assert assert_same(s.LoginResponseSchema, {"access_token": "a"})[0] == "ok"
    assert s.load(s.LoginResponseSchema, {"access_token": "a"}).token_type == "bearer"


def test_fast_path_objects_behave_like_constructed_ones() -> None:
    job = s.load(s.JobResponseSchema, p.job())
    again = m.JobResponse(**{f.name: getattr(job, f.name) for f in dataclasses.fields(job)})
    assert job == again and hash(job) == hash(again) and repr(job) == repr(again)
    assert vars(job) == vars(again) and list(vars(job)) == list(vars(again))
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.name = "other"  # type: ignore[misc]
    assert dataclasses.replace(job, name="x").name == "x"


def test_unknown_enum_value_is_the_same_pseudo_member() -> None:
    first = s.load(s.JobResponseSchema, p.job(status="paused-for-test"))
    second = s.load(s.JobResponseListSchema, {"jobs": [p.job(status="paused-for-test")]}).jobs[0]
    assert first.status is second.status and not first.status.is_known


def test_schema_error_names_the_field_as_before() -> None:
    with pytest.raises(SchemaError) as info:
        s.load(s.JobResponseListSchema, {"jobs": [p.job(), p.job(set_name="nope")]}, endpoint="GET /jobs")
    assert info.value.fields == {"jobs.1.set_name": ["Not a valid UUID."]}


def test_a_schema_the_fast_path_cannot_cover_uses_marshmallow() -> None:
    class Custom(s.BaseSchema):
        __model__ = m.HealthMessage
        message = fields.String(required=True, validate=marshmallow.validate.OneOf(["ok"]))

    assert s._compiled(Custom) is None
    assert s.load(Custom, {"message": "ok"}) == m.HealthMessage("ok")
    with pytest.raises(SchemaError):
        s.load(Custom, {"message": "no"})


def test_plain_dataclasses_are_filled_directly_and_others_are_called() -> None:
    """The fast path fills a plain dataclass without calling ``__init__`` (the
    result is equal to a constructed one); a model with ``__post_init__`` is
    called, as marshmallow does.  There is no per-object check of ``__init__``:
    code that observes loading wraps ``schemas.load``/``load_many``."""
    calls: List[str] = []

    @dataclasses.dataclass(frozen=True)
    class Plain:
        message: str

    @dataclasses.dataclass(frozen=True)
    class Checked:
        message: str

        def __post_init__(self) -> None:
            calls.append(self.message)

    class PlainSchema(s.BaseSchema):
        __model__ = Plain
        message = fields.String(required=True)

    class CheckedSchema(s.BaseSchema):
        __model__ = Checked
        message = fields.String(required=True)

    assert s._compiled(PlainSchema) is not None and s._compiled(CheckedSchema) is not None
    assert s.load(PlainSchema, {"message": "a"}) == Plain("a")
    assert s.load(CheckedSchema, {"message": "b"}) == Checked("b")
    assert calls == ["b", "b"]  # once by load, once by the comparison's Checked("b")


def test_uuids_are_parsed_once_and_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    monkeypatch.setattr(fastpath, "_UUID_CACHE_SIZE", 3)
    monkeypatch.setattr(fastpath, "_uuids", {})
    texts = [str(uuid.uuid4()) for _ in range(7)] + ["7F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"]
    for text in texts + texts:
        got = fastpath._to_uuid(text)
        assert type(got) is uuid.UUID and got == uuid.UUID(text) and str(got) == str(uuid.UUID(text))
        assert len(fastpath._uuids) <= 3
    first = fastpath._to_uuid(texts[-1])
    assert fastpath._to_uuid(texts[-1]) is first  # the same text is parsed once
    for bad in ("nope", "", "7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4"):
        with pytest.raises(s._Fallback):
            fastpath._to_uuid(bad)
    assert "nope" not in fastpath._uuids
