"""The ``avatars`` command, run as a subprocess against a running local server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from avatars.testing import LocalAvatarServer

from .conftest import SAMPLE, SAMPLE_PATH

pytestmark = pytest.mark.integration


def _command() -> List[str]:
    script = Path(sys.executable).parent / "avatars"
    return [str(script)] if script.exists() else [sys.executable, "-m", "avatars"]


def _clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVATAR_") and "PROXY" not in k.upper()}
    env.update(extra or {})
    return env


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> object:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}"


def run(args: List[str], env: Dict[str, str], stdin: Optional[str] = None, cwd: Optional[Path] = None) -> Result:
    proc = subprocess.run(_command() + args, env=env, input=stdin, capture_output=True, text=True, timeout=180, cwd=cwd)
    return Result(proc)


@pytest.fixture
def env(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Dict[str, str]:
    return _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_API_KEY": avatar_api_key})


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, result


def test_version_and_help() -> None:
    result = run(["--version"], _clean_env())
    assert result.code == 0 and result.out.startswith("avatars "), result
    result = run(["--help"], _clean_env())
    assert result.code == 0 and "demo" in result.out and "datasets" in result.out


def test_jobs_list_json_empty(env: Dict[str, str]) -> None:
    result = run(["jobs", "list", "--json"], env)
    assert result.code == 0, result
    assert result.json() == []


def test_datasets_upload_list_download(local_store: Any, tmp_path: Path) -> None:
    """Against the local server's store (signatures checked) on its second listener."""
    env = _clean_env(
        {
            "AVATAR_BASE_API_URL": local_store.base_url,
            "AVATAR_API_KEY": local_store.users["alice"].api_key,
            "AVATAR_STORAGE_ENDPOINT_URL": local_store.server.storage_base_url,
        }
    )
    prefix = local_store.users["alice"].prefix
    key = f"cli-{os.getpid()}-{time.monotonic_ns()}/sample.csv"
    up = run(["datasets", "upload", str(SAMPLE_PATH), "--key", key, "--json", "--quiet"], env)
    assert up.code == 0, up
    uploaded = up.json()
    assert uploaded == {"location": f"s3://avatars/{prefix}/{key}", "bytes": len(SAMPLE)}
    assert local_store.server.storage_log.count("PUT", f"/avatars/{prefix}/{key}") == 1
    listed = run(["datasets", "list", "--json"], env)
    assert {"key": key, "location": uploaded["location"], "size": len(SAMPLE)} in listed.json()  # type: ignore[index, operator]
    human = run(["datasets", "list"], env)
    assert key in human.out and "SIZE" in human.out
    target = tmp_path / "copy.csv"
    down = run(["datasets", "download", uploaded["location"], str(target), "--json"], env)  # type: ignore[index]
    assert down.code == 0, down
    assert target.read_bytes() == SAMPLE
    assert down.json()["sha256"] == hashlib.sha256(SAMPLE).hexdigest()  # type: ignore[index]
    refused = run(["datasets", "upload", str(SAMPLE_PATH), "--key", "../bob/x.csv"], env)
    assert refused.code != 0 and "'..'" in refused.err and "Traceback" not in refused.err, refused


