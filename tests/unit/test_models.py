"""Models: enums, JobResponse helpers, Results, secrets out of repr, request objects validated at construction."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timezone
from typing import Any, Dict
from uuid import UUID, uuid4

import pytest

from avatars import (
    ApiKeyWithPlaintext,
    BulkDeleteRequest,
    CreateApiKeyRequest,
    CreateUser,
    FileAccess,
    FileCredentials,
    ForgottenPasswordRequest,
    JobCreateRequest,
    JobKind,
    JobResponse,
    JobStatus,
    LoginResponse,
    RequestValidationError,
    ResetPasswordRequest,
    Results,
    UserRole,
)

NOW = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)


def make_job(status: Any, done: bool = False) -> JobResponse:
    return JobResponse(
        name="j",
        set_name=uuid4(),
        parameters_name="p",
        display_name="d",
        created_at=NOW,
        kind=JobKind.standard,
        status=JobStatus(status),
        exception="",
        done=done,
        progress=None,
        deleted_at=None,
    )


# ---------------------------------------------------------------- enums


def test_str_enums_compare_and_print_as_their_value() -> None:
    assert JobStatus.finished == "finished"
    assert str(JobStatus.finished) == "finished"
    assert f"{JobKind.privacy_metrics}" == "privacy_metrics"
    assert f"{UserRole.user:>8}" == "    user"
    assert JobStatus("finished") is JobStatus.finished
    assert {"finished": 1}[JobStatus.finished] == 1


def test_unknown_value_is_a_stable_pseudo_member() -> None:
    value = "archived-" + uuid4().hex[:6]
    member = JobStatus(value)
    assert isinstance(member, JobStatus) and isinstance(member, str)
    assert member == value and str(member) == value and member.value == value
    assert member.is_known is False
    assert JobStatus(value) is member
    assert member not in list(JobStatus)
    assert "unknown" in repr(member) and value in repr(member)
    assert pickle.loads(pickle.dumps(member)) is member
    with pytest.raises(ValueError):
        JobStatus(3)  # type: ignore[arg-type]


def test_status_helpers() -> None:
    assert JobStatus.finished.is_terminal and not JobStatus.finished.is_failure
    for failure in ("error", "parent_error", "lost", "orphaned"):
        assert JobStatus(failure).is_failure and JobStatus(failure).is_terminal
    for running in ("queued", "created", "pending", ""):
        assert not JobStatus(running).is_terminal


@pytest.mark.parametrize(
    "status,done,succeeded,failed,status_ends,is_terminal",
    [
        ("finished", True, True, False, True, True),
        ("finished", False, True, False, True, True),  # a server that forgot `done`
        ("error", True, False, True, True, True),
        ("parent_error", False, False, True, True, True),
        ("lost", False, False, True, True, True),
        ("orphaned", False, False, True, True, True),
        ("pending", False, False, False, False, False),
        ("queued", False, False, False, False, False),
        ("", False, False, False, False, False),
        ("pending", True, False, False, False, True),  # the server says it is done
        ("future_status", False, False, False, False, False),
    ],
)
def test_job_response_helpers(
    status: str, done: bool, succeeded: bool, failed: bool, status_ends: bool, is_terminal: bool
) -> None:
    """``is_terminal`` is what a poll waits for: the server's ``done``, success or failure."""
    job = make_job(status, done)
    assert (job.succeeded, job.failed, job.is_terminal) == (succeeded, failed, is_terminal)
    assert job.done is done
    assert not hasattr(job, "is_done")  # one name per meaning (issue 15, "Names")


def test_models_are_frozen() -> None:
    job = make_job("pending")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.status = JobStatus.finished  # type: ignore[misc]


# ---------------------------------------------------------------- secrets


