"""client.users, client.api_keys, client.resources, client.health, client.compatibility, client.openapi."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
import responses
from responses import matchers

from avatars import (
    ApiClient,
    ApiKey,
    AuthenticationError,
    CompatibilityStatus,
    CreateUser,
    CreditsInfo,
    Environment,
    FeaturesInfo,
    HealthMessage,
    MeUser,
    RequestValidationError,
    ResourceSetResponse,
    SchemaError,
    User,
    UserRole,
)

from . import _payloads as p
from .conftest import AUTH, BASE, FACADES

UTC = timezone.utc


# ---------------------------------------------------------------- users


def test_find_users(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/users",
        json=[p.user(), p.user(id=str(uuid4()), email="bob@example.com", role="admin")],
        match=[matchers.query_string_matcher(""), matchers.header_matcher(AUTH)],
    )
    users = client.users.find_users()
    assert [u.email for u in users] == ["ada@example.com", "bob@example.com"]
    assert users[0] == User(UUID(p.USER_ID), UUID(p.ORG_ID), "ada@example.com", UserRole.user)
    assert users[1].role is UserRole.admin


def test_find_users_filters(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/users",
        json=[],
        match=[matchers.query_param_matcher({"email": "a+b@example.com", "username": "ada"})],
    )
    assert client.users.find_users(email="a+b@example.com", username="ada") == []
    assert "email=a%2Bb%40example.com" in rsps.calls[0].request.url
    rsps.add(responses.GET, f"{BASE}/users", json=[], match=[matchers.query_param_matcher({"username": "x"})])
    client.users.find_users(username="x")
    with pytest.raises(RequestValidationError):
        client.users.find_users(email="")
    assert len(rsps.calls) == 2


def test_create_user(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.POST,
        f"{BASE}/users",
        json=p.user(email="new@example.com", role="admin"),
        match=[
            matchers.json_params_matcher(
                {"email": "new@example.com", "role": "admin", "password": "pw"}, strict_match=True
            ),
            matchers.header_matcher(AUTH),
        ],
    )
    user = client.users.create_user(CreateUser("new@example.com", role="admin", password="pw"))
    assert user.email == "new@example.com" and user.role is UserRole.admin
    with pytest.raises(RequestValidationError):
        client.users.create_user({"email": "x"})  # type: ignore[arg-type]
    assert len(rsps.calls) == 1


def test_get_me_credits_features(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/users/me", json=p.me(), match=[matchers.header_matcher(AUTH)])
    rsps.add(responses.GET, f"{BASE}/users/credits_info", json={"credits": None, "is_credit_enabled": False})
    rsps.add(responses.GET, f"{BASE}/users/features_info", json=p.features_info())
    me = client.users.get_me()
    assert isinstance(me, MeUser)
    assert me.email == "ada@example.com" and me.role is UserRole.admin and me.id == UUID(p.USER_ID)
    assert me.environment == Environment(30, 200, 1_000_000)
    assert client.users.get_credits_info() == CreditsInfo(credits=None, is_credit_enabled=False)
    features = client.users.get_features_info()
    assert features == FeaturesInfo(["single_table", "report"]) and "report" in features
    assert [c.request.path_url for c in rsps.calls] == [
        "/api/users/me",
        "/api/users/credits_info",
        "/api/users/features_info",
    ]


def test_get_and_delete_user(rsps: responses.RequestsMock, client: ApiClient) -> None:
    uid = UUID(p.USER_ID)
    rsps.add(responses.GET, f"{BASE}/users/{uid}", json=p.user())
    rsps.add(responses.DELETE, f"{BASE}/users/{uid}", json=p.user())
    assert client.users.get_user(uid).id == uid
    assert client.users.get_user(str(uid).upper()).email == "ada@example.com"  # normalised
    assert client.users.delete_user(str(uid)).id == uid
    assert [(c.request.method, c.request.path_url) for c in rsps.calls] == [
        ("GET", f"/api/users/{uid}"),
        ("GET", f"/api/users/{uid}"),
        ("DELETE", f"/api/users/{uid}"),
    ]


@pytest.mark.parametrize("bad", ["me", "credits_info", "../api-keys", "", 12, None])
def test_user_ids_must_be_uuids(rsps: responses.RequestsMock, client: ApiClient, bad: Any) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.users.get_user(bad)
    assert info.value.field == "id"
    with pytest.raises(RequestValidationError):
        client.users.delete_user(bad)
    assert len(rsps.calls) == 0


# ---------------------------------------------------------------- API keys


def test_list_and_get_api_keys(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/api-keys", json=[p.api_key()], match=[matchers.header_matcher(AUTH)])
    rsps.add(responses.GET, f"{BASE}/api-keys/{p.KEY_ID}", json=p.api_key(revoked_at="2026-11-29T00:00:00Z"))
    keys = client.api_keys.list_api_keys()
    assert keys == [
        ApiKey(
            id=UUID(p.KEY_ID),
            name="ci",
            created_at=datetime(2026, 11, 27, 10, tzinfo=UTC),
            expires_at=datetime(2026, 12, 27, 10, tzinfo=UTC),
            revoked_at=None,
            last_used_at=datetime(2026, 11, 28, 7, 30, 0, 250000, tzinfo=UTC),
        )
    ]
    key = client.api_keys.get_api_key(UUID(p.KEY_ID))
    assert key.is_revoked and key.revoked_at == datetime(2026, 11, 29, tzinfo=UTC)


def test_create_api_key(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.POST,
        f"{BASE}/api-keys",
        json=p.api_key_created(),
        match=[
            matchers.json_params_matcher({"name": "ci", "expiration_days": 365}, strict_match=True),
            matchers.header_matcher({**AUTH, "Content-Type": "application/json"}),
        ],
    )
    created = client.api_keys.create_api_key("ci", 365)
    assert created.message == "store it now"
    assert created.api_key.plaintext == "avk_secret_plaintext_value"
    assert created.api_key.id == UUID(p.KEY_ID)
    assert "avk_secret_plaintext_value" not in repr(created)


@pytest.mark.parametrize("name,days", [("", 30), ("x" * 256, 30), ("ci", 7), ("ci", "30")])
def test_create_api_key_validation_sends_nothing(
    rsps: responses.RequestsMock, client: ApiClient, name: str, days: Any
) -> None:
    with pytest.raises(RequestValidationError):
        client.api_keys.create_api_key(name, days)
    assert len(rsps.calls) == 0


def test_revoke(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.DELETE, f"{BASE}/api-keys/{p.KEY_ID}", status=204, match=[matchers.header_matcher(AUTH)])
    rsps.add(responses.DELETE, f"{BASE}/api-keys", status=200, json={"revoked": 3})
    assert client.api_keys.revoke_api_key(p.KEY_ID) is None
    assert client.api_keys.revoke_all_api_keys() is None
    assert [(c.request.method, c.request.path_url) for c in rsps.calls] == [
        ("DELETE", f"/api/api-keys/{p.KEY_ID}"),
        ("DELETE", "/api/api-keys"),
    ]
    with pytest.raises(RequestValidationError):
        client.api_keys.revoke_api_key("all")
    assert len(rsps.calls) == 2


# ---------------------------------------------------------------- resource sets

YAML = (
    "tables:\n"
    "  - name: patients\n"
    "    dataset_id: 0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d\n"
    "parameters:\n"
    "  - name: p1\n"
    "    table: patients\n"
    "    k: 20\n"
)


def test_create_resource(rsps: responses.RequestsMock, client: ApiClient) -> None:
    set_name = uuid4()
    rsps.add(
        responses.POST,
        f"{BASE}/resources/{set_name}",
        json={"set_name": str(set_name), "display_name": "nightly"},
        match=[matchers.header_matcher({**AUTH, "Content-Type": "application/yaml"})],
    )
    answer = client.resources.create_resource(set_name, YAML)
    assert answer == ResourceSetResponse(set_name, "nightly")
    assert rsps.calls[0].request.body == YAML.encode("utf-8")


@pytest.mark.parametrize(
    "set_name,yaml_string,field",
    [("nightly", YAML, "set_name"), (uuid4(), "", "yaml_string"), (uuid4(), b"x", "yaml_string")],
)
def test_create_resource_validation_sends_nothing(
    rsps: responses.RequestsMock, client: ApiClient, set_name: Any, yaml_string: Any, field: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.resources.create_resource(set_name, yaml_string)
    assert info.value.field == field
    assert len(rsps.calls) == 0


def test_put_and_get_resources(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.PUT,
        f"{BASE}/resources/nightly%20run%20%232",
        json=p.resource_set(display_name="nightly run #2"),
        match=[matchers.header_matcher({"Content-Type": "application/yaml"})],
    )
    stored = client.resources.put_resources("nightly run #2", "k: 1  # é\n")
    assert stored.display_name == "nightly run #2" and stored.set_name == UUID(p.JOB_SET)
    assert rsps.calls[0].request.body == "k: 1  # é\n".encode()
    rsps.add(
        responses.GET,
        f"{BASE}/resources/{p.JOB_SET}",
        body="k: 1  # é\n".encode(),
        content_type="application/yaml",
    )
    assert client.resources.get_resources(UUID(p.JOB_SET)) == "k: 1  # é\n"
    rsps.add(
        responses.GET,
        f"{BASE}/resources/latin",
        body="k: é".encode("latin-1"),
        content_type="text/yaml; charset=latin-1",
    )
    assert client.resources.get_resources("latin") == "k: é"
    rsps.add(responses.GET, f"{BASE}/resources/quoted", body=json.dumps("a: 1\n"), content_type="application/json")
    assert client.resources.get_resources("quoted") == "a: 1\n"


# ---------------------------------------------------------------- health, compatibility, openapi


def test_health_calls_need_no_credentials(rsps: responses.RequestsMock) -> None:
    anonymous = ApiClient(BASE)
    rsps.add(responses.GET, f"{BASE}/", json={"message": "Hello from Avatar"})
    rsps.add(responses.GET, f"{BASE}/health", json={"message": "ok"})
    rsps.add(responses.GET, f"{BASE}/health/db", json={"message": "ok"})
    assert anonymous.health.get_root() == HealthMessage("Hello from Avatar")
    assert anonymous.health.get_health().message == "ok"
    assert anonymous.health.get_health_db().message == "ok"
    assert [c.request.path_url for c in rsps.calls] == ["/api/", "/api/health", "/api/health/db"]
    assert all("Authorization" not in c.request.headers for c in rsps.calls)


def test_calls_that_need_credentials_send_nothing_without_them(rsps: responses.RequestsMock) -> None:
    with pytest.raises(AuthenticationError):
        ApiClient(BASE).jobs.get_jobs()
    assert len(rsps.calls) == 0


def test_is_client_compatible(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/check_client",
        json=p.compatibility(status="incompatible", message="upgrade", most_recent_compatible_client="2.0.0"),
        match=[matchers.header_matcher({"User-Agent": rsps_user_agent()}, strict_match=False)],
    )
    answer = ApiClient(BASE).compatibility.is_client_compatible()
    assert answer.status is CompatibilityStatus.incompatible and not answer.is_compatible
    assert answer.message == "upgrade" and answer.most_recent_compatible_client == "2.0.0"
    assert rsps.calls[0].request.headers["User-Agent"].startswith("avatar-anonymization-client/")


def rsps_user_agent() -> str:
    from avatars.session import user_agent

    return user_agent()


def test_get_openapi_schema(rsps: responses.RequestsMock) -> None:
    document = {"openapi": "3.1.0", "paths": {"/jobs": {}}}
    rsps.add(responses.GET, f"{BASE}/openapi.json", json=document)
    assert ApiClient(BASE).openapi.get_openapi_schema() == document
    rsps.replace(responses.GET, f"{BASE}/openapi.json", json=["not", "a", "document"])
    with pytest.raises(SchemaError, match="GET /openapi.json"):
        ApiClient(BASE).openapi.get_openapi_schema()


def test_every_facade_method_takes_a_keyword_only_timeout(client: ApiClient) -> None:
    import inspect

    checked = 0
    for attribute in FACADES:
        facade = getattr(client, attribute)
        for name, method in inspect.getmembers(facade, inspect.ismethod):
            if name.startswith("_"):
                continue
            parameter = inspect.signature(method).parameters.get("timeout")
            assert parameter is not None, f"{attribute}.{name} has no timeout"
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None
            first_line = (method.__doc__ or "").splitlines()[0]
            assert any(f"``{verb} " in first_line for verb in ("GET", "POST", "PUT", "PATCH", "DELETE")), name
            checked += 1
    # jobs 8, results 6, users 7, api_keys 6, auth 7, datasets 5, resources 4, health 3, compatibility 1,
    # openapi 1, event_logs 1, capabilities 1, connections 10
    assert checked == 60
