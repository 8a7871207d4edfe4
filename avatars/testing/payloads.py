"""Payload builders: the JSON the platform answers, one function per response schema.

For tests of code that uses ``avatars`` (with ``responses``, or any HTTP
mock): each builder returns a plain ``dict`` (or ``list``) shaped as the
platform sends it (wire contract v2, API 2.90), with realistic defaults and
typed keyword arguments for the fields a test usually sets.  Extra keyword
arguments are added as they are (the platform may add fields; the client
ignores the ones it does not know)::

    from avatars.testing import payloads

    body = payloads.job("standard_1", status="running", progress=0.4)
    listing = payloads.job_list([body, payloads.job("report_1", kind="report")])

Every builder's default output loads into the matching model of
:mod:`avatars.models` (the package's own tests check it).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = [
    "SET_NAME",
    "USER_ID",
    "ORGANIZATION_ID",
    "API_KEY_ID",
    "DATASET_ID",
    "CREATED_AT",
    "RESULT_URL",
    "login",
    "user",
    "environment",
    "me",
    "credits_info",
    "features_info",
    "api_key",
    "api_key_created",
    "resource_set",
    "job",
    "job_list",
    "job_created",
    "bulk_delete",
    "results",
    "file_credentials",
    "file_access",
    "compatibility",
    "health",
    "error",
    "validation_error",
]

Json = Dict[str, Any]

SET_NAME = "7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
USER_ID = "11111111-2222-4333-8444-555555555555"
ORGANIZATION_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
API_KEY_ID = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
DATASET_ID = "0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d"
CREATED_AT = "2026-11-27T10:00:00+00:00"
#: The default location of a result file.
RESULT_URL = "s3://results/" + SET_NAME + "/patients.shuffled.csv"

_TERMINAL = {"finished", "error", "parent_error", "lost", "orphaned"}


def _with(body: Json, extra: Mapping[str, Any]) -> Json:
    body.update(extra)
    return body


def login(access_token: str = "access-token-1", refresh_token: Optional[str] = "refresh-token-1", **extra: Any) -> Json:
    """``POST /login`` and ``POST /refresh`` (``LoginResponse``)."""
    return _with({"access_token": access_token, "refresh_token": refresh_token, "token_type": "bearer"}, extra)


def user(
    email: str = "ada@example.com",
    *,
    id: str = USER_ID,  # noqa: A002 (the platform's field name)
    organization_id: str = ORGANIZATION_ID,
    role: str = "user",
    **extra: Any,
) -> Json:
    """``User`` (``GET /users/{id}``, ``GET /users?email=`` items)."""
    return _with({"id": id, "organization_id": organization_id, "email": email, "role": role}, extra)


def environment(
    *,
    dataset_expiration_days: int = 30,
    max_allowed_dimensions_per_dataset: int = 200,
    max_allowed_lines_per_dataset: int = 1_000_000,
    **extra: Any,
) -> Json:
    """The ``environment`` of ``MeUser``."""
    return _with(
        {
            "dataset_expiration_days": dataset_expiration_days,
            "max_allowed_dimensions_per_dataset": max_allowed_dimensions_per_dataset,
            "max_allowed_lines_per_dataset": max_allowed_lines_per_dataset,
        },
        extra,
    )


def me(email: str = "ada@example.com", *, role: str = "admin", **extra: Any) -> Json:
    """``GET /users/me`` (``MeUser``: a user and their environment)."""
    body = user(email, role=role)
    body["environment"] = environment()
    return _with(body, extra)


def credits_info(
    credits: int = 42,  # noqa: A002 (the platform's field name)
    *,
    is_credit_enabled: bool = True,
    **extra: Any,
) -> Json:
    """``GET /users/credits_info``."""
    return _with({"credits": credits, "is_credit_enabled": is_credit_enabled}, extra)


def features_info(feature_scopes: Sequence[str] = ("single_table", "report"), **extra: Any) -> Json:
    """``GET /users/features_info``."""
    return _with({"feature_scopes": list(feature_scopes)}, extra)


def api_key(
    name: str = "ci",
    *,
    id: str = API_KEY_ID,  # noqa: A002
    created_at: str = CREATED_AT,
    expires_at: Optional[str] = "2026-12-27T10:00:00+00:00",
    revoked_at: Optional[str] = None,
    last_used_at: Optional[str] = None,
    **extra: Any,
) -> Json:
    """``ApiKey`` (``GET /api-keys`` items, ``GET /api-keys/{id}``)."""
    return _with(
        {
            "id": id,
            "name": name,
            "created_at": created_at,
            "expires_at": expires_at,
            "revoked_at": revoked_at,
            "last_used_at": last_used_at,
        },
        extra,
    )


def api_key_created(
    plaintext: str = "avk_test_plaintext_value", *, name: str = "ci", message: str = "store it now", **extra: Any
) -> Json:
    """``POST /api-keys`` (``CreateApiKeyResponse``: the key and its plaintext, shown once)."""
    key = api_key(name)
    key["plaintext"] = plaintext
    return _with({"api_key": key, "message": message}, extra)


def resource_set(display_name: str = "nightly", *, set_name: str = SET_NAME, **extra: Any) -> Json:
    """``PUT /resources/{display_name}`` and ``POST /resources/{set_name}`` (``ResourceSetResponse``)."""
    return _with({"set_name": set_name, "display_name": display_name}, extra)


def job(
    name: str = "standard_1",
    *,
    status: str = "finished",
    kind: str = "standard",
    progress: Optional[float] = None,
    exception: str = "",
    set_name: str = SET_NAME,
    parameters_name: str = "params-1",
    display_name: str = "nightly",
    created_at: str = CREATED_AT,
    deleted_at: Optional[str] = None,
    **extra: Any,
) -> Json:
    """``JobResponse``; ``done`` and a missing ``progress`` follow ``status``."""
    done = status in _TERMINAL
    return _with(
        {
            "name": name,
            "set_name": set_name,
            "parameters_name": parameters_name,
            "display_name": display_name,
            "created_at": created_at,
            "kind": kind,
            "status": status,
            "exception": exception,
            "done": done,
            "progress": (1.0 if status == "finished" else None) if progress is None else progress,
            "deleted_at": deleted_at,
        },
        extra,
    )


def job_list(jobs: Sequence[Json] = (), **extra: Any) -> Json:
    """``GET /jobs`` and ``GET /jobs/last_set`` (``JobResponseList``)."""
    return _with({"jobs": list(jobs)}, extra)


def job_created(name: str = "standard_1", *, base_url: str = "https://avatar.example.com/api", **extra: Any) -> Json:
    """``POST /jobs`` (``JobCreateResponse``; ``Location`` is the platform's spelling)."""
    return _with({"name": name, "Location": f"{base_url.rstrip('/')}/jobs/{name}"}, extra)


def bulk_delete(deleted: Sequence[str] = (), failed: Sequence[str] = (), **extra: Any) -> Json:
    """``POST /jobs/bulk-delete`` (``BulkDeleteResponse``)."""
    deleted_jobs = [job(name, deleted_at=CREATED_AT) for name in deleted]
    return _with({"deleted_jobs": deleted_jobs, "failed_jobs": list(failed)}, extra)


def results(files: Optional[Mapping[str, Sequence[str]]] = None) -> Dict[str, List[str]]:
    """``GET /results/{job_name}``: result kind -> result locations."""
    if files is None:
        files = {"shuffled": [RESULT_URL]}
    return {kind: list(urls) for kind, urls in files.items()}


def file_credentials(
    access_key_id: str = "AKIATESTEXAMPLE", secret_access_key: str = "test-secret-access-key", **extra: Any
) -> Json:
    """The short-lived storage credentials of a ``FileAccess``."""
    return _with({"access_key_id": access_key_id, "secret_access_key": secret_access_key}, extra)


def file_access(url: str = RESULT_URL, **extra: Any) -> Json:
    """``GET /access?url=`` (``FileAccess``; ``POST /access/batch`` answers a list of them)."""
    return _with({"url": url, "credentials": file_credentials()}, extra)


def compatibility(
    status: str = "compatible",
    *,
    message: str = "Client version is compatible with this server",
    most_recent_compatible_client: Optional[str] = "1.25.0",
    **extra: Any,
) -> Json:
    """``GET /check_client`` (``CompatibilityResponse``; ``status``: compatible, incompatible or unknown)."""
    return _with(
        {"message": message, "most_recent_compatible_client": most_recent_compatible_client, "status": status}, extra
    )


def health(message: str = "ok", **extra: Any) -> Json:
    """``GET /health`` and ``GET /health/db``."""
    return _with({"message": message}, extra)


def error(message: str, **extra: Any) -> Json:
    """An error body: ``{"detail": message}``."""
    return _with({"detail": message}, extra)


def validation_error(field: str, message: str = "field required", kind: str = "value_error.missing") -> Json:
    """A ``422`` body: ``{"detail": [{"loc": ["body", field], "msg", "type"}]}``."""
    return {"detail": [{"loc": ["body", field], "msg": message, "type": kind}]}
