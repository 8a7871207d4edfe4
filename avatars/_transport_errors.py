"""One function maps a transport failure to a typed error: :func:`map_transport_error`.

It decides by exception type, walking the chain of causes (requests wraps
urllib3, which wraps the socket error), never by searching the text.  Text is
used only for the human detail of a TLS failure.  No message holds a raw
urllib3 ``repr``, a proxy password or a header value.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from typing import Any, Iterator, Optional

import requests
import urllib3.exceptions as u3
import urllib3.response
from requests.structures import CaseInsensitiveDict

from ._deadline import Deadline
from ._urls import origin_of, strip_userinfo
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AvatarError,
    ProxyError,
    RequestValidationError,
    ResponseDecodeError,
    TLSError,
    error_from_response,
)

__all__ = [
    "map_transport_error",
    "check_json_body",
    "host_of",
    "proxy_auth_error",
    "describe_timeout",
    "abandoned_answer",
]

#: urllib3's response class (``BaseHTTPResponse`` in 2.x, ``HTTPResponse`` in 1.26).
_U3_RESPONSE: Any = getattr(urllib3.response, "BaseHTTPResponse", urllib3.response.HTTPResponse)

_NameResolutionError: Any = getattr(u3, "NameResolutionError", None)  # urllib3 >= 2

#: requests >= 2.27 refuses ``json=`` that is not valid JSON (NaN, infinity) with
#: ``InvalidJSONError``; older requests sends ``NaN`` as is (see :func:`check_json_body`).
_InvalidJSONError: Any = getattr(requests.exceptions, "InvalidJSONError", None)


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


def invalid_json_error() -> RequestValidationError:
    """``json=`` that cannot be sent as JSON: one message, whichever side noticed."""
    return RequestValidationError(
        "json= holds a value that is not valid JSON (NaN or infinity, or an object JSON cannot encode); "
        "nothing was sent",
        field="json",
    )


def check_json_body(value: Any) -> None:
    """On requests < 2.27, refuse ``json=`` that requests would send as invalid JSON.

    Newer requests encodes with ``allow_nan=False`` and raises ``InvalidJSONError``
    (mapped by :func:`map_transport_error`); older requests writes ``NaN`` and
    ``Infinity`` into the body, which no JSON parser on the server accepts.
    """
    if _InvalidJSONError is not None or value is None:
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise invalid_json_error() from None


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


def abandoned_answer(exc: BaseException) -> Optional[Any]:
    """The urllib3 answer a session's retry policy received and then dropped by
    raising, or ``None``.

    A plain ``urllib3.Retry`` on an injected session raises instead of returning
    the server's answer in two cases: it cannot read the answer's
    ``Retry-After`` (``abc``, ``-5``, ``1.5``: ``InvalidHeader``, on urllib3
    1.26 and 2.x alike), or its retries ran out with ``raise_on_status``
    (``MaxRetryError``, "too many 503 error responses").  Neither exception
    carries the answer; urllib3 still holds it in the frames it raised from
    (a local named ``response``, of urllib3's response class), which is where
    this looks, by type.  The deepest (last) answer wins.
    """
    found: Optional[Any] = None
    for item in _chain(exc):
        if not isinstance(item, (u3.InvalidHeader, u3.MaxRetryError)):
            continue
        tb = item.__traceback__
        depth = 0
        while tb is not None and depth < 200:
            candidate = tb.tb_frame.f_locals.get("response")
            if isinstance(candidate, _U3_RESPONSE):
                found = candidate
            tb = tb.tb_next
            depth += 1
        if found is not None:
            return found
    return None


def _answer_error(exc: BaseException, raw: Any, method: str, url: str) -> ApiError:
    """The :class:`ApiError` for the answer a retry policy dropped: its status
    and headers are kept (its body was drained by urllib3)."""
    response = requests.Response()
    response.status_code = int(raw.status)
    response.headers = CaseInsensitiveDict(dict(raw.headers))
    reason = getattr(raw, "reason", None)
    response.reason = reason if isinstance(reason, str) else ""
    response.url = url
    request = getattr(exc, "request", None)
    if isinstance(request, requests.PreparedRequest):
        response.request = request
    response._content = b""
    error = error_from_response(response, method=method)
    if _find(exc, u3.InvalidHeader) is not None:
        note = "the session's retry policy could not read its Retry-After header and stopped"
    else:
        note = "the session's retry policy gave up after its retries"
    return type(error)(
        f"{error.detail} ({note})",
        status_code=error.status_code,
        method=error.method,
        url=url,
        request_id=error.request_id,
        body=None,
        headers=error.headers,
        response=response,
    )


def map_transport_error(
    exc: BaseException, method: str, url: str, timeout: Any, deadline: Optional[Deadline] = None
) -> AvatarError:
    """The typed error for a failure to get a usable answer for ``method url``."""
    host = host_of(url)
    # A per-phase timeout capped to what was left of the budget can fire a
    # moment before the watchdog marks the deadline expired: the budget ran out.
    if deadline is not None and (deadline.expired or deadline.remaining() <= _BUDGET_SLACK):
        return deadline.error(method, url)
    # The server answered, but the session's urllib3.Retry raised instead of
    # returning the answer (an unusable Retry-After, or retries exhausted):
    # the answer's status is kept.
    raw = abandoned_answer(exc)
    if raw is not None and int(raw.status) >= 400:
        return _answer_error(exc, raw, method, url)
    # Rejected while preparing: nothing was sent (the value is not echoed).
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return RequestValidationError(
            "a request header has an invalid name or value (control characters, or leading white space); "
            "nothing was sent"
        )
    if _InvalidJSONError is not None and isinstance(exc, _InvalidJSONError):
        return invalid_json_error()
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
