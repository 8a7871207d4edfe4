"""``client.datasets``: data files in the platform's object store.

The platform keeps data files in an S3-compatible store, under a prefix per
user (``GET /upload_url``).  This facade uploads under a key of that prefix,
downloads a location, and lists the prefix; :class:`~avatars.storage.StorageClient`
(``client.storage``) makes the calls, signed with the credentials of
``GET /access``.  Nothing is read into memory whole, except by
:meth:`Datasets.download` without a destination (which returns the bytes).
"""

from __future__ import annotations

from typing import Any, List, Optional, Union

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import FileAccess
from ..storage.client import StoredObject, UploadResult, check_upload_options
from ..storage.locations import Location, check_key
from ..transfer import DEFAULT_DECOMPRESSION_LIMIT, DecompressionLimit, Destination, DownloadResult, ProgressCallback
from ._base import Resource

__all__ = ["Datasets"]

#: What :meth:`Datasets.download` accepts as the object to fetch.
Target = Union[FileAccess, Location, str]


class Datasets(Resource):
    """Data files in object storage (``/upload_url``, ``/access`` and the store)."""

    def upload(
        self,
        source: Any,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        part_size: Optional[int] = None,
        max_concurrency: Optional[int] = None,
        progress: Optional[ProgressCallback] = None,
        timeout: Optional[Timeout] = None,
    ) -> UploadResult:
        """``PUT <store>/<bucket>/<key>`` (after ``GET /upload_url`` and ``GET /access``):
        store ``source`` under ``key`` in your prefix; return where it went.

        ``source`` is a path, a binary file object (read from its current
        position), ``bytes``, an iterable of ``bytes`` chunks, or a pandas
        ``DataFrame`` (written as CSV without its index, like the platform's
        SDK).  ``key`` is relative to your prefix (``"tables/adult.csv"``);
        a key with a ``..`` segment, a NUL or a leading ``/`` is refused before
        anything is sent.  Objects larger than ``part_size`` (default 16 MiB)
        go up in parts, ``max_concurrency`` at a time (default 1); a failed or
        interrupted multipart upload is aborted.  ``progress(done, total)`` is
        called as bytes go out (from the worker threads, one call at a time,
        when parts go in parallel).
        """
        relative = check_key(key)
        check_upload_options(part_size, max_concurrency)
        location = self._client.storage.prefix(timeout=timeout).child(relative)
        return self._client.storage.upload(
            source,
            location,
            content_type=content_type,
            part_size=part_size,
            max_concurrency=max_concurrency,
            progress=progress,
            timeout=timeout,
        )

    def location(self, key: str, *, timeout: Optional[Timeout] = None) -> Location:
        """``GET /upload_url`` (once per client): where ``key`` is in your prefix
        (``s3://bucket/prefix/key``)."""
        return self._client.storage.prefix(timeout=timeout).child(check_key(key))

    def download(
        self,
        target: Target,
        destination: Optional[Destination] = None,
        *,
        progress: Optional[ProgressCallback] = None,
        durable: bool = False,
        checksum: bool = True,
        decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
        timeout: Optional[Timeout] = None,
    ) -> Union[DownloadResult, bytes]:
        """``GET <store>/<bucket>/<key>`` (after ``GET /access``): fetch an object.

        To ``destination`` (a path, written to a temporary
        file and renamed when complete; or a writable binary file), or into
        memory (the bytes are returned) when ``destination`` is ``None``.

        ``target`` is a :class:`~avatars.models.FileAccess` (its credentials
        are used), a :class:`~avatars.storage.Location`, or a URL as the
        platform gives them (``s3://...``, or a result URL carrying one, which
        is first passed to ``GET /access``).  The result's ``sha256`` is
        computed in a helper thread; ``checksum=False`` skips it (``""``).  A
        compressed object may expand only as far as ``decompression_limit``
        allows (see :mod:`avatars.transfer`).
        """
        location = self._resolve(target, timeout)
        return self._client.storage.download(
            location,
            destination,
            progress=progress,
            durable=durable,
            checksum=checksum,
            decompression_limit=decompression_limit,
            timeout=timeout,
        )

    def list(self, *, timeout: Optional[Timeout] = None) -> List[StoredObject]:
        """``GET <store>/<bucket>?list-type=2``: every object under your prefix,
        with its key relative to the prefix."""
        return self._client.storage.list(self._client.storage.prefix(timeout=timeout), timeout=timeout)

    def delete(self, key: str, *, timeout: Optional[Timeout] = None) -> None:
        """``DELETE <store>/<bucket>/<key>``: delete the object ``key`` of your prefix."""
        self._client.storage.delete(self.location(key, timeout=timeout), timeout=timeout)

    def _resolve(self, target: Target, timeout: Optional[Timeout]) -> Location:
        storage = self._client.storage
        if isinstance(target, FileAccess):
            return storage.remember(target)
        if isinstance(target, Location):
            return target
        if isinstance(target, str):
            return storage.access(target, timeout=timeout)
        raise RequestValidationError(
            f"expected a FileAccess, a Location or a URL, got {type(target).__name__}", field="target"
        )
