"""Fixtures over real sockets: squid (a real proxy), trustme certificates, clients of
the local server, and what the modules share (the sample CSV, expired tokens)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Tuple

import pytest

from avatars import ApiClient, AuthTokens
from avatars.auth import TokenAuth
from avatars.testing import LocalAvatarServer

from ._squid import Squid, SquidUnavailable, find_squid

#: The CSV shipped with the package (300 rows), and its bytes.
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "avatars" / "data" / "sample.csv"
SAMPLE = SAMPLE_PATH.read_bytes()


@pytest.fixture(scope="session")
def squid() -> Iterator[Squid]:
    """A squid proxy with basic auth on a free loopback port (skipped loudly when squid is absent)."""
    if find_squid() is None:
        pytest.skip(
            "PROXY TESTS SKIPPED: squid is not installed on this machine (apt-get install squid; .ci/run does it)"
        )
    proxy = Squid()
    try:
        proxy.start()
    except SquidUnavailable as exc:
        # squid is installed but cannot run: that is a failure, not a skip.
        pytest.fail(f"squid is installed but could not start: {exc}")
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def _direct_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Talk to 127.0.0.1 directly, whatever proxy the machine's environment names
    (tests that want a proxy set one themselves)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


#: Short enough that a wrong fault handling cannot hang the suite.
TIMEOUT = (2.0, 5.0)


@pytest.fixture
def anon(avatar_server: LocalAvatarServer) -> Iterator[ApiClient]:
    """A client without credentials on the local server."""
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def bearer(avatar_server: LocalAvatarServer, avatar_user: Any) -> Iterator[ApiClient]:
    """A client logged in with username and password (bearer tokens)."""
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        c.authenticate(avatar_user.email, avatar_user.password)
        yield c


@pytest.fixture
def client(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    """A client with an API key (modules with other timeouts define their own)."""
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        yield c


def token_auth(client: ApiClient) -> TokenAuth:
    """The client's token strategy (it has logged in or been given tokens)."""
    strategy = client.auth_strategy
    assert isinstance(strategy, TokenAuth)
    return strategy


def expire_access_token(
    client: ApiClient, server: LocalAvatarServer, user: Any, *, proactive_refresh: bool = False
) -> Tuple[str, str]:
    """Give ``client`` tokens of ``user``: an access token that expired 5 s ago and a
    live refresh token; returns both.  Unless ``proactive_refresh``, the client's
    refresh before expiry is turned off, so that the server's 401 drives the refresh."""
    _, refresh = server.admin.issue_tokens(user)
    expired = server.admin.make_access_token(user, lifetime=-5)
    client.set_tokens(AuthTokens(expired, refresh))
    if not proactive_refresh:
        token_auth(client).refresh_leeway = -3600.0
    return expired, refresh


@pytest.fixture
def no_proxy_env(_direct_connections: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean slate: no proxy (``_direct_connections``), no ``NO_PROXY`` and no
    CA-bundle variables from the machine."""
    for name in ("NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


class Pki(NamedTuple):
    ca_pem: Path
    server_context: ssl.SSLContext
    mtls_server_context: ssl.SSLContext
    client_cert: Path
    client_key: Path
    other_ca_pem: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA (trustme), a server certificate for 127.0.0.1/localhost, a client certificate."""
    import trustme

    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("avatars-client@example.com")
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_context)

    mtls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(mtls_context)
    ca.configure_trust(mtls_context)
    mtls_context.verify_mode = ssl.CERT_REQUIRED

    cert_path = folder / "client.pem"
    key_path = folder / "client.key"
    for blob in client_cert.cert_chain_pems:
        with open(cert_path, "ab") as fh:
            fh.write(blob.bytes())
    client_cert.private_key_pem.write_to_path(str(key_path))

    other = trustme.CA()
    other_pem = folder / "other-ca.pem"
    other.cert_pem.write_to_path(str(other_pem))
    return Pki(ca_pem, server_context, mtls_context, cert_path, key_path, other_pem)


def store_dataset(client: ApiClient, data: Any, **kwargs: Any) -> str:
    """Put ``data`` in the caller's prefix of the local server's store under a
    fresh id, with ``client.datasets``; the id (an older-form resource
    document's ``dataset_id`` names the object ``<prefix>/<id>``)."""
    import uuid

    dataset_id = str(uuid.uuid4())
    client.datasets.upload(data, dataset_id, **kwargs)
    return dataset_id


@pytest.fixture(scope="module")
def local_store() -> Iterator[Any]:
    """A local server whose object store the tests of one module share, with
    users ``alice`` and ``bob`` (see ``_store.py``); stopped with the module, so
    that no server thread outlives it."""
    from ._store import start_store

    setup = start_store()
    yield setup
    setup.server.stop()
