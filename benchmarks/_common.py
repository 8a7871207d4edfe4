"""What the benchmarks share: the figure record, timing helpers, and the local
server run in its own process (``python -m avatars.testing``).

The server always runs in a separate process, so that its threads neither
share the client's GIL nor add to the client's memory.  Counters that live in
the server (accepted TCP connections, the request log) are read through its
admin HTTP API (``/_admin``) over one dedicated keep-alive connection.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = sys.executable


# --------------------------------------------------------------------------- results


@dataclass
class Figure:
    """One line of the results table.

    ``library`` and ``baseline`` are display strings (the unit is in them);
    ``ratio`` is library / baseline when that means something; ``met`` is
    None when the figure has no target (informational).
    """

    bench: str
    name: str
    library: str
    baseline: str
    ratio: Optional[float]
    target: str
    met: Optional[bool]
    notes: str = ""
    details: Dict[str, Any] = field(default_factory=dict)

    def ratio_text(self) -> str:
        return "" if self.ratio is None else f"{self.ratio:.2f}"

    def met_text(self) -> str:
        if self.met is None:
            return "(info)"
        return "yes" if self.met else "NO"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(round(q * len(ordered) + 0.5))))
    return float(ordered[rank - 1])


def time_call(fn: Callable[[], Any], repeat: int) -> List[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` (one value per call)."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def log(message: str) -> None:
    print(f"  .. {message}", flush=True)


# --------------------------------------------------------------------------- machine


def machine_description() -> Dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for name in ("requests", "urllib3", "marshmallow", "pydantic"):
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    curl = ""
    try:
        out = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False).stdout
        curl = out.split("\n", 1)[0].split(" (")[0]
    except OSError:
        curl = "curl (not found)"
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": ", ".join(versions),
        "curl": curl,
    }


# --------------------------------------------------------------------------- processes


@dataclass
class ChildResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    maxrss_kib: Optional[int]


def run_measured(argv: Sequence[str], env: Optional[Dict[str, str]] = None) -> ChildResult:
    """Run ``argv`` (output to temp files, so no pipe can fill) and return its
    wall time and ``ru_maxrss`` read with ``os.wait4`` on that very child.

    Careful: on Linux ``ru_maxrss`` also counts the forked copy of this (the
    parent) process before ``exec``; a child's own peak is the ``VmHWM`` it
    reads from /proc/self/status, which is what the benchmarks use.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(proc.returncode, out.read(), err.read(), elapsed, int(usage.ru_maxrss))


# --------------------------------------------------------------------------- the server


class RemoteServer:
    """``python -m avatars.testing`` in a child process, driven over HTTP.

    ``base_url``, ``api_key``, ``username``, ``password`` come from what the
    command prints; ``stats()``, ``log_entries()``, ``count()``, ``clear_log()``
    and ``settings()`` use the admin HTTP API.
    """

    def __init__(
        self,
        *,
        job_step_seconds: float = 0.001,
        token_lifetime: float = 3600.0,
        api_version: int = 2,
        python: str = PYTHON,
    ) -> None:
        self._tmp = tempfile.mkdtemp(prefix="avatars-bench-")
        secret_file = os.path.join(self._tmp, "admin-secret")
        self._stderr = open(os.path.join(self._tmp, "server.stderr"), "wb")
        self.proc = subprocess.Popen(
            [
                python,
                "-m",
                "avatars.testing",
                "--job-step-seconds",
                str(job_step_seconds),
                "--token-lifetime",
                str(token_lifetime),
                "--admin-secret-file",
                secret_file,
                "--api-version",
                str(api_version),
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
        printed: Dict[str, str] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            match = re.match(r"\s+(base URL|username|password|API key):\s+(\S+)", line)
            if match:
                printed[match.group(1)] = match.group(2)
            if line.startswith("Press Ctrl-C"):
                break
        if len(printed) != 4:
            self.close()
            raise RuntimeError(f"the local server did not start (printed {sorted(printed)}); see {self._tmp}")
        self.base_url = printed["base URL"]
        self.api_key = printed["API key"]
        self.username = printed["username"]
        self.password = printed["password"]
        self.origin = self.base_url[: -len("/api")]
        with open(secret_file, encoding="utf-8") as handle:
            secret = handle.read().strip()
        self._admin = requests.Session()
        self._admin.headers["X-Avatar-Admin-Secret"] = secret

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def bare_session(self) -> requests.Session:
        """The baseline client: a bare ``requests.Session`` (default adapter) that
        sends the server's API key."""
        session = requests.Session()
        session.headers["Authorization"] = f"api-key-v1 {self.api_key}"
        return session

    def _admin_call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._admin.request(
            method, self.origin + "/_admin" + path, data=None if body is None else json.dumps(body), timeout=30
        )
        response.raise_for_status()
        return response.json()

    def stats(self) -> Dict[str, Any]:
        result: Dict[str, Any] = self._admin_call("GET", "/stats")
        return result

    def connections_opened(self) -> int:
        """Accepted TCP connections on the API listener, less the admin connection itself
        (the admin session keeps one connection open, opened by its first call)."""
        return int(self.stats()["connections_opened"])

    def log_entries(self) -> List[Dict[str, Any]]:
        """The server's request log (one dict per request: method, path, status...)."""
        entries: List[Dict[str, Any]] = self._admin_call("GET", "/log")
        return entries

    def count(self, method: str, path: str) -> int:
        return sum(1 for e in self.log_entries() if e["method"] == method and e["path"] == path)

    def clear_log(self) -> None:
        self._admin_call("DELETE", "/log")

    def settings(self, **values: Any) -> Dict[str, Any]:
        result: Dict[str, Any] = self._admin_call("POST", "/settings", values)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        admin = getattr(self, "_admin", None)
        if admin is not None:
            admin.close()
        for name in os.listdir(self._tmp):
            os.unlink(os.path.join(self._tmp, name))
        os.rmdir(self._tmp)

    def __enter__(self) -> RemoteServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_jobs(client: Any, count: int) -> List[str]:
    """Upload a tiny dataset, store a resource set, start ``count`` jobs and
    wait until they end.  Returns the job names."""
    from avatars import JobCreateRequest

    # The table goes to the object store (client.datasets); an older-form
    # document's dataset_id names the object <prefix>/<id>.
    dataset_id = str(uuid.uuid4())
    client.datasets.upload(b"id,age,city\n1,31,paris\n2,47,lyon\n3,52,nice\n", dataset_id)
    document = {
        "tables": [{"name": "people", "dataset_id": dataset_id, "primary_key": "id"}],
        "parameters": [
            {"name": "p1", "table": "people", "k": 1, "ncp": None, "seed": 7},
            {"name": "p1-advice", "table": "people", "kind": "AvatarAdviceParameters"},
        ],
    }
    stored = client.resources.put_resources("bench-set", json.dumps(document))
    # the job's kind is the kind of its parameters document (advice: the cheapest stand-in job)
    names = [client.jobs.create_job(JobCreateRequest(stored.set_name, "p1-advice")).name for _ in range(count)]
    deadline = time.monotonic() + 60
    for name in names:
        while not client.jobs.get_job_status(name).is_terminal:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {name} did not end")
            time.sleep(0.01)
    return names
