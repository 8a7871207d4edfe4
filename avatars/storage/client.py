"""``StorageClient``: the S3 calls the client makes, over ``ApiClient.request``.

Every request to the store goes the one road, ``ApiClient.request(method,
<absolute storage URL>, auth=<StorageAuth>)``: the caller's session, with its
proxies, CA bundle, client certificate and adapters, carries storage traffic
too, and the ``auth=`` signer replaces the API's credentials for that call
(API credentials never reach the store; storage credentials only ever go to
the storage origin).  Redirects are not followed.

Credentials come from ``GET /access`` per location and are cached while they
work; when the store says they expired (``ExpiredToken``,
``InvalidAccessKeyId``...), they are fetched again once and the request is
re-sent (when its body can be rewound).  ``503 SlowDown`` and dropped
connections are retried for requests that are safe to repeat (every call but
``CreateMultipartUpload``), with a short exponential pause.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote

import requests
import urllib3

from ..auth import rewind
from ..errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ProxyError,
    RequestValidationError,
    TLSError,
    redact_url,
    schema_error,
)
from ..models import FileAccess
from ..transfer import (
    DEFAULT_DECOMPRESSION_LIMIT,
    DecompressionLimit,
    Destination,
    DownloadResult,
    ProgressCallback,
    check_destination,
    save_response,
)
from ._bodies import Cancelled, PartBody, SendBody, Source, open_source
from .auth import DEFAULT_REGION, StorageAuth
from .errors import REFRESH_CODES, StorageError, StorageSlowDown, storage_error
from .locations import Location, check_key, check_location, is_direct_url, location_of

if TYPE_CHECKING:  # pragma: no cover
    from xml.etree.ElementTree import Element

    from ..client import ApiClient

__all__ = [
    "StorageClient",
    "StoredObject",
    "UploadResult",
    "MIN_PART_SIZE",
    "DEFAULT_PART_SIZE",
    "check_upload_options",
]

logger = logging.getLogger(__name__)

#: S3's smallest part (every part but the last).
MIN_PART_SIZE = 5 * 1024 * 1024
#: Default part size, and the size above which an upload is multipart.
DEFAULT_PART_SIZE = 16 * 1024 * 1024
_MAX_PARTS = 10000
_DOWNLOAD_CHUNK = 1024 * 1024
#: The longest access key id or secret accepted from ``/access`` (real ones
#: are 20 and 40 characters).
MAX_CREDENTIAL_LENGTH = 1024
#: Most pages one :meth:`StorageClient.list` reads (10 million objects at
#: S3's 1000 per page), and most objects it returns.
MAX_LIST_PAGES = 10_000
MAX_LIST_OBJECTS = 1_000_000


@dataclass(frozen=True)
class StoredObject:
    """One object listed under a prefix: ``key`` is relative to that prefix."""

    location: Location
    key: str
    size: int
    etag: Optional[str] = None
    last_modified: Optional[str] = None


@dataclass(frozen=True)
class UploadResult:
    """What an upload stored: its ``location``, ``size`` in bytes, the store's
    ``etag`` and the number of ``parts`` (``1`` for a single PUT)."""

    location: Location
    size: int
    etag: Optional[str]
    parts: int


class _Progress:
    """Sums the positions of the parts in flight into one ``progress(done, total)``."""

    def __init__(self, callback: Optional[ProgressCallback], total: Optional[int]) -> None:
        self._callback = callback
        self._total = total
        self._done_parts = 0
        self._positions: Dict[int, int] = {}
        self._lock = threading.Lock()
        if callback is not None:
            callback(0, total)

    def tracker(self, part: int) -> Any:
        def on_position(position: int) -> None:
            if self._callback is None:
                return
            with self._lock:
                self._positions[part] = position
                self._callback(sum(self._positions.values()), self._total)

        return on_position


class StorageClient:
    """Uploads, downloads and lists objects in the platform's object store.

    Usually reached as ``client.storage`` (and through ``client.datasets``).

    :param endpoint_url: the store (``https://host/storage``).
    :param region: the region in the signature's scope.
    :param unsigned_payload: see :mod:`avatars.storage.auth`.
    :param part_size: bytes per multipart part; objects larger than this are
        uploaded in parts (at least 5 MiB).
    :param max_concurrency: parts sent at once (default 1: one stream).
    :param max_attempts: tries per request that is safe to repeat.
    :param retry_backoff: seconds before the first retry, doubled each time.
    """

    def __init__(
        self,
        client: ApiClient,
        endpoint_url: str,
        *,
        region: str = DEFAULT_REGION,
        unsigned_payload: Optional[bool] = None,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = 1,
        max_attempts: int = 3,
        retry_backoff: float = 0.5,
    ) -> None:
        self._client = client
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.unsigned_payload = unsigned_payload
        self.part_size = _check_part_size(part_size)
        self.max_concurrency = _check_concurrency(max_concurrency)
        self.max_attempts = max(1, int(max_attempts))
        self.retry_backoff = retry_backoff
        self._auths: Dict[str, StorageAuth] = {}
        self._lock = threading.Lock()
        self._prefix: Optional[Location] = None
        self._upload_url: Optional[str] = None

    def __repr__(self) -> str:
        return f"StorageClient(endpoint_url={self.endpoint_url!r})"

    # ------------------------------------------------------------------ credentials

    def access_url(self, location: Location) -> str:
        """What ``/access`` is asked about for ``location`` (the platform SDK's form:
        an API ``/access`` URL carrying the ``s3://`` location, percent-encoded
        so that a ``&``, ``+`` or ``%`` of the key reaches the platform as it is)."""
        return f"{self._client.base_url}/access?url={quote(location.uri, safe=':/')}"

    def remember(self, access: FileAccess) -> Location:
        """Cache the credentials of ``access`` for its location; return that location."""
        location = location_of(access.url, endpoint_url=self.endpoint_url, name="file_access.url")
        self._store(location, access)
        return location

    def _granted(self, access: FileAccess, asked: Location, endpoint: str) -> FileAccess:
        """``access`` when it was issued for ``asked``: credentials are never
        attached to a location other than the one the platform named for them
        (:class:`~avatars.errors.SchemaError` otherwise, the secret not in it)."""
        try:
            granted = location_of(access.url, endpoint_url=self.endpoint_url, name="url")
        except RequestValidationError as exc:
            raise schema_error(endpoint, {"url": [str(exc)]}) from None
        if granted != asked:
            problem = f"the credentials are for {granted.uri[:200]!r}, not for the location asked, {asked.uri[:200]!r}"
            raise schema_error(endpoint, {"url": [problem]})
        return access

    def _store(self, location: Location, access: FileAccess, endpoint: str = "GET /access") -> StorageAuth:
        problems = _credential_problems(access)
        if problems:
            raise schema_error(endpoint, problems)
        auth = StorageAuth(
            access.credentials.access_key_id,
            access.credentials.secret_access_key,
            self.endpoint_url,
            region=self.region,
            unsigned_payload=self.unsigned_payload,
        )
        with self._lock:
            self._auths[location.uri] = auth
        return auth

    def forget(self, location: Location, stale: Optional[StorageAuth] = None) -> None:
        """Drop cached credentials of ``location`` (only ``stale`` ones, when given)."""
        with self._lock:
            if stale is None or self._auths.get(location.uri) is stale:
                self._auths.pop(location.uri, None)

    def auth_for(self, location: Location, *, timeout: Any = None) -> StorageAuth:
        """The signer for ``location``: cached, or from ``GET /access``."""
        with self._lock:
            cached = self._auths.get(location.uri)
        if cached is not None:
            return cached
        access = self._client.results.get_permission_to_download(self.access_url(location), timeout=timeout)
        return self._store(location, self._granted(access, location, "GET /access"))

    def access(self, url: str, *, timeout: Any = None) -> Location:
        """The location ``url`` names, with its credentials: cached, or asked from
        ``GET /access`` with ``url`` as given (a result URL, ``s3://...``)."""
        location = location_of(url, endpoint_url=self.endpoint_url, name="url")
        with self._lock:
            if location.uri in self._auths:
                return location
        access = self._client.results.get_permission_to_download(url, timeout=timeout)
        self._store(location, self._granted(access, location, "GET /access"))
        return location

    def has_credentials(self, url: str) -> bool:
        """Whether credentials for the location ``url`` names are cached (no
        ``/access`` call would be made for it now)."""
        location = location_of(url, endpoint_url=self.endpoint_url, name="url")
        with self._lock:
            return location.uri in self._auths

    def prefetch(self, urls: List[str], *, timeout: Any = None) -> List[Location]:
        """Credentials for several locations in one ``POST /access/batch``;
        the locations the platform granted (it leaves out the others), in the
        order asked.

        Each answer is matched to the location it names, whatever its place
        in the list.  An answer for a location not asked, or two different
        answers for one location, is a :class:`~avatars.errors.SchemaError`,
        and nothing of that batch is kept."""
        endpoint = "POST /access/batch"
        asked = {location_of(url, endpoint_url=self.endpoint_url, name="url"): None for url in urls}
        granted = self._client.results.get_permissions_to_download_batch(urls, timeout=timeout)
        found: Dict[Location, FileAccess] = {}
        for index, access in enumerate(granted):
            try:
                location = location_of(access.url, endpoint_url=self.endpoint_url, name="url")
            except RequestValidationError as exc:
                raise schema_error(endpoint, {f"{index}.url": [str(exc)]}) from None
            if location not in asked:
                raise schema_error(endpoint, {f"{index}.url": [f"{location.uri[:200]!r} was not asked for"]})
            if location in found and found[location].credentials != access.credentials:
                raise schema_error(
                    endpoint, {f"{index}.url": [f"{location.uri[:200]!r} is granted twice, with other credentials"]}
                )
            problems = _credential_problems(access, f"{index}.")
            if problems:
                raise schema_error(endpoint, problems)
            found[location] = access
        ordered = [location for location in asked if location in found]
        for location in ordered:
            self._store(location, found[location], endpoint)
        return ordered

    def upload_prefix(self, *, timeout: Any = None) -> str:
        """What ``GET /upload_url`` answers (asked once per client)."""
        if self._upload_url is None:
            self._upload_url = self._client.results.get_upload_url(timeout=timeout)
        return self._upload_url

    def prefix(self, *, timeout: Any = None) -> Location:
        """The caller's prefix in the store (from ``GET /upload_url``)."""
        if self._prefix is None:
            self._prefix = location_of(
                self.upload_prefix(timeout=timeout), endpoint_url=self.endpoint_url, name="upload_url"
            )
        return self._prefix

    def is_direct_url(self, url: str) -> bool:
        """See :func:`avatars.storage.locations.is_direct_url`."""
        return is_direct_url(url, self.endpoint_url)

    # ------------------------------------------------------------------ one request

    def _call(
        self,
        method: str,
        location: Location,
        *,
        query: str = "",
        bucket_only: bool = False,
        headers: Optional[Mapping[str, str]] = None,
        data: Any = None,
        stream: bool = False,
        repeatable: bool = True,
        timeout: Any = None,
    ) -> requests.Response:
        check_location(location, "location")
        url = location.bucket_url(self.endpoint_url) if bucket_only else location.url(self.endpoint_url)
        if query:
            url = f"{url}?{query}"
        position = data.tell() if hasattr(data, "tell") else None
        attempt = 1
        refreshed = False
        started = time.monotonic()
        while True:
            auth = self.auth_for(location, timeout=timeout)
            try:
                response = self._client.request(
                    method,
                    url,
                    auth=auth,
                    headers=headers,
                    data=data,
                    stream=stream,
                    allow_redirects=False,
                    timeout=timeout,
                )
            except ApiError as exc:
                error = storage_error(exc)
                if error.code in REFRESH_CODES and not refreshed and rewind(data, position):
                    logger.info(
                        "avatars: storage credentials for %s refused (%s); asking /access again", location, error.code
                    )
                    self.forget(location, auth)
                    refreshed = True
                    continue
                if (
                    isinstance(error, StorageSlowDown)
                    and repeatable
                    and attempt < self.max_attempts
                    and self._budget_allows(started, attempt)
                    and not self._session_retries(method, url, error.status_code)
                    and rewind(data, position)
                ):
                    self._pause(attempt, method, url, error.code or str(error.status_code))
                    attempt += 1
                    continue
                raise error from None
            except (ApiConnectionError, ApiTimeoutError) as exc:
                if (
                    isinstance(exc, (TLSError, ProxyError))
                    or not repeatable
                    or attempt >= self.max_attempts
                    or not self._budget_allows(started, attempt)
                    or self._session_retries(method, url, None)
                    or not rewind(data, position)
                ):
                    raise
                self._pause(attempt, method, url, "connection failure")
                attempt += 1
                continue
            if 300 <= response.status_code < 400:
                response.close()
                raise StorageError(
                    f"the store redirected to {redact_url(response.headers.get('Location', '?'))}; "
                    "redirects are not followed (is storage_endpoint_url right?)",
                    status_code=response.status_code,
                    method=method,
                    url=url,
                )
            return response

    def _budget_allows(self, started: float, attempt: int) -> bool:
        """Is there room for another attempt (after its pause) in the client's
        whole-call budget (``total_timeout``)?  Each attempt is a call with a
        budget of its own; this keeps the attempts of one storage call from
        spending it again and again (a store that never answers)."""
        budget = float(getattr(self._client, "total_timeout", 0) or 0)
        wait = self.retry_backoff * (2 ** (attempt - 1))
        return not budget or time.monotonic() - started + wait < budget

    def _session_retries(self, method: str, url: str, status: Optional[int]) -> bool:
        """Has the session's adapter (a ``urllib3.Retry``) already retried this?
        Then retrying here too would multiply the attempts."""
        try:
            retry = getattr(self._client.session.get_adapter(url), "max_retries", None)
        except requests.exceptions.InvalidSchema:
            return False
        if not isinstance(retry, urllib3.util.retry.Retry) or not retry.total:
            return False
        allowed = retry.allowed_methods
        if allowed is not None and method.upper() not in allowed:
            return False
        if status is None:
            return bool(retry.read or retry.connect)
        return status in (retry.status_forcelist or ())

    def _pause(self, attempt: int, method: str, url: str, why: str) -> None:
        wait = self.retry_backoff * (2 ** (attempt - 1))
        logger.info("avatars: %s %s failed (%s); retry %d in %.1f s", method, redact_url(url), why, attempt, wait)
        time.sleep(wait)

    # ------------------------------------------------------------------ upload

    def upload(
        self,
        source: Any,
        location: Location,
        *,
        content_type: str = "application/octet-stream",
        part_size: Optional[int] = None,
        max_concurrency: Optional[int] = None,
        progress: Optional[ProgressCallback] = None,
        timeout: Any = None,
    ) -> UploadResult:
        """Store ``source`` at ``location``: one PUT up to ``part_size``, a
        multipart upload above (aborted on any failure or interrupt)."""
        size_of_part = self.part_size if part_size is None else _check_part_size(part_size)
        workers = self.max_concurrency if max_concurrency is None else _check_concurrency(max_concurrency)
        src = open_source(source)
        try:
            if src.size is not None:
                if src.size <= size_of_part:
                    return self._put_single(src, location, content_type, progress, timeout)
                size_of_part = max(size_of_part, -(-src.size // _MAX_PARTS))
                return self._multipart(src, location, content_type, size_of_part, workers, progress, timeout)
            first = src.read_forward(size_of_part)
            if len(first) < size_of_part:
                return self._put_single(_BufferSource(first), location, content_type, progress, timeout)
            return self._multipart(src, location, content_type, size_of_part, 1, progress, timeout, first=first)
        finally:
            src.close()

    def _put_single(
        self,
        src: Source,
        location: Location,
        content_type: str,
        progress: Optional[ProgressCallback],
        timeout: Any,
    ) -> UploadResult:
        size = src.size or 0
        tracker = _Progress(progress, size)
        # An empty body goes as b"": a zero-length stream would be sent chunked.
        body = SendBody(PartBody(src.read_at, 0, size, on_position=tracker.tracker(1))) if size else b""
        response = self._call("PUT", location, headers={"Content-Type": content_type}, data=body, timeout=timeout)
        response.close()
        return UploadResult(location, size, response.headers.get("ETag"), 1)

    def _multipart(
        self,
        src: Source,
        location: Location,
        content_type: str,
        part_size: int,
        workers: int,
        progress: Optional[ProgressCallback],
        timeout: Any,
        *,
        first: Optional[bytes] = None,
    ) -> UploadResult:
        response = self._call(
            "POST", location, query="uploads", headers={"Content-Type": content_type}, repeatable=False, timeout=timeout
        )
        upload_id = _xml_text(response, "UploadId")
        if not upload_id:
            raise StorageError(
                "the store answered CreateMultipartUpload without an UploadId",
                status_code=response.status_code,
                method="POST",
                url=response.url,
            )
        tracker = _Progress(progress, src.size)
        cancelled = threading.Event()
        etags: Dict[int, str] = {}
        total = 0
        try:
            if src.size is None:
                number, chunk = 1, first or b""
                while chunk:
                    buffered = _BufferSource(chunk)
                    body = PartBody(buffered.read_at, 0, len(chunk), on_position=tracker.tracker(number))
                    etags[number] = self._put_part(location, upload_id, number, body, timeout)
                    total += len(chunk)
                    number += 1
                    chunk = src.read_forward(part_size)
            else:
                total = src.size
                ranges = [
                    (n + 1, offset, min(part_size, total - offset))
                    for n, offset in enumerate(range(0, total, part_size))
                ]

                def send(number: int, offset: int, length: int) -> Tuple[int, str]:
                    body = PartBody(
                        src.read_at, offset, length, on_position=tracker.tracker(number), cancelled=cancelled
                    )
                    return number, self._put_part(location, upload_id, number, body, timeout)

                if workers <= 1 or not src.parallel_safe:
                    for number, offset, length in ranges:
                        etags[number] = send(number, offset, length)[1]
                else:
                    import concurrent.futures

                    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="avatars-part") as pool:
                        futures = [pool.submit(send, *item) for item in ranges]
                        try:
                            for future in concurrent.futures.as_completed(futures):
                                number, etag = future.result()
                                etags[number] = etag
                        except BaseException:
                            cancelled.set()
                            for future in futures:
                                future.cancel()
                            raise
            body_xml = _complete_body(etags)
            response = self._call(
                "POST",
                location,
                query=f"uploadId={_q(upload_id)}",
                headers={"Content-Type": "application/xml"},
                data=body_xml,
                timeout=timeout,
            )
            final_etag = _xml_text(response, "ETag")
        except BaseException as exc:
            cancelled.set()
            self._abort(location, upload_id, exc, timeout)
            if isinstance(exc, Cancelled):
                raise ApiConnectionError("the upload was cancelled") from None
            raise
        expected = _multipart_etag(etags)
        if (
            expected is not None
            and final_etag is not None
            and _s3_multipart_form(final_etag)
            and final_etag.strip().strip('"').lower() != expected
        ):
            # Completed already (nothing left to abort): the object is there, but not made of the parts sent.
            raise StorageError(
                f"the store completed the upload of {location} with ETag {final_etag[:80]!r}, "
                f"not the {expected!r} its {len(etags)} parts make: the stored object may not be what was sent",
                status_code=response.status_code,
                method="POST",
                url=response.url,
            )
        return UploadResult(location, total, final_etag, len(etags))

    def _put_part(self, location: Location, upload_id: str, number: int, body: PartBody, timeout: Any) -> str:
        response = self._call(
            "PUT",
            location,
            query=f"partNumber={number}&uploadId={_q(upload_id)}",
            data=SendBody(body),
            timeout=timeout,
        )
        response.close()
        etag = response.headers.get("ETag")
        if not etag:
            raise StorageError(
                f"the store answered part {number} without an ETag",
                status_code=response.status_code,
                method="PUT",
                url=response.url,
            )
        return etag

    def _abort(self, location: Location, upload_id: str, cause: BaseException, timeout: Any) -> None:
        try:
            self._call("DELETE", location, query=f"uploadId={_q(upload_id)}", timeout=timeout).close()
        except Exception as exc:  # noqa: BLE001 - the original failure is what the caller must see
            logger.warning(
                "avatars: could not abort the multipart upload to %s after %s: %s",
                location,
                type(cause).__name__,
                exc,
            )
        else:
            logger.info("avatars: multipart upload to %s aborted after %s", location, type(cause).__name__)

    # ------------------------------------------------------------------ download

    def download(
        self,
        location: Location,
        destination: Optional[Destination] = None,
        *,
        progress: Optional[ProgressCallback] = None,
        durable: bool = False,
        checksum: bool = True,
        decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
        timeout: Any = None,
    ) -> Union[DownloadResult, bytes]:
        """Stream ``location`` to ``destination`` (a path, written through a
        temporary file and renamed; a writable binary file), or return its bytes
        when ``destination`` is ``None``.  A dropped connection resumes with
        ``Range`` (same ETag required); a body shorter than announced raises.
        ``checksum=False`` skips the result's SHA-256 (then ``""``)."""
        if destination is not None:
            check_destination(destination)
        started = time.monotonic()
        response = self._call("GET", location, stream=True, timeout=timeout)
        response.raw = _ResumingBody(self, location, response, timeout, started=started)
        if destination is None:
            buffer = io.BytesIO()
            save_response(
                response,
                buffer,
                progress=progress,
                chunk_size=_DOWNLOAD_CHUNK,
                checksum=False,
                decompression_limit=decompression_limit,
            )
            return buffer.getvalue()
        return save_response(
            response,
            destination,
            progress=progress,
            durable=durable,
            chunk_size=_DOWNLOAD_CHUNK,
            checksum=checksum,
            decompression_limit=decompression_limit,
        )

    def head(self, location: Location, *, timeout: Any = None) -> Dict[str, str]:
        """The object's headers (``Content-Length``, ``ETag``...)."""
        response = self._call("HEAD", location, timeout=timeout)
        response.close()
        return dict(response.headers)

    def delete(self, location: Location, *, timeout: Any = None) -> None:
        self._call("DELETE", location, timeout=timeout).close()

    # ------------------------------------------------------------------ list

    def list(self, prefix: Location, *, timeout: Any = None) -> List[StoredObject]:
        """Every object under ``prefix`` (ListObjectsV2, all pages)."""
        base = prefix.key.rstrip("/") + "/" if prefix.key else ""
        found: List[StoredObject] = []
        token: Optional[str] = None
        seen_tokens = set()
        for _page in range(MAX_LIST_PAGES):
            query = f"list-type=2&prefix={_q(base)}"
            if token:
                query += f"&continuation-token={_q(token)}"
            response = self._call("GET", prefix, query=query, bucket_only=True, timeout=timeout)
            root = _xml_root(response)
            for item in _children(root, "Contents"):
                key = _child_text(item, "Key") or ""
                relative = self._listed_key(key, base, response)
                if relative is None:
                    continue  # the prefix's own "folder" marker
                size_text = (_child_text(item, "Size") or "0").strip()
                found.append(
                    StoredObject(
                        location=Location(prefix.bucket, key),
                        key=relative,
                        size=int(size_text)
                        if size_text.isascii() and size_text.isdigit() and len(size_text) < 20
                        else 0,
                        etag=_child_text(item, "ETag"),
                        last_modified=_child_text(item, "LastModified"),
                    )
                )
                if len(found) > MAX_LIST_OBJECTS:
                    raise self._list_error(f"the listing holds more than {MAX_LIST_OBJECTS} objects", response)
            token = _child_text(root, "NextContinuationToken")
            if (_child_text(root, "IsTruncated") or "").lower() != "true" or not token:
                return found
            if token in seen_tokens:
                raise self._list_error("the store handed out the same continuation token twice (a loop)", response)
            seen_tokens.add(token)
        raise self._list_error(f"the listing did not end within {MAX_LIST_PAGES} pages", response)

    def _listed_key(self, key: str, base: str, response: requests.Response) -> Optional[str]:
        """The part of a listed ``key`` below ``base`` (``None`` for ``base``
        itself): it must be under the prefix asked and a key :func:`check_key`
        accepts (so a caller may join it to a local folder or the prefix again)."""
        if not key.startswith(base):
            raise self._list_error(f"the store listed a key outside the prefix asked: {key[:200]!r}", response)
        if key == base:
            return None
        try:
            return check_key(key[len(base) :], "listed key")
        except RequestValidationError as exc:
            raise self._list_error(f"the store listed an unusable key ({exc})", response) from None

    @staticmethod
    def _list_error(problem: str, response: requests.Response) -> StorageError:
        return StorageError(problem, status_code=response.status_code, method="GET", url=response.url)


class _BufferSource(Source):
    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


class _ResumingBody:
    """The raw body of a download that reconnects with ``Range`` where it broke.

    Read by ``requests``' ``iter_content`` (so :func:`avatars.transfer.save_response`
    does the writing, hashing, progress and the temporary-file rename).
    """

    _DROPS = (urllib3.exceptions.HTTPError, OSError)

    def __init__(
        self,
        storage: StorageClient,
        location: Location,
        response: requests.Response,
        timeout: Any,
        *,
        started: Optional[float] = None,
    ) -> None:
        self._storage = storage
        self._location = location
        self._raw = response.raw
        self._timeout = timeout
        self._etag = response.headers.get("ETag")
        length = response.headers.get("Content-Length", "")
        self._total: Optional[int] = int(length) if length.isascii() and length.strip().isdigit() else None
        self._done = 0
        self._resumes = 0
        self._started = time.monotonic() if started is None else started

    def read(self, amt: Optional[int] = None, **_: Any) -> bytes:
        while True:
            try:
                data = self._raw.read(amt or _DOWNLOAD_CHUNK, decode_content=False)
            except self._DROPS as exc:
                if self._total is None:
                    raise
                data, reason = b"", f"{type(exc).__name__}"
            else:
                reason = "short body"
            if data:
                self._done += len(data)
                return bytes(data)
            if self._total is None or self._done >= self._total:
                return b""
            self._resume(reason)

    def _resume(self, reason: str) -> None:
        # A resume is a new request with a budget of its own: the client's
        # total_timeout bounds the whole download, resumes included.
        budget = float(getattr(self._storage._client, "total_timeout", 0) or 0)
        spent = time.monotonic() - self._started
        if budget and spent >= budget:
            raise ApiTimeoutError(
                f"the download did not complete within its total budget of {budget:g} s "
                f"({self._done} of {self._total} bytes, {self._resumes} resumes)",
                method="GET",
                url=self._location.url(self._storage.endpoint_url),
                waited=spent,
            )
        if self._resumes + 1 >= self._storage.max_attempts:
            raise ApiConnectionError(
                f"the download broke after {self._done} of {self._total} bytes ({reason}) "
                f"and did not resume after {self._resumes} attempts",
                method="GET",
                url=self._location.url(self._storage.endpoint_url),
            )
        self._resumes += 1
        logger.info(
            "avatars: download of %s broke after %d of %s bytes (%s); resuming",
            self._location,
            self._done,
            self._total,
            reason,
        )
        try:
            self._raw.release_conn()
        except Exception:  # noqa: BLE001 - the old connection is gone anyway
            pass
        headers = {"Range": f"bytes={self._done}-"}
        if self._etag:
            headers["If-Match"] = self._etag
        response = self._storage._call("GET", self._location, headers=headers, stream=True, timeout=self._timeout)
        problem = self._resume_problem(response)
        if problem is not None:
            response.close()
            raise StorageError(
                f"the store did not resume the download at byte {self._done} of {self._total}: {problem}",
                status_code=response.status_code,
                method="GET",
                url=response.url,
            )
        self._raw = response.raw

    def _resume_problem(self, response: requests.Response) -> Optional[str]:
        """Why ``response`` is not the rest of the same object (``None`` when it is):
        a ``206`` whose ``Content-Range`` is exactly ``bytes <done>-<total-1>/<total>``,
        whose ``Content-Length`` matches, and whose ``ETag`` (when both have one) is unchanged."""
        content_range = response.headers.get("Content-Range", "")
        if response.status_code != 206:
            return f"answered {response.status_code}, not 206 Partial Content"
        assert self._total is not None  # a resume is only tried for a body of known length
        expected = f"bytes {self._done}-{self._total - 1}/{self._total}"
        if content_range.strip() != expected:
            return f"Content-Range {content_range[:100]!r}, expected {expected!r}"
        length = response.headers.get("Content-Length", "").strip()
        if length and length != str(self._total - self._done):
            return f"Content-Length {length[:30]!r}, expected {self._total - self._done}"
        etag = response.headers.get("ETag")
        if self._etag and etag and etag != self._etag:
            return "the object changed (another ETag)"
        return None

    def close(self) -> None:
        self._raw.close()

    def release_conn(self) -> None:
        release = getattr(self._raw, "release_conn", None)
        if release is not None:
            release()


def _q(value: str) -> str:
    return quote(value, safe="-_.~")


_MD5_HEX = frozenset("0123456789abcdef")


def _multipart_etag(etags: Mapping[int, str]) -> Optional[str]:
    """The ETag S3 gives an object completed from these parts (the MD5 of their
    MD5s, then ``-<count>``), or ``None`` when a part's ETag is not an MD5 (a
    store with another scheme: then nothing can be checked)."""
    import hashlib

    digests = hashlib.md5(usedforsecurity=False)  # S3's naming scheme, not a security check
    for number in sorted(etags):
        value = etags[number].strip().strip('"').lower()
        if len(value) != 32 or not set(value) <= _MD5_HEX:
            return None
        digests.update(bytes.fromhex(value))
    return f"{digests.hexdigest()}-{len(etags)}"


def _s3_multipart_form(etag: str) -> bool:
    """Whether ``etag`` has the form of S3's multipart ETags (``<32 hex digits>-<count>``).
    Only such an ETag is judged against the parts: a store that names completed
    objects its own way (an opaque ETag) says nothing about how they were joined."""
    digest, dash, count = etag.strip().strip('"').lower().partition("-")
    return bool(dash) and len(digest) == 32 and set(digest) <= _MD5_HEX and count.isascii() and count.isdigit()


def _complete_body(etags: Mapping[int, str]) -> bytes:
    from xml.etree import ElementTree  # on first use: about 0.5 MiB that `import avatars` need not pay

    root = ElementTree.Element("CompleteMultipartUpload")
    for number in sorted(etags):
        part = ElementTree.SubElement(root, "Part")
        ElementTree.SubElement(part, "PartNumber").text = str(number)
        ElementTree.SubElement(part, "ETag").text = etags[number]
    document: bytes = ElementTree.tostring(root, encoding="utf-8")
    return document


def _credential_problems(access: FileAccess, prefix: str = "") -> Dict[str, List[str]]:
    """What makes the credentials of ``access`` unusable (never their values):
    empty, longer than :data:`MAX_CREDENTIAL_LENGTH`, a control character; the
    access key id (sent in the ``Authorization`` header) also must be printable
    ASCII without spaces, ``,`` or ``/``."""
    problems: Dict[str, List[str]] = {}
    credentials = getattr(access, "credentials", None)
    pairs = (
        ("access_key_id", getattr(credentials, "access_key_id", None)),
        ("secret_access_key", getattr(credentials, "secret_access_key", None)),
    )
    for name, value in pairs:
        problem: Optional[str] = None
        if not isinstance(value, str) or not value:
            problem = "missing, empty or not a string"
        elif len(value) > MAX_CREDENTIAL_LENGTH:
            problem = f"longer than {MAX_CREDENTIAL_LENGTH} characters ({len(value)})"
        elif any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
            problem = "holds a control character"
        elif name == "access_key_id" and (not value.isascii() or any(c in value for c in " ,/")):
            problem = "holds a character an access key id cannot have (non-ASCII, space, ',' or '/')"
        if problem is not None:
            problems[f"{prefix}credentials.{name}"] = [problem]
    return problems


def _xml_root(response: requests.Response) -> Element:
    from xml.etree import ElementTree

    from ._xml import UnsafeXML, parse

    problem: Optional[str] = None
    try:
        root = parse(response.content)
    except ElementTree.ParseError:
        problem = "the store's answer is not XML"
    except UnsafeXML as exc:
        problem = f"the store's answer is XML the client refuses to read ({exc})"
    if problem is not None:
        raise StorageError(
            problem,
            status_code=response.status_code,
            method=response.request.method if response.request is not None else None,
            url=response.url,
        )
    if _local(root.tag) == "Error":
        # S3 may answer CompleteMultipartUpload with 200 and an error document.
        fake = ApiError(
            "error document in a 200 answer", status_code=response.status_code, url=response.url, response=response
        )
        raise storage_error(fake)
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(root: Element, name: str) -> List[Element]:
    return [child for child in root if _local(child.tag) == name]


def _child_text(root: Element, name: str) -> Optional[str]:
    for child in root:
        if _local(child.tag) == name:
            return child.text
    return None


def _xml_text(response: requests.Response, name: str) -> Optional[str]:
    return _child_text(_xml_root(response), name)


def check_upload_options(part_size: Optional[int], max_concurrency: Optional[int]) -> None:
    """:class:`RequestValidationError` for a part size under 5 MiB or a concurrency under 1."""
    if part_size is not None:
        _check_part_size(part_size)
    if max_concurrency is not None:
        _check_concurrency(max_concurrency)


def _check_part_size(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_PART_SIZE:
        raise RequestValidationError(f"part_size must be at least {MIN_PART_SIZE} bytes (5 MiB)", field="part_size")
    return value


def _check_concurrency(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestValidationError("max_concurrency must be a positive integer", field="max_concurrency")
    return value
