"""Streaming upload and download, with progress reporting.

Uploads (:func:`open_upload`)
    A source is a path (``str`` or ``os.PathLike``), a binary file object,
    ``bytes``/``bytearray``/``memoryview``, or an iterable of ``bytes`` chunks.
    Files and buffers are never read whole: they are sent through
    :class:`FileBody`, a file-like wrapper that ``requests`` sends with a
    ``Content-Length`` and reads chunk by chunk, and that can be rewound (so
    :class:`~avatars.TokenAuth` can re-send it after refreshing a token).
    A file object is read from its current position to its end.
    Iterables (generators, unseekable streams such as pipes) are sent with
    ``Transfer-Encoding: chunked``; they cannot be rewound, so a call that
    needs a re-send raises :class:`~avatars.errors.RequestNotRetryableError`.

Downloads (:func:`save_response`)
    The body is read in chunks of :data:`DOWNLOAD_CHUNK_SIZE` and written to a
    path or to a writable binary file.  To a path, the bytes go to a temporary
    file in the same directory that replaces the final name only once the
    download is complete: an interrupted download leaves neither a file under
    the final name nor the temporary file.  (To a file object, the bytes
    written before an interruption stay written.)  A body shorter than its
    ``Content-Length`` and a connection broken mid-way raise
    :class:`~avatars.errors.ApiConnectionError` (a stalled one
    :class:`~avatars.errors.ApiTimeoutError`), never a silently truncated file.
    The response is closed in every case.  The rename protects against an
    interrupted process; ``durable=True`` also ``fsync``-s the file before the
    rename, against a power cut or a kernel crash (like most download tools,
    the default leaves that to the operating system, because it runs at the
    disk's speed rather than the network's).

    Writing to a path that exists:

    * a regular file keeps its permission bits (a file with mode ``0600``
      stays ``0600``); a new file gets ``0o666`` minus the umask, as
      ``open(path, "wb")`` would give it.  The owner is not copied: the
      file belongs to whoever downloads it.  A hard link to the old file
      keeps the old content (the name now points at a new file).
    * a symbolic link is followed: the bytes go to the file it points to,
      written atomically in *that* file's directory, and the link stays a
      link.  (A link that points nowhere creates its target.)
    * something that is not a regular file (``/dev/null``, a named pipe) is
      written in place: it is never replaced by a regular file.

    A local failure while writing (no space left, quota exceeded, permission
    denied, a name too long) raises :class:`~avatars.errors.LocalFileError`
    (:class:`~avatars.errors.DiskFullError` for ``ENOSPC``/``EDQUOT``) naming
    the path, and removes the temporary file.

Compressed downloads
    A body sent with ``Content-Encoding: gzip`` or ``deflate`` is decoded
    here, a bounded piece at a time, and may not expand beyond
    :data:`DEFAULT_DECOMPRESSION_LIMIT`: at most 100 decoded bytes per byte
    received, once the first 16 MiB are written (no legitimate result file
    comes near that; a "zip bomb" of a few MiB would otherwise fill a
    disk).  Beyond it, :class:`~avatars.errors.DecompressionLimitError` and
    nothing is kept.  Pass ``decompression_limit=DecompressionLimit(...)`` to
    change the bound, ``None`` to lift it.  :func:`iter_decoded` is the
    bounded reader, for any other code that reads a compressed body.

Progress
    ``progress(done_bytes, total_bytes)`` is called once before the first byte
    (``done_bytes == 0``), then after each chunk; ``total_bytes`` is ``None``
    when the size is unknown (an iterable upload, a download without
    ``Content-Length``).  The counts rise up to the total, except when a body
    is rewound for a re-send: the count then restarts from where it was
    rewound to.  The callback runs in the calling thread, between chunks; an
    exception it raises aborts the transfer.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import hashlib
import io
import math
import os
import queue
import secrets
import socket
import stat
import threading
import zlib
from collections.abc import Iterable as _IterableABC
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Callable, Generator, Iterable, Iterator, Optional, Protocol, Tuple, Union

import requests
import urllib3

from ._deadline import budget_of, release
from .errors import (
    ApiConnectionError,
    ApiTimeoutError,
    DecompressionLimitError,
    DiskFullError,
    LocalFileError,
    RequestValidationError,
    ResponseDecodeError,
    TransportError,
    method_of,
)

__all__ = [
    "ProgressCallback",
    "UploadSource",
    "Destination",
    "Upload",
    "FileBody",
    "DownloadResult",
    "open_upload",
    "check_destination",
    "save_response",
    "iter_decoded",
    "DecompressionLimit",
    "DEFAULT_DECOMPRESSION_LIMIT",
    "UPLOAD_CHUNK_SIZE",
    "DOWNLOAD_CHUNK_SIZE",
]

#: Bytes per chunk when iterating an upload (``requests``/``urllib3`` choose
#: their own read size for file-like bodies, usually 8 to 64 KiB).
UPLOAD_CHUNK_SIZE = 256 * 1024
#: Bytes per chunk read from a download.
DOWNLOAD_CHUNK_SIZE = 1024 * 1024


class ProgressCallback(Protocol):
    """``progress(done_bytes, total_bytes)``; ``total_bytes`` is ``None`` when unknown."""

    def __call__(self, done_bytes: int, total_bytes: Optional[int]) -> None: ...


#: What :func:`open_upload` accepts.
UploadSource = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    memoryview,
    BinaryIO,
    IO[bytes],
    Iterable[bytes],
]
#: Where a download goes: a path, or a writable binary file object.
Destination = Union[str, "os.PathLike[str]", BinaryIO, IO[bytes]]


# --------------------------------------------------------------------------- uploads


class _MemoryReader:
    """A seekable reader over a buffer that copies one chunk at a time, never the whole."""

    def __init__(self, data: Union[bytes, bytearray, memoryview]) -> None:
        view = memoryview(data)
        self._view = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        chunk = bytes(self._view[self._pos : end])
        self._pos = max(self._pos, end)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return len(self._view)

    def close(self) -> None:
        self._view.release()


class FileBody:
    """A request body read from a seekable binary source, chunk by chunk.

    It has what ``requests`` needs to send a ``Content-Length`` (``__len__``
    and ``tell``) and to rewind the body for a re-send (``seek``, with the
    position ``requests`` records before sending).  ``read(n)`` never reads
    more than ``n`` bytes from the source; each read reports progress.

    ``tell()`` and ``seek()`` count from where the body starts (the source's
    position when the body was made); ``len()`` is the number of bytes sent.
    """

    def __init__(
        self,
        source: Any,
        *,
        start: int,
        length: int,
        progress: Optional[ProgressCallback] = None,
        close_source: bool = False,
        name: Optional[str] = None,
    ) -> None:
        self._source = source
        self._start = start
        self._length = length
        self._pos = 0
        self._progress = progress
        self._close_source = close_source
        self._closed = False
        self.name = name

    # ``requests.utils.super_len`` reads ``len()`` and ``tell()``.
    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._length + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if target < 0:
            raise ValueError("negative seek position")
        self._source.seek(self._start + min(target, self._length))
        self._pos = target
        return target

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> bytes:
        remaining = self._length - self._pos
        if remaining <= 0:
            return b""
        want = remaining if size is None or size < 0 else min(size, remaining)
        if want == 0:
            return b""
        data = self._source.read(want)
        if not data:
            raise TransportError(
                f"the upload source ended after {self._pos} of {self._length} bytes "
                "(was the file truncated while it was being sent?)"
            )
        self._pos += len(data)
        if self._progress is not None:
            self._progress(self._pos, self._length)
        return bytes(data)

    def __iter__(self) -> Iterator[bytes]:
        return _read_chunks(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._close_source:
            self._source.close()

    def __enter__(self) -> FileBody:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<FileBody{name} {self._pos}/{self._length} bytes>"


def _iter_chunks(
    chunks: Iterable[Any], progress: Optional[ProgressCallback], close: Optional[Callable[[], None]] = None
) -> Generator[bytes, None, None]:
    done = 0
    try:
        for index, chunk in enumerate(chunks):
            if isinstance(chunk, (bytearray, memoryview)):
                chunk = bytes(chunk)
            elif not isinstance(chunk, bytes):
                raise RequestValidationError(
                    f"upload chunk {index} is {type(chunk).__name__}, not bytes "
                    "(encode text, or open files in binary mode)",
                    field="source",
                )
            if not chunk:
                continue
            done += len(chunk)
            yield chunk
            if progress is not None:
                progress(done, None)
    finally:
        if close is not None:
            close()


def _read_chunks(stream: Any, size: int = UPLOAD_CHUNK_SIZE) -> Iterator[bytes]:
    """``stream.read(size)`` until it gives nothing."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


