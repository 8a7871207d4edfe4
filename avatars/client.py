"""``ApiClient``: the low-level client of the Avatar API.

One client owns (or borrows) one :class:`requests.Session`.  Every facade
(``client.jobs``, ``client.users``, ...) goes through :meth:`ApiClient.request`,
the one road for HTTP: it joins the path to the base URL, applies the timeout,
TLS verification, ``User-Agent`` and credentials, maps transport failures and
error statuses to :mod:`avatars.errors`, and logs one DEBUG line per call
(never a secret).
"""

from __future__ import annotations

import json as _json
import logging
import re
import socket
import threading
import time
import warnings
from types import TracebackType
from typing import Any, Callable, Mapping, Optional, Type, Union

import requests
from requests.auth import AuthBase
from urllib3.exceptions import InsecureRequestWarning

from ._urls import Origin, join_url, origin_of, strip_userinfo
from .auth import ApiKeyAuth, AuthTokens, NoAuth, TokenAuth, TokenPair, notify_token_updater, rewind
from .config import DEFAULT_TIMEOUT, NO_TIMEOUT, ClientConfig, Timeout, normalize_timeout
from .errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    ProxyError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    TLSError,
    TransportError,
    _text_excerpt,
    error_from_response,
    method_of,
    redact_url,
    request_id_of,
)
from .models import FileAccess, LoginResponse
from .resources.api_keys import ApiKeys
from .resources.auth import Auth
from .resources.compatibility import Compatibility
from .resources.datasets import Datasets
from .resources.health import Health
from .resources.jobs import Jobs
from .resources.openapi import OpenApi
from .resources.resources import ResourceSets
from .resources.results import ResultFiles
from .resources.users import Users
from .session import CALL_DEADLINE, AvatarSession, user_agent
from .storage.client import StorageClient

__all__ = ["ApiClient", "AuthTokens", "InsecureTLSWarning"]

logger = logging.getLogger("avatars")


class InsecureTLSWarning(UserWarning):
    """TLS certificate verification was turned off for a client."""


def _describe_timeout(timeout: Any) -> str:
    if isinstance(timeout, tuple):
        return f"connect {timeout[0]:g} s, read {timeout[1]:g} s"
    if timeout is None:
        return "no timeout"
    return f"{timeout:g} s"


