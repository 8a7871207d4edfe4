"""The storage client with ``responses``: signing (checked against botocore's
signer, run separately here), where credentials go, the credential cache,
multipart uploads and their abort, S3 error mapping, keys, resumed downloads."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from avatars import ApiClient, ClientConfig, PermissionDenied, RequestValidationError
from avatars.models import FileAccess, FileCredentials
from avatars.storage import (
    Location,
    StorageAccessDenied,
    StorageAuth,
    StorageCredentialsExpired,
    StorageError,
    StorageKeyNotFound,
    StorageSignatureMismatch,
    StorageSlowDown,
    location_of,
)

from .conftest import AUTH, BASE

STORE = "https://store.test/storage"
PREFIX = "s3://avatars/user-1"
OBJECT = f"{STORE}/avatars/user-1/data/table.csv"
KEY_ID = "AKIASTORAGEKEY1"
SECRET = "storage-secret-value-1"
MIB = 1024 * 1024


def s3_error(code: str, message: str = "refused") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<StringToSign>AWS4-HMAC-SHA256 secret-looking</StringToSign><RequestId>RID1</RequestId></Error>"
    )


class Api:
    """``/upload_url`` and ``/access`` answers, counting the ``/access`` calls."""

    def __init__(self, rsps: responses.RequestsMock, secrets: List[str]) -> None:
        self.secrets = list(secrets)
        self.access_urls: List[str] = []
        rsps.add(responses.GET, f"{BASE}/upload_url", json=PREFIX)
        rsps.add_callback(responses.GET, f"{BASE}/access", callback=self.access)

    def access(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        url = parse_qs(urlsplit(request.url or "").query)["url"][0]
        self.access_urls.append(url)
        secret = self.secrets[min(len(self.access_urls), len(self.secrets)) - 1]
        body = {"url": url, "credentials": {"access_key_id": KEY_ID, "secret_access_key": secret}}
        return 200, {}, json.dumps(body)


@pytest.fixture
def store_client() -> Iterator[ApiClient]:
    with ApiClient(BASE, api_key="key-1", storage_endpoint_url=STORE) as client:
        client.storage.retry_backoff = 0.0
        yield client


def body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    body.seek(0)
    if hasattr(body, "read"):
        return b"".join(iter(lambda: body.read(MIB), b""))
    return b"".join(body)  # the store client's SendBody: an iterable of blocks


def botocore_signature(request: requests.PreparedRequest, secret: str, body: bytes) -> str:
    """The signature botocore's S3 signer computes for the request as it was sent."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    authorization = request.headers["Authorization"]
    signed = re.search(r"SignedHeaders=([^,]+)", authorization).group(1).split(";")  # type: ignore[union-attr]
    headers = {name: request.headers[name] for name in signed if name != "host"}
    aws = AWSRequest(method=request.method, url=request.url, headers=headers, data=body)
    aws.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = S3SigV4Auth(Credentials(KEY_ID, secret), "s3", "us-east-1")
    canonical = signer.canonical_request(aws)
    return str(signer.signature(signer.string_to_sign(aws, canonical), aws))


def sent_signature(request: requests.PreparedRequest) -> str:
    return re.search(r"Signature=([0-9a-f]{64})", request.headers["Authorization"]).group(1)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- signing


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_signature_matches_botocore_and_payload_is_hashed_or_unsigned(scheme: str) -> None:
    url = f"{scheme}://store.test/storage/avatars/user-1/a%20b/t%C3%A9.csv?partNumber=2&uploadId=x%2By"
    body = b"a,b\n1,2\n" * 1000
    auth = StorageAuth(KEY_ID, SECRET, f"{scheme}://store.test/storage")
    prepared = requests.Request(
        "PUT", url, data=io.BytesIO(body), headers={"Content-Type": "text/csv", "Connection": "keep-alive"}
    ).prepare()
    auth(prepared)
    expected_payload = "UNSIGNED-PAYLOAD" if scheme == "https" else hashlib.sha256(body).hexdigest()
    assert prepared.headers["X-Amz-Content-SHA256"] == expected_payload
    assert sent_signature(prepared) == botocore_signature(prepared, SECRET, body)
    assert sent_signature(prepared) != botocore_signature(prepared, "another-secret", body)
    signed = re.search(r"SignedHeaders=([^,]+)", prepared.headers["Authorization"]).group(1)  # type: ignore[union-attr]
    assert signed == "content-type;host;x-amz-content-sha256;x-amz-date"  # not Connection: a proxy may change it
    assert f"Credential={KEY_ID}/" in prepared.headers["Authorization"]
    assert prepared.body.tell() == 0  # type: ignore[union-attr]  # hashed, then rewound


