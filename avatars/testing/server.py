"""``LocalAvatarServer``: the local Avatar API server and its storage origin.

::

    with LocalAvatarServer(job_step_seconds=0.01) as server:
        user = server.admin.create_user("alice@example.com", "s3cret")
        key = server.admin.create_api_key(user)
        requests.get(server.base_url + "/users/me",
                     headers={"Authorization": f"api-key-v1 {key}"})

Two listeners on ``host`` (default 127.0.0.1), each on a free port unless
given: the API (``base_url = http(s)://127.0.0.1:PORT/api``, with the S3
object store beside it at ``storage_endpoint_url = .../storage``, as on the
platform) and the same object store on another origin (``storage_base_url``,
path-style at its root; see :mod:`avatars.testing.storage`). Both are threaded werkzeug
servers with HTTP/1.1 keep-alive (see :mod:`avatars.testing.serving`). Pass an
:class:`ssl.SSLContext` for TLS (a context with ``verify_mode=CERT_REQUIRED``
and a CA loaded gives mutual TLS); the storage origin uses the same context
unless ``storage_ssl_context`` says otherwise.

``api_version=3`` makes the API act as a 3.x platform (no ``/login``,
``/refresh`` or user admin; ``/capabilities``, ``POST /jobs/flow``,
``POST /jobs/{name}/cancel`` and the ``names=`` filter); the default, 2, is
the 2.90 baseline.  ``server.admin.set_api_version()`` switches at run time.

``stop()`` (also on leaving the ``with`` block) shuts both listeners down,
closes every open connection, joins every connection and job thread and, in
memory mode, deletes the temporary file directory. It is idempotent.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Type, Union

from .._version import __version__
from .admin import ServerAdmin
from .admin_http import AdminHttp
from .app import ApiApp
from .avatarize import DEFAULT_MAX_ROWS
from .faults import FaultRegistry
from .jobs import JobRunner
from .operations import OperationRegistry
from .requestlog import RequestLog
from .serving import KeepAliveServer
from .state import ServerState, Settings
from .storage import STORAGE_PREFIX, MountedStore, StorageApp
from .store import Store

logger = logging.getLogger(__name__)


SUPPORTED_API_VERSIONS = (2, 3)


def check_api_version(value: int) -> int:
    """The platform API major version to act as: 2 (2.90, the baseline) or 3 (3.x)."""
    if value not in SUPPORTED_API_VERSIONS:
        raise ValueError(f"api_version must be one of {SUPPORTED_API_VERSIONS}, got {value!r}")
    return value


class _Same:
    """Sentinel: the storage origin uses the API's TLS context."""


SAME_AS_API = _Same()


