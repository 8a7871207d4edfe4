"""Small helpers shared by the local server modules (no third-party imports)."""

from __future__ import annotations

import datetime as _dt
import re
import time
import uuid
from typing import Any, Optional, Tuple

LOGGER_NAME = "avatars.testing"

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def now() -> float:
    """Wall-clock time as epoch seconds (what the server stores)."""
    return time.time()


def iso(ts: Optional[float]) -> Optional[str]:
    """Epoch seconds to ISO 8601 with an explicit UTC offset, or None."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat()


def parse_iso(value: str) -> float:
    """ISO 8601 (offset-aware or naive UTC) to epoch seconds."""
    parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


def is_uuid(value: Any) -> bool:
    """True when ``value`` is a string holding a UUID (dashed or hex form)."""
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def canonical_uuid(value: str) -> str:
    """The dashed lower-case form of a UUID string (caller checked ``is_uuid``)."""
    return str(uuid.UUID(value))


def new_id() -> str:
    return str(uuid.uuid4())


def safe_filename(name: str) -> str:
    """A file-system and URL safe version of ``name`` (never empty)."""
    cleaned = _SAFE_NAME_RE.sub("_", name).strip("._")
    return cleaned or "file"


def parse_version(text: str) -> Tuple[int, ...]:
    """Leading numeric release parts of a version string: ``"1.2.3rc1"`` -> (1, 2, 3).

    Pre/post/dev suffixes are ignored: this is enough to order client versions
    for ``/check_client`` (documented as such).
    """
    parts = []
    for piece in text.strip().split("."):
        match = re.match(r"^(\d+)", piece)
        if not match:
            break
        parts.append(int(match.group(1)))
        if match.group(1) != piece:
            break
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
