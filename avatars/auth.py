"""Authentication strategies: plain :class:`requests.auth.AuthBase` objects.

* :class:`ApiKeyAuth` sends ``Authorization: api-key-v1 <key>``.
* :class:`TokenAuth` sends ``Authorization: Bearer <access token>`` and, when
  the server answers 401 and a refresh token is known, refreshes the tokens
  once (single-flight across threads) and re-sends the request once, from a
  response hook, with its body rewound.  It also refreshes shortly before a
  JWT access token's ``exp``.

Both work with plain ``requests`` (``requests.get(url, auth=ApiKeyAuth(k))``).
Given an ``origin`` (``"https://host:443"`` or any URL on it), they attach
credentials only to requests on that exact scheme, host and port; an
``ApiClient`` always gives its base URL's origin.

The 401 handling follows the pattern of ``requests.auth.HTTPDigestAuth``: the
hook consumes the 401, re-sends a copy of the prepared request through the same
adapter (same proxies, TLS settings and retry policy), and returns the new
response with the 401 in its ``history``.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple, Union

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from ._deadline import current_deadline

if TYPE_CHECKING:  # pragma: no cover
    from ._deadline import Deadline
from ._fork import reset_in_child
from ._resend import rewind, rewind_prepared
from ._urls import Origin, origin_of, same_origin
from .config import check_api_key
from .errors import AuthenticationError, AvatarError, ConfigurationError, RequestNotRetryableError, error_from_response

__all__ = [
    "ApiKeyAuth",
    "TokenAuth",
    "AuthTokens",
    "NoAuth",
    "jwt_expiry",
    "check_token",
    "rewind",
    "AUTH_ACTION_ATTR",
    "AUTH_ACTION_REFRESHED",
]

#: The attribute an auth strategy sets on a response to record what it did
#: (the client reads it instead of guessing from ``response.history``).
AUTH_ACTION_ATTR = "avatars_auth_action"
#: :data:`AUTH_ACTION_ATTR` value: the tokens were refreshed and the request re-sent.
AUTH_ACTION_REFRESHED = "refreshed-and-resent"

logger = logging.getLogger(__name__)

#: What a refresher returns: the new access token and, when the server rotated
#: it, the new refresh token (``None`` keeps the current one).
TokenPair = Tuple[str, Optional[str]]
Refresher = Callable[[str], TokenPair]
#: A refresher that is also given the deadline of the call that needs the
#: refresh (``None`` for a refresh made outside any call), to spend its budget.
BudgetedRefresher = Callable[[str, Optional["Deadline"]], TokenPair]


def _resolve_origin(origin: Union[str, Origin, None]) -> Optional[Origin]:
    if origin is None:
        return None
    if isinstance(origin, tuple):
        return origin
    resolved = origin_of(origin)
    if resolved is None:
        raise ConfigurationError(f"origin must be a URL such as https://host:port, got {origin!r}")
    return resolved


def _origin_text(origin: Optional[Origin]) -> Optional[str]:
    return None if origin is None else f"{origin[0]}://{origin[1]}:{origin[2]}"


def check_token(value: object, what: str) -> str:
    """A token usable in a header: a non-empty string of visible characters.

    Raises :class:`AuthenticationError` whose message never holds the token
    (requests would raise a builtin ``ValueError`` quoting the whole header).
    """
    if not isinstance(value, str) or not value:
        raise AuthenticationError(f"the {what} is missing or not a string")
    if any(ord(c) < 33 or ord(c) == 127 for c in value) or not value.isascii():
        raise AuthenticationError(
            f"the {what} contains white space, control or non-ASCII characters and cannot be sent in a header"
        )
    return value


def _mask(secret: Optional[str]) -> str:
    return "None" if secret is None else "'***'"


class NoAuth(AuthBase):
    """Sends no credentials, even on a session whose ``auth`` is set.

    Used for calls that must never carry a token (login, refresh, password
    reset), so that they bypass :class:`TokenAuth` entirely.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.pop("Authorization", None)
        return r

    def __repr__(self) -> str:
        return "NoAuth()"


class ApiKeyAuth(AuthBase):
    """``Authorization: api-key-v1 <key>``.

    >>> ApiKeyAuth("s3cr3t")
    ApiKeyAuth(key='***', origin=None)
    """

    scheme = "api-key-v1"

    def __init__(self, key: str, *, origin: Union[str, Origin, None] = None) -> None:
        self._key = check_api_key(key, name="API key")
        self.origin = _resolve_origin(origin)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.origin is None or same_origin(r.url or "", self.origin):
            r.headers["Authorization"] = f"{self.scheme} {self._key}"
        else:
            r.headers.pop("Authorization", None)
        return r

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKeyAuth) and other._key == self._key and other.origin == self.origin

    def __hash__(self) -> int:
        return hash((ApiKeyAuth, self._key, self.origin))

    def __repr__(self) -> str:
        return f"ApiKeyAuth(key='***', origin={_origin_text(self.origin)!r})"