def test_secrets_stay_out_of_repr() -> None:
    key = ApiKeyWithPlaintext(
        id=uuid4(), name="ci", created_at=NOW, expires_at=NOW, revoked_at=None, last_used_at=None, plaintext="PLAIN-1"
    )
    assert "PLAIN-1" not in repr(key) and "ci" in repr(key)
    access = FileAccess(
        url="https://s3.test/b/k.csv?X-Amz-Signature=SIG123&X-Amz-Credential=CRED9&part=1",
        credentials=FileCredentials("AKIA-ID", "SECRET-KEY"),
    )
    text = repr(access) + str(access) + repr(access.credentials)
    for secret in ("AKIA-ID", "SECRET-KEY", "SIG123", "CRED9"):
        assert secret not in text
    assert "part=1" in text
    # ...but the data is intact
    assert access.url == "https://s3.test/b/k.csv?X-Amz-Signature=SIG123&X-Amz-Credential=CRED9&part=1"
    assert (access.credentials.access_key_id, access.credentials.secret_access_key) == ("AKIA-ID", "SECRET-KEY")
    login = LoginResponse("ACCESS", "REFRESH")
    assert "ACCESS" not in repr(login) and "REFRESH" not in repr(login)
    user = CreateUser("ada@example.com", password="PW-SECRET")
    assert "PW-SECRET" not in repr(user)
    token = uuid4()
    reset = ResetPasswordRequest("ada@example.com", "NEW-PW", "NEW-PW", token)
    assert "NEW-PW" not in repr(reset) and str(token) not in repr(reset)


# ---------------------------------------------------------------- Results


def test_results_is_a_readable_mapping() -> None:
    results = Results(
        {"shuffled": ["https://s3.test/a.csv", "https://s3.test/b.csv"], "report": ["https://s3.test/r.md"]},
        job_name="job-1",
    )
    assert results["shuffled"] == ["https://s3.test/a.csv", "https://s3.test/b.csv"]
    assert results.get("missing") is None and "report" in results and len(results) == 2
    assert results.kinds == ["shuffled", "report"]
    assert results.urls == ["https://s3.test/a.csv", "https://s3.test/b.csv", "https://s3.test/r.md"]
    assert results == {
        "shuffled": ["https://s3.test/a.csv", "https://s3.test/b.csv"],
        "report": ["https://s3.test/r.md"],
    }
    assert dict(results) == results.to_dict()
    results["shuffled"].append("mutating a copy")
    assert len(results["shuffled"]) == 2
    text = str(results)
    assert text.splitlines() == [
        "Results of job 'job-1': 3 files",
        "  shuffled:",
        "    https://s3.test/a.csv",
        "    https://s3.test/b.csv",
        "  report:",
        "    https://s3.test/r.md",
    ]
    assert repr(results).startswith("Results({'shuffled': ['https://s3.test/a.csv'")
    assert "job_name='job-1'" in repr(results)


def test_empty_results() -> None:
    assert not Results({}) and str(Results({}, job_name="j")) == "Results of job 'j': no files"


def test_results_mask_signatures_when_printed_only() -> None:
    url = "https://s3.test/a.csv?X-Amz-Signature=deadbeef"
    results = Results({"shuffled": [url]})
    assert "deadbeef" not in str(results) and "deadbeef" not in repr(results)
    assert results["shuffled"] == [url]


# ---------------------------------------------------------------- request objects


