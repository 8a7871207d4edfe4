"""Runner and Manager on the contract's wire (PUT /resources, POST /jobs, GET /jobs/{name},
GET /results/{job}, /access), with the platform SDK's names and meanings."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any, Dict, List, Tuple

import pandas as pd
import pytest
import requests
import responses

from avatars import ApiClient, JobCreateResponse, JobFailedError, JobKind, Manager, RequestValidationError, Runner
from avatars.documents import DocumentError, ResourceSet
from avatars.documents.files import file_name_of, result_file_name, table_of_result_file
from avatars.errors import AvatarError, ConfigurationError, EndpointUnavailableError, WaitTimeoutError
from avatars.progress import resolve_progress
from avatars.runner import DataStore, poll_delay
from avatars.storage import location_of

from .conftest import BASE

SET = "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac"
OTHER_SET = "6f1c3a1e-2f0b-4a57-9d55-1e9d2a6b7c80"
STORE = "s3://bucket/user-1"


class RecordingStore(DataStore):
    """Object storage stand-in for uploads (downloads go over the wire: /access + the store)."""

    def __init__(self, client: ApiClient) -> None:
        super().__init__(client)
        self.uploads: Dict[str, bytes] = {}

    def upload(self, key: str, data: bytes, *, label: str, progress: Any) -> None:
        self.uploads[key] = data


def job_body(name: str, parameters_name: str, status: str = "finished", exception: str = "", **extra: Any) -> dict:
    body = {
        "name": name,
        "set_name": SET,
        "parameters_name": parameters_name,
        "display_name": "study",
        "created_at": "2026-11-27T10:00:00+00:00",
        "kind": parameters_name.split("_pia")[0] if parameters_name != "report_pia" else "report",
        "status": status,
        "exception": exception,
        "done": status in ("finished", "error", "parent_error"),
        "progress": 1.0,
        "deleted_at": None,
    }
    body.update(extra)
    return body


def serve_resources(rsps: responses.RequestsMock, display_name: str = "study") -> None:
    rsps.add(responses.PUT, f"{BASE}/resources/{display_name}", json={"set_name": SET, "display_name": display_name})


def serve_job_creation(rsps: responses.RequestsMock) -> List[dict]:
    """A 2.90 platform: POST /jobs answers {name, Location}, and the router has no
    POST /jobs/flow; returns the bodies of POST /jobs, in order."""
    bodies: List[dict] = []
    rsps.add(responses.POST, f"{BASE}/jobs/flow", status=405, json={"detail": "Method Not Allowed"})

    def create(request: Any) -> Any:
        body = json.loads(request.body)
        bodies.append(body)
        name = f"{body['parameters_name']}-job"
        return 200, {}, json.dumps({"name": name, "Location": f"{BASE}/jobs/{name}"})

    rsps.add_callback(responses.POST, f"{BASE}/jobs", callback=create)
    return bodies


def serve_file(rsps: responses.RequestsMock, location: str, content: bytes) -> None:
    """/access gives the location back with credentials; the store gives the bytes to a signed GET."""
    rsps.add(
        responses.GET,
        f"{BASE}/access",
        json={"url": location, "credentials": {"access_key_id": "AK", "secret_access_key": "SK"}},
        match=[responses.matchers.query_param_matcher({"url": location})],
    )
    rsps.add(
        responses.GET,
        location_of(location).url(STORAGE),
        body=content,
        match=[_signed_with("AK")],
    )


#: The default storage endpoint of BASE (its /api replaced by /storage).
STORAGE = BASE[: -len("/api")] + "/storage"


def _signed_with(key_id: str) -> Any:
    def match(request: Any) -> Tuple[bool, str]:
        auth = request.headers.get("Authorization", "")
        ok = auth.startswith(f"AWS4-HMAC-SHA256 Credential={key_id}/")
        return ok, "" if ok else f"not signed with {key_id}: {auth[:40]!r}"

    return match


def launch_one_table(runner: Runner, rsps: responses.RequestsMock, jobs: List[str]) -> None:
    """Table ``t`` (columns id, x) with k=1, launched on the mocked wire."""
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"))
    runner.set_parameters("t", k=1)
    serve_resources(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=jobs)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [31.5, 40.0, 22.25, 57.0],
            "sex": pd.Categorical(["f", "m", "f", "m"]),
            "seen": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]),
            "smoker": [True, False, False, True],
        }
    )


@pytest.fixture
def runner(client: ApiClient) -> Runner:
    r = Runner(client, "study", seed=42, progress=False, data_store=RecordingStore(client))
    r.poll_interval = 0.001
    return r


# ----------------------------------------------------------------- the flow


def test_the_everyday_flow_on_the_wire(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("patients", frame(), primary_key="id")
    runner.set_parameters("patients", k=2, ncp=2, known_variables=["age"])
    serve_resources(rsps)
    bodies = serve_job_creation(rsps)

    launched = runner.run()

    assert launched == {
        n: f"{n}-job" for n in ("standard", "signal_metrics", "privacy_metrics", "report", "report_pia")
    }
    put = rsps.calls[0].request
    assert put.method == "PUT" and put.headers["Content-Type"] == "application/yaml"
    stored = ResourceSet.from_yaml(put.body.decode())
    assert stored.parameters["avatarization"] == {"patients": {"k": 2, "ncp": 2}}
    assert stored.parameters["privacy_metrics"]["patients"]["known_variables"] == ["age"]
    types = {c["field"]: c.get("type") for c in stored.tables["patients"]["columns"]}
    assert types == {"id": "int", "age": "float", "sex": "category", "seen": "datetime", "smoker": "bool"}
    assert stored.tables["patients"]["data"] == {"volume": "input", "file": "patients.csv"}
    assert set(stored.reports) == {"basic", "pia"}
    # one job per parameters document, each naming the jobs it depends on
    assert [(b["set_name"], b["parameters_name"], b["depends_on"]) for b in bodies] == [
        (SET, "standard", []),
        (SET, "signal_metrics", ["standard-job"]),
        (SET, "privacy_metrics", ["standard-job"]),
        (SET, "report", ["privacy_metrics-job", "signal_metrics-job"]),
        (SET, "report_pia", ["privacy_metrics-job", "signal_metrics-job"]),
    ]
    assert runner.set_name == SET
    uploaded = runner._store.uploads  # type: ignore[attr-defined]
    assert list(uploaded) == ["patients.csv"]
    assert pd.read_csv(io.BytesIO(uploaded["patients.csv"]))["age"].tolist() == [31.5, 40.0, 22.25, 57.0]

    # results: wait for the job, list its files, download the table's own file
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard", "pending"))
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    shuffled_url = f"{STORE}/standard/patients.shuffled.csv"
    rsps.add(
        responses.GET,
        f"{BASE}/results/standard-job",
        json={"shuffled": [f"{STORE}/standard/other.shuffled.csv", shuffled_url], "unshuffled": []},
    )
    avatarized = frame().sample(frac=1, random_state=1).to_csv(index=False).encode()
    serve_file(rsps, shuffled_url, avatarized)

    result = runner.shuffled("patients")

    assert isinstance(result, pd.DataFrame)
    assert dict(result.dtypes.astype(str)) == dict(frame().dtypes.astype(str))
    assert sorted(result["id"].tolist()) == [1, 2, 3, 4]
    calls_before = len(rsps.calls)
    runner.shuffled("patients")  # cached: not fetched twice
    assert len(rsps.calls) == calls_before


def test_metrics_are_the_tables_own_entries(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("a.b", io.BytesIO(b"id,x\n1,2\n3,4\n"), primary_key="id")
    runner.set_parameters("a.b", k=1)
    serve_resources(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=["standard", "privacy_metrics"])
    rsps.add(responses.GET, f"{BASE}/jobs/privacy_metrics-job", json=job_body("privacy_metrics-job", "privacy_metrics"))
    urls = [f"{STORE}/privacy_metrics/a_dot_b.privacy.json", f"{STORE}/privacy_metrics/c.privacy.json"]
    rsps.add(responses.GET, f"{BASE}/results/privacy_metrics-job", json={"privacy_metrics": urls})
    serve_file(rsps, urls[0], json.dumps([{"metadata": {"table_name": "a.b"}, "dcr": 0.5}]).encode())
    serve_file(rsps, urls[1], json.dumps([{"metadata": {"table_name": "c"}, "dcr": 0.9}]).encode())

    assert runner.privacy_metrics("a.b") == [{"metadata": {"table_name": "a.b"}, "dcr": 0.5}]


def test_two_linked_tables_send_the_link_and_each_tables_data(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("patients", io.BytesIO(b"id,age\n1,30\n2,40\n"), primary_key="id", individual_level=True)
    runner.add_table(
        "visits",
        io.BytesIO(b"vid,pid,cost\n1,1,3.5\n2,2,4\n"),
        primary_key="vid",
        foreign_keys=["pid"],
        individual_level=False,
    )
    runner.add_link("patients", "id", "visits", "pid", "minimum_distance_assignment")
    runner.set_parameters("patients", k=1)
    runner.set_parameters("visits", k=1)
    serve_resources(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=["standard"])
    stored = ResourceSet.from_yaml(rsps.calls[0].request.body.decode())
    assert stored.tables["patients"]["links"] == [
        {"field": "id", "to": {"table": "visits", "field": "pid"}, "method": "minimum_distance_assignment"}
    ]
    assert sorted(runner._store.uploads) == ["patients.csv", "visits.csv"]  # type: ignore[attr-defined]


def test_results_are_rows_of_text_without_pandas(
    runner: Runner, rsps: responses.RequestsMock, monkeypatch: Any
) -> None:
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    url = f"{STORE}/standard/t.shuffled.csv"
    rsps.add(responses.GET, f"{BASE}/results/standard-job", json={"shuffled": [url]})
    serve_file(rsps, url, b"id,x\n7,8\n")
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)  # import pandas -> ImportError
    assert runner.shuffled("t") == [{"id": "7", "x": "8"}]


def test_a_failed_job_shows_the_root_cause(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    rsps.add(
        responses.GET,
        f"{BASE}/jobs/privacy_metrics-job",
        json=job_body("privacy_metrics-job", "privacy_metrics", "parent_error", "parent job failed"),
    )
    rsps.add(
        responses.GET,
        f"{BASE}/jobs/standard-job",
        json=job_body("standard-job", "standard", "error", "k=50 is larger than the 1 rows"),
    )
    with pytest.raises(JobFailedError) as info:
        runner.privacy_metrics("t")
    assert info.value.job.name == "standard-job"
    assert info.value.exception == "k=50 is larger than the 1 rows"
    assert "k=50 is larger than the 1 rows" in str(info.value) and "parent_error" in str(info.value)


def test_waiting_has_a_time_limit(runner: Runner, rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard", "pending"))
    runner.poll_interval = 0.05
    with pytest.raises(WaitTimeoutError, match="still pending after 0.2 s"):
        runner.wait("standard", timeout=0.2)
    assert sum(c.request.url.endswith("/jobs/standard-job") for c in rsps.calls) >= 2


class FakeClock:
    """``time.monotonic`` that only ``time.sleep`` moves (no real waiting, no timing)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: List[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_polls_slow_down_with_the_time_waited_up_to_the_cap(
    runner: Runner, rsps: responses.RequestsMock, monkeypatch: Any
) -> None:
    clock = FakeClock()
    monkeypatch.setattr("avatars.runner.time.monotonic", clock.monotonic)
    monkeypatch.setattr("avatars.runner.time.sleep", clock.sleep)
    launch_one_table(runner, rsps, ["standard"])
    for _ in range(8):
        rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard", "queued"))
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    runner.poll_interval, runner.max_poll_interval, runner.poll_fraction = 0.2, 1.0, 0.5
    assert runner.wait().status == "finished"
    # the launch counts as a poll (at 0); polls at 0.2, 0.4, 0.6, 0.9, 1.35, 2.025, 3.025, 4.025, 5.025 s
    assert clock.sleeps == pytest.approx([0.2, 0.2, 0.2, 0.3, 0.45, 0.675, 1.0, 1.0, 1.0])
    # a later wait does not poll again at once: the last poll was just made
    runner._finished.clear()
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    runner.wait("standard")
    assert clock.sleeps[-1] == pytest.approx(1.0)


def test_the_poll_schedule_bounds_the_overshoot_and_grows_logarithmically() -> None:
    assert poll_delay(0.0, floor=0.2, ceiling=5.0, fraction=0.5) == 0.2
    assert poll_delay(-3.0, floor=0.2, ceiling=5.0, fraction=0.5) == 0.2  # a clock step back
    assert poll_delay(1.0, floor=0.2, ceiling=5.0, fraction=0.5) == 0.5
    assert poll_delay(60.0, floor=0.2, ceiling=5.0, fraction=0.5) == 5.0

    def polls_until(end: float, ceiling: float) -> List[float]:
        times = [0.0]
        while times[-1] < end:
            times.append(times[-1] + poll_delay(times[-1], floor=0.2, ceiling=ceiling, fraction=0.5))
        return times

    for end in (0.05, 0.3, 1.0, 2.5, 7.0, 30.0, 400.0):
        times = polls_until(end, ceiling=1e9)
        late = times[-1] - end  # the job ended at ``end``: seen this late
        assert late <= max(0.2, 0.5 * end) + 1e-9, (end, late)
    # logarithmic: 10x longer jobs cost about log(10)/log(1.5) ~ 5.7 more polls, not 10x
    counts = [len(polls_until(end, ceiling=1e9)) for end in (10.0, 100.0, 1000.0)]
    assert [b - a for a, b in zip(counts, counts[1:])] == [6, 6]
    # past the ceiling, one poll per ceiling
    assert len(polls_until(1000.0, ceiling=5.0)) - len(polls_until(500.0, ceiling=5.0)) == 100


# ----------------------------------------------------------- bad input, nothing sent


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda r: r.set_parameters("t", k=3), DocumentError, "table_name"),
        (lambda r: r.shuffled("t"), RequestValidationError, "table_name"),
        (lambda r: r.run(), RequestValidationError, "tables"),
        (lambda r: r.get_status("standard"), RequestValidationError, "job_name"),
        (lambda r: r.add_table("t", "id,x\n1,2\n"), RequestValidationError, "data"),
        (lambda r: r.add_table("t", "id,x"), RequestValidationError, "data"),
        (lambda r: r.add_table("t", "/no/such/file.csv"), RequestValidationError, "data"),
        (lambda r: r.add_table("t", 42), RequestValidationError, "data"),
        (lambda r: r.add_table("t", []), RequestValidationError, "data"),
        (lambda r: r.add_table("t/x", io.BytesIO(b"a\n1\n")), DocumentError, "table_name"),
        (lambda r: r.add_table("t", io.BytesIO(b"a\n1\n"), types={"b": "int"}), DocumentError, "types"),
    ],
)
def test_mistakes_on_an_empty_runner_send_nothing(
    runner: Runner, rsps: responses.RequestsMock, call: Any, error: type, field: str
) -> None:
    with pytest.raises(error) as info:
        call(runner)
    assert info.value.field == field, str(info.value)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda r: r.set_parameters("t", k=0), DocumentError, "k"),
        (lambda r: r.set_parameters("t", open_dp_epsilon=0.0), DocumentError, "open_dp_epsilon"),
        (lambda r: r.set_parameters("t", k=2, column_weights={"nope": 1}), DocumentError, "column_weights"),
        (lambda r: r.set_parameters("t", k=2, known_variables=["nope"]), DocumentError, "known_variables"),
        (lambda r: r.set_parameters("t", k=2, not_a_parameter=1), RequestValidationError, "parameters"),
        (lambda r: r.add_link("t", "id", "missing", "fk"), DocumentError, "child_table_name"),
        (lambda r: r.run(), RequestValidationError, "parameters"),
        (lambda r: r.run(jobs_to_run=["report"]), RequestValidationError, "jobs_to_run"),
        (lambda r: r.run(jobs_to_run=["standart"]), RequestValidationError, "jobs_to_run"),
        (lambda r: r.privacy_metrics("t"), RequestValidationError, "job_name"),
        (lambda r: r.download_report(), RequestValidationError, "job_name"),
        (lambda r: r.download_report(report_type="long"), RequestValidationError, "report_type"),
        (lambda r: r.set_parameters("t", fast_dp_epsilon=-1.0), DocumentError, "fast_dp_epsilon"),
        (lambda r: r.set_parameters("t", k=2, open_dp_epsilon=1.0), DocumentError, "open_dp_epsilon"),
        (
            lambda r: r.set_parameters("t", k=2, exclude_variable_names=["nope"]),
            DocumentError,
            "exclude_variable_names",
        ),
        (lambda r: r.set_parameters("t", k=2, target="nope"), DocumentError, "target"),
        (lambda r: r.add_table("u", pd.DataFrame({"a\nb": [1]})), DocumentError, "columns"),
        (lambda r: r.add_table("u", io.BytesIO(b"id,x\n1,2\n"), primary_key="nope"), DocumentError, "primary_key"),
        (
            lambda r: r.add_table("u", io.BytesIO(b"id,x\n1,2\n"), columns_to_drop=["y"]),
            DocumentError,
            "columns_to_drop",
        ),
        (lambda r: r.add_table("u", io.BytesIO(b"id,x\n1,2\n"), types={"x": "numeric"}), DocumentError, "types.x"),
        (lambda r: r.add_link("t", "x", "t", "id"), DocumentError, "parent_field"),
        (lambda r: r.sensitive_unshuffled("t"), RequestValidationError, "job_name"),
        (lambda r: r.signal_metrics("t"), RequestValidationError, "job_name"),
        (lambda r: r.get_all_results(), RequestValidationError, "job_name"),
        (lambda r: r.get_specific_result("t", "standard"), RequestValidationError, "job_name"),
        (lambda r: r.get_specific_result_urls("privacy_metrics"), RequestValidationError, "job_name"),
        (lambda r: r.get_job("standard"), RequestValidationError, "job_name"),
        (lambda r: r.delete(), RequestValidationError, "job_names"),
        (lambda r: r.upload_file("nope", io.BytesIO(b"id,x\n1,2\n")), RequestValidationError, "table_name"),
        (lambda r: r.upload_file("t", io.BytesIO(b"id\n1\n")), RequestValidationError, "data"),
        (
            lambda r: r.upload_file("t", io.BytesIO(b"id,x\n1,2\n"), avatar_data=io.BytesIO(b"id,x\n")),
            RequestValidationError,
            "avatar_data",
        ),
    ],
)
def test_mistakes_after_add_table_send_nothing(
    runner: Runner, rsps: responses.RequestsMock, call: Any, error: type, field: str
) -> None:
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"), primary_key="id")
    with pytest.raises(error) as info:
        call(runner)
    assert info.value.field == field, str(info.value)
    assert len(rsps.calls) == 0
    assert runner._store.uploads == {}  # type: ignore[attr-defined]


