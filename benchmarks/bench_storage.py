"""Object storage: the client's uploads and downloads against ``curl --aws-sigv4``.

The store is ``moto``'s S3 server in its own process (path-style, on
loopback).  For each size, in the same run and against the same store:

* upload of a file: ``client.storage.upload(path)`` as one PUT (a part size
  above the file's: what curl does), as a stream of 16 MiB parts (the
  default), with 4 parts in parallel, and ``curl --aws-sigv4 -T file`` (one
  PUT).  A multipart upload also costs the store (moto joins the parts in
  Python when the upload completes), hence the like-for-like single PUT.  ``curl -T`` does not hash the file
  (it signs without an ``x-amz-content-sha256``), so the compared client runs
  send ``UNSIGNED-PAYLOAD`` too (what the client does by default over https);
  the default over plain http, hashing every part, is shown for information;
* download to a path: ``client.storage.download(location, path)`` (temporary
  file, rename) and ``curl --aws-sigv4 -o file``.  curl computes no checksum,
  so the compared run passes ``checksum=False``; the default, with the
  SHA-256 computed in a helper thread, is shown for information;
* the client's peak RSS (``VmHWM``) in each case, in its own process.

Rounds alternate client and curl; the median counts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

import requests
from _common import PYTHON, Figure, log, median, run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024
BUCKET = "bench"
TARGET_RATIO = 0.9
TARGET_RSS_MIB = 64


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoProcess:
    """``python -m moto.server`` on a free loopback port."""

    def __enter__(self) -> MotoProcess:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        requests.put(f"{self.endpoint}/{BUCKET}", timeout=10).raise_for_status()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def _client(*args: str) -> Dict[str, Any]:
    result = run_measured([PYTHON, os.path.join(HERE, "_storage_client.py"), *args])
    if result.returncode != 0:
        raise RuntimeError(f"storage client failed: {result.stderr.decode(errors='replace')[-2000:]}")
    data: Dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return data


def _curl(args: List[str]) -> float:
    command = ["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "BENCHKEY:bench-secret"]
    out = subprocess.run(command + args + ["-w", "%{time_total}"], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _mibs(size: int, seconds: float) -> float:
    return size / MIB / seconds


def _measure(store: MotoProcess, workdir: str, size: int, repeat: int) -> List[Figure]:
    source = os.path.join(workdir, "source.bin")
    with open(source, "wb") as handle:
        block = os.urandom(MIB)
        for _ in range(size // MIB):
            handle.write(block)
    label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
    runs = ["up-put", "up-1", "up-4", "up-hashed", "down", "down-sha"]
    times: Dict[str, List[float]] = {name: [] for name in [*runs, "up-curl", "down-curl"]}
    rss: Dict[str, List[float]] = {name: [] for name in runs}
    key = f"obj-{size}"
    url = f"{store.endpoint}/{BUCKET}/{key}"
    target = os.path.join(workdir, "target.bin")
    for _ in range(repeat):
        whole = str(size // MIB + 1)
        for name, part, workers, signing in (
            ("up-put", whole, "1", "unsigned"),
            ("up-1", "16", "1", "unsigned"),
            ("up-4", "16", "4", "unsigned"),
            ("up-hashed", "16", "1", ""),
        ):
            os.sync()
            data = _client("upload", store.endpoint, BUCKET, key, source, part, workers, signing)
            times[name].append(data["seconds"])
            rss[name].append(data["vmhwm_kib"] / 1024)
        os.sync()
        times["up-curl"].append(_curl(["-T", source, url, "-o", os.devnull]))
        for name, checksum in (("down", "nochecksum"), ("down-sha", "")):
            os.sync()
            data = _client("download", store.endpoint, BUCKET, key, target, checksum)
            assert data["bytes"] == size
            times[name].append(data["seconds"])
            rss[name].append(data["vmhwm_kib"] / 1024)
            os.unlink(target)
        os.sync()
        times["down-curl"].append(_curl([url, "-o", target]))
        os.unlink(target)
    os.unlink(source)
    med = {name: median(values) for name, values in times.items()}
    figures = []
    for name, title, baseline, target_text in (
        ("up-put", f"upload {label}, one PUT: throughput", "up-curl", f">= {TARGET_RATIO}x curl"),
        ("up-1", f"upload {label}, 16 MiB parts: throughput", "up-curl", "(info)"),
        ("up-4", f"upload {label}, 4 parts in parallel: throughput", "up-curl", "(info)"),
        ("up-hashed", f"upload {label}, parts hashed (http default): throughput", "up-curl", "(info)"),
        ("down", f"download {label} to a path: throughput", "down-curl", f">= {TARGET_RATIO}x curl"),
        ("down-sha", f"download {label} to a path with SHA-256: throughput", "down-curl", "(info)"),
    ):
        ratio = med[baseline] / med[name]
        figures.append(
            Figure(
                bench="storage",
                name=title,
                library=f"{_mibs(size, med[name]):.0f} MiB/s",
                baseline=f"{_mibs(size, med[baseline]):.0f} MiB/s (curl)",
                ratio=ratio,
                target=target_text,
                met=None if target_text == "(info)" else ratio >= TARGET_RATIO,
            )
        )
    for name, title in (
        ("up-put", "upload, one PUT,"),
        ("up-1", "upload, 16 MiB parts,"),
        ("up-4", "upload, 4 parallel parts,"),
        ("down", "download"),
        ("down-sha", "download with SHA-256,"),
    ):
        peak = max(rss[name])
        figures.append(
            Figure(
                bench="storage",
                name=f"{title} {label}: client peak RSS",
                library=f"{peak:.1f} MiB",
                baseline="",
                ratio=None,
                target=f"<= {TARGET_RSS_MIB} MiB",
                met=peak <= TARGET_RSS_MIB,
            )
        )
    return figures


def run(quick: bool) -> List[Figure]:
    sizes = [32 * MIB] if quick else [100 * MIB, 1024 * MIB]
    if shutil.which("curl") is None:
        log("curl is not installed: the storage benchmark is skipped")
        return [Figure("storage", "storage", "skipped", "curl not installed", None, "(needs curl)", None)]
    try:
        import moto  # noqa: F401
    except ImportError:
        log("moto is not installed (pip install 'moto[server]'): the storage benchmark is skipped")
        return [Figure("storage", "storage", "skipped", "moto not installed", None, "(needs moto)", None)]
    workdir = tempfile.mkdtemp(prefix="avatars-bench-storage-")
    figures: List[Figure] = []
    try:
        with MotoProcess() as store:
            idle = _client("idle", store.endpoint)
            log(f"idle client: peak RSS {idle['vmhwm_kib'] / 1024:.1f} MiB")
            for size in sizes:
                if shutil.disk_usage(workdir).free < 3 * size + 512 * MIB:
                    log(f"skipping {size // MIB} MiB: not enough free disk")
                    continue
                repeat = 1 if quick else (3 if size <= 100 * MIB else 2)
                figures.extend(_measure(store, workdir, size, repeat))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(figure)
