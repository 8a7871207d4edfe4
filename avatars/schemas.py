"""Marshmallow schemas that load API responses into the models of ``models.py``.

Rules every schema follows:

* unknown fields are ignored (``unknown = EXCLUDE``): newer servers add fields;
* a missing or malformed required field raises :class:`avatars.errors.SchemaError`
  naming the field and the endpoint;
* schema objects are built once and reused (building one is costly).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type, TypeVar

import marshmallow
from marshmallow import EXCLUDE, fields, post_load

from . import models
from .errors import schema_error

__all__ = ["BaseSchema", "LoginResponseSchema", "load", "load_many"]

T = TypeVar("T")


class BaseSchema(marshmallow.Schema):
    """Loads into ``__model__`` (a dataclass) and ignores unknown fields."""

    __model__: Any = None

    class Meta:
        unknown = EXCLUDE

    @post_load
    def _make_object(self, data: Dict[str, Any], **kwargs: Any) -> Any:
        if self.__model__ is None:
            return data
        return self.__model__(**data)


class LoginResponseSchema(BaseSchema):
    __model__ = models.LoginResponse

    access_token = fields.String(required=True)
    refresh_token = fields.String(load_default=None, allow_none=True)
    token_type = fields.String(load_default="bearer")


_CACHE: Dict[Any, marshmallow.Schema] = {}


def _schema(schema_cls: Type[marshmallow.Schema], many: bool) -> marshmallow.Schema:
    key = (schema_cls, many)
    schema = _CACHE.get(key)
    if schema is None:
        schema = schema_cls(many=many)
        _CACHE[key] = schema
    return schema


def load(
    schema_cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> Any:
    """Load one object; :class:`~avatars.errors.SchemaError` when it does not fit."""
    if not isinstance(data, dict):
        raise schema_error(endpoint, {"_schema": [f"expected an object, got {type(data).__name__}"]}, request_id=request_id)
    try:
        return _schema(schema_cls, False).load(data)
    except marshmallow.ValidationError as exc:
        raise schema_error(endpoint, exc.messages, request_id=request_id) from None


def load_many(
    schema_cls: Type[marshmallow.Schema],
    data: Any,
    *,
    endpoint: Optional[str] = None,
    request_id: Optional[str] = None,
) -> List[Any]:
    """Load a list of objects; :class:`~avatars.errors.SchemaError` when it does not fit."""
    if not isinstance(data, list):
        raise schema_error(endpoint, {"_schema": [f"expected a list, got {type(data).__name__}"]}, request_id=request_id)
    try:
        return list(_schema(schema_cls, True).load(data))
    except marshmallow.ValidationError as exc:
        raise schema_error(endpoint, exc.messages, request_id=request_id) from None
