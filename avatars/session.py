"""``AvatarSession``: a :class:`requests.Session` that knows the Avatar API.

It adds four things to a plain session, and nothing else:

* a base URL: relative paths (``"jobs"`` or ``"/jobs"``) are joined to it,
  absolute URLs are used as given;
* a default timeout, used when a call passes none (``timeout=None`` also means
  "the default"; pass :data:`avatars.NO_TIMEOUT` to wait forever);

  both decided by its :class:`~avatars._policy.CallPolicy` (``session.policy``),
  the same object :class:`~avatars.ApiClient` resolves its calls with;
* ``User-Agent: avatar-anonymization-client/<version> requests/<version>``;
* credential hygiene across origins: a redirect that leaves the API's origin
  (scheme, host and port) carries neither ``Authorization`` nor a cookie; the
  cookie jar never sends cookies to another origin.

The auth strategy lives in the ordinary ``auth`` slot.  The default retry
policy (:func:`default_retry`) is mounted on the session's adapters.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import urllib.request
from email.utils import parsedate_to_datetime
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit
from urllib.request import Request as UrllibRequest

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.sessions import merge_setting
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from ._deadline import current_deadline, watch_pools
from ._fork import reset_in_child, reset_session_pools
from ._policy import CallPolicy, user_agent
from ._urls import Origin, same_origin
from .config import Timeout

__all__ = [
    "AvatarSession",
    "AvatarRetry",
    "AvatarAdapter",
    "parse_retry_after",
    "default_retry",
    "user_agent",
    "DEFAULT_POOL_MAXSIZE",
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
]

logger = logging.getLogger(__name__)

#: Methods the default policy may retry after the request went out.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Gateway answers the default policy retries (for idempotent methods only).
RETRY_STATUSES = frozenset({502, 503, 504})
#: Connections kept per host; threads beyond it wait for a free connection
#: instead of opening throw-away ones.
DEFAULT_POOL_MAXSIZE = 16

_URLLIB3_MAJOR = int(str(getattr(urllib3, "__version__", "2")).split(".")[0])


def _budget_left() -> Optional[float]:
    deadline = current_deadline()
    return None if deadline is None else deadline.remaining()


def _cap_to_budget(seconds: float) -> float:
    left = _budget_left()
    return seconds if left is None else min(seconds, left)


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` value (delta-seconds, decimals tolerated,
    or an HTTP date); ``None`` when it is absent or unusable (negative, NaN,
    text): the caller then falls back to its own backoff."""
    if value is None:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return number if math.isfinite(number) and number >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


