"""Figure 3, loading: 10,000 ``JobResponse`` objects from one JSON body.

Four ways from the same bytes (``{"jobs": [...]}``, the ``JobResponseList``
schema):

* ``json.loads`` alone (the floor);
* the library: ``json.loads`` then :func:`avatars.schemas.load`, exactly what
  ``client.jobs.get_jobs()`` does with a response body (fast path included);
* plain marshmallow: ``json.loads`` then ``JobResponseListSchema().load``
  (the full marshmallow machinery, what the library did before its fast path);
* pydantic v2 (an optional dependency of this benchmark only):
  ``model_validate_json`` of an equivalent model with the same types (UUID,
  aware datetime, enums, optional float).

Target: the library within 4 times pydantic's time.  The four are timed in
turn, round after round; each ratio is the median of the per-round ratios,
each time the median of the rounds.

Profile it::

    python benchmarks/bench_loading.py --profile            # the library's load
    python benchmarks/bench_loading.py --profile --plain    # plain marshmallow
"""

from __future__ import annotations

import enum
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional

from _common import Figure, fmt_ms, log, median, time_call

TARGET = 4.0


def make_body(count: int, seed: int = 7) -> bytes:
    """A realistic ``GET /jobs`` body: varied kinds, statuses, progress and timestamps."""
    from avatars.models import JobKind, JobStatus

    kinds = [kind.value for kind in JobKind]
    statuses = [status.value for status in JobStatus]
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    jobs = []
    for index in range(count):
        created = start + timedelta(seconds=rng.randint(0, 10_000_000), microseconds=rng.randint(0, 999_999))
        status = rng.choice(statuses)
        done = status in ("finished", "error", "parent_error", "lost", "orphaned")
        deleted = created + timedelta(days=3) if rng.random() < 0.1 else None
        jobs.append(
            {
                "name": f"{rng.choice(kinds)}_{rng.getrandbits(64):016x}",
                "set_name": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "parameters_name": f"p{index % 7}",
                "display_name": f"run {index}",
                "created_at": created.isoformat(),
                "kind": rng.choice(kinds),
                "status": status,
                "exception": "boom: the table has no column 'age'" if status == "error" else "",
                "done": done,
                "progress": None if rng.random() < 0.2 else round(rng.random(), 3),
                "deleted_at": None if deleted is None else deleted.isoformat(),
            }
        )
    return json.dumps({"jobs": jobs}).encode("utf-8")


def pydantic_loader() -> Optional[Callable[[bytes], Any]]:
    """``model_validate_json`` of a pydantic v2 model equivalent to ``JobResponseList``
    (its enums are plain ``str`` enums with the members of the library's)."""
    try:
        import pydantic
    except ImportError:
        return None
    if not pydantic.VERSION.startswith("2."):
        return None
    from avatars.models import JobKind, JobStatus

    Kind = enum.Enum("Kind", [(m.name, m.value) for m in JobKind], type=str)  # type: ignore[misc]
    Status = enum.Enum("Status", [(m.name, m.value) for m in JobStatus], type=str)  # type: ignore[misc]

    class Job(pydantic.BaseModel):
        name: str
        set_name: uuid.UUID
        parameters_name: str
        display_name: str
        created_at: pydantic.AwareDatetime
        kind: Kind
        status: Status
        exception: str
        done: bool
        progress: Optional[float] = None
        deleted_at: Optional[pydantic.AwareDatetime] = None

    class JobList(pydantic.BaseModel):
        jobs: List[Job]

    return JobList.model_validate_json


def _library(body: bytes) -> Any:
    from avatars import schemas

    return schemas.load(schemas.JobResponseListSchema, json.loads(body), endpoint="GET /jobs")


def _plain(body: bytes) -> Any:
    from avatars import schemas

    return schemas.JobResponseListSchema().load(json.loads(body))


def run(quick: bool) -> List[Figure]:
    count, repeat = (1_000, 7) if quick else (10_000, 15)
    body = make_body(count)
    log(f"{count} jobs, {len(body) / 1e6:.1f} MB of JSON, {repeat} rounds")

    # Same objects from both roads (the equivalence tests check this thoroughly).
    assert _library(body) == _plain(body)
    from avatars.schemas import JobResponseListSchema

    plain_schema = JobResponseListSchema()

    def plain() -> Any:
        return plain_schema.load(json.loads(body))

    pyd = pydantic_loader()
    if pyd is not None:
        assert len(pyd(body).jobs) == count
    # Rounds: each times every way once, in turn, so that a noisy moment of the
    # machine hits all of them; ratios are per round, then the median.
    ways: Dict[str, Callable[[], Any]] = {
        "json": lambda: json.loads(body),
        "lib": lambda: _library(body),
        "plain": plain,
    }
    if pyd is not None:
        ways["pydantic"] = lambda: pyd(body)
    times: Dict[str, List[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, way in ways.items():
            times[name].extend(time_call(way, 1))

    def ratio(a: str, b: str) -> float:
        return median([x / y for x, y in zip(times[a], times[b])])

    t_json, t_lib, t_plain = median(times["json"]), median(times["lib"]), median(times["plain"])
    figures = [
        Figure(
            bench="loading",
            name=f"load {count:,} jobs vs json.loads",
            library=fmt_ms(t_lib),
            baseline=f"{fmt_ms(t_json)} (json.loads)",
            ratio=ratio("lib", "json"),
            target="(info)",
            met=None,
        ),
        Figure(
            bench="loading",
            name=f"load {count:,} jobs vs plain marshmallow",
            library=fmt_ms(t_lib),
            baseline=f"{fmt_ms(t_plain)} (marshmallow)",
            ratio=ratio("lib", "plain"),
            target="(info)",
            met=None,
        ),
    ]
    if pyd is None:
        figures.append(
            Figure(
                bench="loading",
                name=f"load {count:,} jobs vs pydantic",
                library=fmt_ms(t_lib),
                baseline="pydantic v2 not installed",
                ratio=None,
                target=f"ratio <= {TARGET:g}",
                met=None,
                notes="pip install 'pydantic>=2' (or the bench extra) to measure it",
            )
        )
        return figures
    t_pyd = median(times["pydantic"])
    lib_vs_pyd = ratio("lib", "pydantic")
    figures.append(
        Figure(
            bench="loading",
            name=f"load {count:,} jobs vs pydantic",
            library=fmt_ms(t_lib),
            baseline=f"{fmt_ms(t_pyd)} (pydantic v2)",
            ratio=lib_vs_pyd,
            target=f"ratio <= {TARGET:g}",
            met=lib_vs_pyd <= TARGET,
        )
    )
    figures.append(
        Figure(
            bench="loading",
            name=f"plain marshmallow vs pydantic ({count:,} jobs)",
            library=f"{fmt_ms(t_plain)} (marshmallow)",
            baseline=f"{fmt_ms(t_pyd)} (pydantic v2)",
            ratio=ratio("plain", "pydantic"),
            target="(info: the 'about 9x')",
            met=None,
        )
    )
    return figures


def _profile(argv: List[str]) -> None:
    import cProfile
    import pstats

    body = make_body(10_000)
    plain = "--plain" in argv
    loader = _plain if plain else _library
    loader(body)  # warm: schema objects built, fast path compiled
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        loader(body)
    profiler.disable()
    title = "plain marshmallow" if plain else "avatars.schemas.load"
    print(f"# cProfile of 3 x {title} on 10,000 jobs")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        _profile(sys.argv[1:])
    else:
        for figure in run("--quick" in sys.argv):
            print(figure)
