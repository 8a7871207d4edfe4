"""A threaded werkzeug server with HTTP/1.1 keep-alive, for the local server.

Why not ``werkzeug.serving.make_server`` as is: its request handler adds
``Connection: close`` to every response (werkzeug >= 2.1), so a client could
never reuse a connection, and with TLS it does the handshake in the accepting
thread. This module keeps werkzeug's WSGI environ building and threaded
server, and replaces:

* ``run_wsgi``: no forced ``Connection: close``; the request body is wrapped so
  that the unread rest can be drained (up to :data:`DRAIN_LIMIT` bytes, else
  the connection is closed) before the next request on the connection (a
  client such as requests sends the whole body before reading the answer, so
  closing early would only turn an error answer into a connection reset);
  ``Transfer-Encoding: chunked`` request bodies are decoded.
* connection handling: each accepted connection gets a named thread
  (``<name>-conn-N``), is counted (``connections_opened``) and tracked, TLS is
  negotiated in that thread, and :meth:`KeepAliveServer.close` closes every
  open connection and joins every thread.
* aborts: the WSGI app may set ``environ[ENV_ABORT]`` to ``"close"`` or
  ``"rst"``; the handler then sends nothing more (what was sent stays sent)
  and closes the connection, abortively (SO_LINGER 0, a TCP reset) for
  ``"rst"``. This is how the fault injector drops connections before the
  response or in the middle of the body. ``environ["werkzeug.socket"]`` holds
  the connection's socket, as with werkzeug's own handler.
* logging: werkzeug's access log goes to the ``avatars.testing`` logger at
  DEBUG, with secret query values redacted; nothing is printed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import ssl
import struct
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .requestlog import redact_query

logger = logging.getLogger(__name__)

ENV_ABORT = "avatars.testing.abort"
ENV_CONNECTION_ID = "avatars.testing.connection_id"
ENV_STOP_EVENT = "avatars.testing.stop_event"
DRAIN_LIMIT = 4 * 1024 * 1024 * 1024
_DRAIN_CHUNK = 1024 * 1024
_COALESCE_LIMIT = 64 * 1024


class _LengthInput(io.RawIOBase):
    """The request body with a ``Content-Length``: never reads past it."""

    def __init__(self, rfile: Any, length: int) -> None:
        super().__init__()
        self._rfile = rfile
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)
        wanted = min(len(view), self.remaining)
        data = self._rfile.read(wanted)
        if not data:
            raise ConnectionResetError("client closed the connection mid-body")
        view[: len(data)] = data
        self.remaining -= len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.remaining
        size = min(size, self.remaining)
        if size <= 0:
            return b""
        data = self._rfile.read(size)
        if not data:
            raise ConnectionResetError("client closed the connection mid-body")
        self.remaining -= len(data)
        return bytes(data)

    def drain(self, limit: int) -> bool:
        if self.remaining > limit:
            return False
        while self.remaining > 0:
            if not self.read(min(_DRAIN_CHUNK, self.remaining)):
                return False
        return True


class _ChunkedInput(io.RawIOBase):
    """A ``Transfer-Encoding: chunked`` request body, decoded."""

    def __init__(self, rfile: Any) -> None:
        super().__init__()
        self._rfile = rfile
        self._left = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        line = self._rfile.readline(1024)
        if not line:
            raise ConnectionResetError("client closed the connection mid-body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise OSError("invalid chunk header") from None
        if size < 0:
            raise OSError("negative chunk size")
        if size == 0:
            # trailers, up to the empty line
            while True:
                trailer = self._rfile.readline(8192)
                if trailer in (b"\r\n", b"\n", b""):
                    break
            self.done = True
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if self.done:
            return b""
        if self._left == 0:
            self._next_chunk()
            if self.done:
                return b""
        if size is None or size < 0:
            size = self._left
        size = min(size, self._left)
        data = self._rfile.read(size)
        if not data:
            raise ConnectionResetError("client closed the connection mid-body")
        self._left -= len(data)
        if self._left == 0:
            self._rfile.readline(2)  # CRLF after the chunk data
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def drain(self, limit: int) -> bool:
        total = 0
        while not self.done:
            data = self.read(_DRAIN_CHUNK)
            total += len(data)
            if total > limit:
                return False
        return True


def redacted_target(target: str) -> str:
    """A request target with secret query values redacted (for logs)."""
    parts = urlsplit(target)
    if not parts.query:
        return parts.path
    query = urlencode(redact_query(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{parts.path}?{query}"


class KeepAliveRequestHandler(WSGIRequestHandler):
    """See the module docstring."""

    protocol_version = "HTTP/1.1"
    server: KeepAliveServer

    def run_wsgi(self) -> None:
        # ``Expect: 100-continue`` was answered by http.server's parse_request (handle_expect_100)
        self.environ = environ = self.make_environ()
        body: Any
        transfer_encoding = self.headers.get("Transfer-Encoding", "")
        if "chunked" in transfer_encoding.lower():
            body = _ChunkedInput(self.rfile)
            environ["wsgi.input_terminated"] = True
            environ.pop("CONTENT_LENGTH", None)
        else:
            raw_length = self.headers.get("Content-Length")
            try:
                length = int(raw_length) if raw_length is not None else 0
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                length = 0
            body = _LengthInput(self.rfile, length)
        environ["wsgi.input"] = body
        environ[ENV_CONNECTION_ID] = self.server.connection_id(self.request)
        environ[ENV_STOP_EVENT] = self.server.stop_event

        status_set: Optional[str] = None
        headers_set: Optional[List[Tuple[str, str]]] = None
        headers_sent = False
        chunk_response = False

        def aborted() -> bool:
            return bool(environ.get(ENV_ABORT))

        def write(data: bytes) -> None:
            nonlocal headers_sent, chunk_response
            if aborted():
                return
            assert status_set is not None and headers_set is not None
            if not headers_sent:
                headers_sent = True
                code_str, _, msg = status_set.partition(" ")
                code = int(code_str)
                self.send_response(code, msg)
                keys = set()
                for key, value in headers_set:
                    self.send_header(key, value)
                    keys.add(key.lower())
                if "connection" in keys and any(
                    k.lower() == "connection" and v.lower() == "close" for k, v in headers_set
                ):
                    self.close_connection = True
                if not (
                    "content-length" in keys
                    or environ["REQUEST_METHOD"] == "HEAD"
                    or 100 <= code < 200
                    or code in (204, 304)
                ):
                    chunk_response = True
                    self.send_header("Transfer-Encoding", "chunked")
                if isinstance(body, _LengthInput) and body.remaining > DRAIN_LIMIT:
                    self.close_connection = True  # too much unread body to drain
                if self.close_connection and "connection" not in keys:
                    self.send_header("Connection", "close")
                buffered = getattr(self, "_headers_buffer", None)
                if isinstance(buffered, list) and data and not chunk_response and len(data) <= _COALESCE_LIMIT:
                    # one send for the head and a small body
                    buffered.append(b"\r\n")
                    self._headers_buffer: List[bytes] = []
                    self.wfile.write(b"".join(buffered) + data)
                    self.wfile.flush()
                    return
                self.end_headers()
            if data:
                if chunk_response:
                    self.wfile.write(f"{len(data):x}\r\n".encode("ascii"))
                    self.wfile.write(data)
                    self.wfile.write(b"\r\n")
                else:
                    self.wfile.write(data)
            self.wfile.flush()

        def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status_set, headers_set
            if exc_info:
                try:
                    if headers_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            status_set = status
            headers_set = headers
            return write

        app_iter: Optional[Iterable[bytes]] = None
        try:
            app_iter = self.server.app(environ, start_response)
            for data in app_iter:
                write(data)
                if aborted():
                    break
            if not aborted():
                if not headers_sent:
                    write(b"")
                if chunk_response:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
        except (ConnectionError, socket.timeout, ssl.SSLError, OSError) as exc:
            logger.debug("connection dropped while answering: %r", exc)
            self.close_connection = True
        except Exception:
            logger.exception("error while answering %s %s", self.command, redacted_target(self.path))
            self.close_connection = True
            if not headers_sent and not aborted():
                payload = b'{"detail":"Internal Server Error"}'
                try:
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # pragma: no cover - defensive
                    logger.exception("error closing the response iterator")
        abort = environ.get(ENV_ABORT)
        if abort:
            self.close_connection = True
            self.server.mark_abort(self.request, rst=(abort == "rst"))
            return
        if not self.close_connection:
            try:
                if not body.drain(DRAIN_LIMIT):
                    self.close_connection = True
            except (OSError, ValueError):
                self.close_connection = True

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ssl.SSLError) as exc:
            logger.debug("connection error: %r", exc)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        try:
            target = redacted_target(self.path)
        except AttributeError:
            target = "?"
        logger.debug("%s %s %s -> %s", self.server.name, self.command, target, code)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        logger.debug("%s: " + format, self.server.name, *args)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        logger.debug("%s: " + format, self.server.name, *args)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (base signature)
        logger.debug("%s: " + message.rstrip(), self.server.name, *args)


class KeepAliveServer(ThreadedWSGIServer):
    """A threaded WSGI server on one listening socket (see the module docstring)."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        *,
        name: str,
        ssl_context: Optional[ssl.SSLContext] = None,
        stop_event: Optional[threading.Event] = None,
        connection_timeout: float = 120.0,
        handshake_timeout: float = 10.0,
    ) -> None:
        super().__init__(host, port, app, handler=KeepAliveRequestHandler)
        # TLS is negotiated per connection in its own thread (see _serve_connection);
        # werkzeug's environ reads ``ssl_context`` to pick the "https" url scheme.
        self.ssl_context = ssl_context
        self.name = name
        self.stop_event = stop_event or threading.Event()
        self.connection_timeout = connection_timeout
        self.handshake_timeout = handshake_timeout
        self._lock = threading.Lock()
        self._connections: Dict[int, Tuple[socket.socket, threading.Thread]] = {}
        self._ids: Dict[int, int] = {}
        self._rst: Set[int] = set()
        self._closing = False
        self.connections_opened = 0
        self._serve_thread: Optional[threading.Thread] = None

    # -- connection tracking ---------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._closing:
                try:
                    request.close()
                except OSError:
                    pass
                return
            self.connections_opened += 1
            conn_id = self.connections_opened
            thread = threading.Thread(
                target=self._serve_connection,
                args=(request, client_address, conn_id),
                name=f"{self.name}-conn-{conn_id}",
                daemon=True,
            )
            self._connections[conn_id] = (request, thread)
            self._ids[id(request)] = conn_id
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any, conn_id: int) -> None:
        sock: socket.socket = request
        try:
            try:
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            if self.ssl_context is not None:
                request.settimeout(self.handshake_timeout)
                try:
                    sock = self.ssl_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    logger.debug("%s: TLS handshake failed: %r", self.name, exc)
                    try:
                        request.close()
                    except OSError:
                        pass
                    return
                with self._lock:
                    thread = self._connections[conn_id][1]
                    self._connections[conn_id] = (sock, thread)
                    self._ids.pop(id(request), None)
                    self._ids[id(sock)] = conn_id
            sock.settimeout(self.connection_timeout)
            self.finish_request(sock, client_address)
        except Exception as exc:  # noqa: BLE001 - a connection thread never dies noisily
            logger.debug("%s: connection %d ended with %r", self.name, conn_id, exc)
        finally:
            self.shutdown_request(sock)
            with self._lock:
                self._connections.pop(conn_id, None)
                self._ids.pop(id(sock), None)
                self._rst.discard(conn_id)

    def connection_id(self, sock: Any) -> Optional[int]:
        with self._lock:
            return self._ids.get(id(sock))

    def mark_abort(self, sock: Any, *, rst: bool) -> None:
        if not rst:
            return
        conn_id = self.connection_id(sock)
        if conn_id is not None:
            with self._lock:
                self._rst.add(conn_id)

    def shutdown_request(self, request: Any) -> None:
        conn_id = self.connection_id(request)
        with self._lock:
            rst = conn_id is not None and conn_id in self._rst
        with contextlib.suppress(OSError):
            if rst:  # abortive close: the client sees a reset
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                socket.socket.shutdown(request, socket.SHUT_WR)
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("%s: error on a connection from %s", self.name, client_address, exc_info=True)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (base signature)
        logger.debug("%s: " + message, self.name, *args)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._serve_thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-listener",
            daemon=True,
        )
        self._serve_thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every open connection, join every thread."""
        if self._serve_thread is not None:
            self.shutdown()
            self._serve_thread.join(timeout)
            self._serve_thread = None
        try:
            self.socket.close()
        except OSError:
            pass
        with self._lock:
            self._closing = True
            connections = list(self._connections.values())
        for sock, _ in connections:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("%s: connection thread %s did not stop", self.name, thread.name)

    @property
    def threads(self) -> List[threading.Thread]:
        with self._lock:
            threads = [thread for _, thread in self._connections.values()]
        if self._serve_thread is not None:
            threads.append(self._serve_thread)
        return threads
