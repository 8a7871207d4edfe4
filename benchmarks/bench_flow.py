"""Figure 7, the everyday flow next to the platform's own SDK, on the platform API 2.90 and 3.x.

One table (10,000 rows; 1,000 in ``--quick`` mode) goes through
``Manager -> create_runner -> add_table -> set_parameters -> run`` (the
standard, privacy and signal jobs) ``-> get_all_results``, once with
``avatars`` and once with the platform SDK, each in a fresh process, against
the same ``avatars serve`` in the same run (``benchmarks/_flow_child.py`` is
the script both run): on ``avatars serve`` (API 2.90) next to the SDK 1.25.0,
then on ``avatars serve --api-version 3`` next to the SDK 1.30.0.

Figures: the flow's wall time, the HTTP requests the client sent (the
server's request logs of both origins, the API and the object store, cleared
before each run) and the process's peak RSS (``VmHWM`` read by the child at
the end).  Targets: at most half the SDK's requests, at most its wall time,
at most half its peak memory.  For information, the requests of ``avatars``
when it also writes every result file of every job (``Runner.download_all``
after ``get_all_results``): the SDK's ``get_all_results`` reads every kind of
result file it knows (the figures, the projections...), ``avatars``' reads
the tables and the metrics and leaves the rest to the calls that need them.

The platform SDK needs Python 3.12: each release's venv is made once under
``benchmarks/out/`` (git-ignored) with ``python3.12 -m venv`` and ``pip install
octopize.avatar==<version>``, or taken from ``AVATARS_BENCH_SDK_PYTHON``
(1.25.0) and ``AVATARS_BENCH_SDK3_PYTHON`` (1.30.0).  The SDK 1.30 uploads its
DataFrame as parquet, which the 3.x server reads with pyarrow: that server
runs from its own venv, made once under ``benchmarks/out/`` (this package
with its ``server`` extra, editable, and pyarrow) or named by
``AVATARS_BENCH_SERVER3_PYTHON``, so that pyarrow stays out of the client's
environment (pandas imports pyarrow when it is installed: about 36 MiB more
peak memory for the ``avatars`` side).  When a side cannot run (no Python
3.12, no package index), ``--quick`` mode prints why and shows the
``avatars`` side alone; a full run fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from _common import HERE, PYTHON, ROOT, Figure, RemoteServer, log

CHILD = os.path.join(HERE, "_flow_child.py")
JOBS = 3  # standard, privacy, signal
#: (platform API major version, its label, the SDK release of that API, the variable naming its Python)
PLATFORMS: Tuple[Tuple[int, str, str, str], ...] = (
    (2, "API 2.90", "1.25.0", "AVATARS_BENCH_SDK_PYTHON"),
    (3, "API 3.x", "1.30.0", "AVATARS_BENCH_SDK3_PYTHON"),
)


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


def sdk_python(version: str = "1.25.0", variable: str = "AVATARS_BENCH_SDK_PYTHON") -> Tuple[Optional[str], str]:
    """The interpreter of a venv with the platform SDK ``version``, or ``None`` and why not."""
    given = os.environ.get(variable)
    if given:
        return given, f"{variable}={given}"
    name = f"sdk-venv-{version}"
    base = None if os.path.exists(os.path.join(ROOT, "benchmarks", "out", name, ".installed")) else _python312()
    return _cached_venv(name, [f"octopize.avatar=={version}"], base)


def _cached_venv(name: str, packages: List[str], base: Optional[str]) -> Tuple[Optional[str], str]:
    """``benchmarks/out/<name>``'s Python, made once from ``base`` with ``pip install packages``."""
    venv = os.path.join(ROOT, "benchmarks", "out", name)
    python = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, ".installed")
    if os.path.exists(marker):
        return python, f"cached venv {os.path.relpath(venv, ROOT)}"
    if base is None:
        return None, "no Python 3.12 found (the platform SDK needs it)"
    log(f"making {os.path.relpath(venv, ROOT)} (once)")
    for step in ([base, "-m", "venv", "--clear", venv], [python, "-m", "pip", "install", "-q", *packages]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip()[-300:]}"
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(" ".join(packages) + "\n")
    return python, f"new venv {os.path.relpath(venv, ROOT)}"


def parquet_server_python() -> Tuple[Optional[str], str]:
    """A Python with this package's ``server`` extra and pyarrow, apart from the client's."""
    given = os.environ.get("AVATARS_BENCH_SERVER3_PYTHON")
    if given:
        return given, f"AVATARS_BENCH_SERVER3_PYTHON={given}"
    return _cached_venv("server-venv-pyarrow", ["-e", f"{ROOT}[server]", "pyarrow"], PYTHON)


