"""The OpenAPI 3 document of the local server, generated from its route table.

The component schemas below are written by hand from the API contract; the
``paths`` object is built from :data:`avatars.testing.routes.ROUTES`, so every
served endpoint is listed. Paths are relative to the base URL (``.../api``),
which is the document's only ``servers`` entry.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .._version import __version__
from .jobs import JOB_KINDS

#: The platform API release each mode of the local server follows.
PLATFORM_API_VERSIONS = {2: "2.90.0", 3: "3.17.2"}
_S = {"type": "string"}
_UUID = {"type": "string", "format": "uuid"}
_DT = {"type": "string", "format": "date-time"}
_PATH_PARAM_RE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def _nullable(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {**schema, "nullable": True}


def _obj(properties: Dict[str, Any], required: List[str]) -> Dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _ref(name: str) -> Dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_USER_PROPS = {
    "id": _UUID,
    "organization_id": _UUID,
    "email": _S,
    "role": {"type": "string", "enum": ["admin", "user"]},
}
_JOB_STATUS = ["queued", "created", "pending", "finished", "error", "parent_error", "lost", "orphaned", "cancelled", ""]
_JOB_KINDS = list(JOB_KINDS)
_SCOPES = ("deployment", "organization", "user")
_API_KEY_PROPS = {
    "id": _UUID,
    "name": _S,
    "created_at": _DT,
    "expires_at": _DT,
    "revoked_at": _nullable(_DT),
    "last_used_at": _nullable(_DT),
}

SCHEMAS: Dict[str, Dict[str, Any]] = {
    "Message": _obj({"message": _S}, ["message"]),
    "HTTPError": _obj({"detail": {}}, ["detail"]),
    "ValidationError": _obj(
        {"loc": {"type": "array", "items": {}}, "msg": _S, "type": _S},
        ["loc", "msg", "type"],
    ),
    "HTTPValidationError": _obj({"detail": {"type": "array", "items": _ref("ValidationError")}}, ["detail"]),
    "CompatibilityResponse": _obj(
        {
            "message": _S,
            "most_recent_compatible_client": _nullable(_S),
            "status": {"type": "string", "enum": ["compatible", "incompatible", "unknown"]},
        },
        ["message", "most_recent_compatible_client", "status"],
    ),
    "LoginResponse": _obj(
        {"access_token": _S, "refresh_token": _nullable(_S), "token_type": _S},
        ["access_token", "token_type"],
    ),
    "ForgottenPasswordRequest": _obj({"email": _S}, ["email"]),
    "ResetPasswordRequest": _obj(
        {"email": _S, "new_password": _S, "new_password_repeated": _S, "token": _UUID},
        ["email", "new_password", "new_password_repeated", "token"],
    ),
    "User": _obj(dict(_USER_PROPS), ["id", "organization_id", "email", "role"]),
    "Environment": _obj(
        {
            "dataset_expiration_days": {"type": "integer"},
            "max_allowed_dimensions_per_dataset": {"type": "integer"},
            "max_allowed_lines_per_dataset": {"type": "integer"},
        },
        ["dataset_expiration_days", "max_allowed_dimensions_per_dataset", "max_allowed_lines_per_dataset"],
    ),
    "MeUser": _obj(
        {**_USER_PROPS, "environment": _ref("Environment")},
        ["id", "organization_id", "email", "role", "environment"],
    ),
    "CreateUser": _obj(
        {"email": _S, "role": {"type": "string", "enum": ["admin", "user"]}, "password": _nullable(_S)},
        ["email"],
    ),
    "CreditsInfo": _obj(
        {"credits": _nullable({"type": "integer"}), "is_credit_enabled": {"type": "boolean"}},
        ["credits", "is_credit_enabled"],
    ),
    "FeaturesInfo": _obj({"feature_scopes": {"type": "array", "items": _S}}, ["feature_scopes"]),
    "ApiKey": _obj(dict(_API_KEY_PROPS), ["id", "name", "created_at", "expires_at"]),
    "ApiKeyWithPlaintext": _obj(
        {**_API_KEY_PROPS, "plaintext": _S},
        ["id", "name", "created_at", "expires_at", "plaintext"],
    ),
    "CreateApiKey": _obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "expiration_days": {"type": "integer", "enum": [30, 60, 120, 365, 3650]},
        },
        ["name", "expiration_days"],
    ),
    "CreateApiKeyResponse": _obj({"api_key": _ref("ApiKeyWithPlaintext"), "message": _S}, ["api_key", "message"]),
    "ResourceSetResponse": _obj({"set_name": _UUID, "display_name": _S}, ["set_name", "display_name"]),
    "JobResponse": _obj(
        {
            "name": _S,
            "set_name": _UUID,
            "parameters_name": _S,
            "display_name": _S,
            "created_at": _DT,
            "kind": {"type": "string", "enum": _JOB_KINDS},
            "status": {"type": "string", "enum": _JOB_STATUS},
            "exception": _S,
            "done": {"type": "boolean"},
            "progress": _nullable({"type": "number"}),
            "phase": _nullable(_S),
            "phase_done": _nullable({"type": "integer"}),
            "phase_total": _nullable({"type": "integer"}),
            "deleted_at": _nullable(_DT),
        },
        ["name", "set_name", "parameters_name", "display_name", "created_at", "kind", "status", "exception", "done"],
    ),
    "JobResponseList": _obj({"jobs": {"type": "array", "items": _ref("JobResponse")}}, ["jobs"]),
    "CreateJob": _obj(
        {
            "set_name": _UUID,
            "parameters_name": _S,
            "depends_on": {"type": "array", "items": _S},
        },
        ["set_name", "parameters_name"],
    ),
    "JobFlowCreateRequest": _obj({"set_name": _UUID}, ["set_name"]),
    "JobFlowCreateResponse": _obj({"jobs": {"type": "array", "items": _ref("JobCreateResponse")}}, ["jobs"]),
    "EventLogResponse": _obj(
        {"id": _UUID, "verb": _S, "object_id": _nullable(_UUID), "object_type": _S, "created_at": _DT},
        ["id", "verb", "object_type", "created_at"],
    ),
    "CapabilitiesResponse": _obj(
        {
            "input_protocols": {"type": "array", "items": _S},
            "database_engines": {"type": "array", "items": _S},
            "connections": {"type": "array", "items": _ref("DatabaseConnectionSummary")},
        },
        ["input_protocols", "database_engines", "connections"],
    ),
    # 3.x /connections (the DSN is write-only: no response schema has it)
    "ConnectionDraft": _obj(
        {
            "engine": _S,
            "label": _nullable(_S),
            "dsn": {**_S, "writeOnly": True},
            "fields": _nullable({"type": "object", "additionalProperties": _S}),
            "scope": {"type": "string", "enum": list(_SCOPES)},
        },
        [],
    ),
    "ConnectionPatch": _obj({"name": _nullable(_S), "label": _nullable(_S)}, []),
    "ConnectionPresetRequest": _obj(
        {"kind": {"type": "string", "enum": ["demo", "sample"]}, "scope": {"type": "string", "enum": list(_SCOPES)}},
        ["kind"],
    ),
    "ConnectionProbe": _obj(
        {
            "reachable": {"type": "boolean"},
            "engine": _nullable(_S),
            "has_schema": _nullable({"type": "boolean"}),
            "is_empty": _nullable({"type": "boolean"}),
            "table_count": _nullable({"type": "integer"}),
            "error": _nullable(_S),
        },
        ["reachable"],
    ),
    "ConnectionSampleRequest": _obj(
        {
            "columns": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": _S},
                "minProperties": 1,
                "maxProperties": 10,
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        },
        ["columns"],
    ),
    "ConnectionSample": _obj(
        {
            "samples": _nullable(
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": _nullable(_S)},
                    },
                }
            ),
            "missing": _nullable({"type": "array", "items": _S}),
            "error": _nullable(_S),
        },
        [],
    ),
    "DatabaseConnectionSummary": _obj(
        {"name": _S, "label": _nullable(_S), "engine": _S, "scope": {"type": "string", "enum": list(_SCOPES)}},
        ["name", "engine"],
    ),
    "ConnectionSummary": _obj(
        {
            "name": _S,
            "label": _nullable(_S),
            "engine": _S,
            "scope": {"type": "string", "enum": list(_SCOPES)},
            "redacted": _nullable(_S),
        },
        ["name", "engine"],
    ),
    "ConnectionList": _obj({"connections": {"type": "array", "items": _ref("ConnectionSummary")}}, ["connections"]),
    "ConnectionPresetSummary": _obj(
        {"name": _S, "label": _nullable(_S), "engine": _S, "kind": {"type": "string", "enum": ["demo", "sample"]}},
        ["name", "engine", "kind"],
    ),
    "ConnectionPresetList": _obj({"presets": {"type": "array", "items": _ref("ConnectionPresetSummary")}}, ["presets"]),
    "FieldOption": _obj({"value": _S, "label": _S}, ["value", "label"]),
    "ConnectionField": _obj(
        {
            "key": _S,
            "label": _S,
            "type": {"type": "string", "enum": ["text", "number", "select"]},
            "required": {"type": "boolean"},
            "secret": {"type": "boolean"},
            "default": _nullable(_S),
            "placeholder": _nullable(_S),
            "options": _nullable({"type": "array", "items": _ref("FieldOption")}),
            "advanced": {"type": "boolean"},
        },
        ["key", "label"],
    ),
    "EngineDescriptor": _obj(
        {
            "engine": _S,
            "label": _S,
            "kind": {"type": "string", "enum": ["sql", "documents"]},
            "available": {"type": "boolean"},
            "preview": {"type": "boolean"},
            "fields": {"type": "array", "items": _ref("ConnectionField")},
        },
        ["engine", "label", "kind", "available", "fields"],
    ),
    "EngineList": _obj({"engines": {"type": "array", "items": _ref("EngineDescriptor")}}, ["engines"]),
    "JobCreateResponse": _obj({"name": _S, "Location": _S}, ["name", "Location"]),
    "BulkDeleteRequest": _obj({"job_names": {"type": "array", "items": _S, "maxItems": 100}}, ["job_names"]),
    "BulkDeleteResponse": _obj(
        {
            "deleted_jobs": {"type": "array", "items": _ref("JobResponse")},
            "failed_jobs": {"type": "array", "items": _S},
        },
        ["deleted_jobs", "failed_jobs"],
    ),
    "ResultUrls": {"type": "object", "additionalProperties": {"type": "array", "items": _S}},
    "Credentials": _obj({"access_key_id": _S, "secret_access_key": _S}, ["access_key_id", "secret_access_key"]),
    "FileAccess": _obj({"url": _S, "credentials": _ref("Credentials")}, ["url", "credentials"]),
    "AccessBatchRequest": _obj({"urls": {"type": "array", "items": _S}}, ["urls"]),
}


def required_fields(model: Optional[str]) -> List[str]:
    """Required fields of a response model (``"[Model]"`` means a list of it)."""
    if not model:
        return []
    schema = SCHEMAS.get(model.strip("[]"), {})
    return list(schema.get("required", []))


def _schema_for(model: str) -> Dict[str, Any]:
    if model.startswith("[") and model.endswith("]"):
        return {"type": "array", "items": _schema_for(model[1:-1])}
    if model == "str":
        return dict(_S)
    if model == "bytes":
        return {"type": "string", "format": "binary"}
    if model == "yaml":
        return {"type": "string"}
    if model == "any":
        return {}
    return _ref(model)


def _content(model: str) -> Dict[str, Any]:
    """The ``content`` object of a request or response body of ``model``."""
    if model == "bytes":
        return {"application/octet-stream": {"schema": _schema_for("bytes")}}
    if model == "yaml":
        return {"application/yaml": {"schema": {"type": "string"}}}
    return {"application/json": {"schema": _schema_for(model)}}


def build_document(routes: List[Any], base_url: str, api_version: int = 2) -> Dict[str, Any]:
    """The OpenAPI document for the ``routes`` (:class:`~avatars.testing.routes.Route`)
    that the platform API ``api_version`` has."""
    paths: Dict[str, Dict[str, Any]] = {}
    for route in routes:
        if api_version not in route.versions:
            continue
        path = _PATH_PARAM_RE.sub(r"{\1}", route.rule)
        item = paths.setdefault(path, {})
        params = [
            {"name": name, "in": "path", "required": True, "schema": dict(_S)}
            for name in _PATH_PARAM_RE.findall(route.rule)
        ]
        params += [{"name": name, "in": "query", "required": False, "schema": dict(_S)} for name in route.query]
        for method in route.methods:
            op: Dict[str, Any] = {
                "operationId": f"{route.endpoint}_{method.lower()}",
                "summary": route.summary,
                "tags": [route.tag],
                "responses": {},
            }
            if params:
                op["parameters"] = params
            if route.request_model == "form":
                form = {"type": "object", "properties": {k: dict(_S) for k in route.form}}
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": form}},
                }
            elif route.request_model:
                op["requestBody"] = {"required": True, "content": _content(route.request_model)}
            success: Dict[str, Any] = {"description": "Successful Response"}
            if route.response_model:
                success["content"] = _content(route.response_model)
            op["responses"][str(route.status)] = success
            if route.auth:
                op["security"] = [{"ApiKey": []}, {"Bearer": []}]
                op["responses"]["401"] = {
                    "description": "Not authenticated",
                    "content": {"application/json": {"schema": _ref("HTTPError")}},
                }
            if route.admin:
                op["responses"]["403"] = {
                    "description": "Admin only",
                    "content": {"application/json": {"schema": _ref("HTTPError")}},
                }
            op["responses"]["422"] = {
                "description": "Validation Error",
                "content": {"application/json": {"schema": _ref("HTTPValidationError")}},
            }
            item[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Avatar API (avatars.testing local server)",
            "version": __version__,
            "x-platform-api-version": PLATFORM_API_VERSIONS.get(api_version, str(api_version)),
            "description": "The local test server of the avatars client. Its jobs use a "
            "local stand-in, not the Avatar platform's avatarization method.",
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "api-key-v1 <key>",
                },
                "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
