"""Loading every response schema: values, unknown fields, missing and malformed fields, enums, datetimes."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Tuple, Type
from uuid import UUID

import marshmallow
import pytest

from avatars import SchemaError
from avatars import models as m
from avatars import schemas as s
from avatars.schemas import load, load_many, load_results, parse_datetime

from . import _payloads as p

UTC = timezone.utc

# (schema, payload builder, endpoint, required wire fields, nullable wire fields)
CASES: List[Tuple[Type[marshmallow.Schema], Callable[..., Dict[str, Any]], str, List[str], List[str]]] = [
    (s.UserSchema, p.user, "GET /users/{id}", ["id", "organization_id", "email"], []),
    (s.MeUserSchema, p.me, "GET /users/me", ["id", "organization_id", "email", "environment"], []),
    (s.CreditsInfoSchema, p.credits_info, "GET /users/credits_info", ["is_credit_enabled"], ["credits"]),
    (s.FeaturesInfoSchema, p.features_info, "GET /users/features_info", ["feature_scopes"], []),
    (
        s.ApiKeySchema,
        p.api_key,
        "GET /api-keys/{id}",
        ["id", "name", "created_at", "expires_at"],
        ["revoked_at", "last_used_at"],
    ),
    (s.CreateApiKeyResponseSchema, p.api_key_created, "POST /api-keys", ["api_key", "message"], []),
    (s.ResourceSetResponseSchema, p.resource_set, "POST /resources/{set_name}", ["set_name", "display_name"], []),
    (
        s.JobResponseSchema,
        p.job,
        "GET /jobs/{job_name}",
        ["name", "set_name", "parameters_name", "display_name", "created_at", "kind", "status", "exception", "done"],
        ["progress", "deleted_at"],
    ),
    (s.JobResponseListSchema, lambda: {"jobs": [p.job()]}, "GET /jobs", ["jobs"], []),
    (s.JobCreateResponseSchema, p.job_created, "POST /jobs", ["name", "Location"], []),
    (s.BulkDeleteResponseSchema, p.bulk_delete, "POST /jobs/bulk-delete", ["deleted_jobs", "failed_jobs"], []),
    (s.FileAccessSchema, p.file_access, "GET /access", ["url", "credentials"], []),
    (
        s.CompatibilityResponseSchema,
        p.compatibility,
        "GET /check_client",
        ["message", "status"],
        ["most_recent_compatible_client"],
    ),
    (s.HealthMessageSchema, p.health, "GET /health", ["message"], []),
    (s.LoginResponseSchema, lambda: {"access_token": "a", "refresh_token": "r"}, "POST /login", ["access_token"], []),
]

REQUIRED = [(c[0], c[1], c[2], f) for c in CASES for f in c[3]]
NULLABLE = [(c[0], c[1], c[2], f) for c in CASES for f in c[4]]


def _id(value: Any) -> str:
    return getattr(value, "__name__", str(value))


# ---------------------------------------------------------------- values, field by field


def test_job_response_loads_every_field() -> None:
    job = load(s.JobResponseSchema, p.job(progress=0.5, status="pending", done=False), endpoint="GET /jobs/{job_name}")
    assert isinstance(job, m.JobResponse)
    assert job.name == "job-1"
    assert job.set_name == UUID(p.JOB_SET)
    assert job.parameters_name == "params-1"
    assert job.display_name == "My run"
    assert job.created_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert job.kind is m.JobKind.standard
    assert job.status is m.JobStatus.pending
    assert job.exception == ""
    assert job.done is False
    assert job.progress == 0.5
    assert job.deleted_at is None


def test_me_user_loads_user_fields_and_environment() -> None:
    me = load(s.MeUserSchema, p.me(), endpoint="GET /users/me")
    assert isinstance(me, m.MeUser) and isinstance(me, m.User)
    assert (me.id, me.organization_id, me.email, me.role) == (
        UUID(p.USER_ID),
        UUID(p.ORG_ID),
        "ada@example.com",
        m.UserRole.admin,
    )
    assert me.environment == m.Environment(30, 200, 1_000_000)


def test_api_key_with_plaintext_and_offsets() -> None:
    created = load(s.CreateApiKeyResponseSchema, p.api_key_created(), endpoint="POST /api-keys")
    assert created.message == "store it now"
    key = created.api_key
    assert isinstance(key, m.ApiKeyWithPlaintext)
    assert key.plaintext == "avk_secret_plaintext_value"
    assert key.id == UUID(p.KEY_ID)
    assert key.expires_at == datetime(2026, 12, 27, 10, tzinfo=UTC)
    assert key.revoked_at is None and key.last_used_at is None and not key.is_revoked
    plain = load(s.ApiKeySchema, p.api_key(), endpoint="GET /api-keys/{id}")
    assert plain.last_used_at == datetime(2026, 11, 28, 7, 30, 0, 250000, tzinfo=UTC)
    assert plain.last_used_at.utcoffset() == timedelta(hours=1)


def test_small_models() -> None:
    assert load(s.CreditsInfoSchema, {"credits": None, "is_credit_enabled": False}) == m.CreditsInfo(None, False)
    assert load(s.FeaturesInfoSchema, p.features_info()).feature_scopes == ["single_table", "report"]
    assert load(s.ResourceSetResponseSchema, p.resource_set()) == m.ResourceSetResponse(UUID(p.JOB_SET), "nightly")
    assert load(s.JobCreateResponseSchema, p.job_created()) == m.JobCreateResponse(
        "job-1", "https://avatar.test/api/jobs/job-1"
    )
    assert load(s.HealthMessageSchema, {"message": "hi"}) == m.HealthMessage("hi")
    compat = load(s.CompatibilityResponseSchema, p.compatibility(status="incompatible"))
    assert compat == m.CompatibilityResponse("ok", "1.2.0", m.CompatibilityStatus.incompatible)
    assert not compat.is_compatible
    access = load(s.FileAccessSchema, p.file_access())
    assert access.url == "s3://results/job-1/shuffled-0.csv"
    assert access.credentials == m.FileCredentials("AKIAEXAMPLE", "s3cr3t")
    bulk = load(s.BulkDeleteResponseSchema, p.bulk_delete())
    assert [j.name for j in bulk.deleted_jobs] == ["a"]
    assert bulk.deleted_jobs[0].deleted_at == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert bulk.failed_jobs == ["b"]


def test_load_many_loads_a_list() -> None:
    users = load_many(s.UserSchema, [p.user(), p.user(email="bob@example.com", role="admin")], endpoint="GET /users")
    assert [(u.email, u.role) for u in users] == [("ada@example.com", m.UserRole.user), ("bob@example.com", "admin")]


# ---------------------------------------------------------------- unknown fields


@pytest.mark.parametrize("schema,build,endpoint", [(c[0], c[1], c[2]) for c in CASES], ids=[_id(c[0]) for c in CASES])
def test_unknown_fields_are_ignored(
    schema: Type[marshmallow.Schema], build: Callable[[], Dict[str, Any]], endpoint: str
) -> None:
    plain = build()
    extended = copy.deepcopy(plain)
    extended["added_in_a_newer_server"] = {"anything": [1, 2]}
    for value in extended.values():  # nested objects too
        if isinstance(value, dict):
            value["nested_novelty"] = True
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item["nested_novelty"] = True
    assert load(schema, extended, endpoint=endpoint) == load(schema, plain, endpoint=endpoint)


# ---------------------------------------------------------------- missing and null fields


@pytest.mark.parametrize("schema,build,endpoint,field", REQUIRED, ids=[f"{_id(c[0])}-{c[3]}" for c in REQUIRED])
def test_missing_required_field_names_field_and_endpoint(
    schema: Type[marshmallow.Schema], build: Callable[[], Dict[str, Any]], endpoint: str, field: str
) -> None:
    body = build()
    del body[field]
    with pytest.raises(SchemaError) as info:
        load(schema, body, endpoint=endpoint, request_id="rid-7")
    err = info.value
    assert field in err.fields
    assert err.endpoint == endpoint
    assert field in str(err) and endpoint in str(err) and "rid-7" in str(err)


@pytest.mark.parametrize("schema,build,endpoint,field", REQUIRED, ids=[f"{_id(c[0])}-{c[3]}" for c in REQUIRED])
def test_null_required_field_is_an_error(
    schema: Type[marshmallow.Schema], build: Callable[[], Dict[str, Any]], endpoint: str, field: str
) -> None:
    body = build()
    body[field] = None
    with pytest.raises(SchemaError) as info:
        load(schema, body, endpoint=endpoint)
    assert field in info.value.fields


@pytest.mark.parametrize("schema,build,endpoint,field", NULLABLE, ids=[f"{_id(c[0])}-{c[3]}" for c in NULLABLE])
def test_nullable_field_may_be_null_or_absent(
    schema: Type[marshmallow.Schema], build: Callable[[], Dict[str, Any]], endpoint: str, field: str
) -> None:
    body = build()
    body[field] = None
    assert getattr(load(schema, body, endpoint=endpoint), field) is None
    del body[field]
    assert getattr(load(schema, body, endpoint=endpoint), field) is None


def test_nested_wrong_types_name_the_full_path() -> None:
    body = p.me()
    body["environment"]["dataset_expiration_days"] = "thirty"
    with pytest.raises(SchemaError) as info:
        load(s.MeUserSchema, body, endpoint="GET /users/me")
    assert list(info.value.fields) == ["environment.dataset_expiration_days"]
    body = p.file_access()
    body["credentials"]["secret_access_key"] = 1
    with pytest.raises(SchemaError) as info:
        load(s.FileAccessSchema, body, endpoint="GET /access")
    assert list(info.value.fields) == ["credentials.secret_access_key"]


def test_nested_errors_name_the_full_path() -> None:
    jobs = [p.job("a"), p.job("b")]
    del jobs[1]["status"]
    with pytest.raises(SchemaError) as info:
        load(s.JobResponseListSchema, {"jobs": jobs}, endpoint="GET /jobs")
    assert list(info.value.fields) == ["jobs.1.status"]
    body = p.me()
    del body["environment"]["max_allowed_lines_per_dataset"]
    with pytest.raises(SchemaError) as info:
        load(s.MeUserSchema, body, endpoint="GET /users/me")
    assert list(info.value.fields) == ["environment.max_allowed_lines_per_dataset"]
    body = p.api_key_created()
    del body["api_key"]["plaintext"]
    with pytest.raises(SchemaError) as info:
        load(s.CreateApiKeyResponseSchema, body, endpoint="POST /api-keys")
    assert list(info.value.fields) == ["api_key.plaintext"]


@pytest.mark.parametrize("data", [[], "text", 3, None])
def test_load_wants_an_object(data: Any) -> None:
    with pytest.raises(SchemaError, match="expected an object") as info:
        load(s.JobResponseSchema, data, endpoint="GET /jobs/{job_name}")
    assert info.value.endpoint == "GET /jobs/{job_name}"


def test_load_many_wants_a_list() -> None:
    with pytest.raises(SchemaError, match="expected a list"):
        load_many(s.UserSchema, {"users": []}, endpoint="GET /users")
    with pytest.raises(SchemaError) as info:
        load_many(s.UserSchema, [p.user(), p.user(id="nope")], endpoint="GET /users")
    assert list(info.value.fields) == ["1.id"]


# ---------------------------------------------------------------- wrong types

WRONG = [
    (s.JobResponseSchema, p.job, "name", 12),
    (s.JobResponseSchema, p.job, "set_name", "not-a-uuid"),
    (s.JobResponseSchema, p.job, "set_name", 7),
    (s.JobResponseSchema, p.job, "created_at", "yesterday"),
    (s.JobResponseSchema, p.job, "created_at", 1_700_000_000),
    (s.JobResponseSchema, p.job, "kind", 3),
    (s.JobResponseSchema, p.job, "status", ["finished"]),
    (s.JobResponseSchema, p.job, "done", "maybe"),
    (s.JobResponseSchema, p.job, "progress", "half"),
    (s.JobResponseSchema, p.job, "deleted_at", "2026-13-45T99:00:00"),
    (s.JobResponseListSchema, lambda: {"jobs": [p.job()]}, "jobs", {"job-1": p.job()}),
    (s.UserSchema, p.user, "id", "123"),
    (s.UserSchema, p.user, "email", ["ada@example.com"]),
    (s.UserSchema, p.user, "role", 3),
    (s.CreditsInfoSchema, p.credits_info, "credits", "42"),
    (s.CreditsInfoSchema, p.credits_info, "credits", 4.5),
    (s.CreditsInfoSchema, p.credits_info, "credits", True),
    (s.FeaturesInfoSchema, p.features_info, "feature_scopes", "single_table"),
    (s.MeUserSchema, p.me, "environment", "big"),
    (s.FileAccessSchema, p.file_access, "credentials", "key:secret"),
    (s.BulkDeleteResponseSchema, p.bulk_delete, "failed_jobs", [1]),
    (s.ApiKeySchema, p.api_key, "expires_at", "never"),
    (s.ApiKeySchema, p.api_key, "last_used_at", 12.5),
    (s.CreateApiKeyResponseSchema, p.api_key_created, "api_key", "avk_plain"),
    (s.CreateApiKeyResponseSchema, p.api_key_created, "message", 3),
    (s.ResourceSetResponseSchema, p.resource_set, "set_name", "nightly"),
    (s.ResourceSetResponseSchema, p.resource_set, "display_name", None),
    (s.JobCreateResponseSchema, p.job_created, "Location", 5),
    (s.CompatibilityResponseSchema, p.compatibility, "status", 1),
    (s.CompatibilityResponseSchema, p.compatibility, "most_recent_compatible_client", 2.0),
    (s.HealthMessageSchema, p.health, "message", {"text": "ok"}),
    (s.LoginResponseSchema, lambda: {"access_token": "a"}, "access_token", 1),
    (s.FileAccessSchema, p.file_access, "url", ["s3://x"]),
]


@pytest.mark.parametrize("schema,build,field,value", WRONG, ids=[f"{_id(w[0])}-{w[2]}-{w[3]!r}" for w in WRONG])
def test_wrong_types_raise_schema_error_naming_the_field(
    schema: Type[marshmallow.Schema], build: Callable[[], Dict[str, Any]], field: str, value: Any
) -> None:
    body = build()
    body[field] = value
    with pytest.raises(SchemaError) as info:
        load(schema, body, endpoint="GET /x")
    assert any(name == field or name.startswith(field + ".") for name in info.value.fields), info.value.fields
    assert "GET /x" in str(info.value)


# ---------------------------------------------------------------- enums


def test_unknown_enum_values_load_as_pseudo_members() -> None:
    job = load(s.JobResponseSchema, p.job(status="paused", kind="synthetic_audit"), endpoint="GET /jobs/{job_name}")
    assert isinstance(job.status, m.JobStatus) and isinstance(job.kind, m.JobKind)
    assert job.status == "paused" and str(job.status) == "paused" and f"{job.status}" == "paused"
    assert job.status.value == "paused"
    assert not job.status.is_known and m.JobStatus.finished.is_known
    assert "paused" not in [member.value for member in m.JobStatus]
    # an unknown status is neither a success nor a failure; the job is terminal only by the server's done flag
    assert not job.succeeded and not job.failed and job.is_terminal is job.done
    assert not job.status.is_terminal
    # the same unknown value gives the same object
    again = load(s.JobResponseSchema, p.job(status="paused"), endpoint="GET /jobs/{job_name}")
    assert again.status is job.status
    user = load(s.UserSchema, p.user(role="auditor"))
    assert user.role == "auditor" and not user.role.is_known
    compat = load(s.CompatibilityResponseSchema, p.compatibility(status="deprecated"))
    assert compat.status == "deprecated" and not compat.is_compatible


def test_known_enum_values_are_the_members() -> None:
    job = load(s.JobResponseSchema, p.job(status="", kind="advice"))
    assert job.status is m.JobStatus.empty and job.kind is m.JobKind.advice
    assert str(m.JobStatus.finished) == "finished" and m.JobStatus.finished == "finished"


# ---------------------------------------------------------------- datetimes


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-27T10:00:00+00:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),  # naive: UTC
        ("2026-11-27 10:00:00.5", datetime(2026, 11, 27, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-27T10:00:00.123456789Z", datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27T12:00:00+02:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T05:30:00-0430", datetime(2026, 11, 27, 10, tzinfo=UTC)),
    ],
)
def test_datetimes_are_aware_and_naive_means_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed.tzinfo is not None
    assert parsed == expected
    job = load(s.JobResponseSchema, p.job(created_at=text))
    assert job.created_at == expected and job.created_at.tzinfo is not None


def test_offset_is_kept() -> None:
    parsed = parse_datetime("2026-11-27T12:00:00+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-11-27T25:00:00", "27/11/2026"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


# ---------------------------------------------------------------- results


def test_results_load() -> None:
    results = load_results({"shuffled": ["u1", "u2"], "report": []}, job_name="j", endpoint="GET /results/{job_name}")
    assert results == {"shuffled": ["u1", "u2"], "report": []}
    assert results.job_name == "j"


@pytest.mark.parametrize(
    "body,field",
    [({"shuffled": "u1"}, "shuffled"), ({"shuffled": [1]}, "shuffled"), ({"shuffled": None}, "shuffled")],
)
def test_results_malformed(body: Dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaError) as info:
        load_results(body, endpoint="GET /results/{job_name}")
    assert any(name.startswith(field) for name in info.value.fields)
    assert "GET /results/{job_name}" in str(info.value)


def test_results_must_be_an_object() -> None:
    with pytest.raises(SchemaError, match="expected an object"):
        load_results(["u1"], endpoint="GET /results/{job_name}")


# ---------------------------------------------------------------- many


def test_ten_thousand_jobs_load() -> None:
    body = {"jobs": [p.job(f"job-{i}", status="finished" if i % 2 else "pending") for i in range(10_000)]}
    jobs = load(s.JobResponseListSchema, body, endpoint="GET /jobs")
    assert len(jobs) == 10_000
    assert jobs.jobs[9_999].name == "job-9999" and jobs.jobs[9_999].succeeded
    assert jobs.jobs[0].status is m.JobStatus.pending


@pytest.mark.parametrize("schema, build", [(s.UserSchema, p.user), (s.MeUserSchema, p.me)])
def test_role_is_optional_and_nullable_as_on_the_platform(schema: Any, build: Callable[..., Dict[str, Any]]) -> None:
    """The platform's models: ``role: UserRole | None = UserRole.user``."""
    payload = build()
    payload["role"] = None
    assert load(schema, payload).role is None
    del payload["role"]
    assert load(schema, payload).role is m.UserRole.user


