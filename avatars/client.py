"""``ApiClient``: the low-level client of the Avatar API.

One client owns (or borrows) one :class:`requests.Session`.  Every facade
(``client.jobs``, ``client.users``, ...) goes through :meth:`ApiClient.request`,
the one road for HTTP: it resolves the call through its
:class:`~avatars._policy.CallPolicy` (URL, timeout, TLS verification, proxies,
``User-Agent``; the same object an :class:`AvatarSession` it builds uses),
attaches credentials, maps transport failures and
error statuses to :mod:`avatars.errors`, and logs one DEBUG line per call
(never a secret).
"""

from __future__ import annotations

import json as _json
import logging
import math
import time
import warnings
from types import TracebackType
from typing import Any, Callable, Mapping, Optional, Type, Union

import requests
import urllib3
from requests.auth import AuthBase
from urllib3.exceptions import InsecureRequestWarning

from . import _created
from ._bounded import DEFAULT_MAX_RESPONSE_BYTES, read_bounded
from ._deadline import DEFAULT_TOTAL_TIMEOUT, Deadline, check_total_timeout, current_deadline
from ._deadline import keep_for_body as watch_streamed_body
from ._fork import reset_in_child, reset_session_pools
from ._policy import CallPolicy
from ._resend import RedirectGuard, rewind
from ._transport_errors import check_json_body, host_of, map_transport_error, proxy_auth_error
from ._urls import Origin, same_origin
from .auth import (
    AUTH_ACTION_ATTR,
    AUTH_ACTION_REFRESHED,
    ApiKeyAuth,
    AuthTokens,
    NoAuth,
    TokenAuth,
    TokenPair,
    notify_token_updater,
)
from .config import ClientConfig, Timeout
from .errors import (
    ApiConnectionError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    CredentialsRequiredError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    _text_excerpt,
    error_from_response,
    method_of,
    redact_url,
    request_id_of,
)
from .models import FileAccess, LoginResponse
from .resources.api_keys import ApiKeys
from .resources.auth import Auth
from .resources.capabilities import Capabilities
from .resources.compatibility import Compatibility
from .resources.connections import Connections
from .resources.datasets import Datasets
from .resources.event_logs import EventLogs
from .resources.health import Health
from .resources.jobs import Jobs
from .resources.openapi import OpenApi
from .resources.resources import ResourceSets
from .resources.results import ResultFiles
from .resources.users import Users
from .session import AvatarSession
from .storage.client import StorageClient

__all__ = ["ApiClient", "AuthTokens", "InsecureTLSWarning", "MIN_RATE_LIMIT_WAIT", "MAX_RATE_LIMIT_RETRIES"]

#: With ``rate_limit_wait``, each wait lasts at least this long, whatever the
#: ``Retry-After`` says (0, negative, a past date), and a call waits at most
#: :data:`MAX_RATE_LIMIT_RETRIES` times.
MIN_RATE_LIMIT_WAIT = 0.5
MAX_RATE_LIMIT_RETRIES = 10

logger = logging.getLogger(__name__)


