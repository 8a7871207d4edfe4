"""HTTP helpers of the local server: JSON responses, FastAPI-style errors, body checks."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from werkzeug.wrappers import Request, Response

from ._util import canonical_uuid, is_uuid

MAX_JSON_BODY = 10 * 1024 * 1024
Loc = Sequence[Union[str, int]]


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(data: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> Response:
    response = Response(json_bytes(data), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def empty_response(status: int = 204) -> Response:
    return Response(b"", status=status)


class ApiError(Exception):
    """An error answer: ``{"detail": detail, **extra}`` with ``status``."""

    def __init__(
        self,
        status: int,
        detail: Any,
        *,
        headers: Optional[Mapping[str, str]] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def response(self) -> Response:
        return json_response({"detail": self.detail, **self.extra}, self.status, self.headers)


def error_item(loc: Loc, msg: str, type_: str) -> Dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": type_}


def validation_error(items: List[Dict[str, Any]]) -> ApiError:
    return ApiError(422, items)


def not_authenticated() -> ApiError:
    return ApiError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def read_limited_body(request: Request) -> bytes:
    """The body, or a 413 when it is larger than :data:`MAX_JSON_BODY`.

    A read may return less than asked (a chunked body comes a chunk at a
    time): read until the end of the body."""
    parts: List[bytes] = []
    size = 0
    while size <= MAX_JSON_BODY:
        chunk: bytes = request.stream.read(MAX_JSON_BODY + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > MAX_JSON_BODY:
        raise ApiError(413, "Request body too large")
    return b"".join(parts)


def read_json_body(request: Request) -> Any:
    """The JSON body, or a 422 (invalid JSON / empty) or 413 (too large)."""
    length = request.content_length
    if length is not None and length > MAX_JSON_BODY:
        raise ApiError(413, "Request body too large")
    raw = read_limited_body(request)
    if not raw.strip():
        raise validation_error([error_item(["body"], "field required", "value_error.missing")])
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise validation_error(
            [error_item(["body", 0], f"JSON decode error: {exc}", "value_error.jsondecode")]
        ) from None
    except RecursionError:
        raise validation_error(
            [error_item(["body", 0], "JSON decode error: nested too deeply", "value_error.jsondecode")]
        ) from None


def read_json_object(request: Request) -> Dict[str, Any]:
    data = read_json_body(request)
    if not isinstance(data, dict):
        raise validation_error([error_item(["body"], "value is not a valid dict", "type_error.dict")])
    return data


class Checker:
    """Collects 422 items while reading fields of a JSON object."""

    def __init__(self, data: Mapping[str, Any], where: str = "body") -> None:
        self.data = data
        self.where = where
        self.errors: List[Dict[str, Any]] = []

    def fail(self, field: Union[str, Loc], msg: str, type_: str) -> None:
        loc: List[Union[str, int]] = [self.where]
        if isinstance(field, str):
            loc.append(field)
        else:
            loc.extend(field)
        self.errors.append(error_item(loc, msg, type_))

    def _get(self, field: str, required: bool) -> Any:
        """The field's value; None (recorded as missing when ``required``) if absent or null."""
        value = self.data.get(field)
        if value is None and required:
            self.fail(field, "field required", "value_error.missing")
        return value

    def string(
        self,
        field: str,
        *,
        required: bool = True,
        min_len: int = 0,
        max_len: Optional[int] = None,
        default: Optional[str] = None,
    ) -> Optional[str]:
        value = self._get(field, required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(field, "str type expected", "type_error.str")
            return default
        if len(value) < min_len:
            self.fail(field, f"ensure this value has at least {min_len} characters", "value_error.any_str.min_length")
            return default
        if max_len is not None and len(value) > max_len:
            self.fail(field, f"ensure this value has at most {max_len} characters", "value_error.any_str.max_length")
            return default
        return value

    def uuid(self, field: str, *, required: bool = True) -> Optional[str]:
        value = self._get(field, required)
        if value is None:
            return None
        if not is_uuid(value):
            self.fail(field, "value is not a valid uuid", "type_error.uuid")
            return None
        return canonical_uuid(str(value))

    def integer(self, field: str, *, required: bool = True, choices: Optional[Sequence[int]] = None) -> Optional[int]:
        value = self._get(field, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "value is not a valid integer", "type_error.integer")
            return None
        if choices is not None and value not in choices:
            allowed = ", ".join(str(c) for c in choices)
            self.fail(field, f"value is not a valid enumeration member; permitted: {allowed}", "type_error.enum")
            return None
        return value

    def choice(
        self, field: str, choices: Sequence[str], *, default: Optional[str] = None, required: bool = False
    ) -> Optional[str]:
        value = self._get(field, required)
        if value is None:
            return default
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            self.fail(field, f"value is not a valid enumeration member; permitted: {allowed}", "type_error.enum")
            return default
        return str(value)

    def string_list(self, field: str, *, required: bool = False, max_items: Optional[int] = None) -> List[str]:
        value = self._get(field, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(field, "value is not a valid list", "type_error.list")
            return []
        if max_items is not None and len(value) > max_items:
            self.fail(field, f"ensure this value has at most {max_items} items", "value_error.list.max_items")
            return []
        out: List[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail([field, index], "str type expected", "type_error.str")
            else:
                out.append(item)
        return out

    def raise_if_errors(self) -> None:
        if self.errors:
            raise validation_error(self.errors)


def path_uuid(value: str, name: str = "id") -> str:
    if not is_uuid(value):
        raise validation_error([error_item(["path", name], "value is not a valid uuid", "type_error.uuid")])
    return canonical_uuid(value)
