"""Resource sets, jobs and results against the local server, through the raw facades.

A whole run (upload -> resource set -> standard job -> privacy and signal
metrics -> report -> results downloaded and parsed), a failing job and the
``parent_error`` it causes, cancel/delete/bulk delete, path quoting of job
names, and the result file endpoints (access, batch, download, storage URLs).
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from avatars import (
    ApiClient,
    ApiError,
    ConflictError,
    FileAccess,
    FileCredentials,
    JobCreateRequest,
    JobKind,
    JobResponse,
    JobStatus,
    NotFound,
    PermissionDenied,
    RequestValidationError,
    ValidationError,
)
from avatars.testing import LocalAvatarServer
from avatars.testing.resource_sets import PARAMETERS_KINDS

from .conftest import SAMPLE, store_dataset

pytestmark = pytest.mark.integration


TIMEOUT = (2.0, 10.0)
SAMPLE_ROWS = list(csv.reader(io.StringIO(SAMPLE.decode())))


@pytest.fixture
def client(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as c:
        yield c


#: The parameters document kind behind each job kind but ``standard`` (contract v2: the
#: job's kind is its parameters document's kind).
DOCUMENT_KINDS = {JobKind(job): doc for doc, job in PARAMETERS_KINDS.items() if job != "standard"}


def entry(params: str, kind: JobKind) -> str:
    return params if kind is JobKind.standard else f"{params}.{kind.value}"


def resource_document(dataset_id: Any) -> Dict[str, Any]:
    parameters: List[Dict[str, Any]] = [
        {"name": "main", "table": "patients", "k": 5, "seed": 42},
        {"name": "huge_k", "table": "patients", "k": 10_000, "seed": 1},
    ]
    for params in ("main", "huge_k"):
        for kind, document_kind in DOCUMENT_KINDS.items():
            parameters.append(
                {"name": entry(params, kind), "table": "patients", "kind": document_kind, "parameters": params}
            )
    return {
        "tables": [{"name": "patients", "dataset_id": str(dataset_id), "primary_key": "patient_id"}],
        "parameters": parameters,
    }


def make_set(client: ApiClient, display_name: str = "patients-run") -> uuid.UUID:
    stored = client.resources.put_resources(display_name, json.dumps(resource_document(store_dataset(client, SAMPLE))))
    assert stored.display_name == display_name
    return stored.set_name


def submit(client: ApiClient, set_name: Any, params: str, kind: JobKind, depends_on: List[str] = ()) -> str:  # type: ignore[assignment]
    return client.jobs.create_job(JobCreateRequest(set_name, entry(params, kind), depends_on=depends_on)).name


def wait_done(client: ApiClient, name: str, timeout: float = 20.0) -> JobResponse:
    deadline = time.monotonic() + timeout
    while True:
        job = client.jobs.get_job_status(name)
        if job.is_terminal:
            return job
        assert time.monotonic() < deadline, f"job {name} still {job.status} after {timeout} s"
        time.sleep(0.02)


def fetch(client: ApiClient, url: str) -> bytes:
    buffer = io.BytesIO()
    client.results.download_file(url, buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- resource sets


def test_resource_sets_create_put_get(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    dataset_id = store_dataset(client, SAMPLE)
    text = json.dumps(resource_document(dataset_id))
    set_name = client.resources.put_resources("first", text).set_name
    # two of the stand-in's single mappings do not make one document: refused, the set unchanged
    with pytest.raises(ValidationError):
        client.resources.create_resource(set_name, text)
    record = avatar_server.log.last("POST", f"/api/resources/{set_name}")
    assert record.header("Content-Type") == "application/yaml"
    assert client.resources.get_resources(set_name) == text
    # platform documents are appended
    documents = (
        "kind: AvatarSchema\nmetadata: {name: s}\nspec: {tables: []}\n---\n"
        "kind: AvatarParameters\nmetadata: {name: p}\nspec: {schema: s}\n"
    )
    on_platform_set = client.resources.put_resources("docs", documents).set_name
    advice = (
        "kind: AvatarAdviceParameters\nmetadata: {name: a}\nspec: {schema: s, advice: {advisor_type: [variables]}}\n"
    )
    added = client.resources.create_resource(on_platform_set, advice)
    assert added.set_name == on_platform_set and added.display_name == "docs"
    assert client.resources.get_resources(on_platform_set).endswith(advice)
    # a document the platform refuses (advice without its advisor types) is not appended
    with pytest.raises(ValidationError) as refused:
        client.resources.create_resource(on_platform_set, "kind: AvatarAdviceParameters\nmetadata: {name: b}\n")
    assert refused.value.fields == ["body.0.spec.schema", "body.0.spec.advice"]
    assert client.resources.get_resources(on_platform_set).endswith(advice)

    yaml_text = (
        "tables:\n"
        f"  - name: patients\n    dataset_id: {dataset_id}\n"
        "parameters:\n  - name: only\n    table: patients\n    k: 3\n"
    )
    first = client.resources.put_resources("my set", yaml_text)
    again = client.resources.put_resources("my set", text)  # same display name: a new version
    assert again.set_name != first.set_name and again.display_name == "my set"
    assert client.resources.get_resources(first.set_name) == yaml_text
    assert client.resources.get_resources(again.set_name) == text
    with pytest.raises(NotFound):
        client.resources.create_resource(uuid.uuid4(), text)  # POST adds to an existing set only

    with pytest.raises(ValidationError) as bad:
        client.resources.put_resources("broken", json.dumps({"tables": "nope"}))
    assert bad.value.status_code == 422 and any("tables" in f for f in bad.value.fields)
    with pytest.raises(NotFound):
        client.resources.get_resources(uuid.uuid4())
    with pytest.raises(RequestValidationError):
        client.resources.create_resource("not-a-uuid", text)
    with pytest.raises(RequestValidationError):
        client.resources.put_resources("empty", "   ")


# --------------------------------------------------------------------------- a whole run


def test_a_whole_run_through_the_raw_facades(
    client: ApiClient, avatar_server: LocalAvatarServer, tmp_path: Path
) -> None:
    set_name = make_set(client)
    standard = client.jobs.create_job(JobCreateRequest(set_name, "main"))
    assert standard.location.endswith(f"/api/jobs/{standard.name}")
    privacy = submit(client, set_name, "main", JobKind.privacy_metrics, [standard.name])
    signal = submit(client, set_name, "main", JobKind.signal_metrics, [standard.name])
    report = submit(client, set_name, "main", JobKind.report, [privacy, signal])

    for name in (standard.name, privacy, signal, report):
        job = wait_done(client, name)
        assert job.status is JobStatus.finished and job.succeeded, (name, job.exception)
        assert job.progress == 1.0 and job.exception == "" and job.set_name == set_name

    listed = client.jobs.get_jobs()
    assert [j.name for j in listed.jobs] == [standard.name, privacy, signal, report]
    assert [j.name for j in client.jobs.get_jobs(kind="report").jobs] == [report]
    assert [j.name for j in client.jobs.get_jobs(kind=JobKind.privacy_metrics).jobs] == [privacy]
    assert dict(avatar_server.log.last("GET", "/api/jobs").query) == {"kind": "privacy_metrics"}
    assert [j.name for j in client.jobs.get_last_jobs().jobs] == [standard.name, privacy, signal, report]

    # the avatarized table: same shape as the original, not a copy of it
    shuffled = client.results.get_results(standard.name)
    assert shuffled.kinds == ["shuffled"] and len(shuffled["shuffled"]) == 1
    url = shuffled["shuffled"][0]
    assert url.startswith(avatar_server.base_url + "/access?url=s3://avatars/users/")  # an object in the store
    target = tmp_path / "shuffled.csv"
    result = client.results.download_file(url, target)
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == SAMPLE_ROWS[0] and len(rows) == len(SAMPLE_ROWS)
    assert rows[1:] != SAMPLE_ROWS[1:]
    assert result.bytes_written == target.stat().st_size

    privacy_doc = json.loads(fetch(client, client.results.get_results(privacy)["privacy_metrics"][0]))
    signal_doc = json.loads(fetch(client, client.results.get_results(signal)["signal_metrics"][0]))
    assert privacy_doc["parameters_name"] == signal_doc["parameters_name"] == "main"
    assert privacy_doc["table"] == "patients" and len(privacy_doc) > 2 and len(signal_doc) > 2
    report_results = client.results.get_results(report)
    assert report_results.kinds == ["report"]
    text = fetch(client, report_results["report"][0]).decode("utf-8")
    assert "main" in text and "patients" in text


def test_the_documented_example_works_as_written(client: ApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    set_name = make_set(client)
    name = submit(client, set_name, "main", JobKind.standard)
    wait_done(client, name)

    all_jobs = client.jobs.get_jobs().jobs
    result = client.results.get_results(all_jobs[0].name)
    print(result)

    out = capsys.readouterr().out
    assert name in out and "shuffled" in out and "main.shuffled.csv" in out


def test_a_failing_job_and_its_descendants(client: ApiClient) -> None:
    set_name = make_set(client)
    failing = submit(client, set_name, "huge_k", JobKind.standard)
    child = submit(client, set_name, "huge_k", JobKind.privacy_metrics, [failing])
    grandchild = submit(client, set_name, "huge_k", JobKind.report, [child])

    job = wait_done(client, failing)
    assert job.status is JobStatus.error and job.failed and job.is_terminal
    assert "k=10000" in job.exception and "larger than the number of rows" in job.exception

    child_job = wait_done(client, child)
    assert child_job.status is JobStatus.parent_error and child_job.failed
    assert failing in child_job.exception
    assert wait_done(client, grandchild).status is JobStatus.parent_error

    with pytest.raises(ConflictError) as info:
        client.results.get_results(failing)
    assert info.value.status_code == 409 and "error" in str(info.value)


def test_metrics_without_a_standard_job_fail_readably(client: ApiClient) -> None:
    set_name = make_set(client)
    job = wait_done(client, submit(client, set_name, "main", JobKind.privacy_metrics))
    assert job.status is JobStatus.error
    assert "run a standard job first" in job.exception


# --------------------------------------------------------------------------- job lifecycle


@pytest.mark.avatar_server(job_step_seconds=0.5, api_version=3)
def test_results_before_the_end_cancel_and_delete(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    set_name = make_set(client)
    name = submit(client, set_name, "main", JobKind.standard)
    with pytest.raises(ConflictError) as early:
        client.results.get_results(name)
    assert early.value.status_code == 409 and "not finished" in str(early.value)

    cancelled = client.jobs.cancel_job(name)
    assert cancelled.status is JobStatus.cancelled and cancelled.exception == "cancelled by user"
    assert cancelled.is_terminal and cancelled.failed
    with pytest.raises(ConflictError):  # cancelling an ended job: 409, nothing changes
        client.jobs.cancel_job(name)
    assert client.jobs.get_job_status(name).status is JobStatus.cancelled

    deleted = client.jobs.delete_job(name)
    assert deleted.deleted_at is not None
    assert client.jobs.get_jobs().jobs == []
    with pytest.raises(NotFound):
        client.results.get_results(name)
    with pytest.raises(NotFound):
        client.jobs.cancel_job("standard_0000000000000000")


def test_bulk_delete(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    set_name = make_set(client)
    names = [submit(client, set_name, "main", JobKind.advice) for _ in range(3)]
    answer = client.jobs.bulk_delete_jobs([names[0], names[1], "advice_doesnotexist"])
    assert sorted(j.name for j in answer.deleted_jobs) == sorted(names[:2])
    assert all(j.deleted_at is not None for j in answer.deleted_jobs)
    assert answer.failed_jobs == ["advice_doesnotexist"]
    assert [j.name for j in client.jobs.get_jobs().jobs] == [names[2]]

    before = avatar_server.count("POST", "/api/jobs/bulk-delete")
    with pytest.raises(RequestValidationError):
        client.jobs.bulk_delete_jobs([f"job_{i}" for i in range(101)])
    with pytest.raises(RequestValidationError):
        client.jobs.bulk_delete_jobs([])
    assert avatar_server.count("POST", "/api/jobs/bulk-delete") == before


def test_job_creation_errors(client: ApiClient, avatar_server: LocalAvatarServer) -> None:
    set_name = make_set(client)
    with pytest.raises(NotFound):
        client.jobs.create_job(JobCreateRequest(uuid.uuid4(), "main"))
    with pytest.raises(ValidationError) as info:
        client.jobs.create_job(JobCreateRequest(set_name, "main", depends_on=["standard_nope"]))
    assert info.value.fields == ["body.depends_on.0"] and "standard_nope" in str(info.value)
    with pytest.raises(ValidationError) as unknown:
        client.jobs.create_job(JobCreateRequest(set_name, "teleport"))
    assert unknown.value.fields == ["body.parameters_name"] and "main.advice" in str(unknown.value)
    with pytest.raises(RequestValidationError):
        client.jobs.get_jobs(kind="teleport")
    assert avatar_server.store.jobs == {}


@pytest.mark.parametrize(
    "name",
    ["a/b c", "x/cancel", "../users/me", "name with spaces", "q?kind=report", "frag#ment", "%2e%2e"],
)
def test_job_names_cannot_reach_another_route(client: ApiClient, avatar_server: LocalAvatarServer, name: str) -> None:
    """A job name is one path segment whatever it holds: the answer is "no such
    job", never another endpoint's (a 405 of /jobs/{x}/cancel, a user, a list...)."""
    set_name = make_set(client)
    existing = submit(client, set_name, "main", JobKind.advice)
    wait_done(client, existing)
    avatar_server.reset_log()
    sent = 0
    for call in (client.jobs.get_job_status, client.jobs.delete_job, client.results.get_results):
        try:
            call(name)
        except RequestValidationError:
            continue  # refused before sending: fine too
        except NotFound:
            sent += 1
        except ApiError as exc:
            pytest.fail(f"{call.__name__}({name!r}) reached another route: {exc}")
        else:
            pytest.fail(f"{call.__name__}({name!r}) reached something")
    answered = [(r.method, r.path, r.status) for r in avatar_server.log]
    assert len(answered) == sent and all(status == 404 for _, _, status in answered), answered
    assert [j.name for j in client.jobs.get_jobs().jobs] == [existing]


