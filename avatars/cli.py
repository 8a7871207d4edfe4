"""The ``avatars`` command.

Connection and output flags (``--base-url``, ``--api-key``, ``--json``...)
may be typed after any command word that shows them in its ``--help``
(``avatars jobs --json list`` and ``avatars jobs list --json`` are the same);
typed twice, the last one wins.

Configuration comes from flags, then the environment (the ``AVATAR_*`` names
of :class:`~avatars.ClientConfig`; ``AVATAR_USERNAME``/``AVATAR_PASSWORD`` for
username/password authentication).  Exit codes:

====  ===========================================================
0     success
1     the API answered with an error (not found, conflict, ...)
2     usage or configuration error (bad flags, bad input)
3     authentication or permission error
4     a job failed, or waiting for jobs timed out
5     network error (connection, TLS, proxy, timeout)
6     local file error (disk full, permission denied, a result file
      name refused because it would land outside the directory)
130   interrupted (Ctrl-C)
141   the output was closed early (``avatars jobs list | head``),
      as for any command stopped by ``SIGPIPE``; nothing is printed
====  ===========================================================

Expected errors print one line on stderr, never a traceback.  Text that
comes from the server (error details, job errors, names, file listings) is
printed with its terminal control characters escaped (see
:func:`terminal_safe`), so a server cannot drive the terminal.  Secrets
(passwords, tokens, API keys) are never printed; ``--token-cache FILE`` keeps
tokens in a file created with mode 0600, and nowhere else on disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import enum
import getpass
import json
import os
import re
import secrets
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, TextIO, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from _typeshed import SupportsWrite

from . import __version__
from ._extras import is_missing_server_extra, server_extra_message
from ._version import DISTRIBUTION
from .auth import AuthTokens
from .client import ApiClient
from .config import ClientConfig, check_api_key, normalize_base_url
from .errors import (
    ApiError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    JobFailedError,
    LocalFileError,
    PermissionDenied,
    RequestValidationError,
    TransportError,
    UnsafeFileNameError,
    WaitTimeoutError,
)
from .models import JobKind, JobResponse, JobStatus, Results
from .progress import ProgressListener, QuietProgress, bytes_callback, resolve_progress
from .resources.results import download_result_files

__all__ = [
    "main",
    "terminal_safe",
    "EXIT_OK",
    "EXIT_API",
    "EXIT_USAGE",
    "EXIT_AUTH",
    "EXIT_JOB",
    "EXIT_NETWORK",
    "EXIT_LOCAL",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_JOB = 4
EXIT_NETWORK = 5
EXIT_LOCAL = 6
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE, what a shell reports for a command whose reader went away.
EXIT_BROKEN_PIPE = 141

SAMPLE_CSV = Path(__file__).parent / "data" / "sample.csv"


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


class NoCredentialsError(UsageError):
    """No API key, no username and no token cache (exit code 3, as for rejected credentials)."""


# --------------------------------------------------------------------------- output


def to_jsonable(obj: Any) -> Any:
    """Models to plain JSON values.  Secret fields (``repr=False``) are left out."""
    if isinstance(obj, Results):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, enum.Enum):
        return str(obj)
    if isinstance(obj, (uuid.UUID, Path)):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    return obj


#: Characters that a terminal acts on: C0 controls but tab and newline, DEL,
#: C1 controls (0x9B is a one-byte CSI), and the Unicode bidirectional
#: controls that reorder what is shown (U+061C, U+200E/F, U+202A-E, U+2066-9).
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape.

    ESC (so every CSI/OSC sequence), carriage return, backspace, BEL, the
    other C0 and the C1 controls, DEL and the bidirectional controls become
    visible ``\\x1b``/``\\u202e`` text; tab and newline stay.  Every line the
    command prints goes through this (the ``--json`` output needs no help:
    ``json.dumps`` escapes all of these itself).
    """
    return _TERMINAL_UNSAFE.sub(_escape_char, text)


