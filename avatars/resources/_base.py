"""What every facade shares: a reference to the client and URL-quoting of path parts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from ..client import ApiClient

__all__ = ["Resource", "path_part"]


def path_part(value: Any) -> str:
    """Quote one path segment: ``/``, spaces, ``?`` and ``#`` cannot change the path."""
    return quote(str(value), safe="")


class Resource:
    """Base of the facades (``client.jobs``, ``client.users``, ...)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client.base_url}>"
