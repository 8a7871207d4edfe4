"""Health, compatibility, OpenAPI and users against the local server, and how
each error envelope of the contract comes back as a typed error."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import requests

from avatars import (
    ApiClient,
    ApiError,
    AuthenticationError,
    BadRequestError,
    CompatibilityStatus,
    ConflictError,
    CreateUser,
    NotFound,
    PermissionDenied,
    RequestValidationError,
    SchemaError,
    ServerError,
    UserRole,
    ValidationError,
    __version__,
)
from avatars.testing import LocalAvatarServer

from .conftest import TIMEOUT

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(avatar_server: LocalAvatarServer) -> Iterator[ApiClient]:
    boss = avatar_server.admin.create_user("boss@example.com", "boss-password", role="admin")
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        c.authenticate(boss.email, "boss-password")
        yield c


# --------------------------------------------------------------------------- no-auth endpoints


def test_health_needs_no_credentials(anon: ApiClient, avatar_server: LocalAvatarServer) -> None:
    assert "Avatar API" in anon.health.get_root().message
    assert anon.health.get_health().message == "ok"
    assert anon.health.get_health_db().message == "ok"
    assert [r.path for r in avatar_server.log] == ["/api/", "/api/health", "/api/health/db"]
    assert not any(r.had_authorization for r in avatar_server.log)


def test_compatibility(anon: ApiClient, avatar_server: LocalAvatarServer) -> None:
    # Our client names itself honestly: the platform knows only its own SDK's versions.
    answer = anon.compatibility.is_client_compatible()
    assert answer.status is CompatibilityStatus.unknown and not answer.is_compatible
    agent = avatar_server.log.last("GET", "/api/check_client").header("User-Agent") or ""
    assert agent.startswith(f"avatar-anonymization-client/{__version__} ")

    # A session carrying the platform SDK's token is judged by its version.
    with requests.Session() as session:
        session.headers["User-Agent"] = "avatar-python/1.0.0"
        with ApiClient(avatar_server.base_url, http_client=session, timeout=TIMEOUT) as sdk_like:
            assert sdk_like.compatibility.is_client_compatible().is_compatible
            avatar_server.admin.set_min_client_version("99.0.0")
            answer = sdk_like.compatibility.is_client_compatible()
    assert answer.status is CompatibilityStatus.incompatible and not answer.is_compatible
    assert "99.0.0" in answer.message
    assert answer.most_recent_compatible_client == avatar_server.settings.latest_client_version


def test_compatibility_through_an_injected_session_keeps_the_user_agent(
    avatar_server: LocalAvatarServer,
) -> None:
    with requests.Session() as session:
        session.headers["User-Agent"] = "corporate-tool/2.1"
        with ApiClient(avatar_server.base_url, http_client=session, timeout=TIMEOUT) as c:
            assert c.compatibility.is_client_compatible().status is CompatibilityStatus.unknown
    agent = avatar_server.log.last("GET", "/api/check_client").header("User-Agent") or ""
    assert agent.startswith("avatar-anonymization-client/") and agent.endswith(" corporate-tool/2.1")


def test_openapi(anon: ApiClient, avatar_server: LocalAvatarServer) -> None:
    document = anon.openapi.get_openapi_schema()
    assert document["openapi"].startswith("3.")
    assert any(path.endswith("/jobs") for path in document["paths"])
    avatar_server.faults.status_code("GET", "/api/openapi.json", 200, ["not", "a", "document"])
    with pytest.raises(SchemaError) as info:
        anon.openapi.get_openapi_schema()
    assert info.value.endpoint == "GET /openapi.json" and "expected dict" in str(info.value)


# --------------------------------------------------------------------------- users


def test_me_credits_features(client: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any) -> None:
    me = client.users.get_me()
    assert me.email == avatar_user.email and me.role is UserRole.user
    assert str(me.id) == avatar_user.id and str(me.organization_id) == avatar_user.organization_id
    assert me.environment.max_allowed_lines_per_dataset > 0 and me.environment.dataset_expiration_days > 0

    info = client.users.get_credits_info()
    assert (info.credits, info.is_credit_enabled) == (None, False)
    avatar_server.admin.update_user(avatar_user, credits=12, is_credit_enabled=True, feature_scopes=["single_table"])
    info = client.users.get_credits_info()
    assert (info.credits, info.is_credit_enabled) == (12, True)
    features = client.users.get_features_info()
    assert features.feature_scopes == ["single_table"] and "single_table" in features and "report" not in features


def test_find_and_get_users(client: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any) -> None:
    colleague = avatar_server.admin.create_user("colleague@example.com", "pw-colleague")
    stranger = avatar_server.admin.create_user("stranger@example.com", "pw", organization_id=str(uuid.uuid4()))
    assert [u.email for u in client.users.find_users(email="colleague@example.com")] == [colleague.email]
    assert dict(avatar_server.log.last("GET", "/api/users").query) == {"email": "colleague@example.com"}
    assert {u.email for u in client.users.find_users()} == {avatar_user.email, colleague.email}
    assert client.users.find_users(email="nobody@example.com") == []
    assert client.users.get_user(colleague.id).email == colleague.email
    with pytest.raises(NotFound):
        client.users.get_user(stranger.id)  # another organization
    with pytest.raises(NotFound):
        client.users.get_user(uuid.uuid4())
    before = len(avatar_server.log)
    with pytest.raises(RequestValidationError):
        client.users.get_user("me")  # never reaches /users/me
    assert len(avatar_server.log) == before


def test_create_and_delete_users_as_admin(admin: ApiClient, avatar_server: LocalAvatarServer) -> None:
    created = admin.users.create_user(CreateUser("new@example.com", password="new-password"))
    assert created.email == "new@example.com" and created.role is UserRole.user
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as newcomer:
        newcomer.authenticate("new@example.com", "new-password")
        assert str(newcomer.users.get_me().id) == str(created.id)
        key = newcomer.api_keys.create_api_key("k", 30).api_key.plaintext

    with pytest.raises(ConflictError):
        admin.users.create_user(CreateUser("new@example.com"))
    with pytest.raises(RequestValidationError):
        CreateUser("not-an-email")

    deleted = admin.users.delete_user(created.id)
    assert deleted.id == created.id
    with pytest.raises(NotFound):
        admin.users.get_user(created.id)
    with pytest.raises(NotFound):
        admin.users.delete_user(created.id)
    with ApiClient(avatar_server.base_url, api_key=key, timeout=TIMEOUT) as orphan:
        with pytest.raises(AuthenticationError):
            orphan.users.get_me()


def test_create_and_delete_users_as_a_normal_user_is_denied(
    client: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any
) -> None:
    with pytest.raises(PermissionDenied) as denied:
        client.users.create_user(CreateUser("sneaky@example.com", role="admin", password="x"))
    assert denied.value.status_code == 403 and "Admin" in str(denied.value)
    assert avatar_server.admin.find_user("sneaky@example.com") is None
    with pytest.raises(PermissionDenied):
        client.users.delete_user(avatar_user.id)
    assert client.users.get_me().email == avatar_user.email


# --------------------------------------------------------------------------- envelopes and schemas


def test_unknown_response_fields_are_tolerated(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    real = client.users.get_me()
    body = {
        "id": str(real.id),
        "organization_id": str(real.organization_id),
        "email": real.email,
        "role": "superhero",
        "environment": {
            "dataset_expiration_days": 1,
            "max_allowed_dimensions_per_dataset": 2,
            "max_allowed_lines_per_dataset": 3,
            "gpu": True,
        },
        "added_in_v2": {"nested": [1, 2]},
    }
    avatar_server.faults.status_code("GET", "/api/users/me", 200, body)
    me = client.users.get_me()
    assert me.email == real.email and me.environment.max_allowed_lines_per_dataset == 3
    assert str(me.role) == "superhero" and not me.role.is_known


def test_a_malformed_field_is_a_schema_error(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    real = client.users.get_credits_info()
    assert real.is_credit_enabled is False
    avatar_server.faults.status_code("GET", "/api/users/credits_info", 200, {"credits": "lots", "is_credit_enabled": 1})
    with pytest.raises(SchemaError) as info:
        client.users.get_credits_info()
    assert info.value.endpoint == "GET /users/credits_info" and "credits" in info.value.fields
    assert info.value.request_id == avatar_server.log.last("GET", "/api/users/credits_info").request_id


@pytest.mark.parametrize(
    "code,body,cls,text",
    [
        (400, {"detail": "bad thing"}, BadRequestError, "bad thing"),
        (403, {"detail": {"message": "not yours", "code": "x"}}, PermissionDenied, "not yours"),
        (
            422,
            {"detail": [{"loc": ["query", "kind"], "msg": "not a kind", "type": "enum"}]},
            ValidationError,
            "query.kind: not a kind",
        ),
        (409, {"detail": {"message": "busy"}}, ConflictError, "busy"),
        (500, None, ServerError, "INTERNAL SERVER ERROR"),
        (500, b"\xff\xfe garbage", ServerError, "garbage"),
        (418, "<html><title>I am a teapot</title><body>x</body></html>", BadRequestError, "I am a teapot"),
        (401, {"unexpected": "shape"}, AuthenticationError, "UNAUTHORIZED"),
    ],
    ids=["400-str", "403-dict", "422-list", "409-dict", "500-empty", "500-binary", "418-html", "401-odd"],
)
def test_error_envelopes_become_typed_errors(
    client: ApiClient, avatar_server: LocalAvatarServer, code: int, body: Any, cls: type, text: str
) -> None:
    avatar_server.faults.status_code("GET", "/api/jobs", code, body)
    with pytest.raises(ApiError) as info:
        client.jobs.get_jobs()
    err = info.value
    assert type(err) is cls
    assert err.status_code == code and err.method == "GET" and err.url.endswith("/api/jobs")
    assert text.lower() in str(err).lower()
    assert err.request_id and err.request_id == avatar_server.log.last("GET", "/api/jobs").request_id
    assert "<html>" not in str(err)
    if isinstance(err, ValidationError):
        assert err.fields == ["query.kind"]
    assert avatar_server.count("POST", "/api/refresh") == 0