class Upload:
    """A prepared upload: pass :attr:`body` as ``data=``; close it afterwards.

    :attr:`total` is the size in bytes, or ``None`` for a chunked upload.  An
    empty source becomes ``b""`` (``requests`` would otherwise send an empty
    file-like body chunked, without ``Content-Length: 0``).
    """

    def __init__(self, body: Any, total: Optional[int], close: Optional[Callable[[], None]] = None) -> None:
        if total == 0:
            if close is not None:
                close()
            body, close = b"", None
        self.body = body
        self.total = total
        self._close = close

    @property
    def rewindable(self) -> bool:
        return isinstance(self.body, (FileBody, bytes))

    def close(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        size = "chunked" if self.total is None else f"{self.total} bytes"
        return f"<Upload {size}>"


def _seekable_size(stream: Any) -> Optional[int]:
    """The remaining size of a seekable binary stream, or ``None`` if it is not seekable."""
    try:
        if hasattr(stream, "seekable") and not stream.seekable():
            return None
        position = stream.tell()
    except (OSError, ValueError, AttributeError):
        return None
    size: Optional[int] = None
    try:
        info = os.fstat(stream.fileno())
        if stat.S_ISREG(info.st_mode):
            size = info.st_size
    except (OSError, ValueError, AttributeError):
        size = None
    if size is None:
        try:
            end = stream.seek(0, io.SEEK_END)
            stream.seek(position)
        except (OSError, ValueError, AttributeError):
            return None
        if not isinstance(end, int):
            return None
        size = end
    return max(0, size - int(position))


def open_upload(source: UploadSource, *, progress: Optional[ProgressCallback] = None) -> Upload:
    """Prepare ``source`` for sending (see the module docstring).

    :class:`RequestValidationError` (``field="source"``) when the source is of
    no supported kind, a path that is not a readable file, or a text stream.
    A file opened from a path is closed by :meth:`Upload.close`; a file
    object you pass is left open.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source))
        if not os.path.isfile(path):
            hint = " (to upload text, pass it encoded as bytes)" if "\n" in path or len(path) > 4096 else ""
            raise RequestValidationError(f"no such file: {path[:200]!r}{hint}", field="source")
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise RequestValidationError(f"cannot read {path!r}: {exc.strerror or exc}", field="source") from None
        length = os.fstat(handle.fileno()).st_size
        return _sized_upload(handle, 0, length, progress, close_source=True, name=path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        reader = _MemoryReader(source)
        return _sized_upload(reader, 0, len(reader), progress)
    if isinstance(source, io.TextIOBase):
        raise RequestValidationError(
            "the upload source is a text stream; open the file in binary mode ('rb')", field="source"
        )
    stream: Any = source
    if hasattr(stream, "read"):
        size = _seekable_size(stream)
        if size is not None:
            name = getattr(stream, "name", None)
            return _sized_upload(
                stream, int(stream.tell()), size, progress, name=name if isinstance(name, str) else None
            )
        return _chunked_upload(_read_chunks(stream), progress)
    if isinstance(stream, _IterableABC) and not isinstance(stream, dict):
        return _chunked_upload(stream, progress)
    raise RequestValidationError(
        f"the upload source must be a path, a binary file, bytes, or an iterable of bytes; got {type(source).__name__}",
        field="source",
    )


def _sized_upload(
    source: Any,
    start: int,
    length: int,
    progress: Optional[ProgressCallback],
    *,
    close_source: bool = False,
    name: Optional[str] = None,
) -> Upload:
    """A seekable source of known length, sent with a ``Content-Length``."""
    body = FileBody(source, start=start, length=length, progress=progress, close_source=close_source, name=name)
    _report(progress, 0, length)
    return Upload(body, length, body.close)


def _chunked_upload(chunks: Iterable[Any], progress: Optional[ProgressCallback]) -> Upload:
    """Chunks of unknown total length, sent ``Transfer-Encoding: chunked``."""
    _report(progress, 0, None)
    generator = _iter_chunks(chunks, progress)
    return Upload(generator, None, generator.close)


def _report(progress: Optional[ProgressCallback], done: int, total: Optional[int]) -> None:
    if progress is not None:
        progress(done, total)


# --------------------------------------------------------------------------- downloads


@dataclass(frozen=True)
class DownloadResult:
    """What a download wrote: ``bytes_written``, the ``sha256`` hex digest of
    those bytes (``""`` when the download was asked not to compute it), and the
    final ``path`` (``None`` when written to a file object)."""

    bytes_written: int
    sha256: str
    path: Optional[str] = None


@dataclass(frozen=True)
class DecompressionLimit:
    """How far a compressed download may expand: at most ``ratio`` decoded
    bytes per byte received, once ``allowance`` decoded bytes are written.

    The check runs as the body is decoded, a chunk at a time, so neither the
    disk nor the memory ever holds more than the bound (plus one chunk).
    """

    ratio: float = 100.0
    allowance: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        ratio, allowance = self.ratio, self.allowance
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio < 1:
            raise RequestValidationError(f"ratio must be a finite number >= 1, got {ratio!r}", field="ratio")
        if isinstance(allowance, bool) or not isinstance(allowance, int) or allowance < 0:
            raise RequestValidationError(f"allowance must be an int >= 0, got {allowance!r}", field="allowance")

    def allows(self, decoded: int, received: int) -> bool:
        """Whether ``decoded`` bytes from ``received`` bytes on the wire are within the bound."""
        return decoded <= max(self.allowance, self.ratio * received)


#: The bound on every compressed download unless the call says otherwise:
#: 100:1 beyond the first 16 MiB.
DEFAULT_DECOMPRESSION_LIMIT = DecompressionLimit()

_DISK_FULL_ERRNOS = frozenset(code for code in (_errno.ENOSPC, getattr(_errno, "EDQUOT", None)) if code is not None)


def _local_error(exc: OSError, path: Optional[str]) -> LocalFileError:
    """The typed error for a local file operation that failed on ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    cls = DiskFullError if exc.errno in _DISK_FULL_ERRNOS else LocalFileError
    where = f" {path}" if path else ""
    return cls(f"could not write{where}: {reason}", path=path, errno=exc.errno, strerror=exc.strerror)


@contextlib.contextmanager
def _local_file(path: Optional[str]) -> Iterator[None]:
    """Turn an ``OSError`` of a local file operation into :class:`LocalFileError`."""
    try:
        yield
    except LocalFileError:
        raise
    except OSError as exc:
        raise _local_error(exc, path) from exc


def check_destination(destination: Destination) -> None:
    """:class:`RequestValidationError` (``field="destination"``) unless
    ``destination`` is a path in an existing directory (and not itself a
    directory) or a writable binary file object.  Checked before sending."""
    if isinstance(destination, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(destination))
        if not path:
            raise RequestValidationError("destination is an empty path", field="destination")
        if "\0" in path:
            raise RequestValidationError(f"destination {path[:200]!r} holds a NUL character", field="destination")
        if os.path.isdir(path):
            raise RequestValidationError(
                f"destination {path!r} is a directory; give the file's path", field="destination"
            )
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise RequestValidationError(f"the directory {parent!r} does not exist", field="destination")
        return
    if isinstance(destination, io.TextIOBase):
        raise RequestValidationError(
            "destination is a text stream; open the file in binary mode ('wb')", field="destination"
        )
    if not callable(getattr(destination, "write", None)):
        raise RequestValidationError(
            f"destination must be a path or a writable binary file, got {type(destination).__name__}",
            field="destination",
        )


def save_response(
    response: requests.Response,
    destination: Destination,
    *,
    progress: Optional[ProgressCallback] = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    durable: bool = False,
    decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
    checksum: bool = True,
) -> DownloadResult:
    """Stream ``response``'s body to ``destination`` (see the module docstring).

    ``checksum=False`` skips the SHA-256 of the bytes (computed in a helper
    thread otherwise): the result's ``sha256`` is then ``""``.

    ``response`` should come from a ``stream=True`` request.  It is closed
    when this returns or raises.  With ``durable=True``, a download to a path
    is ``fsync``-ed before it takes its final name, so that it survives a
    power cut or a kernel crash too (at the disk's speed: see
    docs/benchmarks.rst).  A compressed body may expand at most as far as
    ``decompression_limit`` allows (``None``: no bound).  Local write
    failures raise :class:`~avatars.errors.LocalFileError`.
    """
    try:
        check_destination(destination)
        if isinstance(destination, (str, os.PathLike)):
            path = os.fsdecode(os.fspath(destination))
            return _save_to_path(
                response, path, progress, chunk_size, durable=durable, limit=decompression_limit, checksum=checksum
            )
        name = getattr(destination, "name", None)
        return _copy_body(
            response,
            destination,
            progress,
            chunk_size,
            path=None,
            label=name if isinstance(name, str) else None,
            limit=decompression_limit,
            checksum=checksum,
        )
    finally:
        response.close()
        release(response)  # the body is done: the call's budget stops watching it


def _write_target(path: str) -> str:
    """The file that a download to ``path`` writes: ``path`` itself, or the
    file a symbolic link at ``path`` points to (following every link)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _save_to_path(
    response: requests.Response,
    path: str,
    progress: Optional[ProgressCallback],
    chunk_size: int,
    *,
    durable: bool,
    limit: Optional[DecompressionLimit],
    checksum: bool = True,
) -> DownloadResult:
    final = _write_target(os.path.abspath(path))
    with _local_file(final):
        try:
            info: Optional[os.stat_result] = os.stat(final)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                raise RequestValidationError(f"destination {path!r} leads to a directory", field="destination")
            # a device or a pipe: write into it, never rename a file over it
            with open(final, "wb") as special:
                return _copy_body(
                    response, special, progress, chunk_size, path=final, label=final, limit=limit, checksum=checksum
                )
        fd, temp = _create_temp(os.path.dirname(final), os.path.basename(final))
    try:
        with _local_file(final):
            if info is not None:
                _set_mode(fd, temp, stat.S_IMODE(info.st_mode) & 0o777)
            handle = os.fdopen(fd, "wb")
        with handle:
            result = _copy_body(
                response, handle, progress, chunk_size, path=final, label=final, limit=limit, checksum=checksum
            )
            with _local_file(final):
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
        with _local_file(final):
            os.replace(temp, final)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return result


def _set_mode(fd: int, path: str, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # pragma: no cover - Windows before Python 3.13
        os.chmod(path, mode)


def _create_temp(directory: str, basename: str) -> Tuple[int, str]:
    """A new file next to the destination, created with the usual permissions
    (``0o666`` minus the umask, like ``open(path, "wb")``).  Its name is
    hidden and short enough for any file system whatever the final name's length."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    stem = basename.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    for _ in range(100):
        temp = os.path.join(directory, f".{stem}.{secrets.token_hex(6)}.part")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory!r}")  # pragma: no cover


