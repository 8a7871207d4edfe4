"""Streaming dataset ingestion: body -> temp file, SHA-256 and CSV counts on the fly.

The request body is read in 1 MiB chunks and never held whole in memory. For
CSV files the counts are computed without a full CSV parse (so a 1 GiB upload
stays fast):

* ``nb_dimensions``: the number of fields of the first record (the header),
  parsed with :mod:`csv` (UTF-8, BOM tolerated).
* ``nb_lines``: the number of records after the header. A record ends at a
  line feed outside a double-quoted field (quotes toggle the quoted state,
  so RFC 4180 ``""`` escapes and embedded newlines are handled); a last line
  without a final line feed counts; trailing empty lines are not counted.
  Empty lines in the middle of the file are counted as records (documented
  simplification). ``\\r\\n`` and ``\\n`` endings are supported, bare ``\\r``
  endings are not.

Other file types get ``nb_lines = nb_dimensions = None``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator, Optional, Tuple

CHUNK_SIZE = 1024 * 1024
_HEADER_CAP = 1024 * 1024


class CsvCounter:
    """Incremental record counter for CSV bytes (see the module docstring)."""

    def __init__(self) -> None:
        self.in_quotes = False
        self.line_feeds = 0
        self.size = 0
        self.last_byte = b""
        self.trailing_newlines = 0
        self._header = bytearray()
        self._header_done = False
        self._header_quotes = False
        self._header_too_long = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self._header_done:
            self._feed_header(chunk)
        self.size += len(chunk)
        parts = chunk.split(b'"')
        total = chunk.count(b"\n")
        quoted = parts[0 if self.in_quotes else 1 :: 2]
        inside = b"".join(quoted).count(b"\n") if quoted else 0
        self.line_feeds += total - inside
        if (len(parts) - 1) % 2 == 1:
            self.in_quotes = not self.in_quotes
        stripped = chunk.rstrip(b"\r\n")
        if stripped:
            self.trailing_newlines = chunk[len(stripped) :].count(b"\n")
        else:
            self.trailing_newlines += chunk.count(b"\n")
        self.last_byte = chunk[-1:]

    def _feed_header(self, chunk: bytes) -> None:
        quoted = self._header_quotes
        for index in range(len(chunk)):
            byte = chunk[index]
            if byte == 0x22:  # '"'
                quoted = not quoted
            elif byte == 0x0A and not quoted:  # '\n'
                self._header += chunk[:index]
                self._header_done = True
                return
            if len(self._header) + index > _HEADER_CAP:
                self._header_done = True
                self._header_too_long = True
                return
        self._header += chunk
        self._header_quotes = quoted

    def result(self) -> Tuple[int, int]:
        """``(nb_lines, nb_dimensions)`` for everything fed so far."""
        if self.size == 0:
            return 0, 0
        records = self.line_feeds
        if self.last_byte != b"\n":
            records += 1
        else:
            records -= max(0, self.trailing_newlines - 1)
        nb_lines = max(0, records - 1)
        if self._header_too_long:
            return nb_lines, 0
        text = bytes(self._header).decode("utf-8-sig", errors="replace").rstrip("\r")
        try:
            header = next(csv.reader(io.StringIO(text)), [])
        except csv.Error:
            header = text.split(",")
        return nb_lines, len(header)


@dataclass(frozen=True)
class IngestResult:
    size: int
    sha256: str
    nb_lines: Optional[int]
    nb_dimensions: Optional[int]


def ingest(
    stream: IO[bytes],
    destination: Path,
    filetype: str,
    *,
    chunk_size: int = CHUNK_SIZE,
    should_stop: Optional[Callable[[], bool]] = None,
) -> IngestResult:
    """Copy ``stream`` to ``destination`` chunk by chunk, hashing and counting.

    On any exception the partial file is removed and the exception re-raised.
    """
    digest = hashlib.sha256()
    counter = CsvCounter() if filetype == "csv" else None
    size = 0
    try:
        with open(destination, "wb") as out:
            while True:
                if should_stop is not None and should_stop():
                    raise ConnectionAbortedError("server stopping")
                chunk = stream.read(chunk_size)
                if not chunk:
                    break
                digest.update(chunk)
                if counter is not None:
                    counter.feed(chunk)
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        try:
            os.unlink(destination)
        except OSError:
            pass
        raise
    nb_lines: Optional[int] = None
    nb_dimensions: Optional[int] = None
    if counter is not None:
        nb_lines, nb_dimensions = counter.result()
    return IngestResult(size=size, sha256=digest.hexdigest(), nb_lines=nb_lines, nb_dimensions=nb_dimensions)


def iter_file(path: Path, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the bytes of ``path`` in ``chunk_size`` pieces (closes the file)."""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                return
            yield chunk
