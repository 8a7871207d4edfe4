"""Wire payloads of the contract for the unit tests: avatars.testing.payloads with the
values these tests were written against."""

from __future__ import annotations

from typing import Any, Dict

from avatars.testing import payloads

JOB_SET = payloads.SET_NAME
USER_ID = payloads.USER_ID
ORG_ID = payloads.ORGANIZATION_ID
KEY_ID = payloads.API_KEY_ID
DATASET_ID = payloads.DATASET_ID


def job(name: str = "job-1", **overrides: Any) -> Dict[str, Any]:
    options: Dict[str, Any] = {"display_name": "My run", "progress": 1.0}
    options.update(overrides)
    body = payloads.job(name, **{k: v for k, v in options.items() if k != "done"})
    if "done" in overrides:
        body["done"] = overrides["done"]
    return body


def user(**overrides: Any) -> Dict[str, Any]:
    return payloads.user(**overrides)


def environment(**overrides: Any) -> Dict[str, Any]:
    return payloads.environment(**overrides)


def me(**overrides: Any) -> Dict[str, Any]:
    return payloads.me(**overrides)


def credits_info(**overrides: Any) -> Dict[str, Any]:
    return payloads.credits_info(**overrides)


def features_info(**overrides: Any) -> Dict[str, Any]:
    return payloads.features_info(**overrides)


def api_key(**overrides: Any) -> Dict[str, Any]:
    options: Dict[str, Any] = {"last_used_at": "2026-11-28T08:30:00.250000+01:00"}
    options.update(overrides)
    return payloads.api_key(**options)


def api_key_created(**overrides: Any) -> Dict[str, Any]:
    return payloads.api_key_created("avk_secret_plaintext_value", **overrides)


def resource_set(**overrides: Any) -> Dict[str, Any]:
    return payloads.resource_set(**overrides)


def job_created(**overrides: Any) -> Dict[str, Any]:
    options: Dict[str, Any] = {"name": "job-1", "base_url": "https://avatar.test/api"}
    options.update(overrides)
    return payloads.job_created(**options)


def bulk_delete(**overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"deleted_jobs": [job("a", deleted_at="2026-11-27T11:00:00+00:00")], "failed_jobs": ["b"]}
    body.update(overrides)
    return body


def file_access(url: str = "s3://results/job-1/shuffled-0.csv", **overrides: Any) -> Dict[str, Any]:
    body = payloads.file_access(url, **overrides)
    if "credentials" not in overrides:
        body["credentials"] = payloads.file_credentials("AKIAEXAMPLE", "s3cr3t")
    return body


def compatibility(**overrides: Any) -> Dict[str, Any]:
    options: Dict[str, Any] = {"message": "ok", "most_recent_compatible_client": "1.2.0"}
    options.update(overrides)
    return payloads.compatibility(**options)


def health(**overrides: Any) -> Dict[str, Any]:
    return payloads.health(**overrides)