def _expected_length(response: requests.Response) -> Optional[int]:
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return None  # the decoded size differs from Content-Length
    return _content_length(response)


def _content_length(response: requests.Response) -> Optional[int]:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        return None
    return length if length >= 0 else None


class _Inflater:
    """Decodes a gzip (every member) or deflate (zlib or raw) stream, at most
    ``max_out`` bytes per piece."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._head = b""
        self._members_done = 0
        self._fed = False

    def _start_deflate(self, data: bytes) -> bytes:
        self._head += data
        if len(self._head) < 2:
            return b""
        first, second = self._head[0], self._head[1]
        wrapped = first & 0x0F == 8 and (first * 256 + second) % 31 == 0
        self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        data, self._head = self._head, b""
        return data

    def feed(self, data: bytes, max_out: int) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if self._obj is None:
            data = self._start_deflate(data)
            if self._obj is None:
                return
        pending = data
        while True:
            try:
                out = self._obj.decompress(pending, max_out)
            except zlib.error:
                if self._members_done:  # bytes after a complete gzip member: ignored, as gzip(1) does
                    return
                raise
            pending = self._obj.unconsumed_tail
            if self._obj.eof:
                pending = self._obj.unused_data
                self._members_done += 1
                if pending and self._gzip:
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    pending = b""
            if out:
                yield out
            if not pending and len(out) < max_out:
                return

    def finish(self) -> bytes:
        if not self._fed:  # an empty body is an empty file, whatever its Content-Encoding says
            return b""
        if self._obj is None:
            if self._head:
                raise zlib.error("truncated deflate stream")
            return b""
        if not self._obj.eof and not self._members_done:
            tail: bytes = self._obj.flush()
            if not self._obj.eof:
                raise zlib.error("the compressed stream ended early")
            return tail
        return b""


def iter_decoded(
    response: requests.Response,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    *,
    limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
) -> Iterator[bytes]:
    """The decoded body of a ``stream=True`` response, in pieces of at most
    ``chunk_size`` bytes, never expanding beyond ``limit``.

    ``gzip`` and ``deflate`` are decoded here from the raw stream, one
    bounded piece at a time (memory stays at one chunk whatever the ratio);
    other encodings are decoded by ``urllib3`` and checked after each chunk.
    :class:`~avatars.errors.DecompressionLimitError` when the bound is
    passed, :class:`~avatars.errors.ResponseDecodeError` for a corrupt
    stream; errors of the connection itself propagate as ``requests`` and
    ``urllib3`` raise them.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    raw: Any = getattr(response, "raw", None)
    if limit is None or encoding in ("", "identity"):
        yield from response.iter_content(chunk_size)
        return
    fresh = not getattr(response, "_content_consumed", False)  # else requests has read (and decoded) it already
    if encoding in ("gzip", "x-gzip", "deflate") and fresh and callable(getattr(raw, "stream", None)):
        yield from _inflate(response, encoding, chunk_size, limit)
        return
    decoded = 0
    for chunk in response.iter_content(chunk_size):
        decoded += len(chunk)
        received = raw.tell() if callable(getattr(raw, "tell", None)) else 0
        _check_ratio(limit, decoded, int(received), response)
        yield chunk


