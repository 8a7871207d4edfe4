"""The admin API over HTTP, for a server driven by another process.

Mounted on the API origin under ``/_admin`` (outside ``/api``). Every call
needs the header ``X-Avatar-Admin-Secret: <server.admin_secret>``; without a
configured secret the whole prefix answers 404. JSON in, JSON out. Admin
calls are not written to the request log and faults never apply to them.

=========================================  =====================================
``POST /_admin/users``                      ``{email, password?, role?}`` -> user
                                            (with its ``password``)
``POST /_admin/api-keys``                   ``{user, name?, expiration_days?,
                                            expires_at? (ISO or epoch)}`` ->
                                            ``{id, plaintext}``
``POST /_admin/api-keys/revoke``            ``{key}`` (id or plaintext)
``POST /_admin/api-keys/expire``            ``{key, at?}``
``POST /_admin/tokens``                     ``{user, lifetime?}`` ->
                                            ``{access_token, refresh_token}``
``POST /_admin/refresh-tokens/revoke``      ``{user?}`` -> ``{count}``
``POST /_admin/refresh-tokens/expire``      ``{user?}`` -> ``{count}``
``POST /_admin/settings``                   ``{access_token_lifetime?,
                                            refresh_token_lifetime?,
                                            refresh_rotation?,
                                            min_client_version?,
                                            storage_credentials_lifetime?,
                                            storage_min_part_size?,
                                            api_version?}``
``POST /_admin/storage/expire``             -> ``{count}``: every credential
                                            from ``/access`` is expired now
``POST /_admin/rate-limits``                ``{method, path, limit, window}``
``DELETE /_admin/rate-limits``              clear
``GET/POST/DELETE /_admin/faults``          list / ``{kind, method, path, count?,
                                            ...params}`` / clear
``GET/DELETE /_admin/log``                  ``?origin=api|storage`` / clear both
``POST /_admin/operations``                 ``{method, path, polls?, origin?, count?}``:
                                            the created-operation protocol (see
                                            :mod:`avatars.testing.operations`)
``GET /_admin/stats``                       connection counters
=========================================  =====================================
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict
from typing import Any, Callable, Dict, Optional

from werkzeug.wrappers import Request, Response

from ._http import ApiError, json_response
from ._util import parse_iso
from .admin import Moment, ServerAdmin
from .state import ServerState

ADMIN_SECRET_HEADER = "X-Avatar-Admin-Secret"


def _moment(value: Any) -> Optional[Moment]:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return parse_iso(str(value))


class AdminHttp:
    """See the module docstring."""

    def __init__(self, state: ServerState, admin: ServerAdmin, stats: Callable[[], Dict[str, Any]]) -> None:
        self.state = state
        self.admin = admin
        self.stats = stats

    def __call__(self, request: Request) -> Response:
        secret = self.state.admin_secret
        if not secret:
            return json_response({"detail": "Not Found"}, 404)
        given = request.headers.get(ADMIN_SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            return json_response({"detail": "Admin secret required"}, 403)
        try:
            return self._route(request)
        except ApiError as exc:
            return exc.response()
        except (KeyError, ValueError, TypeError) as exc:
            return json_response({"detail": f"{type(exc).__name__}: {exc}"}, 400)

    def _body(self, request: Request) -> Dict[str, Any]:
        raw = request.get_data()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        return data

    def _route(self, request: Request) -> Response:
        path = request.path[len("/_admin") :].rstrip("/")
        method = request.method.upper()
        admin = self.admin
        if (method, path) == ("POST", "/users"):
            body = self._body(request)
            user = admin.create_user(str(body["email"]), body.get("password"), role=str(body.get("role", "user")))
            return json_response(
                {
                    "id": user.id,
                    "email": user.email,
                    "role": user.role,
                    "organization_id": user.organization_id,
                    "password": user.password,
                },
                201,
            )
        if (method, path) == ("POST", "/api-keys"):
            body = self._body(request)
            issued = admin.issue_api_key(
                str(body["user"]),
                name=str(body.get("name", "test key")),
                expiration_days=float(body.get("expiration_days", 365)),
                expires_at=_moment(body.get("expires_at")),
            )
            return json_response({"id": issued.id, "plaintext": issued.plaintext}, 201)
        if (method, path) == ("POST", "/api-keys/revoke"):
            admin.revoke_api_key(str(self._body(request)["key"]))
            return json_response({"message": "revoked"})
        if (method, path) == ("POST", "/api-keys/expire"):
            body = self._body(request)
            admin.expire_api_key(str(body["key"]), _moment(body.get("at")))
            return json_response({"message": "expired"})
        if (method, path) == ("POST", "/tokens"):
            body = self._body(request)
            if body.get("lifetime") is not None:
                access = admin.make_access_token(str(body["user"]), lifetime=float(body["lifetime"]))
                return json_response({"access_token": access, "refresh_token": None})
            access, refresh = admin.issue_tokens(str(body["user"]))
            return json_response({"access_token": access, "refresh_token": refresh})
        if method == "POST" and path in ("/refresh-tokens/revoke", "/refresh-tokens/expire"):
            body = self._body(request)
            who = body.get("user")
            if path.endswith("revoke"):
                count = admin.revoke_refresh_tokens(str(who) if who else None)
            else:
                count = admin.expire_refresh_tokens(str(who) if who else None)
            return json_response({"count": count})
        if (method, path) == ("POST", "/settings"):
            body = self._body(request)
            if "access_token_lifetime" in body:
                admin.set_access_token_lifetime(float(body["access_token_lifetime"]))
            if "refresh_token_lifetime" in body:
                admin.set_refresh_token_lifetime(float(body["refresh_token_lifetime"]))
            if "refresh_rotation" in body:
                admin.set_refresh_rotation(bool(body["refresh_rotation"]))
            if "min_client_version" in body:
                admin.set_min_client_version(str(body["min_client_version"]))
            if "storage_credentials_lifetime" in body:
                admin.set_storage_credentials_lifetime(float(body["storage_credentials_lifetime"]))
            if "storage_min_part_size" in body:
                admin.set_storage_min_part_size(int(body["storage_min_part_size"]))
            if "api_version" in body:
                admin.set_api_version(int(body["api_version"]))
            return json_response(asdict(self.state.settings))
        if path == "/rate-limits":
            if method == "POST":
                body = self._body(request)
                admin.set_rate_limit(str(body["method"]), str(body["path"]), int(body["limit"]), float(body["window"]))
                return json_response({"message": "rate limit set"}, 201)
            if method == "DELETE":
                admin.clear_rate_limits()
                return json_response({"message": "rate limits cleared"})
        if path == "/faults":
            if method == "GET":
                return json_response(
                    [
                        {
                            "kind": f.kind,
                            "method": f.method,
                            "path": f.path,
                            "remaining": f.remaining,
                            "params": f.params,
                        }
                        for f in admin.faults.pending()
                    ]
                )
            if method == "POST":
                body = self._body(request)
                kind = str(body.pop("kind"))
                fault = admin.faults.add(
                    kind, str(body.pop("method", "*")), str(body.pop("path")), count=int(body.pop("count", 1)), **body
                )
                return json_response({"kind": fault.kind, "remaining": fault.remaining}, 201)
            if method == "DELETE":
                admin.clear_faults()
                return json_response({"message": "faults cleared"})
        if path == "/log":
            if method == "GET":
                origin = request.args.get("origin", "api")
                log = self.state.storage_log if origin == "storage" else self.state.api_log
                return json_response([{**asdict(r), "query": [list(pair) for pair in r.query]} for r in log.entries()])
            if method == "DELETE":
                admin.reset_log()
                return json_response({"message": "log cleared"})
        if (method, path) == ("POST", "/storage/expire"):
            return json_response({"count": admin.expire_storage_credentials()})
        if (method, path) == ("POST", "/operations"):
            body = self._body(request)
            op_origin = body.get("origin")
            self.state.operations.defer(
                str(body.get("method", "*")),
                str(body["path"]),
                polls=int(body.get("polls", 1)),
                origin=str(op_origin) if op_origin else None,
                count=int(body.get("count", 1)),
            )
            return json_response({"message": "deferred"}, 201)
        if (method, path) == ("GET", "/stats"):
            return json_response(self.stats())
        return json_response({"detail": "Not Found"}, 404)
