"""``client.users``: users, the caller's own account, credits and features."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import CreateUser, CreditsInfo, FeaturesInfo, MeUser, User
from ._helpers import API_2_ONLY, IdLike, JsonResource, id_segment, platform_endpoint, require_text

__all__ = ["Users"]


class Users(JsonResource):
    """The user endpoints (``/users``)."""

    def find_users(
        self, email: Optional[str] = None, username: Optional[str] = None, *, timeout: Optional[Timeout] = None
    ) -> List[User]:
        """``GET /users?email=&username=``: the users matching the filters given (all when none)."""
        params: Dict[str, str] = {}
        if email is not None:
            params["email"] = require_text(email, "email")
        if username is not None:
            params["username"] = require_text(username, "username")
        response = self._client.request("GET", "users", params=params or None, timeout=timeout)
        return self._load_many(User, response, "GET /users")

    def create_user(self, request: CreateUser, *, timeout: Optional[Timeout] = None) -> User:
        """``POST /users`` (admin only)."""
        if not isinstance(request, CreateUser):
            raise RequestValidationError(f"request must be a CreateUser, got {type(request).__name__}", field="request")
        body: Any = request.to_json()
        with platform_endpoint("POST /users", API_2_ONLY):
            response = self._client.request("POST", "users", json=body, timeout=timeout)
        user = self._load(User, response, "POST /users")
        return user

    def get_me(self, *, timeout: Optional[Timeout] = None) -> MeUser:
        """``GET /users/me``: the caller, with the limits of their environment."""
        response = self._client.request("GET", "users/me", timeout=timeout)
        me = self._load(MeUser, response, "GET /users/me")
        return me

    def get_credits_info(self, *, timeout: Optional[Timeout] = None) -> CreditsInfo:
        """``GET /users/credits_info``."""
        response = self._client.request("GET", "users/credits_info", timeout=timeout)
        info = self._load(CreditsInfo, response, "GET /users/credits_info")
        return info

    def get_features_info(self, *, timeout: Optional[Timeout] = None) -> FeaturesInfo:
        """``GET /users/features_info``: the feature scopes the caller may use."""
        response = self._client.request("GET", "users/features_info", timeout=timeout)
        info = self._load(FeaturesInfo, response, "GET /users/features_info")
        return info

    def get_user(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> User:  # noqa: A002
        """``GET /users/{id}``."""
        response = self._client.request("GET", f"users/{id_segment(id)}", timeout=timeout)
        user = self._load(User, response, "GET /users/{id}")
        return user

    def delete_user(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> User:  # noqa: A002
        """``DELETE /users/{id}`` (admin only): the deleted user."""
        with platform_endpoint("DELETE /users/{id}", API_2_ONLY):
            response = self._client.request("DELETE", f"users/{id_segment(id)}", timeout=timeout)
        user = self._load(User, response, "DELETE /users/{id}")
        return user
