"""The platform's quick start, unchanged, against ``avatars serve``.

The body of :func:`quick_start` is a script as a user of the platform SDK
(``octopize.avatar``) writes it: ``Manager`` with an API key, ``create_runner``,
``add_table``, ``set_parameters``, ``run``, then the results (avatarization,
privacy metrics, signal metrics, report) of one table and then of two linked
tables.  It uses only names that the platform SDK exports, so the same text
runs with either package installed as ``avatars``:

    # the platform SDK (tox -e platform-quickstart)
    /work/sdk/venv125/bin/python tests/platform_sdk/quickstart.py --server-python .venv/bin/python
    # our package (tox -e platform-quickstart-avatars)
    .venv/bin/python tests/platform_sdk/quickstart.py --server-python .venv/bin/python
    # the platform SDK 1.30 on API 3.x (tox -e platform-quickstart-3)
    /work/sdk/venv130/bin/python tests/platform_sdk/quickstart.py --server-python .venv/bin/python --api-version 3

``--server-python`` starts ``avatars serve`` from that interpreter (as the
platform API 2.90, or 3.x with ``--api-version 3``); or pass ``--base-url`` and
``--api-key`` of a server already running.  The 1.30 SDK uploads a DataFrame
as parquet: the server's Python needs pyarrow to read it.  Exit status 0
when every result came back as the platform documents it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, List, Optional

from _serve import start_server, stop_servers


def which_avatars() -> str:
    """``platform SDK x.y.z`` or ``avatars x.y.z`` (ours): both are imported as ``avatars``."""
    import avatars

    try:
        import avatars.base_client

        return f"platform SDK {avatars.__version__}"
    except ImportError:
        return f"avatars {avatars.__version__}"


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def patients(rows: int) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "patient_id": range(1, rows + 1),
            "age": [20 + (i * 7) % 61 for i in range(rows)],
            "weight": [50.0 + (i * 13) % 47 + 0.5 for i in range(rows)],
            "sex": ["F" if i % 3 else "M" for i in range(rows)],
            "smoker": [i % 5 == 0 for i in range(rows)],
        }
    )


def visits(patient_ids: List[int]) -> Any:
    import pandas as pd

    rows = [(pid, 1 + (pid * j) % 9) for pid in patient_ids for j in range(1 + pid % 3)]
    return pd.DataFrame(
        {
            "visit_id": range(1, len(rows) + 1),
            "patient_id": [pid for pid, _ in rows],
            "duration": [float(d) for _, d in rows],
        }
    )


def quick_start(base_url: str, api_key: str, workdir: Path) -> None:
    """The quick start as the platform's users write it (platform SDK names only)."""
    from avatars.manager import Manager
    from avatars.models import JobKind

    manager = Manager(base_url=base_url, api_key=api_key)

    # -- one table ---------------------------------------------------------
    df = patients(200)
    runner = manager.create_runner(set_name="quickstart", seed=42)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.set_parameters("patients", k=10, ncp=3)
    runner.run()  # avatarization, signal and privacy metrics, report

    avatars = runner.shuffled("patients")
    check(len(avatars) == len(df), f"{len(avatars)} avatars for {len(df)} rows")
    check(list(avatars.columns) == list(df.columns), f"columns {list(avatars.columns)}")
    check(str(avatars["age"].dtype).startswith("int"), f"age read back as {avatars['age'].dtype}")
    unshuffled = runner.sensitive_unshuffled("patients")
    check(len(unshuffled) == len(df), "sensitive_unshuffled: wrong row count")
    privacy = runner.privacy_metrics("patients")
    check(isinstance(privacy, list) and privacy and isinstance(privacy[0], dict), f"privacy metrics: {privacy!r}")
    signal = runner.signal_metrics("patients")
    check(isinstance(signal, list) and signal and isinstance(signal[0], dict), f"signal metrics: {signal!r}")
    check(runner.get_job(JobKind.standard).done, "the standard job is not done")
    results = runner.get_all_results()
    check(bool(results), "get_all_results: nothing")
    report = workdir / "report.pdf"
    runner.download_report(str(report))
    # the platform writes a PDF; the local server's documented stand-in is Markdown
    check(report.stat().st_size > 0, "the report is empty")
    print(f"one table: {len(avatars)} avatars, {len(privacy)} privacy and {len(signal)} signal metric rows, report")

    # -- two linked tables -------------------------------------------------
    people = patients(120)
    stays = visits(list(people["patient_id"]))
    runner = manager.create_runner(set_name="quickstart-linked", seed=42)
    runner.add_table("patient", people, primary_key="patient_id", individual_level=True)
    runner.add_table("visit", stays, primary_key="visit_id", foreign_keys=["patient_id"], individual_level=False)
    runner.add_link("patient", "patient_id", "visit", "patient_id")
    runner.set_parameters("patient", k=5)
    runner.set_parameters("visit", k=5)
    runner.run(jobs_to_run=[JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics])

    for table, source in (("patient", people), ("visit", stays)):
        shuffled = runner.shuffled(table)
        check(len(shuffled) == len(source), f"{table}: {len(shuffled)} avatars for {len(source)} rows")
        check(set(shuffled.columns) == set(source.columns), f"{table}: columns {list(shuffled.columns)}")
        check(bool(runner.privacy_metrics(table)), f"{table}: no privacy metrics")
        check(bool(runner.signal_metrics(table)), f"{table}: no signal metrics")
    print(f"two linked tables: {len(people)} patients and {len(stays)} visits avatarized, metrics for both")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-python", help="start avatars serve from this Python (one with avatars[server])")
    parser.add_argument(
        "--api-version", type=int, choices=(2, 3), default=2, help="the server acts as platform API 2.90 or 3.x"
    )
    parser.add_argument("--base-url", default=os.environ.get("AVATAR_BASE_API_URL"))
    parser.add_argument("--api-key", default=os.environ.get("AVATAR_API_KEY"))
    args = parser.parse_args(argv)
    print(f"quick start with {which_avatars()}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # the platform SDK writes crash reports to the working directory
        try:
            if args.server_python:
                info = start_server(args.server_python, workdir, args.api_version, job_step_seconds=0.01)
                base_url, api_key = info["base URL"], info["API key"]
            elif args.base_url and args.api_key:
                base_url, api_key = args.base_url, args.api_key
            else:
                parser.error("give --server-python, or --base-url and --api-key")
            print(f"server: {base_url}")
            quick_start(base_url, api_key, workdir)
        finally:
            stop_servers()
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
