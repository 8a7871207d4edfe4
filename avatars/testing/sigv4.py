"""Server-side check of AWS Signature Version 4 (S3 flavour) for the local store.

Two forms are read: the ``Authorization: AWS4-HMAC-SHA256 Credential=...,
SignedHeaders=..., Signature=...`` header, and presigned URLs
(``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
``X-Amz-SignedHeaders``, ``X-Amz-Signature`` in the query).

The canonical request is rebuilt from what arrived on the wire: the path is
decoded and re-encoded the S3 way (every byte but ``A-Z a-z 0-9 - _ . ~ /``
percent-encoded, once), the query is sorted by encoded name then value, the
signed headers are lower-cased with their values trimmed and inner runs of
spaces folded. The payload hash is the ``x-amz-content-sha256`` header
(header form; S3 requires it) or ``UNSIGNED-PAYLOAD`` (presigned form).

Refusals raise :class:`avatars.testing.objects.S3Error`. Only the signature
is checked here; what the credentials may touch is the caller's business
(:mod:`avatars.testing.storage`).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, unquote

from .objects import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 7 * 86400

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*$"
)
_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class SignedRequest:
    """What a verified request was signed with."""

    access_key_id: str
    region: str
    payload_hash: str
    presigned: bool


def _malformed(message: str) -> S3Error:
    return S3Error(400, "AuthorizationHeaderMalformed", message)


def parse_amz_date(value: str) -> float:
    """Epoch seconds of a ``YYYYMMDDTHHMMSSZ`` stamp (``ValueError`` when malformed)."""
    if not _DATE_RE.match(value):
        raise ValueError(value)
    return float(calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))


def canonical_uri(raw_path: str) -> str:
    """The S3 canonical URI of a path as received (percent-decoded, then encoded once)."""
    return quote(unquote(raw_path or "/", errors="strict"), safe="/~")


def canonical_query(pairs: Sequence[Tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def split_raw_query(raw_query: str) -> List[Tuple[str, str]]:
    """Query pairs, percent-decoded (``+`` kept: S3 clients encode a space as ``%20``)."""
    pairs: List[Tuple[str, str]] = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode("utf-8"), date.encode("ascii"), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _signature(
    secret: str,
    scope: Tuple[str, str, str],
    amz_date: str,
    method: str,
    raw_path: str,
    query: Sequence[Tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    date, region, service = scope
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise S3Error(
                403, "AccessDenied", f"There were headers present in SignedHeaders that are not in the request: {name}"
            )
        lines.append(f"{name}:{_SPACES_RE.sub(' ', value.strip())}\n")
    canonical = "\n".join(
        [
            method,
            canonical_uri(raw_path),
            canonical_query(query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = signing_key(secret, date, region, service)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _parse_credential(credential: str) -> Tuple[str, Tuple[str, str, str]]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise _malformed("The authorization header is malformed; the Credential is mal-formed")
    if parts[3] != "s3":
        raise _malformed(f"The authorization header is malformed; incorrect service {parts[3]!r}, expecting 's3'")
    if not re.match(r"^\d{8}$", parts[1]) or not parts[2]:
        raise _malformed("The authorization header is malformed; the Credential scope is mal-formed")
    return parts[0], (parts[1], parts[2], parts[3])


def is_signed(headers: Mapping[str, str], query: Sequence[Tuple[str, str]]) -> bool:
    return "authorization" in headers or any(k == "X-Amz-Algorithm" for k, _ in query)


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    secret_for: Callable[[str], Optional[str]],
    *,
    clock: Optional[float] = None,
) -> SignedRequest:
    """Check the signature of one request, or raise :class:`S3Error`.

    ``headers`` maps lower-case names to values; ``secret_for(access_key_id)``
    returns the secret of a known key id, else None (-> ``InvalidAccessKeyId``).
    """
    current = time.time() if clock is None else clock
    query = split_raw_query(raw_query)
    authorization = headers.get("authorization")
    if authorization is not None:
        match = _AUTH_RE.match(authorization.strip())
        if not match:
            if not authorization.startswith(ALGORITHM):
                raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type")
            raise _malformed("The authorization header is malformed")
        credential, signed, given = match.groups()
        access_key_id, scope = _parse_credential(credential)
        amz_date = headers.get("x-amz-date", "")
        try:
            stamp = parse_amz_date(amz_date)
        except ValueError:
            raise S3Error(
                403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            ) from None
        if not amz_date.startswith(scope[0]):
            raise _malformed("The authorization header is malformed; the date of the scope does not match x-amz-date")
        payload_hash = headers.get("x-amz-content-sha256")
        if not payload_hash:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if abs(current - stamp) > MAX_SKEW_SECONDS:
            raise S3Error(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
        signed_headers = signed.split(";")
        presigned = False
    elif any(k == "X-Amz-Algorithm" for k, _ in query):
        params = dict(query)
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports AWS4-HMAC-SHA256")
        missing = [
            name
            for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
            if not params.get(name)
        ]
        if missing:
            raise S3Error(
                400, "AuthorizationQueryParametersError", "Query-string authentication requires " + ", ".join(missing)
            )
        access_key_id, scope = _parse_credential(params["X-Amz-Credential"])
        amz_date = params["X-Amz-Date"]
        try:
            stamp = parse_amz_date(amz_date)
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            raise S3Error(
                400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed"
            ) from None
        if not 0 < expires <= MAX_PRESIGN_EXPIRES:
            raise S3Error(
                400, "AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds"
            )
        if current > stamp + expires:
            raise S3Error(403, "AccessDenied", "Request has expired")
        if stamp - current > MAX_SKEW_SECONDS:
            raise S3Error(403, "AccessDenied", "Request is not valid yet")
        given = params["X-Amz-Signature"]
        signed_headers = params["X-Amz-SignedHeaders"].split(";")
        query = [(k, v) for k, v in query if k != "X-Amz-Signature"]
        payload_hash = headers.get("x-amz-content-sha256") or UNSIGNED_PAYLOAD
        presigned = True
    else:
        raise S3Error(403, "AccessDenied", "Access Denied")
    if "host" not in signed_headers:
        raise _malformed("The host header must be signed")
    if signed_headers != sorted(signed_headers) or any(h != h.lower() for h in signed_headers):
        raise _malformed("SignedHeaders must be lower-case and sorted")
    secret = secret_for(access_key_id)
    if secret is None:
        raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    expected = _signature(secret, scope, amz_date, method, raw_path, query, headers, signed_headers, payload_hash)
    if not hmac.compare_digest(expected, given.lower()):
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    return SignedRequest(access_key_id=access_key_id, region=scope[1], payload_hash=payload_hash, presigned=presigned)
