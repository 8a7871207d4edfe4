"""The request path against a hostile server (issue 11), over real sockets.

The raw-socket server of :mod:`tests.hostile` misbehaves in ways the local
Avatar server cannot: trickled headers, broken ``Location``, compression
bombs, deeply nested JSON, redirects of secrets to another origin.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import tracemalloc
from typing import Any, Iterator, List, Sequence

import pytest

from avatars import ApiClient, ApiTimeoutError, AuthenticationError, AvatarError, RateLimitError, ServerError
from avatars.client import MAX_RATE_LIMIT_RETRIES
from avatars.config import ClientConfig
from avatars.errors import (
    ApiConnectionError,
    ConfigurationError,
    RedirectRefusedError,
    ResponseDecodeError,
    ResponseTooLargeError,
)

from ..hostile import HostileServer, Pause, Received, Step, answer, gzip_bomb, json_answer, trickle
from ..secrets_audit import reachable_texts

pytestmark = pytest.mark.integration

PASSWORD = "pa55word-never-elsewhere"
REFRESH = "refresh-token-never-elsewhere"


def _jwt(exp: float) -> str:
    import base64

    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': exp, 'iat': exp - 3600})}.sig"


LOGIN_OK = json.dumps({"access_token": "access-token-0123456789", "refresh_token": REFRESH, "token_type": "bearer"})


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """Another origin: it must never receive what the first one was sent."""
    with HostileServer(lambda r: [json_answer("{}")]) as srv:
        yield srv


def _redirecting(target: str, code: int) -> HostileServer:
    return HostileServer(lambda r: [answer(code, b"", {"Location": target + r.path})])


# ---------------------------------------------------------------------- secrets and redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_login_form_is_never_redirected_to_another_origin(elsewhere: HostileServer, code: int) -> None:
    with _redirecting(elsewhere.origin, code) as srv, ApiClient(srv.base_url, timeout=(2, 5)) as client:
        with pytest.raises(RedirectRefusedError) as info:
            client.authenticate("user@example.com", PASSWORD)
    assert len(srv.requests) == 1
    assert elsewhere.requests == []
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("code", [307, 308])
def test_no_body_follows_a_307_308_to_another_origin(elsewhere: HostileServer, code: int) -> None:
    with _redirecting(elsewhere.origin, code) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        with pytest.raises(RedirectRefusedError):
            client.request("POST", "jobs", json={"parameters_name": "x"})
    assert elsewhere.requests == []


def test_a_body_flagged_secret_follows_no_redirect_to_another_origin(elsewhere: HostileServer) -> None:
    with _redirecting(elsewhere.origin, 302) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        with pytest.raises(RedirectRefusedError):
            client.request("PUT", "storage/creds", data=b"aws_secret_access_key=abc", secret_body=True)
    assert elsewhere.requests == []


def test_a_same_origin_307_is_followed_with_its_body() -> None:
    def handler(r: Received) -> Sequence[Step]:
        if r.path == "/api/old":
            return [answer(307, b"", {"Location": "/api/new"})]
        return [json_answer(json.dumps({"got": r.body.decode()}))]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        assert client.request_json("POST", "old", data=b"hello") == {"got": "hello"}


def test_a_bad_location_is_a_typed_error() -> None:
    with HostileServer(lambda r: [answer(302, b"", {"Location": "http://[::1"})]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20) as client, pytest.raises(RedirectRefusedError):
            client.request("GET", "jobs")


def test_a_token_with_a_control_character_from_the_server_is_a_typed_error() -> None:
    bad = "access-token-\r\nX-Injected: 1"
    body = json.dumps({"access_token": bad, "refresh_token": REFRESH, "token_type": "bearer"})
    with HostileServer(lambda r: [json_answer(body)]) as srv, ApiClient(srv.base_url) as client:
        with pytest.raises(AuthenticationError) as info:
            client.authenticate("user@example.com", PASSWORD)
    assert "access-token-" not in str(info.value)
    assert REFRESH not in str(info.value)


def test_a_token_with_a_control_character_from_set_tokens_is_a_typed_error() -> None:
    client = ApiClient("http://127.0.0.1:9/api")
    with pytest.raises(AuthenticationError) as info:
        client.set_tokens({"access_token": "tok\x07en-0123456789", "refresh_token": REFRESH})
    assert "0123456789" not in str(info.value)
    assert REFRESH not in str(info.value)


def test_a_rejected_login_keeps_no_password_in_the_error() -> None:
    with HostileServer(lambda r: [json_answer('{"detail": "bad credentials"}', 401)]) as srv:
        with ApiClient(srv.base_url) as client, pytest.raises(AuthenticationError) as info:
            client.authenticate("user@example.com", PASSWORD)
    texts = " ".join(reachable_texts(info.value))
    assert "pa55word" not in texts
    assert info.value.response is not None and info.value.response.request.body is None


def test_a_transport_error_keeps_no_credentials_reachable() -> None:
    key = "api-key-never-in-errors-123"
    with HostileServer(lambda r: [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]) as srv:
        with ApiClient(srv.base_url, api_key=key, timeout=(2, 5)) as client, pytest.raises(AvatarError) as info:
            client.request("POST", "jobs", json={"x": 1})
    assert info.value.__context__ is None
    assert key not in " ".join(reachable_texts(info.value))


def test_a_rejected_refresh_keeps_no_token_reachable() -> None:
    def handler(r: Received) -> Sequence[Step]:
        return [json_answer('{"detail": "expired"}', 401)]

    with HostileServer(handler) as srv, ApiClient(srv.base_url) as client:
        client.set_tokens({"access_token": "access-token-0123456789", "refresh_token": REFRESH})
        with pytest.raises(AuthenticationError) as info:
            client.request("GET", "users/me")
    texts = " ".join(reachable_texts(info.value))
    assert "access-token-0123456789" not in texts
    assert REFRESH not in texts


# ---------------------------------------------------------------------- hangs and unbounded work


@pytest.mark.parametrize("retry_after", ["0", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "nan"])
def test_rate_limit_wait_loop_is_bounded(retry_after: str) -> None:
    with HostileServer(lambda r: [json_answer("{}", 429, {"Retry-After": retry_after})]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, rate_limit_wait=3) as client, pytest.raises(RateLimitError):
            client.request("GET", "jobs")
    # Each wait lasts at least MIN_RATE_LIMIT_WAIT (0.5 s): at most 3 / 0.5 waits.
    assert 2 <= len(srv.requests) <= min(MAX_RATE_LIMIT_RETRIES, 6) + 1


def test_rate_limit_wait_nan_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        ApiClient("http://127.0.0.1:9/api", rate_limit_wait=math.nan)


def test_total_timeout_bounds_trickled_headers() -> None:
    head = answer(200, b"{}", {"Content-Type": "application/json", "X-Padding": "p" * 200})
    with HostileServer(lambda r: list(trickle(head, 0.25)), connection_limit=20) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, timeout=(2, 5), total_timeout=1.5) as client:
            with pytest.raises(ApiTimeoutError) as info:
                client.request("GET", "jobs")
    message = str(info.value)
    assert "total budget of 1.5 s" in message and "in all" in message and "attempt" in message
    assert info.value.attempts == 1 and info.value.waited is not None


def test_the_default_budget_is_finite_and_configurable() -> None:
    assert math.isfinite(ApiClient("http://127.0.0.1:9/api").total_timeout)
    head = answer(200, b"{}", {"X-Padding": "p" * 200})
    with HostileServer(lambda r: list(trickle(head, 0.25)), connection_limit=20) as srv:
        config = ClientConfig(base_url=srv.base_url, api_key="k" * 20, timeout=(2, 5), total_timeout=1.0)
        with ApiClient(config=config) as client, pytest.raises(ApiTimeoutError) as info:
            client.request("GET", "jobs")
    assert "total budget of 1 s" in str(info.value)


def test_a_refresh_spends_the_budget_of_the_call() -> None:
    """The 401 -> refresh -> re-send chain has one budget: each step alone fits
    in it, the three together do not."""

    def handler(r: Received) -> Sequence[Step]:
        if r.path.endswith("/refresh"):
            return [Pause(0.8), json_answer(LOGIN_OK)]
        if r.headers.get("authorization", "").endswith("access-token-0123456789"):
            return [Pause(0.8), json_answer("{}")]
        return [json_answer('{"detail": "expired"}', 401)]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, timeout=(2, 5), total_timeout=1.2) as client:
        client.set_tokens({"access_token": "old-access-token-000", "refresh_token": REFRESH})
        with pytest.raises(ApiTimeoutError) as info:
            client.request("GET", "users/me")
    assert "total budget of 1.2 s" in str(info.value)


def _trickled_body(r: Received) -> Sequence[Step]:
    body = b"x" * 40
    head = answer(200, body)[: -len(body)]
    return [head, *trickle(body, 0.2)]


@pytest.mark.parametrize("injected", [False, True])
def test_a_streamed_body_is_cut_by_the_budget_without_patching_the_response(injected: bool, tmp_path: Any) -> None:
    """With an explicit budget, reading a streamed body is bounded too, for the
    library's session and an injected one; nothing is patched on the response:
    the budget is found with avatars._deadline.budget_of, and released once
    the body is done."""
    import requests

    from avatars._deadline import budget_of
    from avatars.transfer import save_response

    session = requests.Session() if injected else None
    with HostileServer(_trickled_body, connection_limit=20) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, http_client=session, total_timeout=1.0) as client:
            response = client.request("GET", "file", stream=True)
            deadline = budget_of(response)
            assert deadline is not None and deadline.armed
            assert "close" not in vars(response) and "release_conn" not in vars(response.raw)
            assert not any(name.startswith("_avatars") for name in vars(response))
            with pytest.raises(ApiTimeoutError, match="total budget of 1 s"):
                save_response(response, tmp_path / "out.bin")
    assert budget_of(response) is None and not deadline.armed
    if session is not None:
        session.close()


def test_a_streamed_body_read_in_time_releases_its_budget(tmp_path: Any) -> None:
    from avatars._deadline import budget_of
    from avatars.transfer import save_response

    with HostileServer(lambda r: [answer(200, b"y" * 1000)]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, total_timeout=30.0) as client:
            response = client.request("GET", "file", stream=True)
            deadline = budget_of(response)
            assert deadline is not None and deadline.armed
            assert save_response(response, tmp_path / "out.bin").bytes_written == 1000
            assert not deadline.armed and budget_of(response) is None
            # The connection went back to the pool and serves the next call.
            assert client.request("GET", "again").content == b"y" * 1000
    assert srv.connections == 1


def test_an_injected_session_with_its_own_retry_gets_the_documented_budget_guarantee() -> None:
    """docs/architecture.rst, "Budgets" for injected sessions: the budget caps each
    attempt's per-phase timeouts, the session's own urllib3.Retry decides how
    many attempts there are, and the call ends in ApiTimeoutError naming the
    budget once it is spent (trickled headers are not cut mid-way)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=2, backoff_factor=0)))
    # A stall longer than the budget before the headers: each attempt is cut by
    # the read timeout capped to what is left of the budget (not the 30 s given).
    with HostileServer(lambda r: [Pause(4), json_answer("{}")], connection_limit=6) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, http_client=session, timeout=(2, 30), total_timeout=0.5) as c:
            with pytest.raises(ApiTimeoutError) as info:
                c.request("GET", "jobs")
    assert len(srv.requests) == 3  # the session's own Retry: 1 + 2 retries
    assert "total budget of 0.5 s" in str(info.value)

    # Headers trickled one byte at a time, each byte within the read timeout:
    # with an injected session the header phase runs to its end, then the call
    # fails with the budget's error (never a success after the budget).
    head = answer(200, b"{}", {"Content-Type": "application/json"})
    with HostileServer(lambda r: list(trickle(head, 0.03)), connection_limit=20) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, http_client=session, timeout=(2, 5), total_timeout=0.5) as c:
            with pytest.raises(ApiTimeoutError, match="total budget of 0.5 s"):
                c.request("GET", "jobs")
    assert len(srv.requests) == 1
    session.close()