class InsecureTLSWarning(UserWarning):
    """TLS certificate verification was turned off for a client."""


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
    :param config: a :class:`ClientConfig` instead of the four values above
        (then nothing is read from the environment).
    :param total_timeout: a budget in seconds for each whole call (connect,
        send, wait for and read the answer, retries, rate-limit waits and a
        token refresh made inside the call), on top of the per-phase timeout.
        Default: ``config.total_timeout`` (300 s).  Always finite.  For a
        ``stream=True`` call, a budget set here (or per call) also covers
        reading the streamed body; the default budget ends when the headers
        have arrived (the read timeout still bounds each wait).
    :param rate_limit_wait: when set, a 429 answer is retried after its
        ``Retry-After`` (at least :data:`MIN_RATE_LIMIT_WAIT` s, at most
        :data:`MAX_RATE_LIMIT_RETRIES` times), as long as the waits add up to
        at most this many seconds and fit the total budget; otherwise (the
        default) a 429 raises :class:`RateLimitError`.
    :param max_response_bytes: the largest answer, after decompression, a
        call reads into memory (default 64 MiB); beyond it, or at a
        decompression ratio above 200:1, :class:`ResponseTooLargeError`.
    :param token_updater: called with :class:`AuthTokens` after :meth:`authenticate`
        and after each refresh, to persist them.
    :param storage_endpoint_url: the object store (default: ``base_url`` with
        its final ``/api`` replaced by ``/storage``; also ``ClientConfig`` and
        ``AVATAR_STORAGE_ENDPOINT_URL``).  See :attr:`storage`.

    Each of ``base_url``, ``timeout``, ``should_verify_ssl`` and ``api_key``
    left out is read from its ``AVATAR_*`` variable (see
    :mod:`avatars.config`), as :class:`Manager` and the ``avatars`` command
    do; :meth:`from_env` says so explicitly.

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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        storage_endpoint_url: Optional[str] = None,
    ) -> None:
        #: An API key read from AVATAR_API_KEY gives way to an explicit login.
        self._api_key_from_env = config is None and api_key is None
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
            # The one rule (avatars.config): each value given here wins, else its
            # AVATAR_* variable, else the default.
            config = ClientConfig.from_env(
                base_url=base_url,
                timeout=timeout,
                should_verify_ssl=should_verify_ssl,
                api_key=api_key,
                storage_endpoint_url=storage_endpoint_url,
            )
        if http_client is not None and not isinstance(http_client, requests.Session):
            raise ConfigurationError(f"http_client must be a requests.Session, got {type(http_client).__name__}")
        if rate_limit_wait is not None and (
            isinstance(rate_limit_wait, bool)
            or not isinstance(rate_limit_wait, (int, float))
            or not math.isfinite(rate_limit_wait)
            or rate_limit_wait < 0
        ):
            raise ConfigurationError(
                f"rate_limit_wait must be a finite, non-negative number of seconds, got {rate_limit_wait!r}"
            )
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes <= 0:
            raise ConfigurationError("max_response_bytes must be a positive whole number of bytes")

        self._config = config
        self._api_key_from_env = self._api_key_from_env and config.api_key is not None
        self.base_url: str = config.base_url  # normalised by ClientConfig
        self.timeout: Timeout = config.timeout
        self.verify_auth: bool = bool(verify_auth)
        #: The whole-call budget of every call, in seconds (always finite).
        budget = config.total_timeout if total_timeout is None else check_total_timeout(total_timeout)
        self.total_timeout: float = DEFAULT_TOTAL_TIMEOUT if budget is None else budget
        #: True when the budget was chosen by the caller (it then covers streamed bodies too).
        self._budget_explicit = budget is not None
        self.rate_limit_wait = rate_limit_wait
        self.max_response_bytes = max_response_bytes
        self._token_updater = token_updater
        self._closed = False

        self._owns_session = http_client is None
        if http_client is None:
            own = AvatarSession(self.base_url, timeout=self.timeout)
            self._session: requests.Session = own
            #: The per-call policy (URL, timeout...), shared with the session built here.
            self._policy = own.policy
        else:
            self._session = http_client
            self._policy = CallPolicy(self.base_url, self.timeout)
            # A child process must not share the injected session's pooled connections either.
            reset_in_child(self._session, reset_session_pools)
        self.origin: Optional[Origin] = self._policy.origin
        self._extra_headers = CallPolicy.headers_for(self._session, owned=self._owns_session)
        #: What a call to the API's own origin adds: the created-operation protocol's header too.
        self._origin_headers = {**_created.REQUEST_HEADERS, **self._extra_headers}

        self._verify_override: Optional[Union[bool, str]] = config.should_verify_ssl
        if self._verify_override is False:
            host = host_of(self.base_url)
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
        self.capabilities = Capabilities(self)
        self.compatibility = Compatibility(self)
        self.connections = Connections(self)
        self.datasets = Datasets(self)
        self.event_logs = EventLogs(self)
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

    @classmethod
    def from_env(
        cls,
        env: Optional[Mapping[str, str]] = None,
        *,
        base_url: Optional[str] = None,
        timeout: Optional[Timeout] = None,
        should_verify_ssl: Optional[Union[bool, str]] = None,
        api_key: Optional[str] = None,
        storage_endpoint_url: Optional[str] = None,
        **client_options: Any,
    ) -> ApiClient:
        """A client configured from the ``AVATAR_*`` variables of ``env`` (default
        ``os.environ``); the values given here win over them.  ``client_options``
        go to the constructor (``http_client``, ``total_timeout``...)."""
        config = ClientConfig.from_env(
            env,
            base_url=base_url,
            timeout=timeout,
            should_verify_ssl=should_verify_ssl,
            api_key=api_key,
            storage_endpoint_url=storage_endpoint_url,
        )
        client = cls(config=config, **client_options)
        client._api_key_from_env = api_key is None and config.api_key is not None
        return client

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
        """The auth object attached to requests (:class:`ApiKeyAuth`, :class:`TokenAuth` or None).

        Typed as any ``AuthBase``; for the attributes of one strategy, use the
        typed accessors :attr:`token_auth` and :attr:`api_key_auth`."""
        return self._auth

    @property
    def token_auth(self) -> TokenAuth:
        """The :class:`TokenAuth` of a username/password session (``refresh_count``,
        ``tokens``...); :class:`ConfigurationError` when the client has none."""
        if not isinstance(self._auth, TokenAuth):
            raise ConfigurationError("this client has no username/password session: call authenticate() first")
        return self._auth

    @property
    def api_key_auth(self) -> ApiKeyAuth:
        """The :class:`ApiKeyAuth` of a client created with an API key;
        :class:`ConfigurationError` otherwise."""
        if not isinstance(self._auth, ApiKeyAuth):
            raise ConfigurationError("this client does not authenticate with an API key")
        return self._auth

    @property
    def api_key_in_use(self) -> bool:
        return isinstance(self._auth, ApiKeyAuth)

    # ------------------------------------------------------------------ authentication

    def authenticate(
        self, username: Optional[str] = None, password: Optional[str] = None, timeout: Optional[Timeout] = None
    ) -> None:
        """Log in with username and password; later calls use bearer tokens,
        refreshed automatically (on a 401 and shortly before expiry).

        Left out, ``username`` and ``password`` come from the configuration
        (``AVATAR_USERNAME`` and ``AVATAR_PASSWORD``).  An API key that came
        from ``AVATAR_API_KEY`` gives way to this explicit login."""
        if self.api_key_in_use and not self._api_key_from_env:
            raise ConfigurationError(
                "this client authenticates with an API key; authenticate(username, password) "
                "is for clients created without api_key"
            )
        username, password = self._config.credentials(username, password)
        login = self.auth.login(username, password, timeout=timeout)
        self.set_tokens(login)
        if self.auth_tokens is not None:
            notify_token_updater(self._token_updater, self.auth_tokens)

    def set_tokens(self, tokens: Union[LoginResponse, AuthTokens, Mapping[str, Any]]) -> None:
        """Use existing tokens (e.g. persisted by a ``token_updater``) without logging in."""
        if self.api_key_in_use and not self._api_key_from_env:
            raise ConfigurationError("this client authenticates with an API key; it takes no tokens")
        if self.api_key_in_use:
            logger.info("the API key from AVATAR_API_KEY gives way to the username/password session")
        if isinstance(tokens, AuthTokens):
            auth_tokens = AuthTokens(tokens.access, tokens.refresh)
        else:
            auth_tokens = AuthTokens("", None)
            auth_tokens.update(tokens)
        self.auth_tokens = auth_tokens
        self._auth = TokenAuth(
            auth_tokens,
            budgeted_refresher=self._refresh_tokens,
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

    def _refresh_tokens(self, refresh_token: str, deadline: Optional[Deadline]) -> TokenPair:
        # The refresh is part of the call that needed it: it spends that call's budget.
        login = self.auth.refresh(refresh_token, deadline=deadline)
        return login.access_token, login.refresh_token

    def _install_auth(self) -> None:
        # Every call passes its strategy explicitly; the slot of a session the
        # client owns is kept in step for code that uses client.session directly
        # (an injected session's own auth is the caller's and left alone).
        if self._owns_session:
            self._session.auth = self._auth

    # ------------------------------------------------------------------ the one road for HTTP

    def url_for(self, path: str) -> str:
        return self._policy.url_for(path)

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
        secret_body: Optional[bool] = None,
        deadline: Optional[Deadline] = None,
    ) -> requests.Response:
        """Send one request and return the response, or raise a typed error.

        ``path`` is relative to the base URL (or an absolute URL; credentials
        are attached only on the API's origin).  ``auth`` replaces the API's
        strategy for this one call (the object-storage signer uses it: its
        own credentials, for its own origin).  An error status raises the
        matching :class:`~avatars.errors.ApiError`; a transport failure a
        :class:`~avatars.errors.TransportError`.  With ``stream=True`` the
        caller must read or close the response.

        ``secret_body=True`` says the body holds a secret (e.g. storage
        credentials): no redirect to another origin is followed for it, whatever
        the code (:class:`~avatars.errors.RedirectRefusedError`).  By default a
        call sent without credentials (``send_auth=False``) that has a body is
        treated so (login, refresh, password reset).  Any body is refused a
        307/308 redirect to another origin.  ``total_timeout`` bounds this one
        call (default: the client's).

        ``deadline`` makes this call part of another one: it spends that
        call's :class:`~avatars._deadline.Deadline` (a token refresh made for a
        call gets it from the auth strategy) instead of starting its own
        budget; ``total_timeout``, when given and shorter, still applies.
        """
        if self._closed:
            raise ConfigurationError("this client is closed")
        method = method.upper()
        url = self._policy.url_for(path)
        if auth is None and auth_required and send_auth and self.verify_auth and self._auth is None:
            raise CredentialsRequiredError(
                "this call needs credentials and the client has none: pass api_key=... "
                "or call authenticate(username, password) first (or verify_auth=False); nothing was sent",
                method=method,
                url=url,
            )
        budget_s = self.total_timeout if total_timeout is None else check_total_timeout(total_timeout)
        check_json_body(json)
        if secret_body is None:
            # A body sent without the API's credentials on a call that needs
            # none is a credential exchange (login form, refresh token, reset).
            secret_body = not send_auth and (data is not None or json is not None)
        kwargs: dict[str, Any] = {
            "params": params,
            "data": data,
            "timeout": self._policy.timeout_for(timeout),
            "allow_redirects": allow_redirects,
            # None leaves the session's own auth in charge (ours, or an injected session's).
            "auth": auth if auth is not None else (self._auth if send_auth else NoAuth()),
            "json": json,
            # requests lets a call's hooks replace the session's: keep those first.
            "hooks": {"response": [*self._session.hooks.get("response", ()), RedirectGuard.of(bool(secret_body))]},
        }
        # The headers every call to this URL's origin gets, built once per client
        # (never changed in place: requests copies them into the prepared request).
        merged_headers = self._origin_headers if same_origin(url, self.origin) else self._extra_headers
        if headers:
            _check_headers(headers)
            merged_headers = {**merged_headers, **headers}
        if merged_headers:
            kwargs["headers"] = merged_headers
        kwargs.update(
            CallPolicy.send_options(self._session, owned=self._owns_session, verify_override=self._verify_override)
        )

        # One deadline for the whole call.  A call made for another one (a
        # token refresh) is handed that call's deadline and spends its budget;
        # a call made from code that was not handed it (a refresher of yours
        # calling the client) joins the call in progress in this thread.
        outer = deadline if deadline is not None else current_deadline()
        deadline = outer if outer is not None else Deadline(budget_s)
        if outer is not None and budget_s < outer.remaining():
            deadline = Deadline(budget_s)
            deadline.attempts = outer.attempts
        if isinstance(kwargs["auth"], TokenAuth):
            # The strategy gets the call's deadline with the call, for a refresh it makes.
            kwargs["auth"] = kwargs["auth"].for_call(deadline)
        keep_for_body = stream and (self._budget_explicit or total_timeout is not None)
        response = self._send_with_rate_limit(method, url, kwargs, data, deadline, stream, keep_for_body)
        response = _created.follow(
            self, method, response, kwargs, stream=stream, deadline=deadline, keep_for_body=keep_for_body
        )

        if response.status_code >= 400:
            if response.status_code == 407:
                response.close()
                raise proxy_auth_error(method, url)
            error = error_from_response(response, method=method)
            if isinstance(error, AuthenticationError) and getattr(response, AUTH_ACTION_ATTR, None) == (
                AUTH_ACTION_REFRESHED
            ):
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

    def _send_with_rate_limit(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        data: Any,
        deadline: Deadline,
        stream: bool,
        keep_for_body: bool,
    ) -> requests.Response:
        """:meth:`_send`, waiting and re-sending on a 429 when ``rate_limit_wait`` allows."""
        waited = 0.0
        waits = 0
        start_position = _body_position(data)
        while True:
            response = self._send(method, url, kwargs, stream=stream, deadline=deadline, keep_for_body=keep_for_body)
            if response.status_code != 429 or self.rate_limit_wait is None:
                return response
            error = error_from_response(response, method=method)
            assert isinstance(error, RateLimitError)
            wait = max(MIN_RATE_LIMIT_WAIT, error.retry_after if error.retry_after is not None else 1.0)
            if (
                waits >= MAX_RATE_LIMIT_RETRIES
                or waited + wait > self.rate_limit_wait
                or wait >= deadline.remaining()
                or not rewind(data, start_position)
            ):
                raise error
            logger.info("rate limited on %s %s; retrying in %.1f s", method, redact_url(url), wait)
            time.sleep(wait)
            waited += wait
            waits += 1
            deadline.attempts += 1

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the decoded JSON body (or :class:`ResponseDecodeError`)."""
        response = self.request(method, path, **kwargs)
        return self.decode_json(response)

    @staticmethod
    def decode_json(response: requests.Response) -> Any:
        """The JSON of ``response``; a readable :class:`ResponseDecodeError` otherwise."""
        content = response.content

        def failure(problem: str) -> ResponseDecodeError:
            return ResponseDecodeError(
                problem,
                method=method_of(response),
                url=response.url,
                status_code=response.status_code,
                request_id=request_id_of(response),
            )

        if not content:
            raise failure(f"empty body where JSON was expected ({response.status_code})")
        try:
            if content[:1] in _JSON_STARTS and content[1:2] != b"\x00":
                # What json.loads(bytes) decodes this as (no BOM, not UTF-16/32), minus its detection.
                return _json.loads(content.decode("utf-8", "surrogatepass"))
            return _json.loads(content)
        except RecursionError:
            raise failure(f"the JSON of the response is nested too deeply to decode ({response.status_code})") from None
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            excerpt = _text_excerpt(content[:2000].decode("utf-8", errors="replace"))
            raise failure(f"the response is not valid JSON ({response.status_code}, {kind}): {excerpt!r}") from None

    def _send(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        *,
        stream: bool,
        deadline: Deadline,
        keep_for_body: bool,
    ) -> requests.Response:
        started = time.monotonic()
        send_kwargs = dict(kwargs)
        send_kwargs["timeout"] = deadline.cap(send_kwargs["timeout"])
        send_kwargs["stream"] = True
        # The call that armed the deadline disarms it; a call made for it (a
        # refresh, a poll) finds it armed already.
        owner = not deadline.armed
        if owner:
            deadline.arm()
        token = deadline.enter()
        failure: Optional[AvatarError] = None
        keep = False
        response: Optional[requests.Response] = None
        try:
            response = self._session.request(method, url, **send_kwargs)
            if response.raw is not None:
                # Pools the library did not build (an injected session's) do not
                # report the connection: watch the answer while its body is read.
                deadline.attach_answer(response.raw)
            if stream and response.status_code < 400:
                keep = keep_for_body
                if keep:
                    watch_streamed_body(deadline, response)
            else:
                read_bounded(response, self.max_response_bytes)
                if deadline.expired:
                    # urllib3 1.26 reads a shut-down socket as a short body.
                    raise deadline.error(method, url)
                _check_complete(response, method, url)
        except AvatarError as exc:
            failure = exc
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            failure = map_transport_error(exc, method, url, kwargs.get("timeout"), deadline)
        finally:
            Deadline.leave(token)
            if owner and not keep:
                deadline.disarm()
        if failure is not None:
            if response is not None:
                response.close()
            # The call's one DEBUG line, for a call that got no answer.
            logger.debug("%s %s -> %s in %.0f ms", method, redact_url(url), type(failure).__name__, _ms_since(started))
            # Raised outside the except block: the error keeps no __context__
            # (requests' exceptions hold the prepared request, credentials included).
            raise failure
        assert response is not None
        if deadline.expired and not keep:
            response.close()
            raise deadline.error(method, url)
        if logger.isEnabledFor(logging.DEBUG):
            rid = request_id_of(response)
            logger.debug(
                "%s %s -> %s in %.0f ms%s",
                method,
                redact_url(response.url or url),
                response.status_code,
                _ms_since(started),
                f" [request id {rid}]" if rid else "",
            )
        return response

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


#: First bytes of an object or array in UTF-8 (or ASCII).
_JSON_STARTS = (b"{", b"[")


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _check_complete(response: requests.Response, method: str, url: str) -> None:
    """A body shorter than its Content-Length means the connection broke while
    reading it (urllib3 1.26 does not check this itself)."""
    if method == "HEAD" or response.status_code in (204, 304):
        return
    if response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return
    declared = response.headers.get("Content-Length")
    if declared is None or not declared.isascii() or not declared.strip().isdigit():
        return
    received = len(response.content)
    if received < int(declared):
        raise ApiConnectionError(
            f"the connection to {host_of(url)} broke while reading the answer "
            f"(received {received} of {declared} bytes)",
            method=method,
            url=url,
        )


def _check_headers(headers: Mapping[str, Any]) -> None:
    """Refuse header names/values that cannot go on the wire (the value is not echoed)."""
    for name, value in headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if not isinstance(name, str) or not isinstance(text, str):
            raise RequestValidationError("header names and values must be strings", field="headers")
        if (
            not name
            or any(ord(c) <= 32 or ord(c) == 127 or c == ":" for c in name)
            or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text)
        ):
            raise RequestValidationError(
                f"header {name!r} has an invalid name or a value with control characters; nothing was sent"
                if name.isprintable()
                else "a header name holds control characters; nothing was sent",
                field="headers",
            )


def _body_position(data: Any) -> Optional[int]:
    tell = getattr(data, "tell", None)
    if tell is None:
        return None
    try:
        return int(tell())
    except (OSError, ValueError):
        return None
