"""The storage client against the local server's object store over real sockets.

The store is ``avatars.testing``'s own (what ``avatars serve`` and the pytest
plugin give our users): it verifies every SigV4 signature against the
credentials ``GET /access`` issued, for the location they were issued for, and
its fault injector drops connections mid-part and mid-download, answers
``503 SlowDown``, and expires credentials on demand.  Also: a real squid proxy,
and real TLS (trustme) on both of the server's listeners.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
import requests

from avatars import ApiClient, ApiConnectionError, PermissionDenied, RequestValidationError, TLSError
from avatars.models import FileAccess, FileCredentials
from avatars.storage import (
    Location,
    StorageAccessDenied,
    StorageSignatureMismatch,
    StorageSlowDown,
)

from ._store import BUCKET, StoreSetup, start_store

MIB = 1024 * 1024
STORE_PATHS = "*/avatars/*"


@pytest.fixture
def store(local_store: StoreSetup) -> Iterator[StoreSetup]:
    local_store.reset()
    yield local_store
    local_store.reset()


def make_client(store: StoreSetup, user: str = "alice", **kwargs: Any) -> ApiClient:
    client = ApiClient(store.base_url, api_key=store.users[user].api_key, timeout=(5, 30), **kwargs)
    client.storage.retry_backoff = 0.01
    return client


def unique(name: str) -> str:
    return f"{uuid.uuid4().hex[:8]}/{name}"


def stored(store: StoreSetup, location: Location) -> bytes:
    return store.stored(location.bucket, location.key)


def grant(store: StoreSetup, location: str, user: str = "alice") -> FileAccess:
    """Credentials for ``location`` straight from ``GET /access`` (what the platform hands out)."""
    answer = requests.get(
        f"{store.base_url}/access",
        params={"url": location},
        headers={"Authorization": f"api-key-v1 {store.users[user].api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    creds = body["credentials"]
    return FileAccess(url=body["url"], credentials=FileCredentials(creds["access_key_id"], creds["secret_access_key"]))


# --------------------------------------------------------------------------- round trips


def test_every_source_round_trips_is_listed_and_deleted(store: StoreSetup, tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(b"a,b\n1,2\n")
    folder = unique("")
    sources: List[Tuple[str, Any, bytes]] = [
        ("path.csv", path, b"a,b\n1,2\n"),
        ("bytes.csv", b"x,y\n3,4\n", b"x,y\n3,4\n"),
        ("file.csv", io.BytesIO(b"skip" + b"c,d\n"), b"c,d\n"),
        ("chunks.csv", iter([b"e,", b"f\n"]), b"e,f\n"),
    ]
    sources[2][1].seek(4)
    prefix = store.users["alice"].prefix
    with make_client(store) as client:
        for name, source, expected in sources:
            result = client.datasets.upload(source, folder + name)
            assert result.location == Location(BUCKET, f"{prefix}/{folder}{name}")
            assert stored(store, result.location) == expected
            assert client.datasets.download(result.location) == expected
        listed = {o.key: o.size for o in client.datasets.list() if o.key.startswith(folder)}
        assert listed == {folder + name: len(expected) for name, _, expected in sources}
        client.datasets.delete(folder + "bytes.csv")
        assert f"{prefix}/{folder}bytes.csv" not in store.keys(prefix)
        assert {o.key for o in client.datasets.list() if o.key.startswith(folder)} == {
            folder + name for name, _, _ in sources if name != "bytes.csv"
        }


def test_platform_sdk_names(store: StoreSetup) -> None:
    pd = pytest.importorskip("pandas")
    key = unique("frame.csv")
    location = f"s3://{BUCKET}/{store.users['alice'].prefix}/{key}"
    with make_client(store) as client:
        assert client.upload_file(pd.DataFrame({"a": [1, 2], "b": ["é", "z"]}), key) is None
        # The form GET /results gives result files in: an /access?url=... API URL.
        access = grant(store, f"{store.base_url}/access?url={location}")
        assert client.download_file(access) == "a,b\n1,é\n2,z\n"


@pytest.mark.parametrize("workers", [1, 3])
def test_multipart_round_trip_to_a_path(store: StoreSetup, tmp_path: Path, workers: int) -> None:
    content = os.urandom(5 * MIB) * 2 + os.urandom(MIB + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    target = tmp_path / "copy.bin"
    seen: List[int] = []
    with make_client(store) as client:
        result = client.datasets.upload(
            source, unique("big.bin"), part_size=5 * MIB, max_concurrency=workers, progress=lambda d, t: seen.append(d)
        )
        assert result.parts == 3 and seen[-1] == len(content)
        downloaded = client.datasets.download(result.location, target)
    assert target.read_bytes() == content
    assert downloaded.sha256 == hashlib.sha256(content).hexdigest()  # type: ignore[union-attr]
    assert store.server.store.objects.head(BUCKET, result.location.key).etag.endswith("-3")
    assert store.pending_uploads() == []


class CountingReads(io.BytesIO):
    """A seekable source without a file descriptor: the client reads it with ``read``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: List[int] = []

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")

    def read(self, size: Any = -1) -> bytes:
        data = super().read(size)
        self.sizes.append(len(data))
        return data


