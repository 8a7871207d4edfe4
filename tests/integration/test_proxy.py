"""Through a real squid proxy with basic authentication, to the local server.

Skipped (loudly) only when squid is not installed; see conftest.squid.
"""

from __future__ import annotations

import time
from typing import Callable, List

import pytest
import requests

from avatars import ApiClient, ProxyError
from avatars.testing import LocalAvatarServer

from ._squid import Squid

pytestmark = [pytest.mark.integration, pytest.mark.proxy]


def _wait_for_log(squid: Squid, predicate: Callable[[str], bool], timeout: float = 3.0) -> List[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in squid.access_log() if predicate(line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_injected_session_proxies(
    squid: Squid, avatar_server: LocalAvatarServer, avatar_api_key: str, no_proxy_env: None
) -> None:
    session = requests.Session()
    session.proxies = {"http": squid.url_with_credentials(), "https": squid.url_with_credentials()}
    with ApiClient(avatar_server.base_url, http_client=session, api_key=avatar_api_key) as client:
        me = client.users.get_me()
    assert me.email == "avatar-user@example.com"
    marker = f"127.0.0.1:{avatar_server.port}/api/users/me"
    lines = _wait_for_log(squid, lambda line: marker in line)
    assert lines and "TCP_MISS/200" in lines[-1] and squid.user in lines[-1]
    # the API saw the request coming through the proxy, with our credentials intact
    assert avatar_server.log.last("GET", "/api/users/me").auth_scheme == "api-key-v1"


def test_proxy_from_environment(
    squid: Squid,
    avatar_server: LocalAvatarServer,
    avatar_api_key: str,
    no_proxy_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", squid.url_with_credentials())
    monkeypatch.setenv("HTTPS_PROXY", squid.url_with_credentials())
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        assert client.jobs.get_jobs().jobs == []
    marker = f"127.0.0.1:{avatar_server.port}/api/jobs"
    assert _wait_for_log(squid, lambda line: marker in line)


def test_no_proxy_bypasses_the_proxy(
    squid: Squid,
    avatar_server: LocalAvatarServer,
    avatar_api_key: str,
    no_proxy_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", squid.url_with_credentials())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key) as client:
        client.health.get_health()
        client.jobs.get_jobs()
    time.sleep(0.3)
    assert not [line for line in squid.access_log() if f":{avatar_server.port}/" in line]
    assert avatar_server.count("GET", "/api/jobs") == 1


def test_wrong_proxy_password_is_a_clear_407_without_the_password(
    squid: Squid, avatar_server: LocalAvatarServer, avatar_api_key: str, no_proxy_env: None
) -> None:
    wrong = "Wr0ng-Proxy-Pass-77"
    session = requests.Session()
    session.proxies = {"http": squid.url_with_credentials(wrong)}
    with ApiClient(avatar_server.base_url, http_client=session, api_key=avatar_api_key) as client:
        with pytest.raises(ProxyError) as info:
            client.jobs.get_jobs()
    message = str(info.value)
    assert "407" in message and "proxy" in message.lower()
    assert wrong not in message and wrong not in repr(info.value)
    assert squid.password not in message
    assert avatar_server.count("GET", "/api/jobs") == 0  # never reached the API


def test_https_through_connect_tunnel(squid: Squid, pki, no_proxy_env: None) -> None:  # type: ignore[no-untyped-def]
    with LocalAvatarServer(ssl_context=pki.server_context, job_step_seconds=0.01) as server:
        user = server.admin.create_user("tls-user@example.com", "tls-password-123")
        key = server.admin.create_api_key(user)
        session = requests.Session()
        session.proxies = {"https": squid.url_with_credentials()}
        with ApiClient(server.base_url, http_client=session, api_key=key, should_verify_ssl=str(pki.ca_pem)) as client:
            assert client.users.get_me().email == "tls-user@example.com"
        assert server.base_url.startswith("https://")
        session.close()  # squid logs a tunnel when it closes (the client never closes a session it was given)
        lines = _wait_for_log(squid, lambda line: f"CONNECT 127.0.0.1:{server.port}" in line)
        assert lines, squid.access_log()


def test_https_tunnel_with_wrong_proxy_password(squid: Squid, pki, no_proxy_env: None) -> None:  # type: ignore[no-untyped-def]
    with LocalAvatarServer(ssl_context=pki.server_context) as server:
        session = requests.Session()
        session.proxies = {"https": squid.url_with_credentials("Wr0ng-Tunnel-Pass-88")}
        with ApiClient(server.base_url, http_client=session, should_verify_ssl=str(pki.ca_pem)) as client:
            with pytest.raises(ProxyError) as info:
                client.health.get_health()
        assert "407" in str(info.value)
        assert "Wr0ng-Tunnel-Pass-88" not in str(info.value)
