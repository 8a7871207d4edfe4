"""Authentication of API requests and the login/refresh/logout logic.

* ``Authorization: api-key-v1 <key>``: the key's SHA-256 must match a stored,
  non-revoked, non-expired key of an existing user; ``last_used_at`` is set.
* ``Authorization: Bearer <jwt>``: an HS256 access token signed by this server
  (the secret is kept in ``data_dir`` so tokens survive a restart), of an
  existing user, not logged out. An expired one gives
  ``401 {"detail": {"message": "credentials expired"}}``.
* Anything else, or nothing: ``401 {"detail": "Not authenticated"}`` with
  ``WWW-Authenticate: Bearer``.

Refresh tokens are opaque; only their hash is stored. With rotation on (the
default) a refresh token is single-use: using it again is a 401. With
rotation off, the same refresh token is returned and stays valid until it
expires or is revoked. Every refresh failure is ``401 Not authenticated``
(never ``credentials expired``, so a client does not try to refresh again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ._http import ApiError, not_authenticated
from ._util import new_id, now
from .state import ServerState
from .store import ApiKey, RefreshToken, User
from .tokens import (
    TokenError,
    TokenExpired,
    make_access_token,
    new_api_key,
    new_refresh_token,
    read_access_token,
    sha256_hex,
    verify_password,
)

SCHEME_API_KEY = "api-key-v1"
SCHEME_BEARER = "Bearer"


@dataclass(frozen=True)
class Principal:
    user: User
    scheme: str
    api_key_id: Optional[str] = None
    jti: Optional[str] = None
    session_id: Optional[str] = None

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


def credentials_expired() -> ApiError:
    return ApiError(401, {"message": "credentials expired"}, headers={"WWW-Authenticate": "Bearer"})


def authenticate(state: ServerState, authorization: Optional[str]) -> Principal:
    """The principal for an ``Authorization`` header value, or an :class:`ApiError`."""
    if not authorization:
        raise not_authenticated()
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if not credential:
        raise not_authenticated()
    if scheme.lower() == SCHEME_API_KEY:
        return _authenticate_api_key(state, credential)
    if scheme.lower() == "bearer":
        return _authenticate_bearer(state, credential)
    raise not_authenticated()


def _authenticate_api_key(state: ServerState, key: str) -> Principal:
    store = state.store
    digest = sha256_hex(key)
    with store.lock:
        found = store.api_key_by_hash(digest)
        if found is None or found.revoked_at is not None or found.expires_at <= now():
            raise not_authenticated()
        user = store.users.get(found.user_id)
        if user is None:
            raise not_authenticated()
        found.last_used_at = now()
        store.save()
        return Principal(user=user, scheme=SCHEME_API_KEY, api_key_id=found.id)


def _authenticate_bearer(state: ServerState, token: str) -> Principal:
    store = state.store
    try:
        claims = read_access_token(token, store.jwt_secret, now())
    except TokenExpired:
        raise credentials_expired() from None
    except TokenError:
        raise not_authenticated() from None
    with store.lock:
        if claims.jti in store.revoked_jtis:
            raise not_authenticated()
        user = store.users.get(claims.sub)
    if user is None:
        raise not_authenticated()
    return Principal(user=user, scheme=SCHEME_BEARER, jti=claims.jti, session_id=claims.sid)


def check_password(state: ServerState, username: str, password: str) -> Optional[User]:
    user = state.store.user_by_login(username)
    if user is None or not verify_password(password, user.password_hash):
        return None
    return user


def issue_tokens(state: ServerState, user: User, session_id: Optional[str] = None) -> Tuple[str, str]:
    """A new access token and a new refresh token for ``user``."""
    store = state.store
    session = session_id or new_id()
    access = make_access_token(user.id, store.jwt_secret, state.settings.access_token_lifetime, now(), session)
    refresh = new_refresh_token()
    with store.lock:
        record = RefreshToken(
            token_hash=sha256_hex(refresh),
            user_id=user.id,
            session_id=session,
            created_at=now(),
            expires_at=now() + state.settings.refresh_token_lifetime,
        )
        store.refresh_tokens[record.token_hash] = record
        store.save()
    return access, refresh


def issue_api_key(
    state: ServerState, user_id: str, name: str, *, expiration_days: float, expires_at: Optional[float] = None
) -> Tuple[ApiKey, str]:
    """A new stored API key of ``user_id`` and its plaintext (only its hash is kept).

    It expires at ``expires_at`` (epoch seconds) when given, else ``expiration_days`` after now.
    """
    store = state.store
    plaintext = new_api_key()
    created = now()
    key = ApiKey(
        id=new_id(),
        user_id=user_id,
        name=name,
        key_hash=sha256_hex(plaintext),
        created_at=created,
        expires_at=expires_at if expires_at is not None else created + expiration_days * 86400,
    )
    with store.lock:
        store.api_keys[key.id] = key
        store.save()
    return key, plaintext


def refresh(state: ServerState, token: str) -> Tuple[str, Optional[str]]:
    """Exchange a refresh token: ``(access_token, refresh_token)`` or a 401."""
    store = state.store
    with store.lock:
        record = store.refresh_tokens.get(sha256_hex(token))
        if record is None or record.revoked_at is not None or record.used_at is not None or record.expires_at <= now():
            raise not_authenticated()
        user = store.users.get(record.user_id)
        if user is None:
            raise not_authenticated()
        if state.settings.refresh_rotation:
            record.used_at = now()
            store.save()
            return issue_tokens(state, user, record.session_id)
        access = make_access_token(
            user.id, store.jwt_secret, state.settings.access_token_lifetime, now(), record.session_id
        )
        return access, token


def logout(state: ServerState, principal: Principal) -> None:
    """Revoke the access token used and the refresh tokens of its session."""
    store = state.store
    with store.lock:
        if principal.jti is not None:
            store.revoked_jtis[principal.jti] = now()
        if principal.session_id:
            for record in store.refresh_tokens.values():
                if record.session_id == principal.session_id and record.revoked_at is None:
                    record.revoked_at = now()
        store.save()
