"""A loopback server that records requests and answers canned platform-shaped JSON.

Standard library only: the platform SDK's interpreter (which cannot import our
``avatars``) and our test suite both load this file.  What is recorded per
request: method, path (relative to ``/api``), query pairs (sorted), the
``Content-Type`` without parameters, the ``Authorization`` header, the
``Avatars-Accept-Created`` header, and the body (JSON decoded, a form decoded
to sorted pairs, else text).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

SET = "6b1f0c9e-0a4e-4c51-9e43-1c2b3d4e5f60"
USER = "0d6c8f3e-7d0e-4a4b-9a6e-2f1e0c9b8a71"
KEY = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
NOW = "2026-11-27T10:00:00+00:00"

_USER = {"id": USER, "organization_id": USER, "email": "ada@example.com", "role": "user"}
_JOB = {
    "name": "standard_1",
    "set_name": SET,
    "parameters_name": "standard",
    "display_name": "wire",
    "created_at": NOW,
    "kind": "standard",
    "status": "finished",
    "exception": "",
    "done": True,
    "progress": 1.0,
    "deleted_at": None,
}
_KEY = {"id": KEY, "name": "k", "created_at": NOW, "expires_at": NOW, "revoked_at": None, "last_used_at": None}
_LOGIN = {"access_token": "acc", "refresh_token": "ref", "token_type": "bearer"}
_ACCESS = {"url": "s3://bucket/x", "credentials": {"access_key_id": "a", "secret_access_key": "s"}}
_CONNECTION = {"name": "crm", "label": "CRM", "engine": "postgresql", "scope": "organization", "redacted": "x"}


def canned(method: str, path: str) -> Tuple[int, Any, str]:
    """``(status, body, content type)`` for a request (paths relative to ``/api``)."""
    json_type = "application/json"
    table: Dict[Tuple[str, str], Any] = {
        ("GET", "/"): {"message": "hello"},
        ("GET", "/health"): {"message": "ok"},
        ("GET", "/health/db"): {"message": "ok"},
        ("GET", "/check_client"): {"message": "m", "most_recent_compatible_client": "1", "status": "compatible"},
        ("GET", "/openapi.json"): {"paths": {}},
        ("POST", "/login"): _LOGIN,
        ("POST", "/refresh"): _LOGIN,
        ("POST", "/logout"): {"message": "bye"},
        ("POST", "/login/forgotten_password"): {"message": "sent"},
        ("POST", "/login/reset_password"): {"message": "reset"},
        ("GET", "/api-keys"): [_KEY],
        ("POST", "/api-keys"): {"api_key": {**_KEY, "plaintext": "avk"}, "message": "m"},
        ("DELETE", "/api-keys"): {"message": "revoked"},
        ("GET", f"/api-keys/{KEY}"): _KEY,
        ("DELETE", f"/api-keys/{KEY}"): {"message": "revoked"},
        ("DELETE", "/api-keys/admin"): {"message": "revoked"},
        ("GET", "/event-logs"): [{"id": KEY, "verb": "create", "object_type": "job", "created_at": NOW}],
        ("GET", "/users"): [_USER],
        ("POST", "/users"): _USER,
        ("GET", "/users/me"): {
            **_USER,
            "environment": {
                "dataset_expiration_days": 1,
                "max_allowed_dimensions_per_dataset": 1,
                "max_allowed_lines_per_dataset": 1,
            },
        },
        ("GET", "/users/credits_info"): {"credits": 1, "is_credit_enabled": True},
        ("GET", "/users/features_info"): {"feature_scopes": ["single_table"]},
        ("GET", f"/users/{USER}"): _USER,
        ("DELETE", f"/users/{USER}"): _USER,
        ("PUT", "/resources/wire"): {"set_name": SET, "display_name": "wire"},
        ("POST", f"/resources/{SET}"): {"set_name": SET, "display_name": "wire"},
        ("GET", "/jobs"): {"jobs": [_JOB]},
        ("POST", "/jobs"): {"name": "standard_1", "Location": "/jobs/standard_1"},
        ("GET", "/jobs/last_set"): {"jobs": [_JOB]},
        ("GET", "/jobs/standard_1"): _JOB,
        ("DELETE", "/jobs/standard_1"): _JOB,
        ("POST", "/jobs/bulk-delete"): {"deleted_jobs": [_JOB], "failed_jobs": []},
        ("GET", "/results/standard_1"): {"shuffled": ["s3://bucket/x"]},
        ("GET", "/access"): _ACCESS,
        ("POST", "/access/batch"): [_ACCESS],
        ("GET", "/upload_url"): "s3://bucket/prefix",
        # platform API 3.x
        ("GET", "/capabilities"): {"input_protocols": ["s3"], "database_engines": [], "connections": []},
        ("POST", "/jobs/flow"): {"jobs": [{"name": "standard_1", "Location": "/jobs/standard_1"}]},
        ("POST", "/jobs/standard_1/cancel"): _JOB,
        ("GET", "/connections"): {"connections": [_CONNECTION]},
        ("GET", "/connections/engines"): {"engines": []},
        ("GET", "/connections/presets"): {"presets": []},
        ("POST", "/connections/presets"): {"connections": [_CONNECTION]},
        ("PUT", "/connections/crm"): _CONNECTION,
        ("PATCH", "/connections/crm"): _CONNECTION,
        ("DELETE", "/connections/crm"): {},
        ("POST", "/connections/test"): {"reachable": True},
        ("POST", "/connections/crm/test"): {"reachable": True},
        ("POST", "/connections/crm/sample"): {"samples": {"t": {"id": ["1"]}}, "missing": [], "error": None},
    }
    if (method, path) == ("GET", f"/resources/{SET}"):
        return 200, "kind: AvatarSchema\n", "application/yaml"
    if (method, path) == ("GET", "/resources/volume"):
        return 200, "kind: AvatarVolume\n", "text/plain"
    if (method, path) in table:
        return 200, table[(method, path)], json_type
    return 404, {"detail": "Not Found"}, json_type


class Recorder:
    """A recording server on 127.0.0.1 and a free port; ``base_url`` ends in ``/api``."""

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                path = parts.path[len("/api") :] or "/"
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                body: Any = None
                if raw:
                    text = raw.decode("utf-8", errors="replace")
                    if content_type == "application/json":
                        body = json.loads(text)
                    elif content_type == "application/x-www-form-urlencoded":
                        body = sorted([list(p) for p in parse_qsl(text, keep_blank_values=True)])
                    else:
                        body = text
                recorder.records.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": sorted([list(p) for p in parse_qsl(parts.query, keep_blank_values=True)]),
                        "content_type": content_type or None,
                        "authorization": self.headers.get("Authorization"),
                        "accept_created": self.headers.get("Avatars-Accept-Created"),
                        "body": body,
                    }
                )
                status, answer, answer_type = canned(self.command, path)
                data = answer.encode() if isinstance(answer, str) and answer_type != "application/json" else None
                if data is None:
                    data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", answer_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __enter__(self) -> Recorder:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


#: The calls both clients make, in order: (label, arguments).  The SDK side is in
#: record_sdk_wire.py, ours in tests/integration/test_wire_vs_sdk.py.
CALLS = [
    "health.get_root",
    "health.get_health",
    "health.get_health_db",
    "compatibility.is_client_compatible",
    "openapi.get_openapi_schema",
    "auth.login",
    "auth.refresh",
    "auth.forgotten_password",
    "auth.reset_password",
    "auth.logout",
    "api_keys.list_api_keys",
    "api_keys.create_api_key",
    "api_keys.get_api_key",
    "api_keys.revoke_api_key",
    "api_keys.revoke_all_api_keys",
    "api_keys.revoke_api_key_admin",
    "event_logs.list_my_event_logs",
    "users.find_users",
    "users.create_user",
    "users.get_me",
    "users.get_credits_info",
    "users.get_features_info",
    "users.get_user",
    "users.delete_user",
    "resources.put_resources",
    "resources.create_resource",
    "resources.get_resources",
    "resources.get_user_volume",
    "jobs.get_jobs",
    "jobs.create_job",
    "jobs.get_last_jobs",
    "jobs.get_job_status",
    "jobs.delete_job",
    "jobs.bulk_delete_jobs",
    "results.get_results",
    "results.get_permission_to_download",
    "results.get_permissions_to_download_batch",
    "results.get_upload_url",
]
#: The platform API 3.x calls (recorded with SDK 1.30 into sdk_wire_3.json).
CALLS_3 = [
    "capabilities.get_capabilities",
    "jobs.create_job_flow",
    "jobs.cancel_job",
    "jobs.get_jobs(names=)",
    "event_logs.list_my_event_logs(filters)",
    "connections.list_connections",
    "connections.list_engines",
    "connections.list_connection_presets",
    "connections.add_connection_presets",
    "connections.put_connection",
    "connections.patch_connection",
    "connections.delete_connection",
    "connections.test_draft_connection",
    "connections.test_connection",
    "connections.sample_connection",
]
#: Inputs shared by both sides.
API_KEY = "wire-api-key"
YAML = "kind: AvatarParameters\nmetadata:\n  name: standard\n"
EMAIL = "ada@example.com"
PASSWORD = "real-password"
RESET_TOKEN = "3b241101-e2bb-4255-8caf-4136c566a962"
DSN = "postgresql://etl:wire-password@db.internal:5432/crm"