def test_new_schemas_load_and_tolerate_unknown_fields() -> None:
    event = load(
        s.EventLogResponseSchema,
        {"id": p.JOB_SET, "verb": "create", "object_type": "job", "created_at": "2026-11-27T10:00:00Z", "x": 1},
    )
    assert event.object_id is None and event.verb == "create" and event.created_at.tzinfo is not None
    flow = load(s.JobFlowCreateResponseSchema, {"jobs": [p.job_created(), p.job_created()], "extra": True})
    assert len(flow) == 2 and flow.jobs[0].location
    caps = load(
        s.CapabilitiesResponseSchema,
        {"input_protocols": ["s3"], "database_engines": [], "connections": [{"name": "c", "new": 1}], "more": 2},
    )
    assert caps.connections == [{"name": "c", "new": 1}]
    with pytest.raises(SchemaError) as info:
        load(s.CapabilitiesResponseSchema, {"input_protocols": ["s3"], "connections": []})
    assert "database_engines" in str(info.value)


def test_load_by_model_class_finds_its_schema() -> None:
    job = load(m.JobResponse, p.job())
    assert isinstance(job, m.JobResponse) and job == load(s.JobResponseSchema, p.job())
    users = load_many(m.User, [p.user(), p.user(email="bob@example.com")])
    assert [type(u) for u in users] == [m.User, m.User]
    # A subclass model has its own schema: MeUser is not loaded as a plain User.
    assert s.schema_for(m.MeUser) is s.MeUserSchema and s.schema_for(m.User) is s.UserSchema
    assert s.schema_for(m.ApiKeyWithPlaintext) is s.ApiKeyWithPlaintextSchema


def test_every_schema_is_reachable_by_its_model() -> None:
    for name in s.__all__:
        schema = getattr(s, name)
        if isinstance(schema, type) and issubclass(schema, s.BaseSchema) and schema.__model__ is not None:
            assert s.schema_for(schema.__model__) is schema, name


def test_load_of_a_class_without_schema_is_a_typed_error() -> None:
    from avatars import ConfigurationError

    with pytest.raises(ConfigurationError, match="no schema loads 'Results'"):
        load(m.Results, {})
    with pytest.raises(ConfigurationError):
        load_many(str, [])
