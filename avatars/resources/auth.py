"""``client.auth``: login, refresh, logout and password reset.

These calls never carry the client's own credentials (login and refresh must
not recurse into the token refresh logic).  They are the raw endpoints; most
programs use :meth:`ApiClient.authenticate` instead, which also installs the
tokens on the client.
"""

from __future__ import annotations

from typing import Optional, Union
from uuid import UUID

from .._validate import require_text
from ..config import Timeout
from ..models import ForgottenPasswordRequest, LoginResponse, ResetPasswordRequest
from ._base import Resource
from ._helpers import schemas_module

__all__ = ["Auth"]


class Auth(Resource):
    """The authentication endpoints."""

    def login(self, username: str, password: str, *, timeout: Optional[Timeout] = None) -> LoginResponse:
        """``POST /login`` (form-encoded) and return the tokens.

        The real password goes in the form body; it never appears in a log,
        an error or a ``repr``.
        """
        require_text(username, "username", blank_ok=True)
        require_text(password, "password", blank_ok=True)
        form = {"username": username, "password": password, "scope": "", "grant_type": "password"}
        data = self._client.request_json(
            "POST", "login", data=form, timeout=timeout, send_auth=False, auth_required=False
        )
        schemas = schemas_module()
        login: LoginResponse = schemas.load(schemas.LoginResponseSchema, data, endpoint="POST /login")
        return login

    def refresh(self, refresh_token: str, *, timeout: Optional[Timeout] = None) -> LoginResponse:
        """``POST /refresh`` with the refresh token in the form body (never the URL)."""
        require_text(refresh_token, "refresh_token", blank_ok=True)
        data = self._client.request_json(
            "POST",
            "refresh",
            data={"token": refresh_token},
            timeout=timeout,
            send_auth=False,
            auth_required=False,
        )
        schemas = schemas_module()
        login: LoginResponse = schemas.load(schemas.LoginResponseSchema, data, endpoint="POST /refresh")
        return login

    def logout(self, *, timeout: Optional[Timeout] = None) -> None:
        """``POST /logout`` with the current credentials."""
        self._client.request("POST", "logout", timeout=timeout)

    def forgotten_password(self, email: str, *, timeout: Optional[Timeout] = None) -> None:
        """``POST /login/forgotten_password``: ask for a reset e-mail."""
        body = ForgottenPasswordRequest(email).to_json()
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
        self._client.request(
            "POST", "login/reset_password", json=body, timeout=timeout, send_auth=False, auth_required=False
        )
