"""Streaming dataset upload/download, CSV counts, resource sets."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Iterator

import pytest
import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.datasets import CsvCounter

from .conftest import people_csv, upload

MIB = 1024 * 1024


def _big_csv(size: int) -> bytes:
    header = b"a,b,c\n"
    line = b"12345,abcdef,0.5\n"
    body = line * ((size - len(header)) // len(line))
    return header + body


def test_twenty_mb_round_trip_content_length(srv: LocalAvatarServer, http: requests.Session) -> None:
    data = _big_csv(20 * MIB)
    created = upload(http, srv, data, name="big.csv")
    assert created["hash"] == hashlib.sha256(data).hexdigest()
    assert created["nb_dimensions"] == 3
    assert created["nb_lines"] == data.count(b"\n") - 1
    response = http.get(srv.url(f"/datasets/{created['id']}/download/stream"), stream=True)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(data)
    digest = hashlib.sha256()
    size = 0
    for chunk in response.iter_content(MIB):
        digest.update(chunk)
        size += len(chunk)
    assert size == len(data)
    assert digest.hexdigest() == created["hash"]


def test_twenty_mb_round_trip_chunked_generator(srv: LocalAvatarServer, http: requests.Session) -> None:
    pieces = [os.urandom(MIB) for _ in range(20)] + [b"tail"]
    expected = hashlib.sha256(b"".join(pieces)).hexdigest()

    def generate() -> Iterator[bytes]:
        yield from pieces

    response = http.post(srv.url("/datasets/stream"), params={"name": "blob", "filetype": "json"}, data=generate())
    assert response.status_code == 201, response.text
    assert srv.log.last("POST", "/api/datasets/stream").header("Transfer-Encoding") == "chunked"
    created = response.json()
    assert created["hash"] == expected
    assert created["nb_lines"] is None and created["filetype"] == "json"
    downloaded = http.get(srv.url(f"/datasets/{created['id']}/download/stream"))
    assert hashlib.sha256(downloaded.content).hexdigest() == expected
    # the connection is still usable afterwards (keep-alive after a chunked body)
    assert http.get(srv.url("/datasets")).status_code == 200


def test_dataset_crud(srv: LocalAvatarServer, http: requests.Session) -> None:
    data = people_csv(50)
    created = upload(http, srv, data)
    assert set(created) >= {"id", "name", "filetype", "nb_lines", "nb_dimensions", "hash", "created_at"}
    assert created["nb_lines"] == 50 and created["nb_dimensions"] == 5
    assert created["name"] == "people" and created["filetype"] == "csv"
    assert "+00:00" in created["created_at"]
    listed = http.get(srv.url("/datasets")).json()
    assert [d["id"] for d in listed] == [created["id"]]
    assert http.get(srv.url(f"/datasets/{created['id']}")).json() == created
    assert http.get(srv.url(f"/datasets/{uuid.uuid4()}")).status_code == 404
    assert http.get(srv.url("/datasets/xyz")).status_code == 422
    assert http.delete(srv.url(f"/datasets/{created['id']}")).status_code == 204
    assert http.get(srv.url(f"/datasets/{created['id']}")).status_code == 404
    assert http.get(srv.url(f"/datasets/{created['id']}/download/stream")).status_code == 404
    bad = http.post(srv.url("/datasets/stream"), params={"filetype": "xlsx"}, data=b"x")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "filetype"]
    # another user cannot see it
    other = srv.admin.create_user("bob@example.com", "pw")
    other_headers = {"Authorization": f"api-key-v1 {srv.admin.create_api_key(other)}"}
    mine = upload(http, srv, data)
    assert requests.get(srv.url(f"/datasets/{mine['id']}"), headers=other_headers).status_code == 404


@pytest.mark.parametrize(
    "content, lines, dims",
    [
        (b"", 0, 0),
        (b"a,b\n", 0, 2),
        (b"a,b", 0, 2),
        (b"a,b\n1,2\n3,4\n", 2, 2),
        (b"a,b\n1,2\n3,4", 2, 2),
        (b"a,b\r\n1,2\r\n3,4\r\n", 2, 2),
        (b"a,b\n1,2\n\n\n", 1, 2),
        (b'a,"b,c",d\n1,"x\ny",3\n"q""\n",2,3\n', 2, 3),
        (b"\xef\xbb\xbfname,age\nx,1\n", 1, 2),
    ],
)
def test_csv_counter(content: bytes, lines: int, dims: int) -> None:
    for split in (1, 3, len(content) or 1):
        counter = CsvCounter()
        for start in range(0, len(content), split):
            counter.feed(content[start : start + split])
        assert counter.result() == (lines, dims), split