def test_a_gzip_bomb_on_a_json_call_fails_fast_in_bounded_memory() -> None:
    bomb = gzip_bomb(256 * 1024 * 1024)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with HostileServer(lambda r: [answer(200, bomb, headers)]) as srv, ApiClient(srv.base_url, api_key="k" * 20) as c:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError):
                c.request_json("GET", "jobs")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"peak {peak} bytes"


def test_an_endless_json_body_is_bounded() -> None:
    body = b"[" + b"0," * (3 * 1024 * 1024) + b"0]"
    with HostileServer(lambda r: [answer(200, body, {"Content-Type": "application/json"})]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, max_response_bytes=1024 * 1024) as client:
            with pytest.raises(ResponseTooLargeError) as info:
                client.request_json("GET", "jobs")
    assert "1048576 bytes" in str(info.value)


# ---------------------------------------------------------------------- typed errors


def test_json_nested_100000_deep_is_a_typed_error() -> None:
    with HostileServer(lambda r: [json_answer("[" * 100_000 + "]" * 100_000)]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20) as client, pytest.raises(ResponseDecodeError):
            client.request_json("GET", "jobs")


def test_deep_json_in_an_error_body_keeps_the_status() -> None:
    with HostileServer(lambda r: [json_answer("[" * 100_000 + "]" * 100_000, 400)]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20) as client, pytest.raises(AvatarError) as info:
            client.request_json("GET", "jobs")
    assert getattr(info.value, "status_code", None) == 400


