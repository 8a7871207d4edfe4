"""The storage road against a hostile object store, over real sockets.

The raw-socket server of :mod:`tests.hostile` plays the platform (``/upload_url``
and ``/access`` answered honestly) and, under ``/storage``, a store that
misbehaves: it never answers, trickles a body, hangs on one part of a
multipart upload, sends more or fewer bytes than it announced, or answers an
error with an XML bomb.  Every case ends in a typed error, within the
budget the client was given, with nothing half-written on disk.
What the platform's DATA can make the client send: tests/unit/test_storage_hostile.py.
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator, List, Sequence
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from avatars import ApiClient, ApiConnectionError, ApiTimeoutError, AvatarError
from avatars.storage import StorageAccessDenied, location_of

from ..hostile import CLOSE, HostileServer, Pause, Received, Step, answer, json_answer, trickle

pytestmark = pytest.mark.integration

SECRET = "hostile-store-secret-0123456789"
PREFIX = "s3://avatars/user-1"
MIB = 1024 * 1024

StoreScript = Callable[[Received], Sequence[Step]]


class Platform:
    """The API half answers as the platform does; the store half runs ``store``."""

    def __init__(self, store: StoreScript) -> None:
        self.store = store

    def __call__(self, request: Received) -> Sequence[Step]:
        path = urlsplit(request.path)
        if path.path == "/api/upload_url":
            return [json_answer(json.dumps(PREFIX))]
        if path.path == "/api/access":
            url = parse_qs(path.query)["url"][0]
            granted = {"url": url, "credentials": {"access_key_id": "AKIAHOSTILE", "secret_access_key": SECRET}}
            return [json_answer(json.dumps(granted))]
        return self.store(request)


@pytest.fixture
def platform() -> Iterator[Callable[..., Any]]:
    servers: List[HostileServer] = []
    clients: List[ApiClient] = []

    def start(store: StoreScript, **client_options: Any) -> Any:
        server = HostileServer(Platform(store), connection_limit=20)
        servers.append(server)
        client = ApiClient(server.base_url, api_key="k" * 20, **client_options)
        client.storage.retry_backoff = 0.0
        clients.append(client)
        assert client.storage.endpoint_url == f"{server.origin}/storage"
        return server, client

    yield start
    for client in clients:
        client.close()
    # A failed call's traceback frames may hold a socket until the collector
    # runs (the server would wait 5 s per connection to see it close).
    gc.collect()
    for server in servers:
        server.stop()


def store_requests(server: HostileServer) -> List[Received]:
    return [r for r in server.requests if r.path.startswith("/storage/")]


def never_answers(request: Received) -> Sequence[Step]:
    return [Pause(15)]


def attempts(client: ApiClient, server: HostileServer) -> int:
    """Tries of one safe request: the session's own retries (the library's default
    ``Retry``), to which the storage layer then adds none of its own."""
    retry = client.session.get_adapter(server.origin).max_retries
    return int(retry.total) + 1 if retry.total else client.storage.max_attempts


def nothing_left(folder: Path) -> bool:
    return list(folder.iterdir()) == []


# --------------------------------------------------------------------------- time


def test_a_store_that_never_answers_a_download_hits_the_read_timeout(platform: Any, tmp_path: Path) -> None:
    server, client = platform(never_answers, timeout=(5, 0.5))
    with pytest.raises(ApiTimeoutError) as info:
        client.datasets.download(f"{PREFIX}/a.csv", tmp_path / "a.csv")
    assert "storage/avatars/user-1/a.csv" in str(info.value) and SECRET not in str(info.value)
    assert nothing_left(tmp_path)
    assert len(store_requests(server)) == attempts(client, server) > 1  # retried a bounded number of times


def test_a_store_that_never_answers_is_cut_by_the_whole_call_budget(platform: Any, tmp_path: Path) -> None:
    """Per-phase timeouts far away: the budget of each call is what ends it."""
    server, client = platform(never_answers, timeout=(30, 30), total_timeout=0.5)
    with pytest.raises(ApiTimeoutError, match="budget"):
        client.datasets.download(f"{PREFIX}/a.csv", tmp_path / "a.csv")
    with pytest.raises(ApiTimeoutError, match="budget"):
        client.datasets.upload(b"a,b\n1,2\n", "a.csv")
    assert nothing_left(tmp_path)


def _trickled(request: Received) -> Sequence[Step]:
    body = b"x" * 60
    return [answer(200, body)[: -len(body)], *trickle(body, 0.1)]


def test_a_trickled_download_is_cut_by_the_budget_and_leaves_no_file(platform: Any, tmp_path: Path) -> None:
    server, client = platform(_trickled, timeout=(5, 5), total_timeout=1.0)
    target = tmp_path / "a.csv"
    with pytest.raises(ApiTimeoutError, match="budget"):
        client.datasets.download(f"{PREFIX}/a.csv", target)
    assert nothing_left(tmp_path)


def test_a_store_that_never_answers_an_upload_is_a_timeout(platform: Any) -> None:
    server, client = platform(never_answers, timeout=(5, 0.5))
    with pytest.raises(ApiTimeoutError):
        client.datasets.upload(b"a,b\n1,2\n", "a.csv")
    puts = [r for r in store_requests(server) if r.method == "PUT"]
    assert len(puts) == attempts(client, server) and all(r.body == b"a,b\n1,2\n" for r in puts)


def _multipart_hanging_on_part_2(request: Received) -> Sequence[Step]:
    query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
    if request.method == "POST" and "uploads" in query:
        return [
            answer(200, b"<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>")
        ]
    if request.method == "PUT" and query.get("partNumber") == ["2"]:
        return [Pause(15)]
    if request.method == "PUT":
        return [answer(200, b"", {"ETag": '"part-1"'})]
    if request.method == "DELETE":
        return [answer(204)]
    return [answer(500, b"unexpected")]


def test_a_part_that_hangs_aborts_the_multipart_upload(platform: Any) -> None:
    server, client = platform(_multipart_hanging_on_part_2, timeout=(5, 0.5))
    with pytest.raises(ApiTimeoutError):
        client.datasets.upload(b"p" * (6 * MIB), "big.bin", part_size=5 * MIB)
    calls = [(r.method, urlsplit(r.path).query) for r in store_requests(server)]
    assert calls[0] == ("POST", "uploads")
    assert calls[-1] == ("DELETE", "uploadId=up-1")  # aborted
    assert not any(method == "POST" and "uploadId" in query for method, query in calls)  # never completed
    parts = [q for m, q in calls if m == "PUT"]
    assert parts == ["partNumber=1&uploadId=up-1"] + ["partNumber=2&uploadId=up-1"] * attempts(client, server)


# --------------------------------------------------------------------------- bodies


def test_bytes_beyond_content_length_are_never_saved(platform: Any, tmp_path: Path) -> None:
    server, client = platform(lambda r: [answer(200, b"0123456789", {"Content-Length": "4"}, close=True), CLOSE])
    target = tmp_path / "a.csv"
    result = client.datasets.download(f"{PREFIX}/a.csv", target)
    assert target.read_bytes() == b"0123" and result.bytes_written == 4


def _short_then_resumed_wrongly(request: Received) -> Sequence[Step]:
    if "range" not in request.headers:
        return [answer(200, b"0123", {"Content-Length": "10", "ETag": '"v1"'}, close=True), CLOSE]
    # The rest of another, longer object.
    return [answer(206, b"456789abcdef", {"Content-Range": "bytes 4-15/16", "ETag": '"v1"'})]


def test_a_short_body_resumed_with_the_wrong_range_leaves_no_file(platform: Any, tmp_path: Path) -> None:
    server, client = platform(_short_then_resumed_wrongly)
    (tmp_path / "a.csv").write_bytes(b"previous")
    with pytest.raises(AvatarError, match="did not resume the download at byte 4 of 10"):
        client.datasets.download(f"{PREFIX}/a.csv", tmp_path / "a.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"] and (tmp_path / "a.csv").read_bytes() == b"previous"
    assert store_requests(server)[-1].headers["range"] == "bytes=4-"


def _chunked_then_cut(request: Received) -> Sequence[Step]:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    return [head, b"a\r\n0123456789\r\n", b"5\r\nab", CLOSE]  # the connection closes mid-chunk


def test_a_chunked_body_cut_short_is_an_error_and_leaves_no_file(platform: Any, tmp_path: Path) -> None:
    server, client = platform(_chunked_then_cut)
    with pytest.raises(ApiConnectionError):
        client.datasets.download(f"{PREFIX}/a.csv", tmp_path / "a.csv")
    assert nothing_left(tmp_path)
    with pytest.raises(ApiConnectionError):
        client.datasets.download(f"{PREFIX}/a.csv")  # into memory: no partial bytes returned


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE Error [<!ENTITY a "AccessDeniedAccessDenied">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9))
    + b"]><Error><Code>AccessDenied</Code><Message>&j;</Message></Error>"
)


def test_an_xml_bomb_in_an_error_answer_is_refused_unexpanded(platform: Any) -> None:
    server, client = platform(lambda r: [answer(403, LAUGHS, {"Content-Type": "application/xml"})])
    with pytest.raises(StorageAccessDenied) as info:
        client.datasets.download(f"{PREFIX}/a.csv")
    assert info.value.code is None and "document type declaration" in str(info.value)
    assert len(str(info.value)) < 1000


def test_the_signed_requests_went_to_the_store_path_only(platform: Any) -> None:
    server, client = platform(lambda r: [answer(200, b"ok")])
    assert client.datasets.download(location_of(f"{PREFIX}/dir/a b.csv")) == b"ok"
    signed = [r for r in server.requests if r.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")]
    assert [r.path for r in signed] == ["/storage/avatars/user-1/dir/a%20b.csv"]
    assert all(re.match(r"AWS4-HMAC-SHA256 Credential=AKIAHOSTILE/", r.headers["authorization"]) for r in signed)


def test_a_download_leaves_no_cycle_holding_its_connection(platform: Any) -> None:
    """The resuming body and its response referred to each other: the socket
    stayed open after the client was closed, until the garbage collector ran."""
    server, client = platform(lambda r: [answer(200, b"ok")])

    def bodies() -> List[int]:
        return [id(o) for o in gc.get_objects() if type(o).__name__ == "_ResumingBody"]

    gc.collect()
    gc.disable()
    try:
        before = bodies()  # other tests' bodies, still held by their records
        assert client.datasets.download(f"{PREFIX}/a.csv") == b"ok"
        left = [body for body in bodies() if body not in before]
    finally:
        gc.enable()
    assert left == []


def _trickled_answer_to_uploads(request: Received) -> Sequence[Step]:
    if request.method == "PUT":
        return list(trickle(answer(200, b"", {"ETag": '"e"'}), 0.1))
    return [answer(500)]


def test_a_store_that_trickles_its_answer_to_an_upload_is_cut_by_the_budget(platform: Any) -> None:
    server, client = platform(_trickled_answer_to_uploads, timeout=(5, 5), total_timeout=1.0)
    with pytest.raises(ApiTimeoutError, match="budget"):
        client.datasets.upload(b"a,b\n1,2\n", "a.csv")
    assert [r.method for r in store_requests(server)] == ["PUT"]  # the budget is spent: no retry


def test_the_storage_retries_do_not_spend_the_budget_again(platform: Any, tmp_path: Path) -> None:
    """With a plain injected session (no urllib3 retries), the storage layer
    retries itself: not once the whole-call budget is spent."""
    server, client = platform(never_answers, timeout=(30, 30), total_timeout=0.5, http_client=requests.Session())
    with pytest.raises(ApiTimeoutError, match="budget"):
        client.datasets.download(f"{PREFIX}/a.csv", tmp_path / "a.csv")
    assert len(store_requests(server)) == 1 < client.storage.max_attempts
