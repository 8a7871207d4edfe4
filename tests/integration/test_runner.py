"""Manager and Runner end to end against the local server (real sockets): the platform's
names, its YAML resource set, per-table results as DataFrames."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import pandas as pd
import pytest

from avatars import JobFailedError, Manager
from avatars.documents import ResourceSet
from avatars.errors import WaitTimeoutError
from avatars.models import JobResponse
from avatars.testing import LocalAvatarServer

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "avatars" / "data" / "sample.csv"


class Recorder:
    def __init__(self) -> None:
        self.bytes: List[Tuple[str, int, Optional[int]]] = []
        self.jobs: List[JobResponse] = []

    def on_bytes(self, label: str, done: int, total: Optional[int]) -> None:
        self.bytes.append((label, done, total))

    def on_job(self, job: JobResponse) -> None:
        self.jobs.append(job)


def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(1, 41)),
            "age": [20.5 + (i * 7) % 50 for i in range(40)],
            "visits": [i % 5 for i in range(40)],
            "group": pd.Categorical(["ab"[i % 2] for i in range(40)]),
        }
    )


def test_one_table_from_a_dataframe_with_an_api_key(
    avatar_server: LocalAvatarServer, avatar_api_key: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    with Manager(avatar_server.base_url, api_key=avatar_api_key, progress=recorder) as manager:
        runner = manager.create_runner("study", seed=1)
        runner.add_table("patients", patients(), primary_key="id")
        runner.set_parameters("patients", k=5, known_variables=["age"])
        launched = runner.run()
        assert list(launched) == ["standard", "signal_metrics", "privacy_metrics", "report", "report_pia"]

        avatars = runner.shuffled("patients")
        assert isinstance(avatars, pd.DataFrame) and len(avatars) == 40
        assert dict(avatars.dtypes.astype(str)) == dict(patients().dtypes.astype(str))
        assert sorted(avatars["id"]) == list(range(1, 41))
        unshuffled = runner.sensitive_unshuffled("patients")
        assert sorted(unshuffled["age"]) == sorted(avatars["age"])
        privacy = runner.privacy_metrics("patients")
        assert [m["metadata"]["table_name"] for m in privacy] == ["patients"] and "hidden_rate" in privacy[0]
        assert runner.signal_metrics("patients")[0]["metadata"]["table_name"] == "patients"
        written = runner.download_report(tmp_path / "report.md")
        assert written == [tmp_path / "report.md"] and b"LOCAL STAND-IN" in written[0].read_bytes()
        # the PIA report is a job of its own: the basic report being ready does not make it finished
        runner.wait("report_pia", timeout=30)
        assert runner.get_status("report_pia") == "finished"

        stored = ResourceSet.from_yaml(manager.auth_client.resources.get_resources(runner.set_name))
        assert stored.parameters["avatarization"]["patients"]["k"] == 5
        last = manager.get_last_jobs(5)
        assert set(last) == set(launched.values())
    assert any(label == "upload patients.csv" for label, _, _ in recorder.bytes)
    assert {job.name for job in recorder.jobs if job.succeeded} >= {launched["standard"]}


def test_two_linked_tables_keep_their_link(avatar_manager: Manager) -> None:
    visits = pd.DataFrame(
        {"vid": range(1, 81), "pid": [1 + v % 40 for v in range(80)], "cost": [1.5 * (v % 9) for v in range(80)]}
    )
    runner = avatar_manager.create_runner("linked", seed=2)
    runner.add_table("patients", patients(), primary_key="id", individual_level=True)
    runner.add_table("visits", visits, primary_key="vid", foreign_keys=["pid"], individual_level=False)
    runner.add_link("patients", "id", "visits", "pid")
    runner.set_parameters("patients", k=4)
    runner.set_parameters("visits", k=6)
    runner.run(jobs_to_run=["standard"])
    avatar_patients = runner.sensitive_unshuffled("patients")
    avatar_visits = runner.sensitive_unshuffled("visits")
    assert len(avatar_visits) == 80
    # every avatarized visit points to the avatarized version of its original patient
    for original_pid, new_pid in zip(visits["pid"], avatar_visits["pid"]):
        assert new_pid == avatar_patients["id"].iloc[original_pid - 1]


def test_a_failed_job_names_the_root_cause(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("too-big-k")
    runner.add_table("t", SAMPLE)
    runner.set_parameters("t", k=100_000)
    runner.run(jobs_to_run=["standard", "privacy_metrics"])
    with pytest.raises(JobFailedError) as info:
        runner.privacy_metrics("t")
    assert info.value.job.parameters_name == "standard"
    assert "k=100000 is larger than" in info.value.exception


@pytest.mark.avatar_server(job_step_seconds=0.5, job_steps=10)
def test_waiting_stops_at_the_time_limit(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("slow", timeout=0.3)
    runner.add_table("t", SAMPLE)
    runner.set_parameters("t", k=5)
    runner.run(jobs_to_run=["standard"])
    with pytest.raises(WaitTimeoutError):
        runner.shuffled("t")


def test_delete_removes_only_this_runs_jobs(avatar_manager: Manager) -> None:
    keep = avatar_manager.create_runner("keep")
    keep.add_table("t", SAMPLE)
    keep.set_parameters("t", k=5)
    kept = keep.run(jobs_to_run=["standard"])
    gone = avatar_manager.create_runner("gone")
    gone.add_table("t", SAMPLE)
    gone.set_parameters("t", k=5)
    names = gone.run(jobs_to_run=["standard"])
    gone.wait()
    answer = avatar_manager.delete_job("gone")
    assert [job.name for job in answer.deleted_jobs] == list(names.values())
    assert keep.wait().name == kept["standard"]


def test_advise_parameters_sets_the_advised_k(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("advised")
    runner.add_table("t", SAMPLE)
    runner.advise_parameters()
    assert runner.config.parameters["avatarization"]["t"]["k"] == 9  # the stand-in: round(sqrt(300) / 2)
    runner.run(jobs_to_run=["standard"])
    assert len(runner.shuffled("t")) == 300


def test_a_run_comes_back_by_name_and_by_id(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    with Manager(avatar_server.base_url, api_key=avatar_api_key, progress=False) as manager:
        first = manager.create_runner("comeback", seed=3)
        first.add_table("patients", patients(), primary_key="id")
        first.set_parameters("patients", k=5)
        first.run(jobs_to_run=["standard", "privacy_metrics", "signal_metrics"])
        expected = first.get_all_results()

        runs = manager.find_ids_by_name("comeback")
        assert [run for run, _jobs in runs] == [first.set_name]
        assert sorted(job.name for job in manager.get_jobs_by_id(first.set_name)) == sorted(
            created.name for created in first.jobs.values()
        )
        assert {job.name for job in manager.get_last_set()} == {created.name for created in first.jobs.values()}

        again = manager.create_runner_from_name("comeback")
        assert again.set_name == first.set_name
        assert again.config.parameters["avatarization"] == {"patients": {"k": 5}}
        back = again.get_all_results()
        # the declared column types of the stored set give the same frame back
        pd.testing.assert_frame_equal(back.shuffled["patients"], expected.shuffled["patients"], check_dtype=False)
        assert back.privacy_metrics == expected.privacy_metrics
        assert back.signal_metrics == expected.signal_metrics
        assert again.kill() == []  # every job ended: nothing to stop, nothing sent


@pytest.mark.avatar_server(api_version=3)
def test_on_3x_run_creates_the_jobs_with_one_flow_request(
    avatar_server: LocalAvatarServer, avatar_api_key: str
) -> None:
    with Manager(avatar_server.base_url, api_key=avatar_api_key, progress=False) as manager:
        runner = manager.create_runner("study", seed=1)
        runner.add_table("patients", patients(), primary_key="id")
        runner.set_parameters("patients", k=5)
        launched = runner.run()

        assert list(launched) == ["standard", "signal_metrics", "privacy_metrics", "report", "report_pia"]
        log = avatar_server.log
        assert log.count("POST", "*/jobs/flow") == 1 and log.count("POST", "*/jobs") == 0
        jobs = {job.name: job for job in runner.client.jobs.get_jobs(set_name=runner.set_name)}
        assert {jobs[name].parameters_name for name in launched.values()} == set(launched)
        results = runner.get_all_results()
        assert len(results.shuffled["patients"]) == 40 and results.privacy_metrics["patients"]


@pytest.mark.avatar_server(api_version=2)
def test_on_290_the_flow_is_asked_for_once(avatar_server: LocalAvatarServer, avatar_api_key: str) -> None:
    with Manager(avatar_server.base_url, api_key=avatar_api_key, progress=False) as manager:
        for _ in range(2):
            runner = manager.create_runner("study", seed=1)
            runner.add_table("patients", patients(), primary_key="id")
            runner.set_parameters("patients", k=5)
            runner.run(jobs_to_run=["standard", "signal_metrics", "privacy_metrics"])
            assert len(runner.shuffled("patients")) == 40
        log = avatar_server.log
        assert log.count("POST", "*/jobs/flow") == 1  # the 2.90 router's 405, once per client
        assert log.count("POST", "*/jobs") == 6
