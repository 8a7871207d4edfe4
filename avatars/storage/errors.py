"""Errors of the object store: its XML error documents as typed errors.

S3 answers an error with a status and an XML body naming an error code
(``<Error><Code>NoSuchKey</Code><Message>...</Message></Error>``).  Each
becomes a :class:`StorageError` (an :class:`~avatars.errors.ApiError`) whose
``code`` is that S3 code; the common codes have their own classes, which are
also the matching API error class (``except PermissionDenied`` catches a
storage ``AccessDenied`` too).  The message names the code, the store's
message, the method and the URL; never the credentials, nor the
``StringToSign``/``CanonicalRequest`` a store may echo back.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from ..errors import ApiError, NotFound, PermissionDenied, ServerError

__all__ = [
    "StorageError",
    "StorageAccessDenied",
    "StorageCredentialsExpired",
    "StorageSignatureMismatch",
    "StorageInvalidAccessKey",
    "StorageKeyNotFound",
    "StorageUploadNotFound",
    "StorageSlowDown",
    "storage_error",
    "REFRESH_CODES",
]


class StorageError(ApiError):
    """The object store refused a request.  ``code`` is the S3 error code
    (``"AccessDenied"``, ``"NoSuchKey"``...), or ``None`` when the answer had
    no S3 error document (then ``detail`` says what came instead)."""

    default_message = "the object store returned an error"

    code: Optional[str] = None
    store_request_id: Optional[str] = None


class StorageAccessDenied(StorageError, PermissionDenied):
    """``AccessDenied``: these credentials may not do this (another user's prefix...)."""


class StorageCredentialsExpired(StorageError, PermissionDenied):
    """``ExpiredToken`` (and kin): the storage credentials from ``/access`` have expired."""


class StorageSignatureMismatch(StorageError, PermissionDenied):
    """``SignatureDoesNotMatch``: the store computed another signature (wrong secret,
    or a proxy that changed a signed header)."""


class StorageInvalidAccessKey(StorageError, PermissionDenied):
    """``InvalidAccessKeyId``: the store does not know this access key (revoked or expired)."""


class StorageKeyNotFound(StorageError, NotFound):
    """``NoSuchKey`` / ``NoSuchBucket``: nothing at this location."""


class StorageUploadNotFound(StorageError, NotFound):
    """``NoSuchUpload``: the multipart upload was completed or aborted already."""


class StorageSlowDown(StorageError, ServerError):
    """``SlowDown`` / ``ServiceUnavailable`` / ``InternalError``: the store is busy or failing;
    safe requests are retried before this is raised."""


_CODE_CLASSES: Dict[str, Type[StorageError]] = {
    "AccessDenied": StorageAccessDenied,
    "AllAccessDisabled": StorageAccessDenied,
    "ExpiredToken": StorageCredentialsExpired,
    "TokenRefreshRequired": StorageCredentialsExpired,
    "InvalidToken": StorageCredentialsExpired,
    "SignatureDoesNotMatch": StorageSignatureMismatch,
    "InvalidAccessKeyId": StorageInvalidAccessKey,
    "NoSuchKey": StorageKeyNotFound,
    "NoSuchBucket": StorageKeyNotFound,
    "NoSuchUpload": StorageUploadNotFound,
    "SlowDown": StorageSlowDown,
    "ServiceUnavailable": StorageSlowDown,
    "InternalError": StorageSlowDown,
}

#: Codes after which fresh credentials from ``/access`` are worth one more try.
REFRESH_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired", "InvalidToken", "InvalidAccessKeyId"})


#: The most bytes of an error answer that are parsed as an S3 error document
#: (a real one is under 1 KiB; a larger answer is reported as not one).
MAX_ERROR_DOCUMENT = 64 * 1024


def _parse(body: bytes) -> Dict[str, str]:
    """``Code``, ``Message``, ``RequestId`` of an S3 error document ({} if it
    is none; ``{"refused": reason}`` for XML the parser refuses: see
    :mod:`avatars.storage._xml`)."""
    if not body or b"<" not in body[:200] or len(body) > MAX_ERROR_DOCUMENT:
        return {}
    from xml.etree import ElementTree  # on first use (about 0.5 MiB)

    from ._xml import UnsafeXML, parse

    try:
        root = parse(body)
    except ElementTree.ParseError:
        return {}
    except UnsafeXML as exc:
        return {"refused": str(exc)}
    found: Dict[str, str] = {}
    for child in root.iter():
        name = child.tag.rsplit("}", 1)[-1]
        if name in ("Code", "Message", "RequestId") and name not in found and child.text:
            found[name] = child.text.strip()
    return found


def storage_error(error: ApiError) -> StorageError:
    """The typed storage error for an error answer ``ApiClient.request`` raised."""
    response = error.response
    raw = b""
    if response is not None:
        try:
            raw = response.content or b""
        except Exception:  # noqa: BLE001 - a broken body still makes an error
            raw = b""
    fields = _parse(raw)
    code = fields.get("Code")
    status = error.status_code
    if code is not None:
        cls = _CODE_CLASSES.get(code, StorageError)
        detail = f"{code}: {fields.get('Message') or 'no message'}"
    else:
        if status == 404:
            cls, code = StorageKeyNotFound, None
        elif status == 503:
            cls = StorageSlowDown
        elif status in (401, 403):
            cls = StorageAccessDenied
        else:
            cls = StorageError
        if "refused" in fields:
            detail = f"the store answered with XML the client refuses to read ({fields['refused']})"
        elif len(raw) > MAX_ERROR_DOCUMENT:
            detail = f"the store answered with {len(raw)} bytes, too large for an S3 error document"
        else:
            detail = f"the store answered without an S3 error document: {error.detail}"
    built = cls(
        detail,
        status_code=status,
        method=error.method,
        url=error.url,
        request_id=error.request_id or (response.headers.get("x-amz-request-id") if response is not None else None),
        body=None,
        headers=error.headers,
        response=response,
    )
    built.code = code
    built.store_request_id = fields.get("RequestId")
    return built
