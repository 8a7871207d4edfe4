"""Runner's other results on the wire: projections, figures, meta-metrics, summaries,
run metadata (GET /results/{job} lists them under the platform SDK's kind keys)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import List

import pandas as pd
import pytest
import responses

from avatars import ApiClient, RequestValidationError, Runner
from avatars.errors import AvatarError, LocalFileError
from avatars.storage import location_of

from .conftest import BASE
from .test_runner_flow import STORAGE, STORE, RecordingStore, job_body, launch_one_table, serve_file, serve_job_creation
from .test_runner_flow import serve_resources as serve_set


@pytest.fixture
def runner(client: ApiClient) -> Runner:
    r = Runner(client, "study", seed=42, progress=False, data_store=RecordingStore(client))
    r.poll_interval = 0.001
    return r


def serve_job(rsps: responses.RequestsMock, job: str, files: dict) -> None:
    """Job ``job`` finished, its results listing, and each file's bytes (kind -> {name: bytes})."""
    rsps.add(responses.GET, f"{BASE}/jobs/{job}-job", json=job_body(f"{job}-job", job))
    listing = {kind: [f"{STORE}/{job}/{name}" for name in named] for kind, named in files.items()}
    rsps.add(responses.GET, f"{BASE}/results/{job}-job", json=listing)
    for named in files.values():
        for name, content in named.items():
            serve_file(rsps, f"{STORE}/{job}/{name}", content)


def two_tables(runner: Runner, rsps: responses.RequestsMock, jobs: List[str]) -> None:
    for name in ("a", "b"):
        runner.add_table(name, io.BytesIO(b"id,x\n1,2\n"))
        runner.set_parameters(name, k=1)
    serve_set(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=jobs)


FIGURES_METADATA = [
    {"filename": "t.correlation.html", "kind": "correlation", "table_name": "t"},
    {"filename": "t.distribution.0.html", "kind": "distribution", "table_name": "t"},
    {"filename": "t.distribution.1.html", "kind": "distribution", "table_name": "t"},
    {"filename": "u.correlation.html", "kind": "correlation", "table_name": "u"},
]


def serve_figures(rsps: responses.RequestsMock) -> None:
    pages = {entry["filename"]: f"<html>{entry['filename']}</html>".encode() for entry in FIGURES_METADATA}
    pages["stray.html"] = b"<html>no metadata</html>"
    serve_job(
        rsps,
        "standard",
        {"figures": pages, "figures_metadata": {"figures_metadata.json": json.dumps(FIGURES_METADATA).encode()}},
    )


