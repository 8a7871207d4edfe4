"""Wire payloads of the contract, one builder per response schema (for the unit tests)."""

from __future__ import annotations

from typing import Any, Dict

JOB_SET = "7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
USER_ID = "11111111-2222-4333-8444-555555555555"
ORG_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
KEY_ID = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
DATASET_ID = "0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d"


def job(name: str = "job-1", **overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "name": name,
        "set_name": JOB_SET,
        "parameters_name": "params-1",
        "display_name": "My run",
        "created_at": "2026-11-27T10:00:00+00:00",
        "kind": "standard",
        "status": "finished",
        "exception": "",
        "done": True,
        "progress": 1.0,
        "deleted_at": None,
    }
    body.update(overrides)
    return body


def user(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"id": USER_ID, "organization_id": ORG_ID, "email": "ada@example.com", "role": "user"}
    body.update(overrides)
    return body


def environment(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "dataset_expiration_days": 30,
        "max_allowed_dimensions_per_dataset": 200,
        "max_allowed_lines_per_dataset": 1_000_000,
    }
    body.update(overrides)
    return body


def me(**overrides: Any) -> Dict[str, Any]:
    body = user(role="admin")
    body["environment"] = environment()
    body.update(overrides)
    return body


def credits_info(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"credits": 42, "is_credit_enabled": True}
    body.update(overrides)
    return body


def features_info(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"feature_scopes": ["single_table", "report"]}
    body.update(overrides)
    return body


def api_key(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "id": KEY_ID,
        "name": "ci",
        "created_at": "2026-11-27T10:00:00+00:00",
        "expires_at": "2026-12-27T10:00:00+00:00",
        "revoked_at": None,
        "last_used_at": "2026-11-28T08:30:00.250000+01:00",
    }
    body.update(overrides)
    return body


def api_key_created(**overrides: Any) -> Dict[str, Any]:
    key = api_key(last_used_at=None)
    key["plaintext"] = "avk_secret_plaintext_value"
    body: Dict[str, Any] = {"api_key": key, "message": "store it now"}
    body.update(overrides)
    return body


def resource_set(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"set_name": JOB_SET, "display_name": "nightly"}
    body.update(overrides)
    return body


def job_created(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": "job-1", "Location": "https://avatar.test/api/jobs/job-1"}
    body.update(overrides)
    return body


def bulk_delete(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"deleted_jobs": [job("a", deleted_at="2026-11-27T11:00:00+00:00")], "failed_jobs": ["b"]}
    body.update(overrides)
    return body


def file_access(url: str = "s3://results/job-1/shuffled-0.csv", **overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"url": url, "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t"}}
    body.update(overrides)
    return body


def compatibility(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "message": "ok",
        "most_recent_compatible_client": "1.2.0",
        "status": "compatible",
    }
    body.update(overrides)
    return body


def health(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"message": "ok"}
    body.update(overrides)
    return body
