"""``AvatarSession.merge_environment_settings`` reads the proxy variables
through a cache; it must give exactly what requests' own code gives, for every
environment, URL, call setting and session setting, and see a change of the
environment at the very next call."""

from __future__ import annotations

import itertools
import sys
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from avatars import session as session_module
from avatars.session import AvatarSession

VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "no_proxy", "REQUEST_METHOD"]
BUNDLES = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]

ENVIRONMENTS: List[Dict[str, str]] = [
    {},
    {"HTTP_PROXY": "http://proxy.test:3128"},
    {"HTTP_PROXY": "http://proxy.test:3128", "HTTPS_PROXY": "http://secure.test:3129"},
    {"http_proxy": "http://lower.test:1", "HTTP_PROXY": "http://upper.test:2"},
    {"HTTPS_PROXY": "http://secure.test:3129", "NO_PROXY": "127.0.0.1,.example.com"},
    {"ALL_PROXY": "socks5://all.test:1080", "no_proxy": "api.example.com:8443"},
    {"HTTP_PROXY": "http://proxy.test:3128", "NO_PROXY": "*"},
    {"HTTP_PROXY": "http://proxy.test:3128", "REQUEST_METHOD": "GET"},  # CGI: HTTP_PROXY is ignored
    {"HTTP_PROXY": "http://proxy.test:3128", "no_proxy": "10.0.0.0/8"},
]
URLS = [
    "http://127.0.0.1:8000/api/jobs",
    "https://api.example.com/api/jobs?x=1",
    "https://api.example.com:8443/api",
    "http://10.1.2.3/api",
    "http://[::1]:8000/api",
]


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in VARIABLES + BUNDLES + [v.lower() for v in VARIABLES] + ["https_proxy", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def _both(url: str, proxies: Optional[Dict[str, str]], verify: Any, session_verify: Any = True) -> Any:
    ours = AvatarSession("http://127.0.0.1:8000/api")
    plain = requests.Session()
    for session in (ours, plain):
        session.verify = session_verify
        session.proxies = {"ftp": "http://session.test:21"}
    got = ours.merge_environment_settings(url, None if proxies is None else dict(proxies), None, verify, None)
    expected = plain.merge_environment_settings(url, None if proxies is None else dict(proxies), None, verify, None)
    return dict(got), dict(expected)


def _count_scans(monkeypatch: pytest.MonkeyPatch, module: Any) -> List[str]:
    """Count the calls of ``module.get_environ_proxies`` (requests' walk of the environment)."""
    calls: List[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> Any:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(module, "get_environ_proxies", counting)
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="proxies come from the environment alone on Linux")
def test_the_environment_is_walked_once_until_it_changes(clean_env: pytest.MonkeyPatch) -> None:
    assert session_module._EnvironmentProxies.usable()
    calls = _count_scans(clean_env, requests.utils)
    clean_env.setattr(session_module, "_ENV_PROXIES", session_module._EnvironmentProxies())
    clean_env.setenv("HTTP_PROXY", "http://proxy.test:3128")
    session = AvatarSession("http://127.0.0.1:8000/api")
    for _ in range(5):
        assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"]["http"] == (
            "http://proxy.test:3128"
        )
    assert len(calls) == 1
    session.merge_environment_settings(URLS[1], {}, None, None, None)  # another host: its own answer
    assert len(calls) == 2
    clean_env.setenv("HTTP_PROXY", "http://other.test:3128")
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"]["http"] == (
        "http://other.test:3128"
    )
    assert len(calls) == 3


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_same_settings_as_requests_for_every_url(
    clean_env: pytest.MonkeyPatch, environment: Dict[str, str]
) -> None:
    for name, value in environment.items():
        clean_env.setenv(name, value)
    for url, proxies, verify, session_verify in itertools.product(
        URLS,
        [{}, {"no_proxy": "127.0.0.1"}, {"http": "http://call.test:8080"}],
        [None, True, False, "/call/bundle.pem"],
        [True, False],
    ):
        for _ in range(2):  # the second time from the cache
            got, expected = _both(url, proxies, verify, session_verify)
            assert got == expected, (environment, url, proxies, verify, session_verify)


@pytest.mark.parametrize(
    "bundles",
    [{"REQUESTS_CA_BUNDLE": "/env/a.pem"}, {"CURL_CA_BUNDLE": "/env/b.pem"}, {"CURL_CA_BUNDLE": ""}, {}],
)
@pytest.mark.parametrize("verify", [None, True, False, "/call/bundle.pem"])
def test_ca_bundle_variables_as_requests(clean_env: pytest.MonkeyPatch, bundles: Dict[str, str], verify: Any) -> None:
    for name, value in bundles.items():
        clean_env.setenv(name, value)
    for session_verify in (True, False, "/session.pem"):
        got, expected = _both(URLS[0], {}, verify, session_verify)
        assert got == expected


def test_a_change_of_the_environment_is_seen_by_the_next_call(clean_env: pytest.MonkeyPatch) -> None:
    url = URLS[0]
    got, expected = _both(url, {}, None)
    assert got == expected and got["proxies"] == {"ftp": "http://session.test:21"}
    clean_env.setenv("HTTP_PROXY", "http://proxy.test:3128")
    got, expected = _both(url, {}, None)
    assert got == expected and got["proxies"]["http"] == "http://proxy.test:3128"
    clean_env.setenv("HTTP_PROXY", "http://other.test:3128")
    got, expected = _both(url, {}, None)
    assert got == expected and got["proxies"]["http"] == "http://other.test:3128"
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    got, expected = _both(url, {}, None)
    assert got == expected and "http" not in got["proxies"]
    clean_env.delenv("NO_PROXY")
    clean_env.delenv("HTTP_PROXY")
    got, expected = _both(url, {}, None)
    assert got == expected and "http" not in got["proxies"]


def test_the_answers_handed_out_are_copies(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTP_PROXY", "http://proxy.test:3128")
    first = session_module._ENV_PROXIES.get(URLS[0], None)
    first["http"] = "http://tampered.test:1"
    assert session_module._ENV_PROXIES.get(URLS[0], None)["http"] == "http://proxy.test:3128"


def test_requests_own_code_runs_where_proxies_may_come_from_elsewhere(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Where requests' getproxies is not the environment's (macOS, Windows),
    no cache: requests' own code runs (counted here)."""
    calls = _count_scans(clean_env, requests.sessions)
    clean_env.setattr(requests.utils, "getproxies", lambda: {})
    session = AvatarSession("http://127.0.0.1:8000/api")
    for _ in range(3):
        session.merge_environment_settings(URLS[0], {}, None, None, None)
    assert len(calls) == 3
