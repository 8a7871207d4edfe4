"""A small raw-socket HTTP server that misbehaves on purpose, for tests.

The local Avatar server (werkzeug) cannot trickle its headers, send a broken
``Location``, a gzip bomb or JSON nested 100,000 deep.  This one can: each
connection reads one request and answers with the bytes the test scripts.

Threaded, bound to 127.0.0.1 on a free port, bounded: every socket has a
timeout, the accept loop stops on :meth:`HostileServer.stop`, and each
script step has a time limit, so a wrong client cannot hang the suite.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence, Union

#: What a handler gives back: whole bytes, or pieces with pauses between them,
#: and :data:`CLOSE` to end the connection there.
Step = Union[bytes, "Pause", "Close"]


@dataclass
class Pause:
    seconds: float


class Close:
    """A step that closes the connection (what follows it is not sent)."""


CLOSE = Close()


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Received], Sequence[Step]]


@dataclass
class HostileServer:
    handler: Handler
    #: Longest time any one connection may live (bounds trickling scripts).
    connection_limit: float = 30.0
    requests: List[Received] = field(default_factory=list)
    #: Connections accepted so far.
    connections: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="hostile-accept", daemon=True)
        self._accept.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api"

    def stop(self) -> None:
        self._stop.set()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        started = time.monotonic()
        conn.settimeout(5.0)
        try:
            while not self._stop.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                self.requests.append(request)
                for step in self.handler(request):
                    if self._stop.is_set() or time.monotonic() - started > self.connection_limit:
                        return
                    if isinstance(step, Close):
                        return
                    if isinstance(step, Pause):
                        self._stop.wait(step.seconds)
                    else:
                        conn.sendall(step)
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass


def _read_request(conn: socket.socket) -> Optional[Received]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Received(method, path, headers, rest[:length])


# ---------------------------------------------------------------------- answers


def answer(
    status: int = 200,
    body: bytes = b"",
    headers: Optional[dict[str, str]] = None,
    *,
    reason: str = "X",
    close: bool = False,
) -> bytes:
    """One complete HTTP/1.1 answer."""
    fields = {"Content-Length": str(len(body))}
    if close:
        fields["Connection"] = "close"
    fields.update(headers or {})
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


def json_answer(text: str, status: int = 200, headers: Optional[dict[str, str]] = None) -> bytes:
    return answer(status, text.encode(), {"Content-Type": "application/json", **(headers or {})})


def trickle(data: bytes, every: float) -> Iterator[Step]:
    """``data`` one byte at a time, ``every`` seconds apart."""
    for i in range(len(data)):
        yield data[i : i + 1]
        yield Pause(every)


def gzip_bomb(decoded_size: int) -> bytes:
    """A gzip stream of ``decoded_size`` spaces (compresses about 1000:1)."""
    out = bytearray()
    compressor = gzip.GzipFile(fileobj=_Sink(out), mode="wb", compresslevel=9)
    block = b" " * (1 << 20)
    left = decoded_size
    while left > 0:
        piece = block[: min(left, len(block))]
        compressor.write(piece)
        left -= len(piece)
    compressor.close()
    return bytes(out)


class _Sink:
    def __init__(self, out: bytearray) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        self.out += data
        return len(data)

    def flush(self) -> None:
        pass
