"""Building typed errors from whatever a server (or a proxy) answers."""

from __future__ import annotations

import pickle
from typing import Any, Optional

import pytest
import requests

from avatars import errors
from avatars.errors import error_from_response, redact_url


def _response(
    status: int, body: Any = b"", headers: Optional[dict] = None, url: str = "https://a.test/api/jobs"
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else body.encode()
    r.headers.update(headers or {})
    r.url = url
    r.reason = {404: "Not Found", 502: "Bad Gateway", 500: "Internal Server Error"}.get(status, "")
    req = requests.Request("GET", url).prepare()
    r.request = req
    return r


@pytest.mark.parametrize(
    "status, body, cls, message",
    [
        (400, '{"detail": "bad thing"}', errors.BadRequestError, "bad thing"),
        (401, '{"detail": {"message": "credentials expired"}}', errors.AuthenticationError, "credentials expired"),
        (403, '{"detail": "not yours"}', errors.PermissionDenied, "not yours"),
        (404, '{"detail": "Job not found"}', errors.NotFound, "Job not found"),
        (409, '{"detail": "not finished"}', errors.ConflictError, "not finished"),
        (
            422,
            '{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "missing"}]}',
            errors.ValidationError,
            "body.name: field required",
        ),
        (
            429,
            '{"detail": {"message": "Rate limit exceeded"}, "retry_after": 2}',
            errors.RateLimitError,
            "Rate limit exceeded",
        ),
        (500, '{"detail": "boom"}', errors.ServerError, "boom"),
        (503, "", errors.ServerError, "empty response body"),
        (404, "", errors.NotFound, "Not Found"),
        (500, '{"detail": ', errors.ServerError, '{"detail":'),
        (
            502,
            "<html><body><h1>Bad Gateway</h1><p>upstream died</p></body></html>",
            errors.ServerError,
            "Bad Gateway: Bad Gateway upstream died",
        ),
        (418, '{"message": "teapot"}', errors.BadRequestError, "teapot"),
        (400, '["a", "b"]', errors.BadRequestError, '["a", "b"]'),
    ],
)
def test_every_envelope_gives_a_readable_typed_error(status: int, body: str, cls: type, message: str) -> None:
    err = error_from_response(_response(status, body, {"X-Request-ID": "req-9"}))
    assert type(err) is cls
    assert message in str(err)
    assert err.status_code == status
    assert err.request_id == "req-9"
    assert err.method == "GET"
    assert isinstance(err, errors.AvatarError)


def test_validation_error_exposes_fields() -> None:
    body = (
        '{"detail": [{"loc": ["body", "name"], "msg": "too short", "type": "x"},'
        ' {"loc": ["query", "kind"], "msg": "bad", "type": "y"}]}'
    )
    err = error_from_response(_response(422, body))
    assert isinstance(err, errors.ValidationError)
    assert err.fields == ["body.name", "query.kind"]
    assert err.errors[0]["msg"] == "too short"
    assert isinstance(err, ValueError)


def test_rate_limit_retry_after_header_body_and_date() -> None:
    assert error_from_response(_response(429, "{}", {"Retry-After": "7"})).retry_after == 7.0  # type: ignore[attr-defined]
    assert error_from_response(_response(429, '{"retry_after": 4}')).retry_after == 4.0  # type: ignore[attr-defined]
    assert error_from_response(_response(429, "")).retry_after is None  # type: ignore[attr-defined]
    dated = error_from_response(_response(429, "", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert dated.retry_after == 0.0  # type: ignore[attr-defined]  # in the past: no wait
    assert error_from_response(_response(429, "", {"Retry-After": "soon"})).retry_after is None  # type: ignore[attr-defined]


def test_long_bodies_are_cut() -> None:
    err = error_from_response(_response(500, "x" * 10_000))
    assert len(str(err)) < 400


def test_url_secrets_are_redacted() -> None:
    assert redact_url("https://a.test/api/refresh?token=abc&x=1") == "https://a.test/api/refresh?token=***&x=1"
    assert redact_url("http://bob:pw@proxy:3128/x") == "http://***@proxy:3128/x"
    assert redact_url("https://s3.test/b/k?X-Amz-Signature=zzz") == "https://s3.test/b/k?X-Amz-Signature=***"
    assert redact_url(None) == ""
    err = error_from_response(_response(401, "{}", url="https://a.test/api/refresh?token=topsecret"))
    assert "topsecret" not in str(err) and "topsecret" not in err.url


def test_api_errors_pickle() -> None:
    err = error_from_response(_response(404, '{"detail": "nope"}', {"X-Request-ID": "r1"}))
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.NotFound
    assert str(again) == str(err)
    assert again.request_id == "r1"


def test_transport_errors_are_builtin_compatible() -> None:
    assert issubclass(errors.ApiTimeoutError, TimeoutError)
    assert issubclass(errors.ApiConnectionError, ConnectionError)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.TLSError, errors.ApiConnectionError)


def test_schema_error_names_fields_and_endpoint() -> None:
    err = errors.schema_error(
        "GET /jobs/{job_name}",
        {"status": ["Missing data for required field."], "jobs": {0: {"name": ["Not a valid string."]}}},
        request_id="r2",
    )
    assert err.endpoint == "GET /jobs/{job_name}"
    assert set(err.fields) == {"status", "jobs.0.name"}
    assert "GET /jobs/{job_name}" in str(err) and "status" in str(err) and "r2" in str(err)
