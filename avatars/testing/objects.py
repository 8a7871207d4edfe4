"""The object store behind the local S3 endpoint: buckets, objects, multipart uploads, on disk.

Layout under ``root`` (the server's ``<data dir>/objects``)::

    <bucket>/<sha256 of key>.data    the object's bytes
    <bucket>/<sha256 of key>.json    its metadata (key, size, etag, content type, time)
    .uploads/<upload id>/meta.json   an unfinished multipart upload
    .uploads/<upload id>/<n>         its part n (and <n>.json: size and etag)
    .tmp/                            bodies being received

Keys are hashed into file names, so any S3 key (``a`` and ``a/b`` side by
side, long keys, odd bytes) maps to one flat file. An index of the metadata
is kept in memory and rebuilt from the ``.json`` files at start, so a
persistent server keeps its objects. Every byte moves in 1 MiB chunks:
memory use does not grow with the object size.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, Optional, Tuple

CHUNK = 1024 * 1024
DEFAULT_BUCKET = "avatars"
MAX_PART_NUMBER = 10000
MAX_KEY_BYTES = 1024


def check_key(key: str) -> None:
    """Refuse a key this store does not take (stricter than S3: no way out of a prefix, no odd bytes).

    No NUL or control characters, no leading ``/``, no ``.``, ``..`` or empty
    segment (a trailing ``/``, naming a prefix, is allowed), at most 1024 bytes.
    """
    if not key:
        return
    if any(ord(c) < 0x20 or c == "\x7f" for c in key):
        raise S3Error(400, "InvalidArgument", "Object keys may not contain NUL or control characters")
    if key.startswith("/"):
        raise S3Error(400, "InvalidArgument", "Object keys may not start with '/'")
    segments = key[:-1].split("/") if key.endswith("/") else key.split("/")
    if any(part in ("", ".", "..") for part in segments):
        raise S3Error(400, "InvalidArgument", "Object keys may not contain '.', '..' or empty segments")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise S3Error(400, "KeyTooLongError", "Your key is too long")


def user_prefix(user_id: str) -> str:
    """The key prefix of one user's objects (``GET /upload_url`` is ``s3://<bucket>/<this>``)."""
    return f"users/{user_id}"


