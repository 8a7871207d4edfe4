"""Names that come from elsewhere, made safe for the local disk and for object storage.

Result file names are derived from server data (a result kind, the last
segment of a result URL: :func:`url_file_name`).  Before such a name touches the disk it goes through
:func:`safe_filename` (one path component, no surprises on any operating
system) and, for a batch of files written into one directory,
:func:`plan_files` (distinct names, each confined to the directory).

What :func:`safe_filename` does, in this order:

* Unicode NFC normalisation (the same name always gives the same bytes);
* path separators (``/`` and ``\\``), NUL and every other control character
  (C0, DEL, C1), Unicode format characters (bidirectional overrides,
  zero-width marks), line and paragraph separators, and the characters
  Windows refuses in names (``< > : " | ? *``) each become ``_``;
* leading white space, dots and dashes are removed (no hidden files, no
  ``.``/``..``, nothing that a shell tool reads as an option), and trailing
  white space and dots (which Windows drops);
* a name whose stem is a Windows device name (``CON``, ``PRN``, ``AUX``,
  ``NUL``, ``COM0``-``COM9``, ``LPT0``-``LPT9``, ``CONIN$``, ``CONOUT$``;
  any case, any extension) gets a ``_`` in front;
* the name is cut to :data:`MAX_NAME_BYTES` bytes of UTF-8, keeping its
  extension (letters and digits after the last dot, at most
  :data:`MAX_EXTENSION_BYTES` bytes) and never cutting a
  character in two;
* a result without a single letter or digit (empty, ``_``, ``...``) becomes
  the fallback name.

The rules are the same on every operating system, so a batch of results gets
the same file names on Linux, macOS and Windows.

:func:`plan_files` gives each name of a batch its own file: the first name
keeps its spelling, later ones that would be the same file get ``-2``, ``-3``,
... before the extension (``t.csv``, ``t-2.csv``).  Names are compared after
case folding and compatibility normalisation, so two names that a
case-insensitive file system (macOS, Windows) would store as one file are
kept apart too.  A name the server sent literally is never renamed to make
room for a generated one.  Each path is then resolved and must still lie
directly in the directory; otherwise (an existing symbolic link in the
directory that leads out of it) :class:`~avatars.errors.UnsafeFileNameError`.

:func:`check_storage_key` checks an object-storage key given by a caller.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import RequestValidationError, UnsafeFileNameError

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_EXTENSION_BYTES",
    "MAX_STORAGE_KEY_BYTES",
    "url_file_name",
    "safe_filename",
    "unique_names",
    "plan_files",
    "confine",
    "check_storage_key",
]

#: Longest file name :func:`safe_filename` returns, in bytes of UTF-8.  File
#: systems allow 255; the rest leaves room for a ``-N`` suffix and for the
#: temporary file a download writes first.
MAX_NAME_BYTES = 200
#: Longest extension (with its dot) that is kept when a long name is cut.
MAX_EXTENSION_BYTES = 16
#: Longest object-storage key :func:`check_storage_key` accepts (the S3 limit).
MAX_STORAGE_KEY_BYTES = 1024

_WINDOWS_FORBIDDEN = frozenset('<>:"|?*/\\')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{prefix}{digit}" for prefix in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"]
)
_DEFAULT_FALLBACK = "result"


def _replace_char(char: str) -> str:
    if char in _WINDOWS_FORBIDDEN:
        return "_"
    category = unicodedata.category(char)
    # Cc: C0, DEL, C1; Cf: bidi overrides, zero-width marks; Zl/Zp: line breaks;
    # Cs: lone surrogates (from os.fsdecode of undecodable bytes), which no file system can store as text.
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return "_"
    return char


def _utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` bytes of UTF-8."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", "ignore")


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _split_extension(name: str) -> Tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext.isalnum() or _utf8_len(ext) + 1 > MAX_EXTENSION_BYTES:
        return name, ""
    return stem, "." + ext


def _fit(name: str, max_bytes: int) -> str:
    """``name`` cut to ``max_bytes``, keeping its extension."""
    if _utf8_len(name) <= max_bytes:
        return name
    stem, ext = _split_extension(name)
    cut = _utf8_prefix(stem, max_bytes - _utf8_len(ext)).rstrip(" .")
    return (cut + ext) if cut else _utf8_prefix(name, max_bytes)


def _clean(name: str) -> str:
    text = unicodedata.normalize("NFC", name)
    text = "".join(_replace_char(c) for c in text)
    text = text.lstrip(" \t.-").rstrip(" \t.")
    if not any(c.isalnum() for c in text):  # nothing but "_", dots and the like
        return ""
    head = text.split(".", 1)[0].rstrip(" ").upper()
    if head in _WINDOWS_DEVICES:
        text = "_" + text
    return text


#: How many ``/access?url=`` wrappers :func:`url_file_name` looks through.
_MAX_ACCESS_NESTING = 3


def url_file_name(url: str) -> str:
    """The file name at the end of a result location, ``""`` when it has none.

    The location may be wrapped in the platform's ``<base>/access?url=<location>``
    URLs (nested, as the platform SDK's are); the query of the innermost one
    never counts.  The path is percent-decoded first and then cut at its last
    ``/`` or ``\\``, so the answer holds no separator, however the server
    encoded one; ``.`` and ``..`` give ``""``.  The name is still the server's:
    pass it through :func:`safe_filename` before it touches the disk.
    """
    try:
        parts = urlsplit(url)
        for _ in range(_MAX_ACCESS_NESTING):
            inner = parse_qs(parts.query).get("url") if parts.path.rstrip("/").endswith("/access") else None
            if not inner:
                break
            parts = urlsplit(inner[0])
        path = parts.path
    except ValueError:  # e.g. an unbalanced "[" in the host part
        path = url.split("?", 1)[0].split("#", 1)[0]
    name = unquote(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return "" if name in (".", "..") else name


def safe_filename(name: object, *, fallback: str = _DEFAULT_FALLBACK, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` as one safe path component (see the module docstring).

    ``name`` may be anything the server sent; what is not a string is
    treated as empty.  ``fallback`` (itself made safe) is used when nothing
    usable is left.  The result is never empty, never ``.`` or ``..``, and
    holds no separator, control character or NUL.
    """
    if max_bytes < 16:
        raise ValueError("max_bytes must be at least 16")
    text = _clean(name) if isinstance(name, str) else ""
    if not text:
        text = _clean(fallback) or _DEFAULT_FALLBACK
    return _fit(text, max_bytes).rstrip(" .") or _DEFAULT_FALLBACK


def _collision_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def unique_names(names: Sequence[str], *, taken: Iterable[str] = (), max_bytes: int = MAX_NAME_BYTES) -> List[str]:
    """``names`` (already safe, see :func:`safe_filename`) made distinct, in order.

    The first of several equal names keeps it; the others get ``-2``, ``-3``,
    ... before the extension, skipping every spelling that is in ``names``
    or ``taken``.  Deterministic: the same input gives the same output.
    """
    reserved: Set[str] = {_collision_key(n) for n in names} | {_collision_key(n) for n in taken}
    used: Set[str] = {_collision_key(n) for n in taken}
    counters: Dict[str, int] = {}
    out: List[str] = []
    for name in names:
        key = _collision_key(name)
        if key not in used:
            used.add(key)
            out.append(name)
            continue
        stem, ext = _split_extension(name)
        number = counters.get(key, 1)
        while True:
            number += 1
            suffix = f"-{number}{ext}"
            candidate = _utf8_prefix(stem, max_bytes - _utf8_len(suffix)).rstrip(" .") + suffix
            candidate_key = _collision_key(candidate)
            if candidate_key not in reserved and candidate_key not in used:
                break
        counters[key] = number
        used.add(candidate_key)
        reserved.add(candidate_key)
        out.append(candidate)
    return out


def confine(directory: Union[str, os.PathLike[str]], name: str) -> Path:
    """The path of ``name`` in ``directory``, checked to stay there once resolved.

    :class:`~avatars.errors.UnsafeFileNameError` when ``name`` is not a
    single path component or when the resolved path (after following any
    symbolic link already there) is not directly in the resolved directory.
    """
    folder = Path(directory).resolve()
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name != safe_filename(name):
        raise UnsafeFileNameError(f"refusing the file name {name[:80]!r}: not a plain file name", name=name)
    target = (folder / name).resolve()
    if target.parent != folder:
        raise UnsafeFileNameError(
            f"refusing to write {name[:80]!r}: {folder / name} leads outside {folder} (a symbolic link?)",
            name=name,
        )
    return folder / name


def plan_files(directory: Union[str, os.PathLike[str]], names: Sequence[str]) -> List[Path]:
    """One path in ``directory`` per raw name of a download batch, in order.

    Each name is made safe (:func:`safe_filename`), the batch distinct
    (:func:`unique_names`), and each path confined (:func:`confine`).  Nothing
    is written.
    """
    safe = unique_names([safe_filename(n) for n in names])
    return [confine(directory, name) for name in safe]


def check_storage_key(key: object, *, field: str = "key", max_bytes: int = MAX_STORAGE_KEY_BYTES) -> str:
    """An object-storage key given by a caller, checked; returns it unchanged.

    :class:`~avatars.errors.RequestValidationError` (``field=field``) when the
    key is not a non-empty string, starts with ``/`` or ``\\``, has a ``.``
    or ``..`` segment (split on ``/`` and ``\\``), an empty segment (``a//b``),
    a NUL or other control character, or is longer than ``max_bytes`` bytes of
    UTF-8.  Keys are not rewritten: a key the caller chose is used as given or
    refused.
    """
    if not isinstance(key, str):
        raise RequestValidationError(f"{field} must be a string, got {type(key).__name__}", field=field)
    if not key:
        raise RequestValidationError(f"{field} must not be empty", field=field)
    shown = repr(key[:80])
    bad: Optional[str] = None
    if key[0] in "/\\":
        bad = "starts with a slash"
    elif any(unicodedata.category(c) == "Cc" for c in key):
        bad = "holds a NUL or control character"
    elif any(part in ("", ".", "..") for part in key.replace("\\", "/").rstrip("/").split("/")):
        bad = "has an empty, '.' or '..' segment"
    elif _utf8_len(key) > max_bytes:
        bad = f"is longer than {max_bytes} bytes"
    if bad is not None:
        raise RequestValidationError(f"{field} {shown} {bad}", field=field)
    return key