# --------------------------------------------------------------------------- result files


def test_result_file_access_and_downloads(
    client: ApiClient, avatar_server: LocalAvatarServer, avatar_user: Any, tmp_path: Path
) -> None:
    set_name = make_set(client)
    standard = submit(client, set_name, "main", JobKind.standard)
    wait_done(client, standard)
    advice = submit(client, set_name, "main", JobKind.advice)
    wait_done(client, advice)
    url = client.results.get_results(standard)["shuffled"][0]
    advice_url = client.results.get_results(advice)["advice"][0]
    prefix = f"s3://avatars/users/{avatar_user.id}"
    # the platform's form: an /access URL naming the object in the store
    assert url.startswith(f"{avatar_server.base_url}/access?url={prefix}/results/{standard}/")

    access = client.results.get_permission_to_download(url)
    assert access.url == url and access.credentials.access_key_id
    assert access.credentials.secret_access_key not in repr(access)
    assert dict(avatar_server.log.last("GET", "/api/access").query) == {"url": url}

    batch = client.results.get_permissions_to_download_batch([url, advice_url])
    assert [a.url for a in batch] == [url, advice_url]
    assert len({a.credentials.access_key_id for a in batch + [access]}) == 3

    with_access = io.BytesIO()
    client.results.download_file(access, with_access)
    by_url = client.results.download_file(url, tmp_path / "by-url.csv")
    assert (tmp_path / "by-url.csv").read_bytes() == with_access.getvalue()
    assert by_url.bytes_written == len(with_access.getvalue()) > 0
    hop = avatar_server.storage_log.last("GET")
    assert hop.status == 200 and hop.auth_scheme == "AWS4-HMAC-SHA256" and not hop.had_cookie
    assert json.loads(fetch(client, advice_url))["parameters_name"] == "main"

    forged = FileAccess(url, FileCredentials(access.credentials.access_key_id, "wrong-secret"))
    with pytest.raises(PermissionDenied) as denied:
        client.results.download_file(forged, io.BytesIO())
    assert "wrong-secret" not in str(denied.value) and "SignatureDoesNotMatch" in str(denied.value)
    crossed = FileAccess(advice_url, access.credentials)  # credentials are for one location only
    with pytest.raises(PermissionDenied) as crossed_info:
        client.results.download_file(crossed, io.BytesIO())
    assert "AccessDenied" in str(crossed_info.value)
    with pytest.raises(PermissionDenied):  # outside the caller's prefix: no credentials
        client.results.get_permission_to_download("s3://avatars/users/someone-else/results/x/y.csv")
    with pytest.raises(NotFound):
        client.results.download_file(f"{prefix}/results/{standard}/other.csv", tmp_path / "missing.csv")
    assert not (tmp_path / "missing.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by-url.csv"]

    assert client.results.get_upload_url() == prefix

    other = avatar_server.admin.create_user("other@example.com", "pw-other")
    with ApiClient(avatar_server.base_url, api_key=avatar_server.admin.create_api_key(other), timeout=TIMEOUT) as c:
        with pytest.raises(NotFound):
            c.results.get_results(standard)
        with pytest.raises(PermissionDenied):
            c.results.get_permission_to_download(url)
        with pytest.raises(NotFound):
            c.jobs.get_job_status(standard)