@pytest.mark.parametrize("retry_after", ["-5", "abc", "1.5"])
def test_a_503_with_a_bad_retry_after_is_retried_and_keeps_its_status(retry_after: str) -> None:
    calls: List[str] = []

    def handler(r: Received) -> Sequence[Step]:
        calls.append(r.path)
        if len(calls) == 1:
            return [json_answer('{"detail": "busy"}', 503, {"Retry-After": retry_after})]
        return [json_answer('{"ok": true}')]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        assert client.request_json("GET", "jobs") == {"ok": True}
    assert len(calls) == 2

    with HostileServer(lambda r: [json_answer("{}", 503, {"Retry-After": retry_after})]) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20) as client, pytest.raises(ServerError) as info:
            client.request("GET", "jobs")
    assert info.value.status_code == 503


def _session_with_plain_retry(**retry: Any) -> Any:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(backoff_factor=0, **retry)))
    return session


@pytest.mark.parametrize("retry_after", ["-5", "abc", "1.5"])
@pytest.mark.parametrize("forcelist", [None, [503]])
def test_an_injected_plain_retry_on_a_bad_retry_after_keeps_the_503(retry_after: str, forcelist: Any) -> None:
    """urllib3 1.26 and 2.x raise InvalidHeader from a plain Retry on these
    values, after the 503 arrived: the call still ends in a ServerError 503
    (it is not "nothing was sent", nor a network failure)."""
    with HostileServer(lambda r: [json_answer('{"detail": "busy"}', 503, {"Retry-After": retry_after})]) as srv:
        with _session_with_plain_retry(total=2, status_forcelist=forcelist) as session:
            with ApiClient(srv.base_url, api_key="k" * 20, http_client=session) as client:
                with pytest.raises(ServerError) as info:
                    client.request("GET", "jobs")
    assert info.value.status_code == 503
    assert "Retry-After" in str(info.value)
    assert info.value.headers.get("Retry-After") == retry_after
    assert len(srv.requests) == 1  # the session's policy stopped at the first answer


