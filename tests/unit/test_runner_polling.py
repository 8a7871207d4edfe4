"""Runner.wait polls with backoff, not a fixed fast loop (sleeps recorded, not waited)."""

from __future__ import annotations

import json
from typing import Any, List

import pytest
import responses

from avatars import ApiClient, Runner
from avatars.models import JobKind

from .conftest import BASE

JOB = {
    "name": "standard_1",
    "set_name": "0d5d9e54-3072-4590-84d1-d6e3cba8f1ac",
    "parameters_name": "t",
    "display_name": "t",
    "created_at": "2026-11-27T10:00:00+00:00",
    "kind": "standard",
    "exception": "",
    "deleted_at": None,
}


def _job(status: str, progress: Any = None, done: bool = False, exception: str = "") -> dict:
    return {**JOB, "status": status, "progress": progress, "done": done, "exception": exception}


@pytest.fixture
def runner() -> Runner:
    r = Runner(ApiClient(BASE, api_key="k"), "s", progress=False)
    r.jobs[(JobKind.standard, "t")] = "standard_1"
    r.tables["t"] = None  # type: ignore[assignment]
    return r


def test_wait_backs_off_up_to_the_cap(runner: Runner, rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    answers = [_job("queued")] * 2 + [_job("pending", p / 10) for p in range(1, 9)] + [_job("finished", 1.0, True)]
    for body in answers:
        rsps.add(responses.GET, f"{BASE}/jobs/standard_1", body=json.dumps(body))
    sleeps: List[float] = []
    monkeypatch.setattr("avatars.runner.time.sleep", sleeps.append)
    result = runner.wait(poll_interval=0.2, max_poll_interval=1.0, backoff=2.0)
    assert result[(JobKind.standard, "t")].succeeded
    assert sleeps == [0.2, 0.4, 0.8] + [1.0] * 7
    assert len(rsps.calls) == 11


def test_wait_rejects_a_busy_loop(runner: Runner) -> None:
    from avatars import RequestValidationError

    with pytest.raises(RequestValidationError):
        runner.wait(poll_interval=0)
    with pytest.raises(RequestValidationError):
        runner.wait(poll_interval=1, max_poll_interval=0.5)


def test_wait_reports_the_servers_exception(runner: Runner, rsps: responses.RequestsMock, monkeypatch: Any) -> None:
    from avatars import JobFailedError

    rsps.add(responses.GET, f"{BASE}/jobs/standard_1", body=json.dumps(_job("error", 0.4, True, "k=50 > 5 rows")))
    monkeypatch.setattr("avatars.runner.time.sleep", lambda s: None)
    with pytest.raises(JobFailedError, match=r"ended with status error: k=50 > 5 rows") as info:
        runner.wait()
    assert info.value.exception == "k=50 > 5 rows"
