"""Figure 4, streaming: upload and download a dataset of 100 MiB and 1 GiB.

The client runs in a child process (``_stream_client.py``), the server in
another (``python -m avatars.testing``), so the client's peak RSS is its own.
A streamed upload of a file and a streamed download of it (avatars.transfer
through ``ApiClient.request``, to the local server's own data endpoint) are
the figures with targets; the download with ``durable=True``
(the same, ``fsync``-ed before the rename) is measured too, for information:
it runs at the disk's speed, which ``curl -o`` never waits for.
``curl`` moves the same file to and from the same server in the same run:

    curl -sS -X POST -T FILE -H 'Authorization: api-key-v1 KEY' \\
         -H 'Content-Type: application/octet-stream' -H 'Expect:' URL
    curl -sS -o FILE -H 'Authorization: api-key-v1 KEY' URL

``-T FILE`` streams the file from disk; ``--data-binary @FILE`` reads it
whole into memory first and fails on 1 GiB ("option --data-binary: out of
memory" with curl 7.88).  ``-H 'Expect:'`` stops curl from waiting up to a
second for a ``100 Continue`` the server never sends, a delay that would
flatter the library.  Throughput is bytes / seconds of the transfer itself: the child
times the library call, curl reports ``time_total``; neither counts a process
start.  The download by the library also hashes the bytes (SHA-256), writes a
temporary file and renames it into place; curl just writes.

Targets: peak RSS of the client process at most 64 MiB whatever the size, and
throughput at least 0.8 times curl's.  Every timed transfer starts after
``os.sync()`` (untimed): the writeback of the previous 1 GiB file would
otherwise slow whichever transfer comes next.  The big files live in a temporary
directory, deleted afterwards; free disk is checked first.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from typing import Any, Dict, List, Tuple

from _common import HERE, PYTHON, ChildResult, Figure, RemoteServer, log, median, run_measured

RSS_TARGET_MIB = 64.0
THROUGHPUT_TARGET = 0.8
MIB = 1024 * 1024


def _make_csv(path: str, size: int) -> None:
    """``size`` bytes of CSV: a header, then a 1 MiB block of rows repeated."""
    rng = random.Random(size)
    rows = ["id,age,height,weight,city"]
    block_rows = []
    length = 0
    while length < MIB:
        height, weight = rng.gauss(170, 10), rng.gauss(70, 12)
        row = f"{len(block_rows)},{rng.randint(18, 90)},{height:.1f},{weight:.1f},city{rng.randint(0, 99)}"
        block_rows.append(row)
        length += len(row) + 1
    block = ("\n".join(block_rows) + "\n").encode("ascii")
    header = ("\n".join(rows) + "\n").encode("ascii")
    with open(path, "wb") as handle:
        handle.write(header)
        left = size - len(header)
        while left > 0:
            chunk = block[:left]
            handle.write(chunk)
            left -= len(chunk)


def _child(server: RemoteServer, *args: str) -> Tuple[Dict[str, Any], ChildResult]:
    env = dict(os.environ)
    env["AVATAR_BASE_API_URL"] = server.base_url
    env["AVATAR_API_KEY"] = server.api_key
    env.pop("AVATAR_BASE_URL", None)
    result = run_measured([PYTHON, os.path.join(HERE, "_stream_client.py"), *args], env=env)
    if result.returncode != 0:
        raise RuntimeError(f"the client child failed: {result.stderr.decode('utf-8', 'replace')[-2000:]}")
    return json.loads(result.stdout.decode().strip().splitlines()[-1]), result


def _curl(argv: List[str]) -> Tuple[float, List[str]]:
    """Run ``curl -sS --fail ARGV``: its ``time_total``, and the lines of the body it printed."""
    out = subprocess.run(
        ["curl", "-sS", "--fail", "-w", "\\n%{time_total}", *argv], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.strip()}")
    lines = out.stdout.strip().splitlines()
    return float(lines[-1]), lines[:-1]


def _curl_upload(server: RemoteServer, path: str) -> Tuple[float, str]:
    url = server.url("datasets/stream") + f"?filetype=csv&name=curl-{os.path.basename(path)}"
    seconds, body = _curl(
        [
            "-X",
            "POST",
            "-T",
            path,
            "-H",
            f"Authorization: api-key-v1 {server.api_key}",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            "Expect:",
            url,
        ]
    )
    return seconds, json.loads(body[0])["id"]


def _curl_download(server: RemoteServer, dataset_id: str, path: str) -> float:
    url = server.url(f"datasets/{dataset_id}/download/stream")
    return _curl(["-o", path, "-H", f"Authorization: api-key-v1 {server.api_key}", url])[0]


def _delete(server: RemoteServer, dataset_id: str) -> None:
    import requests

    requests.delete(
        server.url(f"datasets/{dataset_id}"), headers={"Authorization": f"api-key-v1 {server.api_key}"}, timeout=60
    )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _measure_size(server: RemoteServer, workdir: str, size: int, repeat: int) -> List[Figure]:
    """Upload and download ``size`` bytes ``repeat`` times, library and curl in
    alternating order; each repetition gives one library/curl ratio."""
    label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
    source = os.path.join(workdir, f"source-{size}.csv")
    _make_csv(source, size)
    lib_path = os.path.join(workdir, "lib-download.csv")
    curl_path = os.path.join(workdir, "curl-download.csv")
    seconds: Dict[str, List[float]] = {k: [] for k in ("up-lib", "up-curl", "down-lib", "down-fileobj", "down-curl")}
    rss: Dict[str, List[int]] = {"up-lib": [], "down-lib": [], "down-fileobj": []}

    def lib(kind: str, *args: str) -> Dict[str, Any]:
        info, _ = _child(server, *args)
        seconds[kind].append(info["seconds"])
        rss[kind].append(info["vmhwm_kib"])
        return info

    try:
        for index in range(repeat):
            curl_first = index % 2 == 0
            # Upload: the library and curl, in alternating order.
            _settle()
            if curl_first:
                up_curl, curl_id = _curl_upload(server, source)
                _settle()
            dataset_id = lib("up-lib", "upload", source)["dataset_id"]
            if not curl_first:
                _settle()
                up_curl, curl_id = _curl_upload(server, source)
            seconds["up-curl"].append(up_curl)
            _delete(server, curl_id)
            # Download of the library's upload: to a path (the target), the same with durable=True, and curl.
            steps = ["curl", "lib", "fileobj"] if curl_first else ["lib", "fileobj", "curl"]
            for step in steps:
                _settle()
                if step == "curl":
                    seconds["down-curl"].append(_curl_download(server, dataset_id, curl_path))
                    got = os.path.getsize(curl_path)
                    _unlink(curl_path)
                else:
                    kind, mode = ("down-lib", "download") if step == "lib" else ("down-fileobj", "download-durable")
                    got = lib(kind, mode, dataset_id, lib_path)["bytes"]
                    _unlink(lib_path)
                if got != size:
                    raise RuntimeError(f"{step} downloaded {got} bytes of {size}")
            _delete(server, dataset_id)
    finally:
        for path in (source, lib_path, curl_path):
            _unlink(path)

    def mibps(value: float) -> float:
        return size / MIB / value

    figures = []
    for name, lib_kind, curl_kind, has_target in (
        ("upload", "up-lib", "up-curl", True),
        ("download", "down-lib", "down-curl", True),
        ("download durable=True (fsync)", "down-fileobj", "down-curl", False),
    ):
        ratios = [curl_s / lib_s for lib_s, curl_s in zip(seconds[lib_kind], seconds[curl_kind])]
        ratio = median(ratios)
        lib_tp, curl_tp = mibps(median(seconds[lib_kind])), mibps(median(seconds[curl_kind]))
        log(
            f"{label} {name}: library {', '.join(f'{mibps(t):.0f}' for t in seconds[lib_kind])} MiB/s, "
            f"curl {', '.join(f'{mibps(t):.0f}' for t in seconds[curl_kind])} MiB/s, "
            f"ratios {', '.join(f'{r:.2f}' for r in ratios)}, peak RSS {max(rss[lib_kind]) / 1024:.1f} MiB"
        )
        figures.append(
            Figure(
                bench="streaming",
                name=f"{name} {label}: throughput",
                library=f"{lib_tp:.0f} MiB/s",
                baseline=f"{curl_tp:.0f} MiB/s (curl)",
                ratio=ratio,
                target=f"ratio >= {THROUGHPUT_TARGET}" if has_target else "(info)",
                met=(ratio >= THROUGHPUT_TARGET) if has_target else None,
                notes=f"median of {repeat} paired runs (ratio = curl time / library time)",
                details={"ratios": ratios},
            )
        )
        peak = max(rss[lib_kind]) / 1024
        figures.append(
            Figure(
                bench="streaming",
                name=f"{name} {label}: client peak RSS",
                library=f"{peak:.1f} MiB",
                baseline="",  # filled in by run() with the idle client's RSS
                ratio=None,
                target=f"<= {RSS_TARGET_MIB:g} MiB",
                met=peak <= RSS_TARGET_MIB,
            )
        )
    return figures


def _settle() -> None:
    """Write back every dirty page before a timed transfer (untimed), so that no
    transfer pays for the writeback of the one before it (a 1 GiB file leaves
    up to a GiB of dirty pages that the kernel flushes while the next one runs)."""
    if hasattr(os, "sync"):
        os.sync()


def run(quick: bool) -> List[Figure]:
    sizes = [20 * MIB] if quick else [100 * MIB, 1024 * MIB]
    if shutil.which("curl") is None:
        log("curl is not installed (apt-get install curl): the streaming benchmark is skipped")
        return [
            Figure(
                bench="streaming",
                name="streaming",
                library="skipped",
                baseline="curl not installed",
                ratio=None,
                target="(needs curl)",
                met=None,
            )
        ]
    workdir = tempfile.mkdtemp(prefix="avatars-bench-stream-")
    figures: List[Figure] = []
    try:
        free = shutil.disk_usage(workdir).free
        with RemoteServer() as server:
            idle, _ = _child(server, "idle")
            idle_mib = idle["vmhwm_kib"] / 1024
            log(f"idle client (import, one call): peak RSS {idle_mib:.1f} MiB; free disk {free / 2**30:.1f} GiB")
            for size in sizes:
                needed = 4 * size + 512 * MIB  # source, two stored copies on the server, one download
                if shutil.disk_usage(workdir).free < needed:
                    log(f"skipping {size // MIB} MiB: {needed / 2**30:.1f} GiB of free disk needed")
                    continue
                repeat = 5 if size <= 100 * MIB else 3
                for figure in _measure_size(server, workdir, size, repeat):
                    if not figure.baseline:
                        figure.baseline = f"{idle_mib:.1f} MiB (idle client)"
                    figures.append(figure)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def _profile_download(size_mib: int, out_path: str) -> None:
    """Profile one streamed download to a path of ``size_mib`` MiB (the whole
    child process, warm-up call included) into ``out_path``."""
    workdir = tempfile.mkdtemp(prefix="avatars-bench-stream-")
    try:
        with RemoteServer() as server:
            source = os.path.join(workdir, "source.csv")
            _make_csv(source, size_mib * MIB)
            dataset_id = _child(server, "upload", source)[0]["dataset_id"]
            _unlink(source)
            os.environ["AVATARS_BENCH_PROFILE"] = os.path.abspath(out_path)
            try:
                info, _ = _child(server, "download", dataset_id, os.path.join(workdir, "download.csv"))
            finally:
                del os.environ["AVATARS_BENCH_PROFILE"]
            print(f"downloaded {info['bytes']} bytes in {info['seconds']:.2f} s; profile in {out_path}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "--profile-download":
        _profile_download(int(sys.argv[2]), sys.argv[3])
    else:
        print("usage: python benchmarks/bench_streaming.py --profile-download SIZE_MIB OUT_FILE")