def test_an_injected_plain_retry_that_runs_out_keeps_the_status() -> None:
    """A plain Retry with raise_on_status (urllib3's default) raises once its
    retries run out: the call ends in a ServerError with the last status."""
    with HostileServer(lambda r: [json_answer("{}", 502)]) as srv:
        with _session_with_plain_retry(total=2, status_forcelist=[502]) as session:
            with ApiClient(srv.base_url, api_key="k" * 20, http_client=session) as client:
                with pytest.raises(ServerError) as info:
                    client.request("GET", "jobs")
    assert info.value.status_code == 502 and "gave up after its retries" in str(info.value)
    assert len(srv.requests) == 3


# ---------------------------------------------------------------------- processes and auth bookkeeping


def test_an_api_key_client_rejected_after_a_redirect_does_not_claim_a_refresh() -> None:
    def handler(r: Received) -> Sequence[Step]:
        if r.path == "/api/old":
            return [answer(302, b"", {"Location": "/api/new"})]
        return [json_answer('{"detail": "invalid key"}', 401)]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        with pytest.raises(AuthenticationError) as info:
            client.request("GET", "old")
    assert "refresh" not in str(info.value)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_share_pooled_connections() -> None:
    peers: List[int] = []

    def handler(r: Received) -> Sequence[Step]:
        return [json_answer(json.dumps({"n": len(peers)}))]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, api_key="k" * 20) as client:
        client.request("GET", "jobs")  # a pooled, kept-alive connection
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                client.request("GET", "jobs")
                code = 0
            finally:
                os._exit(code)
        assert _wait_child(pid) == 0
        client.request("GET", "jobs")
    # parent's first call + the child's own connection; the parent kept its own.
    assert srv.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_during_a_refresh_does_not_deadlock() -> None:
    from avatars.auth import TokenAuth

    started = threading.Event()
    release = threading.Event()

    def slow_refresher(token: str) -> Any:
        started.set()
        release.wait(10)
        return ("access-token-new-0123", None)

    auth = TokenAuth("access-token-old-0123", REFRESH, refresher=slow_refresher)
    worker = threading.Thread(target=auth.refresh)
    worker.start()
    assert started.wait(5)
    pid = os.fork()
    if pid == 0:
        ok = auth._lock.acquire(timeout=3)
        os._exit(0 if ok else 1)
    release.set()
    worker.join(5)
    assert _wait_child(pid) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_still_enforces_the_budget() -> None:
    """The child has no watchdog thread of its parent's: it gets its own, and a
    trickling server is still cut at the child's budget."""
    head = answer(200, b"{}", {"Content-Type": "application/json", "X-Padding": "p" * 200})

    def handler(r: Received) -> Sequence[Step]:
        return list(trickle(head, 0.25)) if r.path.endswith("/slow") else [json_answer("{}")]

    with HostileServer(handler, connection_limit=20) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, timeout=(2, 5), total_timeout=1.0) as client:
            client.request("GET", "jobs")  # the parent's watchdog is running now
            pid = os.fork()
            if pid == 0:  # the child
                code = 1
                try:
                    client.request("GET", "slow")
                except ApiTimeoutError as exc:
                    code = 0 if "total budget of 1 s" in str(exc) else 2
                finally:
                    os._exit(code)
            assert _wait_child(pid) == 0