def _requests_sent(server: RemoteServer) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for origin in ("api", "storage"):
        entries: List[Dict[str, Any]] = server._admin_call("GET", f"/log?origin={origin}")
        counts[origin] = sum(1 for e in entries if not str(e["path"]).startswith("/_admin"))
    return counts


def _run_flow(python: str, server: RemoteServer, rows: int, *, every: bool = False) -> Dict[str, Any]:
    server.clear_log()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with tempfile.TemporaryDirectory(prefix="avatars-bench-flow-") as cwd:  # the SDK writes crash reports here
        done = subprocess.run(
            [python, CHILD, server.base_url, server.api_key, str(rows)] + (["every"] if every else []),
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
        f"{result['package']}{' (every result file)' if every else ''}: {result['seconds']:.2f} s, "
        f"{result['requests']} requests "
        f"(api {counts['api']}, storage {counts['storage']}), peak {result['peak_rss_kib'] / 1024:.0f} MiB"
    )
    return result


def _figures(
    platform: str,
    rows: int,
    ours: Dict[str, Any],
    theirs: Optional[Dict[str, Any]],
    sdk: str,
    why: str,
    every: Optional[Dict[str, Any]] = None,
) -> List[Figure]:
    label = f"{rows:,} rows"
    name = f"flow, {platform}"
    ours_memory = f"{ours['peak_rss_kib'] / 1024:.0f} MiB"
    if theirs is None:
        skipped = "(skipped: no SDK)"
        return [
            Figure(
                "flow", f"{name}: wall time ({label})", f"{ours['seconds']:.2f} s", skipped, None, "<= SDK", None, why
            ),
            Figure(
                "flow",
                f"{name}: HTTP requests ({label})",
                str(ours["requests"]),
                skipped,
                None,
                "<= SDK / 2",
                None,
                why,
            ),
            Figure("flow", f"{name}: peak memory ({label})", ours_memory, skipped, None, "<= SDK / 2", None, why),
        ]
    details = {"rows": rows, "avatars": ours, "sdk": theirs}
    return [
        Figure(
            "flow",
            f"{name}: wall time ({label})",
            f"{ours['seconds']:.2f} s",
            f"{theirs['seconds']:.2f} s (SDK {sdk})",
            ours["seconds"] / theirs["seconds"],
            "<= 1.0",
            ours["seconds"] <= theirs["seconds"],
            details=details,
        ),
        Figure(
            "flow",
            f"{name}: HTTP requests ({label})",
            str(ours["requests"]),
            f"{theirs['requests']} (SDK {sdk})",
            ours["requests"] / theirs["requests"],
            "<= 0.5",
            ours["requests"] * 2 <= theirs["requests"],
        ),
        Figure(
            "flow",
            f"{name}: peak memory ({label})",
            ours_memory,
            f"{theirs['peak_rss_kib'] / 1024:.0f} MiB (SDK {sdk})",
            ours["peak_rss_kib"] / theirs["peak_rss_kib"],
            "<= 0.5",
            ours["peak_rss_kib"] * 2 <= theirs["peak_rss_kib"],
        ),
    ] + (
        []
        if every is None
        else [
            Figure(
                "flow",
                f"{name}: HTTP requests, every result file ({label})",
                str(every["requests"]),
                f"{theirs['requests']} (SDK {sdk})",
                every["requests"] / theirs["requests"],
                "(info)",
                None,
                details={"avatars": every},
            )
        ]
    )


def run(quick: bool) -> List[Figure]:
    rows = 1_000 if quick else 10_000
    figures: List[Figure] = []
    for api_version, platform, version, variable in PLATFORMS:
        sdk, why = sdk_python(version, variable)
        server = PYTHON
        if sdk is not None and api_version >= 3:
            server_python, server_why = parquet_server_python()
            if server_python is None:
                sdk, why = None, f"no server Python with pyarrow for the SDK 1.30's parquet upload: {server_why}"
            else:
                server = server_python
                log(f"{platform}: the server runs from {server_why}")
        if sdk is None:
            if not quick:
                raise RuntimeError(f"the platform SDK {version} side cannot run: {why}")
            log(f"SKIPPED the platform SDK {version} side: {why}")
        else:
            log(f"{platform}: platform SDK {version} from {why}")
        with RemoteServer(job_step_seconds=0.001, api_version=api_version, python=server) as remote:
            ours = _run_flow(PYTHON, remote, rows)
            theirs = _run_flow(sdk, remote, rows) if sdk is not None else None
            every = _run_flow(PYTHON, remote, rows, every=True) if theirs is not None else None
        figures += _figures(platform, rows, ours, theirs, version, why, every)
    return figures
