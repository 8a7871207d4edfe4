"""Storage locations and the credentials ``GET /access`` hands out for them.

A location is ``s3://<bucket>/<key>``. ``GET /access?url=`` and ``POST
/access/batch`` also accept an API URL ``<base>/access?url=<location>`` (what
the platform's SDK sends, and what ``GET /results/{job}`` returns), nested or
not: the location is its ``url`` query parameter. A user may have credentials
for locations under their own prefix (``users/<user id>``) only; the answer
echoes the URL as given, with fresh credentials valid for that location for
``Settings.storage_credentials_lifetime`` seconds.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qsl, quote, urlsplit

from .objects import DEFAULT_BUCKET, S3Error, check_key, location, user_prefix
from .state import ServerState

_MAX_NESTING = 4


def parse_location(url: str) -> Optional[Tuple[str, str]]:
    """``(bucket, key)`` of an ``s3://`` location or an API ``/access?url=`` URL, else None."""
    for _ in range(_MAX_NESTING + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and parts.path.rstrip("/").endswith("/access"):
            inner = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "url"]
            if len(inner) != 1:
                return None
            url = inner[0]
            continue
        if scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            return None
        key = parts.path[1:] if parts.path.startswith("/") else parts.path
        try:
            check_key(key)
        except S3Error:
            return None
        return (parts.netloc, key) if key else None
    return None


def owns(user_id: str, bucket: str, key: str) -> bool:
    """Whether ``bucket/key`` lies in the user's prefix."""
    prefix = user_prefix(user_id)
    return bucket == DEFAULT_BUCKET and (key.rstrip("/") == prefix or key.startswith(prefix + "/"))


def grant(state: ServerState, user_id: str, url: str) -> Optional[Dict[str, Any]]:
    """The ``FileAccess`` answer for ``url``, or None when the user may not have it."""
    parsed = parse_location(url)
    if parsed is None or not owns(user_id, *parsed):
        return None
    issued = state.file_access.issue(parsed[0], parsed[1], user_id, state.settings.storage_credentials_lifetime)
    return {
        "url": url,
        "credentials": {"access_key_id": issued.access_key_id, "secret_access_key": issued.secret},
    }


def upload_prefix(user_id: str) -> str:
    """The answer of ``GET /upload_url``: ``s3://<bucket>/users/<user id>`` (no trailing slash)."""
    return location(DEFAULT_BUCKET, user_prefix(user_id))


def result_url(state: ServerState, object_location: str) -> str:
    """How ``GET /results/{job}`` names a result object: ``<base>/access?url=<location>``."""
    return f"{state.base_url}/access?url={quote(object_location, safe=':/')}"