def _wait_child(pid: int, limit: float = 20.0) -> int:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the child process hung")


# ---------------------------------------------------------------------- messages


def test_a_dns_failure_has_a_clean_message() -> None:
    with ApiClient("http://nonexistent.invalid/api", api_key="k" * 20, timeout=(2, 2)) as client:
        with pytest.raises(ApiConnectionError) as info:
            client.request("GET", "jobs")
    message = str(info.value)
    assert "could not resolve the host name 'nonexistent.invalid'" in message
    assert "urllib3" not in message and "object at 0x" not in message and "Connection" not in message


def test_a_per_phase_timeout_error_says_how_long_the_call_waited_and_how_often() -> None:
    """timeout=0.5 with the default retries: four attempts; the message says so."""
    with HostileServer(lambda r: [Pause(5), json_answer("{}")], connection_limit=6) as srv:
        with ApiClient(srv.base_url, api_key="k" * 20, timeout=0.5) as client, pytest.raises(ApiTimeoutError) as info:
            client.request("GET", "jobs")
    assert info.value.attempts == len(srv.requests) == 4
    assert info.value.waited is not None and info.value.waited > 0
    message = str(info.value)
    assert "0.5 s per attempt" in message and "in all, 4 attempts" in message


def test_an_injected_session_takes_the_same_redirect_rule(elsewhere: HostileServer) -> None:
    import requests

    with _redirecting(elsewhere.origin, 307) as srv, requests.Session() as session:
        with ApiClient(srv.base_url, http_client=session) as client, pytest.raises(RedirectRefusedError):
            client.authenticate("user@example.com", PASSWORD)
    assert elsewhere.requests == []


def test_waiting_for_a_free_pooled_connection_is_bounded_by_the_budget() -> None:
    """One pooled connection, held by a slow call: a second thread waits for it
    only as long as its own budget allows."""
    from avatars.session import AvatarSession

    release = threading.Event()

    def handler(r: Received) -> Sequence[Step]:
        if r.path.endswith("/slow"):
            release.wait(10)
        return [json_answer("{}")]

    with HostileServer(handler) as srv, ApiClient(srv.base_url, api_key="k" * 20, timeout=(2, 15)) as client:
        client._session = AvatarSession(srv.base_url, pool_maxsize=1)
        slow = threading.Thread(target=lambda: client.request("GET", "slow"))
        slow.start()
        # Without the bound, the second call would wait for the slow one: let
        # that end after a while, so a regression fails instead of hanging.
        unblock = threading.Timer(5.0, release.set)
        unblock.start()
        try:
            for _ in range(500):
                if srv.requests:
                    break
                time.sleep(0.01)
            with pytest.raises(ApiTimeoutError) as info:
                client.request("GET", "fast", total_timeout=0.5)
        finally:
            release.set()
            unblock.cancel()
            slow.join(10)
    assert "no free connection" in str(info.value) or "total budget" in str(info.value)
    assert [r.path for r in srv.requests] == ["/api/slow"]