def _inflate(response: requests.Response, encoding: str, chunk_size: int, limit: DecompressionLimit) -> Iterator[bytes]:
    inflater = _Inflater(encoding)
    received = decoded = 0
    try:
        for data in response.raw.stream(chunk_size, decode_content=False):
            received += len(data)
            for piece in inflater.feed(data, chunk_size):
                decoded += len(piece)
                _check_ratio(limit, decoded, received, response)
                yield piece
        tail = inflater.finish()
    except zlib.error as exc:
        raise ResponseDecodeError(
            f"could not decode the {encoding} download after {received} bytes: {exc}",
            method=method_of(response),
            url=response.url,
        ) from None
    if tail:
        decoded += len(tail)
        _check_ratio(limit, decoded, received, response)
        yield tail
    expected = _content_length(response)
    if expected is not None and received < expected:
        raise ApiConnectionError(
            f"the download is incomplete: received {received} of {expected} bytes",
            method=method_of(response),
            url=response.url,
        )


def _check_ratio(limit: DecompressionLimit, decoded: int, received: int, response: requests.Response) -> None:
    if not limit.allows(decoded, received):
        raise DecompressionLimitError(
            f"the compressed download expanded beyond the allowed {limit.ratio:g}:1 "
            f"({decoded} bytes from {received}; see avatars.transfer.DecompressionLimit)",
            method=method_of(response),
            url=response.url,
        )


