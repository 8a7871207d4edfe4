"""May this request be sent again, and with which body?

One module answers it for the three ways a request goes out again:

* a redirect (:class:`RedirectGuard`, a response hook on every call of
  :meth:`ApiClient.request`, so an injected session and the library's own take
  the same rule): a body never follows a redirect to another origin (a 307 or
  308 keeps the body; requests drops it on 301/302/303), and a request whose
  body holds a secret (a login form, a refresh token, storage credentials)
  follows no redirect to another origin at all, whatever the code.  Refused
  redirects raise :class:`~avatars.errors.RedirectRefusedError` before
  anything goes to the new location.  A ``Location`` that is not a valid URL
  is refused the same way;
* the re-send after a token refresh (``TokenAuth.handle_401``) and the wait
  on a 429 (``ApiClient(rate_limit_wait=...)``): in-memory bodies can be sent
  again, a stream only when it can be rewound to where it started
  (:func:`rewind`);
* urllib3's own retries follow :func:`avatars.session.default_retry`
  (idempotent methods only once the request went out).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urljoin, urlsplit

import requests

from ._urls import origin_of
from .errors import RedirectRefusedError

__all__ = ["RedirectGuard", "rewind", "rewind_prepared", "KEEPS_BODY"]

#: Redirect codes after which requests re-sends the same method and body.
KEEPS_BODY = frozenset({307, 308})
#: The codes requests follows (``Response.is_redirect``: one of these and a ``Location``).
_REDIRECT_CODES = frozenset(requests.models.REDIRECT_STATI)


def rewind(body: Any, position: Any) -> bool:
    """Can ``body`` be sent again?  In-memory bodies can; a stream is seeked back
    to ``position`` (an int recorded before sending); anything else cannot."""
    if body is None or isinstance(body, (bytes, str, dict, list, tuple)):
        return True
    seek = getattr(body, "seek", None)
    if not isinstance(position, int) or seek is None:
        return False
    try:
        seek(position)
    except (OSError, ValueError):
        return False
    return True


def rewind_prepared(request: requests.PreparedRequest) -> bool:
    """Put a prepared request's body back where it started (``requests``
    records that position); False when that is impossible."""
    return rewind(request.body, getattr(request, "_body_position", None))


def _target_of(response: requests.Response) -> Optional[str]:
    """The absolute URL a redirect points to, or ``None`` when it is not a valid URL."""
    location = response.headers.get("Location", "")
    try:
        target = urljoin(response.url or "", location)
        parts = urlsplit(target)
        _ = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return target


class RedirectGuard:
    """Response hook refusing the redirects described in the module docstring.

    :param secret: the request's body holds a secret: no redirect to another
        origin, whatever the code.
    """

    def __init__(self, secret: bool = False) -> None:
        self.secret = secret

    @staticmethod
    def of(secret: bool) -> RedirectGuard:
        """The guard for a request whose body holds a secret or not (a guard
        keeps no state between answers: one of each serves every call)."""
        return _SECRET_GUARD if secret else _PLAIN_GUARD

    def __call__(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code not in _REDIRECT_CODES or not response.is_redirect:
            return response  # the status first: no header lookup on an ordinary answer
        request = response.request
        method = request.method if request is not None else None
        where = request.url if request is not None else response.url
        target = _target_of(response)
        if target is None:
            response.close()
            raise RedirectRefusedError(
                f"the server answered {response.status_code} with a Location that is not a valid URL; "
                "it was not followed",
                method=method,
                url=where,
            )
        if origin_of(target) == origin_of(where or ""):
            return response
        has_body = request is not None and request.body is not None
        if self.secret or (has_body and response.status_code in KEEPS_BODY):
            response.close()
            what = "a request whose body holds a secret" if self.secret else "a request body"
            raise RedirectRefusedError(
                f"the server redirected ({response.status_code}) to another origin "
                f"({_origin_text(target)}); {what} is never re-sent to another origin, so it was not followed",
                method=method,
                url=where,
            )
        return response

    def __repr__(self) -> str:
        return f"RedirectGuard(secret={self.secret})"


_PLAIN_GUARD = RedirectGuard(secret=False)
_SECRET_GUARD = RedirectGuard(secret=True)


def _origin_text(url: str) -> str:
    origin = origin_of(url)
    return "?" if origin is None else f"{origin[0]}://{origin[1]}:{origin[2]}"