class AvatarRetry(Retry):
    """``urllib3.Retry`` that caps how long a ``Retry-After`` may make it sleep.

    A gateway asking for an hour would otherwise block the call for an hour;
    waits above :attr:`max_retry_after` seconds are shortened to it.  Within a
    call that has a total budget (``ApiClient(total_timeout=...)``), waits are
    shortened to what is left of it, and no attempt starts once it is spent.
    """

    max_retry_after: float = 30.0

    def increment(
        self,
        method: Optional[str] = None,
        url: Optional[str] = None,
        response: Any = None,
        error: Optional[Exception] = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> AvatarRetry:
        new: AvatarRetry = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = current_deadline()
        if deadline is not None and deadline.remaining() > 0.0:
            deadline.attempts += 1  # another attempt follows
        if _budget_left() == 0.0:
            # The call's total budget (ApiClient total_timeout) is spent: no
            # further attempt.  urllib3 returns the last answer, or raises the
            # last error, as when the retries run out.
            raise MaxRetryError(_pool, url or "", error or ResponseError("the call's total time budget ran out"))
        return new

    def get_backoff_time(self) -> float:
        return _cap_to_budget(float(super().get_backoff_time()))

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # urllib3 would also retry any 413/429 that carries Retry-After; a rate
        # limit is the caller's to handle (RateLimitError, or the client's
        # opt-in rate_limit_wait), unless the policy lists it explicitly.
        if status_code in (413, 429) and status_code not in (self.status_forcelist or ()):
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def parse_retry_after(self, retry_after: str) -> float:
        # urllib3 raises InvalidHeader on "-5", "abc" or "1.5", which would
        # lose the 503 and its retry; an unusable value means "no hint".
        value = parse_retry_after(retry_after)
        return self.get_backoff_time() if value is None else value

    def get_retry_after(self, response: Any) -> Optional[float]:
        raw = response.headers.get("Retry-After") if response is not None else None
        value = parse_retry_after(raw)
        if value is None:
            return None
        return _cap_to_budget(float(min(value, self.max_retry_after)))


def default_retry(
    total: int = 3,
    *,
    backoff_factor: float = 0.5,
    backoff_max: float = 10.0,
    max_retry_after: float = 30.0,
) -> Retry:
    """The library's retry policy, for urllib3 1.26 and 2.x alike.

    * connection errors (nothing was sent yet) are retried for every method;
    * 502, 503 and 504 answers are retried for idempotent methods only
      (GET, HEAD, PUT, DELETE, OPTIONS), honouring ``Retry-After`` up to
      ``max_retry_after`` seconds;
    * a request whose body went out and then failed (a reset, a read timeout)
      is retried only when idempotent; a POST is never re-sent;
    * at most ``total`` retries (``total + 1`` attempts in all), with
      exponential backoff capped at ``backoff_max`` seconds.  When retries run
      out, the last answer is returned (and turned into a typed error by the
      client);
    * a 429 (or 413) is never retried here, even with ``Retry-After``: the
      client raises :class:`~avatars.RateLimitError`, or waits when asked to
      (``ApiClient(rate_limit_wait=...)``).
    """
    attrs: dict[str, Any] = {"max_retry_after": float(max_retry_after)}
    kwargs: dict[str, Any] = dict(
        total=total,
        connect=total,
        read=total,
        status=total,
        redirect=False,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
    )
    if _URLLIB3_MAJOR >= 2:
        kwargs["other"] = 0
        kwargs["backoff_max"] = backoff_max
    else:  # urllib3 1.26 reads the cap from a class attribute (two spellings over 1.26.x)
        attrs["DEFAULT_BACKOFF_MAX"] = backoff_max
        attrs["BACKOFF_MAX"] = backoff_max
    # A subclass per policy keeps the settings through Retry.new(), which
    # re-creates the object from its constructor arguments on every attempt.
    cls = type("AvatarRetry", (AvatarRetry,), attrs)
    return cls(**kwargs)  # type: ignore[no-any-return]


class AvatarAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connection pools report to the call's deadline, so
    that ``total_timeout`` also bounds the header phase."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        known = proxy in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not known and isinstance(manager, urllib3.ProxyManager):
            watch_pools(manager)
        return manager


class _OriginCookiePolicy(DefaultCookiePolicy):
    """Return cookies only to the origin that set them (port and scheme included).

    The standard policy matches on the domain alone, so a cookie from
    ``http://127.0.0.1:8000`` would go to ``http://127.0.0.1:9000`` too.
    """

    def __init__(self, origin: Optional[Origin]) -> None:
        super().__init__()
        self._origin = origin

    def return_ok(self, cookie: Cookie, request: UrllibRequest) -> bool:
        if self._origin is not None and not same_origin(request.get_full_url(), self._origin):
            return False
        return bool(super().return_ok(cookie, request))


class _EnvironmentProxies:
    """``requests.utils.get_environ_proxies(url, no_proxy)``, remembered while
    ``os.environ`` stays the same.

    requests reads the proxy variables on every call by walking the whole
    environment twice (``getproxies_environment``, once for the bypass check
    and once for the proxies): about 70 us per call with 40 variables, a
    tenth of a local call.  The answer depends on the environment and on the
    URL's scheme, host and port only, where proxies come from the
    environment alone (Linux and other POSIX systems; not macOS or Windows,
    which also read system settings).  So it is kept per (scheme, host, port,
    ``no_proxy``) next to a copy of the environment, and thrown away the
    moment the environment differs from that copy (one dict comparison per
    call): a variable set, changed or removed between two calls is seen by
    the next call, exactly as requests sees it.
    """

    def __init__(self) -> None:
        #: (the environment the answers were found in, the answers by key)
        self._state: Tuple[Dict[Any, Any], Dict[Any, Dict[str, str]]] = ({}, {})

    @staticmethod
    def usable() -> bool:
        """Proxies come from the environment alone, and it can be compared cheaply."""
        utils: Any = requests.utils
        return (
            getattr(utils, "getproxies", None) is urllib.request.getproxies_environment
            and getattr(utils, "proxy_bypass", None) is getattr(urllib.request, "proxy_bypass_environment", False)
            and isinstance(getattr(os.environ, "_data", None), dict)
        )

    def get(self, url: str, no_proxy: Optional[str]) -> Dict[str, str]:
        environ: Dict[Any, Any] = getattr(os.environ, "_data")  # noqa: B009 - checked by usable()
        try:
            parts = urlsplit(url)
            key: Any = (parts.scheme, parts.hostname, parts.port, no_proxy)
        except ValueError:
            key = None
        seen, answers = self._state
        if key is not None and seen == environ:
            known = answers.get(key)
            if known is not None:
                return dict(known)
        before = dict(environ)
        found: Dict[str, str] = dict(requests.utils.get_environ_proxies(url, no_proxy=no_proxy))
        if key is not None and before == environ:  # the environment did not change meanwhile
            if seen != before:
                answers = {}
                self._state = (before, answers)
            if len(answers) < 64:
                answers[key] = dict(found)
        return found


_ENV_PROXIES = _EnvironmentProxies()


class AvatarSession(requests.Session):
    """A :class:`requests.Session` bound to one Avatar API.

    :param base_url: the API URL, ending in ``/api``.
    :param timeout: the default ``(connect, read)`` timeout, or seconds.
    :param auth: the auth strategy (:class:`~avatars.ApiKeyAuth`,
        :class:`~avatars.TokenAuth`, or any ``AuthBase``).
    :param retry: the ``urllib3.Retry`` for the adapters (default:
        :func:`default_retry`); ``0`` or ``False`` disables retries.
    :param pool_maxsize: connections kept per host (``pool_block`` is on, so
        more threads than this wait instead of opening extra connections).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: Optional[Timeout] = None,
        auth: Optional[AuthBase] = None,
        retry: Union[Retry, int, bool, None] = None,
        pool_maxsize: int = DEFAULT_POOL_MAXSIZE,
    ) -> None:
        super().__init__()
        #: The per-call policy: base URL, origin, default timeout.
        self.policy = CallPolicy(base_url, timeout)
        self.auth = auth
        self.headers["User-Agent"] = user_agent()
        self.cookies.set_policy(_OriginCookiePolicy(self.origin))
        if retry is None:
            retry = default_retry()
        elif retry is False:
            retry = 0
        for prefix in ("https://", "http://"):
            self.mount(
                prefix,
                AvatarAdapter(
                    max_retries=retry,
                    pool_connections=4,
                    pool_maxsize=pool_maxsize,
                    pool_block=True,
                ),
            )

        reset_in_child(self, reset_session_pools)

    @property
    def base_url(self) -> str:
        return self.policy.base_url

    @property
    def origin(self) -> Optional[Origin]:
        return self.policy.origin

    @property
    def default_timeout(self) -> Timeout:
        return self.policy.timeout

    def url_for(self, path: str) -> str:
        """The absolute URL for ``path`` (relative paths join the base URL)."""
        return self.policy.url_for(path)

    def request(
        self,
        method: Union[str, bytes],
        url: Union[str, bytes],
        params: Any = None,
        data: Any = None,
        headers: Optional[Mapping[str, Any]] = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Optional[Mapping[str, str]] = None,
        hooks: Any = None,
        stream: Optional[bool] = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """As :meth:`requests.Session.request`, with a relative ``url`` joined to
        the base URL and ``timeout=None`` meaning the default timeout."""
        if isinstance(url, bytes):
            url = url.decode("utf-8")
        if isinstance(method, bytes):
            method = method.decode("ascii")
        return super().request(
            method,
            self.policy.url_for(url),
            params=params,
            data=data,
            headers=headers,
            cookies=cookies,
            files=files,
            auth=auth,
            timeout=self.policy.timeout_for(timeout),
            allow_redirects=allow_redirects,
            proxies=proxies,  # type: ignore[arg-type]
            hooks=hooks,
            stream=stream,
            verify=verify,
            cert=cert,
            json=json,
        )

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """requests' merge of the call's settings with the environment and the
        session, with the proxy variables read through a cache that is dropped
        whenever the environment changes (see :class:`_EnvironmentProxies`):
        the same answer, without walking the environment twice per call."""
        if not (self.trust_env and proxies is not None and isinstance(url, str) and _EnvironmentProxies.usable()):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is True or verify is None:
            named = (os.environ.get("REQUESTS_CA_BUNDLE"), os.environ.get("CURL_CA_BUNDLE"))
            bundle = named[0] or named[1]
            if bundle:
                verify = bundle
            elif verify is True or named != (None, None):
                # requests versions differ here (the call's True or the
                # session's verify; an empty variable): requests' own code decides.
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
        for scheme, proxy in _ENV_PROXIES.get(url, proxies.get("no_proxy")).items():
            proxies.setdefault(scheme, proxy)
        merge: Any = merge_setting  # untyped in requests' stubs
        return {
            "proxies": merge(proxies, self.proxies),
            "stream": merge(stream, self.stream),
            "verify": merge(verify, self.verify),
            "cert": merge(cert, self.cert),
        }

    def resolve_timeout(self, timeout: Any) -> Optional[Timeout]:
        """``None`` gives the default; :data:`NO_TIMEOUT` gives "no timeout"
        (see :meth:`CallPolicy.timeout_for <avatars._policy.CallPolicy.timeout_for>`)."""
        return self.policy.timeout_for(timeout)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if self.origin is not None and not same_origin(prepared.url or "", self.origin):
            # Cookies passed explicitly for this call are the caller's business;
            # the session's own jar never leaves the API origin (policy above).
            if not request.cookies:
                prepared.headers.pop("Cookie", None)
        return prepared

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect: requests' own rules, then strip credentials and cookies
        whenever the new URL is not on the API origin."""
        parent: Any = super()  # Session.rebuild_auth is untyped
        parent.rebuild_auth(prepared_request, response)
        if self.origin is not None and not same_origin(prepared_request.url or "", self.origin):
            if "Authorization" in prepared_request.headers:
                del prepared_request.headers["Authorization"]
            prepared_request.headers.pop("Cookie", None)
            logger.debug("redirect left the API origin; credentials and cookies dropped")

    def __repr__(self) -> str:
        return f"AvatarSession(base_url={self.base_url!r}, auth={self.auth!r})"
