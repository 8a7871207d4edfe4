"""The handlers of the local API server, one method per row of the route table.

Choices where the contract is silent (also listed in the package docstring):

* ``GET /results/{job_name}`` of a job that has not finished: ``409`` with
  ``{"detail": {"message": ..., "status": <job status>}}`` (and the job's
  ``exception`` when it failed); unknown or deleted job: ``404``.
* ``POST /api-keys``, ``POST /users``, ``POST/PUT /resources``: ``200``.
  ``DELETE /api-keys[/{id}]``: ``204``.
* ``POST /resources/{set_name}``: ``display_name`` comes from the
  ``?display_name=`` query, else the existing set's, else the set_name.
  ``PUT /resources/{display_name}``: replaces the document of the caller's
  set with that display name (same ``set_name``) or creates a new set.
* Jobs are named ``<kind>_<16 hex chars>``; ``parameters_name`` may be omitted
  (then the job covers every ``parameters`` entry).
* Users see the users of their organization (admins see all); data files,
  resource sets, jobs, results and API keys are private to their owner.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple, TypeVar

from werkzeug.wrappers import Request, Response

from . import access
from ._http import (
    MAX_JSON_BODY,
    ApiError,
    Checker,
    empty_response,
    error_item,
    json_response,
    not_found,
    path_uuid,
    read_json_object,
    read_limited_body,
    validation_error,
)
from ._util import canonical_uuid, is_uuid, iso, new_id, now, parse_iso, parse_version
from .auth import Principal, check_password, issue_api_key, issue_tokens, logout, refresh
from .connections_endpoints import ConnectionEndpoints
from .events import Event
from .jobs import JOB_KINDS
from .objects import DEFAULT_BUCKET, location, result_key
from .openapi import build_document
from .resource_sets import DocumentError, SetIndex, parameters_kinds, platform_set, read_set
from .routes import ROUTES
from .state import ServerState
from .store import (
    ROLE_ADMIN,
    ROLE_USER,
    ApiKey,
    Job,
    ResourceSet,
    ResultFile,
    User,
)
from .tokens import hash_password

API_KEY_EXPIRATION_DAYS = (30, 60, 120, 365, 3650)
ROOT_MESSAGE = "Avatar API - avatars.testing local server (jobs use a local stand-in, not the Avatar platform's method)"
_UA_RE = re.compile(r"avatar-python/([^\s;,()]+)", re.IGNORECASE)


# -- serializers ------------------------------------------------------------------


def user_json(user: User) -> Dict[str, Any]:
    return {"id": user.id, "organization_id": user.organization_id, "email": user.email, "role": user.role}


def api_key_json(key: ApiKey) -> Dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
    }


def job_json(job: Job, api_version: int = 2) -> Dict[str, Any]:
    """``JobResponse``; 3.x adds ``phase``/``phase_done``/``phase_total`` (the local
    jobs have no phases: empty, 0 and 0, the platform's defaults)."""
    out: Dict[str, Any] = {
        "name": job.name,
        "set_name": job.set_name,
        "parameters_name": job.parameters_name or "",
        "display_name": job.display_name,
        "created_at": iso(job.created_at),
        "kind": job.kind,
        "status": job.status,
        "exception": job.exception or "",
        "done": job.done,
        "progress": job.progress,
        "deleted_at": iso(job.deleted_at),
        "depends_on": list(job.depends_on),
    }
    if api_version >= 3:
        out.update(phase="", phase_done=0, phase_total=0)
    return out


Handler = Callable[..., Response]


class _Owned(Protocol):
    user_id: str


OwnedT = TypeVar("OwnedT", bound=_Owned)


def owned(principal: Principal, table: Mapping[str, OwnedT], key: str, what: str) -> OwnedT:
    """``table[key]`` when it belongs to the caller; else a 404 naming ``what`` (never "someone else's")."""
    item = table.get(key)
    if item is None or item.user_id != principal.user.id:
        raise not_found(what)
    return item


#: ``POST /jobs/flow``: the order jobs are created in, and what each kind waits for.
_FLOW_STAGES: Tuple[Tuple[str, ...], ...] = (
    ("standard", "advice"),
    ("privacy_metrics", "signal_metrics"),
    ("report",),
)
_FLOW_PARENTS: Dict[str, Tuple[str, ...]] = {
    "privacy_metrics": ("standard",),
    "signal_metrics": ("standard",),
    "report": ("standard", "privacy_metrics", "signal_metrics"),
}
#: Job kinds SDK 1.30 (API 3.17) adds; the local server runs none of them.
JOB_KINDS_3X = ("extract", "schema_discovery", "reference", "regenerate")
#: At most this many distinct ``names=`` in one ``GET /jobs`` (3.x: more is a 400).
MAX_JOB_NAMES = 100


def _flag(value: str) -> Optional[bool]:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    return None


@dataclass(frozen=True)
class JobFilters:
    """The filters of ``GET /jobs``; every one that is set must hold."""

    kinds: Tuple[str, ...] = ()
    set_name: Optional[str] = None
    display_name: Optional[str] = None
    names: Tuple[str, ...] = ()
    limit: Optional[int] = None
    include_deleted: bool = False

    def keeps(self, job: Job) -> bool:
        return (
            (not self.kinds or job.kind in self.kinds)
            and (self.set_name is None or job.set_name == self.set_name)
            and (self.display_name is None or job.display_name == self.display_name)
            and (not self.names or job.name in self.names)
        )


def job_filters(request: Request, *, names_allowed: bool) -> JobFilters:
    """Read and check the query of ``GET /jobs`` (422 items for bad values).

    ``names_allowed``: the server acts as 3.x (``names=``, and the 3.x job kinds
    are valid filters, though no local job has them)."""
    args = request.args
    errors: List[Dict[str, Any]] = []
    kinds = tuple(k for k in args.getlist("kind") if k)
    known = JOB_KINDS + JOB_KINDS_3X if names_allowed else JOB_KINDS
    for kind in kinds:
        if kind not in known:
            errors.append(
                error_item(
                    ["query", "kind"],
                    "value is not a valid enumeration member; permitted: " + ", ".join(repr(k) for k in known),
                    "type_error.enum",
                )
            )
    set_name = args.get("set_name") or None
    if set_name is not None:
        if is_uuid(set_name):
            set_name = canonical_uuid(set_name)
        else:
            errors.append(error_item(["query", "set_name"], "value is not a valid uuid", "type_error.uuid"))
    limit: Optional[int] = None
    raw_limit = args.get("limit")
    if raw_limit not in (None, ""):
        try:
            limit = int(str(raw_limit))
        except ValueError:
            limit = -1
        if limit < 0:
            errors.append(error_item(["query", "limit"], "value is not a valid non-negative integer", "type_error"))
    include_deleted = False
    raw_deleted = args.get("include_deleted")
    if raw_deleted not in (None, ""):
        flag = _flag(str(raw_deleted))
        if flag is None:
            errors.append(
                error_item(["query", "include_deleted"], "value could not be parsed to a boolean", "type_error.bool")
            )
        include_deleted = bool(flag)
    names: Tuple[str, ...] = ()
    if names_allowed:
        names = tuple(dict.fromkeys(n for n in args.getlist("names") if n))
        if len(names) > MAX_JOB_NAMES:
            raise ApiError(400, f"at most {MAX_JOB_NAMES} distinct names per request")
    if errors:
        raise validation_error(errors)
    return JobFilters(
        kinds=kinds,
        set_name=set_name,
        display_name=args.get("display_name") or None,
        names=names,
        limit=limit,
        include_deleted=include_deleted,
    )


#: SDK 1.30 ``Verb`` and ``ObjectType`` (``GET /event-logs`` filters on 3.x).
EVENT_VERBS = ("login", "logout", "download", "read", "create", "update", "delete", "cancel", "startup", "test")
EVENT_OBJECT_TYPES = ("user", "job", "api_key", "resource", "organization", "file", "connection", "")


@dataclass(frozen=True)
class EventFilters:
    verbs: Tuple[str, ...] = ()
    object_types: Tuple[str, ...] = ()
    created_from: Optional[_dt.datetime] = None
    created_before: Optional[_dt.datetime] = None
    starting_after: Optional[str] = None
    limit: Optional[int] = None

    def keeps(self, event: Event) -> bool:
        # compared as the client saw the time (microseconds), not as the float stored
        created = _dt.datetime.fromtimestamp(event.created_at, tz=_dt.timezone.utc)
        return (
            (not self.verbs or event.verb in self.verbs)
            and (not self.object_types or event.object_type in self.object_types)
            and (self.created_from is None or created >= self.created_from)
            and (self.created_before is None or created < self.created_before)
        )


def event_filters(request: Request) -> EventFilters:
    """Read and check the 3.x query of ``GET /event-logs`` (422 items for bad values)."""
    args = request.args
    errors: List[Dict[str, Any]] = []
    verbs = tuple(args.getlist("verb"))
    types = tuple(args.getlist("object_type"))
    for name, values, allowed in (("verb", verbs, EVENT_VERBS), ("object_type", types, EVENT_OBJECT_TYPES)):
        if any(v not in allowed for v in values):
            permitted = ", ".join(repr(a) for a in allowed)
            errors.append(
                error_item(["query", name], f"value is not a valid enumeration member; permitted: {permitted}", "enum")
            )
    moments: Dict[str, Optional[_dt.datetime]] = {}
    for name in ("created_from", "created_before"):
        raw = args.get(name)
        moments[name] = None
        if raw:
            try:
                moments[name] = _dt.datetime.fromtimestamp(parse_iso(raw), tz=_dt.timezone.utc)
            except ValueError:
                errors.append(error_item(["query", name], "invalid datetime format", "datetime_parsing"))
    limit: Optional[int] = None
    raw_limit = args.get("limit")
    if raw_limit:
        try:
            limit = int(raw_limit)
        except ValueError:
            errors.append(error_item(["query", "limit"], "value is not a valid integer", "type_error.integer"))
        else:
            if limit < 1:
                errors.append(error_item(["query", "limit"], "ensure this value is at least 1", "greater_than_equal"))
    if errors:
        raise validation_error(errors)
    return EventFilters(
        verbs=verbs,
        object_types=types,
        created_from=moments["created_from"],
        created_before=moments["created_before"],
        starting_after=args.get("starting_after") or None,
        limit=limit,
    )


class Endpoints(ConnectionEndpoints):
    """Route handlers; each takes ``(request, principal, **path_args)``."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.store = state.store
        self.connections = state.connections
        if self.connections.root is None:
            self.connections.root = state.store.root

    def handler(self, name: str) -> Handler:
        method: Handler = getattr(self, name)
        return method

    def _event(self, principal: Principal, verb: str, object_type: str, object_id: Optional[str]) -> None:
        self.state.events.add(principal.user.id, verb, object_type, object_id)

    # -- 3.x and event logs -------------------------------------------------------------

    def list_event_logs(self, request: Request, principal: Optional[Principal]) -> Response:
        """Most recent first; on 3.x the ``verb``/``object_type``/``created_*``/``limit`` filters apply."""
        assert principal is not None
        events = self.state.events.of(principal.user.id)
        if self.state.settings.api_version >= 3:
            wanted = event_filters(request)
            events = [e for e in events if wanted.keeps(e)]
            if wanted.starting_after:
                ids = [e.id for e in events]
                events = events[ids.index(wanted.starting_after) + 1 :] if wanted.starting_after in ids else []
            if wanted.limit is not None:
                events = events[: wanted.limit]
        return json_response([e.to_json() for e in events])

    def get_operation(self, request: Request, principal: Optional[Principal], op_id: str) -> Response:
        """The created-operation protocol (see :mod:`avatars.testing.operations`)."""
        polled = self.state.operations.poll(op_id)
        if polled is None:
            raise not_found("Operation")
        pending, operation = polled
        if pending:
            return json_response({"status": "pending"}, 202, {"Retry-After": "0"})
        response = Response(operation.body, status=operation.status)
        for key, value in operation.headers:
            response.headers[key] = value
        return response

    def sso_not_configured(self, request: Request, principal: Optional[Principal]) -> Response:
        raise ApiError(501, {"message": "single sign-on is not configured on this server"})

    # -- health ---------------------------------------------------------------

    def root(self, request: Request, principal: Optional[Principal]) -> Response:
        return json_response({"message": ROOT_MESSAGE})

    def health(self, request: Request, principal: Optional[Principal]) -> Response:
        return json_response({"message": "ok"})

    def health_db(self, request: Request, principal: Optional[Principal]) -> Response:
        return json_response({"message": "ok"})

    def check_client(self, request: Request, principal: Optional[Principal]) -> Response:
        settings = self.state.settings
        agent = request.headers.get("User-Agent", "")
        match = _UA_RE.search(agent)
        version = match.group(1) if match else None
        parsed = parse_version(version) if version is not None else ()
        if not parsed:
            status = "unknown"
            message = "Unknown client: expected a User-Agent with avatar-python/<version>"
        elif parsed >= parse_version(settings.min_client_version):
            status = "compatible"
            message = f"Client version {version} is compatible with this server"
        else:
            status = "incompatible"
            message = (
                f"Client version {version} is too old: this server needs "
                f"avatar-python >= {settings.min_client_version}; please upgrade"
            )
        return json_response(
            {"message": message, "most_recent_compatible_client": settings.latest_client_version, "status": status}
        )

    def openapi(self, request: Request, principal: Optional[Principal]) -> Response:
        base_url = request.host_url.rstrip("/") + "/api"
        return json_response(build_document(ROUTES, base_url, self.state.settings.api_version))

    # -- auth -----------------------------------------------------------------------

    def login(self, request: Request, principal: Optional[Principal]) -> Response:
        form = request.form
        errors: List[Dict[str, Any]] = []
        for name in ("username", "password"):
            if name not in form:
                errors.append(error_item(["body", name], "field required", "value_error.missing"))
        grant_type = form.get("grant_type")
        if grant_type not in (None, "", "password"):
            errors.append(
                error_item(["body", "grant_type"], 'string does not match regex "password"', "value_error.str.regex")
            )
        if errors:
            raise validation_error(errors)
        user = check_password(self.state, form["username"], form["password"])
        if user is None:
            raise ApiError(401, "Incorrect username or password")
        access, refresh_token = issue_tokens(self.state, user)
        response = json_response({"access_token": access, "refresh_token": refresh_token, "token_type": "bearer"})
        if self.state.settings.set_login_cookie:
            response.set_cookie("avatar_session", uuid.uuid4().hex, path="/api", httponly=True, samesite="Lax")
        return response

    def refresh(self, request: Request, principal: Optional[Principal]) -> Response:
        token: Optional[str] = None
        if request.mimetype == "application/json":
            try:
                data = json.loads(request.get_data(cache=True)[:MAX_JSON_BODY] or b"{}")
            except ValueError:
                data = {}
            if isinstance(data, dict):
                value = data.get("token") or data.get("refresh_token")
                token = value if isinstance(value, str) else None
        else:
            token = request.form.get("token") or request.form.get("refresh_token")
        if not token:
            token = request.args.get("token")
        if not token:
            raise validation_error([error_item(["body", "token"], "field required", "value_error.missing")])
        access, new_refresh = refresh(self.state, token)
        return json_response({"access_token": access, "refresh_token": new_refresh, "token_type": "bearer"})

    def logout(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        logout(self.state, principal)
        return json_response({"message": "Logged out"})

    def forgotten_password(self, request: Request, principal: Optional[Principal]) -> Response:
        data = read_json_object(request)
        check = Checker(data)
        email = check.string("email", min_len=1)
        check.raise_if_errors()
        assert email is not None
        user = self.store.user_by_login(email)
        if user is not None:
            self.state.reset_tokens[user.email.lower()] = str(uuid.uuid4())
        return json_response({"message": "If this address is known, a reset link was sent"})

    def reset_password(self, request: Request, principal: Optional[Principal]) -> Response:
        data = read_json_object(request)
        check = Checker(data)
        email = check.string("email", min_len=1)
        password = check.string("new_password", min_len=1)
        repeated = check.string("new_password_repeated", min_len=1)
        token = check.uuid("token")
        if password is not None and repeated is not None and password != repeated:
            check.fail("new_password_repeated", "passwords do not match", "value_error")
        check.raise_if_errors()
        assert email is not None and password is not None and token is not None
        expected = self.state.reset_tokens.get(email.lower())
        user = self.store.user_by_login(email)
        if expected is None or user is None or expected != token:
            raise ApiError(400, "Invalid or expired reset token")
        with self.store.lock:
            self.state.reset_tokens.pop(email.lower(), None)
            user.password_hash = hash_password(password)
            for record in self.store.refresh_tokens.values():
                if record.user_id == user.id and record.revoked_at is None:
                    record.revoked_at = now()
            self.store.save()
        return json_response({"message": "Password reset"})

    # -- users ------------------------------------------------------------------------

    def _visible(self, principal: Principal, user: User) -> bool:
        return principal.is_admin or user.organization_id == principal.user.organization_id

    def list_users(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        email = (request.args.get("email") or "").lower()
        username = (request.args.get("username") or "").lower()
        with self.store.lock:
            users = [u for u in self.store.users.values() if self._visible(principal, u)]
        if email:
            users = [u for u in users if u.email.lower() == email]
        if username:
            users = [u for u in users if u.username.lower() == username]
        users.sort(key=lambda u: u.created_at)
        return json_response([user_json(u) for u in users])

    def create_user(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        email = check.string("email", min_len=3, max_len=320)
        if email is not None and "@" not in email:
            check.fail("email", "value is not a valid email address", "value_error.email")
        role = check.choice("role", (ROLE_ADMIN, ROLE_USER), default=ROLE_USER)
        password = check.string("password", required=False, min_len=1)
        check.raise_if_errors()
        assert email is not None and role is not None
        with self.store.lock:
            if self.store.user_by_login(email) is not None:
                raise ApiError(409, "A user with this email already exists")
            user = User(
                id=new_id(),
                organization_id=principal.user.organization_id,
                email=email,
                username=email,
                role=role,
                password_hash=hash_password(password) if password else None,
                created_at=now(),
            )
            self.store.users[user.id] = user
            self.store.save()
        return json_response(user_json(user))

    def me(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        environment: Dict[str, Any] = dict(principal.user.environment)
        if self.state.settings.api_version >= 3:
            environment.setdefault("license_type", None)  # 3.x EnvironmentInfo
        return json_response({**user_json(principal.user), "environment": environment})

    def credits_info(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        return json_response({"credits": principal.user.credits, "is_credit_enabled": principal.user.is_credit_enabled})

    def features_info(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        return json_response({"feature_scopes": list(principal.user.feature_scopes)})

    def get_user(self, request: Request, principal: Optional[Principal], user_id: str) -> Response:
        assert principal is not None
        wanted = path_uuid(user_id, "user_id")
        user = self.store.users.get(wanted)
        if user is None or not self._visible(principal, user):
            raise not_found("User")
        return json_response(user_json(user))

    def delete_user(self, request: Request, principal: Optional[Principal], user_id: str) -> Response:
        assert principal is not None
        wanted = path_uuid(user_id, "user_id")
        with self.store.lock:
            user = self.store.users.pop(wanted, None)
            if user is None:
                raise not_found("User")
            self._revoke_api_keys(user.id)
            self.store.save()
        return json_response(user_json(user))

    # -- api keys -------------------------------------------------------------------

    def _revoke_api_keys(self, user_id: str) -> None:
        """Revoke every live API key of ``user_id`` (store lock held by the caller)."""
        for key in self.store.api_keys.values():
            if key.user_id == user_id and key.revoked_at is None:
                key.revoked_at = now()

    def _my_key(self, principal: Principal, key_id: str) -> ApiKey:
        return owned(principal, self.store.api_keys, path_uuid(key_id, "id"), "API key")

    def list_api_keys(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        with self.store.lock:
            keys = [k for k in self.store.api_keys.values() if k.user_id == principal.user.id]
        keys.sort(key=lambda k: k.created_at)
        return json_response([api_key_json(k) for k in keys])

    def create_api_key(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        name = check.string("name", min_len=1, max_len=255)
        days = check.integer("expiration_days", choices=API_KEY_EXPIRATION_DAYS)
        check.raise_if_errors()
        assert name is not None and days is not None
        key, plaintext = issue_api_key(self.state, principal.user.id, name, expiration_days=days)
        self._event(principal, "create", "api_key", key.id)
        return json_response(
            {
                "api_key": {**api_key_json(key), "plaintext": plaintext},
                "message": "Store this API key now: it will not be shown again.",
            }
        )

    def get_api_key(self, request: Request, principal: Optional[Principal], key_id: str) -> Response:
        assert principal is not None
        return json_response(api_key_json(self._my_key(principal, key_id)))

    def revoke_api_key(self, request: Request, principal: Optional[Principal], key_id: str) -> Response:
        assert principal is not None
        with self.store.lock:
            key = self._my_key(principal, key_id)
            if key.revoked_at is None:
                key.revoked_at = now()
                self.store.save()
        return empty_response(204)

    def revoke_api_key_admin(self, request: Request, principal: Optional[Principal]) -> Response:
        """Admin: revoke every key of ``?user_id=``, or the one key ``?api_key_id=``."""
        assert principal is not None
        user_id = request.args.get("user_id") or None
        key_id = request.args.get("api_key_id") or None
        if (user_id is None) == (key_id is None):
            raise validation_error(
                [error_item(["query"], "give exactly one of user_id and api_key_id", "value_error.missing")]
            )
        with self.store.lock:
            if user_id is not None:
                wanted = path_uuid(user_id, "user_id")
                if wanted not in self.store.users:
                    raise not_found("User")
                self._revoke_api_keys(wanted)
            else:
                key = self.store.api_keys.get(path_uuid(str(key_id), "api_key_id"))
                if key is None:
                    raise not_found("API key")
                if key.revoked_at is None:
                    key.revoked_at = now()
            self.store.save()
        self._event(principal, "delete", "api_key", key_id)
        return empty_response(204)

    def revoke_all_api_keys(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        with self.store.lock:
            self._revoke_api_keys(principal.user.id)
            self.store.save()
        return empty_response(204)

    # -- resource sets -----------------------------------------------------------------

    @staticmethod
    def _check_set(raw: bytes, display_name: str) -> SetIndex:
        """:func:`read_set`, plus a platform set read as jobs will run it; a 422 envelope if not."""
        try:
            index = read_set(raw)
            if index.legacy is None:
                platform_set(raw.decode("utf-8"), display_name)
        except DocumentError as exc:
            raise validation_error(exc.errors) from None
        return index

    def _read_document(self, request: Request) -> str:
        """The body's documents, each checked alone (a set's ``POST`` may lack what the set has)."""
        raw = read_limited_body(request)
        try:
            read_set(raw)
        except DocumentError as exc:
            raise validation_error(exc.errors) from None
        return raw.decode("utf-8")

    def _my_set(self, principal: Principal, set_name: str) -> ResourceSet:
        return owned(principal, self.store.resource_sets, path_uuid(set_name, "set_name"), "Resource set")

    def post_resources(self, request: Request, principal: Optional[Principal], set_name: str) -> Response:
        """Append documents to an existing set (the platform: unknown set -> 404)."""
        assert principal is not None
        text = self._read_document(request)
        with self.store.lock:
            resource = self._my_set(principal, set_name)
            combined = resource.text.rstrip("\n") + "\n---\n" + text
            self._check_set(combined.encode("utf-8"), resource.display_name)
            resource.text = combined
            resource.updated_at = now()
            self.store.save()
        self._event(principal, "update", "resource", resource.set_name)
        return json_response({"set_name": resource.set_name, "display_name": resource.display_name})

    def put_resources(self, request: Request, principal: Optional[Principal], display_name: str) -> Response:
        """A new set (new ``set_name``) every time; earlier sets stay as they were."""
        assert principal is not None
        raw = read_limited_body(request)
        self._check_set(raw, display_name)
        text = raw.decode("utf-8")
        with self.store.lock:
            resource = ResourceSet(
                set_name=new_id(),
                display_name=display_name,
                user_id=principal.user.id,
                text=text,
                created_at=now(),
                updated_at=now(),
            )
            self.store.resource_sets[resource.set_name] = resource
            self.store.save()
        self._event(principal, "create", "resource", resource.set_name)
        return json_response({"set_name": resource.set_name, "display_name": resource.display_name})

    def get_resources(self, request: Request, principal: Optional[Principal], set_name: str) -> Response:
        assert principal is not None
        resource = self._my_set(principal, set_name)
        return Response(resource.text.encode("utf-8"), status=200, content_type="application/yaml")

    def get_user_volume(self, request: Request, principal: Optional[Principal]) -> Response:
        """An ``AvatarVolume`` document for a set's input or results (plain text YAML)."""
        assert principal is not None
        import yaml

        args = request.args
        errors: List[Dict[str, Any]] = []
        volume_name = args.get("volume_name") or ""
        purpose = args.get("purpose") or ""
        if not volume_name:
            errors.append(error_item(["query", "volume_name"], "field required", "value_error.missing"))
        if purpose not in ("input", "results"):
            errors.append(error_item(["query", "purpose"], "value is not one of 'input', 'results'", "type_error.enum"))
        set_name = args.get("set_name") or None
        display_name = args.get("display_name") or None
        if set_name is None and display_name is None:
            errors.append(error_item(["query", "set_name"], "field required", "value_error.missing"))
        if errors:
            raise validation_error(errors)
        if set_name is not None:
            resource = self._my_set(principal, set_name)
        else:
            with self.store.lock:
                mine = [
                    r
                    for r in self.store.resource_sets.values()
                    if r.user_id == principal.user.id and r.display_name == display_name
                ]
            if not mine:
                raise not_found("Resource set")
            resource = max(mine, key=lambda r: r.created_at)
        base = self.state.storage_base_url
        if purpose == "input":
            url = f"{base}/uploads/{principal.user.id}/"
        else:
            url = f"{base}/results/{principal.user.id}/{resource.set_name}/"
        document = {"kind": "AvatarVolume", "metadata": {"name": volume_name}, "spec": {"url": url}}
        text = yaml.safe_dump(document, sort_keys=False)
        return Response(text.encode("utf-8"), status=200, content_type="text/plain; charset=utf-8")

    # -- jobs ---------------------------------------------------------------------------

    def _my_job(self, principal: Principal, job_name: str) -> Job:
        return owned(principal, self.store.jobs, job_name, "Job")

    def _active_jobs(self, principal: Principal, *, include_deleted: bool = False) -> List[Job]:
        with self.store.lock:
            jobs = [
                j
                for j in self.store.jobs.values()
                if j.user_id == principal.user.id and (include_deleted or j.deleted_at is None)
            ]
        jobs.sort(key=lambda j: j.seq)
        return jobs

    def list_jobs(self, request: Request, principal: Optional[Principal]) -> Response:
        """``GET /jobs``: every filter applies, together (see :func:`job_filters`)."""
        assert principal is not None
        wanted = job_filters(request, names_allowed=self.state.settings.api_version >= 3)
        jobs = self._active_jobs(principal, include_deleted=wanted.include_deleted)
        jobs = [j for j in jobs if wanted.keeps(j)]
        if wanted.limit is not None:
            jobs = jobs[-wanted.limit :] if wanted.limit else []
        if self.state.settings.api_version >= 3:
            jobs.reverse()  # 3.x: newest first (SDK 1.30 ``get_jobs``)
        return json_response({"jobs": [job_json(j, self.state.settings.api_version) for j in jobs]})

    def _parent_name(self, reference: str) -> str:
        """A ``depends_on`` entry: a job name, or a ``JobCreateResponse.Location`` (``.../jobs/<name>``)."""
        path = reference.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        marker = "/jobs/"
        if marker in path:
            return path.rsplit(marker, 1)[1]
        return reference

    def _new_job(
        self,
        principal: Principal,
        resource: ResourceSet,
        parameters_name: str,
        kind: str,
        depends_on: List[str],
    ) -> Job:
        """Store a queued job (store lock held by the caller)."""
        job = Job(
            name=f"{kind}_{uuid.uuid4().hex[:16]}",
            user_id=principal.user.id,
            set_name=resource.set_name,
            parameters_name=parameters_name,
            display_name=resource.display_name,
            kind=kind,
            depends_on=list(dict.fromkeys(depends_on)),
            status="queued",
            created_at=now(),
            seq=self.store.next_job_seq(),
        )
        self.store.jobs[job.name] = job
        return job

    def _job_location(self, request: Request, job: Job) -> str:
        return request.host_url.rstrip("/") + f"/api/jobs/{job.name}"

    def create_job(self, request: Request, principal: Optional[Principal]) -> Response:
        """``POST /jobs``: the kind comes from the parameters document; 200 ``JobCreateResponse``."""
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        set_name = check.uuid("set_name")
        parameters_name = check.string("parameters_name", min_len=1)
        references = check.string_list("depends_on")
        check.raise_if_errors()
        assert set_name is not None and parameters_name is not None
        with self.store.lock:
            resource = owned(principal, self.store.resource_sets, set_name, "Resource set")
            kinds = parameters_kinds(resource.text)
            kind = kinds.get(parameters_name)
            if kind is None:
                available = ", ".join(sorted(kinds)) or "none"
                check.fail(
                    "parameters_name",
                    f"no parameters document named {parameters_name!r} in this set (available: {available})",
                    "value_error.unknown_parameters",
                )
            parents: List[str] = []
            for index, reference in enumerate(references):
                parent_name = self._parent_name(reference)
                parent = self.store.jobs.get(parent_name)
                if parent is None or parent.user_id != principal.user.id or parent.deleted_at:
                    check.fail(["depends_on", index], f"unknown job {reference!r}", "value_error.unknown_job")
                else:
                    parents.append(parent.name)
            check.raise_if_errors()
            assert kind is not None
            job = self._new_job(principal, resource, parameters_name, kind, parents)
            self.store.save()
        self.state.runner.wake()
        self._event(principal, "create", "job", None)
        return json_response({"name": job.name, "Location": self._job_location(request, job)})

    def create_job_flow(self, request: Request, principal: Optional[Principal]) -> Response:
        """3.x ``POST /jobs/flow``: one job per parameters document of the set, in the usual order.

        ``standard`` jobs first; ``privacy_metrics``/``signal_metrics`` depend on
        every ``standard`` job; ``report`` on all of those; ``advice`` on nothing.
        """
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        set_name = check.uuid("set_name")
        check.raise_if_errors()
        assert set_name is not None
        created: List[Job] = []
        with self.store.lock:
            resource = owned(principal, self.store.resource_sets, set_name, "Resource set")
            entries = parameters_kinds(resource.text)
            if not entries:
                raise ApiError(400, "This resource set has no parameters document")
            by_kind: Dict[str, List[str]] = {}
            for stage in _FLOW_STAGES:
                for name, kind in entries.items():
                    if kind not in stage:
                        continue
                    parents = [p for k in _FLOW_PARENTS.get(kind, ()) for p in by_kind.get(k, [])]
                    job = self._new_job(principal, resource, name, kind, parents)
                    by_kind.setdefault(kind, []).append(job.name)
                    created.append(job)
            self.store.save()
        self.state.runner.wake()
        return json_response({"jobs": [{"name": j.name, "Location": self._job_location(request, j)} for j in created]})

    def last_set_jobs(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        jobs = self._active_jobs(principal)
        if not jobs:
            return json_response({"jobs": []})
        last_set = jobs[-1].set_name
        return json_response(
            {"jobs": [job_json(j, self.state.settings.api_version) for j in jobs if j.set_name == last_set]}
        )

    def get_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        return json_response(job_json(self._my_job(principal, job_name), self.state.settings.api_version))

    def _soft_delete(self, job: Job) -> None:
        self.state.runner.cancel(job, status="cancelled" if self.state.settings.api_version >= 3 else "error")
        with self.store.lock:
            if job.deleted_at is None:
                job.deleted_at = now()
                self.store.save()

    def delete_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        job = self._my_job(principal, job_name)
        self._soft_delete(job)
        return json_response(job_json(job, self.state.settings.api_version))

    def cancel_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        job = self._my_job(principal, job_name)
        if not self.state.runner.cancel(job, status="cancelled"):
            raise ApiError(409, {"message": f"Job {job.name} is already over (status {job.status})"})
        return json_response(job_json(job, self.state.settings.api_version))

    def bulk_delete_jobs(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        names = check.string_list("job_names", required=True, max_items=100)
        check.raise_if_errors()
        deleted: List[Dict[str, Any]] = []
        failed: List[str] = []
        for name in names:
            job = self.store.jobs.get(name)
            if job is None or job.user_id != principal.user.id:
                failed.append(name)
                continue
            self._soft_delete(job)
            deleted.append(job_json(job, self.state.settings.api_version))
        return json_response({"deleted_jobs": deleted, "failed_jobs": failed})

    # -- results and files -------------------------------------------------------------

    def result_url(self, result: ResultFile) -> str:
        key = result_key(result.user_id, result.job_name, result.filename)
        return access.result_url(self.state, location(DEFAULT_BUCKET, key))

    def get_results(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        job = self._my_job(principal, job_name)
        if job.deleted_at is not None:
            raise not_found("Job")
        if job.status != "finished":
            detail: Dict[str, Any] = {"status": job.status}
            if job.done:
                detail["message"] = f"Job {job.name} ended with status {job.status}"
                detail["exception"] = job.exception
            else:
                detail["message"] = f"Job {job.name} is not finished (status {job.status})"
            raise ApiError(409, detail)
        with self.store.lock:
            results = sorted(
                (r for r in self.store.results.values() if r.job_name == job.name), key=lambda r: r.filename
            )
        out: Dict[str, List[str]] = {}
        for result in results:
            out.setdefault(result.kind, []).append(self.result_url(result))
        return json_response(out)

    def _grant(self, principal: Principal, url: str) -> Dict[str, Any]:
        answer = access.grant(self.state, principal.user.id, url)
        if answer is None:
            raise ApiError(403, "No access to this location")
        return answer

    def get_access(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        url = request.args.get("url")
        if not url:
            raise validation_error([error_item(["query", "url"], "field required", "value_error.missing")])
        return json_response(self._grant(principal, url))

    def get_access_batch(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        try:
            data = json.loads(read_limited_body(request) or b"null")
        except ValueError:
            data = None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise validation_error([error_item(["body"], "value is not a valid list of strings", "type_error.list")])
        granted = [access.grant(self.state, principal.user.id, url) for url in data]
        return json_response([item for item in granted if item is not None])

    def upload_url(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        return json_response(access.upload_prefix(principal.user.id))


__all__ = ["Endpoints", "job_json", "user_json"]
