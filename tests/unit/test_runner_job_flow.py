"""Runner.run on platform API 3.x: one ``POST /jobs/flow`` for the whole set, one
probe per client on 2.90, per-job ``POST /jobs`` for a subset the flow cannot express."""

from __future__ import annotations

import io
import json
from typing import Any, List

import pytest
import responses

from avatars import ApiClient, Runner
from avatars.errors import AvatarError

from .conftest import BASE
from .test_runner_flow import SET, RecordingStore, job_body, jobs_list, serve_job_creation, serve_resources

EVERY_JOB = ("standard", "signal_metrics", "privacy_metrics", "report", "report_pia")


def serve_flow(rsps: responses.RequestsMock, names: List[str]) -> List[dict]:
    """A 3.x platform: POST /jobs/flow creates a job per name (``<name>-job``); returns its bodies."""
    bodies: List[dict] = []

    def create(request: Any) -> Any:
        bodies.append(json.loads(request.body))
        jobs = [{"name": f"{n}-job", "Location": f"{BASE}/jobs/{n}-job"} for n in names]
        return 200, {}, json.dumps({"jobs": jobs})

    rsps.add_callback(responses.POST, f"{BASE}/jobs/flow", callback=create)
    return bodies


def serve_listing(rsps: responses.RequestsMock, jobs: List[dict]) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json=jobs_list(*jobs),
        match=[responses.matchers.query_param_matcher({"set_name": SET})],
    )


def new_runner(client: ApiClient) -> Runner:
    runner = Runner(client, "study", seed=1, progress=False, data_store=RecordingStore(client))
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n3,4\n"), primary_key="id")
    runner.set_parameters("t", k=1)
    return runner


def sent(rsps: responses.RequestsMock) -> List[str]:
    return [f"{c.request.method} {c.request.url.split('/api', 1)[1]}" for c in rsps.calls]


def test_on_3x_run_creates_every_job_with_one_flow_request(client: ApiClient, rsps: responses.RequestsMock) -> None:
    runner = new_runner(client)
    serve_resources(rsps)
    bodies = serve_flow(rsps, list(EVERY_JOB))
    serve_listing(
        rsps,
        [job_body("standard-job", "standard")]  # already done: the listing counts as a poll
        + [job_body(f"{n}-job", n, "queued") for n in EVERY_JOB[1:]]
        + [job_body("other-job", "standard", "pending")],  # another set's job: not this run's
    )

    launched = runner.run()

    assert launched == {n: f"{n}-job" for n in EVERY_JOB}
    assert list(launched) == list(EVERY_JOB)  # the platform SDK's order
    assert bodies == [{"set_name": SET}]
    assert sent(rsps) == ["PUT /resources/study", "POST /jobs/flow", f"GET /jobs?set_name={SET}"]
    assert client.jobs.flow_available is True
    assert runner.jobs["report_pia"].location == f"{BASE}/jobs/report_pia-job"
    before = len(rsps.calls)
    assert runner.wait("standard").name == "standard-job"  # known finished: nothing sent
    assert len(rsps.calls) == before


def test_a_job_missing_from_the_listing_is_asked_for_by_name(client: ApiClient, rsps: responses.RequestsMock) -> None:
    runner = new_runner(client)
    serve_resources(rsps)
    serve_flow(rsps, ["standard", "signal_metrics", "privacy_metrics"])
    serve_listing(rsps, [job_body("standard-job", "standard", "queued")])
    for name in ("signal_metrics", "privacy_metrics"):
        rsps.add(responses.GET, f"{BASE}/jobs/{name}-job", json=job_body(f"{name}-job", name, "queued"))

    launched = runner.run(jobs_to_run=["standard", "signal_metrics", "privacy_metrics"])

    assert launched == {n: f"{n}-job" for n in ("standard", "signal_metrics", "privacy_metrics")}
    assert sent(rsps)[-2:] == ["GET /jobs/signal_metrics-job", "GET /jobs/privacy_metrics-job"]
    assert not any(c.endswith(" /jobs") for c in sent(rsps))  # no POST /jobs


def test_a_flow_that_leaves_out_a_wanted_job_is_a_clear_error(client: ApiClient, rsps: responses.RequestsMock) -> None:
    runner = new_runner(client)
    serve_resources(rsps)
    serve_flow(rsps, ["standard", "signal_metrics"])
    serve_listing(rsps, [job_body("standard-job", "standard"), job_body("signal_metrics-job", "signal_metrics")])

    with pytest.raises(
        AvatarError, match=r"POST /jobs/flow created no job for privacy_metrics of set .*signal_metrics"
    ):
        runner.run(jobs_to_run=["standard", "signal_metrics", "privacy_metrics"])


def test_on_290_the_flow_is_asked_for_once_per_client(client: ApiClient, rsps: responses.RequestsMock) -> None:
    serve_resources(rsps)
    bodies = serve_job_creation(rsps)  # the 2.90 router answers 405 to POST /jobs/flow

    first = new_runner(client).run()
    second = new_runner(client).run()

    assert first == second == {n: f"{n}-job" for n in EVERY_JOB}
    assert sent(rsps).count("POST /jobs/flow") == 1  # the second run knows
    assert sent(rsps).count("POST /jobs") == 2 * len(EVERY_JOB)
    assert client.jobs.flow_available is False
    assert [b["parameters_name"] for b in bodies[:5]] == list(EVERY_JOB)
    assert bodies[3]["depends_on"] == ["privacy_metrics-job", "signal_metrics-job"]


def test_a_client_told_there_is_no_flow_never_asks(client: ApiClient, rsps: responses.RequestsMock) -> None:
    client.jobs.flow_available = False
    serve_resources(rsps)
    serve_job_creation(rsps)
    new_runner(client).run()
    assert "POST /jobs/flow" not in sent(rsps)


def test_a_subset_the_flow_cannot_express_takes_one_post_per_job(
    client: ApiClient, rsps: responses.RequestsMock
) -> None:
    client.jobs.flow_available = True  # a 3.x platform, known
    runner = new_runner(client)  # set_parameters enables both metrics documents
    serve_resources(rsps)
    bodies = serve_job_creation(rsps)

    assert runner.run(jobs_to_run=["standard"]) == {"standard": "standard-job"}

    assert "POST /jobs/flow" not in sent(rsps)
    assert [b["parameters_name"] for b in bodies] == ["standard"]


def test_a_flow_refused_for_another_reason_is_not_retried_job_by_job(
    client: ApiClient, rsps: responses.RequestsMock
) -> None:
    runner = new_runner(client)
    serve_resources(rsps)
    rsps.add(responses.POST, f"{BASE}/jobs/flow", status=400, json={"detail": "no parameters document"})
    with pytest.raises(AvatarError, match="no parameters document"):
        runner.run()
    assert sent(rsps) == ["PUT /resources/study", "POST /jobs/flow"]  # nothing else created
