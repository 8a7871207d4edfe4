"""Storage locations: ``s3://bucket/key``, their keys, and their URLs on the store.

The platform names an object ``s3://<bucket>/<key>``; ``GET /upload_url``
gives the caller's prefix in that form, and result locations come either in
that form or as an API URL whose ``url`` query parameter holds it
(``https://host/api/access?url=s3://...``).  On the wire, the store is
addressed path-style: ``<storage endpoint>/<bucket>/<key>``.

Locations come from the platform (``/upload_url``, ``/access``, ``/results``),
so every one is checked (:func:`check_location`) before it is used: a bucket
of letters, digits, ``.``, ``-`` and ``_``, and a key without ``.``/``..``
segments, empty segments, backslashes, NUL or other
control characters; an ``s3://`` URL with a query or a fragment, or an API URL
carrying two different locations, is refused too.  So a location can only
ever become a path under ``<storage endpoint>/<bucket>/``:
:class:`UnsafeLocationError` otherwise, before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..errors import RequestValidationError, redact_url

__all__ = ["Location", "UnsafeLocationError", "check_key", "check_location", "is_direct_url", "location_of"]

#: The longest key accepted, in UTF-8 bytes (S3's own limit).
MAX_KEY_BYTES = 1024

_BUCKET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class UnsafeLocationError(RequestValidationError):
    """A storage location that could leave its bucket or prefix, or be read
    two ways: a ``..`` or ``.`` segment (also ``%2e%2e`` in a path-style
    URL on the store, where the path is percent-decoded), an empty
    segment, a backslash, a NUL or another control character, an unusable
    bucket name, a query or fragment on an ``s3://`` URL.  Raised for
    locations the platform hands out as for those a caller passes; nothing
    was sent with it."""


@dataclass(frozen=True)
class Location:
    """One object (or prefix) in the store."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    def child(self, key: str) -> Location:
        """The object ``key`` (checked with :func:`check_key`) under this prefix."""
        relative = check_key(key)
        base = self.key.rstrip("/")
        return Location(self.bucket, f"{base}/{relative}" if base else relative)

    def url(self, endpoint_url: str) -> str:
        """The path-style URL of this object on the store (key percent-encoded as S3 wants)."""
        path = quote(self.key, safe="/-_.~")
        return f"{endpoint_url.rstrip('/')}/{quote(self.bucket, safe='-_.~')}/{path}"

    def bucket_url(self, endpoint_url: str) -> str:
        return f"{endpoint_url.rstrip('/')}/{quote(self.bucket, safe='-_.~')}"

    def __str__(self) -> str:
        return self.uri


def check_key(key: object, name: str = "key") -> str:
    """A key relative to the caller's prefix, refused before anything is sent
    (:class:`RequestValidationError`) when it is empty, starts with ``/``, has a
    ``..`` or ``.`` segment, a NUL or another control character, or a ``\\``."""
    if not isinstance(key, str):
        raise RequestValidationError(f"{name} must be a string, got {type(key).__name__}", field=name)
    if not key.strip():
        raise RequestValidationError(f"{name} must not be empty", field=name)
    if "\x00" in key:
        raise RequestValidationError(f"{name} must not contain a NUL character", field=name)
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise RequestValidationError(f"{name} must not contain control characters", field=name)
    if key.startswith("/"):
        raise RequestValidationError(f"{name} must be relative to your prefix, not start with '/': {key!r}", field=name)
    if "\\" in key:
        raise RequestValidationError(f"{name} must use '/' as separator, not '\\': {key!r}", field=name)
    segments = key.split("/")
    if any(segment in ("..", ".") for segment in segments):
        raise RequestValidationError(f"{name} must not contain '..' or '.' segments: {key!r}", field=name)
    if any(segment == "" for segment in segments[:-1]):
        raise RequestValidationError(f"{name} must not contain empty segments ('//'): {key!r}", field=name)
    if len(key.encode("utf-8")) > 900:
        raise RequestValidationError(f"{name} is too long ({len(key.encode('utf-8'))} bytes)", field=name)
    return key


def _key_problem(key: str) -> Optional[str]:
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "a NUL or another control character"
    if "\\" in key:
        return "a backslash"
    segments = key.split("/")
    if any(segment in ("..", ".") for segment in segments):
        return "a '..' or '.' segment"
    if any(segment == "" for segment in segments[:-1]):
        return "an empty segment ('//' or a leading '/')"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"more than {MAX_KEY_BYTES} bytes"
    return None


