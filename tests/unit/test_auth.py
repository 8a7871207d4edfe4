"""ApiKeyAuth and TokenAuth: headers, origins, the 401 refresh-and-resend, single flight."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest
import requests
import responses

from avatars import (
    ApiClient,
    ApiKeyAuth,
    AuthenticationError,
    AuthTokens,
    ConfigurationError,
    RequestNotRetryableError,
    TokenAuth,
)
from avatars.auth import jwt_expiry

from .conftest import BASE, login_body, make_jwt


def _authorization(call: Any) -> Any:
    return call.request.headers.get("Authorization")


def _logged_in_client(
    rsps: responses.RequestsMock, access: str = "access-1", refresh: str = "refresh-1", **kw: Any
) -> ApiClient:
    rsps.add(responses.POST, f"{BASE}/login", json=login_body(access, refresh))
    client = ApiClient(BASE, **kw)
    client.authenticate("alice@example.com", "correct horse")
    return client


# ---------------------------------------------------------------- ApiKeyAuth


def test_api_key_header_through_plain_requests(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://elsewhere.test/x", json={})
    requests.get("https://elsewhere.test/x", auth=ApiKeyAuth("k-1"))
    assert _authorization(rsps.calls[0]) == "api-key-v1 k-1"


def test_api_key_only_on_its_origin(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://avatar.test/api/x", json={})
    rsps.add(responses.GET, "https://avatar.test:8443/api/x", json={})
    rsps.add(responses.GET, "http://avatar.test/api/x", json={})
    auth = ApiKeyAuth("k-1", origin=BASE)
    requests.get("https://avatar.test/api/x", auth=auth)
    requests.get("https://avatar.test:8443/api/x", auth=auth)
    requests.get("http://avatar.test/api/x", auth=auth)
    assert [_authorization(c) for c in rsps.calls] == ["api-key-v1 k-1", None, None]


def test_client_with_api_key_sends_it_and_never_refreshes(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/users/me", json={"detail": "Not authenticated"}, status=401)
    client = ApiClient(BASE, api_key="k-1")
    with pytest.raises(AuthenticationError) as info:
        client.request("GET", "users/me")
    assert info.value.status_code == 401
    assert len(rsps.calls) == 1
    assert _authorization(rsps.calls[0]) == "api-key-v1 k-1"
    with pytest.raises(ConfigurationError, match="API key"):
        client.authenticate("u", "p")


@pytest.mark.parametrize("key", ["", "a b", "line\nbreak"])
def test_api_key_auth_rejects_malformed_keys(key: str) -> None:
    with pytest.raises(ConfigurationError):
        ApiKeyAuth(key)


# ---------------------------------------------------------------- login


def test_authenticate_posts_form_with_real_password(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    call = rsps.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(call.request.body, keep_blank_values=True)
    assert form["username"] == ["alice@example.com"]
    assert form["password"] == ["correct horse"]
    assert form["scope"] == [""]
    assert "Authorization" not in call.request.headers
    assert client.auth_tokens == AuthTokens("access-1", "refresh-1")
    assert isinstance(client.auth_strategy, TokenAuth)


def test_wrong_password_is_authentication_error(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login", json={"detail": "Incorrect username or password"}, status=401)
    client = ApiClient(BASE)
    with pytest.raises(AuthenticationError, match="Incorrect username or password") as info:
        client.authenticate("alice@example.com", "wrong-pass-123")
    assert "wrong-pass-123" not in str(info.value)
    assert client.auth_tokens is None


def test_bearer_header_after_login(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    client.request("GET", "jobs")
    assert _authorization(rsps.calls[1]) == "Bearer access-1"


# ---------------------------------------------------------------- 401: refresh and re-send


def _expiring_endpoint(rsps: responses.RequestsMock, method: str, path: str, seen: list) -> None:
    def callback(request: requests.PreparedRequest) -> tuple:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        seen.append((request.headers.get("Authorization"), body))
        if request.headers.get("Authorization") == "Bearer access-1":
            return 401, {}, json.dumps({"detail": {"message": "credentials expired"}})
        return 200, {}, json.dumps({"ok": True})

    rsps.add_callback(method, f"{BASE}/{path}", callback=callback)


def _refresh_endpoint(rsps: responses.RequestsMock, refreshes: list, delay: float = 0.0) -> None:
    used: set = set()
    lock = threading.Lock()

    def callback(request: requests.PreparedRequest) -> tuple:
        form = parse_qs(request.body or "")
        token = form.get("token", [None])[0]
        with lock:
            refreshes.append((request.url, token, request.headers.get("Authorization")))
            reused = token in used
            used.add(token)
        if delay:
            time.sleep(delay)
        if token != "refresh-1" or reused:
            return 401, {}, json.dumps({"detail": "Not authenticated"})
        return 200, {}, json.dumps(login_body("access-2", "refresh-2"))

    rsps.add_callback(responses.POST, f"{BASE}/refresh", callback=callback)


def test_401_refreshes_then_resends_json_body(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    seen: list = []
    refreshes: list = []
    _expiring_endpoint(rsps, responses.POST, "jobs", seen)
    _refresh_endpoint(rsps, refreshes)
    response = client.request("POST", "jobs", json={"kind": "standard"})
    assert response.json() == {"ok": True}
    assert [s[0] for s in seen] == ["Bearer access-1", "Bearer access-2"]
    assert json.loads(seen[0][1]) == json.loads(seen[1][1]) == {"kind": "standard"}
    assert len(refreshes) == 1
    url, token, authorization = refreshes[0]
    assert url == f"{BASE}/refresh"  # the refresh token is in the body, not the URL
    assert token == "refresh-1"
    assert authorization is None  # the refresh call never goes through TokenAuth
    assert client.auth_tokens == AuthTokens("access-2", "refresh-2")
    assert len(response.history) == 1 and response.history[0].status_code == 401


def test_401_resend_with_bytes_body(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    seen: list = []
    _expiring_endpoint(rsps, responses.PUT, "resources/x", seen)
    _refresh_endpoint(rsps, [])
    client.request("PUT", "resources/x", data=b"tables: []\n")
    assert [s[1] for s in seen] == [b"tables: []\n", b"tables: []\n"]


def test_unrewindable_body_is_not_resent_empty(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    seen: list = []
    refreshes: list = []
    _expiring_endpoint(rsps, responses.POST, "datasets/stream", seen)
    _refresh_endpoint(rsps, refreshes)

    def chunks() -> Iterator[bytes]:
        yield b"a,b\n"
        yield b"1,2\n"

    with pytest.raises(RequestNotRetryableError, match="cannot be rewound") as info:
        client.request("POST", "datasets/stream", data=chunks())
    assert len(seen) == 1  # never re-sent
    assert len(refreshes) == 1  # but the tokens were refreshed
    assert client.auth_tokens == AuthTokens("access-2", "refresh-2")
    assert "access-" not in str(info.value)


# `responses` turns a file body into bytes when it "sends" it, so rewinding
# files and refusing pipes is proven over real sockets in
# tests/integration/test_token_resend.py; here, the rewind rule itself.


def test_rewind_rule_on_prepared_requests(tmp_path: Any) -> None:
    from avatars.auth import _rewind_body

    path = tmp_path / "body.bin"
    path.write_bytes(b"HEADbody")
    with open(path, "rb") as fh:
        fh.read(4)
        prepared = requests.Request("POST", f"{BASE}/x", data=fh).prepare()
        fh.read()  # the adapter consumed it
        assert _rewind_body(prepared) is True
        assert fh.read() == b"body"  # back at the recorded start, not at 0
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        assert _rewind_body(requests.Request("POST", f"{BASE}/x", data=pipe).prepare()) is False
    gen = (b for b in [b"x"])
    assert _rewind_body(requests.Request("POST", f"{BASE}/x", data=gen).prepare()) is False
    assert _rewind_body(requests.Request("POST", f"{BASE}/x", json={"a": 1}).prepare()) is True
    assert _rewind_body(requests.Request("GET", f"{BASE}/x").prepare()) is True


def test_second_401_raises_without_loop(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    refreshes: list = []
    rsps.add(responses.GET, f"{BASE}/users/me", json={"detail": "Not authenticated"}, status=401)
    _refresh_endpoint(rsps, refreshes)
    with pytest.raises(AuthenticationError, match="still rejected after refreshing") as info:
        client.request("GET", "users/me")
    assert info.value.status_code == 401
    assert len(refreshes) == 1
    assert len([c for c in rsps.calls if c.request.url.endswith("/users/me")]) == 2


def test_failed_refresh_is_session_expired(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps, refresh="refresh-stale")
    seen: list = []
    refreshes: list = []
    _expiring_endpoint(rsps, responses.GET, "jobs", seen)
    _refresh_endpoint(rsps, refreshes)
    with pytest.raises(AuthenticationError, match="session has expired"):
        client.request("GET", "jobs")
    # a second call does not hammer /refresh with the token that was just rejected
    with pytest.raises(AuthenticationError, match="session has expired"):
        client.request("GET", "jobs")
    assert len(refreshes) == 1


def test_no_refresh_token_means_401_is_final(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login", json={"access_token": "access-1", "token_type": "bearer"})
    client = ApiClient(BASE)
    client.authenticate("u@example.com", "pw")
    seen: list = []
    _expiring_endpoint(rsps, responses.GET, "jobs", seen)
    with pytest.raises(AuthenticationError):
        client.request("GET", "jobs")
    assert len(seen) == 1


def test_token_updater_receives_new_tokens(rsps: responses.RequestsMock) -> None:
    saved: list = []
    client = _logged_in_client(rsps, token_updater=lambda t: saved.append((t.access, t.refresh)))
    _expiring_endpoint(rsps, responses.GET, "jobs", [])
    _refresh_endpoint(rsps, [])
    client.request("GET", "jobs")
    assert saved == [("access-1", "refresh-1"), ("access-2", "refresh-2")]  # after login, then the refresh


def test_token_updater_failure_does_not_break_the_call(rsps: responses.RequestsMock, caplog: Any) -> None:
    def broken(tokens: AuthTokens) -> None:
        raise OSError("disk full")

    client = _logged_in_client(rsps, token_updater=broken)
    _expiring_endpoint(rsps, responses.GET, "jobs", [])
    _refresh_endpoint(rsps, [])
    assert client.request("GET", "jobs").status_code == 200
    assert "token_updater raised" in caplog.text


def test_refresh_storm_is_single_flight(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    seen: list = []
    refreshes: list = []
    _expiring_endpoint(rsps, responses.GET, "jobs", seen)
    _refresh_endpoint(rsps, refreshes, delay=0.05)
    threads = 40
    barrier = threading.Barrier(threads)
    results: list = []
    errors: list = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(client.request("GET", "jobs").status_code)
        except Exception as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert errors == []
    assert results == [200] * threads
    assert len(refreshes) == 1
    assert client.token_auth.refresh_count == 1


# ---------------------------------------------------------------- proactive refresh


def test_proactive_refresh_before_jwt_expiry(rsps: responses.RequestsMock) -> None:
    now = time.time()
    soon = make_jwt(exp=now + 5, iat=now - 3595)  # one hour token, 5 s left: inside the 30 s leeway
    rsps.add(responses.POST, f"{BASE}/login", json=login_body(soon, "refresh-1"))
    refreshes: list = []
    _refresh_endpoint(rsps, refreshes)
    seen: list = []
    _expiring_endpoint(rsps, responses.GET, "jobs", seen)
    client = ApiClient(BASE)
    client.authenticate("u@example.com", "pw")
    client.request("GET", "jobs")
    assert len(refreshes) == 1
    assert [s[0] for s in seen] == ["Bearer access-2"]  # no 401 round trip


def test_no_proactive_refresh_for_fresh_or_opaque_tokens(rsps: responses.RequestsMock) -> None:
    now = time.time()
    fresh = make_jwt(exp=now + 3000, iat=now - 600)
    auth = TokenAuth(fresh, "refresh-1", refresher=lambda rt: pytest.fail("refreshed"))  # type: ignore[arg-type, return-value]
    rsps.add(responses.GET, f"{BASE}/x", json={})
    requests.get(f"{BASE}/x", auth=auth)
    opaque = TokenAuth("not-a-jwt", "refresh-1", refresher=lambda rt: pytest.fail("refreshed"))  # type: ignore[arg-type, return-value]
    requests.get(f"{BASE}/x", auth=opaque)
    assert [_authorization(c) for c in rsps.calls] == [f"Bearer {fresh}", "Bearer not-a-jwt"]


def test_short_lived_token_leeway_is_a_tenth_of_lifetime() -> None:
    now = 1_000_000.0
    token = make_jwt(exp=now + 5, iat=now - 5)  # 10 s lifetime, 5 s left: leeway 1 s, no refresh
    calls: list = []
    auth = TokenAuth(token, "r", refresher=lambda rt: (calls.append(rt), ("new", None))[1], clock=lambda: now)  # type: ignore[arg-type]
    assert not auth._expiring_soon()
    auth2 = TokenAuth(token, "r", refresher=lambda rt: ("new", None), clock=lambda: now + 4.5)
    assert auth2._expiring_soon()


def test_jwt_expiry_reads_without_verifying() -> None:
    assert jwt_expiry(make_jwt(exp=123, iat=100)) == (123.0, 100.0)
    assert jwt_expiry(make_jwt()) is None
    assert jwt_expiry("a.b") is None
    assert jwt_expiry("a.!!!.c") is None
    assert jwt_expiry("a." + "W10" + ".c") is None  # a JSON list, not claims
    deep = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode().rstrip("=")
    assert jwt_expiry(f"a.{deep}.c") is None  # nested too deep for json (a RecursionError)


# ---------------------------------------------------------------- standalone TokenAuth


def test_token_auth_with_plain_requests_and_refresh_url(rsps: responses.RequestsMock) -> None:
    seen: list = []
    refreshes: list = []
    _expiring_endpoint(rsps, responses.GET, "jobs", seen)
    _refresh_endpoint(rsps, refreshes)
    auth = TokenAuth("access-1", "refresh-1", refresh_url=f"{BASE}/refresh", origin=BASE)
    response = requests.get(f"{BASE}/jobs", auth=auth)
    assert response.status_code == 200
    assert refreshes[0][1] == "refresh-1"
    assert auth.tokens.access == "access-2"


def test_token_auth_is_not_sent_to_another_origin(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://storage.test/file", json={})
    auth = TokenAuth("access-1", "refresh-1", origin=BASE)
    requests.get("https://storage.test/file", auth=auth)
    assert _authorization(rsps.calls[0]) is None


def test_401_from_another_origin_does_not_trigger_refresh(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://storage.test/file", status=401)
    auth = TokenAuth("access-1", "refresh-1", origin=BASE, refresher=lambda rt: pytest.fail("refreshed"))  # type: ignore[arg-type, return-value]
    assert requests.get("https://storage.test/file", auth=auth).status_code == 401


def test_reprs_hide_tokens() -> None:
    tokens = AuthTokens("acc-SECRET", "ref-SECRET")
    auth = TokenAuth(tokens, origin=BASE)
    for text in (repr(tokens), repr(auth), str(auth), repr(ApiKeyAuth("key-SECRET"))):
        assert "SECRET" not in text


def test_auth_tokens_update_keeps_refresh_when_absent() -> None:
    tokens = AuthTokens("a", "r")
    tokens.update({"access_token": "b", "refresh_token": None})
    assert (tokens.access, tokens.refresh) == ("b", "r")
    with pytest.raises(AuthenticationError):
        tokens.update({"refresh_token": "x"})


def test_set_tokens_reuses_persisted_tokens(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    client = ApiClient(BASE)
    client.set_tokens(AuthTokens("persisted", "r"))
    client.request("GET", "jobs")
    assert _authorization(rsps.calls[0]) == "Bearer persisted"


def test_in_memory_file_body_is_resent(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    seen: list = []
    _expiring_endpoint(rsps, responses.POST, "datasets/stream", seen)
    _refresh_endpoint(rsps, [])
    client.request("POST", "datasets/stream", data=io.BytesIO(b"x" * 10000))
    assert seen[0][1] == seen[1][1] == b"x" * 10000


# ---------------------------------------------------------------- password reset and logout


def test_forgotten_password_sends_email_without_credentials(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login/forgotten_password", json={})
    client = ApiClient(BASE, api_key="k-1")
    client.forgotten_password("alice@example.com")
    call = rsps.calls[0]
    assert json.loads(call.request.body) == {"email": "alice@example.com"}
    assert "Authorization" not in call.request.headers


def test_reset_password_sends_the_contract_body(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login/reset_password", json={})
    token = "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac"
    ApiClient(BASE).reset_password("alice@example.com", "N3w-Passw0rd!", "N3w-Passw0rd!", token)
    assert json.loads(rsps.calls[0].request.body) == {
        "email": "alice@example.com",
        "new_password": "N3w-Passw0rd!",
        "new_password_repeated": "N3w-Passw0rd!",
        "token": token,
    }


@pytest.mark.parametrize(
    "args, field",
    [
        (("not-an-email", "pw-123456", "pw-123456", "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac"), "email"),
        (("a@example.com", "pw-123456", "pw-654321", "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac"), "new_password_repeated"),
        (("a@example.com", "pw-123456", "pw-123456", "secret-reset-token"), "token"),
        (("a@example.com", "", "", "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac"), "new_password"),
    ],
)
def test_reset_password_bad_input_sends_nothing(rsps: responses.RequestsMock, args: tuple, field: str) -> None:
    from avatars import RequestValidationError

    with pytest.raises(RequestValidationError) as info:
        ApiClient(BASE).reset_password(*args)
    assert info.value.field == field
    assert "secret-reset-token" not in str(info.value)
    assert "pw-123456" not in str(info.value)
    assert len(rsps.calls) == 0


def test_forgotten_password_bad_email_sends_nothing(rsps: responses.RequestsMock) -> None:
    from avatars import RequestValidationError

    with pytest.raises(RequestValidationError):
        ApiClient(BASE).forgotten_password("nobody")
    assert len(rsps.calls) == 0


def test_logout_sends_the_bearer_token(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    rsps.add(responses.POST, f"{BASE}/logout", status=204)
    client.auth.logout()
    assert _authorization(rsps.calls[-1]) == "Bearer access-1"


def test_raw_refresh_call_uses_the_form_body(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/refresh", json=login_body("new-access", "new-refresh"))
    login = ApiClient(BASE).auth.refresh("the-refresh-token")
    assert (login.access_token, login.refresh_token) == ("new-access", "new-refresh")
    call = rsps.calls[0]
    assert call.request.url == f"{BASE}/refresh"
    assert parse_qs(call.request.body) == {"token": ["the-refresh-token"]}
    assert "the-refresh-token" not in repr(login)


def test_client_logout_forgets_the_tokens(rsps: responses.RequestsMock) -> None:
    client = _logged_in_client(rsps)
    rsps.add(responses.POST, f"{BASE}/logout", status=204)
    client.logout()
    assert client.auth_tokens is None and client.auth_strategy is None
    assert client.session.auth is None
    with pytest.raises(AuthenticationError, match="needs credentials"):
        client.request("GET", "jobs")  # refused before sending, no refresh attempt
    assert [c.request.url for c in rsps.calls] == [f"{BASE}/login", f"{BASE}/logout"]
    with pytest.raises(ConfigurationError):
        ApiClient(BASE, api_key="k-1").logout()


def test_the_resend_after_a_401_uses_a_token_valid_now(rsps: responses.RequestsMock) -> None:
    """Another thread refreshed while this request was in flight, but that
    token is already about to expire: the re-send gets a fresh one."""
    now = 1_000_000.0
    first = make_jwt(exp=now + 1000, iat=now - 10)
    stale = make_jwt(exp=now + 0.5, iat=now - 9.5)  # refreshed "meanwhile", expiring now
    fresh = make_jwt(exp=now + 1000, iat=now)
    auth = TokenAuth(first, "refresh-token-r", refresher=lambda rt: (fresh, None), clock=lambda: now)
    sent: list = []

    def answer(request: requests.PreparedRequest) -> Any:
        sent.append(request.headers["Authorization"])
        if len(sent) == 1:
            auth.tokens.access = stale  # what a concurrent refresh left behind
            return (401, {}, "{}")
        return (200, {}, "{}") if request.headers["Authorization"] == f"Bearer {fresh}" else (401, {}, "{}")

    rsps.add_callback(responses.GET, f"{BASE}/jobs", callback=answer)
    response = requests.get(f"{BASE}/jobs", auth=auth)
    assert response.status_code == 200
    assert sent == [f"Bearer {first}", f"Bearer {fresh}"]
    assert auth.refresh_count == 1


@pytest.mark.parametrize(
    "token", ["tok\nen-0123456789", "tok\x00en-0123456789", "tok en-0123456789", "tøken-0123456789"]
)
def test_a_token_that_cannot_be_a_header_is_a_typed_error_without_the_token(token: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        TokenAuth(token, "refresh-token-r")
    assert "0123456789" not in str(info.value)
    with pytest.raises(AuthenticationError) as info:
        AuthTokens("a").update({"access_token": "good-token", "refresh_token": token})
    assert "0123456789" not in str(info.value)


def test_a_refresh_returning_a_bad_token_is_a_typed_error(rsps: responses.RequestsMock) -> None:
    auth = TokenAuth("access-token-a", "refresh-token-r", refresher=lambda rt: ("bad\r\ntoken-0123456789", None))
    with pytest.raises(AuthenticationError) as info:
        auth.refresh()
    assert "0123456789" not in str(info.value)
    assert auth.tokens.access == "access-token-a"


def test_the_refresh_is_handed_the_deadline_of_the_call_that_needs_it(rsps: responses.RequestsMock) -> None:
    """The deadline travels with the call into the refresh (an argument, not
    the thread's current call): the refresh spends the budget of the call,
    and the re-send is counted as that call's second attempt."""
    from avatars._deadline import Deadline

    client = _logged_in_client(rsps)
    _expiring_endpoint(rsps, responses.GET, "jobs", [])
    _refresh_endpoint(rsps, [])
    handed: list = []
    original = client.auth.refresh

    def recording(token: str, **kwargs: Any) -> Any:
        handed.append(kwargs.get("deadline"))
        return original(token, **kwargs)

    client.auth.refresh = recording  # type: ignore[method-assign]
    client.request("GET", "jobs", total_timeout=7.0)
    assert len(handed) == 1
    deadline = handed[0]
    assert isinstance(deadline, Deadline) and deadline.seconds == 7.0
    assert deadline.attempts == 2  # the first GET, then the re-send after the refresh
    assert not deadline.armed  # the call that armed it disarmed it


def test_waiting_for_another_threads_refresh_is_bounded_by_the_call_budget() -> None:
    """A thread that needs a refresh while another one holds it waits only
    as long as its own call's budget allows."""
    from avatars import ApiTimeoutError
    from avatars._deadline import Deadline

    release = threading.Event()
    entered = threading.Event()

    def slow(token: str, deadline: Any) -> Any:
        entered.set()
        release.wait(10)
        return ("access-2", None)

    auth = TokenAuth("access-1", "refresh-1", budgeted_refresher=slow)
    holder = threading.Thread(target=lambda: auth._refresh("access-1", None))
    holder.start()
    try:
        assert entered.wait(5)
        with pytest.raises(ApiTimeoutError, match="waiting for the token refresh of another thread"):
            auth._refresh("access-1", Deadline(0.2))
    finally:
        release.set()
        holder.join(10)
    assert auth.tokens.access == "access-2" and auth.refresh_count == 1


def test_refresher_and_budgeted_refresher_are_exclusive() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        TokenAuth("access-1", "refresh-1", refresher=lambda t: ("a", None), budgeted_refresher=lambda t, d: ("a", None))
