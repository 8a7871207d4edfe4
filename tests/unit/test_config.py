from __future__ import annotations

import pytest

from avatars import ApiClient, ClientConfig, ConfigurationError
from avatars.config import DEFAULT_TIMEOUT

API = "https://avatar.test/api"


def test_explicit_config_normalises_trailing_slash() -> None:
    cfg = ClientConfig(base_url=API + "/")
    assert cfg.base_url == API
    assert cfg.timeout == DEFAULT_TIMEOUT
    assert cfg.should_verify_ssl is None
    assert cfg.api_key is None


@pytest.mark.parametrize(
    "url, fragment",
    [
        ('"https://avatar.test/api"', "quotes"),
        ("'https://avatar.test/api'", "quotes"),
        ("avatar.test/api", "http:// or https://"),
        ("ftp://avatar.test/api", "http:// or https://"),
        ("https://avatar.test", "must end with /api"),
        ("https://avatar.test/v1", "did you mean https://avatar.test/v1/api"),
        ("https://user:pw@avatar.test/api", "credentials"),
        ("https://avatar.test/api?x=1", "query"),
        ("", "empty"),
        ("https://avatar.test:99999/api", "not a valid URL"),
    ],
)
def test_bad_base_urls_are_rejected_clearly(url: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(base_url=url)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_credentials_in_base_url_are_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(base_url="https://user:hunter2@avatar.test/api")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("key", ["", "   ", " abc", "abc\n", "a b"])
def test_bad_api_keys(key: str) -> None:
    with pytest.raises(ConfigurationError):
        ClientConfig(base_url=API, api_key=key)


@pytest.mark.parametrize("timeout", [0, -1, (1, 0), (1, 2, 3), "10", True])
def test_bad_timeouts(timeout: object) -> None:
    with pytest.raises(ConfigurationError):
        ClientConfig(base_url=API, timeout=timeout)  # type: ignore[arg-type]


def test_repr_hides_api_key() -> None:
    cfg = ClientConfig(base_url=API, api_key="very-secret-key")
    assert "very-secret-key" not in repr(cfg)
    assert "api_key='***'" in repr(cfg)


def test_from_env_reads_platform_names() -> None:
    env = {
        "AVATAR_BASE_API_URL": API,
        "AVATAR_API_KEY": "k-123",
        "AVATAR_TIMEOUT": "5,120",
        "AVATAR_SHOULD_VERIFY_SSL": "false",
    }
    cfg = ClientConfig.from_env(env)
    assert cfg.base_url == API
    assert cfg.api_key == "k-123"
    assert cfg.timeout == (5.0, 120.0)
    assert cfg.should_verify_ssl is False


def test_from_env_base_url_root_gets_api_appended() -> None:
    cfg = ClientConfig.from_env({"AVATAR_BASE_URL": "https://avatar.test/"})
    assert cfg.base_url == API


def test_from_env_root_url_that_already_ends_in_api_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="AVATAR_BASE_API_URL"):
        ClientConfig.from_env({"AVATAR_BASE_URL": API})


def test_from_env_both_urls_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="both"):
        ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_BASE_URL": "https://avatar.test"})


def test_from_env_nothing_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no base URL"):
        ClientConfig.from_env({})


def test_explicit_values_win_over_environment() -> None:
    env = {"AVATAR_BASE_API_URL": API, "AVATAR_API_KEY": "env-key", "AVATAR_TIMEOUT": "3"}
    cfg = ClientConfig.from_env(env, base_url="https://other.test/api", api_key="explicit", timeout=9)
    assert cfg.base_url == "https://other.test/api"
    assert cfg.api_key == "explicit"
    assert cfg.timeout == 9.0


