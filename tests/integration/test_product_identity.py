"""The client names itself honestly, and the platform's 'unknown' verdict blocks nothing."""

from __future__ import annotations

import pytest

from avatars import ApiClient, CompatibilityStatus, __version__
from avatars._version import DISTRIBUTION
from avatars.testing import LocalAvatarServer

pytestmark = pytest.mark.integration


def test_unknown_client_verdict_never_blocks_work(
    avatar_server: LocalAvatarServer,
    avatar_user,
    avatar_api_key: str,  # type: ignore[no-untyped-def]
) -> None:
    avatar_server.admin.set_min_client_version("99.0.0")
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        verdict = client.compatibility.is_client_compatible()
        assert verdict.status is CompatibilityStatus.unknown
        assert client.jobs.get_jobs().jobs == []  # the verdict is advice, not a gate
    with ApiClient(avatar_server.base_url) as bearer:
        bearer.authenticate(avatar_user.email, avatar_user.password)
        assert bearer.users.get_me().email == avatar_user.email
    agents = {record.header("User-Agent") or "" for record in avatar_server.log}
    assert agents and all(agent.startswith(f"{DISTRIBUTION}/{__version__} requests/") for agent in agents)
    assert not any("avatar-python" in agent for agent in agents)


@pytest.fixture
def shell_with_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATAR_BASE_API_URL", "https://production.invalid/api")
    monkeypatch.setenv("AVATAR_API_KEY", "Prod-Key-Not-For-Tests")


def test_plugin_clients_talk_to_their_server_whatever_the_shell_says(
    shell_with_production_settings: None,
    avatar_server: LocalAvatarServer,
    avatar_client: ApiClient,
    avatar_api_key_client: ApiClient,
) -> None:
    for client in (avatar_client, avatar_api_key_client):
        assert client.base_url == avatar_server.base_url
        assert client.users.get_me().email
    assert not any("Prod-Key" in (r.header("Authorization") or "") for r in avatar_server.log)
