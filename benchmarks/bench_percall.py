"""Figure 1, per-call cost: the library next to a bare ``requests.Session``.

``client.jobs.get_job_status(name)`` and ``client.jobs.get_jobs()`` (10 jobs)
on a default ``ApiClient`` (API key, no injected session), interleaved call by
call with the same GET made by a bare ``requests.Session`` (same server, same
keep-alive, same ``Authorization`` header and timeout, and ``.json()`` on the
answer).  Each round times ``calls`` pairs; the order inside a pair alternates
from round to round.  The figure is the median over the rounds of
(library time / bare time).
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

from _common import Figure, RemoteServer, fmt_us, log, make_jobs, median

TARGET = 1.15


def _rounds(
    lib: Callable[[], Any], bare: Callable[[], Any], rounds: int, calls: int
) -> Tuple[List[float], float, float]:
    import time

    for _ in range(max(20, calls // 5)):  # warm-up: connections, caches, first schema compile
        lib()
        bare()
    ratios: List[float] = []
    lib_all: List[float] = []
    bare_all: List[float] = []
    clock = time.perf_counter
    for index in range(rounds):
        lib_t = bare_t = 0.0
        for _ in range(calls):
            if index % 2 == 0:
                t0 = clock()
                lib()
                t1 = clock()
                bare()
                t2 = clock()
                lib_dt, bare_dt = t1 - t0, t2 - t1
            else:
                t0 = clock()
                bare()
                t1 = clock()
                lib()
                t2 = clock()
                bare_dt, lib_dt = t1 - t0, t2 - t1
            lib_t += lib_dt
            bare_t += bare_dt
            lib_all.append(lib_dt)
            bare_all.append(bare_dt)
        ratios.append(lib_t / bare_t)
    return ratios, median(lib_all), median(bare_all)


def run(quick: bool) -> List[Figure]:
    from avatars import ApiClient
    from avatars.config import DEFAULT_TIMEOUT

    rounds, calls = (3, 100) if quick else (9, 400)
    figures: List[Figure] = []
    with RemoteServer() as server:
        client = ApiClient(server.base_url, api_key=server.api_key)
        names = make_jobs(client, 10)
        bare = server.bare_session()
        timeout = DEFAULT_TIMEOUT
        status_url = server.url(f"jobs/{names[0]}")
        list_url = server.url("jobs")
        cases = [
            (
                "get_job_status(name)",
                lambda: client.jobs.get_job_status(names[0]),
                lambda: bare.get(status_url, timeout=timeout).json(),
            ),
            (
                "get_jobs() (10 jobs)",
                lambda: client.jobs.get_jobs(),
                lambda: bare.get(list_url, timeout=timeout).json(),
            ),
        ]
        assert len(client.jobs.get_jobs()) == 10
        for label, lib, plain in cases:
            ratios, lib_med, bare_med = _rounds(lib, plain, rounds, calls)
            ratio = median(ratios)
            log(f"{label}: rounds {', '.join(f'{r:.3f}' for r in ratios)}")
            figures.append(
                Figure(
                    bench="percall",
                    name=f"per call: {label}",
                    library=fmt_us(lib_med),
                    baseline=f"{fmt_us(bare_med)} (bare Session)",
                    ratio=ratio,
                    target=f"ratio <= {TARGET}",
                    met=ratio <= TARGET,
                    notes=f"median of {rounds} rounds x {calls} interleaved calls; times are per-call medians",
                    details={"ratios": ratios},
                )
            )
        bare.close()
        client.close()
    return figures
