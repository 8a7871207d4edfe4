"""``client.api_keys``: create, list and revoke the caller's API keys."""

from __future__ import annotations

from typing import Any, List, Optional

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import ApiKey, CreateApiKeyRequest, CreateApiKeyResponse
from ._helpers import IdLike, JsonResource, id_segment

__all__ = ["ApiKeys"]


class ApiKeys(JsonResource):
    """The API key endpoints (``/api-keys``)."""

    def list_api_keys(self, *, timeout: Optional[Timeout] = None) -> List[ApiKey]:
        """``GET /api-keys``: the caller's keys (metadata only, never the secret)."""
        response = self._client.request("GET", "api-keys", timeout=timeout)
        return self._load_many(ApiKey, response, "GET /api-keys")

    def create_api_key(
        self, name: str, expiration_days: int, *, timeout: Optional[Timeout] = None
    ) -> CreateApiKeyResponse:
        """``POST /api-keys``: a new key.

        ``expiration_days`` is one of 30, 60, 120, 365 or 3650.  The secret is
        in ``response.api_key.plaintext``, shown this once (never in a ``repr``).
        """
        body: Any = CreateApiKeyRequest(name, expiration_days).to_json()
        response = self._client.request("POST", "api-keys", json=body, timeout=timeout)
        created = self._load(CreateApiKeyResponse, response, "POST /api-keys")
        return created

    def get_api_key(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> ApiKey:  # noqa: A002
        """``GET /api-keys/{id}``."""
        response = self._client.request("GET", f"api-keys/{id_segment(id)}", timeout=timeout)
        key = self._load(ApiKey, response, "GET /api-keys/{id}")
        return key

    def revoke_api_key(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> None:  # noqa: A002
        """``DELETE /api-keys/{id}``: revoke one key."""
        self._client.request("DELETE", f"api-keys/{id_segment(id)}", timeout=timeout)

    def revoke_api_key_admin(
        self,
        user_id: Optional[IdLike] = None,
        api_key_id: Optional[IdLike] = None,
        *,
        timeout: Optional[Timeout] = None,
    ) -> None:
        """``DELETE /api-keys/admin`` (admin): every key of ``user_id``, or the one key ``api_key_id``.

        Exactly one of the two must be given.
        """
        if (user_id is None) == (api_key_id is None):
            raise RequestValidationError("give exactly one of user_id and api_key_id", field="user_id")
        params = (
            {"user_id": id_segment(user_id, "user_id")}
            if user_id is not None
            else {"api_key_id": id_segment(api_key_id, "api_key_id")}
        )
        self._client.request("DELETE", "api-keys/admin", params=params, timeout=timeout)

    def revoke_all_api_keys(self, *, timeout: Optional[Timeout] = None) -> None:
        """``DELETE /api-keys``: revoke every key of the caller (including, possibly, the one in use)."""
        self._client.request("DELETE", "api-keys", timeout=timeout)
