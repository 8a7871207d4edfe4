"""What the JSON facades share: loading a response with a schema (the request
id travels into any :class:`~avatars.errors.SchemaError`), and checking the
values that go into a URL path before anything is sent."""

from __future__ import annotations

from typing import Any, List, Optional, Type, Union
from uuid import UUID

import marshmallow
import requests

from ..errors import RequestValidationError, schema_error
from ..schemas import load, load_many
from ._base import Resource, path_part

__all__ = ["IdLike", "JsonResource", "name_segment", "id_segment", "require_text", "request_id_of"]

#: An id: a :class:`uuid.UUID` or its string form.
IdLike = Union[UUID, str]


def request_id_of(response: requests.Response) -> Optional[str]:
    return response.headers.get("X-Request-ID")


def require_text(value: object, name: str) -> str:
    """A non-empty string, else :class:`RequestValidationError` naming ``name``."""
    if not isinstance(value, str):
        raise RequestValidationError(f"{name} must be a string, got {type(value).__name__}", field=name)
    if not value.strip():
        raise RequestValidationError(f"{name} must not be empty", field=name)
    return value


def name_segment(value: object, name: str) -> str:
    """A name quoted as one path segment.

    ``/``, spaces, ``?`` and ``#`` are percent-encoded by :func:`path_part`;
    ``"."`` and ``".."`` are refused, because URL normalisation would turn
    ``jobs/..`` into the parent path (they are never valid names).
    """
    text = require_text(value, name)
    if text in (".", ".."):
        raise RequestValidationError(f"{name} cannot be {text!r}", field=name)
    return path_part(text)


def id_segment(value: object, name: str = "id") -> str:
    """A UUID (or its string form) as a path segment.

    Checking the form keeps, say, ``get_user("me")`` from reaching ``/users/me``.
    """
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(UUID(value))
        except ValueError:
            pass
    raise RequestValidationError(f"{name} must be a UUID, got {value!r}", field=name)


class JsonResource(Resource):
    """A facade whose answers are JSON loaded by a schema."""

    def _json(self, response: requests.Response) -> Any:
        return self._client.decode_json(response)

    def _load(self, schema_cls: Type[marshmallow.Schema], response: requests.Response, endpoint: str) -> Any:
        return load(schema_cls, self._json(response), endpoint=endpoint, request_id=request_id_of(response))

    def _load_many(self, schema_cls: Type[marshmallow.Schema], response: requests.Response, endpoint: str) -> List[Any]:
        return load_many(schema_cls, self._json(response), endpoint=endpoint, request_id=request_id_of(response))

    def _expect(self, kind: type, response: requests.Response, endpoint: str) -> Any:
        """The decoded JSON when it is a ``kind`` (``str``, ``dict``...), else a SchemaError."""
        data = self._json(response)
        if not isinstance(data, kind):
            raise schema_error(
                endpoint,
                {"_schema": [f"expected {kind.__name__}, got {type(data).__name__}"]},
                request_id=request_id_of(response),
            )
        return data
