"""The handlers of the local API server, one method per row of the route table.

Choices where the contract is silent (also listed in the package docstring):

* ``GET /results/{job_name}`` of a job that has not finished: ``409`` with
  ``{"detail": {"message": ..., "status": <job status>}}`` (and the job's
  ``exception`` when it failed); unknown or deleted job: ``404``.
* ``POST /api-keys``, ``POST /users``, ``POST/PUT /resources``: ``200``.
  ``DELETE /api-keys[/{id}]`` and ``DELETE /datasets/{id}``: ``204``.
* ``POST /resources/{set_name}``: ``display_name`` comes from the
  ``?display_name=`` query, else the existing set's, else the set_name.
  ``PUT /resources/{display_name}``: replaces the document of the caller's
  set with that display name (same ``set_name``) or creates a new set.
* Jobs are named ``<kind>_<16 hex chars>``; ``parameters_name`` may be omitted
  (then the job covers every ``parameters`` entry).
* Users see the users of their organization (admins see all); datasets,
  resource sets, jobs, results and API keys are private to their owner.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response

from . import platform_flow
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
from ._util import iso, new_id, now, parse_version, safe_filename
from .auth import Principal, check_password, issue_api_key, issue_tokens, logout, refresh
from .datasets import ingest, iter_file
from .jobs import JOB_KINDS
from .openapi import build_document
from .resource_sets import DocumentError, parse_document
from .routes import ROUTES
from .state import ServerState
from .store import (
    ROLE_ADMIN,
    ROLE_USER,
    ApiKey,
    Dataset,
    Job,
    ResourceSet,
    ResultFile,
    User,
)
from .tokens import hash_password

API_KEY_EXPIRATION_DAYS = (30, 60, 120, 365, 3650)
FILETYPES = ("csv", "json", "parquet")
ROOT_MESSAGE = "Avatar API - avatars.testing local server (jobs use a local stand-in, not the Avatar platform's method)"
_UA_RE = re.compile(r"avatar-python/([^\s;,()]+)", re.IGNORECASE)
_CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "parquet": "application/octet-stream"}


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


def dataset_json(dataset: Dataset) -> Dict[str, Any]:
    return {
        "id": dataset.id,
        "name": dataset.name,
        "filetype": dataset.filetype,
        "nb_lines": dataset.nb_lines,
        "nb_dimensions": dataset.nb_dimensions,
        "hash": dataset.hash,
        "created_at": iso(dataset.created_at),
    }


def job_json(job: Job) -> Dict[str, Any]:
    return {
        "name": job.name,
        "set_name": job.set_name,
        "parameters_name": job.parameters_name,
        "display_name": job.display_name,
        "created_at": iso(job.created_at),
        "kind": job.kind,
        "status": job.status,
        "exception": job.exception,
        "done": job.done,
        "progress": job.progress,
        "deleted_at": iso(job.deleted_at),
        "depends_on": list(job.depends_on),
    }


Handler = Callable[..., Response]


class Endpoints:
    """Route handlers; each takes ``(request, principal, **path_args)``."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.store = state.store

    def handler(self, name: str) -> Handler:
        method: Handler = getattr(self, name)
        return method

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
        return json_response(build_document(ROUTES, base_url))

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
        return json_response({**user_json(principal.user), "environment": dict(principal.user.environment)})

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
        wanted = path_uuid(key_id, "id")
        key = self.store.api_keys.get(wanted)
        if key is None or key.user_id != principal.user.id:
            raise not_found("API key")
        return key

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

    def revoke_all_api_keys(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        with self.store.lock:
            self._revoke_api_keys(principal.user.id)
            self.store.save()
        return empty_response(204)

    # -- datasets ---------------------------------------------------------------------

    def _my_dataset(self, principal: Principal, dataset_id: str) -> Dataset:
        wanted = path_uuid(dataset_id, "dataset_id")
        dataset = self.store.datasets.get(wanted)
        if dataset is None or dataset.user_id != principal.user.id:
            raise not_found("Dataset")
        return dataset

    def upload_dataset(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        name = request.args.get("name") or None
        filetype = request.args.get("filetype") or "csv"
        if filetype not in FILETYPES:
            raise validation_error(
                [
                    error_item(
                        ["query", "filetype"],
                        "value is not a valid enumeration member; permitted: 'csv', 'json', 'parquet'",
                        "type_error.enum",
                    )
                ]
            )
        dataset_id = new_id()
        temp = self.store.temp_path()
        try:
            result = ingest(request.stream, temp, filetype, should_stop=self.state.stop_event.is_set)
        except (ClientDisconnected, OSError) as exc:
            raise ApiError(400, f"upload interrupted: {exc.__class__.__name__}") from None
        final = self.store.path(f"datasets/{dataset_id}")
        temp.replace(final)
        dataset = Dataset(
            id=dataset_id,
            user_id=principal.user.id,
            name=name,
            filetype=filetype,
            nb_lines=result.nb_lines,
            nb_dimensions=result.nb_dimensions,
            hash=result.sha256,
            size=result.size,
            created_at=now(),
            relpath=f"datasets/{dataset_id}",
        )
        with self.store.lock:
            self.store.datasets[dataset.id] = dataset
            self.store.save()
        return json_response(dataset_json(dataset), 201)

    def list_datasets(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        with self.store.lock:
            datasets = [d for d in self.store.datasets.values() if d.user_id == principal.user.id]
        datasets.sort(key=lambda d: d.created_at)
        return json_response([dataset_json(d) for d in datasets])

    def get_dataset(self, request: Request, principal: Optional[Principal], dataset_id: str) -> Response:
        assert principal is not None
        return json_response(dataset_json(self._my_dataset(principal, dataset_id)))

    def delete_dataset(self, request: Request, principal: Optional[Principal], dataset_id: str) -> Response:
        assert principal is not None
        with self.store.lock:
            dataset = self._my_dataset(principal, dataset_id)
            del self.store.datasets[dataset.id]
            self.store.save()
        try:
            self.store.path(dataset.relpath).unlink()
        except OSError:
            pass
        return empty_response(204)

    def download_dataset(self, request: Request, principal: Optional[Principal], dataset_id: str) -> Response:
        assert principal is not None
        dataset = self._my_dataset(principal, dataset_id)
        filename = safe_filename(dataset.name or dataset.id)
        if not filename.endswith("." + dataset.filetype):
            filename += "." + dataset.filetype
        return file_response(
            self.store.path(dataset.relpath), _CONTENT_TYPES.get(dataset.filetype, "application/octet-stream"), filename
        )

    # -- resource sets -----------------------------------------------------------------

    def _read_document(self, request: Request) -> str:
        raw = read_limited_body(request)
        if platform_flow.is_platform_set(raw.decode("utf-8", errors="replace")):
            return platform_flow.check_set(raw)  # the platform's YAML (run by platform_flow)
        try:
            parse_document(raw)
        except DocumentError as exc:
            raise validation_error(exc.errors) from None
        return raw.decode("utf-8")

    def post_resources(self, request: Request, principal: Optional[Principal], set_name: str) -> Response:
        assert principal is not None
        wanted = path_uuid(set_name, "set_name")
        text = self._read_document(request)
        display_name = request.args.get("display_name") or None
        with self.store.lock:
            existing = self.store.resource_sets.get(wanted)
            if existing is not None and existing.user_id != principal.user.id:
                raise ApiError(409, "This set_name is already used")
            if existing is not None:
                existing.text = text
                existing.updated_at = now()
                if display_name:
                    existing.display_name = display_name
                resource = existing
            else:
                resource = ResourceSet(
                    set_name=wanted,
                    display_name=display_name or wanted,
                    user_id=principal.user.id,
                    text=text,
                    created_at=now(),
                    updated_at=now(),
                )
                self.store.resource_sets[wanted] = resource
            self.store.save()
        return json_response({"set_name": resource.set_name, "display_name": resource.display_name})

    def put_resources(self, request: Request, principal: Optional[Principal], display_name: str) -> Response:
        assert principal is not None
        text = self._read_document(request)
        with self.store.lock:
            mine = [
                r
                for r in self.store.resource_sets.values()
                if r.user_id == principal.user.id and r.display_name == display_name
            ]
            if mine:
                resource = max(mine, key=lambda r: r.updated_at)
                resource.text = text
                resource.updated_at = now()
            else:
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
        return json_response({"set_name": resource.set_name, "display_name": resource.display_name})

    def get_resources(self, request: Request, principal: Optional[Principal], set_name: str) -> Response:
        assert principal is not None
        wanted = path_uuid(set_name, "set_name")
        resource = self.store.resource_sets.get(wanted)
        if resource is None or resource.user_id != principal.user.id:
            raise not_found("Resource set")
        return Response(resource.text.encode("utf-8"), status=200, content_type="application/yaml")

    # -- jobs ---------------------------------------------------------------------------

    def _my_job(self, principal: Principal, job_name: str) -> Job:
        job = self.store.jobs.get(job_name)
        if job is None or job.user_id != principal.user.id:
            raise not_found("Job")
        return job

    def _active_jobs(self, principal: Principal) -> List[Job]:
        with self.store.lock:
            jobs = [j for j in self.store.jobs.values() if j.user_id == principal.user.id and j.deleted_at is None]
        jobs.sort(key=lambda j: j.seq)
        return jobs

    def list_jobs(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        kind = request.args.get("kind") or None
        if kind is not None and kind not in JOB_KINDS:
            raise validation_error(
                [
                    error_item(
                        ["query", "kind"],
                        "value is not a valid enumeration member; permitted: " + ", ".join(repr(k) for k in JOB_KINDS),
                        "type_error.enum",
                    )
                ]
            )
        jobs = self._active_jobs(principal)
        if kind is not None:
            jobs = [j for j in jobs if j.kind == kind]
        return json_response({"jobs": [job_json(j) for j in jobs]})

    def create_job(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        set_name = check.uuid("set_name")
        parameters_name = check.string("parameters_name", required=False)
        depends_on = check.string_list("depends_on")
        kind = check.choice("kind", JOB_KINDS, default="standard")
        with self.store.lock:
            for index, parent_name in enumerate(depends_on):
                parent = self.store.jobs.get(parent_name)
                if parent is None or parent.user_id != principal.user.id or parent.deleted_at:
                    check.fail(["depends_on", index], f"unknown job {parent_name!r}", "value_error.unknown_job")
            check.raise_if_errors()
            assert set_name is not None and kind is not None
            resource = self.store.resource_sets.get(set_name)
            if resource is None or resource.user_id != principal.user.id:
                raise not_found("Resource set")
            job = Job(
                name=f"{kind}_{uuid.uuid4().hex[:16]}",
                user_id=principal.user.id,
                set_name=set_name,
                parameters_name=parameters_name or None,
                display_name=resource.display_name,
                kind=kind,
                depends_on=list(dict.fromkeys(depends_on)),
                status="queued",
                created_at=now(),
                seq=self.store.next_job_seq(),
            )
            self.store.jobs[job.name] = job
            self.store.save()
        self.state.runner.wake()
        location = request.host_url.rstrip("/") + f"/api/jobs/{job.name}"
        return json_response({"name": job.name, "Location": location}, 201, {"Location": location})

    def last_set_jobs(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        jobs = self._active_jobs(principal)
        if not jobs:
            return json_response({"jobs": []})
        last_set = jobs[-1].set_name
        return json_response({"jobs": [job_json(j) for j in jobs if j.set_name == last_set]})

    def get_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        return json_response(job_json(self._my_job(principal, job_name)))

    def _soft_delete(self, job: Job) -> None:
        self.state.runner.cancel(job)
        with self.store.lock:
            if job.deleted_at is None:
                job.deleted_at = now()
                self.store.save()

    def delete_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        job = self._my_job(principal, job_name)
        self._soft_delete(job)
        return json_response(job_json(job))

    def cancel_job(self, request: Request, principal: Optional[Principal], job_name: str) -> Response:
        assert principal is not None
        job = self._my_job(principal, job_name)
        self.state.runner.cancel(job)
        return json_response(job_json(job))

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
            deleted.append(job_json(job))
        return json_response({"deleted_jobs": deleted, "failed_jobs": failed})

    # -- results and files -------------------------------------------------------------

    def result_url(self, result: ResultFile) -> str:
        return f"{self.state.storage_base_url}/{result.key}"

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

    def resolve_url(self, principal: Principal, url: str) -> Optional[str]:
        """The storage key of ``url`` when it names a file of the caller, else None."""
        prefix = self.state.storage_base_url + "/"
        if not url.startswith(prefix):
            return None
        key = url[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
        with self.store.lock:
            for result in self.store.results.values():
                if result.key == key and result.user_id == principal.user.id:
                    return key
        upload_prefix = f"uploads/{principal.user.id}/"
        if key.startswith(upload_prefix) and "/" not in key[len(upload_prefix) :]:
            if self.store.path(key).is_file():
                return key
        return None

    def key_path(self, key: str) -> Tuple[Path, str]:
        """The file behind a storage key and its content type."""
        with self.store.lock:
            for result in self.store.results.values():
                if result.key == key:
                    return self.store.path(result.relpath), result.content_type
        return self.store.path(key), "application/octet-stream"

    def _grant(self, principal: Principal, url: str) -> Dict[str, Any]:
        key = self.resolve_url(principal, url)
        if key is None:
            raise ApiError(404, f"File not found: {url}")
        access_key_id, secret = self.state.file_access.issue(key, principal.user.id)
        return {"url": url, "credentials": {"access_key_id": access_key_id, "secret_access_key": secret}}

    def get_access(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        url = request.args.get("url")
        if not url:
            raise validation_error([error_item(["query", "url"], "field required", "value_error.missing")])
        return json_response(self._grant(principal, url))

    def get_access_batch(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        urls = check.string_list("urls", required=True)
        check.raise_if_errors()
        return json_response([self._grant(principal, url) for url in urls])

    def download(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        data = read_json_object(request)
        check = Checker(data)
        url = check.string("url", min_len=1)
        credentials = data.get("credentials")
        access_key_id = secret = None
        if not isinstance(credentials, dict):
            check.fail(
                "credentials",
                "field required" if credentials is None else "value is not a valid dict",
                "value_error.missing" if credentials is None else "type_error.dict",
            )
        else:
            inner = Checker(credentials)
            access_key_id = inner.string("access_key_id", min_len=1)
            secret = inner.string("secret_access_key", min_len=1)
            for item in inner.errors:
                item["loc"] = ["body", "credentials", *item["loc"][1:]]
                check.errors.append(item)
        check.raise_if_errors()
        assert url is not None and access_key_id is not None and secret is not None
        key = self.resolve_url(principal, url)
        if key is None:
            raise ApiError(404, "File not found")
        if not self.state.file_access.check(key, access_key_id, secret):
            raise ApiError(403, "These credentials were not issued for this file")
        path, content_type = self.key_path(key)
        return file_response(path, content_type, key.rsplit("/", 1)[-1])

    def upload_url(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        return json_response(f"{self.state.storage_base_url}/uploads/{principal.user.id}/")


def file_response(path: Path, content_type: str, filename: str) -> Response:
    """A streamed file answer with ``Content-Length`` (1 MiB chunks, never whole in RAM)."""
    if not path.is_file():
        raise ApiError(404, "File not found")
    response = Response(iter_file(path), status=200, content_type=content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


__all__ = ["Endpoints", "file_response", "job_json", "user_json"]
