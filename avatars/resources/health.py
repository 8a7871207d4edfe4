"""``client.health``: is the server up, and its database.  No credentials needed."""

from __future__ import annotations

from typing import Optional

from ..config import Timeout
from ..models import HealthMessage
from ._helpers import JsonResource

__all__ = ["Health"]


class Health(JsonResource):
    """The health endpoints (no auth)."""

    def get_root(self, *, timeout: Optional[Timeout] = None) -> HealthMessage:
        """``GET /``: a greeting."""
        response = self._client.request("GET", "/", timeout=timeout, auth_required=False)
        message = self._load(HealthMessage, response, "GET /")
        return message

    def get_health(self, *, timeout: Optional[Timeout] = None) -> HealthMessage:
        """``GET /health``: ``message == "ok"`` when the server is up."""
        response = self._client.request("GET", "health", timeout=timeout, auth_required=False)
        message = self._load(HealthMessage, response, "GET /health")
        return message

    def get_health_db(self, *, timeout: Optional[Timeout] = None) -> HealthMessage:
        """``GET /health/db``: ``message == "ok"`` when the database answers."""
        response = self._client.request("GET", "health/db", timeout=timeout, auth_required=False)
        message = self._load(HealthMessage, response, "GET /health/db")
        return message