def test_run_then_results_and_jobs_commands(env: Dict[str, str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    result = run(
        [
            "run",
            str(SAMPLE_PATH),
            "--k",
            "6",
            "--seed",
            "1",
            "--primary-key",
            "patient_id",
            "--output",
            str(out_dir),
            "--json",
            "--wait-timeout",
            "120",
        ],
        env,
    )
    assert result.code == 0, result
    summary = result.json()
    assert isinstance(summary, dict)
    assert summary["rows_in"] == summary["rows_out"] == 300
    assert "hidden_rate" in summary["privacy_metrics"]
    files = sorted(p.name for p in out_dir.iterdir())
    assert set(files) >= {
        "report.md",
        "report_pia.report.md",
        "sample.privacy.json",
        "sample.shuffled.csv",
        "sample.signal.json",
        "sample.unshuffled.csv",
        "sample.projections.original.csv",  # and the stand-in's other result files
        "sample.2d_projection.html",
        "run_metadata.json",
        "privacy_metrics.run_metadata.json",  # a name two jobs share: the second is prefixed
    }

    jobs = run(["jobs", "list", "--json"], env).json()
    assert isinstance(jobs, list) and len(jobs) == 5  # standard, 2 metrics, 2 reports
    standard = next(j for j in jobs if j["parameters_name"] == "standard")
    status = run(["jobs", "status", standard["name"], "--json"], env)
    assert status.json()["status"] == "finished"  # type: ignore[index]
    human = run(["jobs", "list"], env)
    assert standard["name"] in human.out and "finished" in human.out

    res_dir = tmp_path / "res"
    downloaded = run(["results", "download", standard["name"], str(res_dir), "--json", "--quiet"], env)
    assert downloaded.code == 0, downloaded
    files = [Path(p).name for p in downloaded.json()["files"]]  # type: ignore[index]
    assert {"sample.shuffled.csv", "sample.unshuffled.csv", "sample.projections.avatars.csv"} <= set(files)

    deleted = run(["jobs", "delete", standard["name"]], env)
    assert deleted.code == 0 and "deleted" in deleted.out


def test_human_run_output_and_progress_lines(env: Dict[str, str], tmp_path: Path) -> None:
    result = run(["run", str(SAMPLE_PATH), "--k", "5", "--output", str(tmp_path / "o")], env)
    assert result.code == 0, result
    assert "300 rows in, 300 rows out" in result.out
    assert "privacy metrics:" in result.out and "results written to" in result.out
    assert "upload sample.csv:" in result.err and "finished" in result.err  # progress on stderr


def test_usage_errors_exit_2_in_one_line(env: Dict[str, str], tmp_path: Path) -> None:
    for args in (
        ["jobs"],
        ["run", str(SAMPLE_PATH)],
        ["nonsense"],
        ["run", str(SAMPLE_PATH), "--k", "zero"],
        ["--timeout", "-1", "jobs", "list"],
    ):
        result = run(args, env)
        assert result.code == 2, (args, result)
        _no_traceback(result)
    missing = run(["run", str(tmp_path / "nope.csv"), "--k", "3"], env)
    assert missing.code == 2 and "no such file" in missing.err
    bad_k = run(["run", str(SAMPLE_PATH), "--k", "0"], env)
    assert bad_k.code == 2 and "--k" in bad_k.err
    bad_url = run(["jobs", "list"], {**env, "AVATAR_BASE_API_URL": "'https://x/api'"})
    assert bad_url.code == 2 and "quotes" in bad_url.err
    assert len(bad_url.err.strip().splitlines()) == 1


def test_wrong_api_key_exit_3_without_the_key(env: Dict[str, str]) -> None:
    wrong = "totally-wrong-api-key-0123456789"
    result = run(["jobs", "list"], {**env, "AVATAR_API_KEY": wrong})
    assert result.code == 3, result
    assert wrong not in result.err + result.out
    assert result.err.startswith("avatars: error: 401")
    assert len(result.err.strip().splitlines()) == 1
    as_json = run(["jobs", "list", "--json"], {**env, "AVATAR_API_KEY": wrong})
    assert as_json.code == 3 and as_json.json()["exit_code"] == 3  # type: ignore[index]


def test_network_error_exit_5() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(
        ["jobs", "list", "--timeout", "2"],
        _clean_env({"AVATAR_BASE_API_URL": f"http://127.0.0.1:{port}/api", "AVATAR_API_KEY": "some-api-key-123"}),
    )
    assert result.code == 5, result
    assert "refused" in result.err
    _no_traceback(result)


def test_job_failure_exit_4(env: Dict[str, str], tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("a,b\n1,2\n3,4\n5,6\n")
    result = run(["run", str(tiny), "--k", "50", "--output", str(tmp_path / "o")], env)
    assert result.code == 4, result
    assert "ended with status error" in result.err
    _no_traceback(result)


def test_login_with_token_cache(avatar_server: LocalAvatarServer, avatar_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "tokens.json"
    env = _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_USERNAME": avatar_user.email})
    result = run(["login", "--password-stdin", "--token-cache", str(cache)], env, stdin=avatar_user.password + "\n")
    assert result.code == 0, result
    assert f"logged in as {avatar_user.email}" in result.out
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    tokens = json.loads(cache.read_text())
    for secret in (tokens["access_token"], tokens["refresh_token"], avatar_user.password):
        assert secret not in result.out + result.err
    # later commands reuse the cached tokens: no password needed
    no_user = _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url})
    again = run(["jobs", "list", "--json", "--token-cache", str(cache)], no_user)
    assert again.code == 0 and again.json() == [], again
    assert avatar_server.count("POST", "/api/login") == 1
    # a cache others can read is refused
    cache.chmod(0o644)
    loose = run(["jobs", "list", "--token-cache", str(cache)], no_user)
    assert loose.code == 2 and "chmod 600" in loose.err


def test_wrong_password_exit_3(avatar_server: LocalAvatarServer, avatar_user) -> None:  # type: ignore[no-untyped-def]
    env = _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_USERNAME": avatar_user.email})
    result = run(["login", "--password-stdin"], env, stdin="Wrong-Password-999\n")
    assert result.code == 3, result
    assert "Incorrect username or password" in result.err
    assert "Wrong-Password-999" not in result.err + result.out


def test_proxy_flag_goes_through_squid(squid, env: Dict[str, str], avatar_server: LocalAvatarServer) -> None:  # type: ignore[no-untyped-def]
    ok = run(["jobs", "list", "--json", "--proxy", squid.url_with_credentials()], env)
    assert ok.code == 0, ok
    deadline = time.monotonic() + 3
    while not any(f":{avatar_server.port}/api/jobs" in line for line in squid.access_log()):
        assert time.monotonic() < deadline, squid.access_log()
        time.sleep(0.05)
    bad = run(["jobs", "list", "--proxy", squid.url_with_credentials("Bad-Proxy-Pass-1")], env)
    assert bad.code == 5, bad
    assert "407" in bad.err and "Bad-Proxy-Pass-1" not in bad.err


def test_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    result = run(["demo", "--output", str(tmp_path / "demo")], _clean_env(), cwd=tmp_path)
    assert result.code == 0, result
    assert "300 rows in, 300 rows out" in result.out
    assert "hidden_rate" in result.out and "hellinger_distance" in result.out
    assert {p.name for p in (tmp_path / "demo").iterdir()} >= {
        "patients.privacy.json",
        "patients.shuffled.csv",
        "patients.signal.json",
        "patients.unshuffled.csv",
        "report.md",
        "report_pia.report.md",
        "patients.correlation.html",  # and the stand-in's other result files
    }
    assert "local server stopped" in result.err


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        _command() + ["serve", "--port", "0"],
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_serve_prints_a_url_and_a_working_key(serve_process: subprocess.Popen) -> None:
    assert serve_process.stdout is not None
    lines: List[str] = []
    deadline = time.monotonic() + 30
    env_line = ""
    while time.monotonic() < deadline:
        line = serve_process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("AVATAR_BASE_API_URL="):
            env_line = line.strip()
            break
    assert env_line, "".join(lines)
    values = dict(part.split("=", 1) for part in env_line.split())
    result = run(["jobs", "list", "--json"], _clean_env(values))
    assert result.code == 0 and result.json() == [], result
    serve_process.send_signal(signal.SIGTERM)
    assert serve_process.wait(15) == 0
