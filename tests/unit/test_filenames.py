"""Safe file names from server data, distinct names in a batch, confinement, storage keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avatars._filenames import (
    MAX_NAME_BYTES,
    check_storage_key,
    confine,
    plan_files,
    safe_filename,
    unique_names,
)
from avatars.errors import AvatarError, RequestValidationError, UnsafeFileNameError


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("t.shuffled.csv", "t.shuffled.csv"),
        ("../../x", "_.._x"),
        ("/etc/passwd", "_etc_passwd"),
        ("..\\..\\win.ini", "_.._win.ini"),
        ("a\0b.csv", "a_b.csv"),
        ("\x1b]0;pwned\x07.csv", "_]0;pwned_.csv"),
        ("evil\u202egpj.exe", "evil_gpj.exe"),
        ("line\u2028break", "line_break"),
        (".bashrc", "bashrc"),
        ("-rf.csv", "rf.csv"),
        ("  name.csv. . ", "name.csv"),
        ('a<b>c:d|e?f*g"h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("COM\u00b9.csv", "_COM\u00b9.csv"),
        ("CONSOLE.csv", "CONSOLE.csv"),
        ("e\u0301t\u00e9.csv", "\u00e9t\u00e9.csv"),  # NFC
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


@pytest.mark.parametrize("raw", ["", ".", "..", "...", "/", "//", "\0", " ", "-", None, 42, b"t.csv"])
def test_nothing_usable_gives_the_fallback(raw: object) -> None:
    assert safe_filename(raw, fallback="report-0") == "report-0"
    assert safe_filename(raw, fallback="../..") == "result"


def test_long_names_are_cut_in_bytes_keeping_the_extension() -> None:
    name = safe_filename("x" * 300 + ".csv")
    assert len(name.encode()) == MAX_NAME_BYTES and name.endswith(".csv")
    wide = safe_filename("\u00e9" * 300 + ".csv")  # 2 bytes each: never cut a character in two
    assert len(wide.encode()) <= MAX_NAME_BYTES and wide.endswith(".csv") and wide.startswith("\u00e9")
    no_ext = safe_filename("y" * 300 + ".averyveryverylongextension")
    assert len(no_ext.encode()) == MAX_NAME_BYTES
    assert safe_filename("a" * 50, max_bytes=20) == "a" * 20


def test_unique_names_are_deterministic_and_keep_literal_names() -> None:
    names = ["t.csv", "t.csv", "t-2.csv", "T.CSV", "r"]
    assert unique_names(names) == ["t.csv", "t-3.csv", "t-2.csv", "T-4.CSV", "r"]
    assert unique_names(names) == unique_names(list(names))
    assert unique_names(["a", "a"], taken=["a"]) == ["a-2", "a-3"]
    assert unique_names(["\uff21.csv", "A.csv"]) == ["\uff21.csv", "A-2.csv"]  # NFKC + case folding
    long = "z" * MAX_NAME_BYTES
    out = unique_names([long, long])
    assert out[0] == long and out[1].endswith("-2") and len(out[1].encode()) <= MAX_NAME_BYTES


def test_plan_files_confines_each_name(tmp_path: Path) -> None:
    paths = plan_files(tmp_path, ["../../x", "/abs/path", "a\0b", "t.csv", "t.csv", "x" * 300])
    assert len(set(paths)) == 6
    for path in paths:
        assert path.parent == tmp_path.resolve()
        assert len(path.name.encode()) <= MAX_NAME_BYTES


def test_a_symlink_leading_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(outside / "t.csv", folder / "t.csv")
    with pytest.raises(UnsafeFileNameError) as info:
        plan_files(folder, ["t.csv"])
    assert isinstance(info.value, AvatarError) and info.value.name == "t.csv"
    # a link that stays inside the directory is fine
    os.symlink(folder / "real.csv", folder / "inside.csv")
    assert plan_files(folder, ["inside.csv"]) == [folder.resolve() / "inside.csv"]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "..", ".hidden", "a\0b"])
def test_confine_refuses_what_is_not_a_plain_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeFileNameError):
        confine(tmp_path, name)


@pytest.mark.parametrize("key", ["uploads/u1/data.csv", "a/b/c", "prefix/", "caf\u00e9.csv", "a..b/c"])
def test_storage_keys_accepted(key: str) -> None:
    assert check_storage_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "/abs", "\\abs", "../x", "a/../b", "a/./b", "a//b", "..", "a\0b", "a\nb", "x" * 1025, 3, None]
)
def test_storage_keys_refused(key: object) -> None:
    with pytest.raises(RequestValidationError) as info:
        check_storage_key(key, field="key")
    assert info.value.field == "key"
