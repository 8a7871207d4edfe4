"""``client.datasets`` against the local server: streaming uploads from every
kind of source, downloads (to a file object and, atomically, to a path), a
20 MB byte-identical round trip and the error paths."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from avatars import (
    ApiClient,
    Dataset,
    FileType,
    NotFound,
    RequestNotRetryableError,
    RequestValidationError,
)
from avatars.testing import LocalAvatarServer

from .conftest import SAMPLE, expire_access_token

pytestmark = pytest.mark.integration


TIMEOUT = (2.0, 10.0)
SAMPLE_SHA = hashlib.sha256(SAMPLE).hexdigest()


@pytest.fixture
def client(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        yield c


def download_bytes(client: ApiClient, dataset_id: Any) -> bytes:
    buffer = io.BytesIO()
    result = client.datasets.download_dataset(dataset_id, buffer)
    assert result.path is None and result.bytes_written == len(buffer.getvalue())
    return buffer.getvalue()


def check_sample(dataset: Dataset, name: Optional[str]) -> None:
    assert dataset.name == name
    assert dataset.filetype is FileType.csv
    assert dataset.hash == SAMPLE_SHA
    assert dataset.nb_lines == SAMPLE.count(b"\n") - 1
    assert dataset.nb_dimensions == len(SAMPLE.split(b"\n", 1)[0].split(b","))


# --------------------------------------------------------------------------- uploads


def test_upload_from_a_path(client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    path.write_bytes(SAMPLE)
    seen: List[Tuple[int, Optional[int]]] = []
    dataset = client.datasets.create_dataset(path, name="from-path", progress=lambda d, t: seen.append((d, t)))
    check_sample(dataset, "from-path")
    record = avatar_server.log.last("POST", "/api/datasets/stream")
    assert record.status == 201
    assert record.header("Content-Length") == str(len(SAMPLE))
    assert record.header("Content-Type") == "application/octet-stream"
    assert dict(record.query) == {"name": "from-path", "filetype": "csv"}
    assert seen[0] == (0, len(SAMPLE)) and seen[-1] == (len(SAMPLE), len(SAMPLE))
    assert download_bytes(client, dataset.id) == SAMPLE


def test_upload_from_a_file_object_starts_at_its_position(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    path = tmp_path / "prefixed.csv"
    path.write_bytes(b"JUNK-BEFORE-THE-HEADER\n" + SAMPLE)
    with open(path, "rb") as handle:
        handle.readline()
        dataset = client.datasets.create_dataset(handle, name="from-file")
        assert not handle.closed  # the caller's file stays the caller's
    check_sample(dataset, "from-file")
    assert avatar_server.log.last("POST", "/api/datasets/stream").header("Content-Length") == str(len(SAMPLE))


def test_upload_from_bytes(client: ApiClient) -> None:
    dataset = client.datasets.create_dataset(SAMPLE)
    check_sample(dataset, None)
    assert download_bytes(client, str(dataset.id)) == SAMPLE


def test_upload_from_a_generator_is_chunked(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    lines = SAMPLE.splitlines(keepends=True)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(lines), 37):
            yield b"".join(lines[start : start + 37])

    dataset = client.datasets.create_dataset(chunks(), name="from-generator")
    check_sample(dataset, "from-generator")
    record = avatar_server.log.last("POST", "/api/datasets/stream")
    assert (record.header("Transfer-Encoding") or "").lower() == "chunked"
    assert record.header("Content-Length") is None


def test_upload_source_errors_are_caught_before_sending(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    with pytest.raises(RequestValidationError) as missing:
        client.datasets.create_dataset(tmp_path / "missing.csv")
    assert missing.value.field == "source"
    with open(tmp_path / "t.csv", "w") as text:
        text.write("a,b\n")
    with open(tmp_path / "t.csv") as text_stream, pytest.raises(RequestValidationError, match="binary"):
        client.datasets.create_dataset(text_stream)  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError, match="filetype"):
        client.datasets.create_dataset(SAMPLE, filetype="xlsx")
    with pytest.raises(RequestValidationError):
        client.datasets.create_dataset(["a,b\n", "1,2\n"])  # type: ignore[list-item]  # text, not bytes
    assert avatar_server.count("POST", "/api/datasets/stream") == 0


# --------------------------------------------------------------------------- list, get, download, delete


def test_list_get_download_delete(client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path) -> None:
    first = client.datasets.create_dataset(SAMPLE, name="one")
    second = client.datasets.create_dataset(b"x,y\n1,2\n3,4\n", name="two")
    assert [d.id for d in client.datasets.find_all_datasets()] == [first.id, second.id]
    got = client.datasets.get_dataset(second.id)
    assert got == second and got.nb_lines == 2 and got.nb_dimensions == 2

    target = tmp_path / "two.csv"
    result = client.datasets.download_dataset(second.id, target)
    assert target.read_bytes() == b"x,y\n1,2\n3,4\n"
    assert result.path == str(target) and result.sha256 == second.hash

    client.datasets.delete_dataset(second.id)
    assert avatar_server.log.last("DELETE", f"/api/datasets/{second.id}").status == 204
    assert [d.id for d in client.datasets.find_all_datasets()] == [first.id]
    with pytest.raises(NotFound):
        client.datasets.get_dataset(second.id)
    with pytest.raises(NotFound):
        client.datasets.delete_dataset(second.id)
    gone = tmp_path / "gone.csv"
    with pytest.raises(NotFound):
        client.datasets.download_dataset(second.id, gone)
    assert not gone.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["two.csv"]


def test_datasets_are_private(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    mine = client.datasets.create_dataset(SAMPLE)
    other = avatar_server.admin.create_user("other@example.com", "pw-other")
    with ApiClient(avatar_server.base_url, api_key=avatar_server.admin.create_api_key(other), timeout=TIMEOUT) as c:
        assert c.datasets.find_all_datasets() == []
        with pytest.raises(NotFound):
            c.datasets.get_dataset(mine.id)
        with pytest.raises(NotFound):
            c.datasets.delete_dataset(mine.id)
    assert client.datasets.get_dataset(mine.id).hash == SAMPLE_SHA


def test_download_destination_is_checked_before_sending(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    dataset = client.datasets.create_dataset(SAMPLE)
    path = f"/api/datasets/{dataset.id}/download/stream"
    with pytest.raises(RequestValidationError) as no_dir:
        client.datasets.download_dataset(dataset.id, tmp_path / "nope" / "x.csv")
    assert no_dir.value.field == "destination"
    with pytest.raises(RequestValidationError):
        client.datasets.download_dataset(dataset.id, tmp_path)  # a directory
    with pytest.raises(RequestValidationError):
        client.datasets.download_dataset(dataset.id, io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError):
        client.datasets.get_dataset("not-a-uuid")
    assert avatar_server.count("GET", path) == 0
    assert avatar_server.count("GET", "/api/datasets/*") == 0


def test_a_20_mb_round_trip_is_byte_identical(client: ApiClient, tmp_path: Path) -> None:
    row = os.urandom(16 * 1024 * 1024).hex().encode()  # 32 MiB of hex, cut into rows below
    body = b"h1,h2\n" + b"\n".join(
        row[i : i + 62] + b"," + row[i + 62 : i + 63] for i in range(0, 20 * 1024 * 1024, 64)
    )
    source = tmp_path / "big.csv"
    source.write_bytes(body)
    expected = hashlib.sha256(body).hexdigest()
    progress: List[Tuple[int, Optional[int]]] = []
    dataset = client.datasets.create_dataset(source, name="big", progress=lambda d, t: progress.append((d, t)))
    assert dataset.hash == expected
    assert dataset.nb_dimensions == 2 and dataset.nb_lines == body.count(b"\n")
    assert progress[-1] == (len(body), len(body)) and len(progress) > 3

    target = tmp_path / "copy.csv"
    result = client.datasets.download_dataset(dataset.id, target)
    assert result.sha256 == dataset.hash == expected
    assert result.bytes_written == len(body) >= 20 * 1024 * 1024
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "copy.csv"]


# --------------------------------------------------------------------------- upload across a token refresh


@pytest.fixture
def expired_bearer(avatar_server: LocalAvatarServer, avatar_user: Any) -> Iterator[ApiClient]:
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as c:
        expire_access_token(c, avatar_server, avatar_user)  # the server's 401 drives the refresh
        yield c


def test_a_file_upload_is_resent_whole_after_a_401(
    expired_bearer: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    path = tmp_path / "sample.csv"
    path.write_bytes(SAMPLE)
    dataset = expired_bearer.datasets.create_dataset(path, name="after-refresh")
    check_sample(dataset, "after-refresh")
    assert [r.status for r in avatar_server.log.entries("POST", "/api/datasets/stream")] == [401, 201]
    assert avatar_server.count("POST", "/api/refresh") == 1
    assert len(avatar_server.store.datasets) == 1


def test_a_generator_upload_is_never_resent_empty(expired_bearer: ApiClient, avatar_server: LocalAvatarServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield SAMPLE[:1000]
        yield SAMPLE[1000:]

    with pytest.raises(RequestNotRetryableError):
        expired_bearer.datasets.create_dataset(chunks())
    assert [r.status for r in avatar_server.log.entries("POST", "/api/datasets/stream")] == [401]
    assert avatar_server.store.datasets == {}
    # the refresh took place; a fresh body now goes through
    assert expired_bearer.datasets.create_dataset(iter([SAMPLE])).hash == SAMPLE_SHA
    assert avatar_server.count("POST", "/api/refresh") == 1
