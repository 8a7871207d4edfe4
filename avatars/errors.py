"""The exception tree of ``avatars``, and how an error is built from a response.

Everything the library raises on purpose derives from :class:`AvatarError`.
HTTP errors carry the status, the server's message, the method, the URL (with
secret query values redacted) and the ``X-Request-ID`` when the server sent
one.  A body that is not JSON (an HTML page from a proxy, an empty or a
truncated body) still gives a readable message: no ``JSONDecodeError``,
``KeyError`` or ``ValueError`` escapes from what a server sent.

The tree::

    AvatarError
    +-- ConfigurationError (also ValueError)
    +-- RequestValidationError (also ValueError): bad input caught before sending
    +-- ApiError: the server answered with an error status
    |   +-- BadRequestError (400 and other 4xx without a class of their own)
    |   +-- AuthenticationError (401)
    |   |   +-- CredentialsRequiredError: raised before sending (no credentials)
    |   +-- PermissionDenied (403)
    |   +-- NotFound (404)
    |   |   +-- EndpointUnavailableError: the connected platform's API version
    |   |       does not have this endpoint (``required_api`` says which has)
    |   +-- ConflictError (409)
    |   +-- ValidationError (422; also ValueError)
    |   +-- RateLimitError (429)
    |   +-- ServerError (5xx)
    +-- TransportError: no usable HTTP answer
    |   +-- ApiTimeoutError (also the builtin TimeoutError)
    |   +-- ApiConnectionError (also the builtin ConnectionError)
    |   |   +-- TLSError
    |   |   +-- ProxyError (a proxy refused the request, e.g. 407)
    |   +-- ResponseDecodeError: the body is not the JSON it should be
    |   |   +-- ResponseTooLargeError: the (decoded) body exceeds its bound
    |   +-- RedirectRefusedError: a redirect the library will not follow
    +-- SchemaError: the JSON does not match the expected schema
    +-- RequestNotRetryableError: tokens were refreshed but the request body
    |   could not be re-sent; retry the call
    +-- JobFailedError: a job ended in a failure status (Runner.wait)
    +-- WaitTimeoutError (also the builtin TimeoutError): jobs still running
    |   when the wait ran out
    +-- LocalFileError (also OSError): a local file could not be written
    |   +-- DiskFullError: no space left (or the disk quota is used up)
    +-- UnsafeFileNameError (also ValueError): a name from the server that
        cannot be made a file inside the target directory

    and under ResponseDecodeError: DecompressionLimitError, a compressed
    download that expands beyond the allowed ratio.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import json
import math
import re
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

__all__ = [
    "AvatarError",
    "ConfigurationError",
    "RequestValidationError",
    "ApiError",
    "BadRequestError",
    "AuthenticationError",
    "CredentialsRequiredError",
    "PermissionDenied",
    "NotFound",
    "EndpointUnavailableError",
    "ConflictError",
    "ValidationError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ApiTimeoutError",
    "ApiConnectionError",
    "TLSError",
    "ProxyError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RedirectRefusedError",
    "SchemaError",
    "RequestNotRetryableError",
    "JobFailedError",
    "WaitTimeoutError",
    "LocalFileError",
    "DiskFullError",
    "UnsafeFileNameError",
    "DecompressionLimitError",
    "error_from_response",
    "redact_url",
]

#: Query parameters whose values never appear in a message.
SECRET_QUERY_KEYS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "secret_access_key",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "sig",
    }
)
REDACTED = "***"
_MAX_BODY_IN_MESSAGE = 200


def redact_url(url: Optional[str]) -> str:
    """Return ``url`` without user info and with secret query values masked."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, REDACTED if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _where(method: Optional[str], url: Optional[str]) -> str:
    """`` (METHOD url)`` for a message, or nothing."""
    parts = [p for p in (method, url) if p]
    return f" ({' '.join(parts)})" if parts else ""


def _rid(request_id: Optional[str]) -> str:
    return f" [request id {request_id}]" if request_id else ""


def request_id_of(response: requests.Response) -> Optional[str]:
    """The ``X-Request-ID`` the server gave ``response``, if any."""
    return response.headers.get("X-Request-ID")


def method_of(response: requests.Response) -> Optional[str]:
    """The HTTP method of the request that ``response`` answers."""
    return response.request.method if response.request is not None else None


