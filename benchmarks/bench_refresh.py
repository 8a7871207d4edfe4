"""Figure 6, refresh storm: 64 threads share one client (username/password)
while its access token expires.

The server's access-token lifetime is set to a few seconds before logging in.
64 threads then call ``client.jobs.get_job_status(name)`` in a loop until one
second past the token's ``exp``.  The client refreshes shortly before ``exp``
(see :class:`avatars.TokenAuth`).  Checks, counted on the server: exactly one
``POST /api/refresh``, and no failed call.  Reported: the latency (p50, p99)
of the calls in flight during the refresh, next to the calls before it.

"During the refresh" are the calls that started from just before the token
became due for refresh (``exp`` minus the refresh leeway) to a quarter of a
second after the new tokens were installed (the client's ``token_updater``
callback); "before" are the calls that started in the steady state before
it.  (Grouping by start time, not by overlap with the refresh, which would
favour the longest calls.)
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from _common import Figure, RemoteServer, fmt_ms, log, make_jobs, percentile

THREADS = 64
#: Calls started up to this long after the refresh count as "during" it.
STORM_TAIL = 0.25


def run(quick: bool) -> List[Figure]:
    from avatars import ApiClient, AvatarError
    from avatars.auth import jwt_expiry

    lifetime = 3.0 if quick else 4.0
    with RemoteServer() as server:
        setup = ApiClient(server.base_url, api_key=server.api_key)
        name = make_jobs(setup, 1)[0]
        setup.close()
        server.settings(access_token_lifetime=lifetime)

        refreshed: List[float] = []
        client = ApiClient(server.base_url, token_updater=lambda tokens: refreshed.append(time.time()))
        client.authenticate(server.username, server.password)
        client.jobs.get_job_status(name)
        expiry = jwt_expiry(client.auth_tokens.access)
        if expiry is None or expiry[1] is None:
            raise RuntimeError("the server's access token carries no exp/iat")
        exp, iat = expiry
        auth: Any = client.auth_strategy
        leeway = min(auth.refresh_leeway, (exp - iat) / 10.0)
        due = exp - leeway
        stop_at = exp + 1.0
        server.clear_log()
        refreshed.clear()  # the login itself may have been reported

        calls: List[Tuple[float, float, Optional[str]]] = []  # (start, end, error)
        lock = threading.Lock()
        barrier = threading.Barrier(THREADS)

        def body() -> None:
            mine: List[Tuple[float, float, Optional[str]]] = []
            barrier.wait(30)
            while time.time() < stop_at:
                start = time.time()
                error: Optional[str] = None
                try:
                    client.jobs.get_job_status(name)
                except AvatarError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                mine.append((start, time.time(), error))
            with lock:
                calls.extend(mine)

        threads = [threading.Thread(target=body, name=f"storm-{i}") for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        refreshes = server.count("POST", "/api/refresh")
        rejected = sum(1 for e in server.log_entries() if e["method"] == "GET" and e["status"] == 401)
        client.close()

    failed = [c for c in calls if c[2] is not None]
    done_at = refreshed[0] if refreshed else due
    first = min(start for start, _, _ in calls)
    # Calls are grouped by when they STARTED (grouping by overlap with the refresh
    # would favour long calls): the storm is from just before the token was due to
    # STORM_TAIL after the new tokens were installed; "before" is the steady state
    # from 0.3 s after the threads started to 0.3 s before the token was due.
    during = [end - start for start, end, _ in calls if due - 0.05 <= start <= done_at + STORM_TAIL]
    before = [end - start for start, end, _ in calls if first + 0.3 <= start <= due - 0.3]
    after = [end - start for start, end, _ in calls if start > done_at + STORM_TAIL]
    log(
        f"{len(calls)} calls by {THREADS} threads; token lifetime {lifetime:g} s (exp - iat = {exp - iat:g} s), "
        f"leeway {leeway:.2f} s; refresh done {done_at - due:+.3f} s after it was due; "
        f"{len(before)} calls before, {len(during)} during, {len(after)} after; "
        f"{refreshes} refresh request(s), {rejected} request(s) answered 401, {len(failed)} failed"
    )
    if failed:
        log(f"first failure: {failed[0][2]}")
    stats: Dict[str, Tuple[float, float]] = {
        key: (percentile(values, 0.5), percentile(values, 0.99))
        for key, values in (("before", before), ("during", during))
    }
    figures = [
        Figure(
            bench="refresh",
            name=f"refresh storm ({THREADS} threads): refresh requests",
            library=str(refreshes),
            baseline=f"{len(calls)} calls",
            ratio=None,
            target="exactly 1",
            met=refreshes == 1,
        ),
        Figure(
            bench="refresh",
            name=f"refresh storm ({THREADS} threads): failed calls",
            library=str(len(failed)),
            baseline=f"{len(calls)} calls",
            ratio=None,
            target="0",
            met=not failed,
        ),
    ]
    if during and before:
        for label, index in (("p50", 0), ("p99", 1)):
            figures.append(
                Figure(
                    bench="refresh",
                    name=f"refresh storm: {label} latency of calls started during the refresh",
                    library=f"{fmt_ms(stats['during'][index])} ({len(during)} calls)",
                    baseline=f"{fmt_ms(stats['before'][index])} before ({len(before)} calls)",
                    ratio=stats["during"][index] / stats["before"][index],
                    target="(info)",
                    met=None,
                )
            )
    return figures
