"""One run of the everyday flow, in its own process, with whichever package
this interpreter imports as ``avatars`` (ours or the platform SDK: the script
uses only names both have).

    python benchmarks/_flow_child.py BASE_URL API_KEY ROWS [every]

Builds a ROWS-row table, then: ``Manager`` with an API key, ``create_runner``,
``add_table`` (upload), ``set_parameters``, ``run`` the standard, privacy and
signal jobs, ``get_all_results``.  With ``every``, ``avatars`` then also
writes every result file of every job to a temporary folder
(``Runner.download_all``): the platform SDK's ``get_all_results`` already
reads every kind of result file it knows (figures, projections...), where
``avatars``' reads the tables and the metrics, the rest on demand.  Prints one JSON line: the flow's wall time
(from the Manager to the last result; building the table and importing are
outside), the process's peak RSS (``VmHWM``, KiB) and which package ran.
"""

from __future__ import annotations

import json
import sys
import time


def peak_rss_kib() -> int:
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main(base_url: str, api_key: str, rows: int, every: bool = False) -> None:
    import pandas as pd

    import avatars
    from avatars.manager import Manager
    from avatars.models import JobKind

    try:
        import avatars.base_client

        package = f"platform SDK {avatars.__version__}"
    except ImportError:
        package = f"avatars {avatars.__version__}"

    table = pd.DataFrame(
        {
            "id": range(rows),
            "age": [18 + (i * 7) % 70 for i in range(rows)],
            "income": [1000.0 + (i * 37) % 5000 for i in range(rows)],
            "city": [("paris", "lyon", "nice", "lille")[i % 4] for i in range(rows)],
            "active": [i % 3 == 0 for i in range(rows)],
        }
    )
    start = time.perf_counter()
    manager = Manager(base_url=base_url, api_key=api_key)
    runner = manager.create_runner(set_name="bench-flow", seed=7)
    runner.add_table("people", table)
    runner.set_parameters("people", k=10)
    runner.run(jobs_to_run=[JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics])
    runner.get_all_results()
    if every and package.startswith("avatars "):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="avatars-bench-every-") as folder:
            runner.download_all(folder)
    seconds = time.perf_counter() - start
    shuffled = runner.shuffled("people")
    if len(shuffled) != rows:
        raise SystemExit(f"{len(shuffled)} avatars for {rows} rows")
    if not runner.privacy_metrics("people") or not runner.signal_metrics("people"):
        raise SystemExit("metrics missing")
    print(json.dumps({"seconds": seconds, "peak_rss_kib": peak_rss_kib(), "package": package}))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[4:] not in ([], ["every"]):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), every=sys.argv[4:] == ["every"])
