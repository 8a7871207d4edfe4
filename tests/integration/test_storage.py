"""The storage client against a real S3-compatible store over real sockets.

The store is ``moto``'s server with authentication on: it verifies every
signature with its own SigV4 code and enforces a per-user prefix policy (see
``_store.py``).  Also: a real squid proxy, real TLS (trustme) in front of the
store, and connections really cut mid-download and mid-part.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import ssl
import time
import uuid
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import requests

from avatars import ApiClient, RequestValidationError
from avatars.models import FileAccess, FileCredentials
from avatars.storage import (
    Location,
    StorageAccessDenied,
    StorageSignatureMismatch,
)

from ._store import BUCKET, Forwarder, StoreSetup

MIB = 1024 * 1024


@pytest.fixture
def store(s3_store: StoreSetup) -> StoreSetup:
    return s3_store


def make_client(store: StoreSetup, user: str = "alice", **kwargs: Any) -> ApiClient:
    kwargs.setdefault("storage_endpoint_url", store.storage_url)
    client = ApiClient(store.base_url, api_key=f"key-{user}", timeout=(5, 30), **kwargs)
    client.storage.retry_backoff = 0.01
    return client


def unique(name: str) -> str:
    return f"{uuid.uuid4().hex[:8]}/{name}"


def stored(store: StoreSetup, location: Location) -> bytes:
    return bytes(store.admin.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())


# --------------------------------------------------------------------------- round trips


def test_every_source_round_trips_and_is_listed(store: StoreSetup, tmp_path: Path) -> None:
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
    with make_client(store) as client:
        for name, source, expected in sources:
            result = client.datasets.upload(source, folder + name)
            assert result.location == Location(BUCKET, f"user-alice/{folder}{name}")
            assert stored(store, result.location) == expected
            assert client.datasets.download(result.location) == expected
        listed = {o.key: o.size for o in client.datasets.list() if o.key.startswith(folder)}
    assert listed == {folder + name: len(expected) for name, _, expected in sources}


def test_platform_sdk_names(store: StoreSetup) -> None:
    pd = pytest.importorskip("pandas")
    key = unique("frame.csv")
    with make_client(store) as client:
        assert client.upload_file(pd.DataFrame({"a": [1, 2], "b": ["é", "z"]}), key) is None
        user = store.users["alice"]
        access = FileAccess(
            url=f"{store.base_url}/access?url=s3://{BUCKET}/user-alice/{key}",
            credentials=FileCredentials(user.key_id, user.secret),
        )
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
    assert store.pending_uploads() == []


# --------------------------------------------------------------------------- credentials


def test_where_credentials_go(store: StoreSetup) -> None:
    """API key only to the API; storage signatures only to the store."""
    sent: List[Tuple[str, str]] = []
    session = requests.Session()
    session.hooks["response"].append(
        lambda r, *a, **k: sent.append((r.request.url, r.request.headers.get("Authorization", "")))
    )
    with make_client(store, http_client=session) as client:
        client.datasets.download(client.datasets.upload(b"1", unique("k.csv")).location)
    user = store.users["alice"]
    api_calls = [auth for url, auth in sent if url.startswith(store.base_url)]
    store_calls = [auth for url, auth in sent if url.startswith(store.storage_url)]
    assert len(api_calls) == 2 and len(store_calls) == 2 and len(sent) == 4
    assert all(auth == "api-key-v1 key-alice" for auth in api_calls)
    assert all(auth.startswith(f"AWS4-HMAC-SHA256 Credential={user.key_id}/") for auth in store_calls)
    for _, _, headers in store.api.requests:
        assert not any(name.lower().startswith("x-amz") for name in headers)
        assert user.secret not in str(headers)


def test_a_wrong_secret_is_refused_by_the_store(store: StoreSetup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = store.users["alice"]
    with make_client(store) as client:
        location = client.datasets.upload(b"z", unique("z.csv")).location
        bad = FileAccess(url=location.uri, credentials=FileCredentials(user.key_id, "not-the-secret"))
        with pytest.raises(StorageSignatureMismatch) as info:
            client.download_file(bad)
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status_code == 403
    text = caplog.text + str(info.value) + repr(info.value)
    assert user.secret not in text and "not-the-secret" not in text


def test_another_users_prefix_is_refused(store: StoreSetup) -> None:
    with make_client(store, user="bob") as bob:
        location = bob.datasets.upload(b"bob's", unique("private.csv")).location
    with make_client(store, user="alice") as alice:
        with pytest.raises(StorageAccessDenied) as info:
            alice.datasets.download(location)
    assert info.value.code == "AccessDenied"


def test_revoked_credentials_are_fetched_again(store: StoreSetup) -> None:
    with make_client(store) as client:
        location = client.datasets.upload(b"v1", unique("rotate.csv")).location
        calls = store.api.access_calls()
        store.rotate("alice")  # the cached key no longer exists at the store
        assert client.datasets.download(location) == b"v1"
    assert store.api.access_calls() == calls + 1


def test_bad_keys_send_nothing(store: StoreSetup) -> None:
    before = len(store.api.requests)
    with make_client(store) as client:
        for key in ("../user-bob/x.csv", "/abs.csv", "a\x00b"):
            with pytest.raises(RequestValidationError):
                client.datasets.upload(b"x", key)
    assert len(store.api.requests) == before


# --------------------------------------------------------------------------- faults


def test_a_failure_half_way_aborts_the_multipart_upload(store: StoreSetup) -> None:
    """The connection breaks during a part and nothing may retry it: the upload is aborted."""
    from avatars import ApiConnectionError

    key = unique("half.bin")
    host, port = store.storage_url.rsplit("//", 1)[1].split(":")
    relay = Forwarder((host, int(port)), cut_up=3 * MIB)
    try:
        endpoint = f"http://127.0.0.1:{relay.port}"
        with make_client(store, storage_endpoint_url=endpoint, http_client=requests.Session()) as client:
            client.storage.max_attempts = 1
            with pytest.raises(ApiConnectionError):
                client.datasets.upload(b"h" * (11 * MIB), key, part_size=5 * MIB)
    finally:
        relay.close()
    assert relay.cuts == 1
    assert store.pending_uploads() == []
    assert not store.admin.list_objects_v2(Bucket=BUCKET, Prefix=f"user-alice/{key}").get("Contents")


def test_credentials_refused_half_way_abort_with_fresh_ones(store: StoreSetup) -> None:
    """Alice's key is revoked during part 2: the part is re-sent with a fresh key, and all is stored."""
    key = unique("rotated-mid.bin")
    rotated: List[bool] = []

    def progress(done: int, total: Any) -> None:
        if done > 6 * MIB and not rotated:
            rotated.append(True)
            store.rotate("alice")

    with make_client(store) as client:
        result = client.datasets.upload(b"r" * (11 * MIB), key, part_size=5 * MIB, progress=progress)
    assert rotated and stored(store, result.location) == b"r" * (11 * MIB)
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