class Output:
    """Where the command prints: results on stdout, messages on stderr, all
    through :func:`terminal_safe` (JSON through ``json.dumps``, ASCII only)."""

    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err

    def result(self, data: Any, human: Callable[[], str]) -> None:
        if self.as_json:
            self.out.write(json_text(to_jsonable(data), indent=2, sort_keys=True) + "\n")
        else:
            text = human()
            if text:
                self.out.write(terminal_safe(text.rstrip("\n")) + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A message for people (stderr, so that stdout stays parseable)."""
        self.err.write(terminal_safe(text) + "\n")
        self.err.flush()


def json_text(data: Any, *, indent: Optional[int] = None, sort_keys: bool = False) -> str:
    """``data`` as JSON text that is safe on a terminal: ``ensure_ascii``
    escapes every control and non-ASCII character as ``\\uXXXX``."""
    return json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=True)


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _job_rows(jobs: Sequence[JobResponse]) -> str:
    rows = [
        [
            j.name,
            str(j.kind),
            str(j.status),
            "" if j.progress is None else f"{j.progress:.0%}",
            j.created_at.isoformat(timespec="seconds"),
        ]
        for j in jobs
    ]
    return _table(rows, ["NAME", "KIND", "STATUS", "PROGRESS", "CREATED"])


class LineProgress:
    """Progress as plain lines on stderr (for logs and pipes): each transfer
    when it ends, each job when its status changes."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self._status: Dict[str, str] = {}
        self._done: Set[str] = set()

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        if total_bytes is not None and done_bytes >= total_bytes and label not in self._done:
            self._done.add(label)
            self.err.write(terminal_safe(f"{label}: {done_bytes} bytes") + "\n")

    def on_job(self, job: JobResponse) -> None:
        status = str(job.status)
        if self._status.get(job.name) != status:
            self._status[job.name] = status
            self.err.write(terminal_safe(f"job {job.kind} {job.name}: {status}") + "\n")


class TerminalSafeProgress:
    """Passes progress on with the server's text (labels, job names, kinds,
    statuses) made :func:`terminal_safe`, for listeners that draw on a terminal."""

    def __init__(self, inner: ProgressListener) -> None:
        self.inner = inner

    def on_bytes(self, label: str, done_bytes: int, total_bytes: Optional[int]) -> None:
        self.inner.on_bytes(terminal_safe(label), done_bytes, total_bytes)

    def on_job(self, job: JobResponse) -> None:
        self.inner.on_job(
            dataclasses.replace(
                job,
                name=terminal_safe(job.name),
                kind=JobKind(terminal_safe(str(job.kind))),
                status=JobStatus(terminal_safe(str(job.status))),
            )
        )


def _progress_for(args: argparse.Namespace, err: TextIO) -> ProgressListener:
    if args.quiet or args.json:
        return QuietProgress()
    tty = resolve_progress(True)
    if not isinstance(tty, QuietProgress):
        return TerminalSafeProgress(tty)
    return LineProgress(err)


# --------------------------------------------------------------------------- client


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save_tokens(path: Path, tokens: AuthTokens) -> None:
    _write_private(path, json.dumps({"access_token": tokens.access, "refresh_token": tokens.refresh}))


def _load_tokens(path: Path) -> Optional[AuthTokens]:
    if not path.exists():
        return None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UsageError(f"token cache {path} is readable by others (mode {mode:o}); chmod 600 it or remove it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AuthTokens(str(data["access_token"]), data.get("refresh_token"))
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"token cache {path} is not readable; remove it and log in again") from None


def build_client(args: argparse.Namespace, *, need_auth: bool = True) -> ApiClient:
    verify: Any = None
    if args.insecure and args.ca_bundle:
        raise UsageError("--insecure and --ca-bundle contradict each other")
    if args.insecure:
        verify = False
    elif args.ca_bundle:
        if not os.path.isfile(args.ca_bundle):
            raise UsageError(f"--ca-bundle: no such file: {args.ca_bundle}")
        verify = args.ca_bundle
    # Checked here so that errors name the flags, not the library's arguments.
    if args.base_url is not None:
        normalize_base_url(args.base_url, name="--base-url")
    elif not (os.environ.get("AVATAR_BASE_API_URL", "").strip() or os.environ.get("AVATAR_BASE_URL", "").strip()):
        raise UsageError("no server: use --base-url or AVATAR_BASE_API_URL (https://host/api), or AVATAR_BASE_URL")
    if args.api_key is not None:
        check_api_key(args.api_key, name="--api-key")
    config = ClientConfig.from_env(
        base_url=args.base_url,
        api_key=args.api_key,
        timeout=args.timeout,
        should_verify_ssl=verify,
        username=args.username,
    )
    if args.username is not None and args.api_key is None and config.api_key is not None:
        # --username typed here wins over the environment's AVATAR_API_KEY.
        config = config.with_changes(api_key=None)
    cache = Path(args.token_cache) if args.token_cache else None
    updater = (lambda tokens: _save_tokens(cache, tokens)) if cache is not None else None
    client = ApiClient(config=config, token_updater=updater)
    if args.proxy:
        client.session.proxies.update({"http": args.proxy, "https": args.proxy})
    if not need_auth or client.api_key_in_use:
        return client
    tokens = _load_tokens(cache) if cache is not None else None
    if tokens is not None:
        client.set_tokens(tokens)
        return client
    if config.username:
        client.authenticate(config.username, _password(args, config))
        if cache is not None and client.auth_tokens is not None:
            _save_tokens(cache, client.auth_tokens)
        return client
    client.close()
    raise NoCredentialsError(
        "no credentials: use --api-key or AVATAR_API_KEY, or --username (AVATAR_USERNAME) with a password"
        + (", or log in once with 'avatars login --token-cache FILE'" if cache is None else f" (no tokens in {cache})")
    )


def _password(args: argparse.Namespace, config: ClientConfig) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageError("--password-stdin: nothing on standard input")
        return line
    if config.password:
        return config.password
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    raise UsageError("no password: use --password-stdin, AVATAR_PASSWORD, or a terminal")


# --------------------------------------------------------------------------- commands


def cmd_login(args: argparse.Namespace, out: Output) -> int:
    if not (args.username or os.environ.get("AVATAR_USERNAME", "").strip()):
        raise UsageError("login needs --username or AVATAR_USERNAME")
    with build_client(args) as client:
        me = client.users.get_me()
        where = (
            f"; tokens saved to {args.token_cache} (mode 0600)"
            if args.token_cache
            else ("; tokens kept in memory only (use --token-cache FILE to reuse them)")
        )
        out.result(
            {"email": me.email, "id": me.id, "token_cache": args.token_cache}, lambda: f"logged in as {me.email}{where}"
        )
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace, out: Output) -> int:
    with build_client(args) as client:
        if args.jobs_command == "list":
            jobs = list(client.jobs.get_jobs(kind=args.kind).jobs)
            out.result(jobs, lambda: _job_rows(jobs))
        elif args.jobs_command == "status":
            job = client.jobs.get_job_status(args.name)
            out.result(job, lambda: _job_rows([job]) + (f"\nexception: {job.exception}" if job.exception else ""))
        elif args.jobs_command == "cancel":
            job = client.jobs.cancel_job(args.name)
            out.result(job, lambda: f"cancelled {job.name}: {job.status}")
        elif args.jobs_command == "delete":
            if len(args.names) == 1:
                job = client.jobs.delete_job(args.names[0])
                out.result(job, lambda: f"deleted {job.name}")
            else:
                result = client.jobs.bulk_delete_jobs(args.names)
                out.result(
                    result,
                    lambda: (
                        f"deleted {len(result.deleted_jobs)} job(s)"
                        + (f"; failed: {', '.join(result.failed_jobs)}" if result.failed_jobs else "")
                    ),
                )
                if result.failed_jobs:
                    return EXIT_API
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace, out: Output) -> int:
    progress = _progress_for(args, out.err)
    with build_client(args) as client:
        if args.datasets_command == "list":
            items = client.datasets.list()
            rows = [[o.key, str(o.size), o.last_modified or ""] for o in items]
            out.result(
                [{"key": o.key, "location": o.location.uri, "size": o.size} for o in items],
                lambda: _table(rows, ["KEY", "SIZE", "MODIFIED"]),
            )
        elif args.datasets_command == "upload":
            path = Path(args.file)
            if not path.is_file():
                raise UsageError(f"no such file: {path}")
            uploaded = client.datasets.upload(
                path, args.key or path.name, progress=bytes_callback(progress, f"upload {path.name}")
            )
            out.result(
                {"location": uploaded.location.uri, "bytes": uploaded.size},
                lambda: f"uploaded {path} to {uploaded.location.uri} ({uploaded.size} bytes)",
            )
        elif args.datasets_command == "download":
            result = client.datasets.download(
                args.location,
                Path(args.destination),
                progress=bytes_callback(progress, f"download {args.location}"),
            )
            assert not isinstance(result, bytes)
            out.result(
                {"path": args.destination, "bytes": result.bytes_written, "sha256": result.sha256},
                lambda: f"wrote {result.bytes_written} bytes to {args.destination}",
            )
    return EXIT_OK


