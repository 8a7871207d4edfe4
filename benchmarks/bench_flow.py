"""Figure 7, the everyday flow next to the platform's own SDK.

One table (10,000 rows; 1,000 in ``--quick`` mode) goes through
``Manager -> create_runner -> add_table -> set_parameters -> run`` (the
standard, privacy and signal jobs) ``-> get_all_results``, once with
``avatars`` and once with the platform SDK (``octopize.avatar`` 1.25.0),
each in a fresh process, against the same ``avatars serve`` in the same run
(``benchmarks/_flow_child.py`` is the script both run).

Figures: the flow's wall time, the HTTP requests the client sent (the
server's request logs of both origins, the API and the object store, cleared
before each run) and the process's peak RSS (``VmHWM`` read by the child at
the end).  Targets: at most half the SDK's requests, at most its wall time,
at most half its peak memory.

The platform SDK needs Python 3.12: its venv is made once under
``benchmarks/out/`` (git-ignored) with ``python3.12 -m venv`` and ``pip install
octopize.avatar==1.25.0``, or taken from ``AVATARS_BENCH_SDK_PYTHON``.  When
that is impossible (no Python 3.12, no package index), ``--quick`` mode prints
why and shows the ``avatars`` side alone; a full run fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from _common import HERE, PYTHON, ROOT, Figure, RemoteServer, log

SDK_VERSION = "1.25.0"
SDK_VENV = os.path.join(ROOT, "benchmarks", "out", f"sdk-venv-{SDK_VERSION}")
CHILD = os.path.join(HERE, "_flow_child.py")
JOBS = 3  # standard, privacy, signal


def _python312() -> Optional[str]:
    """A working Python 3.12: on PATH, or one of pyenv's (a pyenv shim may exist and fail)."""
    candidates = [shutil.which("python3.12")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        versions = os.path.join(root, "versions")
        if root and os.path.isdir(versions):
            candidates += [
                os.path.join(versions, name, "bin", "python3.12")
                for name in sorted(os.listdir(versions), reverse=True)
                if name.startswith("3.12.")
            ]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def sdk_python() -> Tuple[Optional[str], str]:
    """The interpreter of a venv with the platform SDK, or ``None`` and why not."""
    given = os.environ.get("AVATARS_BENCH_SDK_PYTHON")
    if given:
        return given, f"AVATARS_BENCH_SDK_PYTHON={given}"
    python = os.path.join(SDK_VENV, "bin", "python")
    marker = os.path.join(SDK_VENV, ".installed")
    if os.path.exists(marker):
        return python, f"cached venv {os.path.relpath(SDK_VENV, ROOT)}"
    base = _python312()
    if base is None:
        return None, "no Python 3.12 found (the platform SDK needs it)"
    log(f"making the platform SDK's venv in {os.path.relpath(SDK_VENV, ROOT)} (once)")
    steps = [
        [base, "-m", "venv", "--clear", SDK_VENV],
        [python, "-m", "pip", "install", "-q", f"octopize.avatar=={SDK_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip()[-300:]}"
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(SDK_VERSION + "\n")
    return python, f"new venv {os.path.relpath(SDK_VENV, ROOT)}"


def _requests_sent(server: RemoteServer) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for origin in ("api", "storage"):
        entries: List[Dict[str, Any]] = server._admin_call("GET", f"/log?origin={origin}")
        counts[origin] = sum(1 for e in entries if not str(e["path"]).startswith("/_admin"))
    return counts


def _run_flow(python: str, server: RemoteServer, rows: int) -> Dict[str, Any]:
    server.clear_log()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with tempfile.TemporaryDirectory(prefix="avatars-bench-flow-") as cwd:  # the SDK writes crash reports here
        done = subprocess.run(
            [python, CHILD, server.base_url, server.api_key, str(rows)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=False,
            timeout=900,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the flow failed under {python}:\n{done.stderr[-3000:]}{done.stdout[-1000:]}")
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    counts = _requests_sent(server)
    result["requests"] = counts["api"] + counts["storage"]
    result["requests_by_origin"] = counts
    log(
        f"{result['package']}: {result['seconds']:.2f} s, {result['requests']} requests "
        f"(api {counts['api']}, storage {counts['storage']}), peak {result['peak_rss_kib'] / 1024:.0f} MiB"
    )
    return result


def run(quick: bool) -> List[Figure]:
    rows = 1_000 if quick else 10_000
    sdk, why = sdk_python()
    if sdk is None:
        if not quick:
            raise RuntimeError(f"the platform SDK side cannot run: {why}")
        log(f"SKIPPED the platform SDK side: {why}")
    else:
        log(f"platform SDK from {why}")
    with RemoteServer(job_step_seconds=0.001) as server:
        ours = _run_flow(PYTHON, server, rows)
        theirs = _run_flow(sdk, server, rows) if sdk is not None else None

    label = f"{rows:,} rows"
    details = {"rows": rows, "avatars": ours, "sdk": theirs}
    if theirs is None:
        skipped = "(skipped: no SDK)"
        return [
            Figure(
                "flow", f"flow: wall time ({label})", f"{ours['seconds']:.2f} s", skipped, None, "<= SDK", None, why
            ),
            Figure(
                "flow", f"flow: HTTP requests ({label})", str(ours["requests"]), skipped, None, "<= SDK / 2", None, why
            ),
            Figure(
                "flow",
                f"flow: peak memory ({label})",
                f"{ours['peak_rss_kib'] / 1024:.0f} MiB",
                skipped,
                None,
                "<= SDK / 2",
                None,
                why,
            ),
        ]
    return [
        Figure(
            "flow",
            f"flow: wall time ({label})",
            f"{ours['seconds']:.2f} s",
            f"{theirs['seconds']:.2f} s (platform SDK)",
            ours["seconds"] / theirs["seconds"],
            "<= 1.0",
            ours["seconds"] <= theirs["seconds"],
            details=details,
        ),
        Figure(
            "flow",
            f"flow: HTTP requests ({label})",
            str(ours["requests"]),
            f"{theirs['requests']} (platform SDK)",
            ours["requests"] / theirs["requests"],
            "<= 0.5",
            ours["requests"] * 2 <= theirs["requests"],
        ),
        Figure(
            "flow",
            f"flow: peak memory ({label})",
            f"{ours['peak_rss_kib'] / 1024:.0f} MiB",
            f"{theirs['peak_rss_kib'] / 1024:.0f} MiB (platform SDK)",
            ours["peak_rss_kib"] / theirs["peak_rss_kib"],
            "<= 0.5",
            ours["peak_rss_kib"] * 2 <= theirs["peak_rss_kib"],
        ),
    ]