def test_create_user() -> None:
    assert CreateUser("ada@example.com").to_json() == {"email": "ada@example.com", "role": "user", "password": None}
    admin = CreateUser("ada@example.com", role="admin", password="pw")
    assert admin.role is UserRole.admin
    assert admin.to_json() == {"email": "ada@example.com", "role": "admin", "password": "pw"}


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": 3}, "email"),
        ({"email": "a@example.com", "role": "root"}, "role"),
        ({"email": "a@example.com", "role": UserRole("superuser")}, "role"),
        ({"email": "a@example.com", "password": ""}, "password"),
    ],
)
def test_create_user_invalid(kwargs: Dict[str, Any], field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        CreateUser(**kwargs)
    assert info.value.field == field and field in str(info.value)


def test_create_api_key_request() -> None:
    for days in (30, 60, 120, 365, 3650):
        assert CreateApiKeyRequest("ci", days).to_json() == {"name": "ci", "expiration_days": days}
    assert CreateApiKeyRequest("x" * 255, 30).name == "x" * 255


@pytest.mark.parametrize(
    "name,days,field",
    [
        ("", 30, "name"),
        ("   ", 30, "name"),
        ("x" * 256, 30, "name"),
        (None, 30, "name"),
        ("ci", 31, "expiration_days"),
        ("ci", True, "expiration_days"),
        ("ci", "30", "expiration_days"),
        ("ci", 30.0, "expiration_days"),
    ],
)
def test_create_api_key_request_invalid(name: Any, days: Any, field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        CreateApiKeyRequest(name, days)
    assert info.value.field == field


def test_job_create_request() -> None:
    set_name = uuid4()
    request = JobCreateRequest(str(set_name), "params", ["parent-1"])
    assert request.set_name == set_name
    assert request.depends_on == ("parent-1",)
    # no "kind": the platform takes the job's kind from the parameters document
    assert request.to_json() == {"set_name": str(set_name), "parameters_name": "params", "depends_on": ["parent-1"]}
    with pytest.raises(TypeError):
        JobCreateRequest(set_name, "p", kind="standard")  # type: ignore[call-arg]
    assert JobCreateRequest(set_name, "p").to_json()["depends_on"] == []


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"set_name": "nightly"}, "set_name"),
        ({"set_name": 5}, "set_name"),
        ({"parameters_name": ""}, "parameters_name"),
        ({"parameters_name": None}, "parameters_name"),
        ({"depends_on": "parent-1"}, "depends_on"),
        ({"depends_on": ["ok", ""]}, "depends_on"),
        ({"depends_on": [1]}, "depends_on"),
    ],
)
def test_job_create_request_invalid(kwargs: Dict[str, Any], field: str) -> None:
    args: Dict[str, Any] = {"set_name": uuid4(), "parameters_name": "p"}
    args.update(kwargs)
    with pytest.raises(RequestValidationError) as info:
        JobCreateRequest(**args)
    assert info.value.field == field


def test_bulk_delete_request() -> None:
    assert BulkDeleteRequest(["a", "b"]).to_json() == {"job_names": ["a", "b"]}
    assert len(BulkDeleteRequest([f"j{i}" for i in range(100)]).job_names) == 100


@pytest.mark.parametrize("names", [[], [f"j{i}" for i in range(101)], "job-1", ["a", ""], ["a", None], None])
def test_bulk_delete_request_invalid(names: Any) -> None:
    with pytest.raises(RequestValidationError) as info:
        BulkDeleteRequest(names)
    assert info.value.field == "job_names"


def test_password_requests() -> None:
    token = uuid4()
    assert ResetPasswordRequest("a@example.com", "pw", "pw", str(token)).to_json() == {
        "email": "a@example.com",
        "new_password": "pw",
        "new_password_repeated": "pw",
        "token": str(token),
    }
    assert ForgottenPasswordRequest("a@example.com").to_json() == {"email": "a@example.com"}
    with pytest.raises(RequestValidationError) as info:
        ResetPasswordRequest("a@example.com", "pw", "pw2", token)
    assert info.value.field == "new_password_repeated"
    with pytest.raises(RequestValidationError) as info:
        ResetPasswordRequest("a@example.com", "pw", "pw", "SECRET-TOKEN")
    assert info.value.field == "token" and "SECRET-TOKEN" not in str(info.value)
    with pytest.raises(RequestValidationError) as info:
        ForgottenPasswordRequest("nobody")
    assert info.value.field == "email"
    assert isinstance(ResetPasswordRequest("a@example.com", "pw", "pw", token).token, UUID)