class AvatarError(Exception):
    """Root of every error this library raises on purpose."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(AvatarError, ValueError):
    """The client was configured wrongly (conflicting or malformed settings)."""


class RequestValidationError(AvatarError, ValueError):
    """Input to a call was rejected before anything was sent.

    ``field`` names the offending parameter when there is one.
    """

    def __init__(self, message: str, *, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


class ApiError(AvatarError):
    """The API answered with an error status.

    Attributes: ``status_code``, ``detail`` (the server's message),
    ``method``, ``url`` (redacted), ``request_id``, ``body`` (the decoded JSON
    body, or ``None``), ``headers`` and ``response`` (the ``requests``
    response; its body has been read).
    """

    default_message = "the API returned an error"

    def __init__(
        self,
        detail: str = "",
        *,
        status_code: Optional[int] = None,
        method: Optional[str] = None,
        url: Optional[str] = None,
        request_id: Optional[str] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        response: Optional[requests.Response] = None,
    ) -> None:
        self.detail = detail or self.default_message
        self.status_code = status_code
        self.method = method
        self.url = redact_url(url)
        self.request_id = request_id
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        if response is not None:
            # whoever builds the error, it keeps no credential of the request
            redact_response(response)
        self.response = response
        super().__init__(self._format())

    def _format(self) -> str:
        head = f"{self.status_code} " if self.status_code is not None else ""
        return f"{head}{self.detail}{_where(self.method, self.url)}{_rid(self.request_id)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> Any:  # keep errors picklable (multiprocessing, pytest-xdist)
        return (
            _rebuild_api_error,
            (type(self), self.detail, self.status_code, self.method, self.url, self.request_id),
        )


def _rebuild_api_error(
    cls: type[ApiError], detail: str, status: Optional[int], method: Optional[str], url: str, rid: Optional[str]
) -> ApiError:
    err = cls.__new__(cls)
    ApiError.__init__(err, detail, status_code=status, method=method, url=url, request_id=rid)
    return err


class BadRequestError(ApiError):
    """A 4xx answer without a more specific class (400, 405, 413, ...)."""


class AuthenticationError(ApiError):
    """401: no, invalid or expired credentials, or a failed login/refresh.

    Also raised *before* sending, as the subclass
    :class:`CredentialsRequiredError`, when the client has no credentials and
    ``verify_auth`` is on.  ``request_sent`` tells the two apart: ``False``
    when nothing went to the server (then ``status_code`` is ``None``).
    """

    default_message = "not authenticated"
    #: ``True`` when the server answered 401; ``False`` when raised before sending.
    request_sent = True


class CredentialsRequiredError(AuthenticationError):
    """The call needs credentials and the client has none: nothing was sent
    (``status_code`` is ``None``, ``request_sent`` is ``False``)."""

    default_message = "this call needs credentials and the client has none"
    request_sent = False


class PermissionDenied(ApiError):
    """403: the credentials are valid but not allowed to do this."""


class NotFound(ApiError):
    """404: the resource does not exist (or is not visible to you)."""


class EndpointUnavailableError(NotFound):
    """404 from the router: the connected platform's API version lacks this endpoint.

    ``required_api`` names the platform API versions that have it
    (e.g. ``">= 3.0"`` for ``POST /jobs/{job_name}/cancel``, ``"2.x"`` for
    ``POST /login``), ``endpoint`` the call.
    """

    def __init__(self, detail: str = "", *, endpoint: str = "", required_api: str = "", **kwargs: Any) -> None:
        self.endpoint = endpoint
        self.required_api = required_api
        super().__init__(detail, **kwargs)


class ConflictError(ApiError):
    """409: the resource is not in a state that allows this (e.g. not finished)."""


class ValidationError(ApiError, ValueError):
    """422: the server rejected the request's content.

    ``errors`` is the server's list of ``{"loc": [...], "msg": ..., "type": ...}``
    and ``fields`` the dotted locations, e.g. ``["body.name"]``.
    """

    @property
    def errors(self) -> list[dict[str, Any]]:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if isinstance(detail, list):
            return [e for e in detail if isinstance(e, dict)]
        return []

    @property
    def fields(self) -> list[str]:
        out = []
        for e in self.errors:
            loc = e.get("loc")
            if isinstance(loc, (list, tuple)):
                out.append(".".join(str(p) for p in loc))
        return out


class RateLimitError(ApiError):
    """429: too many requests. ``retry_after`` is in seconds (or ``None``)."""

    @property
    def retry_after(self) -> Optional[float]:
        return _retry_after(self.headers, self.body)


class ServerError(ApiError):
    """5xx: the server (or a gateway in front of it) failed."""


class TransportError(AvatarError):
    """No usable HTTP answer was received. ``method`` and ``url`` say for what."""

    def __init__(self, message: str, *, method: Optional[str] = None, url: Optional[str] = None) -> None:
        self.method = method
        self.url = redact_url(url)
        super().__init__(f"{message}{_where(method, self.url)}")


class ApiTimeoutError(TransportError, builtins.TimeoutError):
    """The call did not complete in time (connect, read, or the total budget).

    ``waited`` is how long the whole call waited, in seconds, and ``attempts``
    how many HTTP attempts it made (retries included), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        method: Optional[str] = None,
        url: Optional[str] = None,
        waited: Optional[float] = None,
        attempts: Optional[int] = None,
    ) -> None:
        self.waited = waited
        self.attempts = attempts
        super().__init__(message, method=method, url=url)


