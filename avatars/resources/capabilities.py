"""``client.capabilities``: what a 3.x platform deployment can do."""

from __future__ import annotations

from typing import Optional

from ..config import Timeout
from ..models import CapabilitiesResponse
from ._helpers import API_3_ONLY, JsonResource, platform_endpoint

__all__ = ["Capabilities"]


class Capabilities(JsonResource):
    """The capabilities endpoint (``/capabilities``, platform API 3.x)."""

    def get_capabilities(self, *, timeout: Optional[Timeout] = None) -> CapabilitiesResponse:
        """``GET /capabilities``.  On a 2.90 platform: :class:`~avatars.errors.EndpointUnavailableError`."""
        with platform_endpoint("GET /capabilities", API_3_ONLY):
            response = self._client.request("GET", "capabilities", timeout=timeout)
        capabilities = self._load(CapabilitiesResponse, response, "GET /capabilities")
        return capabilities
