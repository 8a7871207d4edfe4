"""Authentication against the local server, over real sockets.

Login, logout, refresh, password reset, API keys, token expiry (on a 401 and
before ``exp``), dead refresh tokens and a client shared by 32 threads across
a token expiry.  The server's request log says what went over the wire.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, List, Optional

import pytest
from requests.adapters import BaseAdapter

from avatars import (
    ApiClient,
    AuthenticationError,
    AuthTokens,
    AvatarError,
    BadRequestError,
    NotFound,
    RequestValidationError,
)
from avatars.auth import TokenAuth, jwt_expiry
from avatars.testing import LocalAvatarServer

from .conftest import TIMEOUT, expire_access_token, token_auth

pytestmark = pytest.mark.integration


def expiry_of(client: ApiClient) -> float:
    assert client.auth_tokens is not None
    info = jwt_expiry(client.auth_tokens.access)
    assert info is not None, "the local server issues JWT access tokens"
    return info[0]


def sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def join_all(threads: List[threading.Thread], seconds: float) -> int:
    """Join every thread within one overall deadline; the number still alive."""
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return sum(t.is_alive() for t in threads)


def statuses(server: LocalAvatarServer, method: str, path: str) -> List[Optional[int]]:
    return [r.status for r in server.log.entries(method, path)]


# --------------------------------------------------------------------------- login, logout, refresh


def test_login_sends_a_form_without_credentials_and_then_bearer(
    anon: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    anon.authenticate(avatar_user.email, avatar_user.password)
    assert anon.users.get_me().email == avatar_user.email
    login = avatar_server.log.last("POST", "/api/login")
    assert login.status == 200 and not login.had_authorization
    assert login.query == ()  # the password travels in the body, never the URL
    assert (login.header("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    assert avatar_server.log.last("GET", "/api/users/me").auth_scheme == "Bearer"
    assert avatar_user.password not in repr(anon.auth_tokens) and avatar_user.password not in repr(anon)


def test_login_with_a_wrong_password(anon: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any) -> None:
    with pytest.raises(AuthenticationError) as info:
        anon.authenticate(avatar_user.email, "not-the-password")
    err = info.value
    assert err.status_code == 401 and "Incorrect username or password" in str(err)
    assert "not-the-password" not in str(err) and "not-the-password" not in repr(err)
    assert anon.auth_tokens is None
    # without credentials, an authenticated call fails before anything is sent
    before = len(avatar_server.log)
    with pytest.raises(AuthenticationError) as again:
        anon.users.get_me()
    assert again.value.status_code is None
    assert len(avatar_server.log) == before
    assert avatar_server.count("POST", "/api/refresh") == 0


def test_raw_refresh_rotates_and_a_used_refresh_token_is_refused(
    anon: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    first = anon.auth.login(avatar_user.email, avatar_user.password)
    assert first.refresh_token
    second = anon.auth.refresh(first.refresh_token)
    assert second.access_token and second.refresh_token and second.refresh_token != first.refresh_token
    record = avatar_server.log.last("POST", "/api/refresh")
    assert record.query == () and not record.had_authorization  # token in the body only
    with pytest.raises(AuthenticationError) as info:
        anon.auth.refresh(first.refresh_token)
    assert info.value.status_code == 401
    assert first.refresh_token not in str(info.value)
    anon.set_tokens(second)
    assert anon.users.get_me().email == avatar_user.email


def test_logout_ends_the_session_without_a_refresh_loop(bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    assert bearer.users.get_me()
    bearer.auth.logout()
    assert avatar_server.log.last("POST", "/api/logout").status == 200
    for _ in range(3):
        with pytest.raises(AuthenticationError) as info:
            bearer.users.get_me()
        assert "authenticate again" in str(info.value)
    assert avatar_server.count("POST", "/api/refresh") <= 1


def test_forgotten_and_reset_password(anon: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any) -> None:
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as old_session:
        old_session.authenticate(avatar_user.email, avatar_user.password)

        anon.forgotten_password(avatar_user.email)
        token = avatar_server.admin.password_reset_token(avatar_user.email)
        assert token is not None
        assert not avatar_server.log.last("POST", "/api/login/forgotten_password").had_authorization

        with pytest.raises(BadRequestError) as wrong:
            anon.reset_password(avatar_user.email, "n3w-passw0rd", "n3w-passw0rd", uuid.uuid4())
        assert wrong.value.status_code == 400 and "reset token" in str(wrong.value)
        assert "n3w-passw0rd" not in str(wrong.value)

        with pytest.raises(RequestValidationError):
            anon.reset_password(avatar_user.email, "n3w-passw0rd", "different", token)

        anon.reset_password(avatar_user.email, "n3w-passw0rd", "n3w-passw0rd", token)
        assert avatar_server.admin.password_reset_token(avatar_user.email) is None  # single use

        with pytest.raises(AuthenticationError):
            anon.authenticate(avatar_user.email, avatar_user.password)
        anon.authenticate(avatar_user.email, "n3w-passw0rd")
        assert anon.users.get_me().email == avatar_user.email

        # a reset revokes the sessions opened with the old password
        with pytest.raises(AuthenticationError):
            token_auth(old_session).refresh()


def test_forgotten_password_of_an_unknown_address_reveals_nothing(
    anon: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    anon.forgotten_password("nobody@example.com")
    assert avatar_server.log.last("POST", "/api/login/forgotten_password").status == 200
    assert avatar_server.admin.password_reset_token("nobody@example.com") is None


# --------------------------------------------------------------------------- API keys


def test_api_key_lifecycle(bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    created = bearer.api_keys.create_api_key("ci", 30)
    plaintext = created.api_key.plaintext
    assert plaintext and plaintext not in repr(created)
    assert created.api_key.name == "ci" and created.api_key.revoked_at is None
    assert (created.api_key.expires_at - created.api_key.created_at).days == 30
    second = bearer.api_keys.create_api_key("other", 365).api_key

    listed = bearer.api_keys.list_api_keys()
    assert {k.id for k in listed} == {created.api_key.id, second.id}
    assert not any(hasattr(k, "plaintext") for k in listed)
    assert bearer.api_keys.get_api_key(created.api_key.id).name == "ci"

    with ApiClient(avatar_server.base_url, api_key=plaintext, timeout=TIMEOUT) as key_client:
        assert key_client.users.get_me().email
        assert avatar_server.log.last("GET", "/api/users/me").auth_scheme == "api-key-v1"
        assert bearer.api_keys.get_api_key(created.api_key.id).last_used_at is not None

        bearer.api_keys.revoke_api_key(created.api_key.id)
        assert bearer.api_keys.get_api_key(created.api_key.id).is_revoked
        assert bearer.api_keys.get_api_key(second.id).revoked_at is None

        avatar_server.reset_log()
        with pytest.raises(AuthenticationError) as info:
            key_client.users.get_me()
        assert info.value.status_code == 401
        assert plaintext not in str(info.value) and plaintext not in repr(info.value)
        assert statuses(avatar_server, "GET", "/api/users/me") == [401]
        assert avatar_server.count("POST", "/api/refresh") == 0

    bearer.api_keys.revoke_all_api_keys()
    assert all(k.revoked_at is not None for k in bearer.api_keys.list_api_keys())
    with pytest.raises(NotFound):
        bearer.api_keys.get_api_key(uuid.uuid4())


def test_api_key_creation_is_checked_before_sending(bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    before = avatar_server.count("POST", "/api/api-keys")
    with pytest.raises(RequestValidationError) as info:
        bearer.api_keys.create_api_key("ci", 7)
    assert info.value.field == "expiration_days"
    assert avatar_server.count("POST", "/api/api-keys") == before == 0


@pytest.mark.parametrize("how", ["revoke", "expire"])
def test_api_key_revoked_or_expired_on_the_server_never_refreshes(
    avatar_server: LocalAvatarServer, avatar_api_key: str, how: str
) -> None:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        assert c.users.get_me().email
        if how == "revoke":
            avatar_server.admin.revoke_api_key(avatar_api_key)
        else:
            avatar_server.admin.expire_api_key(avatar_api_key)
        for _ in range(2):
            with pytest.raises(AuthenticationError) as info:
                c.jobs.get_jobs()
            assert isinstance(info.value, AvatarError) and info.value.status_code == 401
            assert avatar_api_key not in str(info.value)
    assert statuses(avatar_server, "GET", "/api/jobs") == [401, 401]  # no retry either
    assert avatar_server.count("POST", "/api/refresh") == 0
    assert avatar_server.count("POST", "/api/login") == 0


# --------------------------------------------------------------------------- expiry and refresh


@pytest.mark.avatar_server(access_token_lifetime=1)
def test_a_call_after_expiry_succeeds_with_one_refresh(bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    assert bearer.users.get_me()
    exp = expiry_of(bearer)
    old_access = bearer.auth_tokens.access if bearer.auth_tokens else ""
    sleep_until(exp + 0.1)
    assert bearer.users.get_me().email
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert 401 not in statuses(avatar_server, "GET", "/api/users/me")
    assert bearer.auth_tokens is not None and bearer.auth_tokens.access != old_access
    assert expiry_of(bearer) > exp
    assert bearer.users.get_me().email
    assert avatar_server.count("POST", "/api/refresh") == 1


@pytest.mark.avatar_server(access_token_lifetime=2)
def test_proactive_refresh_happens_before_exp_without_a_401(
    bearer: ApiClient, avatar_server: LocalAvatarServer
) -> None:
    assert bearer.auth_tokens is not None
    info = jwt_expiry(bearer.auth_tokens.access)
    assert info is not None
    exp, iat = info
    assert iat is not None
    leeway = min(30.0, (exp - iat) / 10.0)
    sleep_until(exp - leeway + 0.03)  # inside the refresh window, before the token expires
    wall_minus_monotonic = time.time() - time.monotonic()
    assert bearer.users.get_me().email
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert statuses(avatar_server, "GET", "/api/users/me") == [200]
    refresh = avatar_server.log.last("POST", "/api/refresh")
    assert refresh.timestamp < avatar_server.log.last("GET", "/api/users/me").timestamp
    assert refresh.timestamp + wall_minus_monotonic < exp, "refreshed only after the token expired"


def test_a_401_refreshes_once_and_resends_once(
    anon: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    updates: List[AuthTokens] = []
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT, token_updater=updates.append) as c:
        expired, refresh_token = expire_access_token(c, avatar_server, avatar_user)
        me = c.users.get_me()
    assert me.email == avatar_user.email
    assert statuses(avatar_server, "GET", "/api/users/me") == [401, 200]
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert len(updates) == 1 and updates[0].access != expired and updates[0].refresh != refresh_token


@pytest.mark.parametrize("dead", ["expired", "revoked"])
@pytest.mark.parametrize("path", ["proactive", "on_401"])
def test_a_dead_refresh_token_asks_to_authenticate_again_without_looping(
    avatar_server: LocalAvatarServer, avatar_user: Any, dead: str, path: str
) -> None:
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        _, refresh_token = expire_access_token(c, avatar_server, avatar_user, proactive_refresh=path == "proactive")
        if dead == "expired":
            assert avatar_server.admin.expire_refresh_tokens(avatar_user) == 1
        else:
            assert avatar_server.admin.revoke_refresh_tokens(avatar_user) == 1
        for _ in range(4):
            with pytest.raises(AuthenticationError) as info:
                c.users.get_me()
            message = str(info.value)
            assert "authenticate again" in message
            assert refresh_token not in message and refresh_token not in repr(info.value)
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert 200 not in statuses(avatar_server, "GET", "/api/users/me")
    assert avatar_server.count("GET", "/api/users/me") <= 4


@pytest.mark.avatar_server(access_token_lifetime=1)
def test_32_threads_share_one_client_across_an_expiry(bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    exp = expiry_of(bearer)
    stop_at = exp + 0.4
    errors: List[BaseException] = []
    calls = [0]
    lock = threading.Lock()
    start = threading.Barrier(32)

    def work() -> None:
        start.wait()
        while time.time() < stop_at:
            try:
                bearer.users.get_me()
            except BaseException as exc:  # noqa: B036
                with lock:
                    errors.append(exc)
                return
            with lock:
                calls[0] += 1

    threads = [threading.Thread(target=work, daemon=True) for _ in range(32)]
    for t in threads:
        t.start()
    assert join_all(threads, 15) == 0, "threads stuck: a deadlock"
    assert errors == []
    assert avatar_server.count("POST", "/api/refresh") == 1
    refreshed_at = avatar_server.log.last("POST", "/api/refresh").timestamp
    gets = avatar_server.log.entries("GET", "/api/users/me")
    assert any(r.timestamp < refreshed_at for r in gets) and any(r.timestamp > refreshed_at for r in gets)
    assert calls[0] >= 64
    assert all(r.status in (200, 401) for r in gets)


def test_proactive_refresh_is_single_flight_when_another_thread_just_refreshed(
    avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    """Thread B finds the token expiring; before it refreshes, thread A completes
    a refresh.  B must use A's fresh token, not refresh a second time.

    TokenAuth's ``clock`` is the hook that pauses B at that moment (it is
    called while B decides whether the token is expiring)."""
    _, refresh_token = avatar_server.admin.issue_tokens(avatar_user)
    expired = avatar_server.admin.make_access_token(avatar_user, lifetime=-5)
    session_b_entered = threading.Event()
    holder: List[TokenAuth] = []

    def a_calls() -> None:
        import requests

        requests.get(avatar_server.url("users/me"), auth=holder[0], timeout=5).raise_for_status()

    def clock() -> float:
        if threading.current_thread().name == "thread-b" and not session_b_entered.is_set():
            session_b_entered.set()
            a = threading.Thread(target=a_calls, name="thread-a")
            a.start()
            a.join(10)
        return time.time()

    auth = TokenAuth(
        expired, refresh_token, refresh_url=avatar_server.url("refresh"), origin=avatar_server.origin, clock=clock
    )
    holder.append(auth)
    result: List[Any] = []

    def b_calls() -> None:
        import requests

        try:
            result.append(requests.get(avatar_server.url("users/me"), auth=auth, timeout=5).status_code)
        except BaseException as exc:  # noqa: B036
            result.append(exc)

    b = threading.Thread(target=b_calls, name="thread-b")
    b.start()
    b.join(20)
    assert result == [200]
    assert statuses(avatar_server, "GET", "/api/users/me") == [200, 200]
    assert avatar_server.count("POST", "/api/refresh") == 1, "one expiry, two refreshes"
    assert auth.refresh_count == 1


def test_32_threads_hitting_401s_at_once_refresh_once_without_deadlock(
    avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    """The server rejects the access token before the client expected it (clock
    skew, a token revoked on the server...): every thread gets a 401.  One
    refresh must serve them all, and no thread may wait for that refresh while
    holding a pooled connection the refresh itself needs.

    An adapter wrapped around the client's own (same pool) fixes one legal
    interleaving: the first 401 goes straight through; the others arrive while
    the refresh is under way; and the refreshing thread asks for its connection
    only after the other threads have taken every pooled one."""
    release = threading.Event()
    lock = threading.Lock()
    state = {"first_401_passed": False, "held": 0}

    class Interleave(BaseAdapter):
        def __init__(self, inner: BaseAdapter) -> None:
            super().__init__()
            self.inner = inner

        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if (request.url or "").endswith("/api/refresh"):
                deadline = time.monotonic() + 3
                while state["held"] < 16 and time.monotonic() < deadline:
                    time.sleep(0.005)
                threading.Timer(0.3, release.set).start()
                return self.inner.send(request, **kwargs)
            response = self.inner.send(request, **kwargs)
            if response.status_code == 401:
                with lock:
                    hold = state["first_401_passed"]
                    state["first_401_passed"] = True
                    state["held"] += hold
                if hold:
                    release.wait(5)
            return response

        def close(self) -> None:
            self.inner.close()

    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        expire_access_token(c, avatar_server, avatar_user)  # the client's clock is behind: no proactive refresh
        c.session.mount(avatar_server.origin + "/", Interleave(c.session.get_adapter(avatar_server.base_url)))
        errors: List[BaseException] = []
        start = threading.Barrier(32)

        def work() -> None:
            start.wait()
            try:
                c.users.get_me()
                c.users.get_me()
            except BaseException as exc:  # noqa: B036
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(32)]
        for t in threads:
            t.start()
        stuck = join_all(threads, 10)
        release.set()
        assert stuck == 0, f"{stuck} of 32 threads stuck after 10 s: a deadlock between the refresh and the pool"
        assert errors == []
    assert state["held"] >= 16  # the interleaving did take place
    assert avatar_server.count("POST", "/api/refresh") == 1
    gets = [r.status for r in avatar_server.log.entries("GET", "/api/users/me")]
    assert gets.count(200) == 64  # every call succeeded...
    assert 17 <= gets.count(401) <= 32 and set(gets) == {200, 401}  # ...each thread saw the 401 once at most