def cmd_results(args: argparse.Namespace, out: Output) -> int:
    progress = _progress_for(args, out.err)
    with build_client(args) as client:
        files = [(url, name) for _kind, url, name in client.results.get_results(args.job).files()]
        saved = download_result_files(client.results, files, args.directory, progress=progress)
        written = [str(path) for _url, path in saved]
        out.result({"job": args.job, "files": written}, lambda: "\n".join(written) or "no result files")
    return EXIT_OK


def _summary(
    table: str, rows_in: int, rows_out: int, privacy: Dict[str, Any], signal: Dict[str, Any], files: Dict[str, Path]
) -> Dict[str, Any]:
    return {
        "table": table,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "privacy_metrics": privacy,
        "signal_metrics": signal,
        "files": {name: str(path) for name, path in sorted(files.items())},
    }


def _metric_lines(metrics: Dict[str, Any]) -> List[str]:
    lines = []
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"    {key}: {value:.4g}")
    return lines


def _human_summary(summary: Dict[str, Any], folder: Path) -> str:
    lines = [
        f"table {summary['table']}: {summary['rows_in']} rows in, {summary['rows_out']} rows out",
        "  privacy metrics:",
        *_metric_lines(summary["privacy_metrics"]),
        "  signal metrics:",
        *_metric_lines(summary["signal_metrics"]),
        f"results written to {folder.resolve()}:",
        *(f"  {name}" for name in summary["files"]),
    ]
    return "\n".join(lines)


