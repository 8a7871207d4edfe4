"""What the command prints from server text: terminal controls shown, never obeyed."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from uuid import UUID

import pytest

from avatars.cli import LineProgress, Output, TerminalSafeProgress, json_text, terminal_safe
from avatars.models import JobKind, JobResponse, JobStatus

EVIL = "\x1b]0;title\x07\x1b[2J\x9b31m\r\x08\x7f\u202e\u2066"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain text, tabs\tand\nnewlines", "plain text, tabs\tand\nnewlines"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]8;;http://evil/\x1b\\link", "\\x1b]8;;http://evil/\\x1b\\link"),
        ("over\rwrite", "over\\x0dwrite"),
        ("c1 \x9b csi \x9d osc \x85", "c1 \\x9b csi \\x9d osc \\x85"),
        ("bidi \u202eabc\u2069", "bidi \\u202eabc\\u2069"),
        ("nul \x00 del \x7f", "nul \\x00 del \\x7f"),
        ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),
    ],
)
def test_terminal_safe(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown


def _job() -> JobResponse:
    return JobResponse(
        name="j" + EVIL,
        set_name=UUID(int=1),
        parameters_name="p",
        display_name="d",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        kind=JobKind.standard,
        status=JobStatus.error,
        exception=EVIL,
        done=True,
        progress=None,
        deleted_at=None,
    )


def _no_controls(text: str) -> None:
    assert not any(c in text for c in "\x1b\x07\x9b\r\x08\x7f\u202e\u2066"), repr(text)


def test_every_printing_path_is_filtered() -> None:
    out, err = io.StringIO(), io.StringIO()
    Output(False, out, err).result({"x": EVIL}, lambda: f"name {EVIL}")
    Output(False, out, err).note(f"error {EVIL}")
    progress = LineProgress(err)
    progress.on_job(_job())
    progress.on_bytes(f"download {EVIL}", 1, 1)
    _no_controls(out.getvalue())
    _no_controls(err.getvalue())
    assert "\\x1b]0;title\\x07" in out.getvalue() and err.getvalue().count("\\x1b") >= 3


def test_json_output_is_escaped_and_lossless() -> None:
    out = io.StringIO()
    Output(True, out, io.StringIO()).result({"exception": EVIL}, lambda: "")
    _no_controls(out.getvalue())
    assert json.loads(out.getvalue()) == {"exception": EVIL}
    assert json.loads(json_text([EVIL])) == [EVIL] and json_text([EVIL]).isascii()


def test_progress_bars_get_terminal_safe_text() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: list = []

        def on_bytes(self, label: str, done: int, total: object) -> None:
            self.seen.append(label)

        def on_job(self, job: JobResponse) -> None:
            self.seen += [job.name, str(job.kind), str(job.status)]

    recorder = Recorder()
    safe = TerminalSafeProgress(recorder)
    safe.on_bytes("download " + EVIL, 1, 2)
    job = _job()
    safe.on_job(job)
    for text in recorder.seen:
        _no_controls(text)
    assert recorder.seen[1] == terminal_safe(job.name) and recorder.seen[2:] == ["standard", "error"]
