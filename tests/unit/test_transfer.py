"""Streaming uploads and downloads: memory, chunking, progress, rewinding, interruptions."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
import requests
import responses
from responses import matchers

from avatars import (
    ApiClient,
    ApiConnectionError,
    ApiTimeoutError,
    RequestNotRetryableError,
    RequestValidationError,
    TransportError,
)
from avatars.errors import DecompressionLimitError, ResponseDecodeError
from avatars.transfer import (
    DecompressionLimit,
    DownloadResult,
    FileBody,
    check_destination,
    iter_decoded,
    open_upload,
    save_response,
)

from ._streaming import Received, StreamingAdapter, session_with
from .conftest import AUTH, BASE, login_body

MiB = 1024 * 1024
BIG = 50 * MiB


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, str]:
    """A 50 MiB file (varied bytes, so a misplaced chunk changes the hash) and its SHA-256."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    digest = hashlib.sha256()
    block = bytes(range(256)) * (MiB // 256)
    with open(path, "wb") as handle:
        for i in range(BIG // MiB):
            chunk = block[i:] + block[:i]
            handle.write(chunk)
            digest.update(chunk)
    return path, digest.hexdigest()


class Progress:
    def __init__(self) -> None:
        self.calls: List[Tuple[int, Optional[int]]] = []

    def __call__(self, done: int, total: Optional[int]) -> None:
        self.calls.append((done, total))

    def assert_complete(self, total: Optional[int], size: int) -> None:
        assert self.calls, "progress was never called"
        assert self.calls[0] == (0, total)
        done = [d for d, _ in self.calls]
        assert done == sorted(done), "progress went backwards"
        assert done[-1] == size
        assert {t for _, t in self.calls} == {total}


#: Stand-in endpoints: these tests are about avatars.transfer, which streams any
#: body through ApiClient.request (the platform's data goes to object storage,
#: see test_storage.py).
UPLOAD_URL = f"{BASE}/uploads"
DOWNLOAD_URL = f"{BASE}/downloads/1"


def send_upload(client: ApiClient, source: Any, *, progress: Any = None) -> Any:
    """POST ``source`` as avatars.transfer streams it; the decoded JSON answer."""
    with open_upload(source, progress=progress) as upload:
        response = client.request(
            "POST", "uploads", data=upload.body, headers={"Content-Type": "application/octet-stream"}
        )
    return client.decode_json(response)


def fetch(client: ApiClient, destination: Any, *, progress: Any = None, durable: bool = False) -> DownloadResult:
    """GET the stand-in download and save it with avatars.transfer."""
    check_destination(destination)
    response = client.request("GET", "downloads/1", stream=True)
    return save_response(response, destination, progress=progress, durable=durable)


def dataset_answer(received: Received) -> Tuple[int, dict, Any]:
    return 201, {}, {"hash": received.sha256, "size": received.size}


class Capture:
    """A ``responses`` callback that keeps the body it was sent.

    Recent ``responses`` versions read a file-like body before the callback
    runs (the request then holds bytes); older ones hand the file-like body
    over unread.  Either way, this reads what the client sent.
    """

    def __init__(self) -> None:
        self.bodies: List[bytes] = []

    def __call__(self, request: requests.PreparedRequest) -> Tuple[int, dict, str]:
        body: Any = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            body = body.read() if hasattr(body, "read") else b"".join(body)
        self.bodies.append(body.encode() if isinstance(body, str) else body)
        return 201, {}, json.dumps({"stored": True})


# ---------------------------------------------------------------- uploads through responses


def test_create_dataset_from_path(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    content = b"id,age\n1,30\n2,40\n"
    source = tmp_path / "data.csv"
    source.write_bytes(content)
    capture = Capture()
    rsps.add_callback(
        responses.POST,
        UPLOAD_URL,
        callback=capture,
        match=[
            matchers.header_matcher(
                {**AUTH, "Content-Type": "application/octet-stream", "Content-Length": str(len(content))}
            ),
        ],
    )
    dataset = send_upload(ApiClient(BASE, api_key="key-1"), source)
    assert dataset == {"stored": True}
    assert capture.bodies == [content]
    assert "Transfer-Encoding" not in rsps.calls[0].request.headers


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_create_dataset_from_buffers(rsps: responses.RequestsMock, kind: Callable[[bytes], Any]) -> None:
    content = b"a,b\n" * 100
    capture = Capture()
    rsps.add_callback(
        responses.POST,
        UPLOAD_URL,
        callback=capture,
        match=[
            matchers.header_matcher({"Content-Length": str(len(content))}),
        ],
    )
    send_upload(ApiClient(BASE, api_key="key-1"), kind(content))
    assert capture.bodies == [content]


def test_create_dataset_from_a_file_object_starts_at_its_position(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"HEADER-TO-SKIP\nrow1\nrow2\n")
    capture = Capture()
    rsps.add_callback(responses.POST, UPLOAD_URL, callback=capture)
    with open(path, "rb") as handle:
        handle.seek(len(b"HEADER-TO-SKIP\n"))
        send_upload(ApiClient(BASE, api_key="key-1"), handle)
        assert not handle.closed  # the caller's file is left open
    assert capture.bodies == [b"row1\nrow2\n"]
    assert rsps.calls[0].request.headers["Content-Length"] == "10"


def test_create_dataset_from_a_generator_is_chunked() -> None:
    chunks = [b"id,age\n", b"", bytearray(b"1,30\n"), b"2,40\n"]
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    progress = Progress()
    dataset = send_upload(client, (c for c in chunks), progress=progress)
    (received,) = adapter.received
    assert received.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in received.headers
    assert received.size == 17 and received.sha256 == hashlib.sha256(b"id,age\n1,30\n2,40\n").hexdigest()
    assert dataset["hash"] == received.sha256
    progress.assert_complete(None, 17)
    assert progress.calls == [(0, None), (7, None), (12, None), (17, None)]


@pytest.mark.parametrize(
    "source,field",
    [
        ("/nonexistent/data.csv", "source"),
        (io.StringIO("a,b"), "source"),
        (12345, "source"),
        ({"a": 1}, "source"),
    ],
)
def test_bad_upload_sources_send_nothing(rsps: responses.RequestsMock, source: Any, field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        send_upload(ApiClient(BASE, api_key="key-1"), source)
    assert info.value.field == field
    assert len(rsps.calls) == 0


def test_a_generator_yielding_text_is_refused() -> None:
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    with pytest.raises(RequestValidationError, match="chunk 1 is str"):
        send_upload(client, iter([b"ok", "text"]))


# ---------------------------------------------------------------- uploads: memory and chunking


class ReadSpy(io.RawIOBase):
    """A file that records the size of every read() asked of it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.sizes: List[Any] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: Any = -1) -> bytes:
        self.sizes.append(size)
        return self.handle.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def fileno(self) -> int:
        return self.handle.fileno()


def test_50mb_upload_from_a_path_streams(big_file: Tuple[Path, str]) -> None:
    path, sha = big_file
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    progress = Progress()
    tracemalloc.start()
    try:
        dataset = send_upload(client, path, progress=progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (received,) = adapter.received
    assert received.size == BIG and received.sha256 == sha and dataset["hash"] == sha
    assert received.headers["Content-Length"] == str(BIG) and "Transfer-Encoding" not in received.headers
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB while uploading 50 MiB"
    progress.assert_complete(BIG, BIG)
    assert len(progress.calls) > 100  # reported as it goes, not once at the end


def test_upload_from_a_file_reads_the_source_in_bounded_chunks(big_file: Tuple[Path, str]) -> None:
    path, sha = big_file
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    with open(path, "rb") as handle:
        spy = ReadSpy(handle)
        tracemalloc.start()
        try:
            send_upload(client, spy)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert adapter.received[0].sha256 == sha
    assert spy.sizes, "the source was never read"
    assert all(isinstance(n, int) and 0 < n <= 16384 for n in spy.sizes), set(spy.sizes)
    assert peak < 4 * MiB


def test_file_body_is_what_requests_needs(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"0123456789")
    with open(path, "rb") as handle:
        handle.seek(2)
        upload = open_upload(handle)
        body = upload.body
        assert isinstance(body, FileBody) and upload.total == 8 and upload.rewindable
        assert requests.utils.super_len(body) == 8
        assert body.read(3) == b"234" and body.tell() == 3
        assert requests.utils.super_len(body) == 5
        body.seek(0)
        assert body.read() == b"23456789" and body.read(5) == b""
        body.seek(-2, io.SEEK_END)
        assert body.read() == b"89"
        assert b"".join(iter(body)) == b""
        body.seek(0)
        assert b"".join(iter(body)) == b"23456789"
        upload.close()
        assert not handle.closed


def test_a_file_that_shrinks_during_upload_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"x" * MiB)
    upload = open_upload(path)
    assert upload.body.read(10) == b"x" * 10
    with open(path, "r+b") as handle:
        handle.truncate(100_000)
    with pytest.raises(TransportError, match=f"ended after 100000 of {MiB} bytes"):
        for _ in range(100):
            upload.body.read(16384)
    upload.close()


def test_an_unseekable_stream_is_sent_chunked() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped,data\n")
    os.close(write_fd)
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    with os.fdopen(read_fd, "rb") as pipe:
        send_upload(client, pipe)
    (received,) = adapter.received
    assert received.headers.get("Transfer-Encoding") == "chunked"
    assert received.sha256 == hashlib.sha256(b"piped,data\n").hexdigest()


# ---------------------------------------------------------------- uploads: re-sent after a token refresh


def refreshing_handler(state: dict) -> Callable[[Received], Tuple[int, dict, Any]]:
    def handle(received: Received) -> Tuple[int, dict, Any]:
        if received.url.endswith("/refresh"):
            return 200, {}, login_body("access-2", "refresh-2")
        if received.headers.get("Authorization") == "Bearer access-1":
            return 401, {}, {"detail": {"message": "credentials expired"}}
        state.setdefault("bodies", []).append((received.size, received.sha256))
        return dataset_answer(received)

    return handle


def test_a_path_upload_is_rewound_and_resent_after_a_refresh(tmp_path: Path) -> None:
    content = os.urandom(300_000)
    source = tmp_path / "d.bin"
    source.write_bytes(content)
    state: dict = {}
    adapter = StreamingAdapter(refreshing_handler(state))
    client = ApiClient(BASE, http_client=session_with(adapter))
    client.set_tokens({"access_token": "access-1", "refresh_token": "refresh-2"})
    dataset = send_upload(client, source)
    assert state["bodies"] == [(len(content), hashlib.sha256(content).hexdigest())]
    assert dataset["hash"] == hashlib.sha256(content).hexdigest()
    assert [r.url.rsplit("/", 1)[-1].split("?")[0] for r in adapter.received] == ["uploads", "refresh", "uploads"]


def test_a_generator_upload_is_not_resent_empty() -> None:
    state: dict = {}
    adapter = StreamingAdapter(refreshing_handler(state))
    client = ApiClient(BASE, http_client=session_with(adapter))
    client.set_tokens({"access_token": "access-1", "refresh_token": "refresh-2"})
    with pytest.raises(RequestNotRetryableError):
        send_upload(client, iter([b"a", b"b"]))
    assert "bodies" not in state


# ---------------------------------------------------------------- downloads


def test_download_dataset_to_a_path(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    content = b"x,y\n" * 5000
    rsps.add(
        responses.GET,
        DOWNLOAD_URL,
        body=content,
        headers={"Content-Length": str(len(content))},
        match=[matchers.header_matcher(AUTH)],
    )
    progress = Progress()
    target = tmp_path / "out.csv"
    result = fetch(ApiClient(BASE, api_key="key-1"), target, progress=progress)
    assert target.read_bytes() == content
    assert (result.bytes_written, result.sha256, result.path) == (
        len(content),
        hashlib.sha256(content).hexdigest(),
        str(target),
    )
    progress.assert_complete(len(content), len(content))
    assert rsps.calls[0].request.req_kwargs["stream"] is True
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_download_dataset_to_a_file_object(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, DOWNLOAD_URL, body=b"abc")
    out = io.BytesIO()
    result = fetch(ApiClient(BASE, api_key="key-1"), out)
    assert out.getvalue() == b"abc" and result.path is None and not out.closed


def test_download_replaces_an_existing_file(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old content that is longer")
    rsps.add(responses.GET, DOWNLOAD_URL, body=b"new")
    fetch(ApiClient(BASE, api_key="key-1"), target)
    assert target.read_bytes() == b"new"


def test_50mb_download_streams(rsps: responses.RequestsMock, big_file: Tuple[Path, str], tmp_path: Path) -> None:
    path, sha = big_file
    with open(path, "rb") as body:  # responses streams a BufferedReader body as is
        rsps.add(
            responses.GET,
            DOWNLOAD_URL,
            body=body,
            headers={"Content-Length": str(BIG)},
        )
        target = tmp_path / "big-copy.bin"
        progress = Progress()
        tracemalloc.start()
        try:
            result = fetch(ApiClient(BASE, api_key="key-1"), target, progress=progress)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.bytes_written == BIG and result.sha256 == sha
    assert target.stat().st_size == BIG
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while downloading 50 MiB"
    progress.assert_complete(BIG, BIG)
    assert len(progress.calls) == 51  # the first call, then one per 1 MiB chunk


class BreakingRaw(io.RawIOBase):
    """A response body that yields ``good`` bytes, then fails with ``error``."""

    def __init__(self, good: int, error: BaseException) -> None:
        self.left = good
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise self.error
        n = min(len(buffer), self.left, 65536)
        buffer[:n] = b"z" * n
        self.left -= n
        return n


@pytest.mark.parametrize(
    "error,expected",
    [
        (ConnectionResetError(104, "Connection reset by peer"), ApiConnectionError),
        (socket.timeout("timed out"), ApiTimeoutError),
    ],
)
def test_an_interrupted_download_leaves_no_file(
    rsps: responses.RequestsMock, tmp_path: Path, error: BaseException, expected: type
) -> None:
    body = io.BufferedReader(BreakingRaw(3 * MiB, error))
    rsps.add(
        responses.GET,
        DOWNLOAD_URL,
        body=body,  # type: ignore[arg-type]
        headers={"Content-Length": str(10 * MiB)},
    )
    target = tmp_path / "out.csv"
    with pytest.raises(expected) as info:
        fetch(ApiClient(BASE, api_key="key-1"), target)
    assert "of 10485760 bytes" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_short_body_is_an_error_and_keeps_the_old_file(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous version")
    rsps.add(
        responses.GET,
        DOWNLOAD_URL,
        body=b"x" * 1000,
        headers={"Content-Length": "2000"},
        auto_calculate_content_length=False,
    )
    with pytest.raises(ApiConnectionError):
        fetch(ApiClient(BASE, api_key="key-1"), target)
    assert os.listdir(tmp_path) == ["out.csv"]
    assert target.read_bytes() == b"previous version"


def test_short_body_detected_by_the_client_itself(tmp_path: Path) -> None:
    """Without urllib3's own length check (urllib3 1.26 does not enforce it), the client still notices."""

    class Short:
        headers = requests.structures.CaseInsensitiveDict({"Content-Length": "10"})
        url = "https://avatar.test/api/x"
        request = None
        closed = False

        def iter_content(self, chunk_size: int) -> Iterator[bytes]:
            yield b"12345"

        def close(self) -> None:
            self.closed = True

    response: Any = Short()
    with pytest.raises(ApiConnectionError, match="received 5 of 10 bytes"):
        save_response(response, tmp_path / "x.bin")
    assert response.closed and os.listdir(tmp_path) == []


def test_a_failing_progress_callback_aborts_and_cleans_up(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    rsps.add(responses.GET, DOWNLOAD_URL, body=b"abc" * 1000)

    def progress(done: int, total: Optional[int]) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch(ApiClient(BASE, api_key="key-1"), tmp_path / "o", progress=progress)
    assert os.listdir(tmp_path) == []


def test_a_compressed_download_is_decoded(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    content = b"id,age\n" * 1000
    packed = gzip.compress(content)
    rsps.add(
        responses.GET,
        DOWNLOAD_URL,
        body=packed,
        headers={"Content-Encoding": "gzip", "Content-Length": str(len(packed))},
    )
    result = fetch(ApiClient(BASE, api_key="key-1"), tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_bytes() == content and result.bytes_written == len(content)


@pytest.mark.parametrize(
    "body, encoding",
    [
        (gzip.compress(b"id,age\n" * 1000)[:-30], "gzip"),  # cut before the end
        (b"\x1f\x8b\x08 not really gzip", "gzip"),
        (b"x", "deflate"),  # a single byte: not even a header
    ],
)
def test_a_broken_compressed_download_is_a_decode_error(
    rsps: responses.RequestsMock, tmp_path: Path, body: bytes, encoding: str
) -> None:
    rsps.add(
        responses.GET,
        DOWNLOAD_URL,
        body=body,
        headers={"Content-Encoding": encoding, "Content-Length": str(len(body))},
    )
    with pytest.raises(ResponseDecodeError):
        fetch(ApiClient(BASE, api_key="key-1"), tmp_path / "o.csv")
    assert os.listdir(tmp_path) == []


def test_decompression_bound_counts_the_wire_bytes(rsps: responses.RequestsMock) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB that gzip packs well, but not absurdly
    packed = gzip.compress(content)
    ratio = len(content) / len(packed)
    url = f"{BASE}/blob"
    rsps.add(responses.GET, url, body=packed, headers={"Content-Encoding": "gzip"})

    def fetch(limit: Optional[DecompressionLimit]) -> bytes:
        out = io.BytesIO()
        save_response(requests.get(url, stream=True), out, decompression_limit=limit)
        return out.getvalue()

    assert fetch(DecompressionLimit(ratio=ratio * 1.2, allowance=0)) == content
    with pytest.raises(DecompressionLimitError):
        fetch(DecompressionLimit(ratio=ratio * 0.8, allowance=0))
    assert fetch(DecompressionLimit(ratio=1, allowance=len(content))) == content  # the allowance alone
    assert fetch(None) == content
    pieces = list(iter_decoded(requests.get(url, stream=True), 4096))
    assert b"".join(pieces) == content and max(map(len, pieces)) <= 4096


def test_an_empty_or_already_read_compressed_body(rsps: responses.RequestsMock) -> None:
    url = f"{BASE}/blob"
    rsps.add(responses.GET, url, body=b"", headers={"Content-Encoding": "gzip"})
    out = io.BytesIO()
    assert save_response(requests.get(url, stream=True), out).bytes_written == 0
    content = b"a,b\n" * 5000
    rsps.replace(responses.GET, url, body=gzip.compress(content), headers={"Content-Encoding": "gzip"})
    read = requests.get(url)  # not streamed: requests decoded it already
    save_response(read, out)
    assert out.getvalue() == content


@pytest.mark.parametrize(
    "ratio, allowance", [(0.5, 0), (float("nan"), 0), (float("inf"), 0), (2, -1), (2, 1.5), (True, 0)]
)
def test_decompression_limit_is_validated(ratio: Any, allowance: Any) -> None:
    with pytest.raises(RequestValidationError):
        DecompressionLimit(ratio=ratio, allowance=allowance)


def test_download_destination_is_checked_before_sending(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    client = ApiClient(BASE, api_key="key-1")
    for bad in (tmp_path / "no" / "such" / "dir.csv", tmp_path, io.StringIO(), 42):
        with pytest.raises(RequestValidationError):
            fetch(client, bad)  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError):
        fetch(client, tmp_path / "missing-dir" / "x")
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("kind", ["path", "bytes", "file"])
def test_an_empty_source_is_sent_with_content_length_zero(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    adapter = StreamingAdapter(dataset_answer)
    client = ApiClient(BASE, api_key="key-1", http_client=session_with(adapter))
    progress = Progress()
    with open(path, "rb") as handle:
        source: Any = {"path": path, "bytes": b"", "file": handle}[kind]
        send_upload(client, source, progress=progress)
    (received,) = adapter.received
    assert received.headers.get("Content-Length") == "0" and "Transfer-Encoding" not in received.headers
    assert progress.calls == [(0, 0)]


def test_durable_download_fsyncs_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avatars import transfer

    events: list = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(transfer.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(transfer.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])

    def response() -> requests.Response:
        r = requests.Response()
        r.status_code = 200
        r.raw = io.BytesIO(b"x" * 1000)
        r.headers["Content-Length"] = "1000"
        return r

    transfer.save_response(response(), tmp_path / "plain.bin")
    assert events == ["replace"]  # by default the OS decides when the bytes reach the disk
    events.clear()
    transfer.save_response(response(), tmp_path / "durable.bin", durable=True)
    assert events == ["fsync", "replace"]
    assert (tmp_path / "durable.bin").read_bytes() == b"x" * 1000
