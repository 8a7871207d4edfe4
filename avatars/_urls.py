"""URL helpers: origins (scheme, host, port) and joining paths to a base URL."""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

__all__ = ["Origin", "origin_of", "same_origin", "join_url", "strip_userinfo"]

#: ``(scheme, host, port)``, with the host lower-cased and the default port filled in.
Origin = Tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> Optional[Origin]:
    """The origin of ``url``, or ``None`` when it has no usable scheme and host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        return None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme, -1)
    return (scheme, host, port)


#: The prefix of each origin seen (a handful per process: the API, the object store...).
_PREFIXES: Dict[Origin, str] = {}


def _origin_prefix(origin: Origin) -> str:
    """``scheme://host:port/``: a URL starting with it is on ``origin`` (its
    authority ends at that ``/``), whatever follows."""
    prefix = _PREFIXES.get(origin)
    if prefix is None:
        prefix = f"{origin[0]}://{origin[1]}:{origin[2]}/"
        if len(_PREFIXES) < 256:
            _PREFIXES[origin] = prefix
    return prefix


def same_origin(url: str, origin: Optional[Origin]) -> bool:
    """True when ``url`` is on ``origin`` exactly (an http URL never matches an https origin)."""
    if origin is None:
        return False
    # Fast path for the usual case (a URL joined to a base URL with an explicit
    # port): no parsing.  Anything else (default port left out, upper case,
    # an IPv6 host...) is decided by parsing.
    if ":" not in origin[1] and url.startswith(_origin_prefix(origin)):
        return True
    return origin_of(url) == origin


def join_url(base_url: str, path: str) -> str:
    """Join ``path`` to ``base_url``: ``"jobs"`` and ``"/jobs"`` both give ``base/jobs``;
    an absolute URL (``http://``, ``https://``) is returned unchanged."""
    lowered = path[:8].lower()
    if lowered.startswith("http://") or lowered.startswith("https://"):
        return path
    if not path:
        return base_url
    return base_url.rstrip("/") + "/" + path.lstrip("/")


_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def strip_userinfo(text: str) -> str:
    """Mask ``user:password@`` in any URL inside ``text`` (e.g. a proxy URL in a message)."""
    return _USERINFO_RE.sub(lambda m: m.group("scheme") + "***@", text)