class ApiConnectionError(TransportError, builtins.ConnectionError):
    """The connection could not be made or was broken."""


class TLSError(ApiConnectionError):
    """The TLS handshake failed (unknown certificate authority, wrong host, ...)."""


class ProxyError(ApiConnectionError):
    """The proxy refused or failed the request (for example 407, wrong proxy credentials)."""


class ResponseDecodeError(TransportError):
    """The server answered, but the body is not the JSON it should be."""

    def __init__(
        self,
        message: str,
        *,
        method: Optional[str] = None,
        url: Optional[str] = None,
        status_code: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(message + _rid(request_id), method=method, url=url)


class ResponseTooLargeError(ResponseDecodeError):
    """The answer (after decompression) is larger than the client accepts
    (``ApiClient(max_response_bytes=...)``), or decompresses at a ratio no
    honest answer has (a compression bomb).  Reading stopped at the bound."""


class RedirectRefusedError(TransportError):
    """The server redirected a request the library will not re-send there: a
    request whose body holds a secret (a login form, a refresh token, storage
    credentials) or any body, to another origin; or a ``Location`` that is
    not a valid URL.  Nothing was sent to the redirect target."""


class SchemaError(AvatarError):
    """A response did not match its schema.

    ``endpoint`` is ``"METHOD /path"`` and ``fields`` maps each offending
    field to the reasons.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: Optional[str] = None,
        fields: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.endpoint = endpoint
        self.fields: dict[str, Any] = dict(fields or {})
        self.request_id = request_id
        super().__init__(message)


class RequestNotRetryableError(AvatarError):
    """The access token was refreshed after a 401, but the request's body was a
    stream that cannot be rewound, so it was not re-sent (it would have gone out
    empty).  The new tokens are in place: call again with a fresh body."""

    def __init__(self, message: str, *, method: Optional[str] = None, url: Optional[str] = None) -> None:
        self.method = method
        self.url = redact_url(url)
        super().__init__(message)


class WaitTimeoutError(AvatarError, builtins.TimeoutError):
    """Waiting for jobs took longer than the caller allowed (the jobs keep running)."""


class JobFailedError(AvatarError):
    """A job ended in a failure status. ``job`` is the job, ``exception`` the server's text."""

    def __init__(self, message: str, *, job: Any = None, exception: str = "") -> None:
        self.job = job
        self.exception = exception
        super().__init__(message)


# --------------------------------------------------------------------------- building


def _retry_after(headers: Mapping[str, str], body: Any) -> Optional[float]:
    raw = None
    for k, v in headers.items():
        if k.lower() == "retry-after":
            raw = v
            break
    if raw is not None:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = None
        if number is not None:
            return max(0.0, number) if math.isfinite(number) else None
        else:
            try:
                when = parsedate_to_datetime(str(raw))
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=_dt.timezone.utc)
                return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return max(0.0, float(value))
    return None


_TAG_RE = re.compile(r"<[^>]+>")
_WS_RE = re.compile(r"\s+")


def _text_excerpt(text: str) -> str:
    """A short, single-line excerpt of a non-JSON body (HTML tags removed)."""
    lowered = text.lower()
    title = None
    start = lowered.find("<title>")
    if start != -1:
        end = lowered.find("</title>", start)
        if end != -1:
            title = text[start + 7 : end]
    cleaned = title if title else _TAG_RE.sub(" ", text)
    cleaned = _WS_RE.sub(" ", cleaned).strip()
    if len(cleaned) > _MAX_BODY_IN_MESSAGE:
        cleaned = cleaned[: _MAX_BODY_IN_MESSAGE - 3] + "..."
    return cleaned


def detail_from_body(body: Any) -> Optional[str]:
    """The server's message from any of the contract's three error envelopes."""
    if not isinstance(body, dict):
        if isinstance(body, str) and body:
            return body
        return None
    detail = body.get("detail", body.get("message"))
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        msg = detail.get("message") or detail.get("msg")
        if isinstance(msg, str):
            return msg
        return None
    if isinstance(detail, list):
        parts: list[str] = []
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc")
                loc_s = ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else ""
                msg = item.get("msg", "")
                parts.append(f"{loc_s}: {msg}" if loc_s else str(msg))
            elif isinstance(item, str):
                parts.append(item)
        return "; ".join(parts) if parts else None
    return None


_STATUS_CLASSES: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[ApiError]:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return BadRequestError