class LocalAvatarServer:
    """See the module docstring. All arguments are keyword-only."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        storage_port: int = 0,
        data_dir: Optional[Union[str, Path]] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        storage_ssl_context: Union[ssl.SSLContext, None, _Same] = SAME_AS_API,
        access_token_lifetime: float = 3600.0,
        refresh_token_lifetime: float = 30 * 86400.0,
        refresh_rotation: bool = True,
        job_step_seconds: float = 0.05,
        job_steps: int = 5,
        job_workers: int = 2,
        max_rows: int = DEFAULT_MAX_ROWS,
        min_client_version: str = "0.1.0",
        latest_client_version: str = __version__,
        admin_secret: Optional[str] = None,
        connection_timeout: float = 120.0,
        api_version: int = 2,
    ) -> None:
        self.host = host
        self._port = port
        self._storage_port = storage_port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.ssl_context = ssl_context
        self.storage_ssl_context: Optional[ssl.SSLContext] = (
            ssl_context if isinstance(storage_ssl_context, _Same) else storage_ssl_context
        )
        self._settings = Settings(
            access_token_lifetime=access_token_lifetime,
            refresh_token_lifetime=refresh_token_lifetime,
            refresh_rotation=refresh_rotation,
            min_client_version=min_client_version,
            latest_client_version=latest_client_version,
            api_version=check_api_version(api_version),
        )
        self._job_options: Dict[str, Any] = {
            "workers": job_workers,
            "step_seconds": job_step_seconds,
            "steps": job_steps,
            "max_rows": max_rows,
        }
        #: The secret of the ``/_admin`` HTTP API (random unless given).
        self.admin_secret = admin_secret if admin_secret is not None else secrets.token_hex(16)
        self.connection_timeout = connection_timeout
        self._lock = threading.Lock()
        self._state: Optional[ServerState] = None
        self._admin: Optional[ServerAdmin] = None
        self._api: Optional[KeepAliveServer] = None
        self._storage: Optional[KeepAliveServer] = None
        self._started = False
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalAvatarServer:
        with self._lock:
            if self._started:
                raise RuntimeError("this LocalAvatarServer was already started")
            self._started = True
        store = Store(self.data_dir)
        runner = JobRunner(store, **self._job_options)
        state = ServerState(store=store, settings=self._settings, runner=runner, admin_secret=self.admin_secret or None)
        self._state = state
        self._admin = ServerAdmin(state)
        try:
            self._storage = self._make_server(
                StorageApp(state), self._storage_port, "avatars-testing-storage", self.storage_ssl_context
            )
            api_app = ApiApp(state, AdminHttp(state, self._admin, self.stats))
            front = MountedStore(api_app, StorageApp(state, STORAGE_PREFIX))
            self._api = self._make_server(front, self._port, "avatars-testing-api", self.ssl_context)
            state.base_url = self.base_url
            state.storage_base_url = self.storage_base_url
            runner.start()
            self._storage.start()
            self._api.start()
        except BaseException:
            self.stop()
            raise
        logger.info("local Avatar server on %s (storage %s)", self.base_url, self.storage_base_url)
        return self

    def _make_server(self, app: Any, port: int, name: str, context: Optional[ssl.SSLContext]) -> KeepAliveServer:
        assert self._state is not None
        try:
            return KeepAliveServer(
                self.host,
                port,
                app,
                name=name,
                ssl_context=context,
                stop_event=self._state.stop_event,
                connection_timeout=self.connection_timeout,
            )
        except SystemExit as exc:  # werkzeug exits on bind errors
            raise OSError(f"cannot listen on {self.host}:{port}") from exc

    def stop(self) -> None:
        """Stop everything (idempotent); see the module docstring."""
        with self._lock:
            if self._stopped or not self._started:
                self._stopped = True
                return
            self._stopped = True
        state = self._state
        if state is not None:
            state.stop_event.set()
        for server in (self._api, self._storage):
            if server is not None:
                server.close()
        if state is not None:
            state.runner.stop()
            state.store.close()
        logger.info("local Avatar server stopped")

    def __enter__(self) -> LocalAvatarServer:
        return self.start()

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.stop()

    @property
    def api_version(self) -> int:
        """The platform API major version this server acts as (2 or 3)."""
        return self._settings.api_version

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    # -- addresses ----------------------------------------------------------------------

    def _require(self) -> ServerState:
        if self._state is None:
            raise RuntimeError("the server is not started")
        return self._state

    @property
    def port(self) -> int:
        if self._api is None:
            raise RuntimeError("the server is not started")
        return int(self._api.server_address[1])

    @property
    def storage_port(self) -> int:
        if self._storage is None:
            raise RuntimeError("the server is not started")
        return int(self._storage.server_address[1])

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http(s)://HOST:PORT/api``."""
        return self.origin + "/api"

    @property
    def storage_endpoint_url(self) -> str:
        """The S3 endpoint beside the API, ``http(s)://HOST:PORT/storage`` (the platform's default)."""
        return self.origin + STORAGE_PREFIX

    @property
    def storage_base_url(self) -> str:
        """The same S3 store on a second origin, ``http(s)://HOST:PORT2`` (path-style at its root)."""
        scheme = "https" if self.storage_ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.storage_port}"

    def url(self, path: str) -> str:
        """``base_url`` + ``path`` (``path`` relative to ``/api``, leading slash optional)."""
        return self.base_url + "/" + path.lstrip("/")

    # -- test helpers ----------------------------------------------------------------------

    @property
    def admin(self) -> ServerAdmin:
        self._require()
        assert self._admin is not None
        return self._admin

    @property
    def faults(self) -> FaultRegistry:
        return self._require().faults

    @property
    def operations(self) -> OperationRegistry:
        """Deferrals of the created-operation protocol (see :mod:`avatars.testing.operations`)."""
        return self._require().operations

    @property
    def log(self) -> RequestLog:
        """The API origin's request log."""
        return self._require().api_log

    @property
    def storage_log(self) -> RequestLog:
        """The storage origin's request log."""
        return self._require().storage_log

    def count(self, method: Optional[str] = None, path: Optional[str] = None) -> int:
        """How many API requests matched (``path`` exact, or a glob with ``*``)."""
        return self.log.count(method, path)

    def reset_log(self) -> None:
        """Clear both request logs (connection counters are not reset)."""
        self._require()
        assert self._admin is not None
        self._admin.reset_log()

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted by the API listener since start."""
        return self._api.connections_opened if self._api is not None else 0

    @property
    def storage_connections_opened(self) -> int:
        return self._storage.connections_opened if self._storage is not None else 0

    @property
    def store(self) -> Store:
        return self._require().store

    @property
    def settings(self) -> Settings:
        return self._settings

    def stats(self) -> Dict[str, Any]:
        return {
            "connections_opened": self.connections_opened,
            "storage_connections_opened": self.storage_connections_opened,
            "open_connections": self._api.open_connections if self._api else 0,
            "requests": len(self.log) if self._state else 0,
            "storage_requests": len(self.storage_log) if self._state else 0,
        }

    def threads(self) -> List[threading.Thread]:
        """Threads of this server still alive (listeners, connections, job workers)."""
        out: List[threading.Thread] = []
        for server in (self._api, self._storage):
            if server is not None:
                out.extend(server.threads)
        if self._state is not None:
            out.extend(self._state.runner.threads)
        return [t for t in out if t.is_alive()]

    def wait_for_job(self, job_name: str, timeout: float = 30.0) -> str:
        """Block until a job has ended; returns its status (test helper, no HTTP)."""
        import time

        state = self._require()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = state.store.jobs.get(job_name)
            if job is None:
                raise KeyError(job_name)
            if job.done:
                return job.status
            time.sleep(0.02)
        raise TimeoutError(f"job {job_name} did not end within {timeout} s")

    def __repr__(self) -> str:
        where = self.base_url if self.running else "not running"
        return f"<LocalAvatarServer {where}>"
