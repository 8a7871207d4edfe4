"""Start ``avatars serve`` from another interpreter and read what it prints.

The scripts in this folder run under the platform SDK's Python, where the
import name ``avatars`` is the SDK's: our server cannot be imported there, so
it runs as a subprocess of an interpreter that has ``avatars[server]``.  This
module imports neither package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

SERVERS: List[subprocess.Popen[str]] = []


def start_server(
    server_python: str,
    workdir: Path,
    api_version: int = 2,
    *,
    job_step_seconds: Optional[float] = None,
    extra_args: Optional[List[str]] = None,
) -> Dict[str, str]:
    """Start the server; return its printed ``base URL``, ``storage URL``,
    ``username``, ``password``, ``API key``, the ``admin secret`` and ``pid``."""
    secret_file = workdir / "admin-secret"
    if job_step_seconds is None:
        job_step_seconds = 0.01 if api_version == 2 else 1.0
    command = [
        server_python,
        "-m",
        "avatars.testing",
        "--job-step-seconds",
        str(job_step_seconds),
        "--admin-secret-file",
        str(secret_file),
        "--api-version",
        str(api_version),
        *(extra_args or []),
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    info: Dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        match = re.match(r"\s+(base URL|storage URL|username|password|API key):\s+(\S+)", line)
        if match:
            info[match.group(1)] = match.group(2)
        if line.startswith("Press Ctrl-C"):
            break
    if "base URL" not in info:
        process.kill()
        sys.exit(f"avatars serve did not start: {sorted(info)}")
    info["admin secret"] = secret_file.read_text().strip()
    info["pid"] = str(process.pid)
    SERVERS.append(process)
    return info


def stop_servers() -> None:
    """Terminate every server this process started (SIGTERM, then SIGKILL after 10 s)."""
    while SERVERS:
        process = SERVERS.pop()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
