"""The 401 refresh-and-resend over a real socket, where a consumed body is really gone.

A tiny HTTP server (stdlib) answers 401 to the first access token and records
every body it receives, so the tests see exactly what went over the wire.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, List, Tuple
from urllib.parse import parse_qs

import pytest

from avatars import ApiClient, AuthTokens, RequestNotRetryableError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/api/refresh":
            self.server.refreshes.append(parse_qs(body.decode())["token"][0])
            self._answer(200, {"access_token": "access-2", "refresh_token": "refresh-2", "token_type": "bearer"})
            return
        auth = self.headers.get("Authorization")
        self.server.bodies.append((auth, body))
        if auth == "Bearer access-1":
            self._answer(401, {"detail": {"message": "credentials expired"}})
        else:
            self._answer(201, {"ok": True, "received": len(body)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: List[Tuple[Any, bytes]] = []
        self.refreshes: List[str] = []


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def client(server: _Server) -> Iterator[ApiClient]:
    host, port = server.server_address[:2]
    with ApiClient(f"http://{host}:{port}/api", timeout=5) as c:
        c.set_tokens(AuthTokens("access-1", "refresh-1"))
        yield c


def test_file_body_is_rewound_to_its_start(server: _Server, client: ApiClient, tmp_path: Any) -> None:
    payload = b"a,b\n" + b"1,2\n" * 50_000
    path = tmp_path / "data.csv"
    path.write_bytes(b"SKIP" + payload)
    with open(path, "rb") as fh:
        fh.read(4)
        response = client.request("POST", "datasets/stream", data=fh)
    assert response.json() == {"ok": True, "received": len(payload)}
    assert [a for a, _ in server.bodies] == ["Bearer access-1", "Bearer access-2"]
    assert server.bodies[0][1] == server.bodies[1][1] == payload
    assert server.refreshes == ["refresh-1"]


def test_pipe_body_is_never_resent_empty(server: _Server, client: ApiClient) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"a,b\n1,2\n")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        with pytest.raises(RequestNotRetryableError, match="retry|call again"):
            client.request("POST", "datasets/stream", data=pipe)
    assert len(server.bodies) == 1 and server.bodies[0][1] == b"a,b\n1,2\n"
    assert server.refreshes == ["refresh-1"]
    assert client.auth_tokens == AuthTokens("access-2", "refresh-2")


def test_generator_body_is_never_resent_empty(server: _Server, client: ApiClient) -> None:
    def gen() -> Iterator[bytes]:
        yield b"a,b\n"
        yield b"3,4\n"

    with pytest.raises(RequestNotRetryableError):
        client.request("POST", "datasets/stream", data=gen())
    assert [b for _, b in server.bodies] == [b"a,b\n3,4\n"]
    # the caller retries with a fresh body, and it goes through with the new token
    response = client.request("POST", "datasets/stream", data=gen())
    assert response.status_code == 201
    assert server.bodies[-1] == ("Bearer access-2", b"a,b\n3,4\n")
