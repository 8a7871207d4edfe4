"""The default retry policy versus a caller's own, against real faults on the local server."""

from __future__ import annotations

import json
import time

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from avatars import ApiClient, AvatarSession, ServerError, default_retry
from avatars.models import JobCreateRequest
from avatars.testing import LocalAvatarServer

from .conftest import store_dataset

pytestmark = pytest.mark.integration


def test_default_policy_retries_idempotent_gateway_errors(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    avatar_server.faults.status("GET", "/api/jobs", 503, count=2)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        assert client.jobs.get_jobs().jobs == []
    assert avatar_server.count("GET", "/api/jobs") == 3


def test_callers_own_retry_wins_over_ours(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    avatar_server.faults.status("GET", "/api/jobs", 503, count=2)
    session = requests.Session()
    mine = Retry(total=0, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=mine))
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, http_client=session) as client:
        with pytest.raises(ServerError) as info:
            client.jobs.get_jobs()
    assert info.value.status_code == 503
    assert avatar_server.count("GET", "/api/jobs") == 1  # our policy was not added on top
    assert session.adapters["http://"].max_retries is mine


def test_callers_retry_may_retry_posts_if_they_say_so(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    """Their policy, their choice: a Retry that allows POST on 503 is honoured as given."""
    avatar_server.faults.status("POST", "/api/jobs", 503, count=1)
    session = requests.Session()
    session.mount(
        "http://",
        HTTPAdapter(max_retries=Retry(total=2, status_forcelist=[503], allowed_methods=None, backoff_factor=0)),
    )
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, http_client=session) as client:
        dataset_id = store_dataset(client, b"a,b\n1,2\n3,4\n")
        doc = json.dumps(
            {
                "tables": [{"name": "t", "dataset_id": dataset_id, "primary_key": None}],
                "parameters": [{"name": "t", "table": "t", "k": 1, "ncp": None, "seed": 1}],
            }
        )
        resource = client.resources.put_resources("retry-set", doc)
        client.jobs.create_job(JobCreateRequest(set_name=resource.set_name, parameters_name="t"))
    assert avatar_server.count("POST", "/api/jobs") == 2


def test_default_policy_never_retries_a_post_on_503(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    avatar_server.faults.status("POST", "/api/jobs", 503, count=1)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        with pytest.raises(ServerError):
            client.jobs.create_job(
                JobCreateRequest(set_name="00000000-0000-0000-0000-000000000001", parameters_name="t")
            )
    assert avatar_server.count("POST", "/api/jobs") == 1


def test_retry_after_is_honoured_and_capped(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    avatar_server.faults.status("GET", "/api/health", 503, count=1, retry_after=1)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        started = time.monotonic()
        client.health.get_health()
        waited = time.monotonic() - started
    assert 0.9 <= waited < 5
    assert avatar_server.count("GET", "/api/health") == 2

    capped = AvatarSession(avatar_server.base_url, retry=default_retry(max_retry_after=0.2))
    avatar_server.faults.status("GET", "/api/health", 503, count=1, retry_after=3600)
    with ApiClient(avatar_server.base_url, http_client=capped) as client:
        started = time.monotonic()
        client.health.get_health()
        assert time.monotonic() - started < 3  # not an hour
    capped.close()


def test_retries_are_bounded(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    avatar_server.faults.status("GET", "/api/jobs", 502, count=50)
    session = AvatarSession(avatar_server.base_url, retry=default_retry(total=3, backoff_factor=0))
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, http_client=session) as client:
        with pytest.raises(ServerError) as info:
            client.jobs.get_jobs()
    assert info.value.status_code == 502
    assert "Bad Gateway" in str(info.value)
    assert avatar_server.count("GET", "/api/jobs") == 4  # one try and three retries
    session.close()


def test_a_rate_limited_get_is_not_retried_by_the_default_policy(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    from avatars import RateLimitError

    avatar_server.admin.set_rate_limit("GET", "/api/jobs", 1, 60)
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        client.jobs.get_jobs()
        with pytest.raises(RateLimitError) as info:
            client.jobs.get_jobs()
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert avatar_server.count("GET", "/api/jobs") == 2  # urllib3 did not wait and retry on its own


def test_total_timeout_bounds_a_trickling_download(
    avatar_server: LocalAvatarServer, avatar_api_key: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from avatars import ApiTimeoutError

    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        location = client.datasets.upload(b"a,b\n" + b"1,2\n" * 2000, "slow.csv").location
    avatar_server.faults.trickle("GET", "*/avatars/*", chunk_size=64, interval=0.05)
    target = tmp_path / "slow.csv"
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, total_timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(ApiTimeoutError, match="total budget of 0.5 s"):
            client.datasets.download(location, target, timeout=5)
        assert time.monotonic() - started < 3  # the trickle alone would take ~6 s
        assert not target.exists() and list(tmp_path.iterdir()) == []
        # the pool is healthy afterwards
        assert client.health.get_health().message == "ok"
