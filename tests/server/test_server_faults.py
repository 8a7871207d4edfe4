"""Every fault kind and the rate limiter, seen by a plain requests client."""

from __future__ import annotations

import json
import time
from typing import Callable

import pytest
import requests

from avatars.testing import LocalAvatarServer

from .conftest import s3_client, upload

BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)


def test_delay(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.delay("GET", "/api/health", 0.3)
    start = time.monotonic()
    assert http.get(srv.url("/health")).json() == {"message": "ok"}
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    http.get(srv.url("/health"))
    assert time.monotonic() - start < 0.3
    assert srv.log.entries("GET", "/api/health")[0].fault == "delay"


@pytest.mark.parametrize("rst", [False, True])
def test_drop_before(srv: LocalAvatarServer, http: requests.Session, rst: bool) -> None:
    srv.faults.drop_before("GET", "/api/users/me", rst=rst)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(srv.url("/users/me"))
    assert srv.log.last("GET", "/api/users/me").status is None
    assert http.get(srv.url("/users/me")).status_code == 200


def test_drop_before_post_body(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.drop_before("POST", "/api/jobs")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.post(srv.url("/jobs"), json={"set_name": "00000000-0000-4000-8000-000000000000", "parameters_name": "p"})
    assert http.get(srv.url("/jobs")).json() == {"jobs": []}


def assert_cut_short(get: Callable[[], requests.Response]) -> None:
    """The body was cut: urllib3 2 raises; urllib3 1.26 returns a body shorter
    than its Content-Length."""
    try:
        response = get()
    except BROKEN:
        return
    assert len(response.content) < int(response.headers["Content-Length"])


def test_drop_mid_body_json_and_stream(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.drop_mid_body("GET", "/api/users/me")
    assert_cut_short(lambda: http.get(srv.url("/users/me")))
    assert http.get(srv.url("/users/me")).status_code == 200

    # a long body (an object of the store) cut at a quarter
    data = b"x,y\n" + b"1,2\n" * 500_000
    stored = upload(http, srv, data)
    client = s3_client(srv.storage_endpoint_url, stored["grant"])
    key = stored["location"][len("s3://avatars/") :]
    url = client.generate_presigned_url("get_object", Params={"Bucket": "avatars", "Key": key})
    srv.faults.drop_mid_body("GET", "/storage/avatars/*", fraction=0.25)
    received = 0
    try:  # urllib3 2 raises when the connection drops; 1.26 just ends the body early
        response = requests.get(url, stream=True)
        assert int(response.headers["Content-Length"]) == len(data)
        for chunk in response.iter_content(65536):
            received += len(chunk)
    except BROKEN:
        pass
    assert 0 < received < len(data)


def test_status_burst(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.status("GET", "/api/jobs", 503, count=2, retry_after=2)
    for _ in range(2):
        response = http.get(srv.url("/jobs"))
        assert response.status_code == 503
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.headers["Retry-After"] == "2"
        assert "<html>" in response.text and "Service Unavailable" in response.text
    assert http.get(srv.url("/jobs")).status_code == 200
    srv.faults.status("POST", "/api/jobs", 502)
    bad_gateway = http.post(srv.url("/jobs"), json={})
    assert bad_gateway.status_code == 502 and "Bad Gateway" in bad_gateway.text
    assert "Retry-After" not in bad_gateway.headers
    srv.faults.status("*", "/api/jobs", 504)
    assert http.get(srv.url("/jobs")).status_code == 504


def test_truncated_and_invalid_json(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.truncated_json("GET", "/api/users/me")
    response = http.get(srv.url("/users/me"))
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert response.content.startswith(b'{"id":')
    srv.faults.invalid_json("GET", "/api/users/me")
    response = http.get(srv.url("/users/me"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()
    assert http.get(srv.url("/users/me")).json()["email"] == "alice@example.com"


def test_wrong_schema(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.wrong_schema("GET", "/api/users/me")
    body = http.get(srv.url("/users/me")).json()
    assert "id" not in body and "email" not in body and "environment" not in body
    srv.faults.wrong_schema("GET", "/api/jobs")
    response = http.get(srv.url("/jobs"))
    assert response.status_code == 200 and "jobs" not in response.json()
    srv.faults.wrong_schema("GET", "/api/api-keys")
    keys = http.get(srv.url("/api-keys")).json()
    assert all("id" not in k for k in keys)
    srv.faults.wrong_schema("GET", "/api/health")
    assert "message" not in http.get(srv.url("/health")).json()


def test_trickle_keeps_read_timeout_from_firing(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.trickle("GET", "/api/health", chunk_size=2, interval=0.05)
    start = time.monotonic()
    response = http.get(srv.url("/health"), timeout=(1.0, 0.3))
    assert response.json() == {"message": "ok"}
    assert time.monotonic() - start >= 0.3


def test_redirect_to_other_origin(srv: LocalAvatarServer, http: requests.Session) -> None:
    target = srv.storage_base_url + "/elsewhere"
    srv.faults.redirect("GET", "/api/users/me", target, status=307)
    response = http.get(srv.url("/users/me"), allow_redirects=False)
    assert response.status_code == 307 and response.headers["Location"] == target
    srv.faults.redirect("GET", "/api/users/me", target)
    followed = http.get(srv.url("/users/me"))
    assert followed.url == target and followed.status_code == 403  # the store wants a signature
    record = srv.storage_log.last("GET", "/elsewhere")
    assert record.had_authorization is False  # requests strips it across origins


def test_status_code_storm(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.status_code("GET", "/api/jobs*", 401, {"detail": "Not authenticated"}, count=3)
    for _ in range(3):
        response = http.get(srv.url("/jobs"))
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}
    assert http.get(srv.url("/jobs")).status_code == 200
    srv.faults.status_code("GET", "/api/health", 418, "teapot", headers={"X-Extra": "1"})
    response = http.get(srv.url("/health"))
    assert (response.status_code, response.text, response.headers["X-Extra"]) == (418, "teapot", "1")
    assert response.headers["X-Request-ID"]


def test_globs_counts_and_clear(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.faults.status("GET", "/api/jobs/*", 503, count=5)
    assert http.get(srv.url("/jobs")).status_code == 200  # not matched by /api/jobs/*
    assert http.get(srv.url("/jobs/whatever")).status_code == 503
    assert srv.faults.pending()[0].remaining == 4
    srv.faults.clear()
    assert http.get(srv.url("/jobs/whatever")).status_code == 404
    with pytest.raises(ValueError):
        srv.faults.add("explode", "GET", "/api/health")


def test_storage_faults(srv: LocalAvatarServer, http: requests.Session) -> None:
    from botocore.exceptions import ClientError

    prefix = http.get(srv.url("/upload_url")).json()
    grant = http.get(srv.url("/access"), params={"url": prefix}).json()
    s3 = s3_client(srv.storage_endpoint_url, grant)
    key = prefix[len("s3://avatars/") :] + "/f.bin"
    s3.put_object(Bucket="avatars", Key=key, Body=b"z" * 100_000)
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "avatars", "Key": key})
    # a download cut short, on either mount of the store
    srv.faults.drop_mid_body("GET", "*/avatars/*")
    assert_cut_short(lambda: requests.get(presigned))
    assert len(requests.get(presigned).content) == 100_000
    # 503 SlowDown as S3 XML
    srv.faults.slow_down("GET", "*/avatars/*")
    with pytest.raises(ClientError) as slow:
        s3.get_object(Bucket="avatars", Key=key)
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # a multipart part dropped half-way (only part 2), then the upload goes on
    srv.admin.set_storage_min_part_size(1)
    mpu = s3.create_multipart_upload(Bucket="avatars", Key=key)
    srv.faults.drop_mid_request("PUT", "/storage/avatars/*", after_bytes=1000, query="partNumber=2")
    common = {"Bucket": "avatars", "Key": key, "UploadId": mpu["UploadId"]}
    first = s3.upload_part(PartNumber=1, Body=b"a" * 5000, **common)
    with pytest.raises(Exception) as dropped:
        s3.upload_part(PartNumber=2, Body=b"b" * 5000, **common)
    assert not isinstance(dropped.value, ClientError)  # a connection error, no answer
    second = s3.upload_part(PartNumber=2, Body=b"b" * 5000, **common)
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]
    s3.complete_multipart_upload(MultipartUpload={"Parts": parts}, **common)
    assert s3.get_object(Bucket="avatars", Key=key)["Body"].read() == b"a" * 5000 + b"b" * 5000
    faults = [r.fault for r in srv.storage_log.entries() if r.fault]
    assert faults == ["drop_mid_body", "status_code", "drop_mid_request"]


def test_rate_limit(srv: LocalAvatarServer, http: requests.Session) -> None:
    srv.admin.set_rate_limit("GET", "/api/health", 2, 30)
    assert http.get(srv.url("/health")).status_code == 200
    assert http.get(srv.url("/health")).status_code == 200
    limited = http.get(srv.url("/health"))
    assert limited.status_code == 429
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 30
    assert limited.json() == {"detail": {"message": "Rate limit exceeded"}, "retry_after": retry_after}
    assert http.get(srv.url("/users/me")).status_code == 200  # other routes untouched
    srv.admin.clear_rate_limits()
    assert http.get(srv.url("/health")).status_code == 200
    srv.admin.set_rate_limit("*", "/api/jobs*", 1, 0.5)
    assert http.get(srv.url("/jobs")).status_code == 200
    assert http.get(srv.url("/jobs")).status_code == 429
    time.sleep(0.6)
    assert http.get(srv.url("/jobs")).status_code == 200
