"""The local S3-compatible object store: path-style, SigV4-signed, on disk.

Mounted at ``<server>/storage`` on the API listener (the platform's default
storage endpoint: the base URL with ``/api`` replaced by ``/storage``) and at
the root of the second listener (``server.storage_base_url``, another origin).
Requests are ``/<bucket>/<key>`` below the mount point. One bucket exists,
``avatars``; a user's objects live under ``users/<user id>/`` (the value of
``GET /upload_url`` is ``s3://avatars/users/<user id>``).

Every request must be signed with AWS Signature Version 4 (``Authorization``
header, or a presigned query) with credentials issued by ``GET /access``, and
those credentials open only the location they were issued for (the object, or
everything below it when it is a prefix). Errors are S3 XML documents:

=================================  ======================================
unsigned request                   403 ``AccessDenied``
unknown access key id              403 ``InvalidAccessKeyId``
wrong signature                    403 ``SignatureDoesNotMatch``
expired credentials                403 ``ExpiredToken``
key outside the credentials        403 ``AccessDenied``
malformed ``Authorization``        400 ``AuthorizationHeaderMalformed``
payload hash mismatch              400 ``XAmzContentSHA256Mismatch``
missing object / bucket / upload   404 ``NoSuchKey`` / ``NoSuchBucket`` /
                                   ``NoSuchUpload``
range out of bounds                416 ``InvalidRange``
key with ``.``, ``..`` or empty    400 ``InvalidArgument``
segments, NUL, a control
character or a leading ``/``
=================================  ======================================

Operations: ListBuckets, HeadBucket, GetBucketLocation, ListObjects (v1 and
v2: prefix, delimiter, continuation token / marker, max-keys), PutObject,
GetObject (``Range``), HeadObject, DeleteObject, DeleteObjects, and multipart
uploads (create, upload part, list parts, complete, abort, list uploads).
Payloads: ``UNSIGNED-PAYLOAD`` or a hex SHA-256 (checked while streaming to
disk); ``Content-MD5`` and ``x-amz-checksum-crc32`` are checked when sent.
``aws-chunked`` bodies without chunk signatures
(``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, what botocore >= 1.36 sends over
HTTPS) are decoded and their ``x-amz-checksum-crc32`` trailer checked; signed
chunks (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) get 501 ``NotImplemented``.
ETags are S3's: the MD5 of the body, or for multipart uploads the MD5 of the
parts' MD5s followed by ``-<number of parts>``.

The request log (``server.storage_log``) and faults apply here as on the API
(see :mod:`avatars.testing.faults`, e.g. ``slow_down`` for a 503 ``SlowDown``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import struct
import time
import xml.etree.ElementTree as ET
from email.utils import formatdate
from typing import IO, Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response

from .app import BaseApp
from .objects import (
    CHUNK,
    DEFAULT_BUCKET,
    MAX_PART_NUMBER,
    ObjectMeta,
    ObjectStore,
    Received,
    S3Error,
    check_key,
    iter_range,
)
from .sigv4 import UNSIGNED_PAYLOAD, UNSIGNED_TRAILER, verify
from .state import FileGrant, ServerState

logger = logging.getLogger(__name__)

REGION = "us-east-1"
STORAGE_PREFIX = "/storage"
MAX_XML_BODY = 1024 * 1024
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def xml_error(status: int, code: str, message: str, resource: str = "", request_id: str = "") -> Response:
    """An S3 error document (``HEAD`` answers drop the body on the wire)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{escape(request_id)}</RequestId></Error>\n"
    )
    return Response(body.encode("utf-8"), status=status, content_type="application/xml")


