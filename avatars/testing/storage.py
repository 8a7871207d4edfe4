"""The object-storage origin: a second listener that serves result files.

It plays the part of presigned S3 URLs: a plain ``GET``/``HEAD`` of a result
URL (``{storage_base_url}/avatar-results/<id>/<file>``) returns the file, no
API credentials needed, because the unguessable ``<id>`` is the capability.
``PUT {storage_base_url}/uploads/<user_id>/<name>`` stores a file under the
caller's upload prefix (the value of ``GET /upload_url``), streamed to disk;
a ``GET`` gives it back. Errors are S3-like XML documents.

Its own request log (``server.storage_log``) records, for every request,
whether an ``Authorization`` header or a cookie arrived, so tests can prove a
client never sends API credentials to another origin. Faults registered for
storage paths apply here too.
"""

from __future__ import annotations

import re

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response

from .app import BaseApp
from .datasets import ingest
from .endpoints import file_response
from .state import ServerState

_RESULT_RE = re.compile(r"^/avatar-results/([0-9a-f]{32})/([A-Za-z0-9_.\-]+)$")
_UPLOAD_RE = re.compile(r"^/uploads/([0-9a-f\-]{36})/([A-Za-z0-9_.\-]+)$")


def _xml_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>\n'
    return Response(body.encode("utf-8"), status=status, content_type="application/xml")


def _no_such_key() -> Response:
    return _xml_error(404, "NoSuchKey", "The specified key does not exist.")


class StorageApp(BaseApp):
    """See the module docstring."""

    origin = "storage"

    def __init__(self, state: ServerState) -> None:
        super().__init__(state, state.storage_log)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        method = request.method.upper()
        store = self.state.store
        match = _RESULT_RE.match(path)
        if match:
            if method not in ("GET", "HEAD"):
                return _xml_error(405, "MethodNotAllowed", "Only GET and HEAD are allowed")
            file_id, filename = match.groups()
            with store.lock:
                result = store.results.get(file_id)
            if result is None or result.filename != filename:
                return _no_such_key()
            return file_response(store.path(result.relpath), result.content_type, result.filename)
        match = _UPLOAD_RE.match(path)
        if match:
            user_id, name = match.groups()
            if user_id not in store.users:
                return _xml_error(403, "AccessDenied", "Unknown upload prefix")
            target = store.path(f"uploads/{user_id}/{name}")
            if method in ("GET", "HEAD"):
                if not target.is_file():
                    return _no_such_key()
                return file_response(target, "application/octet-stream", name)
            if method == "PUT":
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = store.temp_path()
                try:
                    result_info = ingest(request.stream, temp, "other", should_stop=self.state.stop_event.is_set)
                except (ClientDisconnected, OSError):
                    return _xml_error(400, "IncompleteBody", "The upload was interrupted")
                temp.replace(target)
                response = Response(b"", status=200)
                response.headers["ETag"] = f'"{result_info.sha256}"'
                return response
            return _xml_error(405, "MethodNotAllowed", "Method not allowed")
        return _no_such_key()
