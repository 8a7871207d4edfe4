"""The admin side of the local server, for tests: ``server.admin``.

Everything here acts on the server's state directly (no HTTP). The same
operations are exposed over HTTP under ``/_admin`` by
:mod:`avatars.testing.admin_http` for a server started from the command line.

A ``user`` argument is a user id, an email/username, or a
:class:`CreatedUser`. A ``key`` argument is an API key id or its plaintext.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ._util import new_id, now
from .auth import issue_api_key, issue_tokens
from .faults import FaultRegistry, RateLimit
from .state import ServerState
from .store import DEFAULT_ENVIRONMENT, DEFAULT_FEATURE_SCOPES, ROLE_ADMIN, ROLE_USER, ApiKey, User
from .tokens import hash_password, make_access_token, sha256_hex


@dataclass(frozen=True)
class CreatedUser:
    """A user made by :meth:`ServerAdmin.create_user`; ``password`` is the plaintext."""

    id: str
    email: str
    username: str
    role: str
    organization_id: str
    password: Optional[str]

    def __repr__(self) -> str:  # never show the password
        return (
            f"CreatedUser(id={self.id!r}, email={self.email!r}, role={self.role!r}, "
            f"organization_id={self.organization_id!r})"
        )


@dataclass(frozen=True)
class IssuedApiKey:
    """An API key made by :meth:`ServerAdmin.issue_api_key`."""

    id: str
    user_id: str
    name: str
    plaintext: str
    expires_at: float

    def __repr__(self) -> str:  # never show the key
        return f"IssuedApiKey(id={self.id!r}, user_id={self.user_id!r}, name={self.name!r})"


UserRef = Union[str, CreatedUser, User]
Moment = Union[float, _dt.datetime]


def _epoch(value: Moment) -> float:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    return float(value)


def _created_user(user: User, password: Optional[str]) -> CreatedUser:
    return CreatedUser(
        id=user.id,
        email=user.email,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        password=password,
    )


class ServerAdmin:
    """See the module docstring."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    # -- users ------------------------------------------------------------------------

    def _user(self, user: UserRef) -> User:
        store = self._state.store
        if isinstance(user, (CreatedUser, User)):
            found = store.users.get(user.id)
        else:
            found = store.users.get(user) or store.user_by_login(user)
        if found is None:
            raise KeyError(f"unknown user {user!r}")
        return found

    def create_user(
        self,
        email: str,
        password: Optional[str] = None,
        *,
        role: str = ROLE_USER,
        username: Optional[str] = None,
        organization_id: Optional[str] = None,
        credits: Optional[int] = None,  # noqa: A002 (the contract's field name)
        is_credit_enabled: bool = False,
        feature_scopes: Optional[Sequence[str]] = None,
        environment: Optional[Dict[str, int]] = None,
        generate_password: bool = True,
    ) -> CreatedUser:
        """Create a user; without ``password`` a random one is generated (returned)."""
        if role not in (ROLE_ADMIN, ROLE_USER):
            raise ValueError("role must be 'admin' or 'user'")
        store = self._state.store
        if password is None and generate_password:
            password = secrets.token_urlsafe(12)
        with store.lock:
            if store.user_by_login(email) is not None or (username and store.user_by_login(username) is not None):
                raise ValueError(f"a user {email!r} already exists")
            user = User(
                id=new_id(),
                organization_id=organization_id or store.default_organization_id,
                email=email,
                username=username or email,
                role=role,
                password_hash=hash_password(password) if password else None,
                created_at=now(),
                credits=credits,
                is_credit_enabled=is_credit_enabled,
                feature_scopes=list(feature_scopes if feature_scopes is not None else DEFAULT_FEATURE_SCOPES),
                environment={**DEFAULT_ENVIRONMENT, **(environment or {})},
            )
            store.users[user.id] = user
            store.save()
        return _created_user(user, password)

    def set_password(self, user: UserRef, password: str) -> None:
        store = self._state.store
        with store.lock:
            self._user(user).password_hash = hash_password(password)
            store.save()

    def update_user(
        self,
        user: UserRef,
        *,
        credits: Optional[int] = None,  # noqa: A002 (the contract's field name)
        is_credit_enabled: Optional[bool] = None,
        feature_scopes: Optional[Sequence[str]] = None,
        environment: Optional[Dict[str, int]] = None,
        role: Optional[str] = None,
    ) -> None:
        store = self._state.store
        with store.lock:
            record = self._user(user)
            if credits is not None:
                record.credits = credits
            if is_credit_enabled is not None:
                record.is_credit_enabled = is_credit_enabled
            if feature_scopes is not None:
                record.feature_scopes = list(feature_scopes)
            if environment is not None:
                record.environment = {**record.environment, **environment}
            if role is not None:
                record.role = role
            store.save()

    def find_user(self, user: UserRef) -> Optional[CreatedUser]:
        try:
            record = self._user(user)
        except KeyError:
            return None
        return _created_user(record, None)

    # -- API keys -------------------------------------------------------------------

    def issue_api_key(
        self,
        user: UserRef,
        *,
        name: str = "test key",
        expiration_days: float = 365,
        expires_at: Optional[Moment] = None,
    ) -> IssuedApiKey:
        """A new API key; ``expires_at`` (epoch or datetime) may be in the past."""
        record = self._user(user)
        key, plaintext = issue_api_key(
            self._state,
            record.id,
            name,
            expiration_days=expiration_days,
            expires_at=_epoch(expires_at) if expires_at is not None else None,
        )
        return IssuedApiKey(id=key.id, user_id=record.id, name=name, plaintext=plaintext, expires_at=key.expires_at)

    def create_api_key(
        self,
        user: UserRef,
        *,
        name: str = "test key",
        expiration_days: float = 365,
        expires_at: Optional[Moment] = None,
    ) -> str:
        """Like :meth:`issue_api_key`, returning only the plaintext key."""
        return self.issue_api_key(user, name=name, expiration_days=expiration_days, expires_at=expires_at).plaintext

    def _key(self, key: str) -> ApiKey:
        store = self._state.store
        found = store.api_keys.get(key) or store.api_key_by_hash(sha256_hex(key))
        if found is None:
            raise KeyError("unknown API key")
        return found

    def api_keys(self, user: Optional[UserRef] = None) -> List[ApiKey]:
        store = self._state.store
        user_id = self._user(user).id if user is not None else None
        with store.lock:
            return [ApiKey(**vars(k)) for k in store.api_keys.values() if user_id is None or k.user_id == user_id]

    def revoke_api_key(self, key: str) -> None:
        store = self._state.store
        with store.lock:
            found = self._key(key)
            if found.revoked_at is None:
                found.revoked_at = now()
            store.save()

    def expire_api_key(self, key: str, at: Optional[Moment] = None) -> None:
        """Set the key's ``expires_at`` (default: one second ago)."""
        store = self._state.store
        with store.lock:
            self._key(key).expires_at = _epoch(at) if at is not None else now() - 1
            store.save()

    # -- tokens ----------------------------------------------------------------------

    def issue_tokens(self, user: UserRef) -> Tuple[str, str]:
        """``(access_token, refresh_token)`` as a login would return them."""
        return issue_tokens(self._state, self._user(user))

    def make_access_token(self, user: UserRef, *, lifetime: float = 3600) -> str:
        """An access token with any lifetime (<= 0 gives an already expired one)."""
        store = self._state.store
        return make_access_token(self._user(user).id, store.jwt_secret, lifetime, now(), new_id())

    def revoke_refresh_tokens(self, user: Optional[UserRef] = None) -> int:
        """Revoke every (or one user's) live refresh token; returns how many."""
        return self._update_refresh_tokens(user, revoke=True)

    def expire_refresh_tokens(self, user: Optional[UserRef] = None) -> int:
        """Expire every (or one user's) live refresh token; returns how many."""
        return self._update_refresh_tokens(user, revoke=False)

    def _update_refresh_tokens(self, user: Optional[UserRef], *, revoke: bool) -> int:
        store = self._state.store
        user_id = self._user(user).id if user is not None else None
        count = 0
        with store.lock:
            for record in store.refresh_tokens.values():
                if user_id is not None and record.user_id != user_id:
                    continue
                if record.revoked_at is not None or record.used_at is not None:
                    continue
                if revoke:
                    record.revoked_at = now()
                else:
                    record.expires_at = now() - 1
                count += 1
            store.save()
        return count

    def password_reset_token(self, email: str) -> Optional[str]:
        """The token a ``/login/forgotten_password`` call created (the 'email')."""
        return self._state.reset_tokens.get(email.lower())

    # -- settings ---------------------------------------------------------------------

    def set_access_token_lifetime(self, seconds: float) -> None:
        self._state.settings.access_token_lifetime = float(seconds)

    def set_refresh_token_lifetime(self, seconds: float) -> None:
        self._state.settings.refresh_token_lifetime = float(seconds)

    def set_refresh_rotation(self, enabled: bool) -> None:
        self._state.settings.refresh_rotation = bool(enabled)

    def set_min_client_version(self, version: str) -> None:
        self._state.settings.min_client_version = version

    def set_latest_client_version(self, version: str) -> None:
        self._state.settings.latest_client_version = version

    def set_api_version(self, version: int) -> None:
        """Act as the platform API ``version`` (2 or 3) from the next request on."""
        from .server import check_api_version

        self._state.settings.api_version = check_api_version(version)

    def set_login_cookie(self, enabled: bool) -> None:
        self._state.settings.set_login_cookie = bool(enabled)

    def set_storage_credentials_lifetime(self, seconds: float) -> None:
        """How long credentials issued by ``GET /access`` from now on stay valid."""
        self._state.settings.storage_credentials_lifetime = float(seconds)

    def set_storage_min_part_size(self, size: int) -> None:
        """The smallest multipart part (but the last) the store accepts (S3: 5 MiB)."""
        self._state.settings.storage_min_part_size = int(size)

    def expire_storage_credentials(self) -> int:
        """Make every storage credential issued so far expired; returns how many."""
        return self._state.file_access.expire_all()

    def declare_connection(self, name: str, engine: str, dsn: str, label: Optional[str] = None) -> None:
        """A deployment's database connection (platform API 3.x ``/connections``):
        every user can use it, nobody can change it.  ``ValueError`` for an
        unknown engine or a DSN that does not parse (the message never holds it)."""
        self._state.connections.declare(name, engine, dsn, label)

    # -- rate limits, faults, logs ---------------------------------------------------

    def set_rate_limit(self, method: str, path: str, limit: int, window_seconds: float) -> RateLimit:
        """Allow ``limit`` requests per ``window_seconds`` on a route, then 429."""
        return self._state.rate_limits.set(method, path, limit, window_seconds)

    def clear_rate_limits(self) -> None:
        self._state.rate_limits.clear()

    @property
    def faults(self) -> FaultRegistry:
        return self._state.faults

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def reset_log(self) -> None:
        self._state.api_log.clear()
        self._state.storage_log.clear()
