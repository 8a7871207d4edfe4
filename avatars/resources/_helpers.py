"""What the JSON facades share: loading a response with a schema (the request
id travels into any :class:`~avatars.errors.SchemaError`), and checking the
values that go into a URL path before anything is sent.

Facades name the model class they expect (``self._load(JobResponse, ...)``,
typed ``JobResponse``); :mod:`avatars.schemas` finds its schema.  That module,
and marshmallow with it, is imported on the first load rather than when
``avatars`` is imported (marshmallow alone costs about 30 ms and 2 MiB at
start-up).
"""

from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator, List, Optional, Tuple, Type, TypeVar, Union
from uuid import UUID

import requests

from .._validate import require_text, require_uuid
from ..errors import ApiError, EndpointUnavailableError, RequestValidationError, request_id_of, wrong_shape_error
from ._base import Resource, path_part

__all__ = [
    "API_2_ONLY",
    "API_3_ONLY",
    "IdLike",
    "JsonResource",
    "name_segment",
    "platform_endpoint",
    "id_segment",
    "require_text",
    "request_id_of",
    "schemas_module",
]

M = TypeVar("M")

_schemas: Optional[ModuleType] = None


def schemas_module() -> ModuleType:
    """:mod:`avatars.schemas`, imported on first use."""
    global _schemas
    if _schemas is None:
        from .. import schemas

        _schemas = schemas
    return _schemas


#: An id: a :class:`uuid.UUID` or its string form.
IdLike = Union[UUID, str]


def name_segment(value: object, name: str, *, reserved: Tuple[str, ...] = ()) -> str:
    """A name quoted as one path segment.

    Spaces, ``?``, ``#`` and ``%`` are percent-encoded by :func:`path_part`.
    Refused before sending: ``"."`` and ``".."`` (URL normalisation would turn
    ``jobs/..`` into the parent path), any ``/`` (servers such as the
    platform's decode ``%2F`` before routing, so ``a/cancel`` would reach
    another endpoint), and the ``reserved`` words that are routes of their own
    (``jobs/last_set``).  None of these is ever a valid name.
    """
    text = require_text(value, name)
    if "/" in text:
        raise RequestValidationError(
            f"{name} cannot contain '/' (the server would route {text!r} to another endpoint)", field=name
        )
    if text in reserved:
        raise RequestValidationError(f"{name} cannot be {text!r}: that is another endpoint's path", field=name)
    return path_part(text, name)


def id_segment(value: object, name: str = "id") -> str:
    """A UUID (or its string form) as a path segment.

    Checking the form keeps, say, ``get_user("me")`` from reaching ``/users/me``.
    """
    return str(require_uuid(value, name))


class JsonResource(Resource):
    """A facade whose answers are JSON loaded by a schema."""

    def _json(self, response: requests.Response) -> Any:
        return self._client.decode_json(response)

    def _load(self, model: Type[M], response: requests.Response, endpoint: str) -> M:
        """One ``model`` loaded from the answer (through :func:`avatars.schemas.load`)."""
        data = self._json(response)
        loaded: M = schemas_module().load(model, data, endpoint=endpoint, request_id=request_id_of(response))
        return loaded

    def _load_many(self, model: Type[M], response: requests.Response, endpoint: str) -> List[M]:
        """A list of ``model`` loaded from the answer (through :func:`avatars.schemas.load_many`)."""
        data = self._json(response)
        loaded: List[M] = schemas_module().load_many(model, data, endpoint=endpoint, request_id=request_id_of(response))
        return loaded

    def _expect(self, kind: type, response: requests.Response, endpoint: str) -> Any:
        """The decoded JSON when it is a ``kind`` (``str``, ``dict``...), else a SchemaError."""
        data = self._json(response)
        if not isinstance(data, kind):
            raise wrong_shape_error(endpoint, kind.__name__, data, request_id=request_id_of(response))
        return data


#: What a FastAPI router answers for a path it does not have, or a method it lacks on a path.
_ROUTE_MISSING = {404: {"detail": "Not Found"}, 405: {"detail": "Method Not Allowed"}}

#: Which platform API versions have an endpoint that not all of them have.
API_3_ONLY = ">= 3.0"
API_2_ONLY = "2.x (removed in 3.0)"


@contextmanager
def platform_endpoint(endpoint: str, required_api: str, hint: str = "") -> Iterator[None]:
    """Turn the router's 404 (or 405) for ``endpoint`` into an :class:`EndpointUnavailableError`.

    Only the router's own answers (``{"detail": "Not Found"}``, ``{"detail":
    "Method Not Allowed"}``) are turned: a 404 about a resource (``"Job not
    found"``) stays a :class:`NotFound`.
    """
    try:
        yield
    except ApiError as exc:
        missing = exc.status_code is not None and _ROUTE_MISSING.get(exc.status_code) == exc.body
        if isinstance(exc, EndpointUnavailableError) or not missing:
            raise
        raise EndpointUnavailableError(
            f"{endpoint} is not available on the connected platform: it needs platform API {required_api}"
            + (f"; {hint}" if hint else ""),
            endpoint=endpoint,
            required_api=required_api,
            status_code=exc.status_code,
            method=exc.method,
            url=exc.url,
            request_id=exc.request_id,
            body=exc.body,
            headers=exc.headers,
            response=exc.response,
        ) from None