def test_from_env_single_number_timeout_and_bad_values() -> None:
    assert ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_TIMEOUT": "30"}).timeout == 30.0
    with pytest.raises(ConfigurationError, match="AVATAR_TIMEOUT"):
        ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_TIMEOUT": "soon"})
    with pytest.raises(ConfigurationError, match="AVATAR_SHOULD_VERIFY_SSL"):
        ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_SHOULD_VERIFY_SSL": "maybe"})
    with pytest.raises(ConfigurationError, match="AVATAR_API_KEY"):
        ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_API_KEY": "  "})


def test_from_env_verify_accepts_ca_bundle_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = ClientConfig.from_env({"AVATAR_BASE_API_URL": API, "AVATAR_SHOULD_VERIFY_SSL": str(bundle)})
    assert cfg.should_verify_ssl == str(bundle)


def test_missing_ca_bundle_path_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        ClientConfig(base_url=API, should_verify_ssl="/nonexistent/ca.pem")


def test_with_changes_revalidates() -> None:
    cfg = ClientConfig(base_url=API)
    assert cfg.with_changes(timeout=3).timeout == 3.0
    with pytest.raises(ConfigurationError):
        cfg.with_changes(base_url="nope")


# ---------------------------------------------------------------- ApiClient construction


def test_config_and_explicit_values_conflict_names_them() -> None:
    cfg = ClientConfig(base_url=API)
    with pytest.raises(ConfigurationError) as info:
        ApiClient(API, config=cfg, api_key="k", timeout=3)
    message = str(info.value)
    assert "base_url" in message and "api_key" in message and "timeout" in message
    assert "should_verify_ssl" not in message


def test_no_base_url_nor_config_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no base URL: pass base_url=.*AVATAR_BASE_API_URL"):
        ApiClient()


def test_client_exposes_documented_attributes() -> None:
    client = ApiClient(API + "/", timeout=(2, 30), verify_auth=False)
    assert client.base_url == API
    assert client.timeout == (2.0, 30.0)
    assert client.should_verify_ssl is True
    assert client.verify_auth is False
    client.close()


def test_client_from_config() -> None:
    client = ApiClient(config=ClientConfig(base_url=API, api_key="abc", timeout=7))
    assert client.timeout == 7.0
    assert client.api_key_in_use
    assert "abc" not in repr(client)
    client.close()


def test_wrong_types_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        ApiClient(API, http_client=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ApiClient(config={"base_url": API})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ApiClient(API, api_key="")
    with pytest.raises(ConfigurationError):
        ApiClient(API, total_timeout=0)


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), (1.0, float("nan")), (float("inf"), 2.0)])
def test_non_finite_timeouts_are_refused(timeout: object) -> None:
    with pytest.raises(ConfigurationError):
        ApiClient("https://h/api", timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("budget", ["3", float("nan"), float("inf"), 0, -1, True])
def test_bad_total_timeouts_are_refused_at_the_boundary(budget: object) -> None:
    with pytest.raises(ConfigurationError):
        ApiClient("https://h/api", total_timeout=budget)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ClientConfig(base_url="https://h/api", total_timeout=budget)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ApiClient("https://h/api").request("GET", "health", auth_required=False, total_timeout=budget)  # type: ignore[arg-type]


def test_every_client_has_a_finite_default_budget() -> None:
    from avatars._deadline import DEFAULT_TOTAL_TIMEOUT

    assert ApiClient("https://h/api").total_timeout == DEFAULT_TOTAL_TIMEOUT == 300.0
    assert ApiClient(config=ClientConfig(base_url="https://h/api", total_timeout=12)).total_timeout == 12.0
    assert ApiClient("https://h/api", total_timeout=7).total_timeout == 7.0


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("https://h.example/api/v2", "did you mean https://h.example/api ?"),
        ("https://h.example/api/jobs/", "did you mean https://h.example/api ?"),
        ("https://h.example", "did you mean https://h.example/api ?"),
        ("https://h.example/avatar", "did you mean https://h.example/avatar/api ?"),
    ],
)
def test_a_base_url_without_api_gets_a_correct_hint(url: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(base_url=url)
    assert hint in str(info.value)
    assert "/api/v2/api" not in str(info.value)
