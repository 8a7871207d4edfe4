"""The WSGI applications of the local server.

:class:`BaseApp` is the request pipeline shared by the API origin
(:class:`ApiApp`) and the storage origin
(:class:`avatars.testing.storage.StorageApp`):

1. ``X-Request-ID``: the request's own when it sent a sane one, else a fresh
   uuid4 hex; every response carries it.
2. ``/_admin/...`` (API origin only): the admin HTTP API, guarded by the
   ``X-Avatar-Admin-Secret`` header; never logged, never faulted.
3. Faults (:mod:`avatars.testing.faults`): the first pending fault matching
   the method and path is taken. ``delay`` waits and goes on; ``drop_before``,
   ``status``, ``redirect`` and ``status_code`` answer without running the
   route; ``drop_mid_body``, ``truncated_json``, ``invalid_json``,
   ``wrong_schema`` and ``trickle`` run the route and spoil its answer.
4. Rate limits -> 429 ``{"detail": {"message": "Rate limit exceeded"},
   "retry_after": N}`` and ``Retry-After: N``.
5. Routing (404 ``{"detail": "Not Found"}``, 405 ``{"detail": "Method Not
   Allowed"}`` with ``Allow``), authentication (401/403), the handler.
6. The request log entry (secrets redacted), written when the status line is
   decided (or with status ``None`` for a dropped connection).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import replace
from http import HTTPStatus
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from ._http import ApiError, json_bytes, json_response
from .auth import Principal, authenticate
from .faults import POST_FAULTS, Fault
from .openapi import required_fields
from .operations import ACCEPT_CREATED_HEADER, Deferral
from .requestlog import RequestLog, RequestRecord, auth_scheme, monotonic, redact_headers, redact_query
from .routes import API_PREFIX, ROUTES, Route
from .serving import ENV_ABORT, ENV_CONNECTION_ID
from .state import ServerState

logger = logging.getLogger(__name__)

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
WSGIStartResponse = Callable[..., Any]


def proxy_error_page(code: int) -> bytes:
    try:
        reason = _REASONS.get(code) or HTTPStatus(code).phrase
    except ValueError:
        reason = "Error"
    return (
        f"<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        f"</body>\r\n</html>\r\n"
    ).encode("ascii")


def wrong_schema_body(body: Any, model: Optional[str]) -> Any:
    """``body`` without the required fields of ``model`` (or of the wrong JSON type)."""
    marker = {"unexpected_field": "wrong_schema fault"}
    if model and model.startswith("[") and isinstance(body, list):
        inner = model[1:-1]
        if body and all(isinstance(item, dict) for item in body):
            return [wrong_schema_body(item, inner) for item in body]
        return marker
    required = required_fields(model)
    if isinstance(body, dict) and required:
        out = {k: v for k, v in body.items() if k not in required}
        out.update(marker)
        return out
    if isinstance(body, dict):
        # a model without required fields (e.g. result URLs): wrong value types
        return {k: {"unexpected": True} for k in body} or ["wrong_schema fault"]
    return marker


class BaseApp:
    """The shared pipeline (see the module docstring)."""

    origin = "base"

    def __init__(self, state: ServerState, log: RequestLog) -> None:
        self.state = state
        self.log = log

    # -- to override ------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        raise NotImplementedError

    def response_model(self, request: Request) -> Optional[str]:
        return None

    def special(self, request: Request) -> Optional[Response]:
        """An answer outside the pipeline (admin API), or None."""
        return None

    # -- the pipeline ------------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: WSGIStartResponse) -> Iterable[bytes]:
        request = Request(environ)
        sent_id = request.headers.get("X-Request-ID", "")
        request_id = sent_id if _REQUEST_ID_RE.match(sent_id) else uuid.uuid4().hex
        special = self.special(request)
        if special is not None:
            special.headers["X-Request-ID"] = request_id
            return special(environ, start_response)

        method = request.method.upper()
        path = request.path
        authorization = request.headers.get("Authorization")
        record = RequestRecord(
            origin=self.origin,
            method=method,
            path=path,
            query=redact_query(request.args.items(multi=True)),
            timestamp=monotonic(),
            status=None,
            headers=redact_headers(request.headers.items()),
            auth_scheme=auth_scheme(authorization),
            had_authorization=authorization is not None,
            had_cookie="Cookie" in request.headers,
            request_id=request_id,
            connection_id=environ.get(ENV_CONNECTION_ID),
        )

        fault = self.state.faults.take(method, path, str(environ.get("QUERY_STRING") or ""))
        if fault is not None:
            record = replace(record, fault=fault.kind)
            logger.debug("%s: fault %s on %s %s", self.origin, fault.kind, method, path)
        if fault is not None and fault.kind == "delay":
            self.state.stop_event.wait(float(fault.params.get("seconds", 0)))
            fault = None
        if fault is not None and fault.kind == "drop_mid_request":
            _read_some(environ, int(fault.params.get("after_bytes", 0)))
            environ[ENV_ABORT] = "close"
            self.log.append(record)
            start_response("502 Bad Gateway", [("Content-Length", "0")])
            return []
        if fault is not None and fault.kind == "drop_before":
            environ[ENV_ABORT] = "rst" if fault.params.get("rst") else "close"
            self.log.append(record)
            start_response("502 Bad Gateway", [("Content-Length", "0")])
            return []

        response: Response
        if fault is not None and fault.kind not in POST_FAULTS and fault.kind != "invalid_json":
            response = self._fault_response(fault)
        else:
            response = self._guarded_dispatch(request)
            if fault is not None:
                response = self._spoil(fault, response, request, environ)
        response.headers["X-Request-ID"] = request_id

        log = self.log

        def logged_start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            try:
                code: Optional[int] = int(status.split(" ", 1)[0])
            except ValueError:
                code = None
            log.append(replace(record, status=code))
            return start_response(status, headers, exc_info)

        return response(environ, logged_start_response)

    def _guarded_dispatch(self, request: Request) -> Response:
        retry_after = self.state.rate_limits.check(request.method.upper(), request.path)
        if retry_after is not None:
            return json_response(
                {"detail": {"message": "Rate limit exceeded"}, "retry_after": retry_after},
                429,
                {"Retry-After": str(retry_after)},
            )
        try:
            return self.dispatch(request)
        except ApiError as exc:
            return exc.response()
        except HTTPException as exc:
            return json_response({"detail": exc.description or exc.name}, exc.code or 500)
        except Exception:
            logger.exception("%s: unhandled error on %s %s", self.origin, request.method, request.path)
            return json_response({"detail": "Internal Server Error"}, 500)

    def _fault_response(self, fault: Fault) -> Response:
        params = fault.params
        if fault.kind == "status":
            code = int(params.get("code", 503))
            response = Response(proxy_error_page(code), status=code, content_type="text/html")
            if params.get("retry_after") is not None:
                response.headers["Retry-After"] = str(int(params["retry_after"]))
            return response
        if fault.kind == "redirect":
            response = Response(b"", status=int(params.get("status", 302)))
            response.headers["Location"] = str(params["location"])
            return response
        # status_code
        code = int(params["code"])
        body = params.get("body")
        headers = dict(params.get("headers") or {})
        if body is None:
            payload, content_type = b"", None
        elif isinstance(body, bytes):
            payload, content_type = body, "application/octet-stream"
        elif isinstance(body, str):
            payload, content_type = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, content_type = json_bytes(body), "application/json"
        response = Response(payload, status=code)
        if content_type and not any(k.lower() == "content-type" for k in headers):
            response.headers["Content-Type"] = content_type
        elif not content_type:
            response.headers.pop("Content-Type", None)
        for key, value in headers.items():
            response.headers[key] = value
        return response

    def _spoil(self, fault: Fault, response: Response, request: Request, environ: Dict[str, Any]) -> Response:
        kind = fault.kind
        if kind == "invalid_json":
            response.close()
            return Response(b'{"detail": this is not JSON <html>', status=200, content_type="application/json")
        if kind == "wrong_schema":
            body: Any = None
            if not response.direct_passthrough and response.mimetype == "application/json":
                try:
                    body = json.loads(response.get_data())
                except ValueError:
                    body = None
            response.close()
            return json_response(wrong_schema_body(body, self.response_model(request)), 200)
        if kind == "truncated_json":
            if response.direct_passthrough:
                total = int(response.headers.get("Content-Length") or 0)
                cut = max(1, total // 2)
                out = Response(
                    _take(response.iter_encoded(), cut),
                    status=200,
                    content_type="application/json",
                    direct_passthrough=True,
                )
                out.headers["Content-Length"] = str(cut)
                return out
            data = response.get_data()
            if len(data) < 4:
                data = b'{"detail": "truncated by the truncated_json fault"}'
            return Response(data[: len(data) // 2], status=200, content_type="application/json")
        stop = self.state.stop_event
        if kind == "drop_mid_body":
            if not response.direct_passthrough:
                data = response.get_data()
                total = len(data)
                response.headers["Content-Length"] = str(total)
            else:
                total = int(response.headers.get("Content-Length") or 0)
            cutoff = int(total * float(fault.params.get("fraction", 0.5)))
            if total > 0:
                cutoff = min(cutoff, total - 1)
            return _rewrap(response, _drop_after(response.iter_encoded(), cutoff, environ))
        if kind == "trickle":
            if not response.direct_passthrough:
                response.headers["Content-Length"] = str(len(response.get_data()))
            return _rewrap(
                response,
                _trickle(
                    response.iter_encoded(),
                    int(fault.params.get("chunk_size", 4)),
                    float(fault.params.get("interval", 0.05)),
                    stop,
                ),
            )
        return response  # pragma: no cover - every kind handled above


def _read_some(environ: Dict[str, Any], limit: int) -> None:
    stream = environ.get("wsgi.input")
    left = limit
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1024 * 1024))
        if not chunk:
            break
        left -= len(chunk)


def _rewrap(response: Response, body: Iterator[bytes]) -> Response:
    out = Response(body, status=response.status_code, direct_passthrough=True)
    for key, value in response.headers.items():
        out.headers[key] = value
    return out


def _take(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent >= limit:
            break
        piece = chunk[: limit - sent]
        sent += len(piece)
        yield piece
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _drop_after(chunks: Iterable[bytes], cutoff: int, environ: Dict[str, Any]) -> Iterator[bytes]:
    """Yield ``cutoff`` bytes of ``chunks``, then ask the server to close the connection."""
    sent = 0
    try:
        yield b""  # makes the server send the status line and headers
        for chunk in chunks:
            if sent >= cutoff:
                break
            piece = chunk[: cutoff - sent]
            sent += len(piece)
            if piece:
                yield piece
    finally:
        environ[ENV_ABORT] = "close"
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _trickle(chunks: Iterable[bytes], size: int, interval: float, stop: threading.Event) -> Iterator[bytes]:
    for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start : start + size]
            if stop.wait(interval):
                return


class ApiApp(BaseApp):
    """The API origin: every endpoint of the contract under ``/api``."""

    origin = "api"

    def __init__(self, state: ServerState, admin_app: Optional[Callable[[Request], Response]] = None) -> None:
        super().__init__(state, state.api_log)
        from .endpoints import Endpoints

        self.endpoints = Endpoints(state)
        self.admin_app = admin_app
        self.routes: Dict[str, Route] = {route.endpoint: route for route in ROUTES}
        # One router per platform API version, holding that version's routes
        # only: a path another version serves is answered as this version's
        # router answers it (POST /jobs/flow on 2.90 falls on
        # /jobs/{job_name}, GET and DELETE only: 405, as the platform does).
        self.url_maps: Dict[int, Map] = {
            version: Map(
                [
                    Rule(API_PREFIX + route.rule, methods=list(route.methods), endpoint=route.endpoint)
                    for route in ROUTES
                    if version in route.versions
                ],
                strict_slashes=False,
                merge_slashes=False,
            )
            for version in sorted({v for route in ROUTES for v in route.versions})
        }

    def special(self, request: Request) -> Optional[Response]:
        if request.path == "/_admin" or request.path.startswith("/_admin/"):
            if self.admin_app is None:
                return json_response({"detail": "Not Found"}, 404)
            return self.admin_app(request)
        return None

    def _match(self, request: Request) -> Tuple[Route, Dict[str, Any]]:
        adapter = self.url_maps[self.state.settings.api_version].bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match(request.path, request.method)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise ApiError(405, "Method Not Allowed", headers={"Allow": allowed}) from None
        except (NotFound, RequestRedirect):
            raise ApiError(404, "Not Found") from None
        return self.routes[str(endpoint)], dict(args)

    def response_model(self, request: Request) -> Optional[str]:
        try:
            route, _ = self._match(request)
        except ApiError:
            return None
        return route.response_model

    def dispatch(self, request: Request) -> Response:
        route, args = self._match(request)
        principal: Optional[Principal] = None
        if route.auth:
            principal = authenticate(self.state, request.headers.get("Authorization"))
            if route.admin and not principal.is_admin:
                raise ApiError(403, "Admin rights required")
        handler = self.endpoints.handler(route.endpoint)
        if request.headers.get(ACCEPT_CREATED_HEADER, "").lower() != "yes":
            return handler(request, principal, **args)
        try:
            response: Response = handler(request, principal, **args)
        except ApiError as exc:  # an operation may end in an error too
            response = exc.response()
        deferral = self.state.operations.take(request.method, request.path)
        if deferral is not None:
            response = self._accepted(request, deferral, response)
        return response

    def _accepted(self, request: Request, deferral: Deferral, response: Response) -> Response:
        """Keep ``response`` as an operation's result; answer 201 + Location."""
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "x-request-id")]
        op_id = self.state.operations.create(deferral, response.status_code, headers, body)
        origin = deferral.origin or request.host_url.rstrip("/")
        location = f"{origin}{API_PREFIX}/operations/{op_id}"
        return json_response({"message": "accepted", "Location": location}, 201, {"Location": location})
