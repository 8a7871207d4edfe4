from __future__ import annotations

import base64
import json
from typing import Any, Iterator, Optional

import pytest
import responses

from avatars import ApiClient

BASE = "https://avatar.test/api"
#: The header that the ``client`` fixture's API key puts on every request.
AUTH = {"Authorization": "api-key-v1 key-1"}
#: Every facade attribute of ApiClient.
FACADES = (
    "auth",
    "api_keys",
    "capabilities",
    "compatibility",
    "connections",
    "datasets",
    "event_logs",
    "health",
    "jobs",
    "openapi",
    "resources",
    "results",
    "users",
)


@pytest.fixture
def client() -> ApiClient:
    """A client with the API key that ``AUTH`` names."""
    return ApiClient(BASE, api_key="key-1")


def _record_file_bodies_as_sent(mock: responses.RequestsMock) -> None:
    """Make ``mock.calls`` hold a file-like body's bytes, read when it was sent.

    responses >= 0.24 does this itself; 0.23 (the newest that the oldest
    environment's requests 2.25 allows) records the file object, which the
    client has closed (or released) by the time a test reads ``rsps.calls``.
    """
    if hasattr(mock, "_read_filelike_body"):
        return
    on_request = mock._on_request

    def read_then_answer(adapter: Any, request: Any, **kwargs: Any) -> Any:
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)) and hasattr(body, "read"):
            request.body = body.read()
        return on_request(adapter, request, **kwargs)

    mock._on_request = read_then_answer  # type: ignore[method-assign]


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _record_file_bodies_as_sent(mock)
        yield mock


def make_jwt(exp: Optional[float] = None, iat: Optional[float] = None, sub: str = "user") -> str:
    """An unsigned-looking JWT whose payload the client may read (never verify)."""

    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims: dict = {"sub": sub}
    if exp is not None:
        claims["exp"] = exp
    if iat is not None:
        claims["iat"] = iat
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}.c2lnbmF0dXJl"


def login_body(access: str = "access-1", refresh: Optional[str] = "refresh-1") -> dict:
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer"}
