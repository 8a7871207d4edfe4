"""Figure 2, connection reuse, counted on the server (accepted TCP connections).

* 1,000 sequential calls on one default ``ApiClient``: one connection.
* 16 threads sharing one client (and 32, twice the pool): at most
  ``avatars.session.DEFAULT_POOL_MAXSIZE`` connections, and no urllib3
  "Connection pool is full" warning (the client's adapters block instead of
  opening throw-away connections).

Baseline: the same calls through a bare ``requests.Session`` (default adapter:
10 pooled connections, ``pool_block=False``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List, Tuple

from _common import Figure, RemoteServer, log, make_jobs


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def pool_full(self) -> int:
        return sum(1 for r in self.records if "pool is full" in r.getMessage().lower())


def _count(server: RemoteServer, work: Callable[[], Any]) -> Tuple[int, int]:
    """(connections the server accepted during ``work``, "pool is full" warnings)."""
    capture = _Capture()
    urllib3_logger = logging.getLogger("urllib3")
    old_level = urllib3_logger.level
    urllib3_logger.addHandler(capture)
    urllib3_logger.setLevel(logging.DEBUG)
    before = server.connections_opened()
    try:
        work()
    finally:
        urllib3_logger.removeHandler(capture)
        urllib3_logger.setLevel(old_level)
    return server.connections_opened() - before, capture.pool_full()


def _threads(count: int, calls: int, call: Callable[[], Any]) -> Callable[[], None]:
    def work() -> None:
        barrier = threading.Barrier(count)
        errors: List[BaseException] = []

        def body() -> None:
            try:
                barrier.wait(30)
                for _ in range(calls):
                    call()
            except Exception as exc:  # noqa: BLE001 - reported after the join
                errors.append(exc)

        threads = [threading.Thread(target=body, name=f"bench-{i}") for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        if errors:
            raise RuntimeError(f"{len(errors)} thread(s) failed: {errors[0]!r}")

    return work


def run(quick: bool) -> List[Figure]:
    from avatars import ApiClient
    from avatars.session import DEFAULT_POOL_MAXSIZE

    sequential, per_thread = (200, 10) if quick else (1000, 50)
    figures: List[Figure] = []
    with RemoteServer() as server:
        setup = ApiClient(server.base_url, api_key=server.api_key)
        name = make_jobs(setup, 1)[0]
        setup.close()
        url = server.url(f"jobs/{name}")
        server.connections_opened()  # opens the admin connection before counting

        # Sequential calls.
        client = ApiClient(server.base_url, api_key=server.api_key)
        lib_conns, _ = _count(server, lambda: [client.jobs.get_job_status(name) for _ in range(sequential)])
        client.close()
        bare = server.bare_session()
        bare_conns, _ = _count(server, lambda: [bare.get(url, timeout=10).json() for _ in range(sequential)])
        bare.close()
        log(f"sequential: library {lib_conns}, bare {bare_conns}")
        figures.append(
            Figure(
                bench="connections",
                name=f"{sequential:,} sequential calls: TCP connections",
                library=str(lib_conns),
                baseline=f"{bare_conns} (bare Session)",
                ratio=None,
                target="1",
                met=lib_conns == 1,
            )
        )

        # Threads sharing one client.
        for threads in (16, 32):
            client = ApiClient(server.base_url, api_key=server.api_key)
            lib_conns, lib_full = _count(
                server, _threads(threads, per_thread, lambda c=client: c.jobs.get_job_status(name))
            )
            client.close()
            bare = server.bare_session()
            bare_conns, bare_full = _count(
                server, _threads(threads, per_thread, lambda b=bare: b.get(url, timeout=10).json())
            )
            bare.close()
            log(
                f"{threads} threads: library {lib_conns} connections, {lib_full} warnings; "
                f"bare {bare_conns} connections, {bare_full} warnings"
            )
            figures.append(
                Figure(
                    bench="connections",
                    name=f"{threads} threads x {per_thread} calls, one client: connections / pool-full warnings",
                    library=f"{lib_conns} / {lib_full}",
                    baseline=f"{bare_conns} / {bare_full} (bare Session)",
                    ratio=None,
                    target=f"<= {DEFAULT_POOL_MAXSIZE} / 0",
                    met=lib_conns <= DEFAULT_POOL_MAXSIZE and lib_full == 0,
                )
            )
    return figures
