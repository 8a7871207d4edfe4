"""client.results: result listings, access, downloads (API and other origins)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import responses
from responses import matchers

from avatars import (
    ApiClient,
    ConflictError,
    FileAccess,
    FileCredentials,
    PermissionDenied,
    RequestValidationError,
    Results,
    SchemaError,
)

from . import _payloads as p
from .conftest import AUTH, BASE


def test_get_results(rsps: responses.RequestsMock, client: ApiClient) -> None:
    body = {"shuffled": ["https://s3.test/r/a.csv"], "privacy_metrics": ["https://s3.test/r/p.json"], "report": []}
    rsps.add(responses.GET, f"{BASE}/results/job%201", json=body, match=[matchers.header_matcher(AUTH)])
    results = client.results.get_results("job 1")
    assert isinstance(results, Results)
    assert results == body and results.job_name == "job 1"
    assert results["privacy_metrics"] == ["https://s3.test/r/p.json"]
    assert rsps.calls[0].request.path_url == "/api/results/job%201"


def test_results_not_ready(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/results/j", status=409, json={"detail": "job j is not finished"})
    with pytest.raises(ConflictError, match="not finished"):
        client.results.get_results("j")
    rsps.replace(responses.GET, f"{BASE}/results/j", json={})
    empty = client.results.get_results("j")
    assert not empty and str(empty) == "Results of job 'j': no files"
    rsps.replace(responses.GET, f"{BASE}/results/j", json=["a"])
    with pytest.raises(SchemaError) as info:
        client.results.get_results("j")
    assert info.value.endpoint == "GET /results/{job_name}"


def test_get_permission_to_download(rsps: responses.RequestsMock, client: ApiClient) -> None:
    url = "s3://bucket/results/a b.csv?v=1&x=2"
    rsps.add(
        responses.GET,
        f"{BASE}/access",
        json=p.file_access(url),
        match=[matchers.query_param_matcher({"url": url}), matchers.header_matcher(AUTH)],
    )
    access = client.results.get_permission_to_download(url)
    assert access == FileAccess(url, FileCredentials("AKIAEXAMPLE", "s3cr3t"))
    # the URL travels as one query value, percent-encoded
    assert "url=s3%3A%2F%2Fbucket%2Fresults%2Fa+b.csv%3Fv%3D1%26x%3D2" in rsps.calls[0].request.url


def test_get_permissions_batch(rsps: responses.RequestsMock, client: ApiClient) -> None:
    urls = ["s3://b/1.csv", "s3://b/2.csv"]
    rsps.add(
        responses.POST,
        f"{BASE}/access/batch",
        json=[p.file_access(u) for u in urls],
        # the platform takes a bare JSON list
        match=[
            matchers.json_params_matcher(urls, strict_match=True),
            matchers.header_matcher(AUTH),
        ],  # a bare JSON list
    )
    accesses = client.results.get_permissions_to_download_batch(urls)
    assert [a.url for a in accesses] == urls
    assert all(a.credentials.secret_access_key == "s3cr3t" for a in accesses)


@pytest.mark.parametrize("urls", ["s3://b/1.csv", ["s3://b/1.csv", ""], [None], 5])
def test_batch_validation_sends_nothing(rsps: responses.RequestsMock, client: ApiClient, urls: Any) -> None:
    with pytest.raises(RequestValidationError):
        client.results.get_permissions_to_download_batch(urls)
    assert len(rsps.calls) == 0


def test_get_upload_url(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/upload_url", json="s3://uploads/user-1/", match=[matchers.header_matcher(AUTH)])
    assert client.results.get_upload_url() == "s3://uploads/user-1/"
    rsps.replace(responses.GET, f"{BASE}/upload_url", json={"url": "x"})
    with pytest.raises(SchemaError, match="expected str"):
        client.results.get_upload_url()


STORE = "https://avatar.test/storage"


def storage_signed(request: Any, key_id: str) -> bool:
    """Signed with the storage credentials, and without the API key."""
    auth = request.headers.get("Authorization", "")
    return auth.startswith(f"AWS4-HMAC-SHA256 Credential={key_id}/") and "api-key" not in auth


def test_download_file_with_file_access(rsps: responses.RequestsMock, client: ApiClient, tmp_path: Path) -> None:
    content = b"id,age\n1,30\n" * 1000
    access = FileAccess("s3://b/shuffled.csv", FileCredentials("AK", "SK"))
    rsps.add(
        responses.GET,
        f"{STORE}/b/shuffled.csv",
        body=content,
        headers={"Content-Length": str(len(content))},
        content_type="application/octet-stream",
    )
    seen: List[Tuple[int, Any]] = []
    target = tmp_path / "out.csv"
    result = client.results.download_file(access, target, progress=lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == content
    assert result.bytes_written == len(content) and result.path == str(target)
    assert result.sha256 == hashlib.sha256(content).hexdigest()
    assert seen[0] == (0, len(content)) and seen[-1] == (len(content), len(content))
    assert rsps.calls[0].request.req_kwargs["stream"] is True
    assert storage_signed(rsps.calls[0].request, "AK") and len(rsps.calls) == 1
    assert os.listdir(tmp_path) == ["out.csv"]


def test_download_file_from_url_asks_access_first(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/access",
        json=p.file_access("s3://b/x.json"),
        match=[matchers.query_param_matcher({"url": "s3://b/x.json"}), matchers.header_matcher(AUTH)],
    )
    rsps.add(responses.GET, f"{STORE}/b/x.json", body=b'{"a": 1}')
    buffer = io.BytesIO()
    result = client.results.download_file("s3://b/x.json", buffer)
    assert buffer.getvalue() == b'{"a": 1}' and result.path is None and result.bytes_written == 8
    assert [(c.request.method, c.request.path_url.split("?")[0]) for c in rsps.calls] == [
        ("GET", "/api/access"),
        ("GET", "/storage/b/x.json"),
    ]
    assert storage_signed(rsps.calls[1].request, p.file_access()["credentials"]["access_key_id"])


def test_download_file_bad_input_sends_nothing(rsps: responses.RequestsMock, client: ApiClient, tmp_path: Path) -> None:
    access = FileAccess("s3://b/x", FileCredentials("a", "b"))
    with pytest.raises(RequestValidationError) as info:
        client.results.download_file(access, tmp_path / "missing-dir" / "x.csv")
    assert info.value.field == "destination"
    with pytest.raises(RequestValidationError):
        client.results.download_file(access, tmp_path)  # a directory
    with pytest.raises(RequestValidationError):
        client.results.download_file(access, io.StringIO())  # text stream
    with pytest.raises(RequestValidationError):
        client.results.download_file(42, tmp_path / "x")  # type: ignore[arg-type]
    assert len(rsps.calls) == 0


def test_download_url_to_another_origin_sends_no_credentials(
    rsps: responses.RequestsMock, client: ApiClient, tmp_path: Path
) -> None:
    url = "https://storage.test/bucket/a.csv?X-Amz-Signature=abc"
    rsps.add(responses.GET, url, body=b"1,2\n")
    result = client.results.download_url(url, tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_bytes() == b"1,2\n" and result.bytes_written == 4
    request = rsps.calls[0].request
    assert "Authorization" not in request.headers
    assert request.url == url


def test_download_url_on_the_api_origin_keeps_credentials(rsps: responses.RequestsMock, client: ApiClient) -> None:
    url = "https://avatar.test/files/a.csv"
    rsps.add(responses.GET, url, body=b"x", match=[matchers.header_matcher(AUTH)])
    buffer = io.BytesIO()
    client.results.download_url(url, buffer)
    assert buffer.getvalue() == b"x"


def test_download_url_needs_no_credentials(rsps: responses.RequestsMock) -> None:
    url = "https://storage.test/a.csv"
    rsps.add(responses.GET, url, body=b"abc")
    buffer = io.BytesIO()
    ApiClient(BASE).results.download_url(url, buffer)
    assert buffer.getvalue() == b"abc" and "Authorization" not in rsps.calls[0].request.headers


@pytest.mark.parametrize("url", ["s3://bucket/a.csv", "results/a.csv", "", "ftp://x/y", "https://"])
def test_download_url_rejects_non_http_urls(rsps: responses.RequestsMock, client: ApiClient, url: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.results.download_url(url, io.BytesIO())
    assert info.value.field == "url"
    assert len(rsps.calls) == 0


def test_download_error_status_leaves_no_file(rsps: responses.RequestsMock, client: ApiClient, tmp_path: Path) -> None:
    error = "<Error><Code>AccessDenied</Code><Message>expired credentials</Message></Error>"
    rsps.add(responses.GET, f"{STORE}/b/x", status=403, body=error)
    access = FileAccess("s3://b/x", FileCredentials("a", "b"))
    with pytest.raises(PermissionDenied, match="AccessDenied: expired credentials") as info:
        client.results.download_file(access, tmp_path / "x.csv")
    assert getattr(info.value, "code", None) == "AccessDenied"
    assert os.listdir(tmp_path) == []


def test_a_refused_url_is_not_echoed_with_its_signature(rsps: responses.RequestsMock, client: ApiClient) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.results.download_url("s3://bucket/a.csv?X-Amz-Signature=SIGSECRET", io.BytesIO())
    assert "SIGSECRET" not in str(info.value) and "s3://bucket/a.csv" in str(info.value)
