"""Login, tokens, API keys, users and their failure modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Dict

import pytest
import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.admin import CreatedUser

NOT_AUTH = {"detail": "Not authenticated"}


def login(srv: LocalAvatarServer, username: str, password: str) -> requests.Response:
    return requests.post(
        srv.url("/login"),
        data={
            "username": username,
            "password": password,
            "scope": "",
            "grant_type": "password",
            "client_id": "",
            "client_secret": "",
        },
    )


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_login_returns_signed_jwt_and_cookie(srv: LocalAvatarServer, user: CreatedUser) -> None:
    response = login(srv, "alice@example.com", "alice-password")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["refresh_token"], str) and "." not in body["refresh_token"]
    header_b64, payload_b64, signature_b64 = body["access_token"].split(".")
    assert "=" not in body["access_token"]
    assert json.loads(_b64(header_b64)) == {"alg": "HS256", "typ": "JWT"}
    payload = json.loads(_b64(payload_b64))
    assert payload["sub"] == user.id
    assert {"exp", "iat", "jti"} <= set(payload)
    assert 3600 <= payload["exp"] - payload["iat"] <= 3601
    expected = hmac.new(srv.store.jwt_secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    assert _b64(signature_b64) == expected
    assert "avatar_session" in response.cookies
    me = requests.get(srv.url("/users/me"), headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == "alice@example.com"


def test_login_failures(srv: LocalAvatarServer, user: CreatedUser) -> None:
    wrong = login(srv, "alice@example.com", "nope")
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Incorrect username or password"}
    assert login(srv, "bob@example.com", "x").status_code == 401
    missing = requests.post(srv.url("/login"), data={"username": "alice@example.com"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    bad_grant = requests.post(
        srv.url("/login"), data={"username": "alice@example.com", "password": "alice-password", "grant_type": "x"}
    )
    assert bad_grant.status_code == 422


def test_refresh_rotation_single_use(srv: LocalAvatarServer, user: CreatedUser) -> None:
    tokens = login(srv, "alice@example.com", "alice-password").json()
    first = requests.post(srv.url("/refresh"), data={"token": tokens["refresh_token"]})
    assert first.status_code == 200
    new = first.json()
    assert new["refresh_token"] and new["refresh_token"] != tokens["refresh_token"]
    assert requests.get(srv.url("/users/me"), headers=bearer(new["access_token"])).ok
    reuse = requests.post(srv.url("/refresh"), data={"token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json() == NOT_AUTH
    # the query form is accepted too (the platform's own client sends it)
    again = requests.post(srv.url("/refresh"), params={"token": new["refresh_token"]})
    assert again.status_code == 200
    # and the log never holds the secret
    record = srv.log.last("POST", "/api/refresh")
    assert record.query == (("token", "[REDACTED]"),)
    assert requests.post(srv.url("/refresh")).status_code == 422


def test_refresh_without_rotation(srv: LocalAvatarServer, user: CreatedUser) -> None:
    srv.admin.set_refresh_rotation(False)
    tokens = login(srv, "alice@example.com", "alice-password").json()
    for _ in range(3):
        response = requests.post(srv.url("/refresh"), data={"token": tokens["refresh_token"]})
        assert response.status_code == 200
        assert response.json()["refresh_token"] == tokens["refresh_token"]


def test_refresh_tokens_revoked_and_expired(srv: LocalAvatarServer, user: CreatedUser) -> None:
    one = login(srv, "alice@example.com", "alice-password").json()["refresh_token"]
    assert srv.admin.revoke_refresh_tokens(user) == 1
    assert requests.post(srv.url("/refresh"), data={"token": one}).status_code == 401
    two = login(srv, "alice@example.com", "alice-password").json()["refresh_token"]
    assert srv.admin.expire_refresh_tokens() == 1
    assert requests.post(srv.url("/refresh"), data={"token": two}).status_code == 401
    assert requests.post(srv.url("/refresh"), data={"token": "garbage"}).status_code == 401


def test_expired_access_token(srv: LocalAvatarServer, user: CreatedUser) -> None:
    expired = srv.admin.make_access_token(user, lifetime=-5)
    response = requests.get(srv.url("/users/me"), headers=bearer(expired))
    assert response.status_code == 401
    assert response.json() == {"detail": {"message": "credentials expired"}}
    srv.admin.set_access_token_lifetime(1)
    tokens = login(srv, "alice@example.com", "alice-password").json()
    assert requests.get(srv.url("/users/me"), headers=bearer(tokens["access_token"])).ok
    time.sleep(2.05)  # exp is rounded up to the next second
    late = requests.get(srv.url("/users/me"), headers=bearer(tokens["access_token"]))
    assert late.json() == {"detail": {"message": "credentials expired"}}
    renewed = requests.post(srv.url("/refresh"), data={"token": tokens["refresh_token"]})
    assert renewed.status_code == 200


def test_bad_credentials(srv: LocalAvatarServer, user: CreatedUser, api_key: str) -> None:
    cases = [
        {},
        {"Authorization": "api-key-v1 wrong"},
        {"Authorization": f"Bearer {api_key}"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": f"Basic {api_key}"},
        {"Authorization": "api-key-v1"},
    ]
    for headers in cases:
        response = requests.get(srv.url("/users/me"), headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == NOT_AUTH
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # a token signed with another secret
    forged = srv.admin.make_access_token(user).rsplit(".", 1)[0] + ".AAAA"
    assert requests.get(srv.url("/users/me"), headers=bearer(forged)).json() == NOT_AUTH


def test_api_key_revoked_and_expired(srv: LocalAvatarServer, user: CreatedUser) -> None:
    key = srv.admin.create_api_key(user)
    headers = {"Authorization": f"api-key-v1 {key}"}
    assert requests.get(srv.url("/users/me"), headers=headers).ok
    srv.admin.revoke_api_key(key)
    assert requests.get(srv.url("/users/me"), headers=headers).status_code == 401
    other = srv.admin.create_api_key(user, expires_at=time.time() - 10)
    assert requests.get(srv.url("/users/me"), headers={"Authorization": f"api-key-v1 {other}"}).status_code == 401
    third = srv.admin.create_api_key(user)
    third_headers = {"Authorization": f"api-key-v1 {third}"}
    assert requests.get(srv.url("/users/me"), headers=third_headers).ok
    srv.admin.expire_api_key(third)
    assert requests.get(srv.url("/users/me"), headers=third_headers).json() == NOT_AUTH


def test_api_keys_endpoints(srv: LocalAvatarServer, http: requests.Session) -> None:
    created = http.post(srv.url("/api-keys"), json={"name": "ci", "expiration_days": 30})
    assert created.status_code == 200
    body = created.json()
    assert body["message"]
    plaintext = body["api_key"]["plaintext"]
    key_id = body["api_key"]["id"]
    assert set(body["api_key"]) >= {"id", "name", "created_at", "expires_at", "revoked_at", "last_used_at", "plaintext"}
    listed = http.get(srv.url("/api-keys")).json()
    assert key_id in [k["id"] for k in listed]
    assert all("plaintext" not in k for k in listed)
    one = http.get(srv.url(f"/api-keys/{key_id}")).json()
    assert one["name"] == "ci" and one["last_used_at"] is None
    new_headers = {"Authorization": f"api-key-v1 {plaintext}"}
    assert requests.get(srv.url("/users/me"), headers=new_headers).ok
    assert http.get(srv.url(f"/api-keys/{key_id}")).json()["last_used_at"] is not None
    assert http.delete(srv.url(f"/api-keys/{key_id}")).status_code == 204
    assert requests.get(srv.url("/users/me"), headers=new_headers).status_code == 401
    assert http.get(srv.url(f"/api-keys/{key_id}")).json()["revoked_at"] is not None
    assert http.get(srv.url(f"/api-keys/{uuid.uuid4()}")).status_code == 404
    assert http.get(srv.url("/api-keys/not-a-uuid")).status_code == 422
    # 422s
    for payload in (
        {"name": "x", "expiration_days": 31},
        {"name": "", "expiration_days": 30},
        {"expiration_days": 30},
        {"name": "x" * 256, "expiration_days": 30},
        {"name": "x", "expiration_days": "30"},
    ):
        response = http.post(srv.url("/api-keys"), json=payload)
        assert response.status_code == 422, payload
        detail = response.json()["detail"]
        assert isinstance(detail, list) and {"loc", "msg", "type"} <= set(detail[0])
    assert http.post(srv.url("/api-keys"), data="{not json").status_code == 422
    # revoke all mine (including the one in use)
    assert http.delete(srv.url("/api-keys")).status_code == 204
    assert http.get(srv.url("/users/me")).status_code == 401


def test_users_endpoints(srv: LocalAvatarServer, user: CreatedUser, http: requests.Session) -> None:
    me = http.get(srv.url("/users/me")).json()
    assert me["id"] == user.id and me["role"] == "user"
    assert set(me["environment"]) == {
        "dataset_expiration_days",
        "max_allowed_dimensions_per_dataset",
        "max_allowed_lines_per_dataset",
    }
    credits_info = http.get(srv.url("/users/credits_info")).json()
    assert credits_info == {"credits": None, "is_credit_enabled": False}
    srv.admin.update_user(user, credits=12, is_credit_enabled=True)
    assert http.get(srv.url("/users/credits_info")).json()["credits"] == 12
    assert "single_table" in http.get(srv.url("/users/features_info")).json()["feature_scopes"]
    found = http.get(srv.url("/users"), params={"email": "alice@example.com"}).json()
    assert [u["id"] for u in found] == [user.id]
    assert http.get(srv.url("/users"), params={"email": "zed@example.com"}).json() == []
    assert http.get(srv.url(f"/users/{user.id}")).json()["email"] == "alice@example.com"
    assert http.get(srv.url(f"/users/{uuid.uuid4()}")).status_code == 404
    assert http.get(srv.url("/users/123")).status_code == 422
    # admin-only routes
    forbidden = http.post(srv.url("/users"), json={"email": "x@example.com"})
    assert forbidden.status_code == 403 and isinstance(forbidden.json()["detail"], str)
    assert http.delete(srv.url(f"/users/{user.id}")).status_code == 403


def test_admin_user_routes(srv: LocalAvatarServer) -> None:
    admin = srv.admin.create_user("root@example.com", "root", role="admin")
    headers = {"Authorization": f"api-key-v1 {srv.admin.create_api_key(admin)}"}
    created = requests.post(srv.url("/users"), headers=headers, json={"email": "new@example.com", "password": "pw"})
    assert created.status_code == 200
    new = created.json()
    assert new["role"] == "user" and new["organization_id"] == admin.organization_id
    assert login(srv, "new@example.com", "pw").status_code == 200
    duplicate = requests.post(srv.url("/users"), headers=headers, json={"email": "new@example.com"})
    assert duplicate.status_code == 409
    bad = requests.post(srv.url("/users"), headers=headers, json={"email": "nope", "role": "king"})
    assert bad.status_code == 422 and len(bad.json()["detail"]) == 2
    deleted = requests.delete(srv.url(f"/users/{new['id']}"), headers=headers)
    assert deleted.status_code == 200 and deleted.json()["id"] == new["id"]
    assert login(srv, "new@example.com", "pw").status_code == 401


def test_logout_and_password_reset(srv: LocalAvatarServer, user: CreatedUser) -> None:
    tokens = login(srv, "alice@example.com", "alice-password").json()
    assert requests.post(srv.url("/logout"), headers=bearer(tokens["access_token"])).ok
    assert requests.get(srv.url("/users/me"), headers=bearer(tokens["access_token"])).status_code == 401
    assert requests.post(srv.url("/refresh"), data={"token": tokens["refresh_token"]}).status_code == 401

    asked = requests.post(srv.url("/login/forgotten_password"), json={"email": "alice@example.com"})
    assert asked.status_code == 200
    token = srv.admin.password_reset_token("alice@example.com")
    assert token is not None
    mismatch = requests.post(
        srv.url("/login/reset_password"),
        json={"email": "alice@example.com", "new_password": "a", "new_password_repeated": "b", "token": token},
    )
    assert mismatch.status_code == 422
    wrong = requests.post(
        srv.url("/login/reset_password"),
        json={
            "email": "alice@example.com",
            "new_password": "n",
            "new_password_repeated": "n",
            "token": str(uuid.uuid4()),
        },
    )
    assert wrong.status_code == 400
    ok = requests.post(
        srv.url("/login/reset_password"),
        json={"email": "alice@example.com", "new_password": "n3w", "new_password_repeated": "n3w", "token": token},
    )
    assert ok.status_code == 200
    assert login(srv, "alice@example.com", "n3w").status_code == 200
    assert requests.post(srv.url("/login/forgotten_password"), json={}).status_code == 422


@pytest.mark.parametrize("path", ["/jobs", "/api-keys", "/users/me", "/upload_url", "/access?url=s3://avatars/x"])
def test_every_protected_route_needs_auth(srv: LocalAvatarServer, path: str) -> None:
    response = requests.get(srv.url(path))
    assert response.status_code == 401
    assert response.json() == NOT_AUTH
