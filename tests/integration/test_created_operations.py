"""The created-operation protocol over real sockets: the local server answers
201 + Location and 202 while pending (``server.operations.defer``); the client
follows it for any call, on the same road, and sends no credentials to a
Location on another origin."""

from __future__ import annotations

from typing import Iterator

import pytest

from avatars import ApiClient, ApiTimeoutError, NotFound
from avatars.testing import LocalAvatarServer

from .conftest import TIMEOUT


@pytest.fixture
def keyed(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as client:
        yield client


def test_a_call_is_followed_until_it_is_no_longer_pending(keyed: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.operations.defer("GET", "/api/users/me", polls=2)
    me = keyed.users.get_me()
    assert me.email == "avatar-user@example.com"
    calls = [(r.method, r.path.split("/")[2], r.status) for r in avatar_server.log.entries()]
    assert calls[-4:] == [("GET", "users", 201), ("GET", "operations", 202), ("GET", "operations", 202)] + [
        ("GET", "operations", 200)
    ]
    # same origin: the polls carry the call's credentials
    assert all(r.auth_scheme == "api-key-v1" for r in avatar_server.log.entries()[-4:])
    # the client announces that it speaks the protocol
    first = avatar_server.log.last("GET", "/api/users/me")
    assert dict(first.headers)["Avatars-Accept-Created"] == "yes"


def test_a_post_is_followed_without_resending_its_body(keyed: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.operations.defer("POST", "/api/api-keys", polls=1)
    created = keyed.api_keys.create_api_key("via-operation", 30)
    assert created.api_key.name == "via-operation"
    assert [k.name for k in keyed.api_keys.list_api_keys()].count("via-operation") == 1
    polls = [r for r in avatar_server.log.entries() if r.path.startswith("/api/operations/")]
    assert [r.method for r in polls] == ["GET", "GET"]


def test_a_location_on_another_origin_gets_no_credentials(keyed: ApiClient, avatar_server: LocalAvatarServer) -> None:
    other = f"http://localhost:{avatar_server.port}"  # the same server under another origin
    assert not avatar_server.base_url.startswith(other)
    avatar_server.operations.defer("GET", "/api/users/me", polls=1, origin=other)
    assert keyed.users.get_me().email == "avatar-user@example.com"
    entries = avatar_server.log.entries()
    assert entries[-3].path == "/api/users/me" and entries[-3].had_authorization
    assert [r.path.startswith("/api/operations/") for r in entries[-2:]] == [True, True]
    assert not any(r.had_authorization or r.had_cookie for r in entries[-2:])


def test_an_error_at_the_end_of_the_operation_is_raised(keyed: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.operations.defer("GET", "/api/jobs/*", polls=1)
    with pytest.raises(NotFound) as info:
        keyed.jobs.get_job_status("standard_0000000000000000")
    assert "/api/operations/" in str(info.value.url)


def test_polling_stops_at_the_call_budget(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT, total_timeout=0.5) as client:
        avatar_server.operations.defer("GET", "/api/users/me", polls=10_000)
        with pytest.raises(ApiTimeoutError) as info:
            client.users.get_me()
    assert "still pending" in str(info.value) or "budget" in str(info.value)


def test_without_the_header_the_answer_is_immediate(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    import requests

    avatar_server.operations.defer("GET", "/api/users/me", polls=1)
    plain = requests.get(avatar_server.url("/users/me"), headers={"Authorization": f"api-key-v1 {avatar_api_key}"})
    assert plain.status_code == 200
    accepted = requests.get(
        avatar_server.url("/users/me"),
        headers={"Authorization": f"api-key-v1 {avatar_api_key}", "Avatars-Accept-Created": "yes"},
        allow_redirects=False,
    )
    assert accepted.status_code == 201 and accepted.headers["Location"] == accepted.json()["Location"]
    location = accepted.headers["Location"]
    assert requests.get(location).status_code == 202
    assert requests.get(location).json()["email"] == "avatar-user@example.com"
    assert requests.get(location).status_code == 404  # delivered once
