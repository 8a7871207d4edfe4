"""Typed objects for what the API sends and receives (plain dataclasses).

Loaded from JSON by the schemas in ``schemas.py``.  ``repr()`` of a model
never shows a secret (tokens, plaintext API keys, storage credentials).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

__all__ = ["LoginResponse"]


@dataclass(frozen=True)
class LoginResponse:
    """Answer of ``POST /login`` and ``POST /refresh``."""

    access_token: str = field(repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    token_type: str = "bearer"