def test_a_download_cut_mid_body_resumes_with_range(store: StoreSetup, tmp_path: Path) -> None:
    content = os.urandom(3 * MIB)
    with make_client(store) as client:
        location = client.datasets.upload(content, unique("cut.bin")).location
    host, port = store.storage_url.rsplit("//", 1)[1].split(":")
    relay = Forwarder((host, int(port)), cut_down=MIB)
    try:
        with make_client(store, storage_endpoint_url=f"http://127.0.0.1:{relay.port}") as client:
            target = tmp_path / "cut.bin"
            client.datasets.download(location, target)
    finally:
        relay.close()
    assert target.read_bytes() == content and relay.cuts == 1 and relay.connections >= 2
    assert sorted(os.listdir(tmp_path)) == ["cut.bin"]


def test_a_download_that_keeps_breaking_leaves_no_file(store: StoreSetup, tmp_path: Path) -> None:
    from avatars import ApiConnectionError

    with make_client(store) as client:
        location = client.datasets.upload(os.urandom(2 * MIB), unique("broken.bin")).location
    host, port = store.storage_url.rsplit("//", 1)[1].split(":")
    relays = []
    try:
        relay = Forwarder((host, int(port)), cut_down=MIB, cut_every=True)
        relays.append(relay)
        with make_client(store, storage_endpoint_url=f"http://127.0.0.1:{relay.port}") as client:
            client.storage.max_attempts = 1
            with pytest.raises(ApiConnectionError):
                client.datasets.download(location, tmp_path / "broken.bin")
    finally:
        for relay in relays:
            relay.close()
    assert os.listdir(tmp_path) == []


def test_a_connection_cut_mid_part_is_retried(store: StoreSetup, tmp_path: Path) -> None:
    content = os.urandom(6 * MIB)
    host, port = store.storage_url.rsplit("//", 1)[1].split(":")
    relay = Forwarder((host, int(port)), cut_up=2 * MIB)
    try:
        with make_client(store, storage_endpoint_url=f"http://127.0.0.1:{relay.port}") as client:
            result = client.datasets.upload(content, unique("retried.bin"), part_size=5 * MIB)
    finally:
        relay.close()
    assert stored(store, result.location) == content and relay.cuts == 1
    assert store.pending_uploads() == []


# --------------------------------------------------------------------------- proxy and TLS


def test_storage_through_squid(store: StoreSetup, squid: Any, no_proxy_env: None) -> None:
    session = requests.Session()
    session.proxies = {"http": squid.url_with_credentials(), "https": squid.url_with_credentials()}
    key = unique("proxied.csv")
    with make_client(store, http_client=session) as client:
        location = client.datasets.upload(b"via squid", key).location
        assert client.datasets.download(location) == b"via squid"
    port = store.storage_url.rsplit(":", 1)[1]
    deadline = time.monotonic() + 5.0
    while True:  # squid writes its access log a moment after answering
        lines = [line for line in squid.access_log() if f":{port}/{BUCKET}/user-alice/{key}" in line]
        if (
            any("PUT" in line for line in lines) and any("GET" in line for line in lines)
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert any("PUT" in line for line in lines) and any("GET" in line for line in lines)
    assert all(squid.user in line for line in lines)


def test_storage_over_tls_with_a_private_ca(store: StoreSetup, pki: Any, tmp_path: Path) -> None:
    host, port = store.storage_url.rsplit("//", 1)[1].split(":")
    relay = Forwarder((host, int(port)), tls=pki.server_context)
    try:
        endpoint = f"https://127.0.0.1:{relay.port}"
        with make_client(store, storage_endpoint_url=endpoint, should_verify_ssl=str(pki.ca_pem)) as client:
            content = b"t" * (6 * MIB)
            result = client.datasets.upload(content, unique("tls.bin"), part_size=5 * MIB)
            assert client.datasets.download(result.location) == content
        with make_client(store, storage_endpoint_url=endpoint) as untrusting:
            from avatars import TLSError

            with pytest.raises(TLSError):
                untrusting.datasets.upload(b"x", unique("refused.bin"))
    finally:
        relay.close()
    assert isinstance(pki.server_context, ssl.SSLContext)
