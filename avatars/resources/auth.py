"""``client.auth``: login, refresh, logout and password reset.

These calls never carry the client's own credentials (login and refresh must
not recurse into the token refresh logic).  They are the raw endpoints; most
programs use :meth:`ApiClient.authenticate` instead, which also installs the
tokens on the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union
from uuid import UUID

from .._validate import require_text
from ..config import Timeout
from ..models import ForgottenPasswordRequest, LoginResponse, ResetPasswordRequest
from ._helpers import API_2_ONLY, JsonResource, platform_endpoint, schemas_module

if TYPE_CHECKING:  # pragma: no cover
    from .._deadline import Deadline

#: What to do instead of logging in on a platform without ``/login``.
_USE_API_KEY = "this platform (API 3.x) authenticates with API keys only: use ApiClient(..., api_key=...)"

__all__ = ["Auth"]


class Auth(JsonResource):
    """The authentication endpoints."""

    def login(self, username: str, password: str, *, timeout: Optional[Timeout] = None) -> LoginResponse:
        """``POST /login`` (form-encoded) and return the tokens.

        The real password goes in the form body; it never appears in a log,
        an error or a ``repr``.
        """
        require_text(username, "username", blank_ok=True)
        require_text(password, "password", blank_ok=True)
        form = {"username": username, "password": password, "scope": "", "grant_type": "password"}
        with platform_endpoint("POST /login", API_2_ONLY, _USE_API_KEY):
            data = self._client.request_json(
                "POST", "login", data=form, timeout=timeout, send_auth=False, auth_required=False
            )
        login: LoginResponse = schemas_module().load(LoginResponse, data, endpoint="POST /login")
        return login

    def refresh(
        self, refresh_token: str, *, timeout: Optional[Timeout] = None, deadline: Optional[Deadline] = None
    ) -> LoginResponse:
        """``POST /refresh`` with the refresh token in the form body (never the URL).

        ``deadline``: the budget of the call this refresh is made for (the
        client passes it when a call needs a refresh); see
        :meth:`ApiClient.request <avatars.ApiClient.request>`."""
        require_text(refresh_token, "refresh_token", blank_ok=True)
        with platform_endpoint("POST /refresh", API_2_ONLY, _USE_API_KEY):
            data = self._client.request_json(
                "POST",
                "refresh",
                data={"token": refresh_token},
                timeout=timeout,
                send_auth=False,
                auth_required=False,
                deadline=deadline,
            )
        login: LoginResponse = schemas_module().load(LoginResponse, data, endpoint="POST /refresh")
        return login

    def logout(self, *, timeout: Optional[Timeout] = None) -> None:
        """``POST /logout`` with the current credentials."""
        with platform_endpoint("POST /logout", API_2_ONLY):
            self._client.request("POST", "logout", timeout=timeout)

    def forgotten_password(self, email: str, *, timeout: Optional[Timeout] = None) -> None:
        """``POST /login/forgotten_password``: ask for a reset e-mail."""
        body = ForgottenPasswordRequest(email).to_json()
        with platform_endpoint("POST /login/forgotten_password", API_2_ONLY):
            self._client.request(
                "POST", "login/forgotten_password", json=body, timeout=timeout, send_auth=False, auth_required=False
            )

    def reset_password(
        self,
        email: str,
        new_password: str,
        new_password_repeated: str,
        token: Union[UUID, str],
        *,
        timeout: Optional[Timeout] = None,
    ) -> None:
        """``POST /login/reset_password`` with the token from the reset e-mail."""
        body = ResetPasswordRequest(email, new_password, new_password_repeated, token).to_json()
        with platform_endpoint("POST /login/reset_password", API_2_ONLY):
            self._client.request(
                "POST", "login/reset_password", json=body, timeout=timeout, send_auth=False, auth_required=False
            )

    def get_authorization_code(self, *, timeout: Optional[Timeout] = None) -> Any:
        """``GET /login/sso``: single sign-on, step 1 (the platform answers with a redirect to its
        identity provider; what it finally answers is returned: JSON decoded, else the text)."""
        with platform_endpoint("GET /login/sso", API_2_ONLY):
            response = self._client.request("GET", "login/sso", timeout=timeout, send_auth=False, auth_required=False)
        return _json_or_text(self, response)

    def auth(self, *, timeout: Optional[Timeout] = None) -> Any:
        """``GET /login/sso/auth``: single sign-on, step 2 (the identity provider's callback)."""
        with platform_endpoint("GET /login/sso/auth", API_2_ONLY):
            response = self._client.request(
                "GET", "login/sso/auth", timeout=timeout, send_auth=False, auth_required=False
            )
        return _json_or_text(self, response)


def _json_or_text(resource: JsonResource, response: Any) -> Any:
    if response.headers.get("Content-Type", "").lower().startswith("application/json"):
        return resource._json(response)
    return response.text
