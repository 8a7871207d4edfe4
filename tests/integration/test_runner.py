"""Manager and Runner end to end against the local server."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

from avatars import JobFailedError, Manager, RequestValidationError
from avatars.errors import WaitTimeoutError
from avatars.models import JobKind, JobResponse
from avatars.testing import LocalAvatarServer

from .conftest import needs_local_store

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "avatars" / "data" / "sample.csv"


def _rows(n: int = 40) -> List[dict]:
    return [{"id": i, "x": float(i % 7), "y": float((i * 3) % 11), "group": "ab"[i % 2]} for i in range(n)]


class Recorder:
    def __init__(self) -> None:
        self.bytes: List[Tuple[str, int, Optional[int]]] = []
        self.jobs: List[JobResponse] = []

    def on_bytes(self, label: str, done: int, total: Optional[int]) -> None:
        self.bytes.append((label, done, total))

    def on_job(self, job: JobResponse) -> None:
        self.jobs.append(job)


@needs_local_store
def test_whole_flow_from_a_csv_path(avatar_manager: Manager, avatar_server: LocalAvatarServer, tmp_path: Path) -> None:
    recorder = Recorder()
    runner = avatar_manager.create_runner("study", progress=recorder)
    runner.add_table("patients", SAMPLE, primary_key="patient_id")
    runner.set_parameters("patients", k=8, seed=3)
    jobs = runner.run()
    assert set(jobs) == {(kind, "patients") for kind in JobKind if kind is not JobKind.advice}
    statuses = runner.wait(timeout=120)
    assert all(job.succeeded for job in statuses.values())

    rows = runner.shuffled("patients")
    with open(SAMPLE, newline="") as fh:
        original = list(csv.DictReader(fh))
    assert len(rows) == len(original) == 300
    assert set(rows[0]) == set(original[0])
    privacy = runner.privacy_metrics("patients")
    signal = runner.signal_metrics("patients")
    assert 0.0 <= privacy["hidden_rate"] <= 1.0
    assert "hellinger_distance" in signal
    report = runner.download_report(tmp_path / "report.md")
    assert "STAND-IN" in report.read_text().upper()
    everything = runner.get_all_results()
    assert set(everything) == {"shuffled", "privacy_metrics", "signal_metrics"}
    assert runner.get_status(JobKind.report).succeeded

    # progress: the upload reached its total; jobs were reported until they ended
    uploads = [b for b in recorder.bytes if b[0] == "upload patients"]
    assert uploads[-1][1] == uploads[-1][2] == SAMPLE.stat().st_size
    assert [b[1] for b in uploads] == sorted(b[1] for b in uploads)
    assert {job.name for job in recorder.jobs if job.succeeded} == set(jobs.values())

    # the jobs were created with their dependencies
    report_job = avatar_server.store.jobs[jobs[(JobKind.report, "patients")]]
    assert set(report_job.depends_on) == {
        jobs[(JobKind.standard, "patients")],
        jobs[(JobKind.privacy_metrics, "patients")],
        jobs[(JobKind.signal_metrics, "patients")],
    }
    assert avatar_manager.get_last_jobs(2)[0].created_at >= avatar_manager.get_last_jobs(10)[-1].created_at


@needs_local_store
@pytest.mark.parametrize("kind", ["rows", "bytes", "file"])
def test_tables_from_rows_bytes_and_files(avatar_manager: Manager, kind: str, tmp_path: Path) -> None:
    rows = _rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    raw = buffer.getvalue().encode()
    runner = avatar_manager.create_runner(f"from-{kind}")
    if kind == "rows":
        runner.add_table("t", rows, primary_key="id")
    elif kind == "bytes":
        runner.add_table("t", raw, primary_key="id")
    else:
        path = tmp_path / "t.csv"
        path.write_bytes(raw)
        handle = open(path, "rb")
        runner.add_table("t", handle, primary_key="id")
    runner.set_parameters("t", k=4, seed=1)
    runner.run(jobs=["standard", "privacy_metrics"])
    runner.wait(timeout=60)
    if kind == "file":
        handle.close()
    assert len(runner.shuffled("t")) == 40
    assert "hidden_rate" in runner.privacy_metrics("t")
    with pytest.raises(RequestValidationError, match="no signal_metrics job"):
        runner.signal_metrics("t")


@needs_local_store
def test_dataframe_when_pandas_is_installed(avatar_manager: Manager) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_rows(30))
    runner = avatar_manager.create_runner("frame")
    runner.add_table("t", frame, primary_key="id")
    runner.set_parameters("t", k=3)
    runner.run(jobs=["standard"])
    runner.wait(timeout=60)
    assert len(runner.shuffled("t")) == 30


def test_bad_input_fails_before_any_network_call(avatar_manager: Manager, avatar_server: LocalAvatarServer) -> None:
    before = avatar_server.count()
    runner = avatar_manager.create_runner("bad")
    with pytest.raises(RequestValidationError, match="no such file"):
        runner.add_table("t", "/nonexistent/file.csv")
    with pytest.raises(RequestValidationError, match="unknown table"):
        runner.set_parameters("never-added", k=3)
    runner.add_table("t", _rows(), primary_key="id")
    with pytest.raises(RequestValidationError, match="k must be an integer >= 1"):
        runner.set_parameters("t", k=0)
    with pytest.raises(RequestValidationError, match="k must be"):
        runner.set_parameters("t", k=True)  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError, match="no parameters for table"):
        runner.run()
    with pytest.raises(RequestValidationError, match="primary key 'nope' is not a column"):
        runner.add_table("u", _rows(), primary_key="nope")
    with pytest.raises(RequestValidationError, match="already added"):
        runner.add_table("t", _rows())
    with pytest.raises(RequestValidationError, match="unknown job kind|not a valid|jobs"):
        runner.set_parameters("t", k=3)
        runner.run(jobs=["standart"])
    with pytest.raises(RequestValidationError, match="call run"):
        runner.wait()
    with pytest.raises(RequestValidationError, match="binary mode"):
        runner.add_table("text", io.StringIO("a,b\n1,2\n"))
    with pytest.raises(RequestValidationError):
        avatar_manager.get_last_jobs(0)
    assert avatar_server.count() == before


@needs_local_store
def test_failing_job_raises_with_the_servers_exception(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("too-big-k")
    runner.add_table("t", _rows(5), primary_key="id")
    runner.set_parameters("t", k=50)
    runner.run()
    with pytest.raises(JobFailedError) as info:
        runner.wait(timeout=60)
    error = info.value
    assert error.job is not None and error.job.kind is JobKind.standard
    assert error.exception and "k" in error.exception
    assert error.exception in str(error)


@needs_local_store
@pytest.mark.avatar_server(job_step_seconds=0.5, job_steps=10)
def test_wait_timeout(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("slow")
    runner.add_table("t", _rows(), primary_key="id")
    runner.set_parameters("t", k=3)
    runner.run(jobs=["standard"])
    with pytest.raises(WaitTimeoutError, match="still running"):
        runner.wait(timeout=0.5)
    assert isinstance(WaitTimeoutError("x"), TimeoutError)


@needs_local_store
def test_manager_delete_jobs_and_health(avatar_manager: Manager) -> None:
    runner = avatar_manager.create_runner("to-delete")
    runner.add_table("t", _rows(), primary_key="id")
    runner.set_parameters("t", k=3)
    names = list(runner.run(jobs=["standard"]).values())
    runner.wait(timeout=60)
    result = avatar_manager.delete_jobs(names)
    assert [job.name for job in result.deleted_jobs] == names
    assert avatar_manager.get_health().message == "ok"
    assert avatar_manager.client is avatar_manager.auth_client


def test_manager_from_environment(avatar_env: Any, avatar_server: LocalAvatarServer) -> None:
    with Manager(progress=False) as manager:
        assert manager.client.base_url == avatar_server.base_url
        assert manager.client.api_key_in_use
        assert manager.get_last_jobs() == []