def _run_flow(
    client: ApiClient,
    source: Path,
    *,
    table: str,
    k: int,
    ncp: Optional[int],
    seed: Optional[int],
    primary_key: Optional[str],
    output: Path,
    wait_timeout: Optional[float],
    progress: ProgressListener,
    set_name: str,
) -> Dict[str, Any]:
    from .runner import Runner

    runner = Runner(client, set_name, seed=seed, progress=progress, timeout=wait_timeout)
    runner.add_table(table, source, primary_key=primary_key)
    runner.set_parameters(table, k=k, ncp=ncp)
    runner.run()
    runner.wait()
    files = runner.download_all(output)
    with open(source, "rb") as fh:
        rows_in = max(0, sum(1 for line in fh if line.strip()) - 1)
    rows_out = len(runner.shuffled(table))
    privacy = runner.privacy_metrics(table)
    signal = runner.signal_metrics(table)
    return _summary(table, rows_in, rows_out, privacy[0] if privacy else {}, signal[0] if signal else {}, files)


def _check_k(value: int) -> None:
    if value < 1:
        raise UsageError("--k must be at least 1")


def cmd_run(args: argparse.Namespace, out: Output) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise UsageError(f"no such file: {source}")
    _check_k(args.k)
    output = Path(args.output)
    progress = _progress_for(args, out.err)
    with build_client(args) as client:
        summary = _run_flow(
            client,
            source,
            table=args.table or source.stem,
            k=args.k,
            ncp=args.ncp,
            seed=args.seed,
            primary_key=args.primary_key,
            output=output,
            wait_timeout=args.wait_timeout,
            progress=progress,
            set_name=args.set_name or f"avatars-run-{source.stem}",
        )
    out.result(summary, lambda: _human_summary(summary, output))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, out: Output) -> int:
    _refuse_connection_flags(args, "serve")
    return _serve(list(args.serve_args))


