"""Testing a script that uses ``avatars``, with the fixtures of the pytest plugin.

Run with ``python -m pytest docs/examples/test_with_avatars.py`` (needs
``avatars[server]`` and pytest).  Each test gets a fresh local server.
"""

import pytest

from avatars import ApiClient, ClientConfig, Manager, RateLimitError, ServerError


def count_finished_jobs(client: ApiClient) -> int:
    """The code under test: any function that takes a client."""
    return sum(1 for job in client.jobs.get_jobs() if job.succeeded)


def test_no_jobs_yet(avatar_client: ApiClient) -> None:
    assert count_finished_jobs(avatar_client) == 0


def test_a_whole_run(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("test-run", seed=1)
    runner.add_table("patients", [{"age": 20 + i % 50, "weight": 50 + i % 40} for i in range(30)])
    runner.set_parameters("patients", k=5)
    runner.run()
    runner.wait()
    assert len(runner.shuffled("patients")) == 30
    assert count_finished_jobs(avatar_manager.auth_client) == 5


def test_configuration_from_the_environment(avatar_env: dict) -> None:
    # Code that reads AVATAR_BASE_API_URL and AVATAR_API_KEY itself.
    with ApiClient(config=ClientConfig.from_env()) as client:
        assert client.users.get_me().email == "avatar-user@example.com"


@pytest.mark.avatar_server(access_token_lifetime=1)
def test_survives_token_expiry(avatar_client: ApiClient) -> None:
    import time

    time.sleep(2.1)  # the access token has expired (its exp is rounded up): the client refreshes it
    assert count_finished_jobs(avatar_client) == 0
    assert avatar_client.auth_strategy.refresh_count >= 1


def test_reports_rate_limits(avatar_api_key_client: ApiClient, avatar_server) -> None:
    avatar_server.admin.set_rate_limit("POST", "/api/jobs/bulk-delete", limit=0, window_seconds=60)
    with pytest.raises(RateLimitError) as caught:
        avatar_api_key_client.jobs.bulk_delete_jobs(["job-1"])
    assert caught.value.retry_after is not None


def test_gateway_errors(avatar_api_key_client: ApiClient, avatar_server) -> None:
    avatar_server.faults.status("GET", "/api/jobs", 503, count=10)
    with pytest.raises(ServerError):
        count_finished_jobs(avatar_api_key_client)
    assert avatar_server.count("GET", "/api/jobs") == 4  # the first try and 3 retries