def _copy_body(
    response: requests.Response,
    out: Any,
    progress: Optional[ProgressCallback],
    chunk_size: int,
    *,
    path: Optional[str],
    label: Optional[str],
    limit: Optional[DecompressionLimit],
    checksum: bool = True,
) -> DownloadResult:
    expected = _expected_length(response)
    digest = _HashThread() if checksum else _NoHash()
    _report(progress, 0, expected)
    chunks = iter_decoded(response, chunk_size, limit=limit)
    try:
        return _copy_chunks(response, chunks, out, progress, digest, expected, path, label)
    finally:
        digest.close()


def _copy_chunks(
    response: requests.Response,
    chunks: Iterator[bytes],
    out: Any,
    progress: Optional[ProgressCallback],
    digest: Union[_HashThread, _NoHash],
    expected: Optional[int],
    path: Optional[str],
    label: Optional[str],
) -> DownloadResult:
    done = 0
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            break
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, socket.timeout) as exc:
            raise _download_error(exc, response, done, expected) from None
        if not chunk:
            continue
        with _local_file(label):
            out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        _report(progress, done, expected)
    if expected is not None and done != expected:
        budget = _budget_error(response, f" after {done} of {expected} bytes")
        if budget is not None:  # the watchdog cut the connection (urllib3 1.26 then just stops)
            raise budget
        raise ApiConnectionError(
            f"the download is incomplete: received {done} of {expected} bytes",
            method=method_of(response),
            url=response.url,
        )
    return DownloadResult(bytes_written=done, sha256=digest.hexdigest(), path=path)


