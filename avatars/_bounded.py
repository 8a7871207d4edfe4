"""Reading an answer with bounds: size after decompression, and decompression ratio.

:func:`iter_decoded` is the reusable piece (downloads to disk can use it with
their own bounds); :func:`read_bounded` reads a whole answer into memory, as
``ApiClient`` does for every JSON call.  Both raise
:class:`~avatars.errors.ResponseTooLargeError`, having read at most about one
chunk beyond the bound, so a compression bomb fails fast in bounded memory.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import requests

from .errors import ResponseTooLargeError, method_of

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RATIO",
    "RATIO_FLOOR_BYTES",
    "iter_decoded",
    "read_bounded",
]

#: The largest answer (after decompression) a JSON call accepts: 64 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: The largest decompression ratio accepted once past :data:`RATIO_FLOOR_BYTES`
#: (JSON compresses about 10:1; a bomb 1000:1).
DEFAULT_MAX_RATIO = 200.0
#: Decoded bytes below which the ratio is not judged (tiny bodies compress well).
RATIO_FLOOR_BYTES = 1024 * 1024
#: Raw bytes read at a time: with a 1000:1 bomb, one step decodes ~16 MiB at most.
CHUNK_BYTES = 16 * 1024


def _raw_bytes_read(response: requests.Response) -> Optional[int]:
    tell = getattr(response.raw, "tell", None)
    if tell is None:
        return None
    try:
        return int(tell())
    except (TypeError, ValueError, OSError):
        return None


def iter_decoded(
    response: requests.Response,
    *,
    max_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES,
    max_ratio: Optional[float] = DEFAULT_MAX_RATIO,
    chunk_size: int = CHUNK_BYTES,
    what: str = "the answer",
) -> Iterator[bytes]:
    """The decoded body of ``response`` in chunks, stopping with
    :class:`ResponseTooLargeError` past ``max_bytes`` decoded bytes or past a
    decompression ratio of ``max_ratio`` (``None``: no such bound).  The
    response is closed when a bound is hit."""
    total = 0
    for block in response.iter_content(chunk_size):
        total += len(block)
        problem = None
        if max_bytes is not None and total > max_bytes:
            problem = f"{what} is larger than {max_bytes} bytes (the client's bound)"
        elif max_ratio is not None and total > RATIO_FLOOR_BYTES:
            raw = _raw_bytes_read(response)
            if raw is not None and raw > 0 and total > max_ratio * raw:
                problem = (
                    f"{what} decompresses at more than {max_ratio:g}:1 "
                    f"({raw} compressed bytes gave {total}); refusing a compression bomb"
                )
        if problem is not None:
            response.close()
            raise ResponseTooLargeError(
                problem, method=method_of(response), url=response.url, status_code=response.status_code
            )
        yield block


def read_bounded(
    response: requests.Response,
    max_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES,
    *,
    max_ratio: Optional[float] = DEFAULT_MAX_RATIO,
) -> bytes:
    """Read the whole body within the bounds and keep it as ``response.content``."""
    holder: Any = response
    if holder._content_consumed or holder._content is not False:
        return response.content
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if (
        encoding in ("", "identity")
        and declared.isascii()
        and declared.isdigit()
        and (max_bytes is None or int(declared) <= max_bytes)
    ):
        # Not compressed, and the declared length fits: urllib3 reads no more than it.
        return response.content
    content = b"".join(iter_decoded(response, max_bytes=max_bytes, max_ratio=max_ratio))
    holder._content = content
    holder._content_consumed = True
    return content