@pytest.mark.parametrize("signed", [False, True])
def test_stored_bodies_go_to_the_socket_in_large_blocks(store: StoreSetup, signed: bool) -> None:
    # http.client and urllib3 would read a file-like body 8 or 16 KiB at a time.
    content = os.urandom(3 * MIB + 100)
    source = CountingReads(content)
    with make_client(store) as client:
        client.storage.unsigned_payload = not signed
        result = client.datasets.upload(source, unique("blocks.bin"))
    assert result.parts == 1 and stored(store, result.location) == content
    # Sent (and, when signed, first hashed by botocore) 1 MiB at a time: 4 reads per pass.
    assert source.sizes == [MIB, MIB, MIB, 100] * (2 if signed else 1)


@pytest.mark.parametrize("source", [b"", io.BytesIO(), iter([])])
def test_an_empty_upload_stores_an_empty_object(store: StoreSetup, source: Any, tmp_path: Path) -> None:
    with make_client(store) as client:
        result = client.datasets.upload(source, unique("empty.csv"))
        assert result.size == 0 and stored(store, result.location) == b""
        assert client.datasets.download(result.location) == b""
    put = store.server.storage_log.entries("PUT")[-1]
    assert put.header("Content-Length") == "0" and put.header("Transfer-Encoding") is None


# --------------------------------------------------------------------------- credentials


def test_where_credentials_go(store: StoreSetup) -> None:
    """API key only to the API; storage signatures only to the store."""
    sent: List[Tuple[str, str]] = []
    session = requests.Session()
    session.hooks["response"].append(
        lambda r, *a, **k: sent.append((r.request.url, r.request.headers.get("Authorization", "")))
    )
    store.clear_logs()
    with make_client(store, http_client=session) as client:
        client.datasets.download(client.datasets.upload(b"1", unique("k.csv")).location)
    api_calls = [auth for url, auth in sent if url.startswith(store.base_url + "/")]
    store_calls = [auth for url, auth in sent if url.startswith(store.storage_url + "/")]
    assert len(api_calls) == 2 and len(store_calls) == 2 and len(sent) == 4
    assert all(auth == f"api-key-v1 {store.users['alice'].api_key}" for auth in api_calls)
    assert all(auth.startswith("AWS4-HMAC-SHA256 Credential=AVTR") for auth in store_calls)
    api_records = [r for r in store.server.log if r.path.startswith("/api/")]
    assert len(api_records) == 2 and all(r.auth_scheme == "api-key-v1" for r in api_records)
    for record in api_records:
        assert not any(name.lower().startswith("x-amz") for name in record.headers)
    store_records = list(store.server.storage_log)
    assert [r.method for r in store_records] == ["PUT", "GET"]
    assert all(r.auth_scheme == "AWS4-HMAC-SHA256" and r.status in (200, 206) for r in store_records)


