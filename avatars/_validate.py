"""Checks of caller input, raising :class:`~avatars.errors.RequestValidationError`
that names the field, before anything is sent (request objects, path parts)."""

from __future__ import annotations

from collections.abc import Iterable as _IterableABC
from collections.abc import Mapping as _MappingABC
from typing import Optional, Tuple
from uuid import UUID

from .errors import RequestValidationError

__all__ = ["require_text", "require_email", "require_uuid", "require_text_list"]


def require_text(value: object, name: str, *, max_length: Optional[int] = None, blank_ok: bool = False) -> str:
    """A non-empty string, at most ``max_length`` characters; only white space
    is refused too, unless ``blank_ok`` (a password may be spaces)."""
    if not isinstance(value, str):
        raise RequestValidationError(f"{name} must be a string, got {type(value).__name__}", field=name)
    if not (value if blank_ok else value.strip()):
        raise RequestValidationError(f"{name} must not be empty", field=name)
    if max_length is not None and len(value) > max_length:
        raise RequestValidationError(f"{name} must be at most {max_length} characters, got {len(value)}", field=name)
    return value


def require_email(value: object, name: str = "email") -> str:
    text = require_text(value, name)
    local, sep, domain = text.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in text):
        raise RequestValidationError(f"{name} is not an e-mail address: {text!r}", field=name)
    return text


def require_uuid(value: object, name: str) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise RequestValidationError(f"{name} must be a UUID, got {value!r}", field=name)


def require_text_list(value: object, name: str) -> Tuple[str, ...]:
    if isinstance(value, (str, bytes, bytearray, _MappingABC)) or not isinstance(value, _IterableABC):
        raise RequestValidationError(f"{name} must be a list of strings, got {type(value).__name__}", field=name)
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise RequestValidationError(f"{name}[{index}] must be a non-empty string, got {item!r}", field=name)
    return items
