"""Object storage: the client's uploads and downloads against ``curl --aws-sigv4``.

The store is the local server's (``python -m avatars.testing``, what
``avatars serve`` runs) in its own process: path-style on loopback at
``<server>/storage``, SigV4 checked against the credentials ``GET /access``
issued.  For each size, in the same run and against the same store:

* upload of a file: ``client.storage.upload(path)`` as one PUT (a part size
  above the file's: what curl does), as a stream of 16 MiB parts (the
  default), with 4 parts in parallel, and ``curl --aws-sigv4 -T file`` (one
  PUT).  A multipart upload also costs the store (it joins the parts into
  one file when the upload completes), hence the like-for-like single PUT.
  ``curl -T`` does not hash the file (it is told
  ``x-amz-content-sha256: UNSIGNED-PAYLOAD``, which S3 wants on every
  header-signed request and curl 7.88 does not send by itself), so the
  compared client runs send ``UNSIGNED-PAYLOAD`` too (what the client does by
  default over https); the default over plain http, hashing every part, is
  shown for information;
* download to a path: ``client.storage.download(location, path)`` (temporary
  file, rename) and ``curl --aws-sigv4 -o file``.  curl computes no checksum,
  so the compared run passes ``checksum=False``; the default, with the
  SHA-256 computed in a helper thread, is shown for information;
* the client's peak RSS (``VmHWM``) in each case, in its own process.

Each upload creates its object anew (the previous one is deleted and the
disk synced first); after one unmeasured pass, each round runs the compared
client run and curl's back to back, curl second in one round and first in
the next, so that both run in the same conditions; the median of the rounds
counts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Tuple

from _common import PYTHON, Figure, RemoteServer, log, median, run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024
TARGET_RATIO = 0.9
TARGET_RSS_MIB = 64


class Store:
    """The local server in its own process, and credentials from its ``GET /access``."""

    def __init__(self, server: RemoteServer) -> None:
        self.server = server
        self.endpoint = server.base_url[: -len("/api")] + "/storage"
        api = server.bare_session()
        self.prefix = api.get(server.url("upload_url"), timeout=30).json()
        api.close()

    def credentials(self, key: str) -> Tuple[str, str]:
        """Credentials for ``<prefix>/<key>`` (what curl signs with)."""
        api = self.server.bare_session()
        try:
            grant = api.get(self.server.url("access"), params={"url": f"{self.prefix}/{key}"}, timeout=30).json()
        finally:
            api.close()
        return grant["credentials"]["access_key_id"], grant["credentials"]["secret_access_key"]

    def url(self, key: str) -> str:
        return f"{self.endpoint}/{self.prefix[len('s3://') :]}/{key}"


def _client(store: Store, *args: str) -> Dict[str, Any]:
    env = dict(os.environ, AVATAR_BASE_API_URL=store.server.base_url, AVATAR_API_KEY=store.server.api_key)
    env.pop("AVATAR_STORAGE_ENDPOINT_URL", None)
    result = run_measured([PYTHON, os.path.join(HERE, "_storage_client.py"), *args], env=env)
    if result.returncode != 0:
        raise RuntimeError(f"storage client failed: {result.stderr.decode(errors='replace')[-2000:]}")
    data: Dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return data


def _curl(credentials: Tuple[str, str], args: List[str]) -> float:
    command = ["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", ":".join(credentials)]
    # S3 wants x-amz-content-sha256 on every header-signed request; curl 7.x sends it only when asked.
    # No waiting for a "100 Continue" (an empty "Expect:" header would be signed, and refused as absent).
    command += ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--expect100-timeout", "0.001"]
    out = subprocess.run(command + args + ["-w", "%{time_total}"], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _mibs(size: int, seconds: float) -> float:
    return size / MIB / seconds


def _measure(store: Store, workdir: str, size: int, repeat: int) -> List[Figure]:
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
    url = store.url(key)
    credentials = store.credentials(key)
    target = os.path.join(workdir, "target.bin")
    whole = str(size // MIB + 1)
    uploads = [
        ("up-put", whole, "1", "unsigned"),
        ("up-1", "16", "1", "unsigned"),
        ("up-4", "16", "4", "unsigned"),
        ("up-hashed", "16", "1", ""),
        ("up-curl", "", "", ""),
    ]
    downloads = [("down", "nochecksum"), ("down-sha", ""), ("down-curl", "")]

    def upload(name: str, part: str, workers: str, signing: str) -> None:
        # Every upload creates the object anew: replacing one written (and
        # synced) just before made whichever run came next up to 40 % slower
        # on this machine's disk, client and curl alike.
        _curl(credentials, ["-X", "DELETE", url, "-o", os.devnull])
        os.sync()
        if name == "up-curl":
            times[name].append(_curl(credentials, ["-T", source, url, "-o", os.devnull]))
            return
        data = _client(store, "upload", key, source, part, workers, signing)
        times[name].append(data["seconds"])
        rss[name].append(data["vmhwm_kib"] / 1024)

    def download(name: str, checksum: str) -> None:
        os.sync()
        if name == "down-curl":
            times[name].append(_curl(credentials, [url, "-o", target]))
        else:
            data = _client(store, "download", key, target, checksum)
            assert data["bytes"] == size
            times[name].append(data["seconds"])
            rss[name].append(data["vmhwm_kib"] / 1024)
        os.unlink(target)

    # One unmeasured pass first: the first write after the source file was
    # made ran up to twice as slow as the same write later, whoever made it.
    for run in (uploads[0], uploads[-1]):
        upload(*run)
    for run in (downloads[0], downloads[-1]):
        download(*run)
    for name in times:
        times[name].clear()
    for name in rss:
        rss[name].clear()
    for round_number in range(repeat):
        # The compared pair (the client's one PUT and curl's, the client's
        # download without checksum and curl's) runs back to back, curl second
        # in even rounds and first in odd ones; the other variants follow.
        flip = round_number % 2 == 1
        up_pair = [uploads[0], uploads[-1]][:: -1 if flip else 1]
        for run in up_pair + uploads[1:-1]:
            upload(*run)
        down_pair = [downloads[0], downloads[-1]][:: -1 if flip else 1]
        for run in down_pair + downloads[1:-1]:
            download(*run)
    os.unlink(source)
    med = {name: median(values) for name, values in times.items()}
    for name, values in times.items():
        log(f"{label} {name}: " + ", ".join(f"{_mibs(size, seconds):.0f}" for seconds in values) + " MiB/s")
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
    workdir = tempfile.mkdtemp(prefix="avatars-bench-storage-")
    figures: List[Figure] = []
    try:
        with RemoteServer() as server:
            store = Store(server)
            idle = _client(store, "idle")
            log(f"idle client: peak RSS {idle['vmhwm_kib'] / 1024:.1f} MiB")
            for size in sizes:
                if shutil.disk_usage(workdir).free < 3 * size + 512 * MIB:
                    log(f"skipping {size // MIB} MiB: not enough free disk")
                    continue
                repeat = 1 if quick else 4
                figures.extend(_measure(store, workdir, size, repeat))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(figure)
