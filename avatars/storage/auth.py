"""The storage signer: AWS Signature Version 4, by botocore, as a ``requests`` auth.

:class:`StorageAuth` is an ordinary :class:`requests.auth.AuthBase`: it signs
a request with the short-lived credentials that ``GET /access`` issued for
one storage location, and only when the request goes to the storage origin it
was made for (any other origin gets the request unsigned).  The signature
itself is computed by botocore's ``S3SigV4Auth`` (the signer of boto3 and
s3fs); this module only carries a prepared ``requests`` request to it and the
resulting headers back.

Choice of signer (measured figures: docs/guides/storage.rst).  botocore hashes
a file-object body in 1 MiB reads and rewinds it, and can sign
``UNSIGNED-PAYLOAD``; ``requests-aws4auth`` 1.4 replaces a file-object body by
its whole content before hashing it.  botocore is imported on the first
signed request, not with :mod:`avatars`.

Payload signing (``unsigned_payload``):

* ``None`` (default): over ``https`` the payload is sent as
  ``UNSIGNED-PAYLOAD`` (TLS protects it, as boto3 does for S3 uploads); over
  plain ``http`` it is hashed (bounded memory: 1 MiB at a time).
* ``True``: always ``UNSIGNED-PAYLOAD`` (a store that allows it over http).
* ``False``: always hashed.

Only the headers a proxy cannot rewrite are signed: ``host``,
``content-type``, ``content-md5``, ``range``, ``if-match`` and every
``x-amz-*``.  (Hop-by-hop headers such as ``Connection`` may change on the
way through an HTTP proxy, and a signature over them would then fail.)
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, Dict, Optional

import requests
from requests.auth import AuthBase

from .._urls import Origin, origin_of
from ._bodies import SendBody

__all__ = ["StorageAuth", "DEFAULT_REGION"]

#: The region a store without regions (the platform's) is signed for, as
#: botocore and s3fs do when none is configured.
DEFAULT_REGION = "us-east-1"

_SIGNED_HEADERS = ("content-type", "content-md5", "range", "if-match")

_botocore: Optional[Dict[str, Any]] = None
_botocore_lock = threading.Lock()


def _signer_parts() -> Dict[str, Any]:
    """botocore's pieces, imported once (about 20 ms) on the first signature."""
    global _botocore
    if _botocore is None:
        with _botocore_lock:
            if _botocore is None:
                from botocore.auth import S3SigV4Auth
                from botocore.awsrequest import AWSRequest
                from botocore.credentials import ReadOnlyCredentials

                _botocore = {"signer": S3SigV4Auth, "request": AWSRequest, "credentials": ReadOnlyCredentials}
    return _botocore


class StorageAuth(AuthBase):
    """Signs requests to one storage origin with one pair of storage credentials.

    :param access_key_id: from :class:`~avatars.models.FileCredentials`.
    :param secret_access_key: idem (a secret: never shown).
    :param endpoint_url: the storage endpoint; only its origin is signed for.
    :param region: the region in the credential scope (default ``us-east-1``).
    :param unsigned_payload: see the module docstring.

    Usable with plain ``requests`` too: ``requests.get(url, auth=StorageAuth(...))``.
    """

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        endpoint_url: str,
        *,
        region: str = DEFAULT_REGION,
        unsigned_payload: Optional[bool] = None,
    ) -> None:
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.origin: Optional[Origin] = origin_of(endpoint_url)
        self.region = region
        self.unsigned_payload = unsigned_payload

    def __repr__(self) -> str:
        return f"StorageAuth(origin={self.origin!r}, region={self.region!r}, credentials='***')"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StorageAuth)
            and other._access_key_id == self._access_key_id
            and other._secret_access_key == self._secret_access_key
            and other.origin == self.origin
        )

    __hash__ = None  # type: ignore[assignment]

    def _payload_unsigned(self, url: str) -> bool:
        if self.unsigned_payload is not None:
            return self.unsigned_payload
        return url.lower().startswith("https://")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = r.url or ""
        if self.origin is None or origin_of(url) != self.origin:
            return r  # not the storage origin: these credentials are not for it
        parts = _signer_parts()
        headers = {name: value for name, value in r.headers.items() if _is_signed(name)}
        # A SendBody (the store client's uploads) is hashed through its readable part.
        body = r.body.payload if isinstance(r.body, SendBody) else r.body
        aws_request = parts["request"](method=r.method, url=url, headers=headers, data=body)
        unsigned = self._payload_unsigned(url)
        aws_request.context["client_config"] = SimpleNamespace(s3={"payload_signing_enabled": not unsigned})
        credentials = parts["credentials"](self._access_key_id, self._secret_access_key, None)
        signer = parts["signer"](credentials, "s3", self.region)
        was_quiet = getattr(body, "quiet", None)
        if was_quiet is not None:
            body.quiet = True  # type: ignore[union-attr]
        try:
            signer.add_auth(aws_request)
        finally:
            if was_quiet is not None:
                body.quiet = was_quiet  # type: ignore[union-attr]
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            r.headers[name] = aws_request.headers[name]
        return r


def _is_signed(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("x-amz-") or lowered in _SIGNED_HEADERS