def test_a_wrong_secret_is_refused_by_the_store(store: StoreSetup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client(store) as client:
        location = client.datasets.upload(b"z", unique("z.csv")).location
        real = grant(store, location.uri)
        assert real.credentials is not None
        bad = FileAccess(url=location.uri, credentials=FileCredentials(real.credentials.access_key_id, "not-it"))
        with pytest.raises(StorageSignatureMismatch) as info:
            client.download_file(bad)
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status_code == 403
    text = caplog.text + str(info.value) + repr(info.value)
    assert real.credentials.secret_access_key not in text and "not-it" not in text


def test_another_users_prefix_is_refused(store: StoreSetup) -> None:
    with make_client(store, user="bob") as bob:
        location = bob.datasets.upload(b"bob's", unique("private.csv")).location
    with make_client(store, user="alice") as alice:
        # The API gives Alice no credentials for Bob's object...
        with pytest.raises(PermissionDenied):
            alice.datasets.download(location)
        # ...and the store refuses her own credentials there (403 AccessDenied, S3 XML).
        own = grant(store, f"s3://{BUCKET}/{store.users['alice'].prefix}/{unique('mine.csv')}")
        assert own.credentials is not None
        with pytest.raises(StorageAccessDenied) as info:
            alice.download_file(FileAccess(url=location.uri, credentials=own.credentials))
    assert info.value.code == "AccessDenied" and info.value.status_code == 403


def test_expired_credentials_are_fetched_again(store: StoreSetup) -> None:
    with make_client(store) as client:
        location = client.datasets.upload(b"v1", unique("rotate.csv")).location
        assert store.expire_credentials() >= 1  # the cached credentials now answer ExpiredToken
        store.clear_logs()
        assert client.datasets.download(location) == b"v1"
    assert store.access_calls() == 1
    statuses = [r.status for r in store.server.storage_log.entries("GET", "/storage/avatars/*")]
    assert statuses == [403, 200]


def test_bad_keys_send_nothing(store: StoreSetup) -> None:
    store.clear_logs()
    with make_client(store) as client:
        for key in ("../x.csv", "a/../../b.csv", "/abs.csv", "a\x00b"):
            with pytest.raises(RequestValidationError):
                client.datasets.upload(b"x", key)
    assert len(store.server.log) == 0 and len(store.server.storage_log) == 0


# --------------------------------------------------------------------------- faults


def test_a_connection_dropped_mid_part_is_retried(store: StoreSetup) -> None:
    content = os.urandom(11 * MIB)
    fault = store.server.faults.drop_mid_request("PUT", STORE_PATHS, after_bytes=MIB, query="partNumber=2")
    with make_client(store) as client:
        result = client.datasets.upload(content, unique("retried.bin"), part_size=5 * MIB)
    assert fault.remaining == 0
    assert stored(store, result.location) == content
    assert store.pending_uploads() == []


def test_a_failure_half_way_aborts_the_multipart_upload(store: StoreSetup) -> None:
    """The connection breaks during part 2 and no retry is allowed: the upload is aborted."""
    key = unique("half.bin")
    store.server.faults.drop_mid_request("PUT", STORE_PATHS, after_bytes=MIB, query="partNumber=2")
    # A plain session: its adapter retries nothing, and the storage client may not either.
    with make_client(store, http_client=requests.Session()) as client:
        client.storage.max_attempts = 1
        with pytest.raises(ApiConnectionError):
            client.datasets.upload(b"h" * (11 * MIB), key, part_size=5 * MIB)
    assert store.pending_uploads() == []
    assert store.keys(f"{store.users['alice'].prefix}/{key}") == []
    assert store.server.storage_log.count("DELETE", "/storage/avatars/*") == 1  # AbortMultipartUpload


def test_slow_down_is_retried_then_typed(store: StoreSetup) -> None:
    store.server.faults.slow_down("PUT", STORE_PATHS, count=1)
    with make_client(store) as client:
        location = client.datasets.upload(b"busy", unique("busy.csv")).location
        assert stored(store, location) == b"busy"
        store.server.faults.slow_down("GET", STORE_PATHS, count=50)
        with pytest.raises(StorageSlowDown) as info:
            client.datasets.download(location)
    assert info.value.code == "SlowDown" and info.value.status_code == 503


def test_a_store_erring_half_way_through_a_multipart_upload(store: StoreSetup) -> None:
    """Part 2 keeps answering 503 SlowDown: a typed error, and the upload is aborted."""
    key = unique("erring.bin")
    store.server.faults.slow_down("PUT", STORE_PATHS, count=50, query="partNumber=2")
    with make_client(store) as client:
        with pytest.raises(StorageSlowDown):
            client.datasets.upload(b"e" * (11 * MIB), key, part_size=5 * MIB)
    assert store.pending_uploads() == []
    assert store.keys(f"{store.users['alice'].prefix}/{key}") == []


def test_a_completion_refused_by_the_store_is_typed_and_aborted(store: StoreSetup) -> None:
    """The store wants parts of at least 6 MiB (``set_storage_min_part_size``):
    every part of 5 MiB is accepted, the completion is refused with
    ``EntityTooSmall``; a typed error naming it, and the upload aborted."""
    from avatars.storage import StorageError

    key = unique("too-small.bin")
    store.server.admin.set_storage_min_part_size(6 * MIB)
    store.clear_logs()
    try:
        with make_client(store) as client:
            with pytest.raises(StorageError) as info:
                client.datasets.upload(os.urandom(11 * MIB), key, part_size=5 * MIB)
    finally:
        store.server.admin.set_storage_min_part_size(5 * MIB)
    assert info.value.code == "EntityTooSmall" and info.value.status_code == 400
    assert "EntityTooSmall" in str(info.value)
    log = store.server.storage_log
    assert log.count("PUT") == 3 and log.count("POST") == 2  # every part sent; create, then the refused completion
    assert log.count("DELETE") == 1  # AbortMultipartUpload
    assert store.pending_uploads() == []
    assert store.keys(f"{store.users['alice'].prefix}/{key}") == []


def test_credentials_expiring_half_way_are_refreshed(store: StoreSetup) -> None:
    """Every credential expires during part 2: the part is re-sent with fresh ones, and all is stored."""
    key = unique("expired-mid.bin")
    expired: List[int] = []

    def progress(done: int, total: Any) -> None:
        if done > 6 * MIB and not expired:
            expired.append(store.expire_credentials())

    with make_client(store) as client:
        result = client.datasets.upload(b"r" * (11 * MIB), key, part_size=5 * MIB, progress=progress)
    assert expired and stored(store, result.location) == b"r" * (11 * MIB)
    assert store.pending_uploads() == []


def test_an_interrupt_aborts_the_multipart_upload(store: StoreSetup, tmp_path: Path) -> None:
    key = unique("interrupted.bin")
    path = tmp_path / "big.bin"
    path.write_bytes(b"i" * (16 * MIB))

    def progress(done: int, total: Any) -> None:
        if done > 7 * MIB:
            raise KeyboardInterrupt

    with make_client(store) as client:
        with pytest.raises(KeyboardInterrupt):
            client.datasets.upload(path, key, part_size=5 * MIB, max_concurrency=2, progress=progress)
    assert store.pending_uploads() == []
    assert store.keys(f"{store.users['alice'].prefix}/{key}") == []


def test_a_download_dropped_mid_body_resumes_with_range(store: StoreSetup, tmp_path: Path) -> None:
    content = os.urandom(3 * MIB)
    with make_client(store) as client:
        location = client.datasets.upload(content, unique("cut.bin")).location
        store.server.faults.drop_mid_body("GET", STORE_PATHS, fraction=0.4)
        store.clear_logs()
        target = tmp_path / "cut.bin"
        client.datasets.download(location, target)
    assert target.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["cut.bin"]
    gets = store.server.storage_log.entries("GET", "/storage/avatars/*")
    assert len(gets) == 2 and gets[0].fault is not None
    resumed_from = gets[1].header("Range")
    assert resumed_from is not None and resumed_from.startswith("bytes=") and resumed_from != "bytes=0-"


def test_a_download_that_keeps_breaking_leaves_no_file(store: StoreSetup, tmp_path: Path) -> None:
    with make_client(store) as client:
        location = client.datasets.upload(os.urandom(2 * MIB), unique("broken.bin")).location
        store.server.faults.drop_mid_body("GET", STORE_PATHS, fraction=0.5, count=50)
        client.storage.max_attempts = 2
        with pytest.raises(ApiConnectionError):
            client.datasets.download(location, tmp_path / "broken.bin")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- proxy and TLS


def test_storage_through_squid(store: StoreSetup, squid: Any, no_proxy_env: None) -> None:
    session = requests.Session()
    session.proxies = {"http": squid.url_with_credentials(), "https": squid.url_with_credentials()}
    key = unique("proxied.csv")
    with make_client(store, http_client=session) as client:
        location = client.datasets.upload(b"via squid", key).location
        assert client.datasets.download(location) == b"via squid"
    path = f":{store.server.port}/storage/{BUCKET}/{location.key}"
    deadline = time.monotonic() + 5.0
    while True:  # squid writes its access log a moment after answering
        lines = [line for line in squid.access_log() if path in line]
        if (
            any("PUT" in line for line in lines) and any("GET" in line for line in lines)
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert any("PUT" in line for line in lines) and any("GET" in line for line in lines)
    assert all(squid.user in line for line in lines)


def test_storage_over_tls_with_a_private_ca(pki: Any) -> None:
    tls = start_store(ssl_context=pki.server_context)
    try:
        assert tls.storage_url.startswith("https://") and tls.server.storage_base_url.startswith("https://")
        content = os.urandom(6 * MIB)
        with make_client(tls, should_verify_ssl=str(pki.ca_pem)) as client:
            result = client.datasets.upload(content, unique("tls.bin"), part_size=5 * MIB)
            assert client.datasets.download(result.location) == content
        # The store on the second listener (another origin), same private CA.
        with make_client(tls, should_verify_ssl=str(pki.ca_pem), storage_endpoint_url=tls.server.storage_base_url) as c:
            assert c.datasets.download(result.location) == content
        with make_client(tls, should_verify_ssl=str(pki.other_ca_pem)) as untrusting:
            with pytest.raises(TLSError):
                untrusting.datasets.download(result.location)
        assert tls.server.storage_log.count("GET") >= 1
    finally:
        tls.server.stop()


def test_ctrl_c_during_a_cli_upload_aborts_the_multipart_upload(store: StoreSetup, tmp_path: Path) -> None:
    """A real SIGINT to ``avatars datasets upload`` while part 2 is held by the
    store: exit status 130, the multipart upload aborted, no object."""
    import signal
    import subprocess

    from .test_cli import _clean_env, _command

    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(40 * MIB))  # 3 parts of 16 MiB (the default part size)
    key = unique("ctrl-c.bin")
    store.server.faults.add("delay", "PUT", STORE_PATHS, seconds=5, query="partNumber=2")
    env = _clean_env({"AVATAR_BASE_API_URL": store.base_url, "AVATAR_API_KEY": store.users["alice"].api_key})
    proc = subprocess.Popen(
        _command() + ["datasets", "upload", str(path), "--key", key, "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run started in the background by a script ignores SIGINT, and
        # so would the command (Python then installs no KeyboardInterrupt handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not any(dict(r.query).get("partNumber") == "1" for r in store.server.storage_log.entries("PUT")):
            assert proc.poll() is None and time.monotonic() < deadline, "part 1 never reached the store"
            time.sleep(0.02)
        time.sleep(0.3)  # part 2 is being sent, held by the store
        assert store.pending_uploads() != []
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert store.pending_uploads() == []
    assert store.keys(f"{store.users['alice'].prefix}/{key}") == []
    assert store.server.storage_log.count("DELETE") >= 1  # AbortMultipartUpload


@pytest.mark.parametrize("name", ["a+b.csv", "a&url=s3:x.csv", "50% 1.csv", "é ü.csv"])
def test_keys_with_query_characters_round_trip(store: StoreSetup, name: str) -> None:
    """The location asked of /access is percent-encoded: the platform grants the
    credentials for the very key the client then signs (the answer must name it)."""
    with make_client(store) as client:
        key = unique(name)
        result = client.datasets.upload(name.encode(), key)
        assert result.location.key.endswith(name) and stored(store, result.location) == name.encode()
        with make_client(store) as fresh:  # no cached credentials: /access is asked for the download
            assert fresh.datasets.download(result.location) == name.encode()
            assert any(o.key == key for o in fresh.datasets.list())