class _Deadline:
    """A total time budget for one call: closes the connection when it runs out.

    Connect and read timeouts bound each wait, not the whole call: a server
    that trickles one byte a second never trips a 60 s read timeout.  The
    watchdog shuts the socket down at the deadline; the read then fails and
    the call raises :class:`~avatars.errors.ApiTimeoutError`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.expired = False
        self.bound = False
        self._timer: Optional[threading.Timer] = None

    def remaining(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.start))

    def cap(self, timeout: Any) -> Any:
        left = max(self.remaining(), 0.001)
        if timeout is None:
            return (left, left)
        if isinstance(timeout, tuple):
            return (min(timeout[0], left), min(timeout[1], left))
        return min(float(timeout), left)

    def watch(self, response: requests.Response) -> None:
        raw = response.raw
        conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is None:
            return

        def fire() -> None:
            self.expired = True
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        self._timer = threading.Timer(self.remaining(), fire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def bind(self, response: requests.Response) -> None:
        """Keep watching while the caller streams the body; stop when the
        connection is released (body fully read) or the response closed."""
        self.bound = True
        holder: Any = response
        holder._avatars_deadline = self
        for owner, name in ((response, "close"), (response.raw, "release_conn")):
            original = getattr(owner, name, None)
            if original is None:
                continue

            def stop(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.cancel()
                return _original(*args, **kwargs)

            setattr(owner, name, stop)

    def error(self, method: str, url: str) -> ApiTimeoutError:
        return ApiTimeoutError(
            f"the call did not complete within its total budget of {self.seconds:g} s", method=method, url=url
        )


class ApiClient:
    """The Avatar API client.

    Use it when you need one endpoint precisely; for the everyday flow
    (upload, run, wait, fetch results) :class:`avatars.Manager` is shorter.

    :param base_url: the API URL, ending in ``/api``.
    :param timeout: default ``(connect, read)`` seconds, or one number for
        both (default ``(10, 60)``).  Every method also takes ``timeout=``;
        ``None`` there means this default, :data:`avatars.NO_TIMEOUT` none.
    :param should_verify_ssl: ``True``, ``False`` (warns once), or the path of
        a CA bundle.  When left unset (``None``), a client-made session
        verifies against the system/``certifi`` store (or
        ``REQUESTS_CA_BUNDLE``), and an injected ``http_client`` keeps its own
        ``verify``.  When set, it wins over the session's ``verify``.
    :param verify_auth: when True (the default), a call that needs credentials
        on a client that has none raises :class:`AuthenticationError` before
        anything is sent.
    :param http_client: a configured :class:`requests.Session` (proxies,
        adapters with a ``urllib3.Retry``, ``verify``, ``cert``, headers,
        hooks...).  It is used as is and never closed by the client.
    :param api_key: authenticate every call with ``Authorization: api-key-v1``.
    :param config: a :class:`ClientConfig` instead of the four values above.
    :param total_timeout: a budget in seconds for each whole call (connect,
        send, wait, and read the answer), on top of the per-phase timeout.
    :param rate_limit_wait: when set, a 429 answer is retried after its
        ``Retry-After``, as long as the waits add up to at most this many
        seconds; otherwise (the default) a 429 raises :class:`RateLimitError`.
    :param token_updater: called with :class:`AuthTokens` after :meth:`authenticate`
        and after each refresh, to persist them.
    :param storage_endpoint_url: the object store (default: ``base_url`` with
        its final ``/api`` replaced by ``/storage``; also ``ClientConfig`` and
        ``AVATAR_STORAGE_ENDPOINT_URL``).  See :attr:`storage`.

    The client is a context manager; leaving it closes a session it created.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        timeout: Optional[Timeout] = None,
        should_verify_ssl: Optional[Union[bool, str]] = None,
        verify_auth: bool = True,
        http_client: Optional[requests.Session] = None,
        api_key: Optional[str] = None,
        config: Optional[ClientConfig] = None,
        total_timeout: Optional[float] = None,
        rate_limit_wait: Optional[float] = None,
        token_updater: Optional[Callable[[AuthTokens], None]] = None,
        storage_endpoint_url: Optional[str] = None,
    ) -> None:
        if config is not None:
            given = [
                name
                for name, value in (
                    ("base_url", base_url),
                    ("timeout", timeout),
                    ("should_verify_ssl", should_verify_ssl),
                    ("api_key", api_key),
                    ("storage_endpoint_url", storage_endpoint_url),
                )
                if value is not None
            ]
            if given:
                raise ConfigurationError(
                    f"pass either config or {', '.join(given)}, not both "
                    "(use config.with_changes(...) to adjust a config)"
                )
            if not isinstance(config, ClientConfig):
                raise ConfigurationError(f"config must be a ClientConfig, got {type(config).__name__}")
        else:
            if base_url is None:
                raise ConfigurationError(
                    "no base_url: pass base_url='https://host/api' or config=ClientConfig(...) "
                    "(ClientConfig.from_env() reads AVATAR_BASE_API_URL and friends)"
                )
            config = ClientConfig(
                base_url=base_url,
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                should_verify_ssl=should_verify_ssl,
                api_key=api_key,
                storage_endpoint_url=storage_endpoint_url,
            )
        if http_client is not None and not isinstance(http_client, requests.Session):
            raise ConfigurationError(f"http_client must be a requests.Session, got {type(http_client).__name__}")
        if total_timeout is not None and (isinstance(total_timeout, bool) or total_timeout <= 0):
            raise ConfigurationError("total_timeout must be a positive number of seconds")
        if rate_limit_wait is not None and (isinstance(rate_limit_wait, bool) or rate_limit_wait < 0):
            raise ConfigurationError("rate_limit_wait must be a non-negative number of seconds")

        self._config = config
        self.base_url: str = config.base_url  # normalised by ClientConfig
        self.origin: Optional[Origin] = origin_of(self.base_url)
        self.timeout: Timeout = config.timeout
        self.verify_auth: bool = bool(verify_auth)
        self.total_timeout = total_timeout
        self.rate_limit_wait = rate_limit_wait
        self._token_updater = token_updater
        self._closed = False

        self._owns_session = http_client is None
        if http_client is None:
            self._session: requests.Session = AvatarSession(self.base_url, timeout=self.timeout)
        else:
            self._session = http_client
        self._extra_headers = self._headers_for_injected_session()

        self._verify_override: Optional[Union[bool, str]] = config.should_verify_ssl
        if self._verify_override is False:
            host = _host(self.base_url)
            warnings.warn(
                InsecureTLSWarning(
                    f"TLS certificate verification is OFF for {self.base_url}: anyone on the "
                    "network path can read and change this traffic. Prefer should_verify_ssl="
                    "'/path/to/ca-bundle.pem' for a private certificate authority."
                ),
                stacklevel=2,
            )
            # urllib3 would warn again on every request to this host; the user
            # has been told once, clearly, above.
            warnings.filterwarnings(
                "ignore",
                message=rf"Unverified HTTPS request is being made to host '{host}'",
                category=InsecureRequestWarning,
            )

        self.auth_tokens: Optional[AuthTokens] = None
        self._auth: Optional[AuthBase] = None
        if config.api_key is not None:
            self._auth = ApiKeyAuth(config.api_key, origin=self.origin)
        self._install_auth()

        # Facades: one per API group.
        self.auth = Auth(self)
        self.api_keys = ApiKeys(self)
        self.compatibility = Compatibility(self)
        self.datasets = Datasets(self)
        self.health = Health(self)
        self.jobs = Jobs(self)
        self.openapi = OpenApi(self)
        self.resources = ResourceSets(self)
        self.results = ResultFiles(self)
        self.users = Users(self)
        # The object store (uploads, downloads, listing): see avatars.storage.StorageClient.
        self.storage = StorageClient(self, config.storage_url)

    # ------------------------------------------------------------------ object storage (platform SDK names)

    def upload_file(self, data: Any, key: str) -> None:
        """Upload ``data`` (a path, or a pandas DataFrame written as CSV; also a
        binary file or bytes) under ``key`` in your storage prefix.

        The platform SDK's name and signature; :meth:`Datasets.upload
        <avatars.resources.datasets.Datasets.upload>` returns what was stored
        and takes progress and multipart options.
        """
        self.datasets.upload(data, key)

    def download_file(self, file_access: FileAccess) -> Union[str, bytes]:
        """The content of the object ``file_access`` grants: ``bytes`` for
        ``.pdf`` and ``.docx`` files, UTF-8 text otherwise (as the platform SDK)."""
        if not isinstance(file_access, FileAccess):
            raise RequestValidationError(
                f"file_access must be a FileAccess, got {type(file_access).__name__}", field="file_access"
            )
        location = self.storage.remember(file_access)
        content = self.storage.download(location)
        assert isinstance(content, bytes)
        if location.key.lower().endswith((".pdf", ".docx")):
            return content
        return content.decode("utf-8")

    # ------------------------------------------------------------------ properties

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def session(self) -> requests.Session:
        """The underlying :class:`requests.Session` (yours, if you injected one)."""
        return self._session

    @property
    def should_verify_ssl(self) -> Union[bool, str]:
        """The effective TLS verification (``True``, ``False`` or a CA bundle path)."""
        if self._verify_override is not None:
            return self._verify_override
        verify = self._session.verify
        return True if verify is None else verify

    @property
    def auth_strategy(self) -> Optional[AuthBase]:
        """The auth object attached to requests (:class:`ApiKeyAuth`, :class:`TokenAuth` or None)."""
        return self._auth

    @property
    def api_key_in_use(self) -> bool:
        return isinstance(self._auth, ApiKeyAuth)

    # ------------------------------------------------------------------ authentication

    def authenticate(self, username: str, password: str, timeout: Optional[Timeout] = None) -> None:
        """Log in with username and password; later calls use bearer tokens,
        refreshed automatically (on a 401 and shortly before expiry)."""
        if self.api_key_in_use:
            raise ConfigurationError(
                "this client authenticates with an API key; authenticate(username, password) "
                "is for clients created without api_key"
            )
        login = self.auth.login(username, password, timeout=timeout)
        self.set_tokens(login)
        if self.auth_tokens is not None:
            notify_token_updater(self._token_updater, self.auth_tokens)

    def set_tokens(self, tokens: Union[LoginResponse, AuthTokens, Mapping[str, Any]]) -> None:
        """Use existing tokens (e.g. persisted by a ``token_updater``) without logging in."""
        if self.api_key_in_use:
            raise ConfigurationError("this client authenticates with an API key; it takes no tokens")
        if isinstance(tokens, AuthTokens):
            auth_tokens = AuthTokens(tokens.access, tokens.refresh)
        else:
            auth_tokens = AuthTokens("", None)
            auth_tokens.update(tokens)
        self.auth_tokens = auth_tokens
        self._auth = TokenAuth(
            auth_tokens,
            refresher=self._refresh_tokens,
            token_updater=self._token_updater,
            origin=self.origin,
        )
        self._install_auth()

    def logout(self, timeout: Optional[Timeout] = None) -> None:
        """End the session on the server (``POST /logout``) and forget the tokens;
        later calls need :meth:`authenticate` again."""
        if not isinstance(self._auth, TokenAuth):
            raise ConfigurationError("logout() ends a username/password session; this client has none")
        self.auth.logout(timeout=timeout)
        self.auth_tokens = None
        self._auth = None
        self._install_auth()

    def forgotten_password(self, email: str, timeout: Optional[Timeout] = None) -> None:
        """Ask the platform to e-mail a password-reset token."""
        self.auth.forgotten_password(email, timeout=timeout)

    def reset_password(
        self,
        email: str,
        new_password: str,
        new_password_repeated: str,
        token: Any,
        timeout: Optional[Timeout] = None,
    ) -> None:
        """Set a new password with the token from the reset e-mail."""
        self.auth.reset_password(email, new_password, new_password_repeated, token, timeout=timeout)

    def _refresh_tokens(self, refresh_token: str) -> TokenPair:
        login = self.auth.refresh(refresh_token)
        return login.access_token, login.refresh_token

    def _install_auth(self) -> None:
        if isinstance(self._session, AvatarSession):
            self._session.auth = self._auth

    # ------------------------------------------------------------------ the one road for HTTP

    def url_for(self, path: str) -> str:
        return join_url(self.base_url, path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Any = None,
        stream: bool = False,
        auth_required: bool = True,
        send_auth: bool = True,
        allow_redirects: bool = True,
        total_timeout: Optional[float] = None,
        auth: Optional[AuthBase] = None,
    ) -> requests.Response:
        """Send one request and return the response, or raise a typed error.

        ``path`` is relative to the base URL (or an absolute URL; credentials
        are attached only on the API's origin).  ``auth`` replaces the API's
        strategy for this one call (the object-storage signer uses it: its
        own credentials, for its own origin).  An error status raises the
        matching :class:`~avatars.errors.ApiError`; a transport failure a
        :class:`~avatars.errors.TransportError`.  With ``stream=True`` the
        caller must read or close the response.
        """
        if self._closed:
            raise ConfigurationError("this client is closed")
        method = method.upper()
        url = self.url_for(path)
        if auth is None and auth_required and send_auth and self.verify_auth and self._auth is None:
            raise AuthenticationError(
                "this call needs credentials and the client has none: pass api_key=... "
                "or call authenticate(username, password) first (or verify_auth=False)",
                method=method,
                url=url,
            )
        budget_s = total_timeout if total_timeout is not None else self.total_timeout
        kwargs: dict[str, Any] = {
            "params": params,
            "data": data,
            "timeout": self._timeout_for(timeout),
            "allow_redirects": allow_redirects,
            # None leaves the session's own auth in charge (ours, or an injected session's).
            "auth": auth if auth is not None else (self._auth if send_auth else NoAuth()),
            "json": json,
        }
        merged_headers = dict(self._extra_headers)
        if headers:
            merged_headers.update(headers)
        if merged_headers:
            kwargs["headers"] = merged_headers
        verify = self._verify_for_request()
        if verify is not None:
            kwargs["verify"] = verify
        if self._session.proxies:
            # The session's own proxies win over HTTP(S)_PROXY, which requests
            # would otherwise let override them (psf/requests#2018).
            kwargs["proxies"] = dict(self._session.proxies)

        waited = 0.0
        start_position = _body_position(data)
        while True:
            response = self._send(method, url, kwargs, stream=stream, budget_s=budget_s)
            if response.status_code != 429 or self.rate_limit_wait is None:
                break
            error = error_from_response(response, method=method)
            assert isinstance(error, RateLimitError)
            wait = error.retry_after if error.retry_after is not None else 1.0
            if waited + wait > self.rate_limit_wait or not rewind(data, start_position):
                raise error
            logger.info("avatars: rate limited on %s %s; retrying in %.1f s", method, redact_url(url), wait)
            time.sleep(wait)
            waited += wait

        if response.status_code >= 400:
            if response.status_code == 407:
                response.close()
                raise _proxy_auth_error(method, url)
            error = error_from_response(response, method=method)
            if isinstance(error, AuthenticationError) and response.history:
                error = AuthenticationError(
                    f"{error.detail} (still rejected after refreshing the access token)",
                    status_code=error.status_code,
                    method=error.method,
                    url=url,
                    request_id=error.request_id,
                    body=error.body,
                    headers=error.headers,
                    response=response,
                )
            raise error
        return response

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the decoded JSON body (or :class:`ResponseDecodeError`)."""
        response = self.request(method, path, **kwargs)
        return self.decode_json(response)

    @staticmethod
    def decode_json(response: requests.Response) -> Any:
        """The JSON of ``response``; a readable :class:`ResponseDecodeError` otherwise."""
        method = method_of(response)
        request_id = request_id_of(response)
        content = response.content
        if not content:
            raise ResponseDecodeError(
                f"empty body where JSON was expected ({response.status_code})",
                method=method,
                url=response.url,
                status_code=response.status_code,
                request_id=request_id,
            )
        try:
            return _json.loads(content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            excerpt = _text_excerpt(content[:2000].decode("utf-8", errors="replace"))
            raise ResponseDecodeError(
                f"the response is not valid JSON ({response.status_code}, {kind}): {excerpt!r}",
                method=method,
                url=response.url,
                status_code=response.status_code,
                request_id=request_id,
            ) from None

    def _send(
        self, method: str, url: str, kwargs: dict[str, Any], *, stream: bool, budget_s: Optional[float]
    ) -> requests.Response:
        started = time.monotonic()
        deadline = _Deadline(budget_s) if budget_s is not None else None
        send_kwargs = dict(kwargs)
        if deadline is not None:
            send_kwargs["timeout"] = deadline.cap(send_kwargs["timeout"])
            send_kwargs["stream"] = True
        else:
            send_kwargs["stream"] = stream
        if send_kwargs["timeout"] is None and isinstance(self._session, AvatarSession):
            send_kwargs["timeout"] = NO_TIMEOUT  # None would mean "the default" there
        budget_token = CALL_DEADLINE.set(deadline.start + deadline.seconds) if deadline is not None else None
        try:
            try:
                response = self._session.request(method, url, **send_kwargs)
                if deadline is not None:
                    deadline.watch(response)
                    if stream and response.status_code < 400:
                        # The caller reads the body: the budget covers that too,
                        # until the body is fully read or the response closed.
                        deadline.bind(response)
                    else:
                        _ = response.content
            finally:
                if budget_token is not None:
                    CALL_DEADLINE.reset(budget_token)
                if deadline is not None and not deadline.bound:
                    deadline.cancel()
        except AvatarError:
            raise
        except requests.exceptions.RequestException as exc:
            if deadline is not None and (deadline.expired or deadline.remaining() <= 0):
                raise deadline.error(method, url) from None
            raise _map_transport_error(exc, method, url, kwargs.get("timeout")) from None
        if deadline is not None and deadline.expired:
            response.close()
            raise deadline.error(method, url)
        if not send_kwargs["stream"] or (deadline is not None and not deadline.bound):
            _check_complete(response, method, url)
        if logger.isEnabledFor(logging.DEBUG):
            rid = request_id_of(response)
            logger.debug(
                "%s %s -> %s in %.0f ms%s",
                method,
                redact_url(response.url or url),
                response.status_code,
                (time.monotonic() - started) * 1000,
                f" [request id {rid}]" if rid else "",
            )
        return response

    def _timeout_for(self, timeout: Any) -> Optional[Timeout]:
        """The concrete requests timeout for a call (``None``: wait forever)."""
        if timeout is NO_TIMEOUT:
            return None
        if timeout is None:
            return self.timeout
        return normalize_timeout(timeout)

    def _verify_for_request(self) -> Optional[Union[bool, str]]:
        if self._verify_override is not None:
            return self._verify_override
        if self._owns_session:
            return None
        # An injected session's own verify wins over REQUESTS_CA_BUNDLE, which
        # requests would otherwise let override it (psf/requests#3829).
        verify = self._session.verify
        return None if verify is True or verify is None else verify

    def _headers_for_injected_session(self) -> dict[str, str]:
        if isinstance(self._session, AvatarSession):
            return {}
        ua = user_agent()
        raw = self._session.headers.get("User-Agent")
        current = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        default = requests.utils.default_user_agent()
        if current and current != default and not current.startswith("avatar-python/"):
            ua = f"{ua} {current}"
        return {"User-Agent": ua}

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the session if this client created it (an injected one is left open)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if isinstance(self._auth, ApiKeyAuth):
            scheme = "api-key"
        elif isinstance(self._auth, TokenAuth):
            scheme = "bearer"
        else:
            scheme = "none"
        return f"ApiClient(base_url={self.base_url!r}, auth={scheme})"


def _check_complete(response: requests.Response, method: str, url: str) -> None:
    """A body shorter than its Content-Length means the connection broke while
    reading it (urllib3 1.26 does not check this itself)."""
    if method == "HEAD" or response.status_code in (204, 304):
        return
    if response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return
    declared = response.headers.get("Content-Length")
    if declared is None or not declared.strip().isdigit():
        return
    received = len(response.content)
    if received < int(declared):
        raise ApiConnectionError(
            f"the connection to {_host(url)} broke while reading the answer (received {received} of {declared} bytes)",
            method=method,
            url=url,
        )


def _body_position(data: Any) -> Optional[int]:
    tell = getattr(data, "tell", None)
    if tell is None:
        return None
    try:
        return int(tell())
    except (OSError, ValueError):
        return None


def _map_transport_error(
    exc: requests.exceptions.RequestException, method: str, url: str, timeout: Any
) -> TransportError:
    text = strip_userinfo(str(exc))
    host = _host(url)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = _ssl_reason(text)
        return TLSError(f"TLS error talking to {host}: {reason}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ProxyError):
        if _PROXY_407.search(text):
            return _proxy_auth_error(method, url)
        return ProxyError(f"could not go through the proxy: {_short(text)}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ApiTimeoutError(f"connecting to {host} timed out ({_describe_timeout(timeout)})", method=method, url=url)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ApiTimeoutError(f"{host} did not answer in time ({_describe_timeout(timeout)})", method=method, url=url)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return ApiConnectionError(f"the connection to {host} broke while reading the answer", method=method, url=url)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return ResponseDecodeError(f"could not decode the compressed answer from {host}", method=method, url=url)
    if isinstance(exc, requests.exceptions.RetryError):
        return ApiConnectionError(f"gave up on {host} after retries: {_short(text)}", method=method, url=url)
    if isinstance(
        exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
    ):
        return ApiConnectionError(f"invalid URL: {_short(text)}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        cause = getattr(exc.args[0] if exc.args else None, "reason", None)
        if "timed out" in text.lower() or "timeout" in type(cause).__name__.lower():
            waited = _describe_timeout(timeout)
            return ApiTimeoutError(f"{host} did not answer in time ({waited})", method=method, url=url)
        if "refused" in text.lower():
            return ApiConnectionError(f"connection to {host} refused (is the server running?)", method=method, url=url)
        if "reset" in text.lower() or "aborted" in text.lower() or "remote end closed" in text.lower():
            return ApiConnectionError(
                f"the connection to {host} was closed before an answer arrived", method=method, url=url
            )
        return ApiConnectionError(f"could not reach {host}: {_short(text)}", method=method, url=url)
    return TransportError(f"request failed: {_short(text)}", method=method, url=url)


def _host(url: str) -> str:
    """The host of ``url``, for messages."""
    return (origin_of(url) or ("", "?", 0))[1]


def _proxy_auth_error(method: str, url: str) -> ProxyError:
    """407 from an HTTP proxy (an answer) or a CONNECT tunnel (an exception): one message."""
    return ProxyError(
        "the proxy requires authentication (407 Proxy Authentication Required): check the proxy user and password",
        method=method,
        url=url,
    )


#: urllib3's CONNECT failure ("Tunnel connection failed: 407 Proxy Authentication Required").
_PROXY_407 = re.compile(r"(failed: 407\b|\b407 Proxy Authentication)", re.IGNORECASE)


def _short(text: str, limit: int = 300) -> str:
    """One line; urllib3's "XConnectionPool(...): Max retries exceeded ... (Caused by E)" reduced to E."""
    text = " ".join(text.split())
    marker = "(Caused by "
    if marker in text:
        text = text[text.index(marker) + len(marker) :].rstrip(")")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ssl_reason(text: str) -> str:
    lowered = text.lower()
    if "certificate verify failed" in lowered:
        detail = "certificate verify failed"
        for marker in (
            "unable to get local issuer certificate",
            "self-signed certificate",
            "self signed certificate",
            "hostname mismatch",
            "certificate has expired",
            "ip address mismatch",
        ):
            if marker in lowered:
                detail += f" ({marker})"
                break
        return detail + "; pass should_verify_ssl='/path/to/ca.pem' (or set REQUESTS_CA_BUNDLE) for a private CA"
    if "certificate required" in lowered or "alert certificate required" in lowered:
        return "the server requires a client certificate (set cert= on your session)"
    if "eof occurred in violation of protocol" in lowered or "unexpected eof" in lowered:
        return (
            "the server closed the connection during the TLS handshake "
            "(does it require a client certificate? set cert= on your session)"
        )
    if "wrong version number" in lowered or "record layer failure" in lowered:
        return "the server does not speak TLS on this port (should the URL be http://?)"
    return _short(text)
