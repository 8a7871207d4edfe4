"""``client.openapi``: the server's OpenAPI document."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ..config import Timeout
from ._helpers import JsonResource

__all__ = ["OpenApi"]


class OpenApi(JsonResource):
    """``GET /openapi.json`` (no auth)."""

    def get_openapi_schema(self, *, timeout: Optional[Timeout] = None) -> Dict[str, Any]:
        """``GET /openapi.json``: the OpenAPI document, as a dict."""
        response = self._client.request("GET", "openapi.json", timeout=timeout, auth_required=False)
        document: Dict[str, Any] = self._expect(dict, response, "GET /openapi.json")
        return document
