"""The pytest plugin's fixtures, used the way a user of the library would."""

from __future__ import annotations

import pytest

from avatars import ApiClient, ClientConfig, Manager
from avatars.testing import LocalAvatarServer


def test_avatar_client_is_logged_in(avatar_client: ApiClient, avatar_user) -> None:  # type: ignore[no-untyped-def]
    me = avatar_client.users.get_me()
    assert me.email == avatar_user.email
    assert avatar_client.auth_tokens is not None


def test_avatar_api_key_client(avatar_api_key_client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    assert avatar_api_key_client.jobs.get_jobs().jobs == []
    assert avatar_server.log.last("GET", "/api/jobs").auth_scheme == "api-key-v1"


def test_avatar_env_feeds_client_config(avatar_env: dict, avatar_server: LocalAvatarServer) -> None:
    config = ClientConfig.from_env()
    assert config.base_url == avatar_server.base_url
    with ApiClient(config=config) as client:
        assert client.users.get_me().email


def test_avatar_manager(avatar_manager: Manager) -> None:
    assert avatar_manager.get_health().message == "ok"
    assert avatar_manager.get_last_jobs(5) == {}


@pytest.mark.avatar_server(access_token_lifetime=1)
def test_marker_configures_the_server(avatar_server: LocalAvatarServer) -> None:
    assert avatar_server.settings.access_token_lifetime == 1


def test_each_test_gets_a_fresh_server(avatar_server: LocalAvatarServer) -> None:
    assert avatar_server.count() == 0
    assert avatar_server.admin.find_user("avatar-user@example.com") is None