def test_data_as_a_path_a_text_file_and_a_named_index(runner: Runner, tmp_path: Any) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,x\n1,2\n")
    runner.add_table("from_path", str(path))
    runner.add_table("from_text_file", io.StringIO("id,x\n1,2\n"))
    indexed = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index([10, 20], name="patient_id"))
    runner.add_table("indexed", indexed, primary_key="patient_id")
    assert runner.config.columns["indexed"] == ["patient_id", "x"]
    assert runner._tables["indexed"].payload.decode().splitlines() == ["patient_id,x", "10,1.5", "20,2.5"]
    runner.add_table("rows", [{"id": 1, "x": 2.5}, {"id": 2, "y": "b"}])
    assert runner._tables["rows"].payload.decode().splitlines() == ["id,x,y", "1,2.5,", "2,,b"]
    clash = pd.DataFrame({"x": [1]}, index=pd.Index([1], name="x"))
    with pytest.raises(RequestValidationError, match="index x has the name of a column"):
        runner.add_table("clash", clash)


def test_update_parameters_keeps_what_it_is_not_given(runner: Runner) -> None:
    runner.add_table("t", io.BytesIO(b"id,x,y\n1,2,3\n"), primary_key="id")
    with pytest.raises(RequestValidationError, match="use set_parameters"):
        runner.update_parameters("t", ncp=2)
    runner.set_parameters("t", k=3, ncp=2, column_weights={"x": 2.0}, known_variables=["y"])
    runner.update_parameters("t", k=5)
    assert runner.config.parameters["avatarization"]["t"] == {"k": 5, "ncp": 2, "column_weights": {"x": 2.0}}
    assert runner.config.parameters["privacy_metrics"]["t"]["known_variables"] == ["y"]
    runner.update_parameters("t", open_dp_epsilon=1.0)  # another method replaces k
    assert "t" not in runner.config.parameters["avatarization"]
    assert runner.config.parameters["avatarization_open_dp"]["t"]["epsilon"] == 1.0
    runner.delete_table("t")
    assert runner.config.tables == {} and runner._tables == {}


