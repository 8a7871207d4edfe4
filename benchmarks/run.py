"""Run the performance benchmarks of ``avatars``; print each figure next to its baseline.

    python benchmarks/run.py [--quick] [--write-docs] [--only NAME[,NAME...]]

``--quick`` uses small sizes and few rounds (CI runs it so the benchmarks
cannot rot; it finishes in well under a minute).  ``--write-docs`` writes the
results table, the machine and the date into ``docs/benchmarks.rst``.

The exit status is 0 when every benchmark ran, whatever the figures (machines
are noisy: a missed target is printed, not fatal), 1 when a benchmark crashed
or a correctness check failed (a connection or refresh count, a failed call).
``--strict`` also fails on a missed target.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import traceback
from typing import Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import ROOT, Figure, machine_description

BENCHMARKS: Dict[str, str] = {
    "percall": "bench_percall",
    "connections": "bench_connections",
    "loading": "bench_loading",
    "import": "bench_import",
    "refresh": "bench_refresh",
    "storage": "bench_storage",
    "flow": "bench_flow",
}

#: Figures whose "met" is a correctness check rather than a timing: a miss fails the run.
CORRECTNESS = {"connections", "refresh"}


def _table(figures: List[Figure]) -> str:
    headers = ["figure", "library", "baseline", "ratio", "target", "met?"]
    rows = [[f.name, f.library, f.baseline, f.ratio_text(), f.target, f.met_text()] for f in figures]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds (CI)")
    parser.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.rst")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    selected = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    started = time.monotonic()
    mode = "quick" if args.quick else "full"
    print(f"avatars benchmarks ({mode} mode)", flush=True)
    figures: List[Figure] = []
    crashed: List[str] = []
    for name in selected:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            module = __import__(BENCHMARKS[name])
            runner: Callable[[bool], List[Figure]] = module.run
            produced = runner(args.quick)
        except Exception:  # noqa: BLE001 - reported, and the run goes on to the next benchmark
            traceback.print_exc()
            crashed.append(name)
            continue
        figures.extend(produced)
        for figure in produced:
            ratio = f"  ratio {figure.ratio_text()}" if figure.ratio is not None else ""
            print(
                f"   {figure.name}: {figure.library}  vs  {figure.baseline}{ratio}"
                f"  [target {figure.target}: {figure.met_text()}]",
                flush=True,
            )
        print(f"   ({time.monotonic() - t0:.1f} s)", flush=True)

    elapsed = time.monotonic() - started
    print()
    print(_table(figures))
    print(f"\n{len(figures)} figures in {elapsed:.1f} s ({mode} mode)")

    if args.write_docs:
        from _docs import write_docs

        path = os.path.join(ROOT, "docs", "benchmarks.rst")
        write_docs(
            path,
            figures,
            machine=machine_description(),
            date=datetime.datetime.now(datetime.timezone.utc),
            mode=mode,
            elapsed=elapsed,
            command=" ".join(["python", "benchmarks/run.py", *argv]),
        )
        print(f"wrote {os.path.relpath(path, ROOT)}")

    failed_checks = [f for f in figures if f.bench in CORRECTNESS and f.met is False]
    missed = [f for f in figures if f.met is False]
    if crashed:
        print(f"FAILED: benchmark(s) crashed: {', '.join(crashed)}")
        return 1
    if failed_checks:
        print(f"FAILED: correctness check(s): {'; '.join(f.name for f in failed_checks)}")
        return 1
    if missed:
        print(f"missed target(s): {'; '.join(f.name for f in missed)}")
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
