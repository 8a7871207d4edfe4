"""``client.connections``: named database connections (platform API 3.x).

Method names are the platform SDK's (``list_connections``, ``put_connection``,
...).  A connection string (DSN) goes to the server and never comes back: no
model here has one (a summary carries its ``redacted`` form), and it is kept
out of this library's errors: a server that echoes it (or a secret form field)
in an error message gets its error re-raised with ``***`` in its place, and
the error keeps no response.  Every call on a 2.90 platform raises
:class:`~avatars.errors.EndpointUnavailableError`.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Type, TypeVar
from urllib.parse import unquote, urlsplit

import requests

from ..config import Timeout
from ..errors import ApiError, RequestValidationError
from ..models import (
    ConnectionPresetSummary,
    ConnectionProbe,
    ConnectionSample,
    ConnectionSummary,
    EngineDescriptor,
)
from ._helpers import (
    API_3_ONLY,
    JsonResource,
    name_segment,
    platform_endpoint,
    request_id_of,
    require_text,
    schemas_module,
)

__all__ = ["Connections", "SCOPES"]

M = TypeVar("M")

#: Who a stored connection is for: ``organization`` (the platform's default,
#: its admins only) or ``user`` (the caller's own).  ``deployment`` ones are
#: the deployment's configuration, never stored through the API.
SCOPES = ("organization", "user")
PRESET_KINDS = ("demo", "sample")
DEFAULT_SAMPLE_LIMIT = 5
#: Paths under ``/connections`` that are endpoints, not names.
_RESERVED = ("engines", "presets", "test")
#: Form fields whose values are secrets whatever the engine says.
_SECRET_KEYS = ("password", "secret", "token", "key")
_MASK = "***"


def _secrets_of(dsn: Optional[str], form: Optional[Mapping[str, str]]) -> List[str]:
    """What must never be shown back: the DSN, its password, secret form values."""
    found: List[str] = []
    if dsn:
        found.append(dsn)
        try:
            password = urlsplit(dsn).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    for key, value in (form or {}).items():
        if value and any(word in key.lower() for word in _SECRET_KEYS):
            found.append(value)
    return sorted({s for s in found if s}, key=len, reverse=True)


def _mask(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, _MASK)
        return value
    if isinstance(value, list):
        return [_mask(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_mask(k, secrets): _mask(v, secrets) for k, v in value.items()}
    return value


def _masked(exc: ApiError, secrets: Sequence[str]) -> Optional[ApiError]:
    """A copy of ``exc`` with ``***`` for each of ``secrets`` in its message and
    body, keeping no response (its body holds the echo); ``None`` when ``exc``
    shows none of them."""
    seen = exc.detail + json.dumps(exc.body, default=str)
    if not any(secret in seen for secret in secrets):
        return None
    clean = type(exc).__new__(type(exc))
    clean.__dict__.update(exc.__dict__)
    clean.detail = _mask(exc.detail, secrets)
    clean.body = _mask(exc.body, secrets)
    clean.response = None
    clean.message = clean._format()
    clean.args = (clean.message,)
    return clean


def _choice(value: object, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise RequestValidationError(f"{name} must be one of {', '.join(allowed)}", field=name)
    return str(value)


def _draft(
    engine: str,
    dsn: Optional[str],
    form: Optional[Mapping[str, str]],
    label: Optional[str],
    scope: str,
) -> Dict[str, Any]:
    """The ``ConnectionDraft`` body (every field, as the platform SDK sends it),
    checked without ever quoting the DSN."""
    require_text(engine, "engine")
    _choice(scope, "scope", SCOPES)
    if (dsn is None) == (form is None):
        raise RequestValidationError("give exactly one of dsn and fields", field="dsn")
    if dsn is not None:
        require_text(dsn, "dsn")
    if form is not None:
        if not isinstance(form, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in form.items()):
            raise RequestValidationError("fields must map field keys to strings", field="fields")
        form = dict(form)
    if label is not None:
        require_text(label, "label")
    return {"engine": engine, "label": label, "dsn": dsn or "", "fields": form, "scope": scope}


class Connections(JsonResource):
    """The ``/connections`` endpoints (platform API 3.x)."""

    def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        body: Any = None,
        secrets: Sequence[str] = (),
        timeout: Optional[Timeout] = None,
    ) -> requests.Response:
        try:
            with platform_endpoint(endpoint, API_3_ONLY):
                return self._client.request(method, path, json=body, timeout=timeout, secret_body=bool(secrets) or None)
        except ApiError as exc:
            clean = _masked(exc, secrets) if secrets else None
            if clean is None:
                raise
        # Raised outside the except block: the masked error keeps no __context__
        # (the original, which shows the secret).
        raise clean

    @staticmethod
    def _path(name: str, suffix: str = "") -> str:
        return f"connections/{name_segment(name, 'name', reserved=_RESERVED)}{suffix}"

    # -- reading ---------------------------------------------------------------------

    def list_connections(self, *, timeout: Optional[Timeout] = None) -> List[ConnectionSummary]:
        """``GET /connections``: the deployment's, the organization's and the caller's own."""
        endpoint = "GET /connections"
        response = self._call("GET", "connections", endpoint, timeout=timeout)
        data = self._expect(dict, response, endpoint)
        return self._items(ConnectionSummary, data, "connections", response, endpoint)

    def list_engines(self, *, timeout: Optional[Timeout] = None) -> List[EngineDescriptor]:
        """``GET /connections/engines``: each engine, whether it is available, its form."""
        endpoint = "GET /connections/engines"
        response = self._call("GET", "connections/engines", endpoint, timeout=timeout)
        data = self._expect(dict, response, endpoint)
        return self._items(EngineDescriptor, data, "engines", response, endpoint)

    def list_connection_presets(self, *, timeout: Optional[Timeout] = None) -> List[ConnectionPresetSummary]:
        """``GET /connections/presets``: the demo and sample connections offered (not yet added)."""
        endpoint = "GET /connections/presets"
        response = self._call("GET", "connections/presets", endpoint, timeout=timeout)
        data = self._expect(dict, response, endpoint)
        return self._items(ConnectionPresetSummary, data, "presets", response, endpoint)

    @staticmethod
    def _items(model: Type[M], data: Dict[str, Any], key: str, response: requests.Response, endpoint: str) -> List[M]:
        """The list under ``key`` of an answer object (``{"connections": [...]}``)."""
        items: List[M] = schemas_module().load_many(
            model, data.get(key), endpoint=f"{endpoint} ({key})", request_id=request_id_of(response)
        )
        return items

    # -- storing -----------------------------------------------------------------------

    def put_connection(
        self,
        name: str,
        *,
        engine: str,
        dsn: Optional[str] = None,
        fields: Optional[Mapping[str, str]] = None,
        label: Optional[str] = None,
        scope: str = "organization",
        timeout: Optional[Timeout] = None,
    ) -> ConnectionSummary:
        """``PUT /connections/{name}``: store (or replace whole) a connection.

        Give the connection string as ``dsn`` or the engine's form as ``fields``
        (see :meth:`list_engines`).  ``scope="organization"`` (the platform's
        default) needs an organization admin; ``"user"`` is the caller's own.
        """
        path = self._path(name)
        body = _draft(engine, dsn, fields, label, scope)
        endpoint = "PUT /connections/{name}"
        response = self._call("PUT", path, endpoint, body=body, secrets=_secrets_of(dsn, fields), timeout=timeout)
        return self._load(ConnectionSummary, response, endpoint)

    def patch_connection(
        self,
        name: str,
        *,
        new_name: Optional[str] = None,
        label: Optional[str] = None,
        timeout: Optional[Timeout] = None,
    ) -> ConnectionSummary:
        """``PATCH /connections/{name}``: rename and/or relabel.

        ``None`` leaves a field as it is; ``label=""`` clears the label.
        """
        if new_name is None and label is None:
            raise RequestValidationError("give new_name or label (or both)", field="new_name")
        if new_name is not None:
            name_segment(new_name, "new_name", reserved=_RESERVED)
        if label is not None and not isinstance(label, str):
            raise RequestValidationError(f"label must be a string, got {type(label).__name__}", field="label")
        endpoint = "PATCH /connections/{name}"
        body = {"name": new_name, "label": label}
        response = self._call("PATCH", self._path(name), endpoint, body=body, timeout=timeout)
        return self._load(ConnectionSummary, response, endpoint)

    def delete_connection(self, name: str, *, timeout: Optional[Timeout] = None) -> None:
        """``DELETE /connections/{name}`` (a deployment's: out of use for the admin's organization)."""
        self._call("DELETE", self._path(name), "DELETE /connections/{name}", timeout=timeout)

    def add_connection_presets(
        self, kind: str = "demo", *, scope: str = "user", timeout: Optional[Timeout] = None
    ) -> List[ConnectionSummary]:
        """``POST /connections/presets``: add every offered connection of ``kind``; returns those added."""
        body = {"kind": _choice(kind, "kind", PRESET_KINDS), "scope": _choice(scope, "scope", SCOPES)}
        endpoint = "POST /connections/presets"
        response = self._call("POST", "connections/presets", endpoint, body=body, timeout=timeout)
        data = self._expect(dict, response, endpoint)
        return self._items(ConnectionSummary, data, "connections", response, endpoint)

    # -- opening -----------------------------------------------------------------------

    def test_draft_connection(
        self,
        *,
        engine: str,
        dsn: Optional[str] = None,
        fields: Optional[Mapping[str, str]] = None,
        scope: str = "organization",
        timeout: Optional[Timeout] = None,
    ) -> ConnectionProbe:
        """``POST /connections/test``: open a connection that is not stored (same rules as storing it)."""
        body = _draft(engine, dsn, fields, None, scope)
        endpoint = "POST /connections/test"
        response = self._call(
            "POST", "connections/test", endpoint, body=body, secrets=_secrets_of(dsn, fields), timeout=timeout
        )
        return self._load(ConnectionProbe, response, endpoint)

    def test_connection(self, name: str, *, timeout: Optional[Timeout] = None) -> ConnectionProbe:
        """``POST /connections/{name}/test``: open it and report what is there."""
        endpoint = "POST /connections/{name}/test"
        response = self._call("POST", self._path(name, "/test"), endpoint, timeout=timeout)
        return self._load(ConnectionProbe, response, endpoint)

    def sample_connection(
        self,
        name: str,
        columns: Mapping[str, Sequence[str]],
        *,
        limit: Optional[int] = None,
        timeout: Optional[Timeout] = None,
    ) -> ConnectionSample:
        """``POST /connections/{name}/sample``: up to ``limit`` (1-20, default 5)
        values of each column of ``columns`` (``{table: [column, ...]}``, 1-10 tables)."""
        if not isinstance(columns, Mapping) or not 1 <= len(columns) <= 10:
            raise RequestValidationError("columns must map 1 to 10 tables to column lists", field="columns")
        wanted: Dict[str, List[str]] = {}
        for table, names in columns.items():
            if isinstance(names, (str, bytes, Mapping)) or not isinstance(names, Sequence):
                raise RequestValidationError(f"columns[{table!r}] must be a list of column names", field="columns")
            if not all(isinstance(c, str) for c in names):
                raise RequestValidationError(f"columns[{table!r}] must be a list of column names", field="columns")
            wanted[require_text(table, "table")] = list(names)
        if limit is None:
            limit = DEFAULT_SAMPLE_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 20:
            raise RequestValidationError("limit must be an integer from 1 to 20", field="limit")
        body = {"columns": wanted, "limit": limit}
        endpoint = "POST /connections/{name}/sample"
        response = self._call("POST", self._path(name, "/sample"), endpoint, body=body, timeout=timeout)
        return self._load(ConnectionSample, response, endpoint)
