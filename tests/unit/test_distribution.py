"""The distribution's name: set in setup.cfg, installed, and the one every install command names."""

from __future__ import annotations

import configparser
import re
import shlex
from importlib import metadata
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import avatars
from avatars._version import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[2]
#: Files people copy install commands from.
DOC_FILES = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.rst"), *(ROOT / "docs").rglob("*.py")]
    + list((ROOT / "avatars").rglob("*.py"))
)
_INSTALL = re.compile(r"pip install\s+([^\n`]*)")


def _install_commands() -> Iterator[Tuple[Path, str, List[str]]]:
    for path in DOC_FILES:
        if "_build" in path.parts:
            continue
        for match in _INSTALL.finditer(path.read_text(encoding="utf-8")):
            line = re.split(r'#|&&|"', match.group(1))[0]
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            yield path, match.group(0), [w for w in words if not w.startswith("-")]


def _project(requirement: str) -> str:
    """The project a requirement names (``'name[extra]>=1'`` -> ``name``), or what the word starts with."""
    match = re.match(r"[A-Za-z0-9._/-]*", requirement.strip("'\""))
    return match.group(0).lower() if match else ""


def test_setup_cfg_names_the_distribution() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    assert parser["metadata"]["name"] == DISTRIBUTION
    assert DISTRIBUTION != "avatars"


def test_the_installed_distribution_is_this_package() -> None:
    assert metadata.version(DISTRIBUTION) == avatars.__version__
    files = metadata.distribution(DISTRIBUTION).read_text("top_level.txt") or ""
    direct_url = metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or ""
    assert "avatars" in files.split() or direct_url  # wheel metadata, or an editable install


def test_every_install_command_names_our_distribution_never_bare_avatars() -> None:
    commands = list(_install_commands())
    ours = [(path, text) for path, text, words in commands if any(_project(w) == DISTRIBUTION for w in words)]
    assert {path.name for path, _ in ours} >= {"README.md", "quickstart.rst", "testing.rst", "index.rst"}
    wrong = [
        f"{path.relative_to(ROOT)}: {text!r}"
        for path, text, words in commands
        for word in words
        if "{DISTRIBUTION}" not in word and _project(word) == "avatars"
    ]
    assert wrong == []


@pytest.mark.parametrize("text", ["pip install avatars", "pip install 'avatars[server]'", "pip install avatars==0.1"])
def test_the_check_catches_the_wrong_name(text: str) -> None:
    words = shlex.split(_INSTALL.search(text).group(1))  # type: ignore[union-attr]
    assert [_project(w) for w in words] == ["avatars"]
