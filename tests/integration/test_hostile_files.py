"""Files a hostile or broken server can make a client write, over real sockets.

The local server's fault injection plays a hostile server: ``GET /results/{job}``
answers with hostile names, as the platform lists result files
(``<base>/access?url=s3://...``), pointing at real objects of the server's
store; the server's own ``GET /access`` grants them and its store serves them
(SigV4 checked).  The ``avatars`` command runs as a subprocess (as in
test_cli.py), the library in process.
"""

from __future__ import annotations

import gzip
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import uuid
import zlib
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence
from urllib.parse import quote

import pytest

from avatars import ApiClient, Manager
from avatars.errors import (
    DecompressionLimitError,
    DiskFullError,
    LocalFileError,
    RequestValidationError,
    UnsafeFileNameError,
)
from avatars.models import JobResponse
from avatars.resources.results import download_result_files
from avatars.testing import LocalAvatarServer
from avatars.transfer import DecompressionLimit

from .conftest import TIMEOUT
from .test_cli import Result, _clean_env, _command

pytestmark = pytest.mark.integration

STORE_PATHS = "*/avatars/*"


def serve_results(
    server: LocalAvatarServer,
    listing: Mapping[str, List[str]],
    bodies: Sequence[bytes],
    *,
    count: int = 1,
) -> Dict[str, List[str]]:
    """Put ``bodies`` (in order) in the store at the keys ``listing`` names, under
    the prefix of the server's only user, and make the next ``count``
    ``GET /results/*`` list them as the platform does; the listing served.

    A key is taken as it is (``%1b`` stays three characters in the key, and is
    what a client percent-decodes into a file name)."""
    base = f"users/{_only_user(server)}/hostile-{uuid.uuid4().hex[:8]}"
    answer: Dict[str, List[str]] = {}
    index = 0
    for kind, keys in listing.items():
        answer[kind] = []
        for key in keys:
            full = f"{base}/{index}/{key}"
            server.store.objects.put_bytes("avatars", full, bodies[index])
            answer[kind].append(f"{server.base_url}/access?url=" + quote(f"s3://avatars/{full}", safe=":/"))
            index += 1
    assert index == len(bodies)
    server.faults.status_code("GET", "/api/results/*", 200, answer, count=count)
    return answer


def _only_user(server: LocalAvatarServer) -> str:
    with server.store.lock:
        (user_id,) = list(server.store.users)
    return str(user_id)


def run_cli(args: List[str], env: Dict[str, str], *, cwd: Optional[Path] = None, preexec: object = None) -> Result:
    proc = subprocess.run(
        _command() + args,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        preexec_fn=preexec,  # type: ignore[arg-type]
    )
    return Result(proc)