class AuthTokens:
    """The access and refresh tokens of a username/password session.

    ``update`` takes a login response (an object with ``access_token`` and
    ``refresh_token`` attributes, or the same keys in a mapping).  ``repr()``
    never shows the tokens.
    """

    __slots__ = ("access", "refresh")

    def __init__(self, access: str, refresh: Optional[str] = None) -> None:
        self.access = access
        self.refresh = refresh

    def update(self, login_response: Any) -> None:
        """Take the tokens of a ``LoginResponse``; a missing refresh token keeps the current one."""
        if isinstance(login_response, Mapping):
            access = login_response.get("access_token")
            refresh = login_response.get("refresh_token")
        else:
            access = getattr(login_response, "access_token", None)
            refresh = getattr(login_response, "refresh_token", None)
        if not isinstance(access, str) or not access:
            raise AuthenticationError("the login response has no access token")
        self.access = check_token(access, "access token")
        if refresh:
            self.refresh = check_token(refresh, "refresh token")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthTokens) and (self.access, self.refresh) == (other.access, other.refresh)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"AuthTokens(access='***', refresh={_mask(self.refresh)})"


def notify_token_updater(updater: Optional[Callable[[AuthTokens], None]], tokens: AuthTokens) -> None:
    """Call a user's ``token_updater``; what it raises is logged, never raised
    (a failing callback must not break the call in flight)."""
    if updater is None:
        return
    try:
        updater(tokens)
    except Exception:
        logger.exception("token_updater raised; the new tokens are still in use")