#: Request headers that carry credentials; an error keeps them only redacted.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-amz-security-token", "api-key"})


def redacted_request(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A copy of ``request`` without its body and with credential headers masked:
    what an error object may keep (the original may hold a password or a token)."""
    copy = requests.PreparedRequest()
    copy.method = request.method
    copy.url = redact_url(request.url)
    copy.headers = requests.structures.CaseInsensitiveDict(
        {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in (request.headers or {}).items()}
    )
    copy.body = None
    copy.hooks = {"response": []}
    return copy


def redact_response(response: requests.Response) -> None:
    """Replace the requests of ``response`` (and of its redirect/refresh history)
    with redacted copies, before an error object keeps the response."""
    for item in [*response.history, response]:
        request = item.request
        if request is not None and not getattr(request, "_avatars_redacted", False):
            copy: Any = redacted_request(request)
            copy._avatars_redacted = True
            item.request = copy


def error_from_response(response: requests.Response, *, method: Optional[str] = None) -> ApiError:
    """Build the typed error for an error ``response``. Never raises while decoding.

    The error keeps ``response``, whose request (and history) is replaced by a
    redacted copy: no body, no credential headers."""
    status = response.status_code
    request = response.request
    method = method or method_of(response)
    url = response.url or (request.url if request is not None else None)
    request_id = request_id_of(response)
    body: Any = None
    text = ""
    try:
        raw = response.content or b""
    except (requests.RequestException, OSError, RuntimeError):
        raw = b""
    if raw:
        try:
            text = raw.decode(response.encoding or "utf-8", errors="replace")
        except LookupError:
            text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
    detail = detail_from_body(body)
    if detail is None:
        reason = response.reason or ""
        if isinstance(reason, bytes):
            reason = reason.decode("latin-1", errors="replace")
        excerpt = _text_excerpt(text) if text else ""
        if excerpt:
            detail = f"{reason}: {excerpt}" if reason else excerpt
        else:
            detail = reason or "empty response body"
    cls = error_class_for_status(status)
    redact_response(response)
    if status == 429:
        retry = _retry_after(response.headers, body)
        if retry is not None:
            detail = f"{detail} (retry after {retry:g} s)"
    return cls(
        detail,
        status_code=status,
        method=method,
        url=url,
        request_id=request_id,
        body=body,
        headers=dict(response.headers),
        response=response,
    )


def wrong_shape_error(
    endpoint: Optional[str], expected: str, data: Any, *, request_id: Optional[str] = None
) -> SchemaError:
    """The JSON is not even the right kind of value (``expected``: "an object", "a list"...)."""
    return schema_error(
        endpoint, {"_schema": [f"expected {expected}, got {type(data).__name__}"]}, request_id=request_id
    )


def schema_error(endpoint: Optional[str], messages: Any, *, request_id: Optional[str] = None) -> SchemaError:
    """Build a :class:`SchemaError` from marshmallow's ``messages`` dict."""
    fields: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            fields[prefix or "_schema"] = value

    walk("", messages)
    described = "; ".join(
        f"{name}: {', '.join(map(str, reasons)) if isinstance(reasons, (list, tuple)) else reasons}"
        for name, reasons in sorted(fields.items())
    )
    where = f" from {endpoint}" if endpoint else ""
    rid = _rid(request_id)
    return SchemaError(
        f"unexpected response{where}: {described}{rid}",
        endpoint=endpoint,
        fields=fields,
        request_id=request_id,
    )


# --------------------------------------------------------------------------- local files


class LocalFileError(AvatarError, OSError):
    """A local file could not be written (or read): no space, no permission,
    a name too long for the file system, ...

    ``path`` is the file concerned, ``errno`` and ``strerror`` come from the
    operating system's error when there was one.  Also an :class:`OSError`,
    so code that caught the builtin error keeps working.
    """

    def __init__(
        self, message: str, *, path: Optional[str] = None, errno: Optional[int] = None, strerror: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno
        self.strerror = strerror
        self.filename = path


class DiskFullError(LocalFileError):
    """The file system is full, or the user's disk quota is used up (``ENOSPC``, ``EDQUOT``)."""


class UnsafeFileNameError(AvatarError, ValueError):
    """A file name that came from the server cannot be used safely: the file
    would land outside the target directory (for example through an existing
    symbolic link that leads out of it).  ``name`` is the offending name."""

    def __init__(self, message: str, *, name: Optional[str] = None) -> None:
        super().__init__(message)
        self.name = name


class DecompressionLimitError(ResponseDecodeError):
    """A compressed download (``Content-Encoding: gzip``/``deflate``) expanded
    beyond the allowed ratio (see :class:`avatars.transfer.DecompressionLimit`);
    nothing was kept on disk."""