def test_a_file_body_is_hashed_in_bounded_reads(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (3 * MIB + 5))
    reads: List[int] = []

    class Spy(io.FileIO):
        def read(self, size: int = -1) -> bytes:  # type: ignore[override]
            reads.append(size)
            return super().read(size)

    with Spy(str(path), "rb") as handle:
        prepared = requests.Request("PUT", "http://store.test/storage/b/k", data=handle).prepare()
        StorageAuth(KEY_ID, SECRET, "http://store.test/storage")(prepared)
    assert prepared.headers["X-Amz-Content-SHA256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert reads and all(0 < size <= MIB for size in reads)


def test_unsigned_payload_option_and_repr_hides_credentials() -> None:
    auth = StorageAuth(KEY_ID, SECRET, "http://store.test/storage", unsigned_payload=True)
    prepared = requests.Request("PUT", "http://store.test/storage/b/k", data=b"abc").prepare()
    auth(prepared)
    assert prepared.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert sent_signature(prepared) == botocore_signature(prepared, SECRET, b"abc")
    assert SECRET not in repr(auth) and KEY_ID not in repr(auth)


def test_another_origin_is_never_signed() -> None:
    auth = StorageAuth(KEY_ID, SECRET, "https://store.test/storage")
    for url in ("https://elsewhere.test/storage/b/k", "http://store.test/storage/b/k", "https://store.test:8443/b/k"):
        prepared = requests.Request("GET", url).prepare()
        auth(prepared)
        assert "Authorization" not in prepared.headers and "X-Amz-Date" not in prepared.headers


# --------------------------------------------------------------------------- endpoint configuration


def test_storage_endpoint_default_and_configuration() -> None:
    assert ApiClient("https://h.test/x/api", api_key="k").storage.endpoint_url == "https://h.test/x/storage"
    assert ApiClient(BASE, api_key="k", storage_endpoint_url="http://s.test:9000/").storage.endpoint_url == (
        "http://s.test:9000"
    )
    config = ClientConfig(base_url=BASE, storage_endpoint_url="https://s3.test/bucket-root")
    assert ApiClient(config=config).storage.endpoint_url == "https://s3.test/bucket-root"
    env = {"AVATAR_BASE_API_URL": BASE, "AVATAR_STORAGE_ENDPOINT_URL": "https://env.test/storage"}
    assert ClientConfig.from_env(env).storage_url == "https://env.test/storage"
    assert ClientConfig.from_env({"AVATAR_BASE_API_URL": BASE}).storage_url == "https://avatar.test/storage"
    for bad in ("ftp://x", "https://u:p@x.test/s", "not a url", ""):
        with pytest.raises(Exception) as info:
            ClientConfig(base_url=BASE, storage_endpoint_url=bad)
        assert "storage_endpoint_url" in str(info.value)
    with pytest.raises(Exception, match="storage_endpoint_url"):
        ApiClient(config=config, storage_endpoint_url="https://s.test")


# --------------------------------------------------------------------------- where credentials go


def test_api_credentials_never_reach_the_store_nor_storage_credentials_the_api(
    rsps: responses.RequestsMock, store_client: ApiClient
) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.PUT, OBJECT, headers={"ETag": '"e1"'})
    rsps.add(responses.GET, OBJECT, body=b"a,b\n")
    result = store_client.datasets.upload(b"a,b\n", "data/table.csv")
    assert result.location == Location("avatars", "user-1/data/table.csv") and result.etag == '"e1"'
    assert store_client.datasets.download(result.location) == b"a,b\n"
    for call in rsps.calls:
        headers = call.request.headers
        url = call.request.url or ""
        if url.startswith(BASE):
            assert headers["Authorization"] == AUTH["Authorization"]
            assert not any(name.lower().startswith("x-amz") for name in headers)
        else:
            assert url.startswith(STORE)
            assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
            assert "api-key" not in json.dumps(dict(headers))
    assert [c.request.url.split("?")[0] for c in rsps.calls] == [  # type: ignore[union-attr]
        f"{BASE}/upload_url",
        f"{BASE}/access",
        OBJECT,
        OBJECT,
    ]


