"""Upload sources cut into parts: bounded reads, rewindable, safe across threads.

A source is a path, a binary file object, ``bytes``-like, an iterable of
``bytes`` chunks, or a pandas ``DataFrame`` (written as CSV to a temporary
file first).  A sized, seekable source is read at offsets (``os.pread`` where
the platform has it, so parallel parts share no file position); anything
else is read forward, one part at a time, into memory (at most one part).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Iterable as _IterableABC
from typing import Any, Callable, Iterator, List, Optional

from ..errors import RequestValidationError
from ..transfer import FileBody, _read_chunks

__all__ = ["Source", "PartBody", "SendBody", "SEND_BLOCK", "open_source", "is_dataframe"]

#: How many bytes of a stored body go to the socket at once.  ``http.client``
#: and urllib3 read a file-like body 8 or 16 KiB at a time (a read, a progress
#: report and a ``send`` for each block); an iterable body is sent in the
#: pieces it yields, so storage bodies are offered in blocks of this size.
SEND_BLOCK = 1024 * 1024


class Cancelled(Exception):
    """Internal: a part read after the upload was cancelled."""


class _Cursor:
    """A file-like position over ``read_at`` (each part has its own: no shared position)."""

    def __init__(self, read_at: Callable[[int, int], bytes], position: int = 0) -> None:
        self._read_at = read_at
        self._pos = position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = offset
        return offset

    def read(self, size: int) -> bytes:
        data = self._read_at(self._pos, size)
        self._pos += len(data)
        return data


class PartBody(FileBody):
    """Bytes ``[start, start + length)`` of a source: a :class:`~avatars.transfer.FileBody`
    over ``read_at``, that stops when the upload is ``cancelled``.

    ``quiet`` is set by the signer while it hashes the body, so hashing reads
    are not counted as progress; ``on_position(pos)`` is told where the body
    is after each counted read and after a rewind.
    """

    def __init__(
        self,
        read_at: Callable[[int, int], bytes],
        start: int,
        length: int,
        *,
        on_position: Optional[Callable[[int], None]] = None,
        cancelled: Optional[threading.Event] = None,
    ) -> None:
        # The cursor starts where the part does: FileBody reads from the source's
        # position until something seeks it.
        super().__init__(_Cursor(read_at, start), start=start, length=length, progress=self._report)
        self._on_position = on_position
        self._cancelled = cancelled
        self.quiet = False

    def _report(self, done_bytes: int, total_bytes: Optional[int]) -> None:
        if not self.quiet and self._on_position is not None:
            self._on_position(done_bytes)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = super().seek(offset, whence)
        self._report(self.tell(), len(self))
        return position

    def read(self, size: Optional[int] = -1) -> bytes:
        if self._cancelled is not None and self._cancelled.is_set():
            raise Cancelled()
        return super().read(size)


class SendBody:
    """A :class:`PartBody` as the transport sees it: its bytes in blocks of
    :data:`SEND_BLOCK` (an iterable with a length: ``requests`` sends a
    ``Content-Length``, and the connection sends each block whole), with
    ``tell``/``seek`` for a re-send.  It has no ``read`` on purpose: given
    one, ``http.client`` and urllib3 would read 8 or 16 KiB at a time.

    ``payload`` is the readable part itself: what the signer hashes.
    """

    def __init__(self, payload: PartBody) -> None:
        self.payload = payload

    def __len__(self) -> int:
        return len(self.payload)

    def tell(self) -> int:
        return self.payload.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.payload.seek(offset, whence)

    def __iter__(self) -> Iterator[bytes]:
        return _read_chunks(self.payload, SEND_BLOCK)

    def __repr__(self) -> str:
        return f"<SendBody {self.payload!r}>"


class Source:
    """An upload source: ``size`` (``None`` when unknown), ``read_at`` for sized
    sources, ``read_forward`` for the others."""

    size: Optional[int] = None
    #: True when parts may be read from several threads at once.
    parallel_safe = False

    def read_at(self, offset: int, length: int) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def read_forward(self, length: int) -> bytes:
        """Up to ``length`` bytes from a forward-only source (``b""`` at its end)."""
        raise NotImplementedError  # pragma: no cover - overridden

    def close(self) -> None:
        return None


class _FileSource(Source):
    """A seekable binary file from ``start``: pread where available, else seek+read under a lock."""

    def __init__(self, handle: Any, start: int, size: int, *, owned: bool) -> None:
        self._handle = handle
        self._start = start
        self.size = size
        self._owned = owned
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        if hasattr(os, "pread"):
            try:
                fd = handle.fileno()
                os.fstat(fd)
                self._fd = fd
            except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
                self._fd = None
        self.parallel_safe = True

    def read_at(self, offset: int, length: int) -> bytes:
        if self._fd is not None:
            return os.pread(self._fd, length, self._start + offset)
        with self._lock:
            self._handle.seek(self._start + offset)
            data = self._handle.read(length)
        return bytes(data)

    def close(self) -> None:
        if self._owned:
            self._handle.close()


class _MemorySource(Source):
    def __init__(self, data: Any) -> None:
        view = memoryview(data)
        self._view = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        self.size = len(self._view)
        self.parallel_safe = True

    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(self._view[offset : offset + length])

    def close(self) -> None:
        self._view.release()


class _StreamSource(Source):
    """Forward-only: an unseekable file object, or an iterable of ``bytes`` chunks."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._pending = b""
        self._index = 0

    def read_forward(self, length: int) -> bytes:
        pieces: List[bytes] = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        while have < length:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            if isinstance(chunk, (bytearray, memoryview)):
                chunk = bytes(chunk)
            if not isinstance(chunk, bytes):
                raise RequestValidationError(
                    f"upload chunk {self._index} is {type(chunk).__name__}, not bytes", field="source"
                )
            self._index += 1
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        if len(data) > length:
            data, self._pending = data[:length], data[length:]
        return data


