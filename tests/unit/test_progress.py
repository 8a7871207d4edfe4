"""Progress: quiet by default off a terminal, tqdm bars when asked, listeners as given."""

from __future__ import annotations

import io
import json
from typing import Any, List

import pytest

from avatars.models import JobResponse
from avatars.progress import QuietProgress, TqdmProgress, bytes_callback, resolve_progress
from avatars.schemas import JobResponseSchema, load

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


def _job(status: str, progress: Any) -> JobResponse:
    return load(JobResponseSchema, {**JOB, "status": status, "progress": progress, "done": status == "finished"})  # type: ignore[no-any-return]


def test_options_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(resolve_progress(False), QuietProgress)
    assert isinstance(resolve_progress(None), QuietProgress)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal: quiet, even with tqdm installed
    assert isinstance(resolve_progress(True), QuietProgress)
    mine = QuietProgress()
    assert resolve_progress(mine) is mine
    with pytest.raises(TypeError):
        resolve_progress("yes")  # type: ignore[arg-type]


def test_tqdm_bars_for_bytes_and_jobs() -> None:
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bars = TqdmProgress(out)
    callback = bytes_callback(bars, "upload t")
    for done in (0, 512, 1024):
        callback(done, 1024)
    bars.on_job(_job("pending", 0.4))
    bars.on_job(_job("finished", 1.0))
    bars.close()
    text = out.getvalue()
    assert "upload t" in text and "1.00k" in text
    assert "standard standard" in text and "100/100" in text and "finished" in text


def test_bytes_callback_passes_the_label() -> None:
    seen: List[str] = []

    class Listener(QuietProgress):
        def on_bytes(self, label: str, done_bytes: int, total_bytes: Any) -> None:
            seen.append(json.dumps([label, done_bytes, total_bytes]))

    bytes_callback(Listener(), "download x")(10, None)
    assert seen == ['["download x", 10, null]']