@pytest.fixture
def env(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Dict[str, str]:
    return _clean_env({"AVATAR_BASE_API_URL": avatar_server.base_url, "AVATAR_API_KEY": avatar_api_key})


def tree(root: Path) -> List[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


HOSTILE = {
    "../../x": ["%2e%2e"],  # no usable last segment: the kind names the file
    "/tmp/avatars-abs-evil": ["%2e%2e"],
    "nul\u0000kind": ["%2e%2e"],
    "dup": ["a/t.csv", "b/t.csv", "c/T.CSV"],
    "long": ["x" * 300 + ".csv"],
    "escape": ["%1b%5d0%3bpwned%07%2e%2e.csv"],
    "dots": ["..%2F..%2F..%2Fetc%2Fpasswd"],
}
HOSTILE_COUNT = sum(len(v) for v in HOSTILE.values())


def test_cli_results_download_keeps_every_hostile_name_inside(
    env: Dict[str, str], avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    bodies = [f"file {i}\n".encode() for i in range(HOSTILE_COUNT)]
    serve_results(avatar_server, HOSTILE, bodies)
    result = run_cli(["results", "download", "job-1", "out", "--json", "--quiet"], env, cwd=work)
    assert result.code == 0, result
    assert "Traceback" not in result.err
    out = (work / "out").resolve()
    written = [Path(p) for p in result.json()["files"]]  # type: ignore[index]
    assert len(written) == HOSTILE_COUNT == len(set(written))  # no file overwrote another
    for path in written:
        assert path.parent == out
        assert len(path.name.encode()) <= 200
        assert not any(ord(c) < 32 or c in "/\\" for c in path.name)
    # every body landed in its own file, in order, and nothing was written anywhere else
    assert [p.read_bytes() for p in written] == bodies
    gets = avatar_server.storage_log.entries("GET")  # each one a signed read of a real object
    assert len(gets) == HOSTILE_COUNT and all(r.status == 200 and r.auth_scheme == "AWS4-HMAC-SHA256" for r in gets)
    assert tree(tmp_path) == sorted(["a", "a/b", "a/b/c", "a/b/c/out"] + [f"a/b/c/out/{p.name}" for p in written])
    assert not Path("/tmp/avatars-abs-evil").exists() and not Path("/tmp/avatars-abs-evil-0").exists()
    assert [p.name for p in written] == [
        "_.._x-0",
        "_tmp_avatars-abs-evil-0",
        "nul_kind-0",
        "t.csv",
        "t-2.csv",
        "T-3.CSV",
        "x" * 196 + ".csv",
        "_]0;pwned_...csv",
        "passwd",  # decoded, then cut at its last separator
    ]


def test_library_batch_download_is_the_same_road(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    bodies = [f"file {i}\n".encode() for i in range(HOSTILE_COUNT)]
    serve_results(avatar_server, HOSTILE, bodies)
    results = client.results.get_results("job-1")
    folder = tmp_path / "out"
    saved = download_result_files(client.results, [(url, name) for _, url, name in results.files()], folder)
    assert [p.read_bytes() for _, p in saved] == bodies
    assert {p.parent for _, p in saved} == {folder.resolve()}
    assert tree(tmp_path) == sorted(["out"] + [f"out/{p.name}" for _, p in saved])


def test_a_symlink_leading_out_is_refused_before_any_download(
    env: Dict[str, str], avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside / "victim.csv", out / "t.csv")
    serve_results(avatar_server, {"shuffled": ["t.csv"]}, [b"evil"])
    result = run_cli(["results", "download", "job-1", str(out), "--json"], env)
    assert result.code == 6, result
    assert "Traceback" not in result.err
    error = [line for line in result.out.splitlines() if line.startswith("{")][-1]
    assert '"UnsafeFileNameError"' in error
    assert not (outside / "victim.csv").exists()


def test_cli_prints_server_text_without_terminal_controls(
    env: Dict[str, str], avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    evil = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\r\x9bX\u202eevil\x08"
    job = {
        "name": "job-" + evil,
        "set_name": "00000000-0000-0000-0000-000000000001",
        "parameters_name": "p",
        "display_name": "d" + evil,
        "created_at": "2026-01-01T00:00:00+00:00",
        "kind": "standard",
        "status": "error",
        "exception": "boom " + evil + "\nline two",
        "done": True,
        "progress": 0.5,
        "depends_on": [],
    }
    avatar_server.faults.status_code("GET", "/api/jobs/*", 200, job, count=2)
    human = run_cli(["jobs", "status", "job-1"], env)
    assert human.code == 0, human
    for control in ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x08"):
        assert control not in human.out, repr(human.out)
    assert "\\x1b]0;pwned\\x07" in human.out and "line two" in human.out  # shown, not obeyed
    as_json = run_cli(["jobs", "status", "job-1", "--json"], env)
    assert as_json.code == 0, as_json
    assert "\x1b" not in as_json.out and "\x9b" not in as_json.out
    assert as_json.json()["exception"] == "boom " + evil + "\nline two"  # type: ignore[index]

    avatar_server.faults.status_code("GET", "/api/jobs/*", 404, {"detail": "gone " + evil}, count=2)
    failed = run_cli(["jobs", "status", "job-1"], env)
    assert failed.code == 1, failed
    assert "gone" in failed.err and "\x1b" not in failed.err and "\r" not in failed.err
    failed_json = run_cli(["jobs", "status", "job-1", "--json"], env)
    assert "\x1b" not in failed_json.out and "\\u001b" in failed_json.out

    serve_results(avatar_server, {"k": ["%1b%5b2J.csv"]}, [b"x"])
    listing = run_cli(["results", "download", "job-1", str(tmp_path / "o")], env)
    assert listing.code == 0, listing
    assert "\x1b" not in listing.out + listing.err


# --------------------------------------------------------------------------- full disk


def _tmpfs(path: Path) -> Iterator[Path]:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs (the RLIMIT_FSIZE test covers the rest)")
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs)."""
    yield from _tmpfs(tmp_path / "small")


def test_cli_disk_full_is_a_local_error(
    env: Dict[str, str], avatar_server: LocalAvatarServer, small_disk: Path
) -> None:
    serve_results(avatar_server, {"shuffled": ["big.csv"]}, [os.urandom(3 * 1024 * 1024)])
    result = run_cli(["results", "download", "job-1", str(small_disk)], env)
    assert result.code == 6, result  # local error, not the API-error code
    assert "Traceback" not in result.err
    assert "No space left" in result.err and str(small_disk / "big.csv") in result.err
    assert os.listdir(small_disk) == []  # no partial file, no temporary file


def test_library_disk_full_is_typed(client: ApiClient, avatar_server: LocalAvatarServer, small_disk: Path) -> None:
    avatar_server.faults.status_code("GET", "/api/blob", 200, os.urandom(3 * 1024 * 1024))
    with pytest.raises(DiskFullError) as info:
        client.results.download_url(f"{avatar_server.base_url}/blob", small_disk / "big.bin")
    assert isinstance(info.value, OSError) and info.value.path == str(small_disk / "big.bin")
    assert os.listdir(small_disk) == []


def _limit_file_size() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_cli_file_size_limit_is_a_local_error(
    env: Dict[str, str], avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    serve_results(avatar_server, {"shuffled": ["big.csv"]}, [os.urandom(2 * 1024 * 1024)])
    out = tmp_path / "out"
    result = run_cli(["results", "download", "job-1", str(out)], env, preexec=_limit_file_size)
    assert result.code == 6, result
    assert "Traceback" not in result.err and "File too large" in result.err and "big.csv" in result.err
    assert os.listdir(out) == []


# --------------------------------------------------------------------------- decompression bomb


def test_cli_saves_a_gzip_encoded_object_as_stored(
    env: Dict[str, str], avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    """An object store answers an object's bytes as stored, whatever its
    ``Content-Encoding`` (as S3 and boto3 do): a result file is saved as it is,
    never inflated, so a gzip bomb in the store stays 64 KiB on disk.  (The
    decompression bound of direct downloads is the next test.)"""
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB on the wire
    serve_results(avatar_server, {"shuffled": ["t.csv"]}, [bomb])
    avatar_server.faults.status_code("GET", STORE_PATHS, 200, bomb, headers={"Content-Encoding": "gzip"})
    out = tmp_path / "out"
    result = run_cli(["results", "download", "job-1", str(out), "--json"], env)
    assert result.code == 0, result
    assert (out / "t.csv").read_bytes() == bomb and os.listdir(out) == ["t.csv"]
    assert avatar_server.storage_log.last("GET").fault is not None  # the store's answer was the encoded one


def test_library_decompression_bound_and_override(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    text = b"".join(b"%d,patient,%d\n" % (i, i * 7) for i in range(200_000))  # ~3.6 MiB, compresses ~8:1
    url = f"{avatar_server.base_url}/blob"
    target = tmp_path / "t.csv"
    for encoded in (gzip.compress(text), gzip.compress(text[:1000]) + gzip.compress(text[1000:]), zlib.compress(text)):
        encoding = "deflate" if encoded[:1] == b"x" else "gzip"
        avatar_server.faults.status_code("GET", "/api/blob", 200, encoded, headers={"Content-Encoding": encoding})
        result = client.results.download_url(url, target)
        assert target.read_bytes() == text and result.bytes_written == len(text)
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = raw_deflate.compress(text) + raw_deflate.flush()
    avatar_server.faults.status_code("GET", "/api/blob", 200, body, headers={"Content-Encoding": "deflate"})
    client.results.download_url(url, target)
    assert target.read_bytes() == text

    # a tighter bound refuses the same body, leaves the earlier file untouched and no temporary file
    avatar_server.faults.status_code("GET", "/api/blob", 200, gzip.compress(text), headers={"Content-Encoding": "gzip"})
    with pytest.raises(DecompressionLimitError, match="4:1"):
        client.results.download_url(url, target, decompression_limit=DecompressionLimit(ratio=4, allowance=0))
    assert target.read_bytes() == text and tree(tmp_path) == ["t.csv"]

    # the default lets 64 MiB of zeros (1000:1) through only when lifted
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    avatar_server.faults.status_code("GET", "/api/blob", 200, bomb, headers={"Content-Encoding": "gzip"}, count=2)
    with pytest.raises(DecompressionLimitError):
        client.results.download_url(url, tmp_path / "bomb")
    assert tree(tmp_path) == ["t.csv"]
    assert client.results.download_url(url, tmp_path / "bomb", decompression_limit=None).bytes_written == 64 << 20

    avatar_server.faults.status_code("GET", "/api/blob", 200, b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(Exception) as corrupt:
        client.results.download_url(url, tmp_path / "corrupt")
    assert type(corrupt.value).__name__ == "ResponseDecodeError" and not (tmp_path / "corrupt").exists()


# --------------------------------------------------------------------------- modes and links


def test_download_keeps_the_mode_of_an_existing_file(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    target = tmp_path / "secret.csv"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    avatar_server.faults.status_code("GET", "/api/blob", 200, b"new content")
    client.results.download_url(f"{avatar_server.base_url}/blob", target)
    assert target.read_bytes() == b"new content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_new_file_gets_the_umask_mode(client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        avatar_server.faults.status_code("GET", "/api/blob", 200, b"data")
        client.results.download_url(f"{avatar_server.base_url}/blob", tmp_path / "new.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640


def test_a_symlink_destination_is_written_through(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    real_dir = tmp_path / "data"
    real_dir.mkdir()
    real = real_dir / "real.csv"
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    link = link_dir / "link.csv"
    os.symlink(real, link)
    avatar_server.faults.status_code("GET", "/api/blob", 200, b"through the link", count=2)
    client.results.download_url(f"{avatar_server.base_url}/blob", link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"through the link" and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(os.listdir(real_dir)) == ["real.csv"] and os.listdir(link_dir) == ["link.csv"]
    # a dangling link creates its target
    dangling = link_dir / "dangling.csv"
    os.symlink(real_dir / "created.csv", dangling)
    client.results.download_url(f"{avatar_server.base_url}/blob", dangling)
    assert dangling.is_symlink() and (real_dir / "created.csv").read_bytes() == b"through the link"


def test_a_fifo_destination_is_written_in_place(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: List[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    avatar_server.faults.status_code("GET", "/api/blob", 200, b"into the pipe")
    client.results.download_url(f"{avatar_server.base_url}/blob", fifo)
    reader.join(timeout=TIMEOUT[1])
    assert received == [b"into the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_local_failures_are_typed(client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path) -> None:
    url = f"{avatar_server.base_url}/blob"
    avatar_server.faults.status_code("GET", "/api/blob", 200, b"x", count=3)
    with pytest.raises(LocalFileError) as too_long:
        client.results.download_url(url, tmp_path / ("n" * 300))
    assert too_long.value.path is not None and too_long.value.errno is not None
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(LocalFileError):
            client.results.download_url(url, locked / "f")
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path))
    with pytest.raises(RequestValidationError):
        download_result_files(client.results, [(url, "x")], tmp_path / "f\0")


def test_runner_download_all_one_batch_across_jobs(
    avatar_manager: Manager, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    class Labels:
        def __init__(self) -> None:
            self.labels: List[str] = []

        def on_bytes(self, label: str, done: int, total: Optional[int]) -> None:
            if label not in self.labels:
                self.labels.append(label)

        def on_job(self, job: JobResponse) -> None:
            return None

    recorder = Labels()
    runner = avatar_manager.create_runner("hostile", seed=1, progress=recorder)
    runner.add_table("pts", [{"id": i, "x": float(i % 5)} for i in range(30)])
    runner.set_parameters("pts", k=3)
    jobs = runner.run()
    runner.wait(timeout=120)
    bodies = [f"body {i}".encode() for i in range(2 * len(jobs))]
    for number in range(len(jobs)):  # one listing per job, each its own objects
        listing = {"../../x": ["%2e%2e"], "shuffled": ["t.csv"]}
        serve_results(avatar_server, listing, bodies[2 * number : 2 * number + 2])
    work = tmp_path / "deep" / "er"
    written = runner.download_all(work)
    assert len(written) == len(bodies)  # every job's files kept, none overwritten
    assert sorted(p.read_bytes() for p in written.values()) == sorted(bodies)
    assert {p.parent for p in written.values()} == {work.resolve()}
    assert tree(tmp_path) == sorted(["deep", "deep/er"] + [f"deep/er/{name}" for name in written])
    # the first job keeps the names; later jobs' same names get their parameters name in front
    assert {"_.._x-0", "t.csv", "privacy_metrics..._.._x-0", "privacy_metrics.t.csv"} <= set(written)
    assert [label for label in recorder.labels if label.startswith("download ")] == [
        f"download {name}" for name in written
    ]


def test_a_link_planted_during_the_batch_is_refused(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "out"

    class PlantLink:  # when the first file is done, put a link where the second will go
        def on_bytes(self, label: str, done: int, total: Optional[int]) -> None:
            if label == "download a.csv" and total is not None and done == total:
                os.symlink(outside / "victim", folder / "b.csv")

        def on_job(self, job: JobResponse) -> None:
            return None

    serve_results(avatar_server, {"k": ["a.csv", "b.csv"]}, [b"first", b"second"])
    files = [(url, name) for _, url, name in client.results.get_results("job-1").files()]
    with pytest.raises(UnsafeFileNameError):
        download_result_files(client.results, files, folder, progress=PlantLink())
    assert (folder / "a.csv").read_bytes() == b"first" and not (outside / "victim").exists()


def test_runner_download_report_makes_the_servers_name_safe(
    avatar_manager: Manager, avatar_server: LocalAvatarServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = avatar_manager.create_runner("hostile-report", seed=1)
    runner.add_table("pts", [{"id": i, "x": float(i % 5)} for i in range(30)])
    runner.set_parameters("pts", k=3)
    runner.run(jobs_to_run=["standard", "privacy_metrics", "signal_metrics", "report"])
    runner.wait(timeout=120)
    # without a path, the report is written under the name the server gives it
    serve_results(avatar_server, {"report": ["..%2Frep%00ort%1b.md"]}, [b"the report"])
    monkeypatch.chdir(tmp_path)
    [written] = runner.download_report()
    assert written == Path("rep_ort_.md") and (tmp_path / "rep_ort_.md").read_bytes() == b"the report"
    assert tree(tmp_path) == ["rep_ort_.md"]