def is_dataframe(value: object) -> bool:
    """A pandas DataFrame, recognised without importing pandas."""
    return type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ == "DataFrame"


def _seekable_remaining(stream: Any) -> Optional[int]:
    try:
        if hasattr(stream, "seekable") and not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    if not isinstance(end, int) or not isinstance(position, int):
        return None
    return max(0, end - position)


def open_source(source: Any) -> Source:
    """A :class:`Source` for ``source``; :class:`RequestValidationError` (``field="source"``)
    for a kind that cannot be uploaded.  A file object is read from its current position."""
    if is_dataframe(source):
        spool = tempfile.TemporaryFile()
        try:
            source.reset_index(drop=True).to_csv(spool, index=False)
            size = spool.tell()
        except BaseException:
            spool.close()
            raise
        return _FileSource(spool, 0, size, owned=True)
    if isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source))
        if not os.path.isfile(path):
            raise RequestValidationError(f"no such file: {path[:200]!r}", field="source")
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise RequestValidationError(f"cannot read {path!r}: {exc.strerror or exc}", field="source") from None
        return _FileSource(handle, 0, os.fstat(handle.fileno()).st_size, owned=True)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _MemorySource(source)
    if isinstance(source, io.TextIOBase):
        raise RequestValidationError(
            "the upload source is a text stream; open it in binary mode ('rb')", field="source"
        )
    if hasattr(source, "read"):
        remaining = _seekable_remaining(source)
        if remaining is not None:
            return _FileSource(source, int(source.tell()), remaining, owned=False)
        return _StreamSource(_read_chunks(source))
    if isinstance(source, _IterableABC) and not isinstance(source, (dict, str)):
        return _StreamSource(iter(source))
    raise RequestValidationError(
        "the upload source must be a path, a binary file, bytes, an iterable of bytes "
        f"or a pandas DataFrame; got {type(source).__name__}",
        field="source",
    )
