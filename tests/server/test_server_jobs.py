"""Jobs: the full chain, failures, cancel, delete, results and file access."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any, Dict, List

import pytest
import requests
from botocore.exceptions import ClientError

from avatars.testing import LocalAvatarServer

from .conftest import create_job, fetch_result, key_session, make_set, people_csv, s3_client, upload, wait_job


@pytest.fixture
def set_name(srv: LocalAvatarServer, http: requests.Session) -> str:
    dataset_id = upload(http, srv, people_csv(120))["id"]
    return make_set(http, srv, dataset_id, k=5)


def test_full_chain(srv: LocalAvatarServer, http: requests.Session, set_name: str) -> None:
    created = http.post(srv.url("/jobs"), json={"set_name": set_name, "parameters_name": "p1", "depends_on": []})
    # the platform: JobCreateResponse in the body of a 200, no Location header
    assert created.status_code == 200 and "Location" not in created.headers
    standard = created.json()["name"]
    location = created.json()["Location"]
    assert location.endswith(f"/api/jobs/{standard}")
    # depends_on by Location value (what the platform SDK's job launcher sends) or by name
    privacy = create_job(http, srv, set_name, "privacy_metrics", [location])
    signal = create_job(http, srv, set_name, "signal_metrics", [standard])
    report = create_job(http, srv, set_name, "report", [privacy, signal])
    assert http.get(srv.url(f"/jobs/{privacy}")).json()["depends_on"] == [standard]
    advice = create_job(http, srv, set_name, "advice")

    first = http.get(srv.url(f"/jobs/{report}")).json()
    assert first["status"] in ("queued", "pending") and first["done"] is False
    assert set(first) >= {
        "name",
        "set_name",
        "parameters_name",
        "display_name",
        "created_at",
        "kind",
        "status",
        "exception",
        "done",
        "progress",
        "deleted_at",
    }
    not_ready = http.get(srv.url(f"/results/{report}"))
    assert not_ready.status_code == 409
    assert not_ready.json()["detail"]["status"] in ("queued", "pending")

    seen_progress = set()
    for name in (standard, privacy, signal, report, advice):
        job = wait_job(http, srv, name)
        assert job["status"] == "finished", job
        assert job["progress"] == 1.0 and job["exception"] == ""
        assert job["display_name"] == "people-set"
        seen_progress.add(job["progress"])

    shuffled_urls = http.get(srv.url(f"/results/{standard}")).json()["shuffled"]
    assert len(shuffled_urls) == 1 and shuffled_urls[0].startswith(srv.base_url + "/access?url=s3://avatars/users/")
    rows = list(csv.reader(io.StringIO(fetch_result(http, srv, shuffled_urls[0]).decode("utf-8"))))
    assert rows[0] == ["id", "age", "height", "weight", "city"]
    assert len(rows) == 121
    assert {r[4] for r in rows[1:]} <= {"paris", "lyon", "nice"}

    privacy_url = http.get(srv.url(f"/results/{privacy}")).json()["privacy_metrics"][0]
    metrics = json.loads(fetch_result(http, srv, privacy_url))
    assert metrics["stand_in"] is True and "NOT the Avatar platform" in metrics["notice"]
    for key in ("hidden_rate", "local_cloaking", "distance_to_closest", "closest_distances_ratio"):
        assert isinstance(metrics[key], float), key
    assert 0.0 <= metrics["hidden_rate"] <= 1.0

    signal_url = http.get(srv.url(f"/results/{signal}")).json()["signal_metrics"][0]
    signal_metrics = json.loads(fetch_result(http, srv, signal_url))
    assert 0.0 <= signal_metrics["hellinger_distance"] <= 1.0
    assert signal_metrics["correlation_difference"] is not None
    assert signal_metrics["columns"]["age"]["type"] == "numeric"

    report_url = http.get(srv.url(f"/results/{report}")).json()["report"][0]
    text = fetch_result(http, srv, report_url).decode("utf-8")
    assert "LOCAL STAND-IN" in text and "rows in: 120" in text and "hidden_rate" in text

    advice_url = http.get(srv.url(f"/results/{advice}")).json()["advice"][0]
    assert 3 <= json.loads(fetch_result(http, srv, advice_url))["suggested_k"] <= 20

    # the store never saw API credentials: every request was signed with SigV4
    assert srv.storage_log.count("GET") == 5
    assert {r.auth_scheme for r in srv.storage_log.entries()} == {"AWS4-HMAC-SHA256"}

    # listing, filtering, last_set
    jobs = http.get(srv.url("/jobs")).json()["jobs"]
    assert [j["name"] for j in jobs] == [standard, privacy, signal, report, advice]
    only = http.get(srv.url("/jobs"), params={"kind": "report"}).json()["jobs"]
    assert [j["name"] for j in only] == [report]
    assert http.get(srv.url("/jobs"), params={"kind": "nope"}).status_code == 422
    assert len(http.get(srv.url("/jobs/last_set")).json()["jobs"]) == 5


def test_access_and_download(srv: LocalAvatarServer, http: requests.Session, set_name: str) -> None:
    standard = create_job(http, srv, set_name, "standard")
    wait_job(http, srv, standard)
    url = http.get(srv.url(f"/results/{standard}")).json()["shuffled"][0]
    access = http.get(srv.url("/access"), params={"url": url})
    assert access.status_code == 200
    grant = access.json()
    assert grant["url"] == url
    assert set(grant["credentials"]) == {"access_key_id", "secret_access_key"}
    other = http.get(srv.url("/access"), params={"url": url}).json()
    assert other["credentials"] != grant["credentials"]
    assert fetch_result(http, srv, url).startswith(b"id,age")
    # the credentials open that result only, and not with another secret
    client = s3_client(srv.storage_endpoint_url, grant)
    key = url.split("url=s3://avatars/", 1)[1]
    assert client.get_object(Bucket="avatars", Key=key)["Body"].read().startswith(b"id,age")
    with pytest.raises(ClientError) as sibling:
        client.get_object(Bucket="avatars", Key=key.rsplit("/", 1)[0] + "/other.csv")
    assert sibling.value.response["Error"]["Code"] == "AccessDenied"
    client.close()
    forged = s3_client(srv.storage_endpoint_url, grant, secret="wrong")
    with pytest.raises(ClientError) as wrong:
        forged.get_object(Bucket="avatars", Key=key)
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    forged.close()
    assert http.post(srv.url("/download"), json=grant).status_code == 404  # retired: the platform has none
    assert http.get(srv.url("/access")).status_code == 422
    assert http.get(srv.url("/access"), params={"url": "http://elsewhere/x"}).status_code == 403
    batch = http.post(srv.url("/access/batch"), json=[url, url, "s3://avatars/users/nobody/x"])
    assert batch.status_code == 200 and [g["url"] for g in batch.json()] == [url, url]
    assert http.post(srv.url("/access/batch"), json={"urls": [url]}).status_code == 422
    assert http.post(srv.url("/access/batch"), json="x").status_code == 422


def test_parent_error_propagates(srv: LocalAvatarServer, http: requests.Session) -> None:
    dataset_id = upload(http, srv, people_csv(10))["id"]
    set_name = make_set(http, srv, dataset_id, k=50)
    standard = create_job(http, srv, set_name, "standard")
    privacy = create_job(http, srv, set_name, "privacy_metrics", [standard])
    report = create_job(http, srv, set_name, "report", [privacy])
    failed = wait_job(http, srv, standard)
    assert failed["status"] == "error"
    assert "k=50" in failed["exception"] and "10" in failed["exception"]
    assert failed["done"] is True
    child = wait_job(http, srv, privacy)
    assert child["status"] == "parent_error" and standard in child["exception"]
    assert wait_job(http, srv, report)["status"] == "parent_error"
    results = http.get(srv.url(f"/results/{standard}"))
    assert results.status_code == 409
    assert results.json()["detail"]["status"] == "error"


@pytest.mark.parametrize(
    "parameters, needle",
    [
        ([{"name": "p1", "table": "people", "k": 0}], "k must be >= 1"),
        ([{"name": "p1", "table": "ghost", "k": 3}], "ghost"),
    ],
)
def test_bad_parameters_end_in_error(
    srv: LocalAvatarServer, http: requests.Session, parameters: List[Dict[str, Any]], needle: str
) -> None:
    dataset_id = upload(http, srv, people_csv(20))["id"]
    set_name = make_set(http, srv, dataset_id, parameters=parameters)
    job = wait_job(http, srv, create_job(http, srv, set_name, "standard"))
    assert job["status"] == "error" and needle in job["exception"]


def test_unknown_dataset_and_bad_csv(srv: LocalAvatarServer, http: requests.Session) -> None:
    ghost = make_set(http, srv, str(uuid.uuid4()), display_name="ghost")
    job = wait_job(http, srv, create_job(http, srv, ghost, "standard"))
    assert job["status"] == "error" and "not found" in job["exception"]
    ragged = upload(http, srv, b"id,a,b\n1,2\n3,4,5\n")["id"]
    bad = make_set(http, srv, ragged, display_name="ragged")
    job = wait_job(http, srv, create_job(http, srv, bad, "standard"))
    assert job["status"] == "error" and "fields" in job["exception"]
    fine = make_set(http, srv, upload(http, srv, people_csv(20))["id"], display_name="fine")
    lonely = wait_job(http, srv, create_job(http, srv, fine, "privacy_metrics"))
    assert lonely["status"] == "error" and "standard job" in lonely["exception"]


def test_cancel_delete_bulk() -> None:
    with LocalAvatarServer(job_step_seconds=0.5, job_steps=20, job_workers=1, api_version=3) as srv:
        user = srv.admin.create_user("carol@example.com", "pw")
        http = key_session(srv.admin.create_api_key(user))
        set_name = make_set(http, srv, upload(http, srv, people_csv(30))["id"])
        running = create_job(http, srv, set_name, "standard")
        queued = create_job(http, srv, set_name, "advice")
        child = create_job(http, srv, set_name, "privacy_metrics", [running])
        cancelled = http.post(srv.url(f"/jobs/{running}/cancel"))
        assert cancelled.status_code == 200
        body = cancelled.json()
        # 3.x: the job and the jobs waiting on it end "cancelled"
        assert body["status"] == "cancelled" and body["exception"] == "cancelled by user"
        assert body["done"] is True
        assert srv.wait_for_job(child, 5) == "cancelled"
        # cancel an ended job: 409, unchanged
        again = http.post(srv.url(f"/jobs/{running}/cancel"))
        assert again.status_code == 409 and "already over" in again.json()["detail"]["message"]
        assert http.get(srv.url(f"/jobs/{running}")).json()["status"] == "cancelled"
        deleted = http.delete(srv.url(f"/jobs/{queued}")).json()  # cancelled, then deleted
        assert deleted["deleted_at"] is not None and deleted["status"] == "cancelled"
        assert queued not in [j["name"] for j in http.get(srv.url("/jobs")).json()["jobs"]]
        assert http.get(srv.url(f"/jobs/{queued}")).json()["deleted_at"] is not None
        assert http.get(srv.url(f"/results/{queued}")).status_code == 404
        bulk = http.post(srv.url("/jobs/bulk-delete"), json={"job_names": [running, child, "nope"]})
        assert bulk.status_code == 200
        assert sorted(j["name"] for j in bulk.json()["deleted_jobs"]) == sorted([running, child])
        assert bulk.json()["failed_jobs"] == ["nope"]
        assert http.get(srv.url("/jobs")).json()["jobs"] == []
        too_many = http.post(srv.url("/jobs/bulk-delete"), json={"job_names": [f"j{i}" for i in range(101)]})
        assert too_many.status_code == 422
        assert http.post(srv.url("/jobs/bulk-delete"), json={}).status_code == 422
        assert http.post(srv.url("/jobs/nope/cancel")).status_code == 404


def test_job_validation(srv: LocalAvatarServer, http: requests.Session, set_name: str) -> None:
    cases = [
        {},
        {"set_name": "not-a-uuid"},
        {"set_name": set_name},  # parameters_name is required
        {"set_name": set_name, "parameters_name": "p1", "depends_on": "x"},
        {"set_name": set_name, "parameters_name": "p1", "depends_on": ["no-such-job"]},
        {"set_name": set_name, "parameters_name": "p1", "depends_on": ["http://h/api/jobs/no-such-job"]},
        {"set_name": set_name, "parameters_name": 3},
        {"set_name": set_name, "parameters_name": "no-such-parameters"},
    ]
    for payload in cases:
        response = http.post(srv.url("/jobs"), json=payload)
        assert response.status_code == 422, payload
        assert isinstance(response.json()["detail"], list)
    unknown = http.post(srv.url("/jobs"), json={"set_name": set_name, "parameters_name": "zz"}).json()
    assert unknown["detail"][0]["loc"] == ["body", "parameters_name"] and "p1-advice" in unknown["detail"][0]["msg"]
    missing_set = {"set_name": str(uuid.uuid4()), "parameters_name": "p1"}
    assert http.post(srv.url("/jobs"), json=missing_set).status_code == 404
    assert http.post(srv.url("/jobs"), data=json.dumps([1])).status_code == 422
    assert http.get(srv.url("/jobs/nope")).status_code == 404
    assert http.get(srv.url("/results/nope")).status_code == 404
    # a "kind" in the body (retired) is ignored: the kind comes from the parameters document
    sent = {"set_name": set_name, "parameters_name": "p1-advice", "kind": "standard"}
    job = wait_job(http, srv, http.post(srv.url("/jobs"), json=sent).json()["name"])
    assert job["kind"] == "advice" and job["status"] == "finished" and job["parameters_name"] == "p1-advice"


def test_progress_rises() -> None:
    with LocalAvatarServer(job_step_seconds=0.08, job_steps=5) as srv:
        user = srv.admin.create_user("gus@example.com", "pw")
        http = key_session(srv.admin.create_api_key(user))
        set_name = make_set(http, srv, upload(http, srv, people_csv(30))["id"])
        name = create_job(http, srv, set_name, "advice")
        seen = []
        while True:
            job = http.get(srv.url(f"/jobs/{name}")).json()
            seen.append((job["status"], job["progress"]))
            if job["done"]:
                break
        assert seen[-1] == ("finished", 1.0)
        running = [p for status, p in seen if status == "pending"]
        assert running == sorted(running) and len(set(running)) >= 3
        assert all(0.0 <= p < 1.0 for p in running)


def test_row_cap_and_head_download() -> None:
    with LocalAvatarServer(job_step_seconds=0.01, max_rows=25) as srv:
        user = srv.admin.create_user("hal@example.com", "pw")
        http = key_session(srv.admin.create_api_key(user))
        dataset = upload(http, srv, people_csv(30))
        job = wait_job(http, srv, create_job(http, srv, make_set(http, srv, dataset["id"]), "standard"))
        assert job["status"] == "error" and "limited to 25 rows" in job["exception"]
        client = s3_client(srv.storage_endpoint_url, dataset["grant"])
        head = client.head_object(Bucket="avatars", Key=dataset["location"][len("s3://avatars/") :])
        assert head["ContentLength"] == len(people_csv(30))
        client.close()
        assert http.get(srv.url("/users/me")).status_code == 200  # connection still in sync
