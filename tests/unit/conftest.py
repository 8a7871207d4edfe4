from __future__ import annotations

import base64
import json
import time
from typing import Iterator, Optional

import pytest
import responses

BASE = "https://avatar.test/api"


@pytest.fixture
def base_url() -> str:
    return BASE


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
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


@pytest.fixture
def now() -> float:
    return time.time()
