"""client.jobs: one call per method; method, path, query, body, headers and the loaded answer."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
import responses
from responses import matchers

from avatars import (
    ApiClient,
    BulkDeleteRequest,
    ConflictError,
    JobCreateRequest,
    JobKind,
    JobResponse,
    JobResponseList,
    JobStatus,
    NotFound,
    RequestValidationError,
    SchemaError,
)

from . import _payloads as p
from .conftest import AUTH, BASE


def test_get_jobs(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={"jobs": [p.job("a"), p.job("b", status="error", exception="boom", done=True)]},
        match=[matchers.query_string_matcher(""), matchers.header_matcher(AUTH)],
    )
    jobs = client.jobs.get_jobs()
    assert isinstance(jobs, JobResponseList)
    assert [j.name for j in jobs.jobs] == ["a", "b"]
    assert jobs.jobs[1].status is JobStatus.error and jobs.jobs[1].failed and jobs.jobs[1].exception == "boom"
    assert rsps.calls[0].request.method == "GET" and rsps.calls[0].request.body is None


def test_get_jobs_by_kind(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={"jobs": [p.job(kind="report")]},
        match=[matchers.query_param_matcher({"kind": "report"})],
    )
    assert client.jobs.get_jobs(kind=JobKind.report).jobs[0].kind is JobKind.report
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []}, match=[matchers.query_param_matcher({"kind": "advice"})])
    assert client.jobs.get_jobs("advice").jobs == []
    assert len(rsps.calls) == 2


def test_get_jobs_unknown_kind_sends_nothing(rsps: responses.RequestsMock, client: ApiClient) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.jobs.get_jobs(kind="standart")
    assert info.value.field == "kind"
    assert len(rsps.calls) == 0


def test_documented_example(
    rsps: responses.RequestsMock, client: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": [p.job("job 1 first")]})
    rsps.add(
        responses.GET,
        f"{BASE}/results/job%201%20first",
        json={"shuffled": ["https://s3.test/b/x.csv"], "privacy_metrics": ["https://s3.test/b/p.json"]},
    )
    all_jobs = client.jobs.get_jobs().jobs
    result = client.results.get_results(all_jobs[0].name)
    print(result)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Results of job 'job 1 first': 2 files",
        "  shuffled:",
        "    https://s3.test/b/x.csv",
        "  privacy_metrics:",
        "    https://s3.test/b/p.json",
    ]


def test_create_job(rsps: responses.RequestsMock, client: ApiClient) -> None:
    set_name = uuid4()
    rsps.add(
        responses.POST,
        f"{BASE}/jobs",
        status=201,
        json={"name": "job-9", "Location": f"{BASE}/jobs/job-9"},
        headers={"Location": f"{BASE}/jobs/job-9"},
        match=[
            matchers.json_params_matcher(
                {"set_name": str(set_name), "parameters_name": "p1", "depends_on": ["job-1"], "kind": "signal_metrics"},
                strict_match=True,
            ),
            matchers.header_matcher({**AUTH, "Content-Type": "application/json"}),
        ],
    )
    created = client.jobs.create_job(JobCreateRequest(set_name, "p1", ["job-1"], JobKind.signal_metrics))
    assert created.name == "job-9" and created.location == f"{BASE}/jobs/job-9"
    assert len(rsps.calls) == 1


def test_create_job_wants_a_request_object(rsps: responses.RequestsMock, client: ApiClient) -> None:
    with pytest.raises(RequestValidationError):
        client.jobs.create_job({"set_name": "x"})  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError):
        client.jobs.create_job(JobCreateRequest("not-a-uuid", "p"))
    assert len(rsps.calls) == 0


def test_get_last_jobs(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs/last_set", json={"jobs": [p.job("z")]}, match=[matchers.header_matcher(AUTH)])
    assert [j.name for j in client.jobs.get_last_jobs()] == ["z"]


def test_get_job_status(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs/job-1",
        json=p.job(status="pending", done=False, progress=0.25),
        match=[matchers.header_matcher(AUTH)],
    )
    job = client.jobs.get_job_status("job-1")
    assert isinstance(job, JobResponse)
    assert job.name == "job-1" and job.set_name == UUID(p.JOB_SET) and job.parameters_name == "params-1"
    assert job.display_name == "My run" and job.created_at == datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
    assert job.kind is JobKind.standard and job.status is JobStatus.pending and job.progress == 0.25
    assert not job.is_terminal and job.exception == "" and job.deleted_at is None


@pytest.mark.parametrize(
    "name,encoded",
    [
        ("a b c", "a%20b%20c"),
        ("x?y=1#z", "x%3Fy%3D1%23z"),
        ("50%", "50%25"),
        ("été", "%C3%A9t%C3%A9"),
    ],
)
def test_job_names_are_one_path_segment(
    rsps: responses.RequestsMock, client: ApiClient, name: str, encoded: str
) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs/{encoded}", json=p.job(name))
    rsps.add(responses.POST, f"{BASE}/jobs/{encoded}/cancel", json=p.job(name, status="error"))
    rsps.add(responses.DELETE, f"{BASE}/jobs/{encoded}", json=p.job(name, deleted_at="2026-11-27T12:00:00Z"))
    assert client.jobs.get_job_status(name).name == name
    assert client.jobs.cancel_job(name).status is JobStatus.error
    assert client.jobs.delete_job(name).deleted_at == datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    assert [(c.request.method, c.request.path_url) for c in rsps.calls] == [
        ("GET", f"/api/jobs/{encoded}"),
        ("POST", f"/api/jobs/{encoded}/cancel"),
        ("DELETE", f"/api/jobs/{encoded}"),
    ]


@pytest.mark.parametrize("name", ["a/b", "x/cancel", "../users/me", ".", "..", "last_set", "bulk-delete", ""])
def test_names_that_would_reach_another_route_are_refused(
    rsps: responses.RequestsMock, client: ApiClient, name: str
) -> None:
    from avatars import RequestValidationError

    for call in (client.jobs.get_job_status, client.jobs.cancel_job, client.jobs.delete_job):
        with pytest.raises(RequestValidationError) as info:
            call(name)
        assert info.value.field == "job_name"
    with pytest.raises(RequestValidationError):
        client.results.get_results(name if name not in ("last_set", "bulk-delete") else "a/b")
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("name", ["", "  ", ".", "..", None, 3])
def test_bad_job_names_send_nothing(rsps: responses.RequestsMock, client: ApiClient, name: Any) -> None:
    for method in (client.jobs.get_job_status, client.jobs.cancel_job, client.jobs.delete_job):
        with pytest.raises(RequestValidationError) as info:
            method(name)
        assert info.value.field == "job_name"
    assert len(rsps.calls) == 0


def test_cancel_and_delete(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/j/cancel",
        json=p.job("j", status="error", exception="cancelled by user", done=True),
        match=[matchers.header_matcher(AUTH)],
    )
    rsps.add(responses.DELETE, f"{BASE}/jobs/j", json=p.job("j", deleted_at="2026-11-27T10:05:00+00:00"))
    cancelled = client.jobs.cancel_job("j")
    assert cancelled.exception == "cancelled by user" and cancelled.failed
    deleted = client.jobs.delete_job("j")
    assert deleted.deleted_at == datetime(2026, 11, 27, 10, 5, tzinfo=timezone.utc)
    assert [c.request.method for c in rsps.calls] == ["POST", "DELETE"]
    assert rsps.calls[0].request.body is None


def test_bulk_delete(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/bulk-delete",
        json=p.bulk_delete(),
        match=[matchers.json_params_matcher({"job_names": ["a", "b"]}, strict_match=True)],
    )
    answer = client.jobs.bulk_delete_jobs(["a", "b"])
    assert [j.name for j in answer.deleted_jobs] == ["a"] and answer.failed_jobs == ["b"]
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/bulk-delete",
        json={"deleted_jobs": [], "failed_jobs": []},
        match=[matchers.json_params_matcher({"job_names": ["c"]})],
    )
    assert client.jobs.bulk_delete_jobs(BulkDeleteRequest(("c",))).deleted_jobs == []
    assert json.loads(rsps.calls[1].request.body) == {"job_names": ["c"]}


@pytest.mark.parametrize("names", [[], [str(i) for i in range(101)], "job-1", ["ok", ""]])
def test_bulk_delete_validation_sends_nothing(rsps: responses.RequestsMock, client: ApiClient, names: Any) -> None:
    with pytest.raises(RequestValidationError):
        client.jobs.bulk_delete_jobs(names)
    assert len(rsps.calls) == 0


def test_errors_and_bad_answers(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs/gone", status=404, json={"detail": "job not found"})
    with pytest.raises(NotFound, match="job not found"):
        client.jobs.get_job_status("gone")
    rsps.add(responses.POST, f"{BASE}/jobs/j/cancel", status=409, json={"detail": {"message": "already ended"}})
    with pytest.raises(ConflictError):
        client.jobs.cancel_job("j")
    body = p.job()
    del body["status"]
    rsps.add(responses.GET, f"{BASE}/jobs/bad", json=body, headers={"X-Request-ID": "req-42"})
    with pytest.raises(SchemaError) as info:
        client.jobs.get_job_status("bad")
    assert info.value.endpoint == "GET /jobs/{job_name}" and "status" in info.value.fields
    assert info.value.request_id == "req-42" and "req-42" in str(info.value)


def test_timeout_is_passed_through(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs/j", json=p.job("j"))
    client.jobs.get_job_status("j", timeout=3.5)
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    client.jobs.get_jobs(timeout=(1, 2))
    assert rsps.calls[0].request.req_kwargs["timeout"] == 3.5
    assert rsps.calls[1].request.req_kwargs["timeout"] == (1, 2)