def test_access_is_asked_with_the_platform_sdk_form(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    api = Api(rsps, [SECRET])
    rsps.add(responses.PUT, OBJECT, headers={"ETag": '"e1"'})
    store_client.upload_file(b"x", "data/table.csv")
    assert api.access_urls == [f"{BASE}/access?url={PREFIX}/data/table.csv"]


# --------------------------------------------------------------------------- credential cache


def test_credentials_are_cached_per_location_and_refreshed_once_when_expired(
    rsps: responses.RequestsMock, store_client: ApiClient
) -> None:
    api = Api(rsps, ["old-secret", SECRET])
    seen: List[str] = []

    def answer(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], bytes]:
        seen.append(sent_signature(request))
        if sent_signature(request) == botocore_signature(request, SECRET, b""):
            return 200, {}, b"content"
        return 403, {}, s3_error("ExpiredToken", "The provided token has expired.").encode()

    rsps.add_callback(responses.GET, OBJECT, callback=answer)
    location = location_of(f"{PREFIX}/data/table.csv")
    assert store_client.storage.download(location) == b"content"
    assert store_client.storage.download(location) == b"content"
    assert len(api.access_urls) == 2 and len(seen) == 3  # old refused, new, new (cached)


def test_credentials_that_stay_refused_raise_after_one_refresh(
    rsps: responses.RequestsMock, store_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    api = Api(rsps, ["old-secret"])
    rsps.add(responses.GET, OBJECT, status=403, body=s3_error("ExpiredToken"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageCredentialsExpired) as info:
        store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"))
    assert info.value.code == "ExpiredToken" and info.value.status_code == 403
    assert isinstance(info.value, PermissionDenied)
    assert len(api.access_urls) == 2
    text = caplog.text + str(info.value) + repr(info.value)
    assert "old-secret" not in text and "secret-looking" not in text


def test_a_file_access_is_used_as_given(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    rsps.add(responses.GET, f"{STORE}/results/job-1/report.pdf", body=b"%PDF-1")
    rsps.add(responses.GET, f"{STORE}/results/job-1/table.csv", body="é,1\n".encode())
    creds = FileCredentials(KEY_ID, SECRET)
    pdf = FileAccess(url=f"{BASE}/access?url=s3://results/job-1/report.pdf", credentials=creds)
    csv = FileAccess(url="s3://results/job-1/table.csv", credentials=creds)
    assert store_client.download_file(pdf) == b"%PDF-1"
    assert store_client.download_file(csv) == "é,1\n"
    assert all(sent_signature(c.request) == botocore_signature(c.request, SECRET, b"") for c in rsps.calls)
    assert len(rsps.calls) == 2  # no /access call


def test_access_batch_sends_a_bare_list(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    urls = [f"{BASE}/access?url=s3://results/job-1/a.csv", "s3://results/job-1/b.csv"]
    granted = [{"url": urls[0], "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET}}]
    rsps.add(responses.POST, f"{BASE}/access/batch", json=granted, match=[responses.matchers.json_params_matcher(urls)])
    assert store_client.storage.prefetch(urls) == [Location("results", "job-1/a.csv")]


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("key", ["../other-user/x.csv", "a/../../b", "/etc/passwd", "a\x00b", "", "a//b", "a\\b"])
def test_bad_keys_are_refused_before_sending(rsps: responses.RequestsMock, store_client: ApiClient, key: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        store_client.datasets.upload(b"x", key)
    assert info.value.field == "key"
    with pytest.raises(RequestValidationError):
        store_client.upload_file(b"x", key)
    assert len(rsps.calls) == 0


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "NoSuchKey", StorageKeyNotFound),
        (403, "AccessDenied", StorageAccessDenied),
        (403, "SignatureDoesNotMatch", StorageSignatureMismatch),
        (400, "InvalidArgument", StorageError),
    ],
)
def test_s3_errors_are_typed(
    rsps: responses.RequestsMock, store_client: ApiClient, status: int, code: str, cls: type
) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, OBJECT, status=status, body=s3_error(code, "the store says no"))
    with pytest.raises(cls) as info:
        store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"))
    error = info.value
    assert type(error) is cls and error.code == code and error.status_code == status
    assert code in str(error) and "the store says no" in str(error) and "GET" in str(error)
    assert "secret-looking" not in str(error) and SECRET not in str(error)


def test_slow_down_is_retried_then_raised(rsps: responses.RequestsMock) -> None:
    """With a plain session (no urllib3 retries of its own), the storage layer retries."""
    store_client = ApiClient(BASE, api_key="key-1", storage_endpoint_url=STORE, http_client=requests.Session())
    store_client.storage.retry_backoff = 0.0
    Api(rsps, [SECRET])
    rsps.add(responses.GET, OBJECT, status=503, body=s3_error("SlowDown", "Please reduce your request rate."))
    rsps.add(responses.GET, OBJECT, body=b"ok")
    assert store_client.storage.download(location_of(f"{PREFIX}/data/table.csv")) == b"ok"
    rsps.replace(responses.GET, OBJECT, status=503, body="<html>busy</html>")
    with pytest.raises(StorageSlowDown) as info:
        store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"))
    assert info.value.code is None and info.value.status_code == 503
    assert len([c for c in rsps.calls if c.request.url == OBJECT]) == 2 + 3


def test_a_redirect_is_not_followed(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    Api(rsps, [SECRET])
    rsps.add(responses.GET, OBJECT, status=307, headers={"Location": "https://evil.test/x"})
    with pytest.raises(StorageError, match="redirect"):
        store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"))
    assert not any("evil" in (c.request.url or "") for c in rsps.calls)


# --------------------------------------------------------------------------- multipart


class Multipart:
    """A store's multipart calls, recorded; ``fail_part`` answers that part with an error."""

    def __init__(self, rsps: responses.RequestsMock, *, fail_part: int = 0, fail_status: int = 403) -> None:
        self.parts: Dict[int, bytes] = {}
        self.aborted = 0
        self.completed: List[bytes] = []
        self.fail_part = fail_part
        self.fail_status = fail_status
        url = re.compile(re.escape(OBJECT) + r"\?.*")
        rsps.add_callback(responses.POST, url, callback=self.post)
        rsps.add_callback(responses.PUT, url, callback=self.put)
        rsps.add_callback(responses.DELETE, url, callback=self.delete)

    def post(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        query = parse_qs(urlsplit(request.url or "").query, keep_blank_values=True)
        if "uploads" in query:
            return 200, {}, "<InitiateMultipartUploadResult><UploadId>up/1+x</UploadId></InitiateMultipartUploadResult>"
        assert query["uploadId"] == ["up/1+x"]
        self.completed.append(body_bytes(request))
        return 200, {}, '<CompleteMultipartUploadResult><ETag>"all-2"</ETag></CompleteMultipartUploadResult>'

    def put(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        query = parse_qs(urlsplit(request.url or "").query)
        number = int(query["partNumber"][0])
        data = body_bytes(request)
        assert request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"  # https
        if number == self.fail_part:
            return self.fail_status, {}, s3_error("AccessDenied" if self.fail_status == 403 else "InternalError")
        self.parts[number] = data
        return 200, {"ETag": f'"etag-{number}"'}, ""

    def delete(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        self.aborted += 1
        return 204, {}, ""


@pytest.mark.parametrize("workers", [1, 3])
def test_multipart_upload_of_a_file(
    rsps: responses.RequestsMock, store_client: ApiClient, tmp_path: Path, workers: int
) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps)
    content = bytes(range(256)) * (4 * 12 * 1024 + 7)  # ~12 MiB
    path = tmp_path / "table.csv"
    path.write_bytes(content)
    progress: List[Tuple[int, Any]] = []
    result = store_client.datasets.upload(
        path,
        "data/table.csv",
        part_size=5 * MIB,
        max_concurrency=workers,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert result.parts == 3 and result.size == len(content) and result.etag == '"all-2"'
    assert b"".join(store.parts[n] for n in sorted(store.parts)) == content
    assert [len(store.parts[n]) for n in (1, 2)] == [5 * MIB, 5 * MIB]
    completed = store.completed[0].decode()
    assert re.findall(r"<PartNumber>(\d)</PartNumber><ETag>\"etag-\d\"</ETag>", completed) == ["1", "2", "3"]
    assert progress[0] == (0, len(content)) and progress[-1] == (len(content), len(content))
    assert store.aborted == 0


def test_multipart_from_a_generator_keeps_one_part_in_memory(
    rsps: responses.RequestsMock, store_client: ApiClient
) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps)
    chunks = [bytes([i]) * (MIB + 3) for i in range(11)]
    result = store_client.datasets.upload(iter(chunks), "data/table.csv", part_size=5 * MIB)
    assert b"".join(store.parts[n] for n in sorted(store.parts)) == b"".join(chunks)
    assert result.parts == 3 and store.aborted == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_part_aborts_the_upload(
    rsps: responses.RequestsMock, store_client: ApiClient, tmp_path: Path, workers: int
) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps, fail_part=2)
    path = tmp_path / "t.bin"
    path.write_bytes(b"z" * (11 * MIB))
    with pytest.raises(StorageAccessDenied):
        store_client.datasets.upload(path, "data/table.csv", part_size=5 * MIB, max_concurrency=workers)
    assert store.aborted == 1 and not store.completed


def test_an_internal_error_on_a_part_is_retried_then_aborts(
    rsps: responses.RequestsMock, store_client: ApiClient
) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps, fail_part=1, fail_status=500)
    with pytest.raises(StorageSlowDown):
        store_client.datasets.upload(b"q" * (6 * MIB), "data/table.csv", part_size=5 * MIB)
    part_calls = [c for c in rsps.calls if "partNumber=1" in (c.request.url or "")]
    assert len(part_calls) == 3 and store.aborted == 1


def test_an_interrupt_aborts_the_upload(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps)

    def progress(done: int, total: Any) -> None:
        if done > 6 * MIB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store_client.datasets.upload(b"k" * (12 * MIB), "data/table.csv", part_size=5 * MIB, progress=progress)
    assert store.aborted == 1 and not store.completed and 3 not in store.parts


def test_an_error_document_in_a_complete_answer_aborts(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    Api(rsps, [SECRET])
    store = Multipart(rsps)
    url = re.compile(re.escape(OBJECT) + r"\?uploadId=.*")
    rsps.add(responses.POST, url, status=200, body=s3_error("InvalidPart", "One or more parts could not be found"))
    rsps.calls.reset()
    # The registered Multipart.post answers "?uploads"; the second match answers completion.
    store_client.storage.max_attempts = 1
    with pytest.raises(StorageError, match="InvalidPart"):
        store_client.datasets.upload(b"c" * (6 * MIB), "data/table.csv", part_size=5 * MIB)
    assert store.aborted == 1


def test_part_size_is_checked(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    with pytest.raises(RequestValidationError):
        store_client.datasets.upload(b"x", "k", part_size=1024)
    with pytest.raises(RequestValidationError):
        store_client.datasets.upload(b"x", "k", max_concurrency=0)
    assert len(rsps.calls) == 0


def test_a_dataframe_is_uploaded_as_csv(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    pd = pytest.importorskip("pandas")
    Api(rsps, [SECRET])
    sent: List[bytes] = []

    def put(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        sent.append(body_bytes(request))  # while the call runs: the spooled CSV is gone afterwards
        return 200, {"ETag": '"e"'}, ""

    rsps.add_callback(responses.PUT, OBJECT, callback=put)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[5, 6])
    store_client.upload_file(frame, "data/table.csv")
    assert sent == [b"a,b\n1,x\n2,y\n"]


# --------------------------------------------------------------------------- downloads


def test_a_dropped_download_resumes_with_range(
    rsps: responses.RequestsMock, store_client: ApiClient, tmp_path: Path
) -> None:
    Api(rsps, [SECRET])
    content = b"0123456789" * 1000
    rsps.add(
        responses.GET,
        OBJECT,
        body=content[:4000],
        headers={"Content-Length": str(len(content)), "ETag": '"v1"'},
        auto_calculate_content_length=False,
    )

    def rest(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], bytes]:
        assert request.headers["Range"] == "bytes=4000-" and request.headers["If-Match"] == '"v1"'
        assert "range" in request.headers["Authorization"]
        headers = {"Content-Range": f"bytes 4000-{len(content) - 1}/{len(content)}", "ETag": '"v1"'}
        return 206, headers, content[4000:]

    rsps.add_callback(responses.GET, OBJECT, callback=rest)
    target = tmp_path / "out.csv"
    result = store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"), target)
    assert target.read_bytes() == content
    assert result.sha256 == hashlib.sha256(content).hexdigest() and result.bytes_written == len(content)  # type: ignore[union-attr]


def test_a_download_that_cannot_resume_leaves_no_file(
    rsps: responses.RequestsMock, store_client: ApiClient, tmp_path: Path
) -> None:
    Api(rsps, [SECRET])
    rsps.add(
        responses.GET,
        OBJECT,
        body=b"abc",
        headers={"Content-Length": "10", "ETag": '"v1"'},
        auto_calculate_content_length=False,
    )
    rsps.add(responses.GET, OBJECT, status=412, body=s3_error("PreconditionFailed", "changed"))
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous")
    with pytest.raises(StorageError) as info:
        store_client.storage.download(location_of(f"{PREFIX}/data/table.csv"), target)
    assert info.value.code == "PreconditionFailed"
    assert target.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_list_reads_every_page(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    Api(rsps, [SECRET])
    page1 = (
        "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t/2=</NextContinuationToken>"
        '<Contents><Key>user-1/a.csv</Key><Size>3</Size><ETag>"e"</ETag></Contents></ListBucketResult>'
    )
    page2 = (
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>user-1/d/b.csv</Key><Size>5</Size></Contents></ListBucketResult>"
    )
    rsps.add(
        responses.GET,
        f"{STORE}/avatars",
        body=page1,
        match=[responses.matchers.query_string_matcher("list-type=2&prefix=user-1%2F")],
    )
    rsps.add(
        responses.GET,
        f"{STORE}/avatars",
        body=page2,
        match=[responses.matchers.query_string_matcher("list-type=2&prefix=user-1%2F&continuation-token=t%2F2%3D")],
    )
    listed = store_client.datasets.list()
    assert [(o.key, o.size) for o in listed] == [("a.csv", 3), ("d/b.csv", 5)]
    assert listed[1].location == Location("avatars", "user-1/d/b.csv")


# --------------------------------------------------------------------------- direct URLs


@pytest.mark.parametrize(
    ("url", "direct"),
    [
        ("https://cdn.test/results/a.csv?X-Amz-Signature=abc", True),  # a pre-signed link elsewhere
        (f"{STORE}/avatars/user-1/a.csv", False),  # on the store: signed with /access credentials
        (f"{BASE}/access?url=s3://avatars/user-1/a.csv", False),  # an API URL carrying a location
        ("https://cdn.test/x?url=/", True),  # a "url" parameter that carries no location
        ("s3://avatars/user-1/a.csv", False),
        ("https://store.test/storage-other/a.csv", True),  # not under the endpoint's path
    ],
)
def test_direct_urls(store_client: ApiClient, url: str, direct: bool) -> None:
    assert store_client.storage.is_direct_url(url) is direct


def test_a_direct_result_url_is_read_without_credentials(rsps: responses.RequestsMock, store_client: ApiClient) -> None:
    url = "https://cdn.test/results/a.csv?X-Amz-Signature=abc"
    rsps.add(responses.GET, url, body=b"a,b\n")
    buffer = io.BytesIO()
    store_client.results.download_file(url, buffer)
    assert buffer.getvalue() == b"a,b\n" and len(rsps.calls) == 1  # no /access call
    assert "Authorization" not in rsps.calls[0].request.headers
