"""What every facade shares: a reference to the client and URL-quoting of path parts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import RequestValidationError

if TYPE_CHECKING:  # pragma: no cover
    from ..client import ApiClient

__all__ = ["Resource", "path_part"]

#: A segment made only of characters ``quote`` never changes (letters, digits, ``_.-~``).
_UNCHANGED_BY_QUOTE = re.compile(r"[A-Za-z0-9_.~-]+").fullmatch


def path_part(value: Any, name: str = "name") -> str:
    """Quote one path segment: ``/``, spaces, ``?`` and ``#`` cannot change the path.

    ``"."`` and ``".."`` are refused (as ``name``): URL normalisation would
    turn ``jobs/..`` into the parent path, whatever the quoting.
    """
    text = str(value)
    if text in (".", ".."):
        raise RequestValidationError(f"{name} cannot be {text!r}", field=name)
    if _UNCHANGED_BY_QUOTE(text) is not None:
        return text  # what quote() returns for it, without its encoding round trip
    return quote(text, safe="")


class Resource:
    """Base of the facades (``client.jobs``, ``client.users``, ...)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client.base_url}>"
