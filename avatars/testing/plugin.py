"""pytest plugin of ``avatars``: a local Avatar server and clients on it.

Installed with the package (entry point ``pytest11``), so the fixtures are
available in any project that has ``avatar-anonymization-client[server]`` installed::

    def test_my_script(avatar_client):
        jobs = avatar_client.jobs.get_jobs().jobs
        assert jobs == []

Fixtures (each test gets a fresh server unless it asks for the session one):

``avatar_server``
    a running :class:`~avatars.testing.LocalAvatarServer` on 127.0.0.1 and a
    free port, stopped after the test.  Configure it with the marker
    ``@pytest.mark.avatar_server(access_token_lifetime=2, job_step_seconds=0.01)``
    (any keyword of ``LocalAvatarServer``).
``avatar_user``
    a user on that server (``.email``, ``.password``).
``avatar_api_key``
    a fresh API key (plaintext) of ``avatar_user``.
``avatar_client``
    an :class:`~avatars.ApiClient` logged in as ``avatar_user`` (bearer tokens,
    refreshed automatically; an API key on a 3.x server).
``avatar_api_key_client``
    an :class:`~avatars.ApiClient` using ``avatar_api_key``.
``avatar_manager``
    a :class:`~avatars.Manager` logged in as ``avatar_user`` (progress off).
``avatar_env``
    sets ``AVATAR_BASE_API_URL`` and ``AVATAR_API_KEY`` for the test, so code
    that reads its configuration from the environment talks to the server.
``avatar_session_server``
    one server shared by the whole test session (faster; state is shared).
``avatar_responses``
    no server at all: a :class:`~avatars.testing.MockedPlatform`, the
    platform's endpoints registered on a ``responses`` mock (needs
    ``responses``); ``avatar_responses.client()`` is a client on it.

``pytest --avatar-api-version 3`` makes every server of these fixtures act as
a 3.x platform (a marker's ``api_version=`` still wins for its test).

Importing this module is cheap: the server (werkzeug) is imported only when a
fixture is used; without the ``server`` extra, a test using these fixtures
fails with a one-line message saying what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Type

import pytest

from .._extras import is_missing_server_extra, server_extra_message

if TYPE_CHECKING:  # pragma: no cover
    from ..client import ApiClient
    from ..config import ClientConfig
    from ..manager import Manager
    from .admin import CreatedUser
    from .mocked import MockedPlatform
    from .server import LocalAvatarServer

#: The password of the ``avatar_user`` fixture's user (a throw-away local server).
DEFAULT_PASSWORD = "avatars-test-password"
DEFAULT_EMAIL = "avatar-user@example.com"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("avatars")
    group.addoption(
        "--avatar-api-version",
        type=int,
        choices=(2, 3),
        default=2,
        help="platform API major version the local Avatar server fixtures act as (default: 2)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "avatar_server(**options): keyword arguments for the LocalAvatarServer of the avatar_server fixture",
    )


def _server_options(request: pytest.FixtureRequest) -> Dict[str, Any]:
    options: Dict[str, Any] = {"job_step_seconds": 0.01, "api_version": _api_version(request.config)}
    marker = request.node.get_closest_marker("avatar_server")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.avatar_server takes keyword arguments only")
        options.update(marker.kwargs)
    return options


def _config(server: LocalAvatarServer, api_key: Optional[str] = None) -> ClientConfig:
    """The fixtures' clients talk to their server only: no AVATAR_* of the shell applies."""
    from ..config import ClientConfig

    return ClientConfig(base_url=server.base_url, api_key=api_key)


def _server_class() -> Type[LocalAvatarServer]:
    try:
        from .server import LocalAvatarServer
    except ImportError as exc:
        if is_missing_server_extra(exc):
            pytest.fail(server_extra_message("the avatar_server fixture", exc), pytrace=False)
        raise
    return LocalAvatarServer


@pytest.fixture
def avatar_server(request: pytest.FixtureRequest) -> Iterator[LocalAvatarServer]:
    """A fresh local Avatar server for this test."""
    with _server_class()(**_server_options(request)) as server:
        yield server


def _api_version(config: pytest.Config) -> int:
    value: Any = config.getoption("avatar_api_version", default=2)
    return int(value)


@pytest.fixture(scope="session")
def avatar_session_server(request: pytest.FixtureRequest) -> Iterator[LocalAvatarServer]:
    """One local Avatar server for the whole test session."""
    with _server_class()(job_step_seconds=0.01, api_version=_api_version(request.config)) as server:
        yield server


@pytest.fixture
def avatar_responses() -> Iterator[MockedPlatform]:
    """The platform's endpoints on a ``responses`` mock (no socket, no server)."""
    try:
        import responses
    except ImportError:
        pytest.fail("the avatar_responses fixture needs the 'responses' package: pip install responses", pytrace=False)
    from .mocked import MockedPlatform

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield MockedPlatform(mock)


@pytest.fixture
def avatar_user(avatar_server: LocalAvatarServer) -> CreatedUser:
    """A user of ``avatar_server`` (``.email``, ``.password``)."""
    return avatar_server.admin.create_user(DEFAULT_EMAIL, DEFAULT_PASSWORD)


@pytest.fixture
def avatar_api_key(avatar_server: LocalAvatarServer, avatar_user: CreatedUser) -> str:
    """A fresh API key (plaintext) of ``avatar_user``."""
    return avatar_server.admin.create_api_key(avatar_user, name="pytest")


@pytest.fixture
def avatar_client(avatar_server: LocalAvatarServer, avatar_user: CreatedUser) -> Iterator[ApiClient]:
    """An ``ApiClient`` logged in as ``avatar_user`` on ``avatar_server``
    (with an API key of that user on a 3.x server, which has no ``/login``)."""
    from ..client import ApiClient

    if avatar_server.api_version >= 3:
        key = avatar_server.admin.create_api_key(avatar_user)
        with ApiClient(config=_config(avatar_server, api_key=key)) as client:
            yield client
        return
    with ApiClient(config=_config(avatar_server)) as client:
        assert avatar_user.password is not None
        client.authenticate(avatar_user.email, avatar_user.password)
        yield client


@pytest.fixture
def avatar_api_key_client(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    """An ``ApiClient`` on ``avatar_server`` with ``avatar_api_key``."""
    from ..client import ApiClient

    with ApiClient(config=_config(avatar_server, api_key=avatar_api_key)) as client:
        yield client


@pytest.fixture
def avatar_manager(avatar_server: LocalAvatarServer, avatar_user: CreatedUser) -> Iterator[Manager]:
    """A ``Manager`` logged in as ``avatar_user`` (progress display off; with an API
    key of that user on a 3.x server, which has no ``/login``)."""
    from ..manager import Manager

    if avatar_server.api_version >= 3:
        key = avatar_server.admin.create_api_key(avatar_user)
        with Manager(config=_config(avatar_server, api_key=key), progress=False) as manager:
            yield manager
        return
    with Manager(config=_config(avatar_server), progress=False) as manager:
        assert avatar_user.password is not None
        manager.authenticate(avatar_user.email, avatar_user.password)
        yield manager


@pytest.fixture
def avatar_env(
    monkeypatch: pytest.MonkeyPatch, avatar_server: LocalAvatarServer, avatar_api_key: str
) -> Dict[str, str]:
    """``AVATAR_BASE_API_URL`` and ``AVATAR_API_KEY`` pointing at ``avatar_server``."""
    values = {"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_API_KEY": avatar_api_key}
    monkeypatch.delenv("AVATAR_BASE_URL", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