# ------------------------------------------------------------------- Manager


def jobs_list(*jobs: dict) -> dict:
    return {"jobs": list(jobs)}


def test_a_report_language_the_platform_lacks_is_refused(client: ApiClient) -> None:
    with pytest.raises(RequestValidationError, match="report_language must be one of en, fr") as info:
        Runner(client, "study", report_language="de")
    assert info.value.field == "report_language"


def test_manager_keeps_one_name_for_its_client() -> None:
    manager = Manager(BASE, api_key="k")
    assert isinstance(manager.auth_client, ApiClient)
    assert not hasattr(manager, "client")
    with pytest.raises(ConfigurationError, match="API key"):  # ApiClient's rule: an explicit key stays
        manager.authenticate("alice", "secret")
    with pytest.raises(RequestValidationError, match="api_client excludes"):
        Manager(BASE, api_client=ApiClient(BASE, api_key="k"))


def test_get_last_jobs_is_the_newest_count_as_a_mapping(rsps: responses.RequestsMock) -> None:
    old = job_body("j-old", "standard", created_at="2026-11-01T10:00:00+00:00")
    new = job_body("j-new", "standard", created_at="2026-11-03T10:00:00+00:00")
    mid = job_body("j-mid", "standard", created_at="2026-11-02T10:00:00+00:00", display_name="other")
    rsps.add(responses.GET, f"{BASE}/jobs", json=jobs_list(old, new, mid))
    manager = Manager(BASE, api_key="k")
    assert list(manager.get_last_jobs(2)) == ["j-new", "j-mid"]
    assert list(manager.get_last_jobs(5, name="study")) == ["j-new", "j-old"]
    with pytest.raises(RequestValidationError):
        manager.get_last_jobs(0)


