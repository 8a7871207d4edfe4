"""The ``avatars`` parser, walked: every option documented, every shown flag honoured."""

from __future__ import annotations

import argparse
from typing import Dict, Iterator, List, Tuple

import pytest

from avatars.cli import _SHARED_DEFAULTS, build_parser, parse_args

#: A complete command line for each leaf command (positionals and required flags).
LEAVES: Dict[Tuple[str, ...], List[str]] = {
    ("login",): [],
    ("jobs", "list"): [],
    ("jobs", "status"): ["job-1"],
    ("jobs", "cancel"): ["job-1"],
    ("jobs", "delete"): ["job-1"],
    ("datasets", "upload"): ["data.csv"],
    ("datasets", "download"): ["id-1", "out.csv"],
    ("datasets", "list"): [],
    ("run",): ["data.csv", "--k", "3"],
    ("results", "download"): ["job-1", "out"],
    ("demo",): [],
}

#: A value for each shared flag that takes one.
VALUES = {
    "base_url": "https://flag.test/api",
    "api_key": "flag-key",
    "username": "ada@example.com",
    "token_cache": "tokens.json",
    "proxy": "http://proxy.test:3128",
    "ca_bundle": "ca.pem",
    "timeout": "7",
}


def _subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(
    parser: argparse.ArgumentParser, path: Tuple[str, ...] = ()
) -> Iterator[Tuple[Tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for name, child in _subparsers(parser).items():
        yield from _walk(child, path + (name,))


def test_every_option_and_argument_has_help_text() -> None:
    missing = []
    for path, parser in _walk(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"avatars {' '.join(path)}: {action.option_strings or action.dest}")
    assert missing == []


def test_the_walk_covers_every_command() -> None:
    leaves = {path for path, parser in _walk(build_parser()) if path and not _subparsers(parser)}
    assert leaves - {("serve",)} == set(LEAVES)


def _shown_shared_flags(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    return [a for a in parser._actions if a.dest in _SHARED_DEFAULTS and a.option_strings]


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_a_shared_flag_works_at_every_level_that_shows_it(leaf: Tuple[str, ...]) -> None:
    parser = build_parser()
    levels = [parser]
    for word in leaf:
        levels.append(_subparsers(levels[-1])[word])
    checked = 0
    for depth, level in enumerate(levels):
        for action in _shown_shared_flags(level):
            flag = [action.option_strings[0]]
            if action.nargs != 0:
                flag.append(VALUES[action.dest])
            argv = [*leaf[:depth], *flag, *leaf[depth:], *LEAVES[leaf]]
            args = parse_args(parser, argv)
            expected = True if action.nargs == 0 else VALUES[action.dest]
            if action.dest == "timeout":
                expected = 7.0
            assert getattr(args, action.dest) == expected, argv
            checked += 1
    assert checked > 0


def test_flags_typed_nowhere_get_their_defaults() -> None:
    args = parse_args(build_parser(), ["jobs", "list"])
    for name, value in _SHARED_DEFAULTS.items():
        assert getattr(args, name) == value
    assert args.typed_flags == frozenset()
