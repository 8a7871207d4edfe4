"""Object storage: the platform's S3-compatible store, signed with SigV4.

See docs/guides/storage.rst.  :class:`StorageClient` makes the calls,
:class:`StorageAuth` signs them, :mod:`avatars.storage.errors` types the
store's errors, :mod:`avatars.storage.locations` names objects.
"""

from __future__ import annotations

from .auth import DEFAULT_REGION, StorageAuth
from .client import DEFAULT_PART_SIZE, MIN_PART_SIZE, StorageClient, StoredObject, UploadResult
from .errors import (
    StorageAccessDenied,
    StorageCredentialsExpired,
    StorageError,
    StorageInvalidAccessKey,
    StorageKeyNotFound,
    StorageSignatureMismatch,
    StorageSlowDown,
    StorageUploadNotFound,
)
from .locations import Location, UnsafeLocationError, check_key, location_of

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_REGION",
    "MIN_PART_SIZE",
    "Location",
    "StorageAccessDenied",
    "StorageAuth",
    "StorageClient",
    "StorageCredentialsExpired",
    "StorageError",
    "StorageInvalidAccessKey",
    "StorageKeyNotFound",
    "StorageSignatureMismatch",
    "StorageSlowDown",
    "StorageUploadNotFound",
    "StoredObject",
    "UnsafeLocationError",
    "UploadResult",
    "check_key",
    "location_of",
]
