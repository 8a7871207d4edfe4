"""The client side of the storage benchmark, in its own process (its peak RSS
is its own; the server and its store run in another process).

    python benchmarks/_storage_client.py upload KEY PATH PART_MIB WORKERS [unsigned]
    python benchmarks/_storage_client.py download KEY PATH [nochecksum]
    python benchmarks/_storage_client.py idle

The server and the API key come from ``AVATAR_BASE_API_URL`` and
``AVATAR_API_KEY``; ``KEY`` is in the caller's prefix (``GET /upload_url``).
Before the timed call the client fetches the credentials for the object
(``GET /access``) and warms up its connection and signer with a small upload,
so that the timed call is the storage transfer alone.
Prints one JSON line: seconds, bytes, and the peak RSS (``VmHWM``, KiB).
"""

from __future__ import annotations

import json
import sys
import time


def _vmhwm_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list) -> int:
    from avatars import ApiClient, ClientConfig

    mode = argv[0]
    client = ApiClient(config=ClientConfig.from_env())
    if argv[-1] == "unsigned":  # UNSIGNED-PAYLOAD even over http (as curl -T does not hash the file either)
        client.storage.unsigned_payload = True
    result: dict = {"mode": mode, "seconds": 0.0, "bytes": 0}
    if mode != "idle":
        key, path = argv[1], argv[2]
        # Warm up: the connection, the signer's import (botocore), the credentials (GET /access).
        client.datasets.upload(b"warm-up", f"{key}.warm")
        location = client.storage.access(f"{client.storage.upload_prefix()}/{key}")
        if mode == "upload":
            part_size, workers = int(argv[3]) * 1024 * 1024, int(argv[4])
            start = time.perf_counter()
            uploaded = client.storage.upload(path, location, part_size=part_size, max_concurrency=workers)
            result["seconds"] = time.perf_counter() - start
            result["bytes"] = uploaded.size
            result["parts"] = uploaded.parts
        elif mode == "download":
            start = time.perf_counter()
            downloaded = client.storage.download(location, path, checksum=argv[-1] != "nochecksum")
            result["seconds"] = time.perf_counter() - start
            result["bytes"] = downloaded.bytes_written  # type: ignore[union-attr]
            result["sha256"] = downloaded.sha256  # type: ignore[union-attr]
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    client.close()
    result["vmhwm_kib"] = _vmhwm_kib()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