def slow_down_body() -> bytes:
    """The body of S3's 503 ``SlowDown`` answer (used by the ``slow_down`` fault)."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>\n"
    )


def _xml(body: str, status: int = 200) -> Response:
    return Response(
        ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8"),
        status=status,
        content_type="application/xml",
    )


def _denied(message: str = "Access Denied") -> S3Error:
    return S3Error(403, "AccessDenied", message)


class StorageApp(BaseApp):
    """See the module docstring. ``mount``: the path prefix the store answers under."""

    origin = "storage"

    def __init__(self, state: ServerState, mount: str = "") -> None:
        super().__init__(state, state.storage_log)
        self.mount = mount.rstrip("/")

    @property
    def objects(self) -> ObjectStore:
        return self.state.store.objects

    # -- entry -------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        raw_uri = str(request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.full_path)
        raw_path, _, raw_query = raw_uri.partition("?")
        try:
            return self._dispatch(request, raw_path, raw_query)
        except S3Error as exc:
            return xml_error(exc.status, exc.code, exc.message, raw_path)
        except ClientDisconnected:
            return xml_error(400, "IncompleteBody", "The request body was cut short", raw_path)

    def _dispatch(self, request: Request, raw_path: str, raw_query: str) -> Response:
        if self.mount and not (raw_path == self.mount or raw_path.startswith(self.mount + "/")):
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        try:
            inner = unquote(raw_path[len(self.mount) :], errors="strict")
        except UnicodeDecodeError:
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.") from None
        inner = inner[1:] if inner.startswith("/") else inner
        bucket, _, key = inner.partition("/")
        check_key(key)
        method = request.method.upper()
        args = request.args
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            signed = verify(method, raw_path, raw_query, headers, self._secret_for)
        except UnicodeDecodeError:
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.") from None
        grant = self.state.file_access.get(signed.access_key_id)
        assert grant is not None
        if grant.expires_at <= time.time():
            raise S3Error(403, "ExpiredToken", "The provided token has expired.")
        if signed.payload_hash.startswith("STREAMING-") and signed.payload_hash != UNSIGNED_TRAILER:
            raise S3Error(
                501, "NotImplemented", "signed aws-chunked payloads are not supported by this store; sign the payload"
            )
        if not bucket:
            if method != "GET":
                raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            return self._list_buckets(grant)
        if not self.objects.has_bucket(bucket):
            if method == "PUT" and not key:
                raise _denied()
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        if not key:
            return self._bucket_call(request, method, args, bucket, grant, signed.payload_hash)
        if not grant.covers(bucket, key):
            raise _denied()
        return self._object_call(request, method, args, bucket, key, headers, signed.payload_hash)

    def _secret_for(self, access_key_id: str) -> Optional[str]:
        grant = self.state.file_access.get(access_key_id)
        return grant.secret if grant is not None else None

    # -- bucket calls ----------------------------------------------------------------------

    def _list_buckets(self, grant: FileGrant) -> Response:
        return _xml(
            f'<ListAllMyBucketsResult xmlns="{_XMLNS}"><Owner><ID>{escape(grant.user_id)}</ID></Owner>'
            f"<Buckets><Bucket><Name>{escape(grant.bucket)}</Name><CreationDate>{_iso(0)}</CreationDate>"
            "</Bucket></Buckets></ListAllMyBucketsResult>"
        )

    def _bucket_call(
        self, request: Request, method: str, args: Any, bucket: str, grant: FileGrant, payload_hash: str
    ) -> Response:
        if grant.bucket != bucket:
            raise _denied()
        if method == "HEAD":
            response = Response(b"", status=200)
            response.headers["x-amz-bucket-region"] = REGION
            return response
        if method == "PUT":
            raise S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded")
        if method == "GET" and "location" in args:
            return _xml(f'<LocationConstraint xmlns="{_XMLNS}"></LocationConstraint>')
        if method == "GET" and "uploads" in args:
            prefix = args.get("prefix", "")
            self._check_prefix(grant, bucket, prefix)
            return self._list_uploads(bucket, prefix)
        if method == "GET" and not any(k in args for k in ("versioning", "acl", "policy", "versions", "tagging")):
            prefix = args.get("prefix", "")
            self._check_prefix(grant, bucket, prefix)
            return self._list_objects(bucket, args)
        if method == "POST" and "delete" in args:
            body = self._small_body(request, payload_hash)
            return self._delete_objects(bucket, grant, body)
        raise S3Error(
            501, "NotImplemented", "A header or query you provided implies functionality that is not implemented"
        )

    @staticmethod
    def _check_prefix(grant: FileGrant, bucket: str, prefix: str) -> None:
        if not grant.covers(bucket, prefix.rstrip("/")):
            raise _denied()

    def _list_objects(self, bucket: str, args: Any) -> Response:
        v2 = args.get("list-type") == "2"
        prefix = args.get("prefix", "")
        delimiter = args.get("delimiter", "")
        try:
            max_keys = max(0, min(1000, int(args.get("max-keys", "1000"))))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys must be an integer") from None
        encode = args.get("encoding-type") == "url"
        if v2:
            token = args.get("continuation-token")
            if token:
                try:
                    after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
                except (ValueError, UnicodeError):
                    raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect") from None
            else:
                after = args.get("start-after", "")
        else:
            after = args.get("marker", "")
        contents: List[ObjectMeta] = []
        prefixes: List[str] = []
        truncated = False
        last = ""
        for meta in self.objects.list(bucket, prefix):
            if after and meta.key.encode("utf-8") <= after.encode("utf-8"):
                continue
            entry_key = meta.key
            common = None
            if delimiter:
                cut = meta.key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = meta.key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if after and common.encode("utf-8") <= after.encode("utf-8"):
                        continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
                last = common
            else:
                contents.append(meta)
                last = entry_key

        def enc(text: str) -> str:
            return escape(quote(text, safe="/") if encode else text)

        parts = [f'<ListBucketResult xmlns="{_XMLNS}"><Name>{escape(bucket)}</Name><Prefix>{enc(prefix)}</Prefix>']
        if delimiter:
            parts.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
        parts.append(f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        if encode:
            parts.append("<EncodingType>url</EncodingType>")
        if v2:
            parts.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
            if args.get("continuation-token"):
                parts.append(f"<ContinuationToken>{escape(args['continuation-token'])}</ContinuationToken>")
            if truncated:
                token = base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")
                parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
        else:
            parts.append(f"<Marker>{enc(after)}</Marker>")
            if truncated:
                parts.append(f"<NextMarker>{enc(last)}</NextMarker>")
        for meta in contents:
            parts.append(
                f"<Contents><Key>{enc(meta.key)}</Key><LastModified>{_iso(meta.last_modified)}</LastModified>"
                f"<ETag>&quot;{meta.etag}&quot;</ETag><Size>{meta.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        for common in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{enc(common)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return _xml("".join(parts))

    def _list_uploads(self, bucket: str, prefix: str) -> Response:
        parts = [
            f'<ListMultipartUploadsResult xmlns="{_XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
            f"<Prefix>{escape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
        ]
        for upload in self.objects.uploads(bucket, prefix):
            parts.append(
                f"<Upload><Key>{escape(upload.key)}</Key><UploadId>{upload.upload_id}</UploadId>"
                f"<Initiated>{_iso(upload.initiated)}</Initiated><StorageClass>STANDARD</StorageClass></Upload>"
            )
        parts.append("</ListMultipartUploadsResult>")
        return _xml("".join(parts))

    def _delete_objects(self, bucket: str, grant: FileGrant, body: bytes) -> Response:
        root = _parse_xml(body)
        quiet = (_child_text(root, "Quiet") or "").lower() == "true"
        out = [f'<DeleteResult xmlns="{_XMLNS}">']
        for item in _children(root, "Object"):
            key = _child_text(item, "Key") or ""
            try:
                check_key(key)
                if not key or not grant.covers(bucket, key):
                    raise _denied()
            except S3Error as exc:
                out.append(
                    f"<Error><Key>{escape(key)}</Key><Code>{exc.code}</Code><Message>{escape(exc.message)}</Message></Error>"
                )
                continue
            self.objects.delete(bucket, key)
            if not quiet:
                out.append(f"<Deleted><Key>{escape(key)}</Key></Deleted>")
        out.append("</DeleteResult>")
        return _xml("".join(out))

    # -- object calls --------------------------------------------------------------------

    def _object_call(
        self,
        request: Request,
        method: str,
        args: Any,
        bucket: str,
        key: str,
        headers: Dict[str, str],
        payload_hash: str,
    ) -> Response:
        if method == "PUT":
            if "x-amz-copy-source" in headers:
                raise S3Error(501, "NotImplemented", "CopyObject is not implemented by this store")
            if "uploadId" in args or "partNumber" in args:
                return self._upload_part(request, args, bucket, key, headers, payload_hash)
            return self._put_object(request, bucket, key, headers, payload_hash)
        if method in ("GET", "HEAD"):
            if "uploadId" in args and method == "GET":
                return self._list_parts(bucket, key, args["uploadId"])
            return self._get_object(method, bucket, key, headers)
        if method == "DELETE":
            if "uploadId" in args:
                self.objects.abort(self.objects.upload(bucket, key, args["uploadId"]))
                return Response(b"", status=204)
            self.objects.delete(bucket, key)
            return Response(b"", status=204)
        if method == "POST":
            if "uploads" in args:
                upload = self.objects.create_upload(
                    bucket, key, headers.get("content-type") or "application/octet-stream"
                )
                return _xml(
                    f'<InitiateMultipartUploadResult xmlns="{_XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
                    f"<Key>{escape(key)}</Key><UploadId>{upload.upload_id}</UploadId></InitiateMultipartUploadResult>"
                )
            if "uploadId" in args:
                return self._complete(request, bucket, key, args["uploadId"], payload_hash)
        raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")

    def _receive(self, request: Request, headers: Dict[str, str], payload_hash: str) -> Received:
        length: Optional[int] = None
        raw_length = headers.get("content-length")
        if raw_length is not None:
            try:
                length = int(raw_length)
            except ValueError:
                raise S3Error(400, "InvalidArgument", "Content-Length is not a number") from None
        elif not request.environ.get("wsgi.input_terminated"):
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        stream: IO[bytes] = request.environ["wsgi.input"]
        chunked: Optional[AwsChunkedReader] = None
        if payload_hash == UNSIGNED_TRAILER:
            try:
                length = int(headers.get("x-amz-decoded-content-length", ""))
            except ValueError:
                raise S3Error(
                    411, "MissingContentLength", "aws-chunked bodies need x-amz-decoded-content-length"
                ) from None
            chunked = AwsChunkedReader(stream)
            stream = chunked  # type: ignore[assignment]
        elif payload_hash != UNSIGNED_PAYLOAD and not _HEX64.match(payload_hash):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256")
        announced = {headers.get("x-amz-checksum-crc32") is not None} | {
            name.strip().lower() == "x-amz-checksum-crc32" for name in headers.get("x-amz-trailer", "").split(",")
        }
        received = self.objects.receive(
            stream,
            length,
            sha256=_HEX64.match(payload_hash) is not None,
            crc32=True in announced,
            should_stop=self.state.stop_event.is_set,
        )
        try:
            if chunked is not None:
                chunked.finish()
                headers = {**headers, **chunked.trailers}
                payload_hash = UNSIGNED_PAYLOAD
            _check_digests(received, headers, payload_hash)
        except BaseException:
            received.path.unlink(missing_ok=True)
            raise
        return received

    def _put_object(
        self, request: Request, bucket: str, key: str, headers: Dict[str, str], payload_hash: str
    ) -> Response:
        received = self._receive(request, headers, payload_hash)
        meta = self.objects.commit(
            bucket,
            key,
            received.path,
            received.size,
            received.md5,
            headers.get("content-type") or "application/octet-stream",
        )
        response = Response(b"", status=200)
        response.headers["ETag"] = f'"{meta.etag}"'
        return response

    def _upload_part(
        self, request: Request, args: Any, bucket: str, key: str, headers: Dict[str, str], payload_hash: str
    ) -> Response:
        try:
            number = int(args.get("partNumber", ""))
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        upload = self.objects.upload(bucket, key, args.get("uploadId", ""))
        received = self._receive(request, headers, payload_hash)
        part = self.objects.put_part(upload, number, received)
        response = Response(b"", status=200)
        response.headers["ETag"] = f'"{part.etag}"'
        return response

    def _list_parts(self, bucket: str, key: str, upload_id: str) -> Response:
        upload = self.objects.upload(bucket, key, upload_id)
        parts = [
            f'<ListPartsResult xmlns="{_XMLNS}"><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>'
            f"<UploadId>{upload.upload_id}</UploadId><IsTruncated>false</IsTruncated>"
        ]
        for number, part in sorted(self.objects.parts(upload).items()):
            parts.append(
                f"<Part><PartNumber>{number}</PartNumber><ETag>&quot;{part.etag}&quot;</ETag>"
                f"<Size>{part.size}</Size></Part>"
            )
        parts.append("</ListPartsResult>")
        return _xml("".join(parts))

    def _complete(self, request: Request, bucket: str, key: str, upload_id: str, payload_hash: str) -> Response:
        upload = self.objects.upload(bucket, key, upload_id)
        root = _parse_xml(self._small_body(request, payload_hash))
        wanted: List[Tuple[int, str]] = []
        for item in _children(root, "Part"):
            try:
                number = int(_child_text(item, "PartNumber") or "")
            except ValueError:
                raise S3Error(
                    400, "MalformedXML", "The XML you provided was not well-formed or did not validate"
                ) from None
            wanted.append((number, _child_text(item, "ETag") or ""))
        meta = self.objects.complete(
            upload, wanted, self.state.settings.storage_min_part_size, should_stop=self.state.stop_event.is_set
        )
        return _xml(
            f'<CompleteMultipartUploadResult xmlns="{_XMLNS}"><Location>{escape(request.base_url)}</Location>'
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>&quot;{meta.etag}&quot;</ETag>"
            "</CompleteMultipartUploadResult>"
        )

    def _get_object(self, method: str, bucket: str, key: str, headers: Dict[str, str]) -> Response:
        meta, handle = self.objects.open(bucket, key)
        try:
            start, length, status = 0, meta.size, 200
            wanted = headers.get("range")
            if wanted:
                parsed = _parse_range(wanted, meta.size)
                if parsed is None:
                    handle.close()
                    response = xml_error(416, "InvalidRange", "The requested range is not satisfiable")
                    response.headers["Content-Range"] = f"bytes */{meta.size}"
                    return response
                start, length = parsed
                status = 206
            etag = f'"{meta.etag}"'
            if headers.get("if-none-match") == etag:
                handle.close()
                return Response(b"", status=304, headers={"ETag": etag})
            if headers.get("if-match") not in (None, etag, "*"):
                handle.close()
                raise S3Error(
                    412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
                )
            body: Iterable[bytes] = iter_range(handle, start, length) if method == "GET" else _closing(handle)
        except BaseException:
            handle.close()
            raise
        response = Response(body, status=status, content_type=meta.content_type, direct_passthrough=True)
        response.headers["Content-Length"] = str(length)
        response.headers["ETag"] = etag
        response.headers["Last-Modified"] = formatdate(meta.last_modified, usegmt=True)
        response.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{meta.size}"
        return response

    def _small_body(self, request: Request, payload_hash: str) -> bytes:
        data = request.stream.read(MAX_XML_BODY + 1)
        if len(data) > MAX_XML_BODY:
            raise S3Error(400, "MaxMessageLengthExceeded", "Your request was too big.")
        if payload_hash != UNSIGNED_PAYLOAD and hashlib.sha256(data).hexdigest() != payload_hash:
            raise S3Error(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        return data


class AwsChunkedReader:
    """The decoded bytes of an ``aws-chunked`` body without chunk signatures (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``).

    Wire form: ``<hex size>[;ext]\r\n<bytes>\r\n`` ... ``0\r\n``, then trailer
    lines ``name:value\r\n`` and an empty line. botocore (>= 1.36) sends
    uploads this way over HTTPS, with an ``x-amz-checksum-*`` trailer.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.left = 0
        self.done = False
        self.trailers: Dict[str, str] = {}

    def _line(self) -> bytes:
        line = self.raw.readline(4096)
        if not line.endswith(b"\r\n"):
            raise S3Error(400, "IncompleteBody", "The aws-chunked body was cut short or malformed")
        return line[:-2]

    def _next_chunk(self) -> None:
        head = self._line().split(b";", 1)[0].strip()
        try:
            size = int(head, 16)
        except ValueError:
            raise S3Error(400, "InvalidChunkSizeError", "Only the last chunk may be empty") from None
        if size == 0:
            self.done = True
            while True:
                line = self._line()
                if not line:
                    break
                name, _, value = line.decode("latin-1").partition(":")
                self.trailers[name.strip().lower()] = value.strip()
        self.left = size

    def read(self, size: int = -1) -> bytes:
        while self.left == 0 and not self.done:
            self._next_chunk()
        if self.done:
            return b""
        want = self.left if size < 0 else min(size, self.left)
        data = self.raw.read(want)
        if not data:
            raise S3Error(400, "IncompleteBody", "The aws-chunked body was cut short")
        self.left -= len(data)
        if self.left == 0 and self.raw.read(2) != b"\r\n":
            raise S3Error(400, "IncompleteBody", "The aws-chunked body is malformed")
        return data

    def finish(self) -> None:
        """Read up to the end of the trailers (the decoded length was reached)."""
        while not self.done:
            if self.read(CHUNK) and not self.done:
                raise S3Error(400, "IncompleteBody", "The aws-chunked body is longer than its decoded length")


