"""The client side of the storage benchmark, in its own process (its peak RSS
is its own; the store runs in another process).

    python benchmarks/_storage_client.py upload ENDPOINT BUCKET KEY PATH PART_MIB WORKERS [unsigned]
    python benchmarks/_storage_client.py download ENDPOINT BUCKET KEY PATH [nochecksum]
    python benchmarks/_storage_client.py idle ENDPOINT

The credentials are given to the client as a ``FileAccess`` (what ``GET
/access`` returns), so that the timed call is the storage transfer alone.
Prints one JSON line: seconds, bytes, and the peak RSS (``VmHWM``, KiB).
"""

from __future__ import annotations

import json
import sys
import time

from _stream_client import _vmhwm_kib


def main(argv: list) -> int:
    from avatars import ApiClient
    from avatars.models import FileAccess, FileCredentials
    from avatars.storage import Location

    mode, endpoint = argv[0], argv[1]
    client = ApiClient("http://127.0.0.1:9/api", api_key="unused", storage_endpoint_url=endpoint)
    if argv[-1] == "unsigned":  # UNSIGNED-PAYLOAD even over http (as curl -T does not hash the file either)
        client.storage.unsigned_payload = True
    result: dict = {"mode": mode, "seconds": 0.0, "bytes": 0}
    if mode != "idle":
        bucket, key, path = argv[2], argv[3], argv[4]
        credentials = FileCredentials("BENCHKEY", "bench-secret")
        location = client.storage.remember(FileAccess(url=f"s3://{bucket}/{key}", credentials=credentials))
        warm = client.storage.remember(FileAccess(url=f"s3://{bucket}/{key}.warm", credentials=credentials))
        assert location == Location(bucket, key)
        # Warm up: the connection and the signer's import (botocore), on a small object.
        client.storage.upload(b"warm-up", warm)
        if mode == "upload":
            part_size, workers = int(argv[5]) * 1024 * 1024, int(argv[6])
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
