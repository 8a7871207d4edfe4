"""Library logging manners: a logger per module, one DEBUG line per call, progress for CI."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Any, List

import pytest
import responses

import avatars
from avatars import ApiClient
from avatars.progress import LoggingProgress, ProgressListener

from .conftest import BASE, login_body
from .test_progress import _job


def _modules() -> List[Any]:
    names = [m.name for m in pkgutil.walk_packages(avatars.__path__, "avatars.") if not m.name.endswith("__main__")]
    return [importlib.import_module(name) for name in sorted(names)]


def test_every_module_logs_under_its_own_name() -> None:
    loggers = {}
    for module in _modules():
        for attribute in ("logger", "_logger"):
            found = getattr(module, attribute, None)
            if isinstance(found, logging.Logger):
                loggers[module.__name__] = found.name
    assert {"avatars.client", "avatars.auth", "avatars.session", "avatars.progress"} <= set(loggers)
    assert {module: name for module, name in loggers.items() if name != module} == {}


def test_the_package_adds_only_a_null_handler() -> None:
    handlers = logging.getLogger("avatars").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    # (the suite's secrets audit adds its own capturing handler; the library adds no output)
    assert not any(isinstance(h, logging.StreamHandler) for h in handlers)
    for module in _modules():
        extra = [h for h in logging.getLogger(module.__name__).handlers if not isinstance(h, logging.NullHandler)]
        assert extra == [], module.__name__


def test_one_debug_line_per_call_with_method_redacted_url_status_time_and_request_id(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="avatars")
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []}, headers={"X-Request-ID": "req-42"})
    rsps.add(responses.GET, f"{BASE}/access", json={"detail": "nope"}, status=403)
    rsps.add(responses.DELETE, f"{BASE}/jobs/job-1", json={}, status=200)
    client = ApiClient(BASE, api_key="KEY-SECRET-1")
    client.request("GET", "jobs")
    with pytest.raises(avatars.PermissionDenied):
        client.request("GET", "access", params={"url": "s3://b/k", "token": "QUERY-SECRET-1"})
    client.request("DELETE", "jobs/job-1")
    lines = [r for r in caplog.records if r.name == "avatars.client"]
    assert [r.levelno for r in lines] == [logging.DEBUG] * 3
    first, second, third = (r.getMessage() for r in lines)
    assert first.startswith(f"GET {BASE}/jobs -> 200 in ") and first.endswith(" ms [request id req-42]")
    assert second.startswith(f"GET {BASE}/access?url=s3") and " -> 403 in " in second
    assert third.startswith(f"DELETE {BASE}/jobs/job-1 -> 200 in ")
    for text in (caplog.text, *(r.getMessage() for r in caplog.records)):
        assert "QUERY-SECRET-1" not in text and "KEY-SECRET-1" not in text


def test_messages_do_not_repeat_the_logger_name(rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="avatars")
    rsps.add(responses.POST, f"{BASE}/login", json=login_body("ACCESS-1", "REFRESH-1"))
    rsps.add(responses.GET, f"{BASE}/jobs", json={"detail": "Not authenticated"}, status=401)
    rsps.add(responses.POST, f"{BASE}/refresh", json=login_body("ACCESS-2", "REFRESH-2"))
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []})
    client = ApiClient(BASE)
    client.authenticate("ada@example.com", "PASSWORD-1")
    client.request("GET", "jobs")
    messages = [r.getMessage() for r in caplog.records]
    assert any("access token refreshed" in m for m in messages)
    assert [m for m in messages if m.lower().startswith("avatars")] == []
    for secret in ("ACCESS-", "REFRESH-", "PASSWORD-1"):
        assert secret not in caplog.text


def test_logging_progress_is_a_listener_that_logs_steps(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avatars.progress")
    listener = LoggingProgress()
    assert isinstance(listener, ProgressListener)
    for done in range(0, 101, 5):
        listener.on_bytes("upload data.csv", done, 100)
    messages = [r.getMessage() for r in caplog.records if r.name == "avatars.progress"]
    assert messages == [f"upload data.csv: {n} of 100 bytes ({n}%)" for n in (0, 25, 50, 75, 100)]

    caplog.clear()
    for status, progress in [("queued", None), ("running", 0.1), ("running", 0.2), ("running", 0.6), ("finished", 1)]:
        listener.on_job(_job(status, progress))
    jobs = [r.getMessage() for r in caplog.records]
    assert jobs == [
        "job standard standard_1: queued (0%)",
        "job standard standard_1: running (10%)",
        "job standard standard_1: running (60%)",
        "job standard standard_1: finished (100%)",
    ]


def test_logging_progress_without_a_size_and_to_a_chosen_logger(caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("ci.export")
    caplog.set_level(logging.WARNING, logger="ci.export")
    listener = LoggingProgress(mine, logging.WARNING, bytes_step=1000)
    for done in (0, 400, 999, 1000, 2500, 2600):
        listener.on_bytes("download r.csv", done, None)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("ci.export", logging.WARNING, "download r.csv: 0 bytes"),
        ("ci.export", logging.WARNING, "download r.csv: 1000 bytes"),
        ("ci.export", logging.WARNING, "download r.csv: 2500 bytes"),
    ]
    with pytest.raises(ValueError):
        LoggingProgress(step=0)


def test_a_call_without_an_answer_gets_its_line_too(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    import requests

    caplog.set_level(logging.DEBUG, logger="avatars")
    rsps.add(responses.GET, f"{BASE}/jobs", body=requests.exceptions.ConnectTimeout("timed out"))
    client = ApiClient(BASE, api_key="KEY-SECRET-1")
    with pytest.raises(avatars.ApiTimeoutError):
        client.request("GET", "jobs", params={"token": "QUERY-SECRET-2"})
    lines = [r.getMessage() for r in caplog.records if r.name == "avatars.client"]
    assert len(lines) == 1
    assert lines[0].startswith(f"GET {BASE}/jobs -> ApiTimeoutError in ") and lines[0].endswith(" ms")
    assert "QUERY-SECRET-2" not in caplog.text
