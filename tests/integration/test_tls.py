"""Real TLS against the local server, with certificates from a private CA (trustme)."""

from __future__ import annotations

import warnings
from typing import Iterator

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from avatars import ApiClient, ApiConnectionError, InsecureTLSWarning, TLSError
from avatars.testing import LocalAvatarServer

from .conftest import Pki

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[LocalAvatarServer]:
    with LocalAvatarServer(ssl_context=pki.server_context, job_step_seconds=0.01) as server:
        yield server


@pytest.fixture
def tls_key(tls_server: LocalAvatarServer) -> str:
    user = tls_server.admin.create_user("tls@example.com", "tls-password-123")
    return tls_server.admin.create_api_key(user)


def test_verification_is_on_by_default(tls_server: LocalAvatarServer, tls_key: str, no_proxy_env: None) -> None:
    assert tls_server.base_url.startswith("https://127.0.0.1:")
    with ApiClient(tls_server.base_url, api_key=tls_key) as client:
        with pytest.raises(TLSError) as info:
            client.users.get_me()
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "certificate verify failed" in message
    assert "should_verify_ssl" in message  # tells how to fix it
    assert tls_key not in message
    assert tls_server.count("GET", "/api/users/me") == 0


def test_a_different_ca_is_refused(tls_server: LocalAvatarServer, tls_key: str, pki: Pki, no_proxy_env: None) -> None:
    with ApiClient(tls_server.base_url, api_key=tls_key, should_verify_ssl=str(pki.other_ca_pem)) as client:
        with pytest.raises(TLSError):
            client.users.get_me()


def test_ca_bundle_on_an_injected_session(
    tls_server: LocalAvatarServer, tls_key: str, pki: Pki, no_proxy_env: None
) -> None:
    session = requests.Session()
    session.verify = str(pki.ca_pem)
    with ApiClient(tls_server.base_url, api_key=tls_key, http_client=session) as client:
        assert client.users.get_me().email == "tls@example.com"
        assert client.should_verify_ssl == str(pki.ca_pem)


def test_injected_session_verify_wins_over_a_wrong_requests_ca_bundle(
    tls_server: LocalAvatarServer, tls_key: str, pki: Pki, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca_pem))
    session = requests.Session()
    session.verify = str(pki.ca_pem)
    with ApiClient(tls_server.base_url, api_key=tls_key, http_client=session) as client:
        assert client.users.get_me().email == "tls@example.com"


def test_ca_bundle_from_requests_ca_bundle(
    tls_server: LocalAvatarServer, tls_key: str, pki: Pki, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_pem))
    with ApiClient(tls_server.base_url, api_key=tls_key) as client:
        assert client.users.get_me().email == "tls@example.com"


def test_ca_bundle_through_the_clients_own_setting(
    tls_server: LocalAvatarServer, tls_key: str, pki: Pki, no_proxy_env: None
) -> None:
    with ApiClient(tls_server.base_url, api_key=tls_key, should_verify_ssl=str(pki.ca_pem)) as client:
        assert client.users.get_me().email == "tls@example.com"
        # uploads and streamed downloads (the object store) go through the same verification
        location = client.datasets.upload(b"a,b\n1,2\n3,4\n", "tls/table.csv").location
        assert client.datasets.download(location) == b"a,b\n1,2\n3,4\n"
    assert [r.method for r in tls_server.storage_log] == ["PUT", "GET"]


def test_ca_bundle_from_avatar_environment(
    tls_server: LocalAvatarServer, tls_key: str, pki: Pki, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    from avatars import ClientConfig

    monkeypatch.setenv("AVATAR_BASE_API_URL", tls_server.base_url)
    monkeypatch.setenv("AVATAR_API_KEY", tls_key)
    monkeypatch.setenv("AVATAR_SHOULD_VERIFY_SSL", str(pki.ca_pem))
    with ApiClient(config=ClientConfig.from_env()) as client:
        assert client.users.get_me().email == "tls@example.com"


def test_verification_off_works_and_warns_once(tls_server: LocalAvatarServer, tls_key: str, no_proxy_env: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ApiClient(tls_server.base_url, api_key=tls_key, should_verify_ssl=False) as client:
            for _ in range(3):
                assert client.users.get_me().email == "tls@example.com"
    ours = [w for w in caught if issubclass(w.category, InsecureTLSWarning)]
    theirs = [w for w in caught if issubclass(w.category, InsecureRequestWarning)]
    assert len(ours) == 1
    assert theirs == []
    assert "OFF" in str(ours[0].message) and tls_server.base_url in str(ours[0].message)


def test_mutual_tls(pki: Pki, no_proxy_env: None) -> None:
    with LocalAvatarServer(ssl_context=pki.mtls_server_context) as server:
        user = server.admin.create_user("mtls@example.com", "mtls-password-123")
        key = server.admin.create_api_key(user)

        without = requests.Session()
        without.verify = str(pki.ca_pem)
        with ApiClient(server.base_url, api_key=key, http_client=without) as client:
            for _ in range(2):
                # With TLS 1.3 the server checks the client certificate after the
                # handshake: the client sees the alert (TLSError, which names the
                # client certificate) or, on some urllib3/OpenSSL combinations, a
                # plain reset. Both are ApiConnectionError (TLSError subclasses it).
                with pytest.raises(ApiConnectionError) as info:
                    client.users.get_me()
                if isinstance(info.value, TLSError):
                    assert "client certificate" in str(info.value)
        assert server.count("GET", "/api/users/me") == 0

        with_cert = requests.Session()
        with_cert.verify = str(pki.ca_pem)
        with_cert.cert = (str(pki.client_cert), str(pki.client_key))
        with ApiClient(server.base_url, api_key=key, http_client=with_cert) as client:
            assert client.users.get_me().email == "mtls@example.com"


def test_plain_http_against_a_tls_port_is_a_typed_connection_error(
    tls_server: LocalAvatarServer, no_proxy_env: None
) -> None:
    http_url = tls_server.base_url.replace("https://", "http://")
    with ApiClient(http_url) as client:
        with pytest.raises(ApiConnectionError, match="closed before an answer"):
            client.health.get_health()