def check_location(location: Location, name: str = "url") -> Location:
    """``location`` itself when its bucket and key can only name an object of
    that bucket (see the module docstring); :class:`UnsafeLocationError`
    naming the problem otherwise.  A key is literal: ``%2e%2e`` in it is
    sent as ``%252e%252e``, an object of that name, never ``..``."""
    bucket, key = location.bucket, location.key
    if not isinstance(bucket, str) or not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise UnsafeLocationError(f"{name} names an unusable bucket: {str(bucket)[:100]!r}", field=name)
    if not isinstance(key, str):
        raise UnsafeLocationError(f"{name} has a key that is not a string", field=name)
    problem = _key_problem(key)
    if problem is not None:
        raise UnsafeLocationError(f"{name} has a key with {problem}: {key[:200]!r}", field=name)
    return location


def _check_characters(text: str, name: str) -> None:
    # urlsplit drops tabs and line breaks silently: judge the text before it does.
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UnsafeLocationError(
            f"{name} holds a NUL, a line break or another control character: {redact_url(text)[:200]!r}", field=name
        )


def _carried(query: str) -> Optional[str]:
    """The location an API URL carries in its ``url`` query parameter (an
    ``s3://`` or ``http(s)://`` URL), or ``None``.  Two different ``url``
    values are refused: the platform might grant one and the client use the other."""
    values = parse_qs(query).get("url") if query else None
    if not values:
        return None
    if len(set(values)) > 1:
        raise UnsafeLocationError(
            f"a URL carries {len(values)} different locations in its 'url' parameter", field="url"
        )
    scheme = urlsplit(values[0]).scheme.lower()
    return values[0] if scheme in ("s3", "http", "https") else None


def is_direct_url(url: str, endpoint_url: str) -> bool:
    """An ``http(s)`` URL that names no storage location: not on the storage
    endpoint, and without a ``url`` query parameter carrying one.  Such a URL
    is read (or written) as it is, like a pre-signed link, without credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or _carried(parts.query) is not None:
        return False
    base = urlsplit(endpoint_url)
    on_endpoint = (parts.scheme.lower(), parts.netloc.lower()) == (base.scheme.lower(), base.netloc.lower()) and (
        parts.path.startswith(base.path.rstrip("/") + "/")
    )
    return not on_endpoint


def location_of(url: object, *, endpoint_url: Optional[str] = None, name: str = "url") -> Location:
    """The object a platform URL names.

    Accepts ``s3://bucket/key``, an API URL carrying it in its ``url`` query
    parameter (as ``/access`` and ``/results`` hand them out), and a
    path-style URL on the storage endpoint (when ``endpoint_url`` is given).
    """
    if not isinstance(url, str) or not url.strip():
        raise RequestValidationError(f"{name} must be a non-empty string", field=name)
    text = url.strip()
    for _ in range(3):  # an API URL may wrap an API URL (the SDK's habit)
        _check_characters(text, name)
        parts = urlsplit(text)
        inner = _carried(parts.query) if parts.scheme.lower() in ("http", "https") else None
        if inner is None:
            break
        text = inner
    _check_characters(text, name)
    parts = urlsplit(text)
    if (
        parts.scheme.lower() in ("s3", "http", "https")
        and ("?" in text or "#" in text)
        and (parts.scheme.lower() == "s3" or endpoint_url is not None)
    ):
        # What follows "?" or "#" would be dropped silently: the object named would not be the one shown.
        raise UnsafeLocationError(
            f"{name} is a storage location with a query or fragment: {redact_url(text)[:200]!r}", field=name
        )
    if parts.scheme.lower() == "s3":
        bucket, key = parts.netloc, parts.path[1:] if parts.path.startswith("/") else parts.path
    elif parts.scheme.lower() in ("http", "https") and endpoint_url is not None:
        base = urlsplit(endpoint_url)
        prefix = base.path.rstrip("/") + "/"
        if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()) or not (
            parts.path.startswith(prefix)
        ):
            raise RequestValidationError(f"{name} is not a storage location: {text[:200]!r}", field=name)
        bucket, _, key = unquote(parts.path[len(prefix) :]).partition("/")
    else:
        raise RequestValidationError(
            f"{name} must be an s3:// location or a platform URL carrying one, got {text[:200]!r}", field=name
        )
    if not bucket:
        raise RequestValidationError(f"{name} names no bucket: {text[:200]!r}", field=name)
    return check_location(Location(bucket, key), name)
