"""The local S3 store, driven by independent clients: botocore and ``curl --aws-sigv4``.

Credentials always come from the server's own ``GET /access``; nothing here
signs by hand except where a test forges a bad request on purpose.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from typing import Any, Dict, Iterator, Optional

import botocore
import botocore.session as botocore_session
import pytest
import requests
from botocore.exceptions import ClientError

from avatars.testing import LocalAvatarServer
from avatars.testing.admin import CreatedUser

from .conftest import s3_client

BUCKET = "avatars"


def access(http: requests.Session, srv: LocalAvatarServer, location: str) -> Dict[str, Any]:
    response = http.get(srv.url("/access"), params={"url": location})
    assert response.status_code == 200, response.text
    body: Dict[str, Any] = response.json()
    return body


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


@pytest.fixture
def prefix(http: requests.Session, srv: LocalAvatarServer) -> str:
    value = http.get(srv.url("/upload_url")).json()
    assert isinstance(value, str)
    return value


@pytest.fixture
def s3(http: requests.Session, srv: LocalAvatarServer, prefix: str) -> Iterator[Any]:
    client = s3_client(srv.storage_endpoint_url, access(http, srv, prefix))
    yield client
    client.close()


def key_of(prefix: str, name: str) -> str:
    return prefix[len(f"s3://{BUCKET}/") :] + "/" + name


def test_upload_url_is_the_callers_prefix(prefix: str, user: CreatedUser) -> None:
    assert prefix == f"s3://{BUCKET}/users/{user.id}"


def test_put_get_head_list_delete(s3: Any, prefix: str) -> None:
    key = key_of(prefix, "data/people.csv")
    body = b"id,age\n" + b"1,30\n" * 1000
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/csv")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == body and got["ContentType"] == "text/csv"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=3-9")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["Body"].read() == body[3:10]
    assert ranged["ContentRange"] == f"bytes 3-9/{len(body)}"
    suffix = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=-5")
    assert suffix["Body"].read() == body[-5:]
    with pytest.raises(ClientError) as bad_range:
        s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={len(body)}-")
    assert error_code(bad_range.value) == "InvalidRange"
    assert bad_range.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    s3.delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=BUCKET, Key=key)
    assert error_code(missing.value) == "NoSuchKey"


def test_list_objects_v2_prefix_delimiter_and_pages(s3: Any, prefix: str) -> None:
    base = key_of(prefix, "")
    names = ["a.csv", "b.csv", "dir/x.csv", "dir/y.csv", "dir/sub/z.csv", "e.csv"]
    for name in names:
        s3.put_object(Bucket=BUCKET, Key=base + name, Body=name.encode())
    top = s3.list_objects_v2(Bucket=BUCKET, Prefix=base, Delimiter="/")
    assert [o["Key"][len(base) :] for o in top["Contents"]] == ["a.csv", "b.csv", "e.csv"]
    assert [p["Prefix"][len(base) :] for p in top["CommonPrefixes"]] == ["dir/"]
    seen = []
    token: Optional[str] = None
    pages = 0
    while True:
        kwargs: Dict[str, Any] = {"Bucket": BUCKET, "Prefix": base, "MaxKeys": 2}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        seen.extend(o["Key"][len(base) :] for o in page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert pages == 3 and seen == sorted(names)
    deleted = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": base + n} for n in names[:3]]})
    assert sorted(d["Key"][len(base) :] for d in deleted["Deleted"]) == sorted(names[:3])
    left = s3.list_objects_v2(Bucket=BUCKET, Prefix=base)
    assert [o["Key"][len(base) :] for o in left["Contents"]] == sorted(names[3:])


def _no_kernel_copy(*args: Any) -> int:
    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.mark.parametrize("join", ["kernel copy", "kernel copy refused", "no kernel copy"])
def test_multipart_upload_etag_and_nothing_left_behind(
    s3: Any, prefix: str, srv: LocalAvatarServer, join: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store joins the parts in the kernel (os.copy_file_range) where it can, else through a buffer.
    if join == "kernel copy refused":
        monkeypatch.setattr(os, "copy_file_range", _no_kernel_copy, raising=False)
    elif join == "no kernel copy":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    srv.settings.storage_min_part_size = 1024
    key = key_of(prefix, "big.bin")
    parts = [bytes([i]) * 2048 for i in range(3)] + [b"tail"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=data)
        done.append({"PartNumber": number, "ETag": out["ETag"]})
    listed = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key_of(prefix, ""))
    assert [u["UploadId"] for u in listed["Uploads"]] == [upload["UploadId"]]
    result = s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-4"'
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"".join(parts)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key_of(prefix, ""))


def test_multipart_refuses_wrong_etag_order_and_small_parts(s3: Any, prefix: str, srv: LocalAvatarServer) -> None:
    key = key_of(prefix, "bad.bin")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    upload_id = upload["UploadId"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=n, Body=b"x" * 10)["ETag"] for n in (1, 2)
    ]

    def complete(parts: Any) -> str:
        with pytest.raises(ClientError) as failure:
            s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        return error_code(failure.value)

    assert complete([{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]) == "InvalidPart"
    assert complete([{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]) == "InvalidPartOrder"
    assert complete([{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key_of(prefix, ""))
    with pytest.raises(ClientError) as gone:
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=3, Body=b"y")
    assert error_code(gone.value) == "NoSuchUpload"


def test_bucket_calls_s3fs_makes(s3: Any) -> None:
    head = s3.head_bucket(Bucket=BUCKET)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=BUCKET).get("LocationConstraint") is None
    with pytest.raises(ClientError) as missing:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert error_code(missing.value) == "NoSuchBucket"


def test_credentials_open_only_their_location(
    http: requests.Session, srv: LocalAvatarServer, prefix: str, user: CreatedUser
) -> None:
    one = key_of(prefix, "one.csv")
    narrow = s3_client(srv.storage_endpoint_url, access(http, srv, f"s3://{BUCKET}/{one}"))
    narrow.put_object(Bucket=BUCKET, Key=one, Body=b"1")
    with pytest.raises(ClientError) as sibling:
        narrow.put_object(Bucket=BUCKET, Key=key_of(prefix, "two.csv"), Body=b"2")
    assert error_code(sibling.value) == "AccessDenied"
    bob = srv.admin.create_user("bob@example.com", "bob-password")
    bob_key = f"users/{bob.id}/secret.csv"
    with pytest.raises(ClientError) as other_user:
        narrow.get_object(Bucket=BUCKET, Key=bob_key)
    assert error_code(other_user.value) == "AccessDenied"
    assert other_user.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # and /access refuses another user's prefix outright
    refused = http.get(srv.url("/access"), params={"url": f"s3://{BUCKET}/{bob_key}"})
    assert refused.status_code == 403


def test_wrong_unknown_and_expired_credentials(http: requests.Session, srv: LocalAvatarServer, prefix: str) -> None:
    grant = access(http, srv, prefix)
    key = key_of(prefix, "x.csv")
    wrong = s3_client(srv.storage_endpoint_url, grant, secret="not-the-secret")
    with pytest.raises(ClientError) as bad_signature:
        wrong.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    assert error_code(bad_signature.value) == "SignatureDoesNotMatch"
    unknown = s3_client(
        srv.storage_endpoint_url, {"credentials": {"access_key_id": "AVTRNOPE", "secret_access_key": "s"}}
    )
    with pytest.raises(ClientError) as bad_key:
        unknown.head_bucket(Bucket=BUCKET)
    assert bad_key.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as bad_key_get:
        unknown.get_object(Bucket=BUCKET, Key=key)
    assert error_code(bad_key_get.value) == "InvalidAccessKeyId"
    good = s3_client(srv.storage_endpoint_url, grant)
    good.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    assert srv.admin.expire_storage_credentials() >= 1
    with pytest.raises(ClientError) as expired:
        good.get_object(Bucket=BUCKET, Key=key)
    assert error_code(expired.value) == "ExpiredToken"
    assert expired.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    srv.admin.set_storage_credentials_lifetime(0)  # credentials issued from now on are born expired
    lapsed_grant = s3_client(srv.storage_endpoint_url, access(http, srv, prefix))
    with pytest.raises(ClientError) as lapsed:
        lapsed_grant.get_object(Bucket=BUCKET, Key=key)
    assert error_code(lapsed.value) == "ExpiredToken"
    srv.admin.set_storage_credentials_lifetime(3600)
    fresh = s3_client(srv.storage_endpoint_url, access(http, srv, prefix))
    assert fresh.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x"


def test_presigned_get(s3: Any, prefix: str) -> None:
    key = key_of(prefix, "shared.txt")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"presigned body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60)
    assert requests.get(url).content == b"presigned body"
    tampered = url.replace("shared.txt", "other.txt")
    answer = requests.get(tampered)
    assert answer.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer.content


def test_second_origin_serves_the_same_store(
    http: requests.Session, srv: LocalAvatarServer, prefix: str, s3: Any
) -> None:
    key = key_of(prefix, "both.txt")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"same")
    other = s3_client(srv.storage_base_url, access(http, srv, prefix))
    assert other.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"same"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/storage/avatars/users/x/%2E%2E/y", "InvalidArgument"),
        ("/storage/avatars/users/x/a%00b", "InvalidArgument"),
        ("/storage/avatars//users/x", "InvalidArgument"),
    ],
)
def test_bad_keys_are_refused(srv: LocalAvatarServer, path: str, code: str) -> None:
    answer = requests.get(srv.origin + path, headers={"Authorization": "AWS4-HMAC-SHA256 x"})
    assert answer.status_code == 400 and f"<Code>{code}</Code>".encode() in answer.content


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 403, "AccessDenied"),
        ("AWS4-HMAC-SHA256 garbage", 400, "AuthorizationHeaderMalformed"),
        ("Bearer token", 400, "InvalidArgument"),
        (
            "AWS4-HMAC-SHA256 Credential=K/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
            400,
            "AuthorizationHeaderMalformed",
        ),
    ],
)
def test_malformed_authorization(srv: LocalAvatarServer, authorization: Optional[str], status: int, code: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.get(srv.storage_endpoint_url + "/avatars/users/x/y.csv", headers=headers)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/xml"
    assert f"<Code>{code}</Code>".encode() in answer.content


def test_payload_hash_is_checked(http: requests.Session, srv: LocalAvatarServer, s3: Any, prefix: str) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    grant = access(http, srv, prefix)["credentials"]
    key = key_of(prefix, "h.bin")
    url = f"{srv.storage_endpoint_url}/{BUCKET}/{key}"
    # a correctly signed request that declares the hash of another body
    request = AWSRequest(
        method="PUT",
        url=url,
        data=b"real body",
        headers={"x-amz-content-sha256": hashlib.sha256(b"something else").hexdigest()},
    )
    SigV4Auth(Credentials(grant["access_key_id"], grant["secret_access_key"]), "s3", "us-east-1").add_auth(request)
    answer = requests.put(url, data=b"real body", headers=dict(request.headers.items()))
    assert answer.status_code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in answer.content
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key=key)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_result_locations_are_store_objects(http: requests.Session, srv: LocalAvatarServer) -> None:
    location = srv.store.objects.put_result_object(
        srv.admin.find_user("alice@example.com").id,  # type: ignore[union-attr]
        "standard_0123",
        "t.shuffled.csv",
        b"a,b\n1,2\n",
        "text/csv",
    )
    api_url = f"{srv.base_url}/access?url={location}"
    batch = http.post(srv.url("/access/batch"), json=[api_url, "s3://avatars/users/someone-else/x.csv"])
    assert batch.status_code == 200
    [grant] = batch.json()
    assert grant["url"] == api_url
    client = s3_client(srv.storage_endpoint_url, grant)
    key = location[len(f"s3://{BUCKET}/") :]
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"a,b\n1,2\n"
    assert http.post(srv.url("/access/batch"), json={"urls": [api_url]}).status_code == 422


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_aws_sigv4_put_and_get(http: requests.Session, srv: LocalAvatarServer, prefix: str, tmp_path: Any) -> None:
    grant = access(http, srv, prefix)
    user = f"{grant['credentials']['access_key_id']}:{grant['credentials']['secret_access_key']}"
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    url = f"{srv.storage_endpoint_url}/{BUCKET}/{key_of(prefix, 'curl.bin')}"
    # S3 wants x-amz-content-sha256 on every header-signed request; curl 7.88 sends it only when asked
    sigv4 = ["--aws-sigv4", "aws:amz:us-east-1:s3", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    common = ["curl", "-sS", "--fail-with-body", *sigv4, "--user", user]
    subprocess.run([*common, "-T", str(source), url], check=True, capture_output=True, timeout=60)
    target = tmp_path / "out.bin"
    subprocess.run([*common, "-o", str(target), url], check=True, capture_output=True, timeout=60)
    assert target.read_bytes() == source.read_bytes()
    wrong = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *sigv4]
    out = subprocess.run(
        [*wrong, "--user", grant["credentials"]["access_key_id"] + ":nope", url], capture_output=True, timeout=60
    )
    assert out.stdout == b"403"


#: botocore sends aws-chunked bodies with a checksum trailer by default from 1.36 on.
_BOTOCORE_SENDS_AWS_CHUNKED = tuple(int(part) for part in botocore.__version__.split(".")[:2]) >= (1, 36)


@pytest.mark.skipif(
    not _BOTOCORE_SENDS_AWS_CHUNKED,
    reason=f"botocore {botocore.__version__} < 1.36 sends plain bodies (no default flexible checksums, no aws-chunked)",
)
def test_botocore_over_tls_sends_aws_chunked_and_the_store_decodes_it(tmp_path: Any) -> None:
    import io
    import ssl

    import trustme
    from botocore.config import Config

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with LocalAvatarServer(ssl_context=context) as srv:
        user = srv.admin.create_user("tls@example.com", "pw")
        http = requests.Session()
        http.trust_env = False  # REQUESTS_CA_BUNDLE would win over session.verify
        http.verify = str(bundle)
        http.headers["Authorization"] = f"api-key-v1 {srv.admin.create_api_key(user)}"
        prefix = http.get(srv.url("/upload_url")).json()
        credentials = access(http, srv, prefix)["credentials"]
        s3 = botocore_session.get_session().create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url=srv.storage_endpoint_url,
            verify=str(bundle),
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )
        key = key_of(prefix, "tls.bin")
        body = bytes(range(256)) * 3000
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=io.BytesIO(body))
        record = srv.storage_log.last("PUT")
        assert record.headers.get("X-Amz-Content-Sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body

        def spoil_trailer(request: Any, **_: Any) -> None:
            # flip the CRC32 trailer the signer appended: the store must notice
            original = request.body

            class Spoiled(io.RawIOBase):
                def readable(self) -> bool:
                    return True

                def read(self, size: int = -1) -> bytes:
                    data: bytes = original.read(size)
                    return data.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:AAAA")

            request.body = Spoiled()

        s3.meta.events.register_last("before-send.s3.PutObject", spoil_trailer)
        with pytest.raises(ClientError) as spoiled:
            s3.put_object(Bucket=BUCKET, Key=key_of(prefix, "spoiled.bin"), Body=io.BytesIO(body))
        assert error_code(spoiled.value) == "BadDigest"
        s3.close()


def test_twenty_mib_object_streams_both_ways(s3: Any, prefix: str, tmp_path: Any) -> None:
    source = tmp_path / "big.csv"
    with source.open("wb") as handle:
        for index in range(20 * 16):
            handle.write(bytes([65 + index % 26]) * 65536)
    key = key_of(prefix, "big.csv")
    with source.open("rb") as body:
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    digest = hashlib.md5(source.read_bytes()).hexdigest()
    assert put["ETag"] == f'"{digest}"'
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["ContentLength"] == source.stat().st_size
    received = hashlib.md5()
    for chunk in got["Body"].iter_chunks(1024 * 1024):
        received.update(chunk)
    assert received.hexdigest() == digest


@pytest.mark.parametrize(
    "tail",
    ["/../someone-else/x.csv", "/a/./b.csv", "/%00.csv", "//x.csv", "?versionId=1"],
)
def test_access_refuses_locations_that_escape_the_prefix(
    http: requests.Session, srv: LocalAvatarServer, prefix: str, tail: str
) -> None:
    location = prefix + tail.replace("%00", "\x00")
    assert http.get(srv.url("/access"), params={"url": location}).status_code == 403
    assert http.post(srv.url("/access/batch"), json=[location]).json() == []


def test_admin_http_expires_storage_credentials(http: requests.Session, srv: LocalAvatarServer, s3: Any) -> None:
    admin = {"X-Avatar-Admin-Secret": srv.admin_secret}
    settings = requests.post(srv.origin + "/_admin/settings", json={"storage_credentials_lifetime": 120}, headers=admin)
    assert settings.json()["storage_credentials_lifetime"] == 120.0
    s3.head_bucket(Bucket=BUCKET)
    expired = requests.post(srv.origin + "/_admin/storage/expire", headers=admin)
    assert expired.status_code == 200 and expired.json()["count"] >= 1
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=BUCKET, Prefix="users/")
    assert error_code(refused.value) == "ExpiredToken"
    assert requests.post(srv.origin + "/_admin/storage/expire").status_code in (401, 403, 404)
