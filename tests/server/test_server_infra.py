"""Request log, keep-alive, TLS, persistence, clean stop, admin HTTP API, CLI."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.admin import CreatedUser

from .conftest import create_job, fetch_result, key_session, make_set, people_csv, upload, wait_job

REPO = Path(__file__).resolve().parents[2]


def _our_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("avatars-testing")]


def test_request_log_redacts_secrets(srv: LocalAvatarServer, user: CreatedUser, api_key: str) -> None:
    session = requests.Session()
    login = session.post(
        srv.url("/login"), data={"username": "alice@example.com", "password": "alice-password", "scope": ""}
    )
    tokens = login.json()
    session.get(srv.url("/users/me"), headers={"Authorization": f"Bearer {tokens['access_token']}"})
    requests.get(
        srv.url("/users/me"),
        headers={"Authorization": f"api-key-v1 {api_key}"},
        params={"token": "query-secret", "page": "2"},
    )
    requests.get(srv.url("/health"))

    login_record = srv.log.last("POST", "/api/login")
    assert login_record.status == 200 and login_record.auth_scheme is None
    bearer_record, key_record = srv.log.entries("GET", "/api/users/me")
    assert bearer_record.auth_scheme == "Bearer" and bearer_record.had_cookie is True
    assert bearer_record.header("Authorization") == "Bearer [REDACTED]"
    assert bearer_record.header("Cookie") == "[REDACTED]"
    assert key_record.auth_scheme == "api-key-v1" and key_record.had_cookie is False
    assert key_record.query == (("token", "[REDACTED]"), ("page", "2"))
    assert key_record.query_keys == ("token", "page")
    health = srv.log.last("GET", "/api/health")
    assert health.had_authorization is False and health.auth_scheme is None
    timestamps = [r.timestamp for r in srv.log.entries()]
    assert timestamps == sorted(timestamps)
    dump = repr(srv.log.entries())
    for secret in (tokens["access_token"], tokens["refresh_token"], api_key, "query-secret", "alice-password"):
        assert secret not in dump
    assert srv.count("GET", "/api/users/me") == 2
    assert srv.count("GET", "/api/*") == 3
    srv.reset_log()
    assert srv.count() == 0


def test_keep_alive_one_connection(srv: LocalAvatarServer, http: requests.Session) -> None:
    before = srv.connections_opened
    for _ in range(20):
        assert http.get(srv.url("/users/me")).status_code == 200
    assert srv.connections_opened - before == 1
    # an error answer to an upload whose body the server never used keeps the connection
    response = http.put(srv.storage_endpoint_url + "/avatars/users/x/unsigned.bin", data=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 400  # the store refuses an api-key-v1 header, without reading the body
    assert b"<Code>InvalidArgument</Code>" in response.content
    assert http.get(srv.url("/users/me")).status_code == 200
    assert srv.connections_opened - before == 1
    record_ids = {r.connection_id for r in srv.log.entries()[-3:]}
    assert len(record_ids) == 1
    for _ in range(3):
        requests.get(srv.url("/health"))
    assert srv.connections_opened - before == 4


def test_no_werkzeug_output_on_stderr(
    srv: LocalAvatarServer, http: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    http.get(srv.url("/users/me"))
    http.get(srv.url("/nope"))
    requests.get(srv.url("/users/me"))
    srv.faults.drop_before("GET", "/api/health")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(srv.url("/health"))
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_tls_and_mutual_tls(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    with LocalAvatarServer(ssl_context=server_context) as srv:
        assert srv.base_url.startswith("https://127.0.0.1:")
        assert srv.storage_base_url.startswith("https://")
        assert requests.get(srv.url("/health"), verify=str(ca_file)).json() == {"message": "ok"}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(srv.url("/health"))  # not trusted by the default bundle
        session = requests.Session()
        for _ in range(5):
            # per call: REQUESTS_CA_BUNDLE in the environment would override session.verify
            session.get(srv.url("/health"), verify=str(ca_file))
        assert srv.connections_opened == 3

    mtls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(mtls_context)
    mtls_context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(mtls_context)
    client_cert = ca.issue_cert("client@example.com")
    client_pem = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    with LocalAvatarServer(ssl_context=mtls_context) as srv:
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(srv.url("/health"), verify=str(ca_file))
        ok = requests.get(srv.url("/health"), verify=str(ca_file), cert=str(client_pem))
        assert ok.status_code == 200
    assert _our_threads() == []


def test_persistence_across_restart(tmp_path: Path) -> None:
    data = people_csv(40)
    with LocalAvatarServer(data_dir=tmp_path, job_step_seconds=0.01) as first:
        user = first.admin.create_user("dora@example.com", "pw")
        key = first.admin.create_api_key(user)
        http = key_session(key)
        dataset = upload(http, first, data)
        set_name = make_set(http, first, dataset["id"])
        finished = create_job(http, first, set_name, "standard")
        wait_job(http, first, finished)
        tokens = requests.post(first.url("/login"), data={"username": "dora@example.com", "password": "pw"}).json()
        first.admin.set_access_token_lifetime(3600)
    assert (tmp_path / "state.json").exists()
    with LocalAvatarServer(data_dir=tmp_path, job_step_seconds=5, job_steps=50) as second:
        http = key_session(key)
        assert http.get(second.url("/users/me")).json()["email"] == "dora@example.com"
        prefix_url = f"{second.base_url}/access?url={dataset['location']}"
        assert fetch_result(http, second, prefix_url) == data  # the uploaded object survived the restart
        assert http.get(second.url(f"/jobs/{finished}")).json()["status"] == "finished"
        url = http.get(second.url(f"/results/{finished}")).json()["shuffled"][0]
        assert url.startswith(second.base_url + "/access?url=s3://")
        assert fetch_result(http, second, url).startswith(b"id,")  # the store kept its objects
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert requests.get(second.url("/users/me"), headers=bearer).status_code == 200
        refreshed = requests.post(second.url("/refresh"), data={"token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        unfinished = create_job(http, second, set_name, "standard")
        assert http.get(second.url(f"/jobs/{unfinished}")).json()["done"] is False
    with LocalAvatarServer(data_dir=tmp_path) as third:
        http = key_session(key)
        lost = http.get(third.url(f"/jobs/{unfinished}")).json()
        assert lost["status"] == "lost" and lost["done"] is True
        reused = requests.post(third.url("/refresh"), data={"token": tokens["refresh_token"]})
        assert reused.status_code == 401  # rotation state persisted too


def test_clean_stop() -> None:
    assert _our_threads() == []
    srv = LocalAvatarServer(job_step_seconds=0.2, job_steps=50)
    srv.start()
    root = srv.store.root
    user = srv.admin.create_user("erin@example.com", "pw")
    http = key_session(srv.admin.create_api_key(user))
    set_name = make_set(http, srv, upload(http, srv, people_csv(30))["id"])
    create_job(http, srv, set_name, "standard")  # left running
    assert http.get(srv.url("/users/me")).ok  # a keep-alive connection left open
    srv.faults.delay("GET", "/api/health", 30)
    slow = threading.Thread(target=lambda: _swallow(srv.url("/health")), daemon=True)
    slow.start()
    time.sleep(0.2)
    assert any(name.startswith("avatars-testing-job-worker") for name in _our_threads())
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 5
    assert _our_threads() == []
    assert srv.threads() == []
    assert not root.exists()
    srv.stop()  # idempotent
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(srv.url("/health"), timeout=2)
    slow.join(5)


def _swallow(url: str) -> None:
    try:
        requests.get(url, timeout=10)
    except requests.RequestException:
        pass


def test_admin_http_api(srv: LocalAvatarServer) -> None:
    admin = srv.origin + "/_admin"
    headers = {"X-Avatar-Admin-Secret": srv.admin_secret}
    assert requests.post(admin + "/users", json={"email": "x@example.com"}).status_code == 403
    user = requests.post(admin + "/users", headers=headers, json={"email": "frank@example.com", "password": "pw"})
    assert user.status_code == 201 and user.json()["password"] == "pw"
    key = requests.post(admin + "/api-keys", headers=headers, json={"user": "frank@example.com"}).json()
    auth = {"Authorization": f"api-key-v1 {key['plaintext']}"}
    assert requests.get(srv.url("/users/me"), headers=auth).ok
    fault = requests.post(
        admin + "/faults",
        headers=headers,
        json={"kind": "status", "method": "GET", "path": "/api/users/me", "code": 503},
    )
    assert fault.status_code == 201
    assert len(requests.get(admin + "/faults", headers=headers).json()) == 1
    assert requests.get(srv.url("/users/me"), headers=auth).status_code == 503
    requests.post(
        admin + "/rate-limits", headers=headers, json={"method": "GET", "path": "/api/health", "limit": 0, "window": 10}
    )
    assert requests.get(srv.url("/health")).status_code == 429
    requests.delete(admin + "/rate-limits", headers=headers)
    settings = requests.post(
        admin + "/settings", headers=headers, json={"refresh_rotation": False, "min_client_version": "2.0"}
    )
    assert settings.json()["refresh_rotation"] is False
    assert requests.post(admin + "/api-keys/revoke", headers=headers, json={"key": key["id"]}).ok
    assert requests.get(srv.url("/users/me"), headers=auth).status_code == 401
    log = requests.get(admin + "/log", headers=headers).json()
    assert [entry["path"] for entry in log][-1] == "/api/users/me"
    assert all("/_admin" not in entry["path"] for entry in log)
    assert key["plaintext"] not in str(log)
    stats = requests.get(admin + "/stats", headers=headers).json()
    assert stats["connections_opened"] >= 1
    expired = requests.post(
        admin + "/tokens", headers=headers, json={"user": "frank@example.com", "lifetime": -1}
    ).json()
    late = requests.get(srv.url("/users/me"), headers={"Authorization": f"Bearer {expired['access_token']}"})
    assert late.json() == {"detail": {"message": "credentials expired"}}
    assert requests.delete(admin + "/log", headers=headers).ok
    assert srv.count() == 0
    assert requests.get(admin + "/nothing", headers=headers).status_code == 404


def test_cli_subprocess(tmp_path: Path) -> None:
    secret_file = tmp_path / "admin-secret"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avatars.testing",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--token-lifetime",
            "60",
            "--admin-secret-file",
            str(secret_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(tmp_path),
    )
    try:
        lines: List[str] = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("AVATAR_BASE_API_URL="):
                break
        env_line = lines[-1]
        assert env_line.startswith("AVATAR_BASE_API_URL="), lines
        parts = dict(item.split("=", 1) for item in env_line.split())
        base_url, api_key = parts["AVATAR_BASE_API_URL"], parts["AVATAR_API_KEY"]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api")
        assert any("demo@example.com" in line for line in lines)
        password = next(line.split()[-1] for line in lines if "password:" in line)
        me = requests.get(base_url + "/users/me", headers={"Authorization": f"api-key-v1 {api_key}"})
        assert me.status_code == 200 and me.json()["email"] == "demo@example.com"
        login = requests.post(base_url + "/login", data={"username": "demo@example.com", "password": password})
        assert login.status_code == 200
        secret = secret_file.read_text().strip()
        assert secret and secret not in "\n".join(lines)
        origin = base_url[: -len("/api")]
        stats = requests.get(origin + "/_admin/stats", headers={"X-Avatar-Admin-Secret": secret})
        assert stats.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_expect_100_continue_gets_one_interim_answer(srv: LocalAvatarServer) -> None:
    import socket

    body = b'{"email": "x@example.com"}'
    head = (
        f"POST /api/login/forgotten_password HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode("ascii")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(head)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:80]  # no second "100 Continue" before the answer


def test_a_chunked_json_body_is_read_whole(srv: LocalAvatarServer, http: requests.Session, user: CreatedUser) -> None:
    """``Transfer-Encoding: chunked``: every chunk of the body, not the first only."""
    location = f"s3://avatars/users/{user.id}/a.csv"

    def chunks() -> Iterator[bytes]:
        yield b'["s3://avatars/users/'
        yield f'{user.id}/a.csv"]'.encode()

    answer = http.post(srv.url("/access/batch"), data=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert [grant["url"] for grant in answer.json()] == [location]
    assert srv.log.last("POST", "/api/access/batch").header("Transfer-Encoding") == "chunked"

    def too_big() -> Iterator[bytes]:
        for _ in range(11 * 16):  # 11 MiB: over MAX_JSON_BODY (10 MiB)
            yield b" " * 65536

    assert http.post(srv.url("/access/batch"), data=too_big()).status_code == 413