def location(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def result_key(user_id: str, job_name: str, filename: str) -> str:
    """Where a finished job's result file lives in :data:`DEFAULT_BUCKET`."""
    return f"{user_prefix(user_id)}/results/{job_name}/{filename}"


class S3Error(Exception):
    """An S3 error the store answers: HTTP status, S3 error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class ObjectMeta:
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: float


@dataclass
class PartMeta:
    number: int
    size: int
    etag: str


@dataclass
class UploadMeta:
    upload_id: str
    bucket: str
    key: str
    content_type: str
    initiated: float


@dataclass(frozen=True)
class Received:
    """A body written to a temporary file by :meth:`ObjectStore.receive`."""

    path: Path
    size: int
    md5: str
    #: ``""`` when not asked for (an ``UNSIGNED-PAYLOAD`` body)
    sha256: str
    #: ``None`` when not asked for (no CRC32 header or trailer announced)
    crc32: Optional[int]


def _name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ObjectStore:
    """Thread-safe store of S3 objects on disk (see the module docstring)."""

    def __init__(self, root: Path, buckets: Tuple[str, ...] = (DEFAULT_BUCKET,)) -> None:
        self.root = root
        self.lock = threading.RLock()
        self._index: Dict[str, Dict[str, ObjectMeta]] = {}
        (root / ".uploads").mkdir(parents=True, exist_ok=True)
        (root / ".tmp").mkdir(parents=True, exist_ok=True)
        for bucket in buckets:
            self.create_bucket(bucket)
        for child in sorted(root.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                self._load_bucket(child.name)

    # -- buckets ---------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        with self.lock:
            (self.root / bucket).mkdir(parents=True, exist_ok=True)
            self._index.setdefault(bucket, {})

    def _load_bucket(self, bucket: str) -> None:
        index = self._index.setdefault(bucket, {})
        for meta_path in (self.root / bucket).glob("*.json"):
            try:
                meta = ObjectMeta(**json.loads(meta_path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if (self.root / bucket / (meta_path.stem + ".data")).is_file():
                index[meta.key] = meta

    def has_bucket(self, bucket: str) -> bool:
        with self.lock:
            return bucket in self._index

    def _bucket(self, bucket: str) -> Dict[str, ObjectMeta]:
        index = self._index.get(bucket)
        if index is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        return index

    # -- receiving bodies ---------------------------------------------------------------

    def temp_path(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self.root / ".tmp", prefix="body-")
        os.close(fd)
        return Path(name)

    def receive(
        self,
        stream: IO[bytes],
        length: Optional[int],
        *,
        sha256: bool = True,
        crc32: bool = True,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Received:
        """Copy a request body to a temporary file, hashing it on the way (constant memory).

        The MD5 (the object's ETag) is always computed; the SHA-256 and the
        CRC32 only when asked for (they cost the store CPU on every byte).
        ``length`` (the ``Content-Length``) is checked: a shorter body raises
        ``S3Error(400, "IncompleteBody")``. The caller owns the file.
        """
        path = self.temp_path()
        md5 = hashlib.md5()
        sha = hashlib.sha256() if sha256 else None
        crc: Optional[int] = 0 if crc32 else None
        size = 0
        try:
            with path.open("wb") as out:
                while True:
                    if should_stop():
                        raise S3Error(503, "ServiceUnavailable", "The server is shutting down")
                    want = CHUNK if length is None else min(CHUNK, length - size)
                    if want <= 0:
                        break
                    chunk = stream.read(want)
                    if not chunk:
                        break
                    out.write(chunk)
                    md5.update(chunk)
                    if sha is not None:
                        sha.update(chunk)
                    if crc is not None:
                        crc = zlib.crc32(chunk, crc)
                    size += len(chunk)
            if length is not None and size != length:
                raise S3Error(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Received(
            path=path, size=size, md5=md5.hexdigest(), sha256=sha.hexdigest() if sha is not None else "", crc32=crc
        )

    # -- objects -------------------------------------------------------------------------

    def _paths(self, bucket: str, key: str) -> Tuple[Path, Path]:
        base = self.root / bucket / _name(key)
        return base.with_suffix(".data"), base.with_suffix(".json")

    def commit(self, bucket: str, key: str, source: Path, size: int, etag: str, content_type: str) -> ObjectMeta:
        """Move a received file into place as ``bucket/key`` (replacing any older object)."""
        with self.lock:
            index = self._bucket(bucket)
            data_path, meta_path = self._paths(bucket, key)
            meta = ObjectMeta(key=key, size=size, etag=etag, content_type=content_type, last_modified=time.time())
            os.replace(source, data_path)
            tmp = meta_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(asdict(meta)), encoding="utf-8")
            os.replace(tmp, meta_path)
            index[key] = meta
            return meta

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ObjectMeta:
        """Store ``data`` as ``bucket/key`` (server-side writers such as finished jobs)."""
        path = self.temp_path()
        path.write_bytes(data)
        return self.commit(bucket, key, path, len(data), hashlib.md5(data).hexdigest(), content_type)

    def put_result_object(
        self, user_id: str, job_name: str, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Store a result file of a finished job under its owner's prefix; returns its ``s3://`` location."""
        key = result_key(user_id, job_name, filename)
        self.put_bytes(DEFAULT_BUCKET, key, data, content_type)
        return location(DEFAULT_BUCKET, key)

    def user_file(self, user_id: str, name: str) -> Optional[Path]:
        """The file behind ``s3://avatars/users/<user id>/<name>``, or None (what stand-in jobs read)."""
        key = f"{user_prefix(user_id)}/{name.lstrip('/')}"
        with self.lock:
            if key not in self._bucket(DEFAULT_BUCKET):
                return None
            return self.data_path(DEFAULT_BUCKET, key)

    def head(self, bucket: str, key: str) -> ObjectMeta:
        with self.lock:
            meta = self._bucket(bucket).get(key)
        if meta is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        return meta

    def data_path(self, bucket: str, key: str) -> Path:
        return self._paths(bucket, key)[0]

    def open(self, bucket: str, key: str) -> Tuple[ObjectMeta, IO[bytes]]:
        """The object's metadata and an open binary file (the caller closes it)."""
        with self.lock:
            meta = self.head(bucket, key)
            return meta, self.data_path(bucket, key).open("rb")

    def read_bytes(self, bucket: str, key: str) -> bytes:
        meta, handle = self.open(bucket, key)
        with handle:
            return handle.read()

    def delete(self, bucket: str, key: str) -> bool:
        with self.lock:
            index = self._bucket(bucket)
            if index.pop(key, None) is None:
                return False
            for path in self._paths(bucket, key):
                path.unlink(missing_ok=True)
            return True

    def list(self, bucket: str, prefix: str = "") -> List[ObjectMeta]:
        """Objects of ``bucket`` whose key starts with ``prefix``, sorted by key (UTF-8 order)."""
        with self.lock:
            index = self._bucket(bucket)
            found = [m for k, m in index.items() if k.startswith(prefix)]
        found.sort(key=lambda m: m.key.encode("utf-8"))
        return found

    # -- multipart --------------------------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        return self.root / ".uploads" / upload_id

    def create_upload(self, bucket: str, key: str, content_type: str) -> UploadMeta:
        with self.lock:
            self._bucket(bucket)
            meta = UploadMeta(
                upload_id=secrets.token_hex(16),
                bucket=bucket,
                key=key,
                content_type=content_type,
                initiated=time.time(),
            )
            directory = self._upload_dir(meta.upload_id)
            directory.mkdir()
            (directory / "meta.json").write_text(json.dumps(asdict(meta)), encoding="utf-8")
            return meta

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadMeta:
        if not upload_id.isalnum():
            raise _no_such_upload()
        try:
            raw = json.loads((self._upload_dir(upload_id) / "meta.json").read_text(encoding="utf-8"))
            meta = UploadMeta(**raw)
        except (OSError, ValueError, TypeError):
            raise _no_such_upload() from None
        if meta.bucket != bucket or meta.key != key:
            raise _no_such_upload()
        return meta

    def uploads(self, bucket: str, prefix: str = "") -> List[UploadMeta]:
        out: List[UploadMeta] = []
        with self.lock:
            self._bucket(bucket)
            for directory in (self.root / ".uploads").iterdir():
                try:
                    meta = UploadMeta(**json.loads((directory / "meta.json").read_text(encoding="utf-8")))
                except (OSError, ValueError, TypeError):
                    continue
                if meta.bucket == bucket and meta.key.startswith(prefix):
                    out.append(meta)
        out.sort(key=lambda m: (m.key.encode("utf-8"), m.initiated))
        return out

    def put_part(self, upload: UploadMeta, number: int, received: Received) -> PartMeta:
        part = PartMeta(number=number, size=received.size, etag=received.md5)
        with self.lock:
            directory = self._upload_dir(upload.upload_id)
            if not directory.is_dir():
                received.path.unlink(missing_ok=True)
                raise _no_such_upload()
            os.replace(received.path, directory / str(number))
            (directory / f"{number}.json").write_text(json.dumps(asdict(part)), encoding="utf-8")
        return part

    def parts(self, upload: UploadMeta) -> Dict[int, PartMeta]:
        out: Dict[int, PartMeta] = {}
        for path in self._upload_dir(upload.upload_id).glob("*.json"):
            if path.stem.isdigit():
                try:
                    part = PartMeta(**json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError, TypeError):
                    continue
                out[part.number] = part
        return out

    def complete(
        self,
        upload: UploadMeta,
        wanted: List[Tuple[int, str]],
        min_part_size: int,
        *,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> ObjectMeta:
        """Join the listed parts (number, etag) into the object; the upload is then gone."""
        if not wanted:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate")
        numbers = [n for n, _ in wanted]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        have = self.parts(upload)
        chosen: List[PartMeta] = []
        for number, etag in wanted:
            part = have.get(number)
            if part is None or part.etag != etag.strip().strip('"').lower():
                raise S3Error(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found. The part may not have been uploaded, "
                    "or the specified entity tag may not have matched the part's entity tag.",
                )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < min_part_size:
                raise S3Error(
                    400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."
                )
        directory = self._upload_dir(upload.upload_id)
        target = self.temp_path()
        digests = hashlib.md5()
        size = 0
        try:
            with target.open("wb") as out:
                for part in chosen:
                    with (directory / str(part.number)).open("rb") as source:
                        _append(source, out, should_stop)
                    digests.update(bytes.fromhex(part.etag))
                    size += part.size
            etag = f"{digests.hexdigest()}-{len(chosen)}"
            meta = self.commit(upload.bucket, upload.key, target, size, etag, upload.content_type)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        self.abort(upload)
        return meta

    def abort(self, upload: UploadMeta) -> None:
        shutil.rmtree(self._upload_dir(upload.upload_id), ignore_errors=True)


#: How much :func:`_append` copies between two checks of ``should_stop``.
_JOIN_STEP = 64 * CHUNK


def _append(source: IO[bytes], out: IO[bytes], should_stop: Callable[[], bool]) -> None:
    """Copy ``source`` to the end of ``out``: in the kernel (``os.copy_file_range``,
    Linux) where the file system allows, else through a buffer."""
    out.flush()
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is not None:
        try:
            while True:
                if should_stop():
                    raise S3Error(503, "ServiceUnavailable", "The server is shutting down")
                if not copy_file_range(source.fileno(), out.fileno(), _JOIN_STEP):
                    return
        except OSError as exc:
            if exc.errno not in _NO_KERNEL_COPY or source.tell() != 0:
                raise
            # a file system that cannot copy in the kernel: the buffered copy below
    while True:
        if should_stop():
            raise S3Error(503, "ServiceUnavailable", "The server is shutting down")
        chunk = source.read(CHUNK)
        if not chunk:
            return
        out.write(chunk)


#: ``copy_file_range`` errors that mean "not here": copy through a buffer instead.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def iter_range(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of ``handle`` from ``start``, in chunks; closes the handle."""
    try:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _no_such_upload() -> S3Error:
    return S3Error(
        404,
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID might be invalid, "
        "or the multipart upload might have been aborted or completed.",
    )
