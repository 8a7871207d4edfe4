"""The ``/connections`` handlers of the local server (platform API 3.x), mixed into
:class:`avatars.testing.endpoints.Endpoints`.

Who may do what (the platform SDK's ``Connections`` calls):

* list, engines, presets, test, sample: anybody, on the connections they can use;
* ``PUT`` with scope ``organization`` (the default) and ``POST /connections/presets``
  with scope ``organization``: organization admins; scope ``user``: anybody,
  for themselves; scope ``deployment``: nobody (403: the deployment's
  configuration declares those);
* ``PATCH``/``DELETE``: an admin for the organization's, the owner for their own;
  ``PATCH`` on a deployment connection is a 409; ``DELETE`` on one takes it out
  of use for the admin's organization only (a member who is not an admin: 403).

Validation errors are FastAPI's 422 envelope; no message ever holds the DSN
or a value of a secret form field (see :mod:`avatars.testing.connections`).
Events: ``create``/``update``/``delete``/``test``/``read`` on ``connection``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from werkzeug.wrappers import Request, Response

from ._http import ApiError, Checker, empty_response, error_item, json_response, read_json_object, validation_error
from .auth import Principal
from .connections import (
    DEFAULT_SAMPLE_LIMIT,
    ENGINES,
    MAX_LABEL,
    MAX_SAMPLE_COLUMNS,
    MAX_SAMPLE_LIMIT,
    MAX_SAMPLE_TABLES,
    NAME_RE,
    PRESET_KINDS,
    PRESETS,
    RESERVED_NAMES,
    SCOPE_DEPLOYMENT,
    SCOPE_ORGANIZATION,
    SCOPE_USER,
    SCOPES,
    Connection,
    ConnectionRegistry,
    DsnError,
    check_dsn,
    dsn_from_fields,
    engine_unavailable,
    probe,
    sample,
)
from .state import ServerState


def _name_error(name: str, where: List[Any]) -> Optional[Dict[str, Any]]:
    if name in RESERVED_NAMES:
        return error_item(where, "this name is reserved", "value_error.reserved")
    if not NAME_RE.match(name):
        return error_item(
            where,
            "a connection name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            "value_error.str.regex",
        )
    return None


class ConnectionEndpoints:
    """``/connections``: see the module docstring."""

    state: ServerState
    connections: ConnectionRegistry

    def _event(self, principal: Principal, verb: str, object_type: str, object_id: Optional[str]) -> None:
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------

    def _usable(self, principal: Principal, name: str) -> Connection:
        found = self.connections.resolve(principal.user.id, principal.user.organization_id, name)
        if found is None:
            raise ApiError(404, f"No connection named {name!r}")
        return found

    @staticmethod
    def _owner(principal: Principal, scope: str) -> str:
        return principal.user.organization_id if scope == SCOPE_ORGANIZATION else principal.user.id

    @staticmethod
    def _may_store(principal: Principal, scope: str) -> None:
        if scope == SCOPE_DEPLOYMENT:
            raise ApiError(403, "Deployment connections are declared in the deployment's configuration")
        if scope == SCOPE_ORGANIZATION and not principal.is_admin:
            raise ApiError(403, "Only an organization admin may change the organization's connections")

    def _may_change(self, principal: Principal, connection: Connection) -> None:
        if connection.scope == SCOPE_ORGANIZATION and not principal.is_admin:
            raise ApiError(403, "Only an organization admin may change the organization's connections")

    def _draft(self, request: Request) -> Tuple[str, str, Optional[str], str]:
        """Read a ``ConnectionDraft``: (engine, dsn, label, scope), or a 422 that never echoes the DSN."""
        check = Checker(read_json_object(request))
        engine = check.string("engine", required=False, default="") or ""
        label = check.string("label", required=False, max_len=MAX_LABEL)
        dsn = check.string("dsn", required=False, default="") or ""
        scope = check.choice("scope", SCOPES, default=SCOPE_ORGANIZATION) or SCOPE_ORGANIZATION
        raw_fields = check.data.get("fields")
        values: Dict[str, str] = {}
        if raw_fields is not None:
            if not isinstance(raw_fields, dict):
                check.fail("fields", "value is not a valid dict", "type_error.dict")
            else:
                for key, value in raw_fields.items():
                    if isinstance(value, str):
                        values[str(key)] = value
                    else:
                        check.fail(["fields", str(key)], "str type expected", "type_error.str")
        if not engine and "engine" not in [e["loc"][-1] for e in check.errors]:
            check.fail("engine", "field required", "value_error.missing")
        spec = ENGINES.get(engine)
        if engine and spec is None:
            check.fail(
                "engine",
                "unknown engine; known: " + ", ".join(sorted(ENGINES)),
                "value_error.unknown_engine",
            )
        if spec is not None and not check.errors:
            if not dsn and values:
                built, missing = dsn_from_fields(spec, values)
                for key in missing:
                    check.fail(["fields", key], "field required", "value_error.missing")
                dsn = built or ""
            elif not dsn:
                check.fail("dsn", "field required (or give the engine's fields)", "value_error.missing")
            if dsn:
                try:
                    check_dsn(dsn, spec)
                except DsnError as exc:
                    check.fail("dsn", str(exc), "value_error.dsn")
        check.raise_if_errors()
        return engine, dsn, label, scope

    # -- listing -----------------------------------------------------------------------

    def list_connections(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        mine = self.connections.visible(principal.user.id, principal.user.organization_id)
        return json_response({"connections": [c.summary() for c in mine]})

    def list_engines(self, request: Request, principal: Optional[Principal]) -> Response:
        return json_response({"engines": [e.to_json() for e in ENGINES.values()]})

    def list_connection_presets(self, request: Request, principal: Optional[Principal]) -> Response:
        return json_response({"presets": [p.to_json() for p in PRESETS]})

    def capabilities(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        mine = self.connections.visible(principal.user.id, principal.user.organization_id)
        return json_response(
            {
                "input_protocols": ["s3"],
                "database_engines": [e.engine for e in ENGINES.values() if e.available],
                "connections": [c.capability() for c in mine],
            }
        )

    # -- storing -----------------------------------------------------------------------

    def put_connection(self, request: Request, principal: Optional[Principal], name: str) -> Response:
        """201 new, 200 replaced (the DSN whole, with the engine and label)."""
        assert principal is not None
        problem = _name_error(name, ["path", "name"])
        if problem is not None:
            raise validation_error([problem])
        engine, dsn, label, scope = self._draft(request)
        self._may_store(principal, scope)
        if not ENGINES[engine].available:
            raise validation_error([error_item(["body", "engine"], engine_unavailable(engine), "value_error.engine")])
        with self.connections.lock:
            taken = self.connections.resolve(principal.user.id, principal.user.organization_id, name)
            if taken is not None and (taken.scope, taken.owner) != (scope, self._owner(principal, scope)):
                raise ApiError(409, f"The name {name!r} is already used by a {taken.scope} connection")
            owner = self._owner(principal, scope)
            connection, created = self.connections.store(scope, owner, name, engine, dsn, label)
        self._event(principal, "create" if created else "update", "connection", connection.id)
        return json_response(connection.summary(), 201 if created else 200)

    def patch_connection(self, request: Request, principal: Optional[Principal], name: str) -> Response:
        """Rename and/or relabel; never the DSN.

        ``null`` (or absent) leaves a field as it is: the platform SDK's
        ``ConnectionPatch`` sends ``"label": null`` with every rename.  An empty
        ``label`` clears it."""
        assert principal is not None
        check = Checker(read_json_object(request))
        new_name = check.string("name", required=False)
        label = check.string("label", required=False, max_len=MAX_LABEL)
        if new_name is not None:
            problem = _name_error(new_name, ["body", "name"])
            if problem is not None:
                check.errors.append(problem)
        check.raise_if_errors()
        connection = self._usable(principal, name)
        if connection.scope == SCOPE_DEPLOYMENT:
            raise ApiError(409, "A deployment connection cannot be renamed or relabelled here")
        self._may_change(principal, connection)
        with self.connections.lock:
            if new_name is not None and new_name != connection.name:
                if self.connections.resolve(principal.user.id, principal.user.organization_id, new_name):
                    taken = error_item(["body", "name"], "this name is already taken", "value_error.taken")
                    raise validation_error([taken])
                connection.name = new_name
            if label is not None:
                connection.label = label or None
        self._event(principal, "update", "connection", connection.id)
        return json_response(connection.summary())

    def delete_connection(self, request: Request, principal: Optional[Principal], name: str) -> Response:
        assert principal is not None
        connection = self._usable(principal, name)
        if connection.scope == SCOPE_DEPLOYMENT:
            if not principal.is_admin:
                raise ApiError(403, "Only an organization admin may take a deployment connection out of use")
            self.connections.hide(principal.user.organization_id, connection.name)
        else:
            self._may_change(principal, connection)
            self.connections.remove(connection)
        self._event(principal, "delete", "connection", connection.id)
        return empty_response(204)

    def add_connection_presets(self, request: Request, principal: Optional[Principal]) -> Response:
        """Add every preset of one kind; names the caller can already use are left alone."""
        assert principal is not None
        check = Checker(read_json_object(request))
        kind = check.choice("kind", PRESET_KINDS, required=True)
        scope = check.choice("scope", (SCOPE_ORGANIZATION, SCOPE_USER), default=SCOPE_USER) or SCOPE_USER
        check.raise_if_errors()
        self._may_store(principal, scope)
        offered = [p for p in PRESETS if p.kind == kind]
        if not offered:
            raise ApiError(404, f"This deployment offers no {kind} connections")
        added: List[Dict[str, Any]] = []
        for preset in offered:
            dsn = self.connections.preset_dsn(preset)
            with self.connections.lock:
                if self.connections.resolve(principal.user.id, principal.user.organization_id, preset.name):
                    continue
                owner = self._owner(principal, scope)
                connection, _ = self.connections.store(scope, owner, preset.name, preset.engine, dsn, preset.label)
            self._event(principal, "create", "connection", connection.id)
            added.append(connection.summary())
        return json_response({"connections": added})

    # -- opening -----------------------------------------------------------------------

    def test_draft_connection(self, request: Request, principal: Optional[Principal]) -> Response:
        assert principal is not None
        engine, dsn, _, scope = self._draft(request)
        self._may_store(principal, scope)
        result = probe(engine, dsn)
        self._event(principal, "test", "connection", None)
        return json_response(result)

    def test_connection(self, request: Request, principal: Optional[Principal], name: str) -> Response:
        assert principal is not None
        connection = self._usable(principal, name)
        result = probe(connection.engine, connection.dsn)
        self._event(principal, "test", "connection", connection.id)
        return json_response(result)

    def sample_connection(self, request: Request, principal: Optional[Principal], name: str) -> Response:
        """A few values of the asked columns per table (``ConnectionSampleRequest``)."""
        assert principal is not None
        check = Checker(read_json_object(request))
        raw = check.data.get("columns")
        columns: Dict[str, List[str]] = {}
        if raw is None:
            check.fail("columns", "field required", "value_error.missing")
        elif not isinstance(raw, dict):
            check.fail("columns", "value is not a valid dict", "type_error.dict")
        elif not 1 <= len(raw) <= MAX_SAMPLE_TABLES:
            check.fail("columns", f"ensure this value has 1 to {MAX_SAMPLE_TABLES} tables", "value_error.dict.size")
        else:
            for table, wanted in raw.items():
                if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
                    check.fail(["columns", str(table)], "value is not a valid list of strings", "type_error.list")
                elif len(wanted) > MAX_SAMPLE_COLUMNS:
                    check.fail(
                        ["columns", str(table)],
                        f"ensure this value has at most {MAX_SAMPLE_COLUMNS} items",
                        "value_error.list.max_items",
                    )
                else:
                    columns[str(table)] = list(dict.fromkeys(wanted))
        limit = check.integer("limit", required=False)
        if limit is None and "limit" not in [e["loc"][-1] for e in check.errors]:
            limit = DEFAULT_SAMPLE_LIMIT
        elif limit is not None and not 1 <= limit <= MAX_SAMPLE_LIMIT:
            check.fail("limit", f"ensure this value is between 1 and {MAX_SAMPLE_LIMIT}", "value_error.number.range")
        check.raise_if_errors()
        assert limit is not None
        connection = self._usable(principal, name)
        result = sample(connection.engine, connection.dsn, columns, limit)
        self._event(principal, "read", "connection", connection.id)
        return json_response(result)


__all__ = ["ConnectionEndpoints"]
