"""The client side of the streaming benchmark, run in its own process so that
its peak RSS is its own (the server runs in another process).

    python benchmarks/_stream_client.py upload PATH
    python benchmarks/_stream_client.py download DATASET_ID PATH
    python benchmarks/_stream_client.py download-durable DATASET_ID PATH
    python benchmarks/_stream_client.py idle

The server and the key come from ``AVATAR_BASE_API_URL`` and
``AVATAR_API_KEY``.  With ``AVATARS_BENCH_PROFILE=FILE`` the timed call runs
under ``cProfile`` and its statistics are written to FILE.  Prints one JSON line: the seconds the transfer took
(the call alone, after a warm-up call: not the interpreter start, nor the
first import of the schema layer), the bytes moved, and the
process's peak RSS (``VmHWM`` of /proc/self/status, in KiB).
"""

from __future__ import annotations

import json
import os
import sys
import time


def _vmhwm_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list) -> int:
    profile_to = os.environ.get("AVATARS_BENCH_PROFILE")
    if profile_to:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        status = profiler.runcall(_run, argv)
        with open(profile_to, "w", encoding="utf-8") as out:
            out.write(f"# cProfile of: python benchmarks/_stream_client.py {' '.join(argv)}\n")
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        return status
    return _run(argv)


def _run(argv: list) -> int:
    from avatars import ApiClient, ClientConfig
    from avatars.transfer import open_upload, save_response

    client = ApiClient(config=ClientConfig.from_env())
    mode = argv[0]
    # Warm up: the connection, and the schema layer imported with the first answer
    # loaded, so that the timed call is the transfer alone (as curl's time_total).
    client.health.get_health()
    result: dict = {"mode": mode}
    if mode == "upload":
        path = argv[1]
        start = time.perf_counter()
        # The local server's own data endpoint (the client's datasets facade is on
        # object storage now: benchmarks/bench_storage.py): avatars.transfer's
        # streaming, through ApiClient.request.
        with open_upload(path) as upload:
            response = client.request(
                "POST",
                "datasets/stream",
                params={"filetype": "csv", "name": os.path.basename(path)},
                data=upload.body,
                headers={"Content-Type": "application/octet-stream"},
            )
        dataset = client.decode_json(response)
        result["seconds"] = time.perf_counter() - start
        result["bytes"] = os.path.getsize(path)
        result["dataset_id"] = str(dataset["id"])
        result["hash"] = dataset["hash"]
    elif mode in ("download", "download-durable"):
        dataset_id, path = argv[1], argv[2]
        durable = mode == "download-durable"
        start = time.perf_counter()
        response = client.request("GET", f"datasets/{dataset_id}/download/stream", stream=True)
        downloaded = save_response(response, path, durable=durable)
        result["seconds"] = time.perf_counter() - start
        result["bytes"] = downloaded.bytes_written
        result["hash"] = downloaded.sha256
    elif mode == "idle":
        result["seconds"] = 0.0
        result["bytes"] = 0
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    client.close()
    result["vmhwm_kib"] = _vmhwm_kib()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
