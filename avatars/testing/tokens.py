"""Credentials of the local server: passwords, HS256 JWT access tokens, opaque
refresh tokens and API keys.

Nothing here uses a third-party library: JWTs are signed with ``hmac`` and
SHA-256 (``alg: HS256``), encoded as three base64url segments without padding.
Only hashes of refresh tokens and API keys are stored; the plaintext is handed
out once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

#: The platform's API key shape: ``octopize_apikey.<uuid>.<secret>``, 96 characters
#: (the platform SDK 1.30 warns about any other length).
API_KEY_PREFIX = "octopize_apikey."
_PBKDF2_ITERATIONS = 20_000


class TokenError(Exception):
    """An access token that is malformed, badly signed or of the wrong type."""


class TokenExpired(TokenError):
    """A well-formed, correctly signed access token past its ``exp``."""


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    padding = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode((text + padding).encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise TokenError("bad base64url segment") from exc


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """``pbkdf2_sha256$iterations$salt$hash`` (test-grade but real)."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), _PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${_PBKDF2_ITERATIONS}${salt}${digest.hex()}"


def verify_password(password: str, stored: Optional[str]) -> bool:
    if not stored:
        return False
    try:
        scheme, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return f"{API_KEY_PREFIX}{uuid.uuid4()}.{secrets.token_urlsafe(32)}"


def new_secret() -> str:
    return secrets.token_hex(32)


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    exp: int
    iat: int
    jti: str
    sid: str


def encode_jwt(payload: Dict[str, Any], secret: str) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        _b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
        + "."
        + _b64url_encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    )
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url_encode(signature)


def decode_jwt(token: str, secret: str) -> Dict[str, Any]:
    """Verify the HS256 signature and return the payload (no ``exp`` check)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header = json.loads(_b64url_decode(header_b64))
    except ValueError as exc:
        raise TokenError("bad header") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("unsupported algorithm")
    expected = hmac.new(
        secret.encode("utf-8"),
        (header_b64 + "." + payload_b64).encode("ascii", "replace"),
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(expected, _b64url_decode(signature_b64)):
        raise TokenError("bad signature")
    try:
        payload = json.loads(_b64url_decode(payload_b64))
    except ValueError as exc:
        raise TokenError("bad payload") from exc
    if not isinstance(payload, dict):
        raise TokenError("bad payload")
    return payload


def make_access_token(user_id: str, secret: str, lifetime: float, now: float, session_id: str) -> str:
    """An access token valid for at least ``lifetime`` seconds (``exp`` is an integer
    rounded up, so at most one second more); ``lifetime <= 0`` gives an already
    expired token."""
    iat = int(now)
    exp = math.ceil(now + lifetime) if lifetime > 0 else math.floor(now + lifetime)
    payload = {
        "sub": user_id,
        "iat": iat,
        "exp": int(exp),
        "jti": uuid.uuid4().hex,
        "sid": session_id,
        "type": "access",
    }
    return encode_jwt(payload, secret)


def read_access_token(token: str, secret: str, now: float) -> AccessClaims:
    payload = decode_jwt(token, secret)
    if payload.get("type") != "access":
        raise TokenError("not an access token")
    try:
        claims = AccessClaims(
            sub=str(payload["sub"]),
            exp=int(payload["exp"]),
            iat=int(payload["iat"]),
            jti=str(payload["jti"]),
            sid=str(payload.get("sid", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TokenError("missing claims") from exc
    if now >= claims.exp:
        raise TokenExpired("expired")
    return claims
