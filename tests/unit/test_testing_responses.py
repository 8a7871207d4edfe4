"""avatars.testing's ``responses`` helpers: payload builders and the avatar_responses fixture."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

import avatars
from avatars import ApiClient, JobCreateRequest, JobKind, JobStatus, NotFound, models, schemas
from avatars.errors import EndpointUnavailableError
from avatars.schemas import load
from avatars.testing import MockedPlatform, payloads

#: builder, our schema, the platform SDK's model (None: a plain JSON shape there)
BUILDERS: List[Tuple[str, Callable[[], Any], str, str]] = [
    ("login", payloads.login, "LoginResponseSchema", "LoginResponse"),
    ("user", payloads.user, "UserSchema", "User"),
    ("me", payloads.me, "MeUserSchema", "MeUser"),
    ("credits_info", payloads.credits_info, "CreditsInfoSchema", "CreditsInfo"),
    ("features_info", payloads.features_info, "FeaturesInfoSchema", "FeaturesInfo"),
    ("api_key", payloads.api_key, "ApiKeySchema", "ApiKey"),
    ("api_key_created", payloads.api_key_created, "CreateApiKeyResponseSchema", "CreateApiKeyResponse"),
    ("resource_set", payloads.resource_set, "ResourceSetResponseSchema", "ResourceSetResponse"),
    ("job", payloads.job, "JobResponseSchema", "JobResponse"),
    ("job_list", lambda: payloads.job_list([payloads.job()]), "JobResponseListSchema", "JobResponseList"),
    ("job_created", payloads.job_created, "JobCreateResponseSchema", "JobCreateResponse"),
    ("bulk_delete", lambda: payloads.bulk_delete(["a"], ["b"]), "BulkDeleteResponseSchema", "BulkDeleteResponse"),
    ("file_access", payloads.file_access, "FileAccessSchema", "FileAccess"),
    ("compatibility", payloads.compatibility, "CompatibilityResponseSchema", "CompatibilityResponse"),
    ("health", payloads.health, "HealthMessageSchema", ""),
]

SDK_PYTHON = Path("/work/sdk/venv125/bin/python")


@pytest.mark.parametrize("name, build, schema, sdk_model", BUILDERS, ids=[b[0] for b in BUILDERS])
def test_each_builder_loads_into_our_model(name: str, build: Callable[[], Any], schema: str, sdk_model: str) -> None:
    loaded = load(getattr(schemas, schema), build())
    assert type(loaded).__name__ == getattr(schemas, schema).__model__.__name__


def test_builders_take_typed_fields_and_extra_fields() -> None:
    running = load(schemas.JobResponseSchema, payloads.job("j-1", status="pending", progress=0.4, new_field=1))
    assert (running.name, running.status, running.progress, running.done) == ("j-1", JobStatus.pending, 0.4, False)
    finished = payloads.job("j-2")
    assert finished["done"] is True and finished["progress"] == 1.0
    assert payloads.job("j-3", status="error", exception="boom")["done"] is True
    assert payloads.results({"shuffled": ("s3://r/a.csv",)}) == {"shuffled": ["s3://r/a.csv"]}
    assert payloads.validation_error("k")["detail"][0]["loc"] == ["body", "k"]


@pytest.mark.skipif(not SDK_PYTHON.exists(), reason="the platform SDK's venv is not on this machine")
def test_builders_match_the_platform_sdk_models() -> None:
    """The platform's own SDK (octopize.avatar 1.25.0, pydantic models) accepts every payload."""
    bodies = {sdk: build() for _, build, _, sdk in BUILDERS if sdk}
    script = (
        "import json, sys\n"
        "from avatars import models\n"
        "bodies = json.load(sys.stdin)\n"
        "for name, body in bodies.items():\n"
        "    getattr(models, name).model_validate(body)\n"
        "print('ok', len(bodies))\n"
    )
    proc = subprocess.run(
        [str(SDK_PYTHON), "-c", script],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(SDK_PYTHON.parent),  # not this checkout: its `avatars` would shadow the SDK's
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"ok {len(bodies)}"


def test_the_fixture_serves_the_platform_to_a_client(avatar_responses: MockedPlatform) -> None:
    client = avatar_responses.client()
    assert client.health.get_health().message == "ok"
    assert client.users.get_me().email == "ada@example.com"
    assert client.jobs.get_jobs().jobs == []
    avatar_responses.add_job(payloads.job("standard_1", status="pending", progress=0.5))
    avatar_responses.add_job(payloads.job("report_1", kind="report"), results={"report": ["s3://r/report.pdf"]})
    assert client.jobs.get_job_status("standard_1").progress == 0.5
    assert [j.name for j in client.jobs.get_jobs(kind="report").jobs] == ["report_1"]
    assert client.results.get_results("report_1")["report"] == ["s3://r/report.pdf"]
    with pytest.raises(avatars.ConflictError):
        client.results.get_results("standard_1")  # not finished
    with pytest.raises(NotFound):
        client.jobs.get_job_status("nope")
    sent = avatar_responses.calls("GET", "/jobs/standard_1")
    assert len(sent) == 1 and sent[0].headers["Authorization"] == "api-key-v1 test-api-key"


def test_the_fixture_creates_and_deletes_jobs(avatar_responses: MockedPlatform) -> None:
    client = avatar_responses.client()
    created = client.jobs.create_job(JobCreateRequest(set_name=payloads.SET_NAME, parameters_name="params-1"))
    assert created.name in avatar_responses.jobs
    assert created.location == f"{avatar_responses.base_url}/jobs/{created.name}"
    assert client.jobs.get_job_status(created.name).status is JobStatus.queued
    assert client.jobs.get_job_status(created.name).kind is JobKind.standard
    # the kind comes from the parameters document: the SDK's names are known, others arranged
    report = client.jobs.create_job(JobCreateRequest(payloads.SET_NAME, "report", depends_on=[created.location]))
    assert client.jobs.get_job_status(report.name).kind is JobKind.report
    avatar_responses.parameters_kinds["my-advice"] = "advice"
    advice = client.jobs.create_job(JobCreateRequest(payloads.SET_NAME, "my-advice"))
    assert client.jobs.get_job_status(advice.name).kind is JobKind.advice
    sent = [json.loads(c.body or b"{}") for c in avatar_responses.calls("POST", "/jobs")]
    assert [b.get("depends_on") for b in sent] == [[], [created.location], []] and "kind" not in sent[0]
    client.jobs.bulk_delete_jobs([report.name, advice.name])
    result = client.jobs.bulk_delete_jobs([created.name, "ghost"])
    assert [j.name for j in result.deleted_jobs] == [created.name] and result.failed_jobs == ["ghost"]
    assert avatar_responses.jobs == {}


def test_the_fixture_is_a_290_router_without_the_job_flow(avatar_responses: MockedPlatform) -> None:
    client = avatar_responses.client()
    with pytest.raises(EndpointUnavailableError, match="POST /jobs/flow .* platform API >= 3.0"):
        client.jobs.create_job_flow(payloads.SET_NAME)
    assert client.jobs.flow_available is False and avatar_responses.jobs == {}


def test_login_refresh_and_overrides(avatar_responses: MockedPlatform) -> None:
    client = ApiClient(avatar_responses.base_url)
    client.authenticate("ada@example.com", "pw")
    assert client.auth_tokens is not None and client.auth_tokens.access == "access-token-1"
    avatar_responses.respond("GET", "users/me", payloads.error("Not authenticated"), status=401)
    with pytest.raises(avatars.AuthenticationError):
        client.users.get_me()  # refreshed once, still 401
    assert len(avatar_responses.calls("POST", "/refresh")) == 1
    avatar_responses.respond("GET", "/users/me", payloads.me("grace@example.com"))
    assert client.users.get_me().email == "grace@example.com"
    assert isinstance(client.users.get_me(), models.MeUser)


def test_access_answers_for_the_asked_url(avatar_responses: MockedPlatform) -> None:
    client = avatar_responses.client()
    access = client.results.get_permission_to_download("s3://results/x/y.csv")
    assert access.url == "s3://results/x/y.csv"
    batch = client.results.get_permissions_to_download_batch(["s3://a", "s3://b"])
    assert [a.url for a in batch] == ["s3://a", "s3://b"]
    assert client.compatibility.is_client_compatible().status.value == "unknown"
