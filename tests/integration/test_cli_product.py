"""The ``avatars`` command as people type it: flags at any level, pipes, missing extras, CLI words.

Every test runs the installed command in a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from avatars._version import DISTRIBUTION
from avatars.cli import EXIT_AUTH, EXIT_BROKEN_PIPE, EXIT_NETWORK, EXIT_OK, EXIT_USAGE
from avatars.testing import LocalAvatarServer

from .test_cli import Result, _clean_env, _command, _no_traceback, run

pytestmark = pytest.mark.integration

WRONG_KEY = "Wrong-Api-Key-0123456789"


@pytest.fixture
def env(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Dict[str, str]:
    return _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_API_KEY": avatar_api_key})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --------------------------------------------------------------------------- flags at the group level


def test_api_key_typed_after_the_group_word_is_used(env: Dict[str, str], avatar_server: LocalAvatarServer) -> None:
    result = run(["jobs", "--api-key", WRONG_KEY, "list"], env)
    assert result.code == EXIT_AUTH, result
    assert WRONG_KEY not in result.out + result.err
    assert avatar_server.count("GET", "/api/jobs") == 1


def test_base_url_typed_after_the_group_word_is_used(env: Dict[str, str], avatar_server: LocalAvatarServer) -> None:
    other = f"http://127.0.0.1:{_closed_port()}/api"
    result = run(["jobs", "--base-url", other, "--timeout", "2", "list"], env)
    assert result.code == EXIT_NETWORK, result
    assert "refused" in result.err
    assert avatar_server.count("GET", "/api/jobs") == 0  # not the environment's server


def test_json_and_quiet_typed_after_the_group_word_are_used(env: Dict[str, str]) -> None:
    result = run(["jobs", "--json", "list"], env)
    assert result.code == EXIT_OK, result
    assert result.json() == []
    listed = run(["datasets", "--json", "--quiet", "list"], env)
    assert listed.code == EXIT_OK and listed.json() == [], listed


def test_the_last_flag_typed_wins(env: Dict[str, str], avatar_api_key: str) -> None:
    result = run(["jobs", "--api-key", WRONG_KEY, "list", "--api-key", avatar_api_key, "--json"], env)
    assert result.code == EXIT_OK and result.json() == [], result
    wrong_last = run(["jobs", "--api-key", avatar_api_key, "list", "--api-key", WRONG_KEY], env)
    assert wrong_last.code == EXIT_AUTH, wrong_last


def test_flags_typed_before_the_command_are_used_too(env: Dict[str, str], avatar_server: LocalAvatarServer) -> None:
    result = run(["--api-key", WRONG_KEY, "jobs", "list"], env)
    assert result.code == EXIT_AUTH, result
    assert WRONG_KEY not in result.out + result.err
    as_json = run(["--json", "jobs", "list"], env)
    assert as_json.code == EXIT_OK and as_json.json() == [], as_json


def test_connection_flags_before_demo_or_serve_are_refused_not_ignored(tmp_path: Path) -> None:
    for command in (["demo", "--output", str(tmp_path / "o")], ["serve"]):
        result = run(["--base-url", "https://avatar.example.com/api", *command], _clean_env(), cwd=tmp_path)
        assert result.code == EXIT_USAGE, result
        assert "takes no connection flags (--base-url)" in result.err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- CLI words in errors


def test_missing_configuration_is_told_in_flag_names() -> None:
    no_server = run(["jobs", "list"], _clean_env())
    assert no_server.code == EXIT_USAGE, no_server
    assert "--base-url or AVATAR_BASE_API_URL" in no_server.err
    no_key = run(["jobs", "list"], _clean_env({"AVATAR_BASE_API_URL": f"http://127.0.0.1:{_closed_port()}/api"}))
    assert no_key.code == EXIT_AUTH, no_key
    assert "use --api-key or AVATAR_API_KEY" in no_key.err and "api_key=" not in no_key.err
    bad_url = run(["jobs", "list", "--base-url", "https://avatar.example.com"], _clean_env())
    assert bad_url.code == EXIT_USAGE and "--base-url must end with /api" in bad_url.err, bad_url
    bad_key = run(["jobs", "list", "--base-url", "https://a.test/api", "--api-key", "two words"], _clean_env())
    assert bad_key.code == EXIT_USAGE and "--api-key contains whitespace" in bad_key.err, bad_key
    for result in (no_server, no_key, bad_url, bad_key):
        _no_traceback(result)
        assert len(result.err.strip().splitlines()) == 1, result


def test_serve_help_names_avatars_serve_and_demo_offers_only_what_it_uses() -> None:
    serve = run(["serve", "--help"], _clean_env())
    assert serve.code == EXIT_OK and serve.out.startswith("usage: avatars serve"), serve
    demo = run(["demo", "--help"], _clean_env())
    assert demo.code == EXIT_OK, demo
    for flag in ("--base-url", "--api-key", "--username", "--proxy", "--timeout", "--token-cache"):
        assert flag not in demo.out
    ignored = run(["demo", "--base-url", "https://avatar.example.com/api"], _clean_env())
    assert ignored.code == EXIT_USAGE and "unrecognized arguments" in ignored.err, ignored


# --------------------------------------------------------------------------- broken pipe


def _run_into_closed_pipe(args: List[str], env: Dict[str, str]) -> Result:
    """Run the command with a stdout whose reader has already gone (as ``| head`` leaves it)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    # stdout buffered, as in a plain shell: PYTHONUNBUFFERED would let every write hit the pipe at once
    env = {name: value for name, value in env.items() if name != "PYTHONUNBUFFERED"}
    try:
        proc = subprocess.run(
            _command() + args, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    return Result(subprocess.CompletedProcess(proc.args, proc.returncode, "", proc.stderr))


@pytest.mark.parametrize(
    "args, code",
    [
        (["datasets", "list", "--json"], EXIT_BROKEN_PIPE),
        (["jobs", "list"], EXIT_BROKEN_PIPE),
        (["--help"], EXIT_BROKEN_PIPE),
        (["jobs", "list", "--help"], EXIT_BROKEN_PIPE),
        (["--version"], EXIT_BROKEN_PIPE),
    ],
)
def test_a_closed_pipe_ends_quietly(args: List[str], code: int, env: Dict[str, str]) -> None:
    result = _run_into_closed_pipe(args, env)
    assert result.code == code, result
    assert result.err == "", result


# --------------------------------------------------------------------------- without the server extra

HIDE_WERKZEUG = textwrap.dedent(
    """
    import sys

    class _NotInstalled:
        # werkzeug behaves as if it were not installed in this interpreter
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "werkzeug":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NotInstalled())
    """
)


@pytest.fixture
def no_werkzeug_env(tmp_path: Path) -> Dict[str, str]:
    site = tmp_path / "hide-werkzeug"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_WERKZEUG)
    env = _clean_env({"PYTHONPATH": str(site)})
    probe = subprocess.run(
        [sys.executable, "-c", "import werkzeug"], env=env, capture_output=True, text=True, timeout=60
    )
    assert probe.returncode != 0 and "No module named 'werkzeug'" in probe.stderr, probe
    return env