def _serve(argv: List[str]) -> int:
    from .testing.cli import serve_main

    try:
        return serve_main(argv, prog="avatars serve")
    except ImportError as exc:
        if is_missing_server_extra(exc):
            raise UsageError(server_extra_message("'avatars serve'", exc)) from None
        raise


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    _refuse_connection_flags(args, "demo")
    try:
        from .testing import LocalAvatarServer
    except ImportError as exc:
        if is_missing_server_extra(exc):
            raise UsageError(server_extra_message("'avatars demo'", exc)) from None
        raise
    output = Path(args.output)
    progress = _progress_for(args, out.err)
    email = "demo@example.com"
    password = secrets.token_urlsafe(18)
    out.note("starting a local Avatar server (its jobs use a local stand-in method, not the platform's)")
    with LocalAvatarServer(job_step_seconds=0.05) as server:
        server.admin.create_user(email, password)
        out.note(f"local server at {server.base_url}")
        with ApiClient(config=ClientConfig(base_url=server.base_url)) as client:  # no AVATAR_* here
            client.authenticate(email, password)
            summary = _run_flow(
                client,
                SAMPLE_CSV,
                table="patients",
                k=args.k,
                ncp=None,
                seed=args.seed,
                primary_key="patient_id",
                output=output,
                wait_timeout=args.wait_timeout,
                progress=progress,
                set_name="avatars-demo",
            )
    out.note("local server stopped")
    out.result(summary, lambda: _human_summary(summary, output))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit code 2
        self.exit(EXIT_USAGE, f"{self.prog}: usage error: {message} (see --help)\n")

    def _print_message(self, message: str, file: Optional[SupportsWrite[str]] = None) -> None:
        # argparse 3.11+ drops what it cannot write; a closed pipe must end the
        # command the same way on every Python (exit 141, see main()).
        if message:
            (file if file is not None else sys.stderr).write(message)


#: What a flag is when it was typed nowhere (the parent parsers below suppress
#: their defaults, so that a flag typed after ``jobs`` survives ``list``).
_SHARED_DEFAULTS: Dict[str, Any] = {
    "base_url": None,
    "api_key": None,
    "username": None,
    "password_stdin": False,
    "token_cache": None,
    "proxy": None,
    "ca_bundle": None,
    "insecure": False,
    "timeout": None,
    "json": False,
    "quiet": False,
}


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    g.add_argument("--quiet", action="store_true", help="no progress output")


def _shared_parsers() -> Tuple[_Parser, _Parser]:
    """The parent parsers: connection + output flags, and output flags alone."""
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    g = common.add_argument_group("connection (flags win over AVATAR_* environment variables)")
    g.add_argument("--base-url", help="API URL ending in /api (env AVATAR_BASE_API_URL, or AVATAR_BASE_URL)")
    g.add_argument("--api-key", help="API key (prefer env AVATAR_API_KEY: flags show up in process lists)")
    g.add_argument("--username", help="log in with this user (env AVATAR_USERNAME)")
    g.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (else env AVATAR_PASSWORD, or a prompt)",
    )
    g.add_argument("--token-cache", metavar="FILE", help="keep tokens in FILE (mode 0600) to reuse them")
    g.add_argument("--proxy", metavar="URL", help="HTTP(S) proxy, e.g. http://user:pass@proxy:3128")
    g.add_argument("--ca-bundle", metavar="PATH", help="CA bundle to verify the server's certificate")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (warns)")
    g.add_argument(
        "--timeout", type=_positive_float, metavar="S", help="per-request timeout in seconds (env AVATAR_TIMEOUT)"
    )
    _add_output_flags(common)
    output = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    _add_output_flags(output)
    return common, output