def test_projections_are_two_tables_of_coordinates(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    serve_job(
        rsps,
        "standard",
        {
            "original_projections": {"t.projections.original.csv": b"Dim.1,Dim.2\n0.5,-1.25\n"},
            "avatar_projections": {"t.projections.avatars.csv": b"Dim.1,Dim.2\n0.25,-1.0\n"},
        },
    )
    original, avatars = runner.projections("t")
    assert list(original.columns) == ["Dim.1", "Dim.2"] and original.loc[0, "Dim.2"] == -1.25
    assert avatars["Dim.1"].tolist() == [0.25]
    assert runner.get_specific_result("t", "standard", "avatar_projections").equals(avatars)
    with pytest.raises(RequestValidationError, match="no table 'u'"):
        runner.projections("u")


def test_projections_without_pandas_are_rows(
    runner: Runner, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch_one_table(runner, rsps, ["standard"])
    serve_job(rsps, "standard", {"original_projections": {"t.projections.original.csv": b"Dim.1\n0.5\n"}})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(AvatarError, match="no avatar_projections file for table 't'"):
        runner.projections("t")
    assert runner.get_specific_result("t", "standard", "original_projections") == [{"Dim.1": "0.5"}]


def test_render_plot_returns_the_tables_pages_and_opens_nothing(
    runner: Runner, rsps: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: List[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    launch_one_table(runner, rsps, ["standard"])
    serve_figures(rsps)

    pages = runner.render_plot("t", "distribution")
    assert pages == ["<html>t.distribution.0.html</html>", "<html>t.distribution.1.html</html>"]
    assert opened == [] and list(tmp_path.iterdir()) == []
    calls = len(rsps.calls)
    written = runner.render_plot("t", "correlation", directory=tmp_path)
    assert written == ["<html>t.correlation.html</html>"]  # not u's page, and nothing fetched again
    assert len(rsps.calls) == calls
    assert (tmp_path / "t_correlation_0.html").read_text() == written[0] and opened == []

    monkeypatch.chdir(tmp_path)
    runner.render_plot("t", "distribution", open_in_browser=True)
    assert opened == [(tmp_path / f"t_distribution_{i}.html").as_uri() for i in (0, 1)]

    with pytest.raises(
        AvatarError, match="no '2d_projection' plot for table 't' \\(plots made: correlation, distribution\\)"
    ):
        runner.render_plot("t", "2d_projection")
    figures = runner.get_specific_result("t", "standard", "figures")
    assert sorted(figures) == ["correlation", "distribution"] and len(figures["distribution"]) == 2
    metadata = runner.get_specific_result("t", "standard", "figures_metadata")
    assert metadata == FIGURES_METADATA[:3]
    for directory in (str(tmp_path / "a\0b"), 5):
        with pytest.raises(RequestValidationError, match="directory"):
            runner.render_plot("t", "correlation", directory=directory)  # type: ignore[arg-type]
    runner.render_plot("t", "correlation", directory=tmp_path / "new" / "folder")  # created
    assert (tmp_path / "new" / "folder" / "t_correlation_0.html").read_text() == written[0]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(LocalFileError):
        runner.render_plot("t", "correlation", directory=tmp_path / "a-file")  # a file, not a folder


def test_a_job_without_figures_has_no_plot(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    serve_job(rsps, "standard", {"shuffled": {"t.shuffled.csv": b"id,x\n1,2\n"}})
    assert runner.get_specific_result("t", "standard", "figures") == {}
    assert runner.get_specific_result("t", "standard", "run_metadata") is None
    with pytest.raises(AvatarError, match="plots made: none"):
        runner.render_plot("t", "correlation")


def test_run_metadata_meta_metrics_and_summaries(runner: Runner, rsps: responses.RequestsMock) -> None:
    two_tables(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    meta = [{"metadata": {"table_name": "a", "reference": "standalone"}, "meta_metric": 75.0}]
    serve_job(
        rsps,
        "privacy_metrics",
        {
            "run_metadata": {"run_metadata.json": b'{"job_kind": "privacy_metrics", "seed": 42}'},
            "meta_privacy_metric": {"a.meta_privacy_metric.json": json.dumps(meta).encode()},
            "privacy_metrics_summary": {
                "privacy_metrics_summary.json": b'{"a": {"standalone": 75.0}, "b": {"standalone": 60.0}}'
            },
        },
    )
    serve_job(
        rsps,
        "signal_metrics",
        {"signal_metrics_summary": {"signal_metrics_summary.json": b'{"a": {"standalone": 90.5, "other": 1.0}}'}},
    )
    assert runner.get_specific_result("b", "privacy_metrics", "run_metadata") == {
        "job_kind": "privacy_metrics",
        "seed": 42,
    }
    assert runner.get_specific_result("a", "privacy_metrics", "meta_privacy_metric") == meta
    assert runner.get_specific_result("b", "privacy_metrics", "meta_privacy_metric") == []
    privacy = runner.render_privacy_metrics_summary()
    assert privacy == {"a": {"standalone": 75.0}, "b": {"standalone": 60.0}}
    assert runner.get_specific_result("a", "privacy_metrics", "privacy_metrics_summary") == privacy

    frame = runner.metrics_summary()
    assert frame.index.name == "table_name" and list(frame.index) == ["a", "b"]
    assert frame.columns.names == ["reference", "metric"]
    assert list(frame.columns) == [
        ("other", "privacy"),
        ("other", "signal"),
        ("standalone", "privacy"),
        ("standalone", "signal"),
    ]
    assert frame.loc["a", ("standalone", "signal")] == 90.5 and frame.loc["b", ("standalone", "privacy")] == 60.0
    assert pd.isna(frame.loc["b", ("standalone", "signal")]) and pd.isna(frame.loc["a", ("other", "privacy")])


def test_summaries_need_several_tables_and_send_nothing_before(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard", "privacy_metrics", "signal_metrics"])
    calls = len(rsps.calls)
    for call in (runner.render_privacy_metrics_summary, runner.render_signal_metrics_summary):
        with pytest.raises(RequestValidationError, match="needs several tables"):
            call()
    assert len(rsps.calls) == calls


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'["a", "b"]', "is not a JSON object"),
        (b'{"a": 5}', "the signal_metrics_summary of table 'a' is not a mapping"),
        (b"<html>", "is not JSON"),
        (b'{"a": {"standalone": "high"}}', "of table 'a', reference 'standalone' is not a number"),
        (b'{"a": {"standalone": true}}', "is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),  # nested too deep for json (a RecursionError)
    ],
)
def test_a_malformed_summary_is_a_typed_error(
    runner: Runner, rsps: responses.RequestsMock, content: bytes, message: str
) -> None:
    two_tables(runner, rsps, ["standard", "signal_metrics"])
    serve_job(rsps, "signal_metrics", {"signal_metrics_summary": {"signal_metrics_summary.json": content}})
    with pytest.raises(AvatarError, match=message):
        runner.render_signal_metrics_summary()


def test_a_malformed_run_metadata_or_figure_is_a_typed_error(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    metadata = [{"filename": "t.correlation.html", "kind": "correlation", "table_name": "t"}]
    serve_job(
        rsps,
        "standard",
        {
            "run_metadata": {"run_metadata.json": b"[1, 2]"},
            "figures": {"t.correlation.html": b"\xff\xfe<html>"},
            "figures_metadata": {"figures_metadata.json": json.dumps(metadata).encode()},
        },
    )
    with pytest.raises(AvatarError, match="run_metadata file of the standard job is not a JSON object"):
        runner.get_specific_result("t", "standard", "run_metadata")
    with pytest.raises(AvatarError, match="the figure t.correlation.html is not UTF-8 text"):
        runner.render_plot("t", "correlation")


def test_get_all_results_downloads_no_other_kind(runner: Runner, rsps: responses.RequestsMock) -> None:
    launch_one_table(runner, rsps, ["standard"])
    rsps.add(responses.GET, f"{BASE}/jobs/standard-job", json=job_body("standard-job", "standard"))
    tables = {f"{STORE}/standard/t.shuffled.csv": b"id,x\n1,2\n", f"{STORE}/standard/t.unshuffled.csv": b"id,x\n1,2\n"}
    listing = {
        "shuffled": [f"{STORE}/standard/t.shuffled.csv"],
        "unshuffled": [f"{STORE}/standard/t.unshuffled.csv"],
        "original_projections": [f"{STORE}/standard/t.projections.original.csv"],
        "figures": [f"{STORE}/standard/t.correlation.html"],
        "figures_metadata": [f"{STORE}/standard/figures_metadata.json"],
        "run_metadata": [f"{STORE}/standard/run_metadata.json"],
    }
    rsps.add(responses.GET, f"{BASE}/results/standard-job", json=listing)
    granted = [{"url": url, "credentials": {"access_key_id": "AK", "secret_access_key": "SK"}} for url in tables]
    # the batch asks for the two tables only: a request for any other file would not match
    rsps.add(
        responses.POST,
        f"{BASE}/access/batch",
        json=granted,
        match=[responses.matchers.json_params_matcher(list(tables))],
    )
    for url, content in tables.items():
        rsps.add(responses.GET, location_of(url).url(STORAGE), body=content)

    results = runner.get_all_results()

    assert list(results.shuffled) == ["t"] and list(results.sensitive_unshuffled) == ["t"]
    assert not any("projections" in str(c.request.url) or "metadata" in str(c.request.url) for c in rsps.calls)


def test_projections_ignore_the_types_of_same_named_columns(runner: Runner, rsps: responses.RequestsMock) -> None:
    runner.add_table("t", pd.DataFrame({"id": [1, 2], "Dim.1": pd.Categorical(["a", "b"])}), primary_key="id")
    runner.set_parameters("t", k=1)
    serve_set(rsps)
    serve_job_creation(rsps)
    runner.run(jobs_to_run=["standard"])
    serve_job(rsps, "standard", {"original_projections": {"t.projections.original.csv": b"Dim.1\n0.5\n-0.5\n"}})
    coordinates = runner.get_specific_result("t", "standard", "original_projections")
    assert str(coordinates["Dim.1"].dtype) == "float64" and coordinates["Dim.1"].tolist() == [0.5, -0.5]


@pytest.mark.parametrize("pandas", [True, False])
@pytest.mark.parametrize(
    "content",
    [
        b"",  # pandas: EmptyDataError
        b"Dim.1\n\xff\xfe\n",  # not UTF-8
        b'Dim.1\n"never closed\n',  # pandas: ParserError
        b"Dim.1\n" + b"9" * 200_000 + b"\n",  # csv: a field over its limit (csv.Error)
    ],
)
def test_a_result_table_that_is_not_csv_is_a_typed_error(
    runner: Runner, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, content: bytes, pandas: bool
) -> None:
    launch_one_table(runner, rsps, ["standard"])
    serve_job(rsps, "standard", {"original_projections": {"t.projections.original.csv": content}})
    if not pandas:
        monkeypatch.setitem(sys.modules, "pandas", None)
    try:  # what the reader makes of it (csv is lenient), or a typed error: never pandas' or csv's own
        runner.get_specific_result("t", "standard", "original_projections")
    except AvatarError as exc:
        assert "t.projections.original.csv" in str(exc) and "not a CSV table" in str(exc)