def _says_what_to_install(result: Result, what: Optional[str] = None) -> None:
    text = result.out + result.err
    assert f"pip install '{DISTRIBUTION}[server]'" in text, result
    if what is not None:
        assert what in text, result
    _no_traceback(result)


def test_serve_and_demo_without_the_server_extra(no_werkzeug_env: Dict[str, str], tmp_path: Path) -> None:
    serve = run(["serve", "--port", "0"], no_werkzeug_env)
    assert serve.code == EXIT_USAGE, serve
    _says_what_to_install(serve, "'avatars serve' needs the 'server' extra")
    assert len(serve.err.strip().splitlines()) == 1
    demo = run(["demo", "--output", str(tmp_path / "o")], no_werkzeug_env, cwd=tmp_path)
    assert demo.code == EXIT_USAGE, demo
    _says_what_to_install(demo, "'avatars demo' needs the 'server' extra")
    helped = run(["serve", "--help"], no_werkzeug_env)
    assert helped.code == EXIT_OK and "avatars serve" in helped.out, helped


def test_pytest_plugin_without_the_server_extra(no_werkzeug_env: Dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "test_users_script.py").write_text(
        "def test_it(avatar_client):\n    assert avatar_client.jobs.get_jobs().jobs == []\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_users_script.py"],
        env=no_werkzeug_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = Result(proc)
    assert proc.returncode == 1, result  # the test fails (it cannot have its server); pytest itself works
    _says_what_to_install(result, "the avatar_server fixture needs the 'server' extra")
    assert "ModuleNotFoundError" not in result.out, result


def test_demo_ignores_the_shells_avatar_variables(tmp_path: Path) -> None:
    polluted = _clean_env(
        {"AVATAR_BASE_API_URL": f"http://127.0.0.1:{_closed_port()}/api", "AVATAR_API_KEY": "Prod-Key-Not-For-Demo"}
    )
    result = run(["demo", "--quiet", "--json", "--output", str(tmp_path / "o")], polluted, cwd=tmp_path)
    assert result.code == EXIT_OK, result
    assert "Prod-Key-Not-For-Demo" not in result.out + result.err


def test_username_flag_wins_over_the_environments_api_key(
    avatar_server: LocalAvatarServer,
    avatar_user,  # type: ignore[no-untyped-def]
    avatar_api_key: str,
) -> None:
    env = _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_API_KEY": avatar_api_key})
    result = run(
        ["jobs", "list", "--json", "--username", avatar_user.email, "--password-stdin"],
        env,
        stdin=avatar_user.password + "\n",
    )
    assert result.code == EXIT_OK, result
    assert avatar_server.count("POST", "/api/login") == 1
    assert avatar_server.log.last("GET", "/api/jobs").auth_scheme == "Bearer"
