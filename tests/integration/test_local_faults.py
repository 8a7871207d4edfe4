"""Injected faults on the local server, over real sockets.

Every fault must end in a typed :class:`avatars.errors.AvatarError` (never a raw
``requests``/``urllib3``/``json`` exception, never a hang) or in a correct,
bounded retry.  What went over the wire is read from the server's request log.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Type, TypeVar

import pytest
import requests
import urllib3

from avatars import (
    ApiClient,
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    AvatarError,
    JobCreateRequest,
    RateLimitError,
    ResponseDecodeError,
    SchemaError,
    ServerError,
)
from avatars.testing import LocalAvatarServer

from .conftest import SAMPLE, TIMEOUT, store_dataset

pytestmark = pytest.mark.integration


E = TypeVar("E", bound=BaseException)

RAW_EXCEPTIONS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    json.JSONDecodeError,
    http.client.HTTPException,
    KeyError,
)


def expect(cls: Type[E], call: Callable[..., Any], *args: Any, **kwargs: Any) -> E:
    """Run ``call``; it must raise ``cls``, an AvatarError that is no raw library exception."""
    try:
        call(*args, **kwargs)
    except BaseException as exc:  # noqa: B036 - we inspect whatever comes out
        assert isinstance(exc, AvatarError), f"not an AvatarError: {type(exc).__mro__}: {exc}"
        assert not isinstance(exc, RAW_EXCEPTIONS), f"a raw library exception escaped: {type(exc).__mro__}"
        assert type(exc).__module__.startswith("avatars."), type(exc)
        assert isinstance(exc, cls), f"expected {cls.__name__}, got {type(exc).__name__}: {exc}"
        return exc
    pytest.fail(f"{cls.__name__} was not raised")


def make_set(client: ApiClient, k: int = 5) -> uuid.UUID:
    document = {
        "tables": [{"name": "patients", "dataset_id": store_dataset(client, SAMPLE), "primary_key": "patient_id"}],
        "parameters": [{"name": "main", "table": "patients", "k": k, "seed": 1}],
    }
    return client.resources.put_resources(f"set-{uuid.uuid4().hex[:8]}", json.dumps(document)).set_name


def wait_for_log(server: LocalAvatarServer, method: str, path: str, count: int, timeout: float = 5.0) -> None:
    """A delayed request is logged once the server decides its status; wait for that."""
    deadline = time.monotonic() + timeout
    while server.count(method, path) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def free_closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- connection level


def test_connection_refused_is_a_typed_error_quickly() -> None:
    port = free_closed_port()
    with ApiClient(f"http://127.0.0.1:{port}/api", api_key="k" * 20, timeout=TIMEOUT) as c:
        started = time.monotonic()
        err = expect(ApiConnectionError, c.users.get_me)
        elapsed = time.monotonic() - started
    assert "refused" in str(err)
    assert err.method == "GET" and err.url.endswith("/api/users/me")
    assert "k" * 20 not in str(err)
    # the default policy retries a refused connect a few times with backoff, boundedly
    assert elapsed < 8, elapsed


@pytest.mark.parametrize("rst", [False, True], ids=["close", "reset"])
def test_drop_before_response_on_get_is_retried(
    client: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any, rst: bool
) -> None:
    avatar_server.faults.drop_before("GET", "/api/users/me", rst=rst)
    me = client.users.get_me()
    assert me.email == avatar_user.email
    records = avatar_server.log.entries("GET", "/api/users/me")
    assert [(r.status, r.fault) for r in records] == [(None, "drop_before"), (200, None)]


def test_drop_before_response_on_post_jobs_is_not_retried(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    set_name = make_set(client)
    avatar_server.faults.drop_before("POST", "/api/jobs")
    err = expect(ApiConnectionError, client.jobs.create_job, JobCreateRequest(set_name, "main"))
    assert err.method == "POST"
    assert avatar_server.count("POST", "/api/jobs") == 1
    assert avatar_server.store.jobs == {}
    # the client is still usable afterwards (the broken connection was discarded)
    assert client.jobs.get_jobs().jobs == []


def test_drop_mid_body_on_get_is_retried_or_a_connection_error(
    client: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    avatar_server.faults.drop_mid_body("GET", "/api/users/me")
    try:
        me = client.users.get_me()
    except BaseException as exc:  # noqa: B036
        assert isinstance(exc, ApiConnectionError) and not isinstance(exc, RAW_EXCEPTIONS), repr(exc)
        assert avatar_server.count("GET", "/api/users/me") == 1
    else:
        assert me.email
        assert avatar_server.count("GET", "/api/users/me") == 2
    assert client.users.get_me().email  # and the next call works


def test_drop_mid_body_on_post_is_never_resent(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    set_name = make_set(client)
    avatar_server.faults.drop_mid_body("POST", "/api/jobs")
    expect(ApiConnectionError, client.jobs.create_job, JobCreateRequest(set_name, "main"))
    assert avatar_server.count("POST", "/api/jobs") == 1
    assert len(avatar_server.store.jobs) == 1  # the job exists once: the answer was lost, not the call


def test_drop_mid_body_of_a_download_leaves_no_file(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    content = os.urandom(3 * 1024 * 1024)
    location = client.datasets.upload(content, f"{uuid.uuid4()}.bin").location
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous content")
    # every attempt and every resume with Range is cut short
    avatar_server.faults.drop_mid_body("GET", "*/avatars/*", fraction=0.4, count=20)
    expect(ApiConnectionError, client.datasets.download, location, target)
    assert target.read_bytes() == b"previous content"  # replaced only by a complete download
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temporary file left behind
    avatar_server.admin.clear_faults()
    result = client.datasets.download(location, target)
    assert result.sha256 == hashlib.sha256(content).hexdigest() and result.bytes_written == len(content)  # type: ignore[union-attr]
    assert target.read_bytes() == content


def test_a_connection_dropped_on_every_attempt_gives_up_boundedly(
    client: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    avatar_server.faults.drop_before("GET", "/api/users/me", count=50)
    started = time.monotonic()
    err = expect(ApiConnectionError, client.users.get_me)
    elapsed = time.monotonic() - started
    assert "closed before an answer" in str(err) or "gave up" in str(err)
    assert avatar_server.count("GET", "/api/users/me") == 4  # the first attempt and 3 retries
    assert elapsed < 6, elapsed


# --------------------------------------------------------------------------- timeouts


def test_read_timeout_on_post_is_a_timeout_error_and_not_resent(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=(2, 0.3)) as c:
        avatar_server.faults.delay("POST", "/api/jobs/bulk-delete", seconds=1.2)
        started = time.monotonic()
        err = expect(ApiTimeoutError, c.jobs.bulk_delete_jobs, ["nope"])
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert isinstance(err, TimeoutError)
    assert "0.3" in str(err)
    wait_for_log(avatar_server, "POST", "/api/jobs/bulk-delete", 1)
    time.sleep(0.2)
    assert avatar_server.count("POST", "/api/jobs/bulk-delete") == 1


def test_read_timeout_on_get_gives_up_within_a_bounded_time(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    avatar_server.faults.delay("GET", "/api/users/me", seconds=3, count=10)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=(2, 0.3)) as c:
        started = time.monotonic()
        expect(ApiTimeoutError, c.users.get_me)
        elapsed = time.monotonic() - started
    # at most 1 + 3 retries of 0.3 s each, plus the default backoff (0 + 1 + 2 s)
    assert elapsed < 6.5, elapsed


def test_total_timeout_bounds_a_call_whose_attempts_all_time_out(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    avatar_server.faults.delay("GET", "/api/users/me", seconds=5, count=10)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=(5, 5), total_timeout=1.0) as c:
        started = time.monotonic()
        err = expect(ApiTimeoutError, c.users.get_me)
        elapsed = time.monotonic() - started
    assert "total budget" in str(err)
    # the budget is for the whole call, retries included
    assert elapsed < 2.5, f"a 1 s total_timeout took {elapsed:.1f} s"


def test_trickle_is_cut_by_total_timeout(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    size = len(requests.get(avatar_server.url("openapi.json"), timeout=5).content)
    interval = 0.05
    assert size / 4 * interval > 20  # the trickle alone would take more than 20 s
    avatar_server.reset_log()
    avatar_server.faults.trickle("GET", "/api/openapi.json", chunk_size=4, interval=interval)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=(2, 5), total_timeout=1.0) as c:
        started = time.monotonic()
        err = expect(ApiTimeoutError, c.openapi.get_openapi_schema)
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, elapsed
        assert "total budget of 1 s" in str(err)
        assert c.openapi.get_openapi_schema()["paths"]  # the fault is spent; the client still works


def test_total_timeout_bounds_a_trickling_download(
    avatar_server: LocalAvatarServer, avatar_api_key: str, tmp_path: Path
) -> None:
    payload = os.urandom(32 * 1024)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=(2, 5), total_timeout=1.0) as c:
        location = c.datasets.upload(payload, f"{uuid.uuid4()}.bin").location
        # 64 pauses of 0.05 s: more than 3 s for the whole body
        avatar_server.faults.trickle("GET", "*/avatars/*", chunk_size=512, interval=0.05)
        target = tmp_path / "slow.bin"
        started = time.monotonic()
        expect(ApiTimeoutError, c.datasets.download, location, target)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"a 1 s total_timeout let a download run {elapsed:.1f} s"
    assert not target.exists() and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- gateway errors


@pytest.mark.parametrize("code", [502, 503, 504])
def test_short_gateway_burst_on_get_is_retried(client: ApiClient, avatar_server: LocalAvatarServer, code: int) -> None:
    avatar_server.faults.status("GET", "/api/users/me", code=code, count=1)
    assert client.users.get_me().email
    assert [r.status for r in avatar_server.log.entries("GET", "/api/users/me")] == [code, 200]


def test_two_503_then_success_within_the_retry_budget(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.status("GET", "/api/jobs", code=503, count=2)
    started = time.monotonic()
    assert client.jobs.get_jobs().jobs == []
    assert time.monotonic() - started < 4
    assert [r.status for r in avatar_server.log.entries("GET", "/api/jobs")] == [503, 503, 200]


def test_gateway_burst_longer_than_the_retry_budget_is_a_readable_server_error(
    client: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    avatar_server.faults.status("GET", "/api/jobs", code=502, count=20)
    started = time.monotonic()
    err = expect(ServerError, client.jobs.get_jobs)
    elapsed = time.monotonic() - started
    assert err.status_code == 502
    assert "502 Bad Gateway" in err.detail
    assert "<" not in str(err) and "nginx" not in err.detail.split("Bad Gateway")[0]
    attempts = avatar_server.count("GET", "/api/jobs")
    assert 2 <= attempts <= 4  # retried, boundedly
    assert elapsed < 8, elapsed


@pytest.mark.parametrize("code,reason", [(502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout")])
def test_gateway_error_on_post_is_raised_at_once(
    client: ApiClient, avatar_server: LocalAvatarServer, code: int, reason: str
) -> None:
    set_name = make_set(client)
    avatar_server.faults.status("POST", "/api/jobs", code=code, count=5)
    started = time.monotonic()
    err = expect(ServerError, client.jobs.create_job, JobCreateRequest(set_name, "main"))
    assert time.monotonic() - started < 1.0
    assert err.status_code == code and err.method == "POST"
    assert reason in str(err) and "<html>" not in str(err)
    assert err.request_id == avatar_server.log.last("POST", "/api/jobs").request_id
    assert avatar_server.count("POST", "/api/jobs") == 1
    assert avatar_server.store.jobs == {}


def test_retry_after_on_503_is_honoured(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.status("GET", "/api/users/me", code=503, retry_after=1, count=1)
    started = time.monotonic()
    assert client.users.get_me().email
    elapsed = time.monotonic() - started
    first, second = avatar_server.log.entries("GET", "/api/users/me")
    assert (first.status, second.status) == (503, 200)
    assert second.timestamp - first.timestamp >= 0.9
    assert elapsed < 3.0, elapsed


# --------------------------------------------------------------------------- bad bodies


def test_truncated_json_is_a_decode_error(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.truncated_json("GET", "/api/users/me")
    err = expect(ResponseDecodeError, client.users.get_me)
    assert err.status_code == 200
    assert err.request_id == avatar_server.log.last("GET", "/api/users/me").request_id
    assert "JSON" in str(err)
    assert avatar_server.count("GET", "/api/users/me") == 1


def test_invalid_json_is_a_decode_error(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.invalid_json("GET", "/api/jobs")
    err = expect(ResponseDecodeError, client.jobs.get_jobs)
    assert "not valid JSON" in str(err) and err.method == "GET"
    assert client.jobs.get_jobs().jobs == []


def test_wrong_schema_names_the_field_and_the_endpoint(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.wrong_schema("GET", "/api/users/me")
    err = expect(SchemaError, client.users.get_me)
    assert err.endpoint == "GET /users/me"
    assert {"id", "email"} <= set(err.fields)
    assert "GET /users/me" in str(err) and "email" in str(err)
    assert err.request_id == avatar_server.log.last("GET", "/api/users/me").request_id


def test_wrong_schema_of_a_job_list(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.faults.wrong_schema("GET", "/api/jobs")
    err = expect(SchemaError, client.jobs.get_jobs)
    assert err.endpoint == "GET /jobs" and "jobs" in err.fields


# --------------------------------------------------------------------------- 401 storms


@pytest.fixture
def bearer_client(bearer: ApiClient, avatar_server: LocalAvatarServer) -> ApiClient:
    """The conftest's ``bearer`` client, with the server's log cleared after the login."""
    avatar_server.reset_log()
    return bearer


def test_401_storm_on_one_route_refreshes_exactly_once(
    bearer_client: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    body = {"detail": {"message": "credentials expired"}}
    avatar_server.faults.status_code("GET", "/api/users/me", 401, body, count=50)
    err = expect(AuthenticationError, bearer_client.users.get_me)
    assert err.status_code == 401
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert avatar_server.count("GET", "/api/users/me") == 2
    assert "credentials expired" in str(err)
    avatar_server.faults.clear()
    assert bearer_client.users.get_me().email  # the refreshed token works
    assert avatar_server.count("POST", "/api/refresh") == 1


def test_401_storm_everywhere_ends_the_session_without_a_refresh_loop(
    bearer_client: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    avatar_server.faults.status_code("*", "/api/*", 401, {"detail": "Not authenticated"}, count=1000)
    err = expect(AuthenticationError, bearer_client.users.get_me)
    assert "authenticate again" in str(err)
    assert avatar_server.count("POST", "/api/refresh") == 1
    for _ in range(3):
        again = expect(AuthenticationError, bearer_client.jobs.get_jobs)
        assert "authenticate again" in str(again)
    assert avatar_server.count("POST", "/api/refresh") == 1


# --------------------------------------------------------------------------- rate limits


def test_429_on_get_is_a_rate_limit_error_with_retry_after(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.admin.set_rate_limit("GET", "/api/users/me", 1, 2)
    client.users.get_me()
    started = time.monotonic()
    err = expect(RateLimitError, client.users.get_me)
    assert time.monotonic() - started < 1.0  # raised, not silently waited for
    assert err.status_code == 429
    assert err.retry_after is not None and 1 <= err.retry_after <= 2
    assert "retry after" in str(err)
    assert [r.status for r in avatar_server.log.entries("GET", "/api/users/me")] == [200, 429]


def test_429_on_post_is_a_rate_limit_error(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    avatar_server.admin.set_rate_limit("POST", "/api/jobs/bulk-delete", 1, 3)
    client.jobs.bulk_delete_jobs(["a"])
    err = expect(RateLimitError, client.jobs.bulk_delete_jobs, ["b"])
    assert err.retry_after is not None and 1 <= err.retry_after <= 3
    assert avatar_server.count("POST", "/api/jobs/bulk-delete") == 2


def test_rate_limit_wait_retries_a_get_after_waiting(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    avatar_server.admin.set_rate_limit("GET", "/api/users/me", 1, 1)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT, rate_limit_wait=5) as c:
        c.users.get_me()
        started = time.monotonic()
        assert c.users.get_me().email
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 4, elapsed
    assert [r.status for r in avatar_server.log.entries("GET", "/api/users/me")] == [200, 429, 200]


def test_rate_limit_wait_retries_a_post_job_creation_once(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT, rate_limit_wait=5) as c:
        set_name = make_set(c)
        avatar_server.admin.set_rate_limit("POST", "/api/jobs", 1, 1)
        c.jobs.create_job(JobCreateRequest(set_name, "main"))
        started = time.monotonic()
        created = c.jobs.create_job(JobCreateRequest(set_name, "main"))
        assert time.monotonic() - started >= 0.5
    assert created.name in avatar_server.store.jobs
    assert len(avatar_server.store.jobs) == 2
    assert [r.status for r in avatar_server.log.entries("POST", "/api/jobs")] == [200, 429, 200]


def test_rate_limit_wait_too_short_raises_without_sleeping(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    avatar_server.admin.set_rate_limit("POST", "/api/jobs/bulk-delete", 1, 3)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT, rate_limit_wait=0.5) as c:
        c.jobs.bulk_delete_jobs(["a"])
        started = time.monotonic()
        expect(RateLimitError, c.jobs.bulk_delete_jobs, ["b"])
        assert time.monotonic() - started < 0.5
    assert avatar_server.count("POST", "/api/jobs/bulk-delete") == 2