class _NoHash:
    """No checksum (``checksum=False``)."""

    def update(self, chunk: bytes) -> None:
        return None

    def hexdigest(self) -> str:
        return ""

    def close(self) -> None:
        return None


class _HashThread:
    """SHA-256 of the downloaded bytes, computed in a helper thread.

    ``hashlib`` releases the GIL on large buffers, so hashing one chunk runs
    while the next is read and written (inline, it cost a third of the
    download's speed).  At most ``depth`` chunks wait in the queue.
    """

    def __init__(self, depth: int = 4) -> None:
        self._digest = hashlib.sha256()
        self._queue: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="avatars-sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            self._digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()


def _download_error(
    exc: BaseException, response: requests.Response, done: int, expected: Optional[int]
) -> TransportError:
    where = f" after {done}" + (f" of {expected}" if expected is not None else "") + " bytes"
    method, url = method_of(response), response.url
    budget = _budget_error(response, where)
    if budget is not None:
        return budget
    if _is_timeout(exc):
        return ApiTimeoutError(f"the download stalled{where}", method=method, url=url)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return ResponseDecodeError(f"could not decode the compressed download{where}", method=method, url=url)
    return ApiConnectionError(f"the connection broke during the download{where}", method=method, url=url)


def _budget_error(response: requests.Response, where: str) -> Optional[ApiTimeoutError]:
    """The error when ApiClient's ``total_timeout`` watchdog cut this download."""
    deadline = budget_of(response)
    if deadline is None or not deadline.expired:
        return None
    return ApiTimeoutError(
        f"the download did not complete within its total budget of {deadline.seconds:g} s{where}",
        method=method_of(response),
        url=response.url,
    )


def _is_timeout(exc: BaseException) -> bool:
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 5:
        if isinstance(current, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout)):
            return True
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or current.__context__
        seen += 1
    return False
