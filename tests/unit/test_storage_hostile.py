"""What a hostile platform or object store can make the storage client SEND, with ``responses``.

Locations, credentials and ``/access/batch`` answers come from the platform;
error documents, listings and resumed bodies from the store.  None of them
may steer a signed request out of ``<storage endpoint>/<bucket>/``, attach one
file's credentials to another, expand XML entities, or loop: each is refused
with a typed error, and the tests check what was sent (usually: nothing).
The same over real sockets, with time in play: tests/integration/test_hostile_store.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
import responses

from avatars import ApiClient, RequestValidationError
from avatars.errors import SchemaError
from avatars.models import FileAccess, FileCredentials
from avatars.resources.results import download_result_files
from avatars.storage import Location, StorageError, StorageKeyNotFound, location_of
from avatars.storage import client as store_module
from avatars.storage.locations import UnsafeLocationError

from .conftest import BASE
from .test_storage import KEY_ID, MIB, OBJECT, PREFIX, SECRET, STORE, Api, botocore_signature, sent_signature

LOCATION = location_of(f"{PREFIX}/data/table.csv")


@pytest.fixture
def store() -> Iterator[ApiClient]:
    """A client whose store is ``STORE`` (no pause between retries)."""
    with ApiClient(BASE, api_key="key-1", storage_endpoint_url=STORE, http_client=requests.Session()) as client:
        client.storage.retry_backoff = 0.0
        yield client


def store_calls(rsps: responses.RequestsMock) -> List[str]:
    return [c.request.url or "" for c in rsps.calls if not (c.request.url or "").startswith(BASE)]


def creds(key_id: str = KEY_ID, secret: str = SECRET) -> Dict[str, str]:
    return {"access_key_id": key_id, "secret_access_key": secret}


# --------------------------------------------------------------------------- locations


@pytest.mark.parametrize(
    "url",
    [
        "s3://avatars/../api/users",
        "s3://../api/users",
        "s3://avatars/user-1/../../api/users",
        f"{BASE}/access?url=" + quote("s3://avatars/user-1/../../api/users", safe=""),
        f"{BASE}/access?url=s3://avatars/user-1/a.csv&url=s3://avatars/user-2/b.csv",
        f"{BASE}/access?url=" + quote(f"{BASE}/access?url=s3://avatars/./x", safe=""),
        f"{STORE}/avatars/user-1/..%2F..%2F..%2Fapi%2Fusers",
        f"{STORE}/..%2Fapi/users",
        "s3://avatars/user-1//etc/passwd",
        "s3://avatars//etc/passwd",
        "s3://avatars/user-1\\..\\..\\api",
        "s3://avatars/user-1/a\x00.csv",
        "s3://avatars/user-1/a.csv\r\nHost: evil.test",
        "s3://avatars/user-1/a.csv?uploads",
        "s3://avatars/user-1/a.csv?x-id=DeleteObject#frag",
        "s3://avatars/user-1/a.csv#../../x",
        "s3://user:pw@evil.test:99/x.csv",
        "s3://avatars%2F..%2Fapi/x.csv",
        "s3://avatars/" + "0123456789" * 110,
    ],
)
def test_a_hostile_result_url_sends_nothing(rsps: responses.RequestsMock, store: ApiClient, url: str) -> None:
    """Before the fix, each asked /access and then sent a signed request to a
    path outside <store>/<bucket>/ (or to another object than the one named)."""
    with pytest.raises(UnsafeLocationError) as info:
        store.results.download_file(url, io.BytesIO())
    assert isinstance(info.value, RequestValidationError) and info.value.field == "url"
    assert len(rsps.calls) == 0


def test_a_percent_sign_in_a_key_is_part_of_the_name(rsps: responses.RequestsMock, store: ApiClient) -> None:
    """``%2e%2e`` in an ``s3://`` key names an object called ``%2e%2e`` (S3 keys are
    literal): it is sent encoded once more, so no server can read it as ``..``."""
    Api(rsps, [SECRET])
    rsps.add(responses.GET, f"{STORE}/avatars/user-1/%252e%252E/%2525/x.csv", body=b"x")
    assert store.datasets.download("s3://avatars/user-1/%2e%2E/%25/x.csv") == b"x"
    assert [c.request.url for c in rsps.calls][-1] == f"{STORE}/avatars/user-1/%252e%252E/%2525/x.csv"


def test_a_hostile_upload_prefix_sends_nothing_to_the_store(rsps: responses.RequestsMock, store: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/upload_url", json="s3://avatars/users/../../api")
    with pytest.raises(UnsafeLocationError, match="'..'"):
        store.datasets.upload(b"x", "data/table.csv")
    assert [c.request.url for c in rsps.calls] == [f"{BASE}/upload_url"]


def test_a_location_built_by_hand_is_checked_before_signing(rsps: responses.RequestsMock, store: ApiClient) -> None:
    access = FileAccess(url="s3://avatars/user-1/a.csv", credentials=FileCredentials(KEY_ID, SECRET))
    store.storage.remember(access)
    for bad in (Location("..", "api/users"), Location("avatars", "user-1/../../../api")):
        with pytest.raises(UnsafeLocationError):
            store.storage.download(bad)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "url",
    ["s3://avatars/user-1/a b.csv", "s3://avatars/user-1/é%20x.csv", "s3://avatars/user-1/dir/", "s3://avatars"],
)
def test_ordinary_locations_still_pass(url: str) -> None:
    assert location_of(url).uri.startswith("s3://avatars")


# --------------------------------------------------------------------------- /access answers


def test_credentials_granted_for_another_location_are_not_used(
    rsps: responses.RequestsMock, store: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    other = "s3://avatars/user-2/secret-table.csv"
    rsps.add(responses.GET, f"{BASE}/access", json={"url": other, "credentials": creds()})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SchemaError) as info:
        store.storage.download(LOCATION)
    assert info.value.endpoint == "GET /access" and "user-2/secret-table.csv" in str(info.value)
    assert store_calls(rsps) == []
    assert SECRET not in str(info.value) + repr(info.value) + caplog.text
    # Nothing was cached: the next call asks again.
    with pytest.raises(SchemaError):
        store.results.download_file(f"{PREFIX}/data/table.csv", io.BytesIO())
    assert len(rsps.calls) == 2 and store_calls(rsps) == []


@pytest.mark.parametrize(
    ("key_id", "secret", "field"),
    [
        ("AKIA\r\nX-Injected: 1", SECRET, "access_key_id"),
        ("AKIA X", SECRET, "access_key_id"),
        ("AKIA/2026/evil", SECRET, "access_key_id"),
        ("AKIAé", SECRET, "access_key_id"),
        ("A" * 100_000, SECRET, "access_key_id"),
        ("", SECRET, "access_key_id"),
        (KEY_ID, "storage-\x00secret", "secret_access_key"),
        (KEY_ID, "storage-secret\x85", "secret_access_key"),
        (KEY_ID, "s" * 2_000_000, "secret_access_key"),
    ],
)
def test_unusable_credentials_are_refused_and_never_shown(
    rsps: responses.RequestsMock,
    store: ApiClient,
    caplog: pytest.LogCaptureFixture,
    key_id: str,
    secret: str,
    field: str,
) -> None:
    rsps.add(
        responses.GET, f"{BASE}/access", json={"url": f"{PREFIX}/data/table.csv", "credentials": creds(key_id, secret)}
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SchemaError) as info:
        store.storage.download(LOCATION)
    assert list(info.value.fields) == [f"credentials.{field}"]
    assert store_calls(rsps) == []
    shown = str(info.value) + repr(info.value) + caplog.text
    assert secret not in shown and (len(key_id) < 5 or key_id not in shown)
    # A FileAccess handed in by the caller is judged the same way.
    with pytest.raises(SchemaError):
        store.datasets.download(FileAccess(url=LOCATION.uri, credentials=FileCredentials(key_id, secret)))
    assert store_calls(rsps) == []


def _batch(rsps: responses.RequestsMock, answer: List[Dict[str, Any]]) -> None:
    rsps.add(responses.POST, f"{BASE}/access/batch", json=answer)


A, B, C = (f"{PREFIX}/data/{name}.csv" for name in "abc")


def test_a_batch_answer_is_matched_by_location_not_by_position(rsps: responses.RequestsMock, store: ApiClient) -> None:
    """Reordered, one left out, one repeated with the same credentials: each
    file gets its own credentials, the left-out one is asked for alone."""
    _batch(
        rsps,
        [
            {"url": f"{BASE}/access?url={C}", "credentials": creds(secret="secret-c")},
            {"url": A, "credentials": creds(secret="secret-a")},
            {"url": A, "credentials": creds(secret="secret-a")},
        ],
    )
    api = Api(rsps, ["secret-b"])
    assert store.storage.prefetch([A, B, C]) == [location_of(A), location_of(C)]
    for url in (A, B, C):
        rsps.add(responses.GET, f"{STORE}/avatars/user-1/data/{url[-5]}.csv", body=b"x")
        assert store.datasets.download(url) == b"x"
    secrets = {"a": "secret-a", "b": "secret-b", "c": "secret-c"}
    for call in rsps.calls:
        if (call.request.url or "").startswith(STORE):
            secret = secrets[(call.request.url or "")[-5]]
            assert sent_signature(call.request) == botocore_signature(call.request, secret, b"")
    assert len(api.access_urls) == 1 and api.access_urls[0] == B


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([{"url": "s3://avatars/user-2/x.csv", "credentials": creds()}], "was not asked for"),
        (
            [
                {"url": A, "credentials": creds(secret="secret-one-x")},
                {"url": A, "credentials": creds(secret="secret-two-y")},
            ],
            "granted twice",
        ),
        ([{"url": "s3://avatars/user-1/../x", "credentials": creds()}], "'..'"),
        ([{"url": A, "credentials": creds(key_id="AKIA\nX")}], "control character"),
    ],
)
def test_a_batch_answer_with_what_was_not_asked_keeps_nothing(
    rsps: responses.RequestsMock, store: ApiClient, answer: List[Dict[str, Any]], problem: str
) -> None:
    _batch(rsps, [{"url": B, "credentials": creds(secret="secret-b")}, *answer])
    with pytest.raises(SchemaError, match=problem) as info:
        store.storage.prefetch([A, B])
    assert info.value.endpoint == "POST /access/batch"
    api = Api(rsps, [SECRET])
    rsps.add(responses.GET, f"{STORE}/avatars/user-1/data/b.csv", body=b"x")
    assert store.datasets.download(B) == b"x"
    assert api.access_urls == [B]  # B's batch credentials were not kept either
    assert "secret-" not in str(info.value) + repr(info.value)


# --------------------------------------------------------------------------- XML from the store


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE Error [<!ENTITY a "AccessDenied">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    "<Error><Code>&a;</Code><Message>&c;</Message></Error>"
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE Error [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<Error><Code>NoSuchKey</Code><Message>&x;</Message></Error>"
)
DEEP = "<Error>" + "<a>" * 5000 + "</a>" * 5000 + "<Code>NoSuchKey</Code></Error>"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BOMB, "document type declaration"),
        (EXTERNAL, "document type declaration"),
        (DEEP, "nested deeper"),
        ("<html><body>502 Bad Gateway</body>", "without an S3 error document"),
        ("<Error><Code>NoSuchKey</Code><Message>" + "x" * 200_000 + "</Message></Error>", "too large"),
        (b"\xff\xfe<\x00E\x00", "without an S3 error document"),
        *[
            (f'<?xml version="1.0" encoding="{name}"?><Error><Code>NoSuchKey</Code></Error>', "without an S3 error")
            for name in ("foo", "rot13", "utf-7", "idna")  # unknown, not text, multi-byte, failing: no LookupError
        ],
    ],
)
def test_an_error_document_is_never_expanded_nor_trusted(
    rsps: responses.RequestsMock, store: ApiClient, body: Any, expected: str
) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, OBJECT, status=404, body=body)
    with pytest.raises(StorageKeyNotFound) as info:
        store.storage.download(LOCATION)
    error = info.value
    assert error.code is None and error.status_code == 404 and expected in str(error)
    assert "root:" not in str(error) and "AccessDenied" not in str(error)
    assert len(str(error)) < 2000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '<!DOCTYPE r [<!ENTITY k "user-1/x.csv">]><ListBucketResult><IsTruncated>false</IsTruncated>'
            "<Contents><Key>&k;</Key><Size>1</Size></Contents></ListBucketResult>",
            "refuses",
        ),
        ("<ListBucketResult>" + "<Contents>" * 50 + "</Contents>" * 50 + "</ListBucketResult>", "nested deeper"),
        ("not xml at all", "not XML"),
        ('{"Contents": []}', "not XML"),
        *[
            (f'<?xml version="1.0" encoding="{name}"?><ListBucketResult/>', "not XML")
            for name in ("foo", "rot13", "utf-7", "idna")  # unknown, not text, multi-byte, failing: no LookupError
        ],
    ],
)
def test_a_listing_that_is_not_plain_xml_is_refused(
    rsps: responses.RequestsMock, store: ApiClient, body: str, expected: str
) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, f"{STORE}/avatars", body=body)
    with pytest.raises(StorageError, match=expected):
        store.datasets.list()


# --------------------------------------------------------------------------- listings


def _page(*keys: str, token: str = "") -> str:
    contents = "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in keys)
    more = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return f"<ListBucketResult>{more or '<IsTruncated>false</IsTruncated>'}{contents}</ListBucketResult>"


@pytest.mark.parametrize(
    "key",
    [
        "user-1/../../etc/passwd",
        "user-1/a/./b",
        "user-1//abs",
        "user-1/a&#9;b",
        "user-1/a&#10;b",
        "user-1/a\\..\\b",
        "user-2/not-yours.csv",
        "/etc/passwd",
    ],
)
def test_a_listed_key_that_could_leave_the_prefix_is_refused(
    rsps: responses.RequestsMock, store: ApiClient, key: str
) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, f"{STORE}/avatars", body=_page("user-1/ok.csv", key))
    with pytest.raises(StorageError, match="key"):
        store.datasets.list()


def test_a_continuation_token_that_repeats_is_a_loop(rsps: responses.RequestsMock, store: ApiClient) -> None:
    Api(rsps, [SECRET])
    tokens = ["t1", "t2", "t1"]

    def page(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        token = tokens.pop(0) if tokens else "t1"
        return 200, {}, _page(f"user-1/{token}.csv", token=token)

    rsps.add_callback(responses.GET, f"{STORE}/avatars", callback=page)
    with pytest.raises(StorageError, match="same continuation token twice"):
        store.datasets.list()
    assert len(store_calls(rsps)) == 3


def test_an_endless_listing_is_bounded(
    rsps: responses.RequestsMock, store: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    Api(rsps, [SECRET])
    monkeypatch.setattr(store_module, "MAX_LIST_PAGES", 7)
    sent: List[str] = []

    def page(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        sent.append(parse_qs(urlsplit(request.url or "").query).get("continuation-token", [""])[0])
        return 200, {}, _page(token=f"next-{len(sent)}")

    rsps.add_callback(responses.GET, f"{STORE}/avatars", callback=page)
    with pytest.raises(StorageError, match="did not end within 7 pages"):
        store.datasets.list()
    assert sent == ["", *(f"next-{n}" for n in range(1, 7))]


def test_a_listing_with_too_many_objects_is_bounded(
    rsps: responses.RequestsMock, store: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    Api(rsps, [SECRET])
    monkeypatch.setattr(store_module, "MAX_LIST_OBJECTS", 10)
    rsps.add(responses.GET, f"{STORE}/avatars", body=_page(*(f"user-1/{n}.csv" for n in range(11))))
    with pytest.raises(StorageError, match="more than 10 objects"):
        store.datasets.list()


@pytest.mark.parametrize("size", ["\u00b2", "\u00b9\u00b3", "\u2460", "9" * 40, "-1", "1e3"])
def test_a_listed_size_that_is_no_plain_number_is_zero(
    rsps: responses.RequestsMock, store: ApiClient, size: str
) -> None:
    """``'²'.isdigit()`` is true but ``int('²')`` is a ValueError: a size must be ASCII digits."""
    Api(rsps, [SECRET])
    contents = f"<Contents><Key>user-1/a.csv</Key><Size>{size}</Size></Contents>"
    page = f"<ListBucketResult><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
    rsps.add(responses.GET, f"{STORE}/avatars", body=page.encode("utf-8"))
    [listed] = store.datasets.list()
    assert (listed.key, listed.size) == ("a.csv", 0)


# --------------------------------------------------------------------------- resumed downloads


CONTENT = b"0123456789" * 1000


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (206, {"Content-Range": "bytes 0-9999/10000"}, CONTENT),  # starts over
        (206, {"Content-Range": "bytes 4000-19999/20000"}, CONTENT * 2),  # another object
        (206, {"Content-Range": "bytes 4000-4999/10000"}, CONTENT[4000:5000]),  # a piece only
        (206, {"Content-Range": "bytes 4000-9999/*"}, CONTENT[4000:]),
        (206, {"Content-Range": "bytes 4000-9999/10000", "ETag": '"v2"'}, CONTENT[4000:]),  # changed
        (206, {}, CONTENT[4000:]),
        (200, {}, CONTENT),
    ],
)
def test_a_resume_that_is_not_the_rest_of_the_object_leaves_no_file(
    rsps: responses.RequestsMock,
    store: ApiClient,
    tmp_path: Path,
    status: int,
    headers: Dict[str, str],
    body: bytes,
) -> None:
    Api(rsps, [SECRET])
    rsps.add(
        responses.GET,
        OBJECT,
        body=CONTENT[:4000],
        headers={"Content-Length": str(len(CONTENT)), "ETag": '"v1"'},
        auto_calculate_content_length=False,
    )
    rsps.add(responses.GET, OBJECT, status=status, headers=headers, body=body)
    target = tmp_path / "out.csv"
    with pytest.raises(StorageError, match="did not resume the download at byte 4000"):
        store.storage.download(LOCATION, target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", ["\u00b2", "\u00b9\u00b3"])
def test_a_content_length_of_non_ascii_digits_is_no_length(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path, length: str
) -> None:
    """A header is read as Latin-1, where ``'²'.isdigit()`` is true and ``int('²')`` a ValueError."""
    Api(rsps, [SECRET])
    rsps.add(
        responses.GET, OBJECT, body=CONTENT, headers={"Content-Length": length}, auto_calculate_content_length=False
    )
    target = tmp_path / "out.csv"
    store.storage.download(LOCATION, target)
    assert target.read_bytes() == CONTENT


# --------------------------------------------------------------------------- GET /results


@pytest.mark.parametrize(
    "body",
    [
        {"shuffled": None},
        {"shuffled": [None]},
        {"shuffled": [1, 2]},
        {"shuffled": "s3://avatars/a.csv"},
        {"shuffled": {"url": "s3://avatars/a.csv"}},
        {"shuffled": [["s3://avatars/a.csv"]]},
        ["s3://avatars/a.csv"],
        "s3://avatars/a.csv",
        None,
    ],
)
def test_results_of_the_wrong_shape_are_a_schema_error(
    rsps: responses.RequestsMock, client: ApiClient, body: Any
) -> None:
    rsps.add(responses.GET, f"{BASE}/results/job-1", body=json.dumps(body), content_type="application/json")
    with pytest.raises(SchemaError) as info:
        client.results.get_results("job-1")
    assert info.value.endpoint == "GET /results/{job_name}"


def test_thousands_of_result_urls_load_and_name_distinct_files(rsps: responses.RequestsMock, client: ApiClient) -> None:
    urls = [f"s3://avatars/results/job-1/part-{n % 7}/table.csv" for n in range(5000)]
    rsps.add(responses.GET, f"{BASE}/results/job-1", json={"shuffled": urls, "unshuffled": []})
    results = client.results.get_results("job-1")
    assert len(results["shuffled"]) == 5000 and results["unshuffled"] == []
    names = [name for _, _, name in results.files()]
    assert len(set(names)) == 5000 and all("/" not in name for name in names)


def test_the_same_url_under_two_kinds_is_downloaded_to_two_files_with_one_access(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path
) -> None:
    url = f"{PREFIX}/results/table.csv"
    rsps.add(responses.GET, f"{BASE}/results/job-1", json={"shuffled": [url], "unshuffled": [url]})
    api = Api(rsps, [SECRET])
    rsps.add(responses.GET, f"{STORE}/avatars/user-1/results/table.csv", body=b"a,b\n")
    files = store.results.get_results("job-1").files()
    written = download_result_files(store.results, [(u, name) for _, u, name in files], tmp_path)
    assert [path.name for _, path in written] == ["table.csv", "table-2.csv"]
    assert all(path.read_bytes() == b"a,b\n" for _, path in written)
    assert api.access_urls == [url]


# --------------------------------------------------------------------------- multipart completion


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class AssemblingStore:
    """A store whose part ETags are MD5s (as S3's) and whose completion answers ``final``
    (``None``: the ETag S3 would give the parts)."""

    def __init__(self, rsps: responses.RequestsMock, final: Optional[str], part_etag: Optional[str] = None) -> None:
        self.final = final
        self.part_etag = part_etag
        self.part_md5s: List[str] = []
        self.deleted = 0
        url = re.compile(re.escape(OBJECT) + r"\?.*")
        rsps.add_callback(responses.POST, url, callback=self.post)
        rsps.add_callback(responses.PUT, url, callback=self.put)
        rsps.add_callback(responses.DELETE, url, callback=self.delete)

    def post(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        if "uploads" in (request.url or ""):
            return 200, {}, "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"
        joined = hashlib.md5(b"".join(bytes.fromhex(m) for m in self.part_md5s), usedforsecurity=False)
        etag = self.final if self.final is not None else f"{joined.hexdigest()}-{len(self.part_md5s)}"
        return (
            200,
            {},
            f"<CompleteMultipartUploadResult><ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>",
        )

    def put(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        body = request.body
        data = b"".join(body) if body is not None and not isinstance(body, (bytes, str)) else b""
        self.part_md5s.append(_md5(data))
        return 200, {"ETag": f'"{self.part_etag or self.part_md5s[-1]}"'}, ""

    def delete(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        self.deleted += 1
        return 204, {}, ""


def test_a_completion_whose_etag_is_not_made_of_the_parts_is_an_error(
    rsps: responses.RequestsMock, store: ApiClient
) -> None:
    Api(rsps, [SECRET])
    AssemblingStore(rsps, final=None)
    result = store.datasets.upload(b"m" * (6 * MIB), "data/table.csv", part_size=5 * MIB)
    assert result.parts == 2 and result.etag is not None and result.etag.endswith('-2"')
    rsps.reset()
    Api(rsps, [SECRET])
    other = AssemblingStore(rsps, final=_md5(b"something else") + "-2")
    with pytest.raises(StorageError, match="not the .* its 2 parts make"):
        store.datasets.upload(b"m" * (6 * MIB), "data/table.csv", part_size=5 * MIB)
    assert other.deleted == 0  # completed: nothing to abort, and the object is not deleted behind the caller


def test_part_etags_of_another_scheme_are_not_judged(rsps: responses.RequestsMock, store: ApiClient) -> None:
    Api(rsps, [SECRET])
    AssemblingStore(rsps, final="opaque", part_etag="not-an-md5")
    assert store.datasets.upload(b"m" * (6 * MIB), "data/table.csv", part_size=5 * MIB).etag == '"opaque"'


@pytest.mark.parametrize("final", ["CJ2N3aO+94YCEAE=", "opaque-2", _md5(b"x"), "0" * 31 + "-2"])
def test_a_final_etag_of_another_form_is_not_judged(rsps: responses.RequestsMock, store: ApiClient, final: str) -> None:
    # MD5 part ETags, but the completed object named another way (as some
    # S3-compatible stores do): the upload worked, nothing is claimed about it.
    Api(rsps, [SECRET])
    AssemblingStore(rsps, final=final)
    assert store.datasets.upload(b"m" * (6 * MIB), "data/table.csv", part_size=5 * MIB).etag == f'"{final}"'


def test_download_options_reach_the_store(rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, OBJECT, body=b"abc")
    result = store.datasets.download(LOCATION, tmp_path / "a.csv", checksum=False)
    assert result.sha256 == "" and (tmp_path / "a.csv").read_bytes() == b"abc"  # type: ignore[union-attr]