def jwt_expiry(token: str) -> Optional[Tuple[float, Optional[float]]]:
    """``(exp, iat)`` read from a JWT's payload *without verifying it*, or ``None``.

    Only used to schedule a refresh; nothing else is trusted from it.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nested too deep
        return None
    if not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    iat = claims.get("iat")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    iat_f = float(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None
    return float(exp), iat_f


class TokenAuth(AuthBase):
    """``Authorization: Bearer <access>``, refreshed on 401 and before expiry.

    :param access_token: the current access token (or an :class:`AuthTokens`,
        which is then shared and kept up to date).
    :param refresh_token: the refresh token; without it, a 401 is final.
    :param refresher: ``refresher(refresh_token) -> (access, new_refresh_or_None)``.
        It must not itself go through this object.  When omitted and
        ``refresh_url`` is given, a plain ``POST refresh_url`` with the refresh
        token as form field ``token`` is used.
    :param token_updater: called with the :class:`AuthTokens` after every
        refresh, to persist them.  Exceptions it raises are logged, not raised.
    :param origin: only requests to this origin get the header.
    :param refresh_leeway: refresh this many seconds before ``exp`` (capped at
        a tenth of the token's lifetime when the JWT has ``iat``).
    :param budgeted_refresher: instead of ``refresher``:
        ``budgeted_refresher(refresh_token, deadline)``, also given the
        :class:`~avatars._deadline.Deadline` of the call that needs the refresh
        (``None`` outside a call), so that the refresh spends that call's
        budget.  :class:`~avatars.ApiClient` uses it; :meth:`for_call` binds a
        deadline to this strategy for one call.

    Thread-safe: threads that hit a 401 (or an expiring token) at the same time
    cause exactly one refresh; the others wait for it and use its result.
    """

    def __init__(
        self,
        access_token: Union[str, AuthTokens],
        refresh_token: Optional[str] = None,
        *,
        refresher: Optional[Refresher] = None,
        refresh_url: Optional[str] = None,
        token_updater: Optional[Callable[[AuthTokens], None]] = None,
        origin: Union[str, Origin, None] = None,
        refresh_leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
        budgeted_refresher: Optional[BudgetedRefresher] = None,
    ) -> None:
        if isinstance(access_token, AuthTokens):
            self.tokens = access_token
            if refresh_token is not None:
                self.tokens.refresh = refresh_token
        else:
            if not isinstance(access_token, str) or not access_token:
                raise ConfigurationError("access token is empty")
            self.tokens = AuthTokens(access_token, refresh_token)
        check_token(self.tokens.access, "access token")
        if self.tokens.refresh is not None:
            check_token(self.tokens.refresh, "refresh token")
        if refresher is None and refresh_url is not None:
            refresher = _PlainRefresher(refresh_url)
        if refresher is not None and budgeted_refresher is not None:
            raise ConfigurationError("pass refresher or budgeted_refresher, not both")
        if budgeted_refresher is None and refresher is not None:
            budgeted_refresher = _ignoring_deadline(refresher)
        self._refresher: Optional[BudgetedRefresher] = budgeted_refresher
        self._token_updater = token_updater
        self.origin = _resolve_origin(origin)
        self.refresh_leeway = float(refresh_leeway)
        self._clock = clock
        self._lock = threading.RLock()
        self._failed_refresh: Optional[str] = None
        #: Number of refreshes this object performed (handy in tests and metrics).
        self.refresh_count = 0
        reset_in_child(self, TokenAuth._after_fork)

    def _after_fork(self) -> None:
        # A child forked while another thread refreshed would wait forever on
        # the inherited (held) lock.
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ requests API

    def for_call(self, deadline: Optional[Deadline]) -> AuthBase:
        """This strategy for one call whose budget is ``deadline``: a refresh it
        triggers (before expiry, or on a 401) and the re-send spend that budget."""
        return _CallTokenAuth(self, deadline)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._apply(r, None)

    def _apply(self, r: requests.PreparedRequest, deadline: Optional[Deadline]) -> requests.PreparedRequest:
        if self.origin is not None and not same_origin(r.url or "", self.origin):
            r.headers.pop("Authorization", None)
            return r
        current = self.tokens.access  # read once: the check and the refresh judge the same token
        if self._expiring_soon(current):
            try:
                self._refresh(current, deadline)
            except AuthenticationError:
                raise
            except AvatarError as exc:
                # A network hiccup during a proactive refresh: the token is
                # still valid for a moment, so send with it; a 401 will retry.
                logger.warning("proactive token refresh failed (%s); using the current token", exc)
        access = self.tokens.access
        r.headers["Authorization"] = f"Bearer {access}"
        prepared: Any = r  # requests' register_hook is untyped; our marks are extra attributes
        prepared._avatars_access = access
        hook = self.handle_401 if deadline is None else functools.partial(self._handle_401, deadline=deadline)
        prepared.register_hook("response", hook)
        return r

    def handle_401(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        """Response hook: on a 401, refresh once and re-send the request once."""
        return self._handle_401(r, deadline=None, **kwargs)

    def _handle_401(self, r: requests.Response, *, deadline: Optional[Deadline], **kwargs: Any) -> requests.Response:
        if r.status_code != 401:
            return r
        request = r.request
        if request is None or getattr(request, "_avatars_resent", False):
            return r
        if self.origin is not None and not same_origin(request.url or "", self.origin):
            return r
        used = getattr(request, "_avatars_access", None)
        if used is None:
            return r
        # Plain reads, no lock: the lock is held during a refresh, and waiting
        # for it here, with this 401's connection still checked out of the
        # pool, could starve the refresh of a connection (pool_block=True).
        can_refresh = bool(self.tokens.refresh) and self._refresher is not None
        refreshed_meanwhile = self.tokens.access != used
        if not can_refresh and not refreshed_meanwhile:
            return r
        # Done with the 401: read it, and give its connection back to the pool
        # before waiting for (or doing) the refresh.
        _ = r.content
        r.close()
        if deadline is None:
            # Not bound to a call by the client (plain requests use): the
            # budget, if any, is the one of the call in progress.
            deadline = current_deadline()
        self._refresh(used, deadline)
        if self._expiring_soon(self.tokens.access):
            # Refreshed by another thread a while ago and about to expire
            # already (short-lived tokens, many threads): re-send with a token
            # that is valid now.
            self._refresh(self.tokens.access, deadline)
        if not rewind_prepared(request):
            raise RequestNotRetryableError(
                "the access token expired and was refreshed, but this request's body is a "
                "stream that cannot be rewound, so it was not re-sent; call again with a "
                "fresh body (or pass bytes, a path or a seekable file)",
                method=request.method,
                url=request.url,
            )
        prep = request.copy()
        cookies = getattr(prep, "_cookies", None)
        if cookies is not None and r.raw is not None:
            extract: Any = extract_cookies_to_jar  # untyped in requests
            extract(cookies, request, r.raw)
            prep.headers.pop("Cookie", None)
            prep.prepare_cookies(cookies)
        access = self.tokens.access
        prep.headers["Authorization"] = f"Bearer {access}"
        marked: Any = prep
        marked._avatars_access = access
        marked._avatars_resent = True
        logger.debug("re-sending %s after a token refresh", prep.method)
        connection = r.connection
        if connection is None:  # pragma: no cover - requests always sets it
            return r
        if deadline is not None:
            # The re-send spends the call's budget (the refresh already did).
            deadline.attempts += 1
            if "timeout" in kwargs:
                kwargs["timeout"] = deadline.cap(kwargs["timeout"])
        new = connection.send(prep, **kwargs)
        new.history.append(r)
        new.request = prep
        setattr(new, AUTH_ACTION_ATTR, AUTH_ACTION_REFRESHED)
        return new

    # ------------------------------------------------------------------ refreshing

    def refresh(self) -> None:
        """Refresh now (single-flight with any concurrent refresh)."""
        self._refresh(self.tokens.access, current_deadline())

    def _expiring_soon(self, access: Optional[str] = None) -> bool:
        if not self.tokens.refresh or self._refresher is None:
            return False
        info = jwt_expiry(self.tokens.access if access is None else access)
        if info is None:
            return False
        exp, iat = info
        leeway = self.refresh_leeway
        if iat is not None and exp > iat:
            leeway = min(leeway, (exp - iat) / 10.0)
        return self._clock() >= exp - leeway

    def _refresh(self, stale_access: str, deadline: Optional[Deadline] = None) -> None:
        # Waiting for another thread's refresh is bounded by this call's budget.
        wait = -1.0 if deadline is None else max(deadline.remaining(), 0.0)
        if not self._lock.acquire(timeout=wait):
            assert deadline is not None
            raise deadline.error(None, None, "waiting for the token refresh of another thread")
        try:
            self._refresh_locked(stale_access, deadline)
        finally:
            self._lock.release()

    def _refresh_locked(self, stale_access: str, deadline: Optional[Deadline]) -> None:
        if self.tokens.access != stale_access:
            return  # another thread refreshed while we waited
        refresh_token = self.tokens.refresh
        if not refresh_token or self._refresher is None:
            raise AuthenticationError("the access token was rejected and there is no refresh token")
        if self._failed_refresh is not None and self._failed_refresh == refresh_token:
            raise AuthenticationError("the session has expired (the refresh token was rejected); authenticate again")
        try:
            access, new_refresh = self._refresher(refresh_token, deadline)
        except AuthenticationError as exc:
            self._failed_refresh = refresh_token
            raise AuthenticationError(
                f"the session has expired (refreshing the access token failed: {exc.detail}); authenticate again",
                status_code=exc.status_code,
                method=exc.method,
                url=exc.url,
                request_id=exc.request_id,
            ) from None
        if not access:
            raise AuthenticationError("the refresh response carried no access token")
        check_token(access, "access token from the refresh")
        if new_refresh:
            check_token(new_refresh, "refresh token from the refresh")
        self.tokens.access = access
        if new_refresh:
            self.tokens.refresh = new_refresh
        self.refresh_count += 1
        logger.debug("access token refreshed")
        notify_token_updater(self._token_updater, self.tokens)

    def __repr__(self) -> str:
        return f"TokenAuth(tokens={self.tokens!r}, origin={_origin_text(self.origin)!r})"


def _ignoring_deadline(refresher: Refresher) -> BudgetedRefresher:
    """A plain ``refresher(token)`` as a :data:`BudgetedRefresher` (it runs
    within the call's budget through the adapters, not by argument)."""

    def budgeted(token: str, deadline: Optional[Deadline]) -> TokenPair:
        return refresher(token)

    return budgeted


class _CallTokenAuth(AuthBase):
    """A :class:`TokenAuth` bound to the deadline of one call (:meth:`TokenAuth.for_call`)."""

    __slots__ = ("strategy", "deadline")

    def __init__(self, strategy: TokenAuth, deadline: Optional[Deadline]) -> None:
        self.strategy = strategy
        self.deadline = deadline

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self.strategy._apply(r, self.deadline)

    def __repr__(self) -> str:
        return repr(self.strategy)


class _PlainRefresher:
    """``POST refresh_url`` with ``token=<refresh>`` in the form body (never the URL)."""

    def __init__(self, refresh_url: str, timeout: Tuple[float, float] = (10.0, 60.0)) -> None:
        self.refresh_url = refresh_url
        self.timeout = timeout

    def __call__(self, refresh_token: str) -> TokenPair:
        response = requests.post(self.refresh_url, data={"token": refresh_token}, auth=NoAuth(), timeout=self.timeout)
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            body = response.json()
        except ValueError:
            raise AuthenticationError("the refresh response is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise AuthenticationError("the refresh response has no access_token")
        refresh = body.get("refresh_token")
        return body["access_token"], refresh if isinstance(refresh, str) else None

    def __repr__(self) -> str:
        return f"_PlainRefresher({self.refresh_url!r})"


#: Kept for callers of the old private name; the rule lives in :mod:`avatars._resend`.
_rewind_body = rewind_prepared
