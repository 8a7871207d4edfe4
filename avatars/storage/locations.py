"""Storage locations: ``s3://bucket/key``, their keys, and their URLs on the store.

The platform names an object ``s3://<bucket>/<key>``; ``GET /upload_url``
gives the caller's prefix in that form, and result locations come either in
that form or as an API URL whose ``url`` query parameter holds it
(``https://host/api/access?url=s3://...``).  On the wire, the store is
addressed path-style: ``<storage endpoint>/<bucket>/<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..errors import RequestValidationError

__all__ = ["Location", "check_key", "is_direct_url", "location_of"]


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


def _carried(query: str) -> Optional[str]:
    """The location an API URL carries in its ``url`` query parameter (an
    ``s3://`` or ``http(s)://`` URL), or ``None``."""
    values = parse_qs(query).get("url") if query else None
    if not values:
        return None
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
        parts = urlsplit(text)
        inner = _carried(parts.query) if parts.scheme.lower() in ("http", "https") else None
        if inner is None:
            break
        text = inner
    parts = urlsplit(text)
    if parts.scheme.lower() == "s3":
        bucket, key = parts.netloc, parts.path.lstrip("/")
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
    return Location(bucket, key)
