"""Health, compatibility, OpenAPI, routing errors and request ids."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any, Dict

import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.routes import ROUTES


def test_root_and_health(srv: LocalAvatarServer) -> None:
    for path in ("/", "", "/health", "/health/db"):
        response = requests.get(srv.base_url + path)
        assert response.status_code == 200
        assert isinstance(response.json()["message"], str)
    assert requests.get(srv.url("/health")).json() == {"message": "ok"}
    assert requests.get(srv.url("/health/db")).json() == {"message": "ok"}


def test_check_client(srv: LocalAvatarServer) -> None:
    def status(agent: str) -> Dict[str, Any]:
        body: Dict[str, Any] = requests.get(srv.url("/check_client"), headers={"User-Agent": agent}).json()
        return body

    body = status("avatar-python/0.1.0 requests/2.31.0")
    assert body["status"] == "compatible"
    assert set(body) >= {"message", "most_recent_compatible_client", "status"}
    assert status("python-requests/2.31")["status"] == "unknown"
    srv.admin.set_min_client_version("1.2.0")
    assert status("avatar-python/1.1.9")["status"] == "incompatible"
    assert status("avatar-python/1.2.0")["status"] == "compatible"
    assert status("avatar-python/1.10.0")["status"] == "compatible"
    assert "1.2.0" in status("avatar-python/0.9")["message"]


def test_openapi_lists_every_route(srv: LocalAvatarServer) -> None:
    doc = requests.get(srv.url("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"][0]["url"] == srv.base_url
    for route in ROUTES:
        path = re.sub(r"<([a-z_]+)>", r"{\1}", route.rule)
        for method in route.methods:
            if 2 in route.versions:
                assert method.lower() in doc["paths"][path], (method, path)
            else:
                assert method.lower() not in doc["paths"].get(path, {}), (method, path)
    assert "JobResponse" in doc["components"]["schemas"]
    assert doc["info"]["x-platform-api-version"] == "2.90.0"


def test_openapi_of_a_3x_server() -> None:
    with LocalAvatarServer(api_version=3) as server:
        doc = requests.get(server.url("/openapi.json")).json()
    assert doc["info"]["x-platform-api-version"] == "3.17.2"
    assert "/login" not in doc["paths"] and "/refresh" not in doc["paths"]
    assert "post" in doc["paths"]["/jobs/flow"] and "get" in doc["paths"]["/capabilities"]
    assert "post" in doc["paths"]["/jobs/{job_name}/cancel"]


def test_unknown_path_and_wrong_method(srv: LocalAvatarServer) -> None:
    response = requests.get(srv.url("/no/such/thing"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    response = requests.get(srv.origin + "/not-api")
    assert response.status_code == 404
    response = requests.put(srv.url("/health"))
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert "GET" in response.headers["Allow"]


def test_request_id_fresh_or_echoed(srv: LocalAvatarServer) -> None:
    first = requests.get(srv.url("/health")).headers["X-Request-ID"]
    second = requests.get(srv.url("/health")).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    echoed = requests.get(srv.url("/health"), headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    # errors too
    assert requests.get(srv.url("/users/me")).headers["X-Request-ID"]
    assert requests.get(srv.url("/nope")).headers["X-Request-ID"]


def test_import_is_light() -> None:
    code = (
        "import sys, avatars.testing as t; "
        "assert 'werkzeug' not in sys.modules, 'werkzeug imported'; "
        "assert 'avatars.testing.server' not in sys.modules; "
        "t.LocalAvatarServer; assert 'werkzeug' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
