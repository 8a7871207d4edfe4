"""``client.resources``: resource sets, the YAML documents that configure jobs.

A resource set names the datasets a run uses and the parameters to run with.
JSON is valid YAML, so ``json.dumps(document)`` is an acceptable body.
"""

from __future__ import annotations

import json
from typing import Optional
from uuid import UUID

import requests

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import ResourceSetResponse
from ._helpers import IdLike, JsonResource, id_segment, name_segment, require_text

__all__ = ["ResourceSets"]

_YAML_HEADERS = {"Content-Type": "application/yaml"}


def _yaml_body(yaml_string: object) -> bytes:
    if not isinstance(yaml_string, str):
        raise RequestValidationError(
            f"yaml_string must be a string, got {type(yaml_string).__name__}", field="yaml_string"
        )
    if not yaml_string.strip():
        raise RequestValidationError("yaml_string must not be empty", field="yaml_string")
    return yaml_string.encode("utf-8")


class ResourceSets(JsonResource):
    """The resource set endpoints (``/resources``)."""

    def create_resource(
        self, set_name: IdLike, yaml_string: str, *, timeout: Optional[Timeout] = None
    ) -> ResourceSetResponse:
        """``POST /resources/{set_name}``: add the YAML documents to an existing set.

        The platform appends (it does not replace); an unknown ``set_name`` is
        a :class:`~avatars.errors.NotFound`.  ``set_name`` is a UUID.
        """
        path = f"resources/{id_segment(set_name, 'set_name')}"
        body = _yaml_body(yaml_string)
        response = self._client.request("POST", path, data=body, headers=_YAML_HEADERS, timeout=timeout)
        created = self._load(ResourceSetResponse, response, "POST /resources/{set_name}")
        return created

    def put_resources(
        self, display_name: str, yaml_string: str, *, timeout: Optional[Timeout] = None
    ) -> ResourceSetResponse:
        """``PUT /resources/{display_name}``: a new set (a new ``set_name``) with these documents.

        Each call creates a new version; earlier sets of that display name and
        their jobs stay as they were.
        """
        path = f"resources/{name_segment(display_name, 'display_name')}"
        body = _yaml_body(yaml_string)
        response = self._client.request("PUT", path, data=body, headers=_YAML_HEADERS, timeout=timeout)
        stored = self._load(ResourceSetResponse, response, "PUT /resources/{display_name}")
        return stored

    def get_resources(self, set_name: IdLike, *, timeout: Optional[Timeout] = None) -> str:
        """``GET /resources/{set_name}``: the stored document, as text.

        Read as UTF-8 unless the response names another charset.  A JSON
        string answer (``"..."``) is unwrapped to its text.
        """
        segment = str(set_name) if isinstance(set_name, UUID) else name_segment(set_name, "set_name")
        response = self._client.request("GET", f"resources/{segment}", timeout=timeout)
        return _document_text(response)

    def get_user_volume(
        self,
        volume_name: str,
        purpose: str,
        set_name: Optional[IdLike] = None,
        display_name: Optional[str] = None,
        *,
        timeout: Optional[Timeout] = None,
    ) -> str:
        """``GET /resources/volume``: an ``AvatarVolume`` YAML document (text) for a set.

        ``purpose`` is ``"input"`` or ``"results"``; name the set by
        ``set_name`` (``display_name`` is deprecated by the platform).
        """
        if purpose not in _PURPOSES:
            raise RequestValidationError(f"purpose must be 'input' or 'results', got {purpose!r}", field="purpose")
        params = {"volume_name": require_text(volume_name, "volume_name"), "purpose": purpose}
        if set_name is not None:
            params["set_name"] = id_segment(set_name, "set_name")
        if display_name is not None:
            params["display_name"] = require_text(display_name, "display_name")
        response = self._client.request("GET", "resources/volume", params=params, timeout=timeout)
        return _document_text(response)


_PURPOSES = ("input", "results")


def _document_text(response: requests.Response) -> str:
    content: bytes = response.content or b""
    content_type = response.headers.get("Content-Type", "").lower()
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key == "charset" and value:
            charset = value.strip("\"'")
    try:
        text = content.decode(charset, errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    if content_type.startswith("application/json") and text.lstrip().startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text
