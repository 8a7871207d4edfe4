"""The route table of the local API server: one row per endpoint of the contract.

``rule`` is a werkzeug rule relative to the ``/api`` prefix; ``endpoint`` names
the method of :class:`avatars.testing.endpoints.Endpoints` that answers it.
``response_model`` names a schema of :mod:`avatars.testing.openapi` (``"[X]"``:
a list of X), used for the OpenAPI document and by the ``wrong_schema`` fault.
``versions`` lists the platform API major versions that have the route (the
server acts as 2.90 or as 3.x, ``Settings.api_version``): on the others it
answers 404 as that platform would.

Fixed paths (``/resources/volume``, ``/api-keys/admin``, ``/jobs/flow``,
``/connections/engines``) come
before the rows with a variable segment at the same place, so that
``{set_name}`` or ``{key_id}`` never swallow them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

API_PREFIX = "/api"


@dataclass(frozen=True)
class Route:
    rule: str
    methods: Tuple[str, ...]
    endpoint: str
    summary: str
    tag: str
    auth: bool = True
    admin: bool = False
    response_model: Optional[str] = None
    request_model: Optional[str] = None
    status: int = 200
    query: Tuple[str, ...] = ()
    form: Tuple[str, ...] = ()
    versions: Tuple[int, ...] = (2, 3)


V2_ONLY = (2,)
V3_ONLY = (3,)


ROUTES: List[Route] = [
    # health and compatibility
    Route("/", ("GET",), "root", "Root message", "health", auth=False, response_model="Message"),
    Route("/health", ("GET",), "health", "Health check", "health", auth=False, response_model="Message"),
    Route("/health/db", ("GET",), "health_db", "Database health check", "health", auth=False, response_model="Message"),
    Route(
        "/check_client",
        ("GET",),
        "check_client",
        "Client compatibility (User-Agent)",
        "health",
        auth=False,
        response_model="CompatibilityResponse",
    ),
    Route("/openapi.json", ("GET",), "openapi", "This OpenAPI document", "health", auth=False, response_model="any"),
    # auth
    Route(
        "/login",
        ("POST",),
        "login",
        "Log in with username and password",
        "auth",
        auth=False,
        response_model="LoginResponse",
        request_model="form",
        form=("username", "password", "scope", "grant_type", "client_id", "client_secret"),
        versions=V2_ONLY,
    ),
    Route(
        "/refresh",
        ("POST",),
        "refresh",
        "Exchange a refresh token",
        "auth",
        auth=False,
        response_model="LoginResponse",
        request_model="form",
        form=("token",),
        query=("token",),
        versions=V2_ONLY,
    ),
    Route(
        "/logout",
        ("POST",),
        "logout",
        "Log out (revokes this session)",
        "auth",
        response_model="Message",
        versions=V2_ONLY,
    ),
    Route(
        "/login/forgotten_password",
        ("POST",),
        "forgotten_password",
        "Ask for a password reset",
        "auth",
        auth=False,
        response_model="Message",
        request_model="ForgottenPasswordRequest",
        versions=V2_ONLY,
    ),
    Route(
        "/login/reset_password",
        ("POST",),
        "reset_password",
        "Reset a password",
        "auth",
        auth=False,
        response_model="Message",
        request_model="ResetPasswordRequest",
        versions=V2_ONLY,
    ),
    Route("/login/sso", ("GET",), "sso_not_configured", "Single sign-on, step 1", "auth", auth=False, versions=V2_ONLY),
    Route(
        "/login/sso/auth",
        ("GET",),
        "sso_not_configured",
        "Single sign-on, step 2",
        "auth",
        auth=False,
        versions=V2_ONLY,
    ),
    Route(
        "/capabilities",
        ("GET",),
        "capabilities",
        "What this deployment can do",
        "capabilities",
        response_model="CapabilitiesResponse",
        versions=V3_ONLY,
    ),
    # connections (3.x): fixed paths before /connections/<name>
    Route(
        "/connections",
        ("GET",),
        "list_connections",
        "The connections the caller can use (deployment, organization, own)",
        "connections",
        response_model="ConnectionList",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/engines",
        ("GET",),
        "list_engines",
        "The database engines and the form of each",
        "connections",
        response_model="EngineList",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/presets",
        ("GET",),
        "list_connection_presets",
        "The demo and sample connections this deployment offers",
        "connections",
        response_model="ConnectionPresetList",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/presets",
        ("POST",),
        "add_connection_presets",
        "Add the offered connections of one kind",
        "connections",
        response_model="ConnectionList",
        request_model="ConnectionPresetRequest",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/test",
        ("POST",),
        "test_draft_connection",
        "Open a connection that is not stored yet",
        "connections",
        response_model="ConnectionProbe",
        request_model="ConnectionDraft",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/<name>",
        ("PUT",),
        "put_connection",
        "Store or replace a named connection (201 new, 200 replaced)",
        "connections",
        response_model="ConnectionSummary",
        request_model="ConnectionDraft",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/<name>",
        ("PATCH",),
        "patch_connection",
        "Rename or relabel a connection",
        "connections",
        response_model="ConnectionSummary",
        request_model="ConnectionPatch",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/<name>",
        ("DELETE",),
        "delete_connection",
        "Forget a connection",
        "connections",
        status=204,
        versions=V3_ONLY,
    ),
    Route(
        "/connections/<name>/test",
        ("POST",),
        "test_connection",
        "Open a named connection and report what is there",
        "connections",
        response_model="ConnectionProbe",
        versions=V3_ONLY,
    ),
    Route(
        "/connections/<name>/sample",
        ("POST",),
        "sample_connection",
        "A few values of the asked key columns",
        "connections",
        response_model="ConnectionSample",
        request_model="ConnectionSampleRequest",
        versions=V3_ONLY,
    ),
    Route(
        "/event-logs",
        ("GET",),
        "list_event_logs",
        "My audit trail, most recent first",
        "event-logs",
        response_model="[EventLogResponse]",
        query=("verb", "object_type", "created_from", "created_before", "starting_after", "limit"),
    ),
    Route(
        "/operations/<op_id>",
        ("GET",),
        "get_operation",
        "An accepted operation: 202 while pending, then the result of the original call",
        "operations",
        auth=False,
        response_model="any",
    ),
    # users
    Route(
        "/users", ("GET",), "list_users", "Find users", "users", response_model="[User]", query=("email", "username")
    ),
    Route(
        "/users",
        ("POST",),
        "create_user",
        "Create a user (admin)",
        "users",
        admin=True,
        response_model="User",
        request_model="CreateUser",
        versions=V2_ONLY,
    ),
    Route("/users/me", ("GET",), "me", "The current user", "users", response_model="MeUser"),
    Route(
        "/users/credits_info",
        ("GET",),
        "credits_info",
        "Credits of the current user",
        "users",
        response_model="CreditsInfo",
    ),
    Route(
        "/users/features_info",
        ("GET",),
        "features_info",
        "Features of the current user",
        "users",
        response_model="FeaturesInfo",
    ),
    Route("/users/<user_id>", ("GET",), "get_user", "A user", "users", response_model="User"),
    Route(
        "/users/<user_id>",
        ("DELETE",),
        "delete_user",
        "Delete a user (admin)",
        "users",
        admin=True,
        response_model="User",
        versions=V2_ONLY,
    ),
    # api keys
    Route("/api-keys", ("GET",), "list_api_keys", "My API keys", "api-keys", response_model="[ApiKey]"),
    Route(
        "/api-keys",
        ("POST",),
        "create_api_key",
        "Create an API key",
        "api-keys",
        response_model="CreateApiKeyResponse",
        request_model="CreateApiKey",
    ),
    Route("/api-keys", ("DELETE",), "revoke_all_api_keys", "Revoke all my API keys", "api-keys", status=204),
    Route(
        "/api-keys/admin",
        ("DELETE",),
        "revoke_api_key_admin",
        "Revoke the API keys of a user, or one key (admin)",
        "api-keys",
        admin=True,
        status=204,
        query=("user_id", "api_key_id"),
    ),
    Route("/api-keys/<key_id>", ("GET",), "get_api_key", "One of my API keys", "api-keys", response_model="ApiKey"),
    Route("/api-keys/<key_id>", ("DELETE",), "revoke_api_key", "Revoke one of my API keys", "api-keys", status=204),
    # resource sets
    Route(
        "/resources/volume",
        ("GET",),
        "get_user_volume",
        "An AvatarVolume document for a set's input or results",
        "resources",
        response_model="str",
        query=("volume_name", "purpose", "set_name", "display_name"),
    ),
    Route(
        "/resources/<set_name>",
        ("POST",),
        "post_resources",
        "Add documents to an existing resource set",
        "resources",
        response_model="ResourceSetResponse",
        request_model="yaml",
    ),
    Route(
        "/resources/<display_name>",
        ("PUT",),
        "put_resources",
        "Create a new version of the resource set with this display name",
        "resources",
        response_model="ResourceSetResponse",
        request_model="yaml",
    ),
    Route(
        "/resources/<set_name>",
        ("GET",),
        "get_resources",
        "A resource set document",
        "resources",
        response_model="yaml",
    ),
    # jobs
    Route(
        "/jobs",
        ("GET",),
        "list_jobs",
        "My jobs; every filter applies",
        "jobs",
        response_model="JobResponseList",
        query=("kind", "display_name", "set_name", "limit", "include_deleted", "names"),
    ),
    Route(
        "/jobs",
        ("POST",),
        "create_job",
        "Create a job",
        "jobs",
        response_model="JobCreateResponse",
        request_model="CreateJob",
    ),
    Route(
        "/jobs/flow",
        ("POST",),
        "create_job_flow",
        "Create a job for every parameters document of a set",
        "jobs",
        response_model="JobFlowCreateResponse",
        request_model="JobFlowCreateRequest",
        versions=V3_ONLY,
    ),
    Route(
        "/jobs/last_set",
        ("GET",),
        "last_set_jobs",
        "The jobs of the most recently used resource set",
        "jobs",
        response_model="JobResponseList",
    ),
    Route(
        "/jobs/bulk-delete",
        ("POST",),
        "bulk_delete_jobs",
        "Delete several jobs",
        "jobs",
        response_model="BulkDeleteResponse",
        request_model="BulkDeleteRequest",
    ),
    Route("/jobs/<job_name>", ("GET",), "get_job", "A job", "jobs", response_model="JobResponse"),
    Route("/jobs/<job_name>", ("DELETE",), "delete_job", "Delete (soft) a job", "jobs", response_model="JobResponse"),
    Route(
        "/jobs/<job_name>/cancel",
        ("POST",),
        "cancel_job",
        "Cancel a job",
        "jobs",
        response_model="JobResponse",
        versions=V3_ONLY,
    ),
    # results and files
    Route(
        "/results/<job_name>",
        ("GET",),
        "get_results",
        "Result URLs of a finished job",
        "results",
        response_model="ResultUrls",
    ),
    Route(
        "/access",
        ("GET",),
        "get_access",
        "Credentials for one result URL",
        "results",
        response_model="FileAccess",
        query=("url",),
    ),
    Route(
        "/access/batch",
        ("POST",),
        "get_access_batch",
        "Credentials for several URLs",
        "results",
        response_model="[FileAccess]",
        request_model="AccessBatchRequest",
    ),
    Route(
        "/upload_url", ("GET",), "upload_url", "My upload prefix on the storage origin", "results", response_model="str"
    ),
]