def _closing(handle: Any) -> Iterable[bytes]:
    handle.close()
    return []


def _parse_range(value: str, size: int) -> Optional[Tuple[int, int]]:
    """(start, length) of a single ``bytes=`` range, or None when it cannot be satisfied."""
    match = _RANGE_RE.match(value.strip())
    if not match or not (match.group(1) or match.group(2)):
        return 0, size  # S3 ignores a malformed Range and sends the whole object
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return None
        start = max(0, size - suffix)
        return start, size - start
    start = int(first)
    if start >= size:
        return None
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return 0, size
    return start, end - start + 1


def _check_digests(received: Received, headers: Dict[str, str], payload_hash: str) -> None:
    if payload_hash != UNSIGNED_PAYLOAD and received.sha256 != payload_hash:
        raise S3Error(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    content_md5 = headers.get("content-md5")
    if content_md5 is not None:
        try:
            given = base64.b64decode(content_md5, validate=True).hex()
        except ValueError:
            raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.") from None
        if given != received.md5:
            raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    crc = headers.get("x-amz-checksum-crc32")
    if crc is not None:
        if received.crc32 is None:  # announced in neither a header nor x-amz-trailer
            raise S3Error(400, "InvalidRequest", "x-amz-checksum-crc32 came without being announced in x-amz-trailer")
        if base64.b64encode(struct.pack(">I", received.crc32)).decode("ascii") != crc.strip():
            raise S3Error(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate")
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate") from None


def _children(node: ET.Element, name: str) -> List[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _child_text(node: ET.Element, name: str) -> Optional[str]:
    for child in node:
        if _local(child.tag) == name:
            return child.text or ""
    return None


class MountedStore:
    """WSGI: requests under ``prefix`` go to ``store``, the others to ``app``."""

    def __init__(self, app: Callable[..., Any], store: Callable[..., Any], prefix: str = STORAGE_PREFIX) -> None:
        self.app = app
        self.store = store
        self.prefix = prefix

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return self.store(environ, start_response)  # type: ignore[no-any-return]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


__all__ = ["DEFAULT_BUCKET", "MountedStore", "REGION", "StorageApp", "slow_down_body", "xml_error"]
