"""One configuration rule for every entry point: the argument, else AVATAR_*, else the default."""

from __future__ import annotations

from typing import Any, Dict
from urllib.parse import parse_qs

import pytest
import responses

from avatars import ApiClient, ClientConfig, ConfigurationError, Manager
from avatars.config import DEFAULT_TIMEOUT

from .conftest import login_body

API = "https://avatar.test/api"
OTHER = "https://other.test/api"


@pytest.fixture
def avatar_env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    values = {
        "AVATAR_BASE_API_URL": API,
        "AVATAR_API_KEY": "env-key-1",
        "AVATAR_TIMEOUT": "3,40",
        "AVATAR_SHOULD_VERIFY_SSL": "false",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.mark.filterwarnings("ignore::avatars.InsecureTLSWarning")
def test_api_client_without_arguments_reads_the_environment_like_manager(avatar_env: Dict[str, str]) -> None:
    client = ApiClient()
    with Manager() as manager:
        for c in (client, manager.auth_client, ApiClient.from_env()):
            assert c.base_url == API
            assert c.timeout == (3.0, 40.0)
            assert c.should_verify_ssl is False
            assert c.api_key_in_use
            assert c.config == client.config


@pytest.mark.filterwarnings("ignore::avatars.InsecureTLSWarning")
def test_each_argument_wins_over_its_variable_alone(avatar_env: Dict[str, str], rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{OTHER}/users/me", json={})
    client = ApiClient(OTHER, timeout=7)
    assert client.base_url == OTHER and client.timeout == 7.0
    assert client.should_verify_ssl is False  # not given: from AVATAR_SHOULD_VERIFY_SSL
    client.request("GET", "users/me")
    assert rsps.calls[0].request.headers["Authorization"] == "api-key-v1 env-key-1"
    explicit = ApiClient(api_key="arg-key-2", should_verify_ssl=True)
    assert explicit.base_url == API and explicit.should_verify_ssl is True
    assert explicit.config.api_key == "arg-key-2"
    assert Manager(OTHER, api_key="arg-key-2").auth_client.config.api_key == "arg-key-2"


def test_an_explicit_config_reads_nothing_from_the_environment(avatar_env: Dict[str, str]) -> None:
    client = ApiClient(config=ClientConfig(base_url=OTHER))
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.auth_strategy is None and not client.api_key_in_use


def test_from_env_takes_a_mapping_and_client_options() -> None:
    client = ApiClient.from_env(
        {"AVATAR_BASE_URL": "https://root.test", "AVATAR_API_KEY": "k-3"}, timeout=5, total_timeout=9
    )
    assert client.base_url == "https://root.test/api"
    assert client.timeout == 5.0 and client.total_timeout == 9
    assert client.config.api_key == "k-3"
    with pytest.raises(ConfigurationError, match="AVATAR_BASE_API_URL"):
        ApiClient.from_env({})


def test_bad_variables_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATAR_BASE_API_URL", API)
    monkeypatch.setenv("AVATAR_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="AVATAR_TIMEOUT"):
        ApiClient()
    with pytest.raises(ConfigurationError, match="AVATAR_TIMEOUT"):
        Manager()


def _login_form(rsps: responses.RequestsMock) -> Dict[str, str]:
    body = rsps.calls[-1].request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items() if k in ("username", "password")}


def test_authenticate_reads_username_and_password_variables(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    rsps.add(responses.POST, f"{API}/login", json=login_body("access-1", "refresh-1"))
    monkeypatch.setenv("AVATAR_BASE_API_URL", API)
    monkeypatch.setenv("AVATAR_USERNAME", "ada@example.com")
    monkeypatch.setenv("AVATAR_PASSWORD", "Pass-From-Env-1")
    client = ApiClient()
    assert "Pass-From-Env-1" not in repr(client.config) and "ada@example.com" in repr(client.config)
    client.authenticate()
    assert _login_form(rsps) == {"username": "ada@example.com", "password": "Pass-From-Env-1"}
    assert client.auth_tokens is not None and client.auth_tokens.access == "access-1"

    client.authenticate(password="Pass-Given-2")  # the argument wins, the other one from the variable
    assert _login_form(rsps) == {"username": "ada@example.com", "password": "Pass-Given-2"}

    with Manager(progress=False) as manager:
        manager.authenticate()
    assert _login_form(rsps)["password"] == "Pass-From-Env-1"
    assert len(rsps.calls) == 3


def test_authenticate_without_credentials_names_the_variables(rsps: responses.RequestsMock) -> None:
    client = ApiClient(API)
    with pytest.raises(ConfigurationError, match="AVATAR_USERNAME"):
        client.authenticate()
    with pytest.raises(ConfigurationError, match="AVATAR_PASSWORD"):
        client.authenticate("ada@example.com")
    assert len(rsps.calls) == 0


def test_api_key_wins_over_username_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATAR_USERNAME", "ada@example.com")
    monkeypatch.setenv("AVATAR_PASSWORD", "Pass-From-Env-1")
    client = ApiClient(API, api_key="k-4")
    assert client.api_key_in_use
    with pytest.raises(ConfigurationError, match="API key"):
        client.authenticate()


def test_empty_username_or_password_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="username"):
        ClientConfig(base_url=API, username="")
    cfg = ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_USERNAME": " ", "AVATAR_PASSWORD": ""})
    assert cfg.username is None and cfg.password is None


@pytest.mark.parametrize(
    "make", [lambda: ApiClient(API), ApiClient.from_env, lambda: Manager(API, progress=False).auth_client]
)
def test_an_explicit_login_wins_over_the_environments_api_key(
    make: Any, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    monkeypatch.setenv("AVATAR_BASE_API_URL", API)
    monkeypatch.setenv("AVATAR_API_KEY", "env-key-1")
    rsps.add(responses.POST, f"{API}/login", json=login_body("access-1", "refresh-1"))
    rsps.add(responses.GET, f"{API}/users/me", json={})
    client = make()
    assert client.api_key_in_use
    client.authenticate("ada@example.com", "pw")
    assert not client.api_key_in_use
    client.request("GET", "users/me")
    assert rsps.calls[-1].request.headers["Authorization"] == "Bearer access-1"
    assert "Authorization" not in rsps.calls[0].request.headers  # the login itself carries no key


def test_an_explicit_api_key_is_not_replaced_by_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVATAR_BASE_API_URL", API)
    for client in (
        ApiClient(api_key="k-5"),
        ApiClient.from_env(api_key="k-5"),
        ApiClient(config=ClientConfig(API, api_key="k-5")),
    ):
        with pytest.raises(ConfigurationError, match="API key"):
            client.authenticate("ada@example.com", "pw")
