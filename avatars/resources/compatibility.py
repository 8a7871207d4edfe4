"""``client.compatibility``: does the server accept this client version?"""

from __future__ import annotations

from typing import Optional

from ..config import Timeout
from ..models import CompatibilityResponse
from ._helpers import JsonResource

__all__ = ["Compatibility"]


class Compatibility(JsonResource):
    """``GET /check_client`` (no auth)."""

    def is_client_compatible(self, *, timeout: Optional[Timeout] = None) -> CompatibilityResponse:
        """``GET /check_client``: the server reads this client's ``User-Agent``.

        Check :attr:`CompatibilityResponse.is_compatible` (or ``status``).
        """
        response = self._client.request("GET", "check_client", timeout=timeout, auth_required=False)
        answer = self._load(CompatibilityResponse, response, "GET /check_client")
        return answer