def test_delete_job_refuses_a_name_shared_by_two_runs(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json=jobs_list(job_body("a", "standard"), job_body("b", "standard", set_name=OTHER_SET)),
    )
    manager = Manager(BASE, api_key="k")
    with pytest.raises(RequestValidationError, match="2 runs are named 'study'") as info:
        manager.delete_job("study")
    assert OTHER_SET in str(info.value) and SET in str(info.value)
    assert [c.request.method for c in rsps.calls] == ["GET"]


def test_delete_jobs_sends_batches_of_100_and_merges_the_answers(rsps: responses.RequestsMock) -> None:
    sizes: List[int] = []

    def bulk(request: Any) -> Any:
        names = json.loads(request.body)["job_names"]
        sizes.append(len(names))
        return 200, {}, json.dumps({"deleted_jobs": [], "failed_jobs": names[:1]})

    rsps.add_callback(responses.POST, f"{BASE}/jobs/bulk-delete", callback=bulk)
    answer = Manager(BASE, api_key="k").delete_jobs([f"j{i}" for i in range(250)])
    assert sizes == [100, 100, 50]
    assert answer.failed_jobs == ["j0", "j100", "j200"]


def test_create_runner_from_yaml_reads_the_platforms_documents(tmp_path: Any) -> None:
    path = tmp_path / "set.yaml"
    golden = __import__("pathlib").Path(__file__).parent.parent / "data" / "documents" / "linked.yaml"
    path.write_text(golden.read_text())
    runner = Manager(BASE, api_key="k").create_runner_from_yaml(path, "again")
    assert runner.display_name == "again"
    assert list(runner.config.tables) == ["patients", "visits"]
    assert runner.config.parameters["avatarization"]["visits"] == {"k": 3, "use_categorical_reduction": True}
    with pytest.raises(RequestValidationError, match="no data for table"):
        runner.run()


# ------------------------------------------------------------- the storage seam


