"""One function maps a transport failure to a typed error: :func:`map_transport_error`.

It decides by exception type, walking the chain of causes (requests wraps
urllib3, which wraps the socket error), never by searching the text.  Text is
used only for the human detail of a TLS failure.  No message holds a raw
urllib3 ``repr``, a proxy password or a header value.
"""

from __future__ import annotations

import http.client
import re
import socket
from typing import Any, Iterator, Optional

import requests
import urllib3.exceptions as u3

from ._deadline import Deadline
from ._urls import origin_of, strip_userinfo
from .errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AvatarError,
    ProxyError,
    RequestValidationError,
    ResponseDecodeError,
    TLSError,
)

__all__ = ["map_transport_error", "host_of", "proxy_auth_error", "describe_timeout"]

_NameResolutionError: Any = getattr(u3, "NameResolutionError", None)  # urllib3 >= 2


def host_of(url: str) -> str:
    """The host of ``url``, for messages."""
    return (origin_of(url) or ("", "?", 0))[1]


def describe_timeout(timeout: Any) -> str:
    if isinstance(timeout, tuple):
        return f"connect {timeout[0]:g} s, read {timeout[1]:g} s"
    if timeout is None:
        return "no timeout"
    return f"{timeout:g} s"


def proxy_auth_error(method: str, url: str) -> ProxyError:
    """407 from an HTTP proxy (an answer) or a CONNECT tunnel (an exception): one message."""
    return ProxyError(
        "the proxy requires authentication (407 Proxy Authentication Required): check the proxy user and password",
        method=method,
        url=url,
    )


#: urllib3's CONNECT failure ("Tunnel connection failed: 407 Proxy Authentication Required").
_PROXY_407 = re.compile(r"(failed: 407\b|\b407 Proxy Authentication)", re.IGNORECASE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes: urllib3's ``reason``, ``args[0]``, ``__cause__``, ``__context__``."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (
            getattr(current, "reason", None),
            current.args[0] if current.args else None,
            current.__cause__,
            current.__context__,
        ):
            if isinstance(nested, BaseException):
                todo.append(nested)


def _find(exc: BaseException, *types: Any) -> Optional[BaseException]:
    wanted = tuple(t for t in types if t is not None)
    for item in _chain(exc):
        if isinstance(item, wanted):
            found: BaseException = item
            return found
    return None


def _timeout_error(message: str, method: str, url: str, timeout: Any, deadline: Optional[Deadline]) -> ApiTimeoutError:
    text = f"{message} ({describe_timeout(timeout)} per attempt"
    if deadline is not None:
        text += f"; {deadline.summary()}"
    text += ")"
    return ApiTimeoutError(
        text,
        method=method,
        url=url,
        waited=deadline.elapsed() if deadline is not None else None,
        attempts=deadline.attempts if deadline is not None else None,
    )


#: seconds of budget left under which a failure counts as the budget running out
_BUDGET_SLACK = 0.05


def map_transport_error(
    exc: BaseException, method: str, url: str, timeout: Any, deadline: Optional[Deadline] = None
) -> AvatarError:
    """The typed error for a failure to get a usable answer for ``method url``."""
    host = host_of(url)
    # A per-phase timeout capped to what was left of the budget can fire a
    # moment before the watchdog marks the deadline expired: the budget ran out.
    if deadline is not None and (deadline.expired or deadline.remaining() <= _BUDGET_SLACK):
        return deadline.error(method, url)
    # Rejected while preparing: nothing was sent (the value is not echoed).
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return RequestValidationError(
            "a request header has an invalid name or value (control characters, or leading white space); "
            "nothing was sent"
        )
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return RequestValidationError(
            "json= holds a value that is not valid JSON (NaN or infinity, or an object JSON cannot encode); "
            "nothing was sent",
            field="json",
        )
    if isinstance(
        exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
    ):
        return ApiConnectionError(f"invalid URL for {host}", method=method, url=url)
    text = strip_userinfo(str(exc))
    if isinstance(exc, requests.exceptions.SSLError):
        return TLSError(f"TLS error talking to {host}: {_ssl_reason(text)}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ProxyError):
        if _PROXY_407.search(text):
            return proxy_auth_error(method, url)
        return ProxyError(f"could not go through the proxy to reach {host}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return ResponseDecodeError(f"could not decode the compressed answer from {host}", method=method, url=url)
    # urllib3's NewConnectionError derives from ConnectTimeoutError: look for
    # the socket's own reason (name resolution, refused) before timeouts.
    if _find(exc, _NameResolutionError, socket.gaierror):
        return ApiConnectionError(
            f"could not resolve the host name {host!r} (check the URL, DNS or proxy settings)", method=method, url=url
        )
    if _find(exc, ConnectionRefusedError):
        return ApiConnectionError(f"connection to {host} refused (is the server running?)", method=method, url=url)
    if _find(exc, u3.EmptyPoolError):
        return _timeout_error(f"no free connection to {host} in time (the pool is full)", method, url, None, deadline)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _timeout_error(f"connecting to {host} timed out", method, url, timeout, deadline)
    if isinstance(exc, requests.exceptions.Timeout) or _find(exc, u3.ReadTimeoutError, socket.timeout):
        return _timeout_error(f"{host} did not answer in time", method, url, timeout, deadline)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or _find(exc, u3.IncompleteRead):
        return ApiConnectionError(f"the connection to {host} broke while reading the answer", method=method, url=url)
    if _find(exc, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected):
        return ApiConnectionError(
            f"the connection to {host} was closed before an answer arrived", method=method, url=url
        )
    if isinstance(exc, requests.exceptions.RetryError):
        last = _find(exc, u3.ResponseError)  # "too many 503 error responses"
        detail = f": {' '.join(str(last).split())[:200]}" if last is not None else ""
        return ApiConnectionError(f"gave up on {host} after retries{detail}", method=method, url=url)
    reason = _find(exc, OSError)
    detail = f": {type(reason).__name__}" if reason is not None and reason is not exc else ""
    return ApiConnectionError(f"could not reach {host}{detail}", method=method, url=url)


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