def build_parser() -> argparse.ArgumentParser:
    common, output = _shared_parsers()

    parser = _Parser(
        prog="avatars", description="Command line for the Avatar anonymization platform.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"avatars ({DISTRIBUTION}) {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("login", parents=[common], help="log in (with --token-cache, keep the tokens)")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("jobs", parents=[common], help="list, inspect, cancel or delete jobs")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION", parser_class=_Parser)
    jsub.required = True
    q = jsub.add_parser("list", parents=[common], help="list jobs")
    q.add_argument("--kind", help="only jobs of this kind (standard, privacy_metrics, ...)")
    q = jsub.add_parser("status", parents=[common], help="one job")
    q.add_argument("name", help="the job's name")
    q = jsub.add_parser("cancel", parents=[common], help="cancel a job")
    q.add_argument("name", help="the job's name")
    q = jsub.add_parser("delete", parents=[common], help="delete one or more jobs")
    q.add_argument("names", nargs="+", help="the jobs' names")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("datasets", parents=[common], help="upload, download or list data files in object storage")
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=_Parser)
    dsub.required = True
    q = dsub.add_parser("upload", parents=[common], help="upload a file under your storage prefix (streamed)")
    q.add_argument("file", help="the file to upload")
    q.add_argument("--key", help="key under your prefix (default: the file name)")
    q = dsub.add_parser("download", parents=[common], help="download a storage location (s3://...) to a file")
    q.add_argument("location", help="the storage location (s3://bucket/key, or an /access?url= URL)")
    q.add_argument("destination", help="the file to write")
    dsub.add_parser("list", parents=[common], help="list the files under your storage prefix")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("run", parents=[common], help="avatarize a CSV file end to end")
    p.add_argument("file", help="CSV file")
    p.add_argument("--k", type=int, required=True, help="number of neighbours")
    p.add_argument("--ncp", type=int, help="number of projection components (default: the platform's)")
    p.add_argument("--seed", type=int, help="random seed, for a reproducible run")
    p.add_argument("--primary-key", help="column holding each row's identifier")
    p.add_argument("--table", help="table name (default: the file name)")
    p.add_argument("--set-name", help="resource set display name")
    p.add_argument("--output", default="avatars-results", help="folder for the results (default: avatars-results)")
    p.add_argument("--wait-timeout", type=_positive_float, default=None, metavar="S", help="give up waiting after S s")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("results", parents=[common], help="download the result files of a job")
    rsub = p.add_subparsers(dest="results_command", metavar="ACTION", parser_class=_Parser)
    rsub.required = True
    q = rsub.add_parser("download", parents=[common], help="download every result file of JOB into DIR")
    q.add_argument("job", help="the job's name")
    q.add_argument("directory", help="the folder to write the files into")
    p.set_defaults(func=cmd_results)

    # Only for the list of commands: main() hands "serve ..." to the server's
    # own parser (see avatars serve --help).
    p = sub.add_parser("serve", help="run a local Avatar server (avatars serve --help)", add_help=False)
    p.add_argument("serve_args", nargs=argparse.REMAINDER, help="options of the local server")
    p.set_defaults(func=cmd_serve)

    # The demo runs on its own embedded server: no connection flags.
    p = sub.add_parser("demo", parents=[output], help="the whole flow on an embedded local server")
    p.add_argument("--output", default="avatars-demo-output", help="folder for the results")
    p.add_argument("--k", type=int, default=10, help="number of neighbours (default: 10)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--wait-timeout", type=_positive_float, default=300.0, metavar="S", help="give up waiting after S s")
    p.set_defaults(func=cmd_demo)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse, then give the shared flags that were typed nowhere their default."""
    args = parser.parse_args(argv)
    args.typed_flags = frozenset(name for name in _SHARED_DEFAULTS if hasattr(args, name))
    for name, value in _SHARED_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


def _refuse_connection_flags(args: argparse.Namespace, command: str) -> None:
    """``avatars --base-url X demo``: the demo and the local server connect to no
    server, so a connection flag there is a mistake to report, not to ignore."""
    typed = sorted(getattr(args, "typed_flags", frozenset()) - {"json", "quiet"})
    if typed:
        flags = ", ".join("--" + name.replace("_", "-") for name in typed)
        raise UsageError(f"'avatars {command}' runs its own local server and takes no connection flags ({flags})")


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, NoCredentialsError):
        return EXIT_AUTH
    if isinstance(exc, (UsageError, ConfigurationError, RequestValidationError)):
        return EXIT_USAGE
    if isinstance(exc, (AuthenticationError, PermissionDenied)):
        return EXIT_AUTH
    if isinstance(exc, (JobFailedError, WaitTimeoutError)):
        return EXIT_JOB
    if isinstance(exc, TransportError):
        return EXIT_NETWORK
    if isinstance(exc, (LocalFileError, UnsafeFileNameError)):
        return EXIT_LOCAL
    return EXIT_API


def main(argv: Optional[List[str]] = None, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    out_stream = stdout if stdout is not None else sys.stdout
    err_stream = stderr if stderr is not None else sys.stderr
    raw = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(raw, out_stream, err_stream)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, like any command
        # stopped by SIGPIPE, and let nothing flush into the closed pipe again.
        for stream in (out_stream, err_stream):
            _silence(stream)
        return EXIT_BROKEN_PIPE


def _silence(stream: TextIO) -> None:
    """Point a real standard stream whose pipe is closed at /dev/null."""
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fileno)
    finally:
        os.close(devnull)


def _main(raw: List[str], out_stream: TextIO, err_stream: TextIO) -> int:
    if raw[:1] == ["serve"]:
        # everything after "serve" belongs to the server's own parser (argparse's
        # REMAINDER cannot take options such as --port).
        try:
            return _serve(raw[1:])
        except UsageError as exc:
            err_stream.write(f"avatars: error: {exc}\n")
            return EXIT_USAGE
    parser = build_parser()
    try:
        args = parse_args(parser, raw)
    except SystemExit as exc:
        # --help and --version text may still sit in a buffered stdout: write it
        # now, so that a closed pipe ends here (exit 141), not in the interpreter's
        # final flush ("Exception ignored ... BrokenPipeError", exit 120).
        out_stream.flush()
        if sys.stdout is not None and sys.stdout is not out_stream:
            sys.stdout.flush()
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(bool(args.json), out_stream, err_stream)
    try:
        code: int = args.func(args, out)
        return code
    except KeyboardInterrupt:
        out.note("avatars: interrupted")
        return EXIT_INTERRUPTED
    except (UsageError, AvatarError) as exc:
        code = _exit_code(exc)
        message = " ".join(str(exc).split())
        if isinstance(exc, ApiError) and exc.status_code is not None and not message.startswith(str(exc.status_code)):
            message = f"{exc.status_code} {message}"
        out.note(f"avatars: error: {message}")
        if args.json:
            out_stream.write(json_text({"error": message, "type": type(exc).__name__, "exit_code": code}) + "\n")
        return code
    except BrokenPipeError:
        raise
    except OSError as exc:  # a local file problem (permissions, disk full)
        out.note(f"avatars: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_LOCAL


def console_main() -> None:  # pragma: no cover - the installed script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