def test_the_default_store_uploads_through_the_storage_facade(client: ApiClient, rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/upload_url", json="s3://bucket/user-1")
    rsps.add(
        responses.GET,
        f"{BASE}/access",
        json={
            "url": "s3://bucket/user-1/my table.csv",
            "credentials": {"access_key_id": "AK", "secret_access_key": "SK"},
        },
    )
    sent: List[bytes] = []

    def put_object(request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        body = request.body  # read while the call runs: the upload's buffer is released afterwards
        sent.append(body if isinstance(body, bytes) else b"".join(body))  # type: ignore[arg-type]
        return 200, {}, ""

    rsps.add_callback(
        responses.PUT, f"{STORAGE}/bucket/user-1/my%20table.csv", callback=put_object, match=[_signed_with("AK")]
    )
    DataStore(client).upload("my table.csv", b"a\n1\n", label="upload", progress=resolve_progress(False))
    put = rsps.calls[2].request
    assert sent == [b"a\n1\n"]
    assert "api-key" not in put.headers["Authorization"]  # API credentials never go to the storage origin


@pytest.mark.parametrize(
    "prefix",
    [
        "https://storage.avatar.test/uploads/user-1/",  # another host
        "http://127.0.0.1:9/uploads/user-1/",  # another port
        "ftp://storage.avatar.test/uploads/",  # another scheme
    ],
)
def test_an_upload_prefix_outside_the_store_is_refused_and_nothing_is_sent(
    client: ApiClient, rsps: responses.RequestsMock, prefix: str
) -> None:
    # A server that names a place outside its object store for the user's data
    # gets no byte of it: the table goes to the store, signed, or nowhere.
    rsps.add(responses.GET, f"{BASE}/upload_url", json=prefix)
    with pytest.raises(AvatarError) as caught:
        DataStore(client).upload(
            "my table.csv", b"secret,rows\n1,2\n", label="upload", progress=resolve_progress(False)
        )
    assert [call.request.method for call in rsps.calls] == ["GET"]
    assert "secret" not in str(caught.value)


def test_an_http_upload_prefix_on_the_storage_endpoint(client: ApiClient, rsps: responses.RequestsMock) -> None:
    prefix = f"{STORAGE}/uploads/user-1/"
    rsps.add(responses.GET, f"{BASE}/upload_url", json=prefix)
    rsps.add(
        responses.GET,
        f"{BASE}/access",
        json={"url": f"{prefix}t.csv", "credentials": {"access_key_id": "AK", "secret_access_key": "SK"}},
    )
    rsps.add(responses.PUT, f"{prefix}t.csv", status=200, match=[_signed_with("AK")])
    DataStore(client).upload("t.csv", b"a\n1\n", label="upload", progress=resolve_progress(False))
    assert len(rsps.calls) == 3


@pytest.mark.parametrize(
    ("url", "result", "table"),
    [
        ("s3://b/u/standard/patients.shuffled.csv", "shuffled", "patients"),
        ("s3://b/u/standard/a_dot_b_slash_c.unshuffled.csv", "unshuffled", "a.b/c"),
        (f"{BASE}/access?url=s3%3A%2F%2Fb%2Fu%2Fx_plus_y.privacy.json", "privacy_metrics", "x+y"),
        ("s3://b/u/standard/patients.unshuffled.csv", "shuffled", None),
        ("s3://b/u/standard/.shuffled.csv", "shuffled", None),
        ("s3://b/u/standard/..%2F..%2Fpatients.shuffled.csv", "shuffled", "patients"),
    ],
)
def test_result_files_name_their_table(url: str, result: str, table: Any) -> None:
    assert table_of_result_file(url, result) == table
    assert "/" not in file_name_of(url) and "\\" not in file_name_of(url)
    if table is not None:
        assert file_name_of(url).endswith(result_file_name(table, result))


@pytest.mark.parametrize("url", ["s3://b/u/%2E%2E", "s3://b/u/a%5C..%5C..", "s3://b/u/x/../.."])
def test_a_result_name_never_leads_out_of_the_folder(url: str) -> None:
    assert file_name_of(url) == ""  # download_all then names the file "<kind>-<n>"


# ------------------------------------------------- fewer requests for several jobs


def serve_set_listing(rsps: responses.RequestsMock, *rounds: List[dict]) -> None:
    """``GET /jobs?set_name=SET``: one answer per round, in order."""
    for jobs in rounds:
        rsps.add(
            responses.GET,
            f"{BASE}/jobs",
            json=jobs_list(*jobs),
            match=[responses.matchers.query_param_matcher({"set_name": SET})],
        )


def test_waiting_for_every_job_polls_the_set_once_per_round(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    serve_set_listing(
        rsps,
        [
            job_body("standard-job", "standard"),
            job_body("privacy_metrics-job", "privacy_metrics", "pending"),
            job_body("signal_metrics-job", "signal_metrics", "queued"),
        ],
        [
            job_body("standard-job", "standard"),
            job_body("privacy_metrics-job", "privacy_metrics"),
            job_body("signal_metrics-job", "signal_metrics"),
            job_body("someone-elses-job", "standard", "pending"),  # not this runner's: ignored
        ],
    )
    before = len(rsps.calls)

    assert runner.wait().status == "finished"

    polled = [c.request.url for c in rsps.calls[before:]]
    assert polled == [f"{BASE}/jobs?set_name={SET}"] * 2  # no GET /jobs/{name}
    # later waits are answered from what the listing said
    assert runner.wait("privacy_metrics").name == "privacy_metrics-job"
    assert len(rsps.calls) == before + 2


def test_a_failure_seen_in_the_set_listing_shows_the_root_cause(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    serve_set_listing(
        rsps,
        [
            job_body("standard-job", "standard", "error", "k=50 is larger than the 1 rows"),
            job_body("privacy_metrics-job", "privacy_metrics", "parent_error", "parent job failed"),
        ],
    )
    with pytest.raises(JobFailedError) as info:
        runner.wait()
    assert info.value.job.name == "standard-job"
    assert "k=50 is larger than the 1 rows" in str(info.value)


def test_jobs_missing_from_the_set_listing_are_asked_for_one_by_one(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    serve_set_listing(rsps, [])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    rsps.add(responses.GET, f"{BASE}/jobs/privacy_metrics-job", json=job_body("privacy_metrics-job", "privacy_metrics"))
    assert runner.wait().name == "privacy_metrics-job"


def test_waiting_for_the_set_has_a_time_limit(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    pending = [
        job_body("standard-job", "standard", "pending"),
        job_body("privacy_metrics-job", "privacy_metrics", "queued"),
    ]
    serve_set_listing(rsps, pending)  # responses repeats the last answer
    runner.poll_interval = 0.05
    with pytest.raises(WaitTimeoutError, match="privacy_metrics, standard still running after 0.2 s"):
        runner.wait(timeout=0.2)


def test_get_all_results_asks_credentials_for_every_file_in_one_batch(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    serve_set_listing(
        rsps,
        [
            job_body("standard-job", "standard"),
            job_body("privacy_metrics-job", "privacy_metrics"),
            job_body("signal_metrics-job", "signal_metrics"),
        ],
    )
    files = {
        f"{STORE}/standard/t.shuffled.csv": b"id,x\n5,6\n",
        f"{STORE}/standard/t.unshuffled.csv": b"id,x\n1,2\n",
        f"{STORE}/privacy/t.privacy.json": json.dumps([{"metadata": {"table_name": "t"}, "dcr": 1}]).encode(),
        f"{STORE}/signal/t.signal.json": json.dumps([{"metadata": {"table_name": "t"}, "hellinger": 0}]).encode(),
    }
    urls = list(files)
    rsps.add(responses.GET, f"{BASE}/results/standard-job", json={"shuffled": [urls[0]], "unshuffled": [urls[1]]})
    rsps.add(responses.GET, f"{BASE}/results/privacy_metrics-job", json={"privacy_metrics": [urls[2]]})
    rsps.add(responses.GET, f"{BASE}/results/signal_metrics-job", json={"signal_metrics": [urls[3]]})
    granted = [
        {"url": url, "credentials": {"access_key_id": f"AK{i}", "secret_access_key": "SK"}}
        for i, url in enumerate(urls)
    ]
    rsps.add(
        responses.POST,
        f"{BASE}/access/batch",
        json=granted,
        match=[responses.matchers.json_params_matcher(urls)],
    )
    for i, (url, content) in enumerate(files.items()):
        rsps.add(responses.GET, location_of(url).url(STORAGE), body=content, match=[_signed_with(f"AK{i}")])

    results = runner.get_all_results()

    assert results.shuffled["t"]["id"].tolist() == [5]
    assert results.sensitive_unshuffled["t"]["id"].tolist() == [1]
    assert results.privacy_metrics["t"][0]["dcr"] == 1
    assert results.signal_metrics["t"][0]["hellinger"] == 0
    assert not any(c.request.url.startswith(f"{BASE}/access?") for c in rsps.calls)  # no GET /access per file


# ---------------------------------------- the platform SDK's other Manager / Runner names


def serve_stored_run(rsps: responses.RequestsMock, runner: Runner) -> None:
    """``GET /resources/SET`` answers ``runner``'s documents; ``GET /jobs?set_name=SET`` its jobs
    (an older standard job replaced by a newer one, a deleted job, a pending signal job)."""
    rsps.add(responses.GET, f"{BASE}/resources/{SET}", body=runner.get_yaml(), content_type="application/yaml")
    jobs = [
        job_body("standard-old", "standard", "error", "x", created_at="2026-11-27T09:00:00+00:00"),
        job_body("standard-new", "standard"),
        job_body("privacy-gone", "privacy_metrics", deleted_at="2026-11-27T11:00:00+00:00"),
        job_body("signal-job", "signal_metrics", "pending", progress=0.5),
    ]
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json=jobs_list(*jobs),
        match=[responses.matchers.query_param_matcher({"set_name": SET})],
    )


def test_create_runner_from_id_reads_a_stored_run_without_running_it(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"), primary_key="id")
    runner.set_parameters("t", k=1)
    serve_stored_run(rsps, runner)
    url = f"{STORE}/standard/t.shuffled.csv"
    rsps.add(responses.GET, f"{BASE}/results/standard-new", json={"shuffled": [url]})
    serve_file(rsps, url, b"id,x\n9,8\n")
    manager = Manager(BASE, api_key="k")

    again = manager.create_runner_from_id(SET)

    assert again.set_name == SET and again.display_name == "study"
    assert again.config.parameters["avatarization"] == {"t": {"k": 1}}
    assert {name: job.name for name, job in again.jobs.items()} == {
        "standard": "standard-new",
        "signal_metrics": "signal-job",
    }
    again.poll_interval = 0.001
    assert again.shuffled("t").to_dict("list") == {"id": [9], "x": [8]}
    # the finished job was not asked for again; nothing was sent but reads
    assert {c.request.method for c in rsps.calls} == {"GET"}
    assert not any(c.request.url.endswith("/jobs/standard-new") for c in rsps.calls)


def test_create_runner_from_name_takes_the_newest_run_and_find_ids_groups_by_run(
    rsps: responses.RequestsMock,
) -> None:
    older = job_body("a1", "standard", set_name=OTHER_SET, created_at="2026-11-20T10:00:00+00:00")
    newer = [job_body("b1", "standard"), job_body("b2", "signal_metrics", created_at="2026-11-28T10:00:00+00:00")]
    advice = job_body("adv", "advice", set_name=OTHER_SET, created_at="2026-11-30T10:00:00+00:00")
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json=jobs_list(older, *newer, advice),
        match=[
            responses.matchers.query_param_matcher(
                {"display_name": "study", "kind": ["standard", "privacy_metrics", "signal_metrics", "report"]}
            )
        ],
    )
    manager = Manager(BASE, api_key="k")

    runs = manager.find_ids_by_name("study")

    assert [(run, [j.name for j in jobs]) for run, jobs in runs] == [(SET, ["b1", "b2"]), (OTHER_SET, ["a1"])]
    rsps.add(responses.GET, f"{BASE}/resources/{SET}", body=ResourceSet("study").to_yaml())
    rsps.add(responses.GET, f"{BASE}/jobs", json=jobs_list(*newer))
    assert manager.create_runner_from_name("study").set_name == SET


def test_a_run_that_is_not_there_is_refused_clearly(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/jobs", json=jobs_list())
    manager = Manager(BASE, api_key="k")
    with pytest.raises(RequestValidationError, match="no run is named 'nobody'") as info:
        manager.create_runner_from_name("nobody")
    assert info.value.field == "display_name"
    calls = len(rsps.calls)
    for bad in ("not-a-uuid", 42, None):
        with pytest.raises(RequestValidationError, match="must be a UUID"):
            manager.create_runner_from_id(bad)  # type: ignore[arg-type]
        with pytest.raises(RequestValidationError, match="must be a UUID"):
            manager.get_jobs_by_id(bad)  # type: ignore[arg-type]
    assert len(rsps.calls) == calls  # nothing sent


def test_get_jobs_by_id_and_get_last_set(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json=jobs_list(job_body("s", "standard")),
        match=[responses.matchers.query_param_matcher({"set_name": SET})],
    )
    rsps.add(
        responses.GET, f"{BASE}/jobs/last_set", json=jobs_list(job_body("l1", "standard"), job_body("l2", "report"))
    )
    manager = Manager(BASE, api_key="k")
    assert [j.name for j in manager.get_jobs_by_id(SET.upper())] == ["s"]
    assert [j.name for j in manager.get_last_set()] == ["l1", "l2"]


def test_print_parameters_shows_each_tables_documents(runner: Runner) -> None:
    runner.add_table("a", io.BytesIO(b"id,x\n1,2\n"))
    runner.add_table("b", io.BytesIO(b"id,y\n1,2\n"))
    runner.set_parameters("a", k=3, known_variables=["x"])
    out = io.StringIO()
    runner.print_parameters(file=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "--- a ---"
    assert 'avatarization: {"k": 3}' in lines
    assert any(line.startswith("privacy_metrics: ") and '"known_variables": ["x"]' in line for line in lines)
    assert lines[-2:] == ["--- b ---", "no parameters set (call set_parameters() or advise_parameters())"]
    with pytest.raises(RequestValidationError, match="no table 'c'"):
        runner.print_parameters("c")


def test_kill_cancels_the_jobs_that_have_not_ended(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    runner.wait("standard")
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/privacy_metrics-job/cancel",
        json=job_body("privacy_metrics-job", "privacy_metrics", "error", "cancelled by user"),
    )
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/signal_metrics-job/cancel",
        status=409,
        json={"detail": {"message": "Job signal_metrics-job has ended"}},
    )
    stopped = runner.kill()
    assert [j.name for j in stopped] == ["privacy_metrics-job"]
    assert not any(c.request.url.endswith("/standard-job/cancel") for c in rsps.calls)


def test_kill_before_run_sends_nothing_and_on_290_says_there_is_no_cancel(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    with pytest.raises(RequestValidationError, match="call run\\(\\) first"):
        runner.kill()
    assert not rsps.calls
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.POST, f"{BASE}/jobs/standard-job/cancel", status=404, json={"detail": "Not Found"})
    with pytest.raises(EndpointUnavailableError):
        runner.kill()


def advise_with(runner: Runner, rsps: responses.RequestsMock, entry: Dict[str, Any]) -> None:
    """``advise_parameters()`` on the mocked wire; the advice file holds ``[entry]``."""
    serve_resources(rsps)
    serve_job_creation(rsps)
    rsps.add(
        responses.GET,
        f"{BASE}/jobs/advice_parameters-job",
        json=job_body("advice_parameters-job", "advice_parameters", kind="advice"),
    )
    url = f"{STORE}/advice/advice.json"
    rsps.add(responses.GET, f"{BASE}/results/advice_parameters-job", json={"advice": [url]})
    serve_file(rsps, url, json.dumps([entry]).encode())
    runner.advise_parameters()


def test_table_summary_reads_the_advice_jobs_statistics(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"))
    with pytest.raises(RequestValidationError, match="advise_parameters"):
        runner.table_summary("t")
    stats = [{"variable": "x", "mean": 2.0}, {"variable": "id", "mean": 1.0}]
    advise_with(runner, rsps, {"table_name": "t", "advice": {"k": 1}, "summary": {"stats": stats}})
    assert runner.table_summary("t").to_dict("records") == stats
    with pytest.raises(RequestValidationError, match="no table 'u'"):
        runner.table_summary("u")


@pytest.mark.parametrize("summary", ["n/a", {"stats": [{"variable": "x"}, "s"]}, {"stats": [1, 2]}])
def test_table_summary_without_statistics_is_a_clear_error(
    runner: Runner, rsps: responses.RequestsMock, summary: Any
) -> None:
    """Statistics that are not a list of rows (pandas: a ValueError for ``[{...}, "s"]``) are no summary."""
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"))
    advise_with(runner, rsps, {"table_name": "t", "advice": {"k": 1}, "summary": summary})
    with pytest.raises(AvatarError, match="no summary for table 't'"):
        runner.table_summary("t")


def test_metrics_summary_joins_privacy_and_signal_per_table(runner: Runner, rsps: responses.RequestsMock) -> None:
    for name in ("a", "b"):
        runner.add_table(name, io.BytesIO(b"id,x\n1,2\n"))
        runner.set_parameters(name, k=1)
    with pytest.raises(RequestValidationError, match="call run\\(\\) first"):
        runner.metrics_summary()
    serve_resources(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=["standard", "privacy_metrics", "signal_metrics"])
    for job, result, summary in (
        ("privacy_metrics", "privacy_metrics_summary", {"a": {"ref": 0.9}, "b": {"ref": 0.8}}),
        ("signal_metrics", "signal_metrics_summary", {"a": {"ref": 0.5}}),
    ):
        rsps.add(responses.GET, f"{BASE}/jobs/{job}-job", json=job_body(f"{job}-job", job))
        url = f"{STORE}/{job}/summary.json"
        rsps.add(responses.GET, f"{BASE}/results/{job}-job", json={result: [url]})
        serve_file(rsps, url, json.dumps(summary).encode())

    frame = runner.metrics_summary()

    assert list(frame.index) == ["a", "b"]
    assert list(frame.columns) == [("ref", "privacy"), ("ref", "signal")]
    assert frame.loc["a", ("ref", "signal")] == 0.5
    assert frame.loc["b", ("ref", "privacy")] == 0.8 and pd.isna(frame.loc["b", ("ref", "signal")])


def test_metrics_summary_needs_several_tables_and_the_summary_files(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    with pytest.raises(RequestValidationError, match="several tables"):
        runner.metrics_summary()
    runner.add_table("u", io.BytesIO(b"id\n1\n"))
    rsps.add(responses.GET, f"{BASE}/jobs/privacy_metrics-job", json=job_body("privacy_metrics-job", "privacy_metrics"))
    rsps.add(responses.GET, f"{BASE}/results/privacy_metrics-job", json={"privacy_metrics": []})
    with pytest.raises(AvatarError, match="no privacy_metrics_summary file"):
        runner.metrics_summary()


# ------------------------------------------------- the SDK surface beyond the quick start


def test_upload_file_gives_the_data_of_a_set_read_from_yaml(
    tmp_path: Any, client: ApiClient, rsps: responses.RequestsMock
) -> None:
    first = Runner(client, "study", seed=1, progress=False, data_store=RecordingStore(client))
    first.add_table("t", io.BytesIO(b"id,x\n1,2\n"), primary_key="id")
    first.set_parameters("t", k=1)
    path = tmp_path / "set.yaml"
    first.get_yaml(path)
    again = Runner(client, "again", progress=False, data_store=RecordingStore(client))
    again.from_yaml(path)
    with pytest.raises(RequestValidationError, match="no data for table"):
        again.run(jobs_to_run=["standard"])
    assert len(rsps.calls) == 0

    assert again.upload_file("t", io.BytesIO(b"id,x\n5,6\n")) == ("t.csv", None)
    assert len(rsps.calls) == 0  # sent by run(), not before
    with pytest.raises(DocumentError, match="'nope' is not a column"):  # the data's columns now check parameters
        again.set_parameters("t", k=1, known_variables=["nope"])
    serve_resources(rsps, "again")
    bodies = serve_job_creation(rsps)
    again.run(jobs_to_run=["standard"])

    assert again._store.uploads == {"t.csv": b"id,x\n5,6\n"}  # type: ignore[attr-defined]
    stored = ResourceSet.from_yaml(rsps.calls[0].request.body.decode())
    assert stored.tables["t"]["data"]["file"] == "t.csv" and stored.parameters["avatarization"] == {"t": {"k": 1}}
    assert [b["parameters_name"] for b in bodies] == ["standard"]


def test_get_specific_result_reads_one_result_of_one_table(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    shuffled_url = f"{STORE}/standard/t.shuffled.csv"
    rsps.add(responses.GET, f"{BASE}/results/standard-job", json={"shuffled": [shuffled_url], "unshuffled": []})
    serve_file(rsps, shuffled_url, b"id,x\n1,7\n")
    rsps.add(responses.GET, f"{BASE}/jobs/privacy_metrics-job", json=job_body("privacy_metrics-job", "privacy_metrics"))
    privacy_url = f"{STORE}/privacy_metrics/t.privacy.json"
    rsps.add(responses.GET, f"{BASE}/results/privacy_metrics-job", json={"privacy_metrics": [privacy_url]})
    entry = {"metadata": {"table_name": "t"}, "hidden_rate": 0.5}
    serve_file(rsps, privacy_url, json.dumps([entry, {"metadata": {"table_name": "u"}}]).encode())

    table = runner.get_specific_result("t", "standard", "shuffled")
    assert table["x"].tolist() == [7]
    assert runner.get_specific_result("t", "privacy_metrics", "privacy_metrics") == [entry]
    assert runner.get_specific_result_urls("standard", "shuffled") == [shuffled_url]
    assert runner.get_specific_result_urls("standard", "report") == []
    calls = len(rsps.calls)
    with pytest.raises(RequestValidationError) as info:
        runner.get_specific_result("t", "standard", "report_images")
    assert info.value.field == "result" and len(rsps.calls) == calls
    with pytest.raises(AvatarError, match="the standard job has no unshuffled file for table 't'"):
        runner.get_specific_result("t", "standard", "unshuffled")


def test_a_second_run_warns_about_the_first_unless_told_not_to(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    with pytest.warns(UserWarning, match=f"results of set {SET} are replaced.*create_runner_from_id"):
        runner.run(jobs_to_run=["standard"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner.run(jobs_to_run=["standard"], ignore_warnings=True)
    assert [c.request.method for c in rsps.calls].count("PUT") == 3


def test_an_advice_job_is_not_a_run_to_warn_about(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("t", io.BytesIO(b"id,x\n1,2\n"))
    runner.set_parameters("t", k=1)
    runner.jobs["advice_parameters"] = JobCreateResponse(name="advice-job", location="x")
    runner.set_name = SET
    serve_resources(rsps)
    serve_job_creation(rsps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner.run(jobs_to_run=["standard"])
    assert list(runner.jobs) == ["standard"]


def test_pseudonymization_strategies_are_written_as_the_platforms_column_entries(
    runner: Runner, rsps: responses.RequestsMock
) -> None:
    from avatars import ConstantStrategy, FakeDataStrategy, HashSha256Strategy, PiiType, SpecificIdStrategy

    runner.add_table("t", io.BytesIO(b"id,mail,code,note\n1,a@b.c,X1,n\n"), primary_key="id")
    runner.set_parameters(
        "t",
        k=1,
        pseudonymized_columns={
            "mail": FakeDataStrategy(PiiType.EMAIL, consistent=False),
            "code": SpecificIdStrategy("ID-##"),
            "note": ConstantStrategy("-"),
            "id": HashSha256Strategy(),
        },
    )
    read_back = ResourceSet.from_yaml(runner.get_yaml())
    entries = {c["field"]: c.get("pseudonymization") for c in read_back.tables["t"]["columns"]}
    assert entries == {
        "id": {"kind": "HASH_SHA256"},
        "mail": {"pii_type": "EMAIL", "consistent": False, "high_variability": False, "kind": "FAKER"},
        "code": {"pattern": "ID-##", "letter_case": "both", "consistent": True, "kind": "SPECIFIC_ID"},
        "note": {"value": "-", "kind": "CONSTANT"},
    }
    for bad, message in (("hash", "got str"), ({"kind": "ROT13"}, "ROT13|Must be one of")):
        with pytest.raises(DocumentError, match=message) as info:
            runner.set_parameters("t", k=1, pseudonymized_columns={"note": bad})
        assert info.value.field.startswith("pseudonymized_columns")
    assert len(rsps.calls) == 0


def test_delete_parameters_removes_the_named_ones_and_keeps_the_rest(runner: Runner) -> None:
    runner.add_table("t", io.BytesIO(b"id,x,y\n1,2,3\n"), primary_key="id")
    runner.set_parameters(
        "t", k=3, ncp=2, column_weights={"x": 2.0}, imputation_method="knn", imputation_k=2, known_variables=["x"]
    )
    runner.delete_parameters("t", ["ncp", "imputation"])
    assert runner.config.current_parameters("t") == {"k": 3, "column_weights": {"x": 2.0}, "known_variables": ["x"]}
    assert "imputation" not in runner.get_yaml() and "ncp" not in runner.get_yaml()
    before = runner.get_yaml()
    for names, message in (
        (["k"], "no k or epsilon"),
        (["ncp", "nope"], "'nope' is not a parameter"),
        (5, "must be a list of strings"),
        ([["ncp"]], "must be a non-empty string"),
    ):
        with pytest.raises(RequestValidationError, match=message) as info:
            runner.delete_parameters("t", names)
        assert info.value.field == "parameters_names"
        assert runner.get_yaml() == before  # nothing changed
    runner.delete_parameters("t", ["k", "column_weights", "known_variables"])  # everything: no parameters left
    assert "k" not in runner.config.current_parameters("t")
    runner.set_parameters("t", k=2)
    runner.delete_parameters("t")
    assert "k" not in runner.config.current_parameters("t")


def test_get_status_takes_the_sdks_older_keyword(runner: Runner, rsps: responses.RequestsMock) -> None:
    with pytest.raises(RequestValidationError) as info:
        runner.get_status()
    assert info.value.field == "job_kind" and len(rsps.calls) == 0
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard", "pending"))
    with pytest.warns(DeprecationWarning, match="job_kind"):
        assert runner.get_status(job_name="standard") == "pending"
    with pytest.raises(RequestValidationError, match="not both"):
        runner.get_status("standard", job_name="standard")


def test_cancel_one_job_and_statuses_in_one_listing(runner: Runner, rsps: responses.RequestsMock) -> None:
    with pytest.raises(RequestValidationError):
        runner.statuses()
    assert not rsps.calls
    launch_one_table(runner, rsps, ["standard", "privacy_metrics"])
    with pytest.raises(RequestValidationError, match="no 'signal_metrics' job"):
        runner.cancel(["privacy_metrics", "signal_metrics"])  # every name is checked before anything is sent
    for call in (runner.cancel, runner.delete):
        with pytest.raises(RequestValidationError, match="job_names must be"):
            call(5)  # type: ignore[arg-type]
    created = len(rsps.calls)
    assert not any(c.request.url.endswith("/cancel") for c in rsps.calls)
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/privacy_metrics-job/cancel",
        json=job_body("privacy_metrics-job", "privacy_metrics", "error", "cancelled by user"),
    )
    assert [j.name for j in runner.cancel(JobKind.privacy_metrics)] == ["privacy_metrics-job"]
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={
            "jobs": [
                job_body("standard-job", "standard", "pending"),
                job_body("privacy_metrics-job", "privacy_metrics", "error", "cancelled by user"),
            ]
        },
        match=[responses.matchers.query_param_matcher({"set_name": SET})],
    )
    assert runner.statuses() == {"standard": "pending", "privacy_metrics": "error"}
    assert len(rsps.calls) == created + 2  # the cancel and one listing


def test_manager_cancel_jobs_leaves_the_ended_ones_alone(rsps: responses.RequestsMock) -> None:
    manager = Manager(BASE, api_key="k")
    rsps.add(responses.GET, f"{BASE}/jobs/a", json=job_body("a", "standard"))  # done: no cancel
    rsps.add(responses.GET, f"{BASE}/jobs/b", json=job_body("b", "privacy_metrics", "pending"))
    rsps.add(responses.POST, f"{BASE}/jobs/b/cancel", json=job_body("b", "privacy_metrics", "error", "cancelled"))
    rsps.add(responses.GET, f"{BASE}/jobs/c", json=job_body("c", "signal_metrics", "pending"))
    rsps.add(responses.POST, f"{BASE}/jobs/c/cancel", status=409, json={"detail": {"message": "ended"}})
    assert [j.name for j in manager.cancel_jobs(["a", "b", "c"])] == ["b"]
    assert [c.request.url.rsplit("/jobs/", 1)[1] for c in rsps.calls if c.request.method == "POST"] == [
        "b/cancel",
        "c/cancel",
    ]
    calls = len(rsps.calls)
    for call in (manager.cancel_jobs, manager.delete_jobs):
        for names in (5, ["a", 5]):
            with pytest.raises(RequestValidationError, match="job_names"):
                call(names)  # type: ignore[arg-type]
    assert len(rsps.calls) == calls


def test_a_job_seen_finished_by_get_status_is_not_cancelled(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    assert runner.get_status("standard") == "finished"
    calls = len(rsps.calls)
    assert runner.cancel() == []  # a 2.90 platform would answer a cancel with 404
    assert len(rsps.calls) == calls
