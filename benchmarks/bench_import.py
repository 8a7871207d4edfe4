"""Figure 5, import cost: ``python -c "import avatars"`` as a whole process,
next to ``python -c "import requests"``.

Each run is a fresh interpreter; its wall time is measured from spawn to exit
and its peak RSS is the ``VmHWM`` it prints from /proc/self/status at the end
(``ru_maxrss`` from ``wait4`` is no use here: Linux folds the RSS of the
forked copy of the parent into it).  The two commands are
interleaved; the figures are medians.  Byte-code caches are written first (a
warm-up run without ``PYTHONDONTWRITEBYTECODE``), as after a ``pip install``:
otherwise every run would compile the package from source.

Targets: at most 0.15 s more than ``import requests`` and at most 30 MiB peak.
``from avatars import ApiClient`` plus building a client, and the first
response loaded (which imports the schema layer and marshmallow), are shown
for information, as are the heavy modules a run imported (none expected).
"""

from __future__ import annotations

import ast
import os
from typing import Dict, List, Tuple

from _common import PYTHON, Figure, log, median, run_measured

TIME_TARGET = 0.15
RSS_TARGET_MIB = 30.0
HEAVY = ["werkzeug", "tqdm", "pandas", "marshmallow", "yaml"]

_REPORT = "import sys\nprint([m for m in {heavy!r} if m in sys.modules])\nprint(open('/proc/self/status').read())"
CASES: Dict[str, str] = {
    "requests": "import requests",
    "avatars": "import avatars",
    "client": "from avatars import ApiClient; ApiClient('https://avatar.example.com/api', api_key='k')",
    "first load": (
        "from avatars import ApiClient; c = ApiClient('https://avatar.example.com/api', api_key='k')\n"
        "from avatars.resources._helpers import schemas_module; s = schemas_module()\n"
        "s.load(s.JobResponseSchema, {'name': 'j', 'set_name': '7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', "
        "'parameters_name': 'p', 'display_name': 'd', 'created_at': '2026-11-27T10:00:00+00:00', "
        "'kind': 'standard', 'status': 'finished', 'exception': '', 'done': True, 'progress': 1.0, "
        "'deleted_at': None})"
    ),
}

LABELS = {"avatars": "import avatars", "client": "import + ApiClient()", "first load": "+ first response loaded"}


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONTRACEMALLOC", None)
    return env


def _run(code: str, env: Dict[str, str]) -> Tuple[float, float, List[str]]:
    result = run_measured([PYTHON, "-c", code + "\n" + _REPORT.format(heavy=HEAVY)], env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {result.stderr.decode('utf-8', 'replace')[-1000:]}")
    lines = result.stdout.decode().splitlines()
    heavy = ast.literal_eval(lines[0])
    hwm = next(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
    return result.seconds, hwm / 1024, heavy


def run(quick: bool) -> List[Figure]:
    runs = 5 if quick else 21
    env = _env()
    for code in CASES.values():  # warm-up: byte-code caches, file system cache
        _run(code, env)
    times: Dict[str, List[float]] = {name: [] for name in CASES}
    rss: Dict[str, List[float]] = {name: [] for name in CASES}
    heavy: Dict[str, List[str]] = {}
    for index in range(runs):
        names = list(CASES) if index % 2 == 0 else list(reversed(CASES))
        for name in names:
            seconds, peak, loaded = _run(CASES[name], env)
            times[name].append(seconds)
            rss[name].append(peak)
            heavy[name] = loaded
    base_t, base_rss = median(times["requests"]), median(rss["requests"])
    log(f"{runs} runs each; heavy modules imported: {heavy}")
    figures = []
    for name in ("avatars", "client", "first load"):
        t, r = median(times[name]), median(rss[name])
        extra = t - base_t
        label = LABELS[name]
        targeted = name == "avatars"
        figures.append(
            Figure(
                bench="import",
                name=f"{label}: time (whole process)",
                library=f"{t:.3f} s (+{extra:.3f} s)",
                baseline=f"{base_t:.3f} s (import requests)",
                ratio=t / base_t,
                target=f"<= +{TIME_TARGET} s" if targeted else "(info)",
                met=(extra <= TIME_TARGET) if targeted else None,
                notes=f"median of {runs}",
            )
        )
        figures.append(
            Figure(
                bench="import",
                name=f"{label}: peak RSS",
                library=f"{r:.1f} MiB",
                baseline=f"{base_rss:.1f} MiB (import requests)",
                ratio=r / base_rss,
                target=f"<= {RSS_TARGET_MIB:g} MiB" if targeted else "(info)",
                met=(r <= RSS_TARGET_MIB) if targeted else None,
            )
        )
    figures.append(
        Figure(
            bench="import",
            name="import avatars: heavy modules imported",
            library=", ".join(heavy["avatars"]) or "none",
            baseline=", ".join(heavy["requests"]) or "none",
            ratio=None,
            target="none of " + "/".join(HEAVY),
            met=not heavy["avatars"],
        )
    )
    return figures
