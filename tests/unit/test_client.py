"""ApiClient.request: URLs, timeouts, headers, TLS rules, injected sessions, redirects, errors."""

from __future__ import annotations

import logging
import warnings
from typing import Any, List

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import avatars
from avatars import (
    NO_TIMEOUT,
    ApiClient,
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    AvatarSession,
    ConfigurationError,
    InsecureTLSWarning,
    ProxyError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TLSError,
)

from .conftest import BASE, login_body


def _kwargs(call: Any) -> dict:
    return dict(getattr(call.request, "req_kwargs", {}))


# ---------------------------------------------------------------- URLs and headers


@pytest.mark.parametrize("path", ["jobs", "/jobs"])
def test_relative_paths_join_the_base_url(rsps: responses.RequestsMock, path: str) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    ApiClient(BASE, api_key="k").request("GET", path)
    assert rsps.calls[0].request.url == f"{BASE}/jobs"


def test_absolute_urls_are_used_as_given(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://other.test/api/x", json={})
    ApiClient(BASE, api_key="k").request("GET", "https://other.test/api/x", auth_required=False)
    assert rsps.calls[0].request.url == "https://other.test/api/x"
    assert "Authorization" not in rsps.calls[0].request.headers


def test_session_joins_paths_too(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    with AvatarSession(BASE) as session:
        session.get("/health")
        session.get("health")
    assert [c.request.url for c in rsps.calls] == [f"{BASE}/health"] * 2


def test_user_agent_names_the_client_then_requests(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    ApiClient(BASE).request("GET", "health", auth_required=False)
    ua = rsps.calls[0].request.headers["User-Agent"]
    assert ua == f"avatar-anonymization-client/{avatars.__version__} requests/{requests.__version__}"


def test_injected_session_custom_user_agent_is_kept_after_ours(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    session = requests.Session()
    session.headers["User-Agent"] = "acme-etl/3.1"
    ApiClient(BASE, http_client=session).request("GET", "health", auth_required=False)
    ua = rsps.calls[0].request.headers["User-Agent"]
    assert ua.startswith(f"avatar-anonymization-client/{avatars.__version__} ")
    assert ua.endswith(" acme-etl/3.1")
    assert session.headers["User-Agent"] == "acme-etl/3.1"  # not rewritten


# ---------------------------------------------------------------- timeouts


def test_default_timeout_applies(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    client = ApiClient(BASE, timeout=(3, 40))
    client.request("GET", "health", auth_required=False)
    client.request("GET", "health", auth_required=False, timeout=None)
    client.request("GET", "health", auth_required=False, timeout=7)
    client.request("GET", "health", auth_required=False, timeout=NO_TIMEOUT)
    timeouts = [_kwargs(c)["timeout"] for c in rsps.calls]
    assert timeouts[:3] == [(3.0, 40.0), (3.0, 40.0), 7.0]
    # NO_TIMEOUT lifts the per-phase timeout; the whole-call budget still bounds each wait.
    connect, read = timeouts[3]
    assert 290 < connect <= 300 and 290 < read <= 300


def test_default_timeout_on_injected_session(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    client = ApiClient(BASE, http_client=requests.Session())
    client.request("GET", "health", auth_required=False)
    client.request("GET", "health", auth_required=False, timeout=NO_TIMEOUT)
    timeouts = [_kwargs(c)["timeout"] for c in rsps.calls]
    assert timeouts[0] == avatars.DEFAULT_TIMEOUT
    # NO_TIMEOUT lifts the per-phase timeout; the whole-call budget still bounds each wait.
    assert all(290 < part <= 300 for part in timeouts[1])


def test_avatar_session_timeout_rules(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    with AvatarSession(BASE, timeout=4) as session:
        session.get("health")
        session.get("health", timeout=None)
        session.get("health", timeout=NO_TIMEOUT)
    assert [_kwargs(c)["timeout"] for c in rsps.calls] == [4.0, 4.0, None]


def test_bad_per_call_timeout_is_refused_before_sending(rsps: responses.RequestsMock) -> None:
    with pytest.raises(ConfigurationError):
        ApiClient(BASE).request("GET", "health", auth_required=False, timeout=-1)
    assert len(rsps.calls) == 0


# ---------------------------------------------------------------- client-side auth check


def test_verify_auth_blocks_unauthenticated_calls_before_sending(rsps: responses.RequestsMock) -> None:
    client = ApiClient(BASE)
    with pytest.raises(AuthenticationError, match="needs credentials") as info:
        client.request("GET", "jobs")
    assert info.value.status_code is None
    assert len(rsps.calls) == 0
    # Distinguishable from a 401 the server sent.
    assert isinstance(info.value, avatars.errors.CredentialsRequiredError)
    assert info.value.request_sent is False


def test_a_401_from_the_server_is_not_credentials_required(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"detail": "Not authenticated"}, status=401)
    with pytest.raises(AuthenticationError) as info:
        ApiClient(BASE, api_key="k").request("GET", "jobs")
    assert not isinstance(info.value, avatars.errors.CredentialsRequiredError)
    assert info.value.request_sent is True and info.value.status_code == 401


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "bad\x00value"])
def test_an_invalid_header_value_is_a_client_side_error(rsps: responses.RequestsMock, value: str) -> None:
    with pytest.raises(avatars.errors.RequestValidationError) as info:
        ApiClient(BASE, api_key="k").request("GET", "jobs", headers={"X-Trace": value})
    assert "Injected" not in str(info.value)
    assert len(rsps.calls) == 0


def test_nan_in_json_is_a_client_side_error(rsps: responses.RequestsMock) -> None:
    with pytest.raises(avatars.errors.RequestValidationError) as info:
        ApiClient(BASE, api_key="k").request("POST", "jobs", json={"x": float("nan")})
    assert info.value.field == "json"
    assert len(rsps.calls) == 0


def test_verify_auth_false_sends_anyway(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"detail": "Not authenticated"}, status=401)
    client = ApiClient(BASE, verify_auth=False)
    with pytest.raises(AuthenticationError) as info:
        client.request("GET", "jobs")
    assert info.value.status_code == 401
    assert len(rsps.calls) == 1


def test_no_auth_endpoints_work_without_credentials(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={"message": "ok"})
    assert ApiClient(BASE).request_json("GET", "health", auth_required=False) == {"message": "ok"}


# ---------------------------------------------------------------- injected sessions


class _RecordingSession(requests.Session):
    closed_count = 0

    def close(self) -> None:
        type(self).closed_count += 1
        super().close()


def test_injected_session_settings_survive(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    session = requests.Session()
    session.proxies = {"https": "http://proxy.corp:3128"}
    session.cert = ("/etc/client.pem", "/etc/client.key")
    session.verify = "/etc/corp-ca.pem"
    session.headers["X-Corp-Trace"] = "abc"
    retry = Retry(total=7, backoff_factor=0.1)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    hooked: List[int] = []
    session.hooks["response"].append(lambda r, *a, **k: hooked.append(r.status_code))

    client = ApiClient(BASE, http_client=session, api_key="k")
    client.request("GET", "jobs")

    call = rsps.calls[0]
    kw = _kwargs(call)
    assert kw["proxies"] == {"https": "http://proxy.corp:3128"}
    assert kw["cert"] == ("/etc/client.pem", "/etc/client.key")
    assert kw["verify"] == "/etc/corp-ca.pem"
    assert call.request.headers["X-Corp-Trace"] == "abc"
    assert call.request.headers["Authorization"] == "api-key-v1 k"
    assert hooked == [200]
    # nothing on the session was rewritten
    assert session.adapters["https://"] is adapter and adapter.max_retries is retry
    assert session.auth is None
    assert session.verify == "/etc/corp-ca.pem"
    assert "Authorization" not in session.headers


def test_injected_session_verify_wins_over_requests_ca_bundle(rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    rsps.add(responses.GET, f"{BASE}/health", json={})
    session = requests.Session()
    session.verify = "/session/bundle.pem"
    ApiClient(BASE, http_client=session).request("GET", "health", auth_required=False)
    assert _kwargs(rsps.calls[0])["verify"] == "/session/bundle.pem"


def test_explicit_should_verify_ssl_wins_over_session(rsps: responses.RequestsMock, tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    rsps.add(responses.GET, f"{BASE}/health", json={})
    session = requests.Session()
    session.verify = "/session/bundle.pem"
    client = ApiClient(BASE, http_client=session, should_verify_ssl=str(bundle))
    client.request("GET", "health", auth_required=False)
    assert _kwargs(rsps.calls[0])["verify"] == str(bundle)
    assert client.should_verify_ssl == str(bundle)


def test_should_verify_ssl_false_warns_once(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = ApiClient(BASE, should_verify_ssl=False)
        for _ in range(3):
            client.request("GET", "health", auth_required=False)
    ours = [w for w in caught if issubclass(w.category, InsecureTLSWarning)]
    assert len(ours) == 1
    assert "verification is OFF" in str(ours[0].message)
    assert all(_kwargs(c)["verify"] is False for c in rsps.calls)


def test_client_closes_own_session_not_an_injected_one() -> None:
    _RecordingSession.closed_count = 0
    injected = _RecordingSession()
    with ApiClient(BASE, http_client=injected):
        pass
    assert _RecordingSession.closed_count == 0
    with ApiClient(BASE) as client:
        session = client.session
    assert isinstance(session, AvatarSession)
    assert client._closed
    with pytest.raises(ConfigurationError, match="closed"):
        client.request("GET", "health", auth_required=False)


def test_own_session_has_auth_in_the_auth_slot(rsps: responses.RequestsMock) -> None:
    client = ApiClient(BASE, api_key="k")
    assert client.session.auth is client.auth_strategy
    rsps.add(responses.GET, f"{BASE}/x", json={})
    client.session.get("x")  # using the session directly still authenticates
    assert rsps.calls[0].request.headers["Authorization"] == "api-key-v1 k"


# ---------------------------------------------------------------- redirects and cookies


def test_redirect_to_another_origin_drops_credentials_and_cookies(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login", json=login_body(), headers={"Set-Cookie": "avatar_session=abc; Path=/"})
    rsps.add(responses.GET, f"{BASE}/me", json={})
    rsps.add(responses.GET, f"{BASE}/results/x", status=302, headers={"Location": "https://avatar.test:9443/file"})
    rsps.add(responses.GET, "https://avatar.test:9443/file", body=b"data")
    client = ApiClient(BASE)
    client.authenticate("u@example.com", "pw")
    client.request("GET", "me")
    client.request("GET", "results/x")
    me, first, second = rsps.calls[1], rsps.calls[2], rsps.calls[3]
    assert me.request.headers.get("Cookie") == "avatar_session=abc"  # same origin: fine
    assert first.request.headers["Authorization"] == "Bearer access-1"
    assert second.request.url == "https://avatar.test:9443/file"
    assert "Authorization" not in second.request.headers
    assert "Cookie" not in second.request.headers


def test_https_to_http_redirect_never_carries_credentials(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/x", status=301, headers={"Location": "http://avatar.test/api/x"})
    rsps.add(responses.GET, "http://avatar.test/api/x", json={})
    ApiClient(BASE, api_key="k").request("GET", "x")
    assert rsps.calls[1].request.url.startswith("http://")
    assert "Authorization" not in rsps.calls[1].request.headers


def test_explicit_absolute_call_to_another_origin_gets_no_cookie(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/health", json={}, headers={"Set-Cookie": "avatar_session=abc; Path=/"})
    rsps.add(responses.GET, "https://avatar.test:8443/file", body=b"x")
    client = ApiClient(BASE, api_key="k")
    client.request("GET", "health", auth_required=False)
    client.request("GET", "https://avatar.test:8443/file", auth_required=False)
    assert "Cookie" not in rsps.calls[1].request.headers
    assert "Authorization" not in rsps.calls[1].request.headers


# ---------------------------------------------------------------- errors


def test_html_gateway_error_is_readable(rsps: responses.RequestsMock) -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        body=html,
        status=502,
        content_type="text/html",
        headers={"X-Request-ID": "rid-1"},
    )
    client = ApiClient(BASE, api_key="k")
    with pytest.raises(ServerError) as info:
        client.request("GET", "jobs")
    err = info.value
    assert err.status_code == 502
    assert "502 Bad Gateway" in str(err)
    assert "<html>" not in str(err)
    assert err.request_id == "rid-1" and "rid-1" in str(err)
    assert err.method == "GET" and err.url == f"{BASE}/jobs"


def test_invalid_json_on_success_is_decode_error(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", body='{"jobs": [', status=200, content_type="application/json")
    with pytest.raises(ResponseDecodeError, match="not valid JSON") as info:
        ApiClient(BASE, api_key="k").request_json("GET", "jobs")
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "caf\u00e9", "n": [1, 2]}'.encode("utf-8"),
        '{"name": "caf\u00e9"}'.encode("utf-8-sig"),
        '{"name": "caf\u00e9"}'.encode("utf-16"),
        '{"name": "caf\u00e9"}'.encode("utf-16-le"),
        '["x"]'.encode("utf-32-be"),
        b'{"s": "\xed\xa0\x80"}',  # an encoded surrogate: json.loads(bytes) takes it
        b"[",
        b"{",
        b'{"a": "\xff"}',
        b"7",
    ],
)
def test_json_bodies_decode_as_json_loads_decodes_bytes(rsps: responses.RequestsMock, body: bytes) -> None:
    import json

    rsps.add(responses.GET, f"{BASE}/jobs", body=body, status=200, content_type="application/json")
    try:
        expected: Any = ("ok", json.loads(body))
    except ValueError:
        expected = ("error", None)
    try:
        got: Any = ("ok", ApiClient(BASE, api_key="k").request_json("GET", "jobs"))
    except ResponseDecodeError:
        got = ("error", None)
    assert got == expected


def test_empty_success_body_where_json_expected(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", body=b"", status=200)
    with pytest.raises(ResponseDecodeError, match="empty body"):
        ApiClient(BASE, api_key="k").request_json("GET", "jobs")


def test_429_raises_with_retry_after(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={"detail": {"message": "Rate limit exceeded"}, "retry_after": 3},
        status=429,
        headers={"Retry-After": "3"},
    )
    with pytest.raises(RateLimitError) as info:
        ApiClient(BASE, api_key="k").request("GET", "jobs")
    assert info.value.retry_after == 3.0
    assert "Rate limit exceeded" in str(info.value)


def test_opt_in_rate_limit_wait_retries_then_gives_up(rsps: responses.RequestsMock) -> None:
    limited = dict(
        json={"detail": {"message": "Rate limit exceeded"}, "retry_after": 0}, status=429, headers={"Retry-After": "0"}
    )
    rsps.add(responses.POST, f"{BASE}/jobs", **limited)
    rsps.add(responses.POST, f"{BASE}/jobs", json={"name": "j"}, status=201)
    client = ApiClient(BASE, api_key="k", rate_limit_wait=5)
    assert client.request_json("POST", "jobs", json={"a": 1}) == {"name": "j"}
    assert len(rsps.calls) == 2
    assert rsps.calls[0].request.body == rsps.calls[1].request.body

    rsps.replace(
        responses.POST, f"{BASE}/jobs", json={"detail": "slow down"}, status=429, headers={"Retry-After": "60"}
    )
    with pytest.raises(RateLimitError):
        client.request("POST", "jobs", json={"a": 1})  # 60 s would exceed the 5 s budget
    assert len(rsps.calls) == 3


def test_rate_limit_wait_never_replays_a_generator(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.POST, f"{BASE}/datasets/stream", json={"detail": "slow"}, status=429, headers={"Retry-After": "0"}
    )
    client = ApiClient(BASE, api_key="k", rate_limit_wait=5)
    with pytest.raises(RateLimitError):
        client.request("POST", "datasets/stream", data=(b for b in [b"a"]))
    assert len(rsps.calls) == 1


def test_http_407_is_a_proxy_error_without_password(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "http://avatar.test/api/jobs", status=407, body="<html>Cache Access Denied</html>")
    session = requests.Session()
    session.proxies = {"http": "http://bob:pr0xy-pass@proxy.corp:3128"}
    client = ApiClient("http://avatar.test/api", http_client=session, api_key="k")
    with pytest.raises(ProxyError, match="407") as info:
        client.request("GET", "jobs")
    assert "pr0xy-pass" not in str(info.value)


@pytest.mark.parametrize(
    "exc, expected, fragment",
    [
        (requests.exceptions.ConnectTimeout("boom"), ApiTimeoutError, "connecting to avatar.test timed out"),
        (requests.exceptions.ReadTimeout("boom"), ApiTimeoutError, "did not answer in time"),
        (
            requests.exceptions.SSLError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"
            ),
            TLSError,
            "TLS error talking to avatar.test: certificate verify failed",
        ),
        (
            requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")),
            ApiConnectionError,
            "refused",
        ),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), ApiConnectionError, "broke while reading"),
        (requests.exceptions.ProxyError("Cannot connect to proxy http://u:secretpw@proxy:3128"), ProxyError, "proxy"),
    ],
)
def test_transport_errors_are_typed(
    rsps: responses.RequestsMock, exc: Exception, expected: type, fragment: str
) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", body=exc)
    with pytest.raises(expected) as info:
        ApiClient(BASE, api_key="k").request("GET", "jobs")
    assert fragment in str(info.value)
    assert "secretpw" not in str(info.value)
    assert isinstance(info.value, avatars.AvatarError)


# ---------------------------------------------------------------- secrets in logs and reprs


def test_debug_logs_and_reprs_carry_no_secrets(rsps: responses.RequestsMock, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    access, refresh = "ACCESS-SECRET-1", "REFRESH-SECRET-1"
    rsps.add(responses.POST, f"{BASE}/login", json=login_body(access, refresh))
    rsps.add(responses.GET, f"{BASE}/jobs", json={"detail": {"message": "credentials expired"}}, status=401)
    rsps.add(responses.POST, f"{BASE}/refresh", json=login_body("ACCESS-SECRET-2", "REFRESH-SECRET-2"))
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    rsps.add(responses.GET, f"{BASE}/access", json={"detail": "nope"}, status=403)
    client = ApiClient(BASE)
    client.authenticate("alice@example.com", "PASSWORD-SECRET")
    client.request("GET", "jobs")
    with pytest.raises(avatars.PermissionDenied) as info:
        client.request("GET", "access", params={"url": "s3://b/k", "token": "QUERY-SECRET"})
    texts = [
        caplog.text,
        repr(client),
        repr(client.auth_tokens),
        repr(client.auth_strategy),
        str(info.value),
        repr(info.value),
    ]
    for text in texts:
        for secret in ("PASSWORD-SECRET", "ACCESS-SECRET", "REFRESH-SECRET", "QUERY-SECRET"):
            assert secret not in text
    assert "GET https://avatar.test/api/jobs -> 200" in caplog.text


def test_injected_session_proxies_win_over_the_environment(rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.corp:8080")
    rsps.add(responses.GET, f"{BASE}/health", json={})
    session = requests.Session()
    session.proxies = {"https": "http://session-proxy.corp:3128"}
    ApiClient(BASE, http_client=session).request("GET", "health", auth_required=False)
    assert _kwargs(rsps.calls[0])["proxies"]["https"] == "http://session-proxy.corp:3128"


def test_environment_proxy_applies_when_the_session_has_none(rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.corp:8080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    rsps.add(responses.GET, f"{BASE}/health", json={})
    ApiClient(BASE).request("GET", "health", auth_required=False)
    assert _kwargs(rsps.calls[0])["proxies"].get("https") == "http://env-proxy.corp:8080"


def test_a_port_containing_407_is_not_a_proxy_auth_error(rsps: responses.RequestsMock) -> None:
    text = (
        "HTTPConnectionPool(host='127.0.0.1', port=40795): Max retries exceeded (Caused by "
        "ProxyError('Unable to connect to proxy', ConnectionRefusedError(111, 'Connection refused')))"
    )
    rsps.add(responses.GET, f"{BASE}/jobs", body=requests.exceptions.ProxyError(text))
    with pytest.raises(ProxyError) as info:
        ApiClient(BASE, api_key="k").request("GET", "jobs")
    assert "407" not in str(info.value).split("(GET")[0]
    assert "could not go through the proxy" in str(info.value)


# ---------------------------------------------------------------- one owner for per-call policy


def test_the_client_and_the_session_it_builds_share_one_policy() -> None:
    client = ApiClient(BASE)
    session = client.session
    assert isinstance(session, AvatarSession)
    assert session.policy is client._policy
    assert session.url_for("jobs") == client.url_for("/jobs") == f"{BASE}/jobs"
    assert session.resolve_timeout(None) == client._policy.timeout_for(None) == avatars.DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    ("given", "resolved"),
    [((2.5, 7.0), (2.5, 7.0)), ((2, 7), (2.0, 7.0)), ([2.5, 7.0], (2.5, 7.0)), (3, 3.0), (3.5, 3.5)],
)
def test_a_resolved_timeout_comes_back_unchanged(given: Any, resolved: Any) -> None:
    policy = ApiClient(BASE)._policy
    once = policy.timeout_for(given)
    assert once == resolved and type(once) is type(resolved)
    assert policy.timeout_for(once) == resolved  # resolving twice (client, then session) changes nothing


@pytest.mark.parametrize(
    "bad",
    [
        (float("nan"), 7.0),
        (2.0, float("inf")),
        (0.0, 7.0),
        (2.0, -1.0),
        (True, 7.0),
        (2.0, "7"),
        (1.0, 2.0, 3.0),
        (),
    ],
)
def test_a_bad_timeout_pair_is_refused_whatever_its_types(bad: Any) -> None:
    policy = ApiClient(BASE)._policy
    with pytest.raises(ConfigurationError):
        policy.timeout_for(bad)
    with pytest.raises(ConfigurationError):
        ApiClient(BASE).session.request("GET", "jobs", timeout=bad)


@pytest.mark.parametrize("injected", [False, True])
def test_owned_and_injected_sessions_send_the_same_resolved_call(rsps: responses.RequestsMock, injected: bool) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={})
    rsps.add(responses.GET, "https://elsewhere.test/x", json={})
    http_client = requests.Session() if injected else None
    client = ApiClient(BASE, timeout=(3, 7), http_client=http_client, total_timeout=100)
    client.request("GET", "/jobs", auth_required=False)
    client.request("GET", "https://elsewhere.test/x", auth_required=False, timeout=5)
    sent = [(c.request.url, _kwargs(c)["timeout"]) for c in rsps.calls]
    assert sent == [(f"{BASE}/jobs", (3.0, 7.0)), ("https://elsewhere.test/x", 5.0)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, "3", (1, float("nan"))])
def test_a_standalone_avatar_session_refuses_bad_timeouts_before_sending(
    rsps: responses.RequestsMock, bad: object
) -> None:
    with AvatarSession(BASE) as session, pytest.raises(ConfigurationError):
        session.get("health", timeout=bad)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("length", ["\u00b2", "\u00b9\u00b3"])
def test_a_content_length_of_non_ascii_digits_is_no_length(rsps: responses.RequestsMock, length: str) -> None:
    """A header is read as Latin-1, where ``'²'.isdigit()`` is true and ``int('²')`` a ValueError."""
    rsps.add(
        responses.GET,
        f"{BASE}/health",
        json={"message": "ok"},
        headers={"Content-Length": length},
        auto_calculate_content_length=False,
    )
    with ApiClient(BASE, api_key="key-1") as client:
        assert client.request("GET", "health", auth_required=False).json() == {"message": "ok"}
