"""``python -m avatars.testing`` / ``avatars serve``: run a local server until stopped.

Starts a :class:`~avatars.testing.server.LocalAvatarServer`, creates (or, on an
existing ``--data-dir``, reuses) the user ``demo@example.com`` with a fresh
random password and a fresh API key, prints the base URL, the credentials and
an ``AVATAR_BASE_API_URL=... AVATAR_API_KEY=...`` line, then serves until
Ctrl-C or SIGTERM (exit code 0).

These credentials are printed on purpose: they are the point of the command,
and they only open a throw-away local server. The admin HTTP API
(``/_admin``) is enabled only with ``--admin-secret-file PATH``: a random
secret is written there (mode 0600), or the value of the environment variable
``AVATARS_TESTING_ADMIN_SECRET`` is used; it is never printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import List, Optional

DEMO_EMAIL = "demo@example.com"
ADMIN_SECRET_ENV = "AVATARS_TESTING_ADMIN_SECRET"


def build_parser(prog: str = "python -m avatars.testing") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the avatars local Avatar API server (a test double; its jobs use "
        "a local stand-in, not the Avatar platform's method).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="API port (default: 0, a free port)")
    parser.add_argument("--storage-port", type=int, default=0, help="object storage port (default: 0, a free port)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep data in this directory across restarts (default: memory)"
    )
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=3600.0,
        metavar="S",
        help="access token lifetime in seconds (default: 3600)",
    )
    parser.add_argument(
        "--job-step-seconds",
        type=float,
        default=0.05,
        metavar="S",
        help="seconds per job progress step (default: 0.05)",
    )
    parser.add_argument(
        "--min-client-version",
        default="0.1.0",
        help="oldest client version /check_client calls compatible (default: 0.1.0)",
    )
    parser.add_argument(
        "--api-version",
        type=int,
        choices=(2, 3),
        default=2,
        help="act as the platform API 2.90 (default) or 3.x (no /login; /capabilities, /connections, /jobs/flow...)",
    )
    parser.add_argument(
        "--admin-secret-file", type=Path, default=None, help="enable the /_admin HTTP API and write its secret here"
    )
    return parser


def serve_main(argv: Optional[List[str]] = None, *, prog: str = "python -m avatars.testing") -> int:
    """Entry point of the command; returns the process exit code.  Raises
    :class:`ImportError` when the ``server`` extra is missing."""
    args = build_parser(prog).parse_args(argv)
    from .server import LocalAvatarServer  # imports werkzeug: only when serving

    admin_secret = ""
    if args.admin_secret_file is not None:
        admin_secret = os.environ.get(ADMIN_SECRET_ENV) or secrets.token_hex(24)
        fd = os.open(str(args.admin_secret_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(admin_secret + "\n")

    stop = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)

    server = LocalAvatarServer(
        host=args.host,
        port=args.port,
        storage_port=args.storage_port,
        data_dir=args.data_dir,
        access_token_lifetime=args.token_lifetime,
        job_step_seconds=args.job_step_seconds,
        min_client_version=args.min_client_version,
        admin_secret=admin_secret,
        api_version=args.api_version,
    )
    try:
        try:
            server.start()
        except OSError as exc:
            print(f"error: cannot start the server: {exc}", file=sys.stderr)
            return 1
        password = secrets.token_urlsafe(12)
        if server.admin.find_user(DEMO_EMAIL) is None:
            server.admin.create_user(DEMO_EMAIL, password)
        else:
            server.admin.set_password(DEMO_EMAIL, password)
        api_key = server.admin.create_api_key(DEMO_EMAIL, name="avatars serve")
        lines = [
            "Avatar local test server (jobs use a local stand-in, not the Avatar platform)",
            f"  base URL:    {server.base_url}",
            f"  storage URL: {server.storage_endpoint_url} (S3, path-style, region us-east-1)",
            f"  username:    {DEMO_EMAIL}",
            f"  password:    {password}",
            f"  API key:     {api_key}",
        ]
        if args.data_dir is not None:
            lines.append(f"  data dir:    {args.data_dir}")
        if admin_secret:
            lines.append(f"  admin API:   {server.origin}/_admin (secret in {args.admin_secret_file})")
        lines += [
            "",
            f"AVATAR_BASE_API_URL={server.base_url} AVATAR_API_KEY={api_key}",
            "",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping.", flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
