"""Per-call policy of one API: the one owner of "where does this call go, and
how long may each phase wait".

A :class:`CallPolicy` holds the base URL, its origin and the default timeout,
and answers, for one call:

* :meth:`~CallPolicy.url_for`: relative paths (``"jobs"`` or ``"/jobs"``)
  join the base URL, absolute URLs are used as given;
* :meth:`~CallPolicy.timeout_for`: ``None`` means the default timeout,
  :data:`avatars.NO_TIMEOUT` means none, anything else is checked
  (``nan``, ``inf``, negative values and non-numbers are a
  :class:`~avatars.errors.ConfigurationError`, before anything is sent);
* :meth:`~CallPolicy.send_options`: what a session the library did not build
  needs with each call so that it behaves like the library's own
  (``verify`` and ``proxies`` that win over the environment, our
  ``User-Agent``).

:class:`~avatars.ApiClient` and :class:`~avatars.AvatarSession` share one
policy object when the client builds its session; an injected session gets
the same answers because the client resolves every call through its policy
before handing it to the session.  Resolving twice is harmless: an absolute
URL and a concrete timeout come back unchanged.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import requests

from ._urls import Origin, join_url, origin_of
from ._version import DISTRIBUTION, __version__
from .config import DEFAULT_TIMEOUT, NO_TIMEOUT, Timeout, normalize_base_url, normalize_timeout

__all__ = ["CallPolicy", "user_agent"]

_REQUESTS_VERSION = str(getattr(requests, "__version__", "unknown"))
_INF = float("inf")


def user_agent() -> str:
    """``avatar-anonymization-client/<version> requests/<version>``: our own product and
    version (``/check_client`` may answer ``unknown``: advice, never a gate)."""
    return f"{DISTRIBUTION}/{__version__} requests/{_REQUESTS_VERSION}"


class CallPolicy:
    """Base URL, origin and default timeout of one API, and the per-call rules.

    :param base_url: the API URL (checked and normalised).
    :param timeout: the default ``(connect, read)`` timeout or seconds
        (``None``: :data:`avatars.config.DEFAULT_TIMEOUT`).
    """

    __slots__ = ("base_url", "origin", "timeout")

    def __init__(self, base_url: str, timeout: Optional[Timeout] = None) -> None:
        self.base_url: str = normalize_base_url(base_url)
        self.origin: Optional[Origin] = origin_of(self.base_url)
        checked = normalize_timeout(timeout)
        self.timeout: Timeout = DEFAULT_TIMEOUT if checked is None else checked

    def url_for(self, path: str) -> str:
        """The absolute URL for ``path`` (relative paths join the base URL)."""
        return join_url(self.base_url, path)

    def timeout_for(self, timeout: Any) -> Optional[Timeout]:
        """The concrete requests timeout of a call: ``None`` gives the default,
        :data:`~avatars.NO_TIMEOUT` gives ``None`` (wait forever)."""
        if timeout is None:
            return self.timeout
        if timeout is NO_TIMEOUT:
            return None
        if type(timeout) is tuple and len(timeout) == 2:
            # Already resolved (the client hands the session a capped pair of
            # floats): returned as is, as normalize_timeout would return it.
            connect, read = timeout
            if type(connect) is float and type(read) is float and 0.0 < connect < _INF and 0.0 < read < _INF:
                return timeout
        return normalize_timeout(timeout)

    @staticmethod
    def send_options(
        session: requests.Session, *, owned: bool, verify_override: Optional[Union[bool, str]]
    ) -> Dict[str, Any]:
        """``verify`` and ``proxies`` to pass with a call made through ``session``.

        ``verify_override`` (the client's ``should_verify_ssl``) always wins.
        For a session the library did not build, its own ``verify`` and
        ``proxies`` are passed explicitly: requests would otherwise let
        ``REQUESTS_CA_BUNDLE`` and ``HTTP(S)_PROXY`` override them
        (psf/requests#3829, #2018).
        """
        options: Dict[str, Any] = {}
        if verify_override is not None:
            options["verify"] = verify_override
        elif not owned:
            verify = session.verify
            if verify is not True and verify is not None:
                options["verify"] = verify
        if session.proxies:
            options["proxies"] = dict(session.proxies)
        return options

    @staticmethod
    def headers_for(session: requests.Session, *, owned: bool) -> Dict[str, str]:
        """Headers every call through ``session`` adds: our ``User-Agent`` for a
        session the library did not build (kept in front of the session's own
        product token when it set one)."""
        if owned:
            return {}
        ua = user_agent()
        raw = session.headers.get("User-Agent")
        current = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        default = requests.utils.default_user_agent()
        if current and current != default and not current.startswith(ua.split("/", 1)[0] + "/"):
            ua = f"{ua} {current}"
        return {"User-Agent": ua}

    def __repr__(self) -> str:
        return f"CallPolicy(base_url={self.base_url!r}, timeout={self.timeout!r})"
