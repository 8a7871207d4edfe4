"""Connection reuse and credential hygiene across origins, on the local server.

Keep-alive: one client reuses one TCP connection, through error answers and
a token refresh; a client shared by threads opens at most one connection per
thread.  Redirects and result URLs that leave the API's origin carry neither
the ``Authorization`` header nor the API's ``avatar_session`` cookie.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any, List

import pytest

from avatars import (
    ApiClient,
    JobCreateRequest,
    NotFound,
    PermissionDenied,
)
from avatars.errors import RedirectRefusedError
from avatars.testing import LocalAvatarServer

from .conftest import SAMPLE, TIMEOUT, expire_access_token, store_dataset

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- keep-alive


def test_50_sequential_calls_use_one_connection(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    baseline = avatar_server.connections_opened
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        for i in range(50):
            step = i % 7
            if step == 0:
                c.users.get_me()
            elif step == 1:
                c.jobs.get_jobs()
            elif step == 2:
                c.health.get_health()
            elif step == 3:
                with pytest.raises(NotFound):  # error answers keep the connection too
                    c.request("GET", f"jobs/{uuid.uuid4()}")
            elif step == 4:
                with pytest.raises(NotFound):  # an unknown set
                    c.jobs.create_job(JobCreateRequest(uuid.uuid4(), "p", depends_on=["nope"]))
            elif step == 5:
                streamed = c.request("GET", "health", stream=True)  # a streamed body, read to the end
                assert streamed.content
                streamed.close()
            else:
                c.users.get_credits_info()
        assert avatar_server.connections_opened - baseline == 1
    records = list(avatar_server.log)
    assert len(records) == 50
    assert len({r.connection_id for r in records}) == 1


def test_a_token_refresh_reuses_the_connection(avatar_server: LocalAvatarServer, avatar_user: Any) -> None:
    baseline = avatar_server.connections_opened
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        expire_access_token(c, avatar_server, avatar_user)
        for _ in range(5):
            c.users.get_me()
    assert [(r.method, r.status) for r in avatar_server.log][:3] == [("GET", 401), ("POST", 200), ("GET", 200)]
    assert avatar_server.connections_opened - baseline == 1


def test_a_client_shared_by_8_threads_opens_at_most_8_connections(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    baseline = avatar_server.connections_opened
    errors: List[BaseException] = []
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        barrier = threading.Barrier(8)

        def work() -> None:
            barrier.wait()
            try:
                for _ in range(25):
                    c.users.get_me()
            except BaseException as exc:  # noqa: B036
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert avatar_server.count("GET", "/api/users/me") == 200
    opened = avatar_server.connections_opened - baseline
    assert 1 <= opened <= 8, opened


# --------------------------------------------------------------------------- other origins


def test_a_redirect_to_another_origin_carries_no_credentials(
    bearer: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    target = avatar_server.storage_base_url + "/api/users/me"  # same host and path, another port
    avatar_server.faults.redirect("GET", "/api/users/me", target)
    with pytest.raises(PermissionDenied) as info:
        bearer.users.get_me()  # the store refuses an unsigned request (S3 XML, 403 AccessDenied)
    assert "Access Denied" in str(info.value) or "AccessDenied" in str(info.value)
    hop = avatar_server.storage_log.last("GET", "/api/users/me")
    assert hop.status == 403
    assert not hop.had_authorization and hop.auth_scheme is None
    assert not hop.had_cookie
    # the original request did carry both, so the test can tell the difference
    first = avatar_server.log.last("GET", "/api/users/me")
    assert first.auth_scheme == "Bearer" and first.had_cookie and first.fault == "redirect"


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_within_the_api_origin_keeps_credentials(
    bearer: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any, status: int
) -> None:
    avatar_server.faults.redirect("GET", "/api/users/me", avatar_server.url("users/me"), status=status)
    assert bearer.users.get_me().email == avatar_user.email
    first, second = avatar_server.log.entries("GET", "/api/users/me")
    assert first.status == status and second.status == 200
    assert second.auth_scheme == "Bearer" and second.had_cookie
    assert avatar_server.storage_log.count() == 0


@pytest.mark.parametrize("scheme", ["Bearer", "api-key-v1"])
def test_a_307_post_redirect_to_another_origin_is_refused(
    avatar_server: LocalAvatarServer, avatar_user: Any, avatar_api_key: str, scheme: str
) -> None:
    """A 307 keeps the method and the body: neither the body nor the credentials
    go to another origin; the redirect is refused before anything is sent there."""
    with ApiClient(
        avatar_server.base_url, timeout=TIMEOUT, api_key=avatar_api_key if scheme != "Bearer" else None
    ) as c:
        if scheme == "Bearer":
            c.authenticate(avatar_user.email, avatar_user.password)
        avatar_server.faults.redirect(
            "POST", "/api/jobs/bulk-delete", avatar_server.storage_base_url + "/api/jobs/bulk-delete", status=307
        )
        with pytest.raises(RedirectRefusedError):
            c.jobs.bulk_delete_jobs(["a"])
    assert avatar_server.storage_log.entries("POST", "/api/jobs/bulk-delete") == []
    first = avatar_server.log.last("POST", "/api/jobs/bulk-delete")
    assert first.auth_scheme == scheme and first.had_cookie == (scheme == "Bearer")


def test_result_files_from_the_store_carry_no_api_credentials(
    bearer: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    dataset_id = store_dataset(bearer, SAMPLE)
    document = {
        "tables": [{"name": "t", "dataset_id": dataset_id}],
        "parameters": [{"name": "p", "table": "t", "k": 3}],
    }
    set_name = bearer.resources.put_resources("s", json.dumps(document)).set_name
    job = bearer.jobs.create_job(JobCreateRequest(set_name, "p"))
    assert avatar_server.wait_for_job(job.name, timeout=20) == "finished"
    url = bearer.results.get_results(job.name)["shuffled"][0]
    assert url.startswith(f"{avatar_server.base_url}/access?url=s3://avatars/")  # the platform's form
    assert avatar_server.log.last("GET", f"/api/results/{job.name}").had_cookie  # the jar holds the cookie

    result = bearer.results.download_file(url, tmp_path / "out.csv")
    assert result.bytes_written == (tmp_path / "out.csv").stat().st_size > 0
    assert (tmp_path / "out.csv").read_bytes().splitlines()[0] == SAMPLE.splitlines()[0]  # the table's columns
    grant = avatar_server.log.last("GET", "/api/access")
    assert grant.auth_scheme == "Bearer"
    hop = avatar_server.storage_log.last("GET")
    # the store gets a SigV4 signature, never the API's bearer token or cookie
    assert hop.status == 200 and hop.auth_scheme == "AWS4-HMAC-SHA256" and not hop.had_cookie
