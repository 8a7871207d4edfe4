"""The stand-in's other result files: projections, figures, meta-metrics, summaries,
run metadata, computed from the job's own data."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Dict, List

import pytest

from avatars.documents import ResourceSet
from avatars.testing.platform_flow import FlowOutput
from avatars.testing.result_files import PLOT_KINDS

from .test_platform_flow import Results, linked_set, run, uploads  # noqa: F401 (uploads: a fixture)


def _by_kind(outputs: List[FlowOutput]) -> Dict[str, List[FlowOutput]]:
    out: Dict[str, List[FlowOutput]] = {}
    for output in outputs:
        out.setdefault(output.kind, []).append(output)
    return out


def _csv(content: bytes) -> List[Dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def _z(values: List[float], of: List[float]) -> List[float]:
    mean, std = statistics.fmean(of), statistics.pstdev(of)
    return [(v - mean) / std for v in values]


def test_projections_are_the_stand_ins_standardized_space(uploads: Path, tmp_path: Path) -> None:  # noqa: F811
    results = Results(tmp_path)
    kinds = _by_kind(run(linked_set().to_yaml(), "standard", uploads, results))
    original = {o.table: _csv(o.content) for o in kinds["original_projections"]}
    avatars = {o.table: _csv(o.content) for o in kinds["avatar_projections"]}
    assert [o.filename for o in kinds["original_projections"]] == [
        "patients.projections.original.csv",
        "visits.projections.original.csv",
    ]
    # patients: id is the key, note dropped -> age and weight; visits: vid and pid are keys -> cost
    assert list(original["patients"][0]) == ["Dim.1", "Dim.2"] and list(original["visits"][0]) == ["Dim.1"]
    ages = [20.0 + i for i in range(1, 13)]
    assert [float(r["Dim.1"]) for r in original["patients"]] == pytest.approx(_z(ages, ages), abs=1e-6)
    # the avatars, in the shuffled file's order, in the ORIGINAL's scale
    shuffled = _csv(next(o for o in kinds["shuffled"] if o.table == "patients").content)
    weights = [50 + 2 * i + 0.5 for i in range(1, 13)]
    expected = _z([float(r["weight"]) for r in shuffled], weights)
    assert [float(r["Dim.2"]) for r in avatars["patients"]] == pytest.approx(expected, abs=1e-6)
    metadata = json.loads(kinds["run_metadata"][0].content)
    assert metadata["tables"]["patients"]["projection_dimensions"] == {"Dim.1": "age", "Dim.2": "weight"}
    assert metadata["parameters_name"] == "standard" and metadata["seed"] == 3 and metadata["stand_in"] is True


def test_figures_are_pages_tied_to_their_table_by_the_metadata(uploads: Path, tmp_path: Path) -> None:  # noqa: F811
    kinds = _by_kind(run(linked_set().to_yaml(), "standard", uploads, Results(tmp_path)))
    metadata = json.loads(kinds["figures_metadata"][0].content)
    pages = {o.filename: o for o in kinds["figures"]}
    assert sorted(m["filename"] for m in metadata) == sorted(pages)
    of_patients = [m["kind"] for m in metadata if m["table_name"] == "patients"]
    assert set(of_patients) <= set(PLOT_KINDS)
    # two numeric columns: no 3-D projection; one distribution per synthesized column
    assert "3d_projection" not in of_patients and of_patients.count("distribution") == 2
    for entry in metadata:
        page = pages[entry["filename"]]
        assert page.table == entry["table_name"] and page.content_type.startswith("text/html")
        assert page.content.startswith(b"<!DOCTYPE html>") and b"<script" not in page.content
        assert b"LOCAL STAND-IN" in page.content
    stats = pages["patients.aggregate_stats.html"].content.decode()
    assert "<th>age</th><td>26.5000</td>" in stats  # the original mean of 21..32


def test_figures_follow_the_parameters(uploads: Path, tmp_path: Path) -> None:  # noqa: F811
    (uploads / "wide.csv").write_text(
        "a,b,<i>c</i>,x\n" + "".join(f"{i},{i * i},{i % 3},v{i % 2}\n" for i in range(20))
    )
    rs = ResourceSet("wide", seed=1, max_distribution_plots=1)
    rs.add_table("wide", "wide.csv")
    rs.set_parameters("wide", k=3)
    kinds = _by_kind(run(rs.to_yaml(), "standard", uploads, Results(tmp_path)))
    made = [json.loads(kinds["figures_metadata"][0].content)[i]["kind"] for i in range(len(kinds["figures"]))]
    assert "3d_projection" in made and made.count("distribution") == 1
    assert all(b"<i>c</i>" not in page.content for page in kinds["figures"])  # names are escaped
    assert b"<th>&lt;i&gt;c&lt;/i&gt;</th>" in kinds["figures"][0].content

    rs = ResourceSet("quiet", seed=1, compute_figures=False)
    rs.add_table("wide", "wide.csv")
    rs.set_parameters("wide", k=3)
    kinds = _by_kind(run(rs.to_yaml(), "standard", uploads, Results(tmp_path)))
    assert "figures" not in kinds and "figures_metadata" not in kinds and "original_projections" in kinds


@pytest.mark.parametrize(
    ("job", "meta", "metric"),
    [
        ("privacy_metrics", "meta_privacy_metric", "hidden_rate"),
        ("signal_metrics", "meta_signal_metric", "hellinger_distance"),
    ],
)
def test_meta_metrics_and_the_summary_come_from_the_tables_metrics(
    job: str,
    meta: str,
    metric: str,
    uploads: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    text = linked_set().to_yaml()
    results = Results(tmp_path)
    run(text, "standard", uploads, results)
    kinds = _by_kind(run(text, job, uploads, results))
    values = {o.table: json.loads(o.content)[0][metric] for o in kinds[job]}
    expected = {
        table: round(100 * (value if job == "privacy_metrics" else 1 - value), 4) for table, value in values.items()
    }
    summary = json.loads(kinds[f"{job}_summary"][0].content)
    assert kinds[f"{job}_summary"][0].filename == f"{job}_summary.json"
    assert summary == {table: {"standalone": value} for table, value in expected.items()}
    assert all(0 <= v <= 100 for v in expected.values())
    items = {o.table: json.loads(o.content) for o in kinds[meta]}
    assert items["visits"] == [
        {
            "metadata": {"table_name": "visits", "reference": "standalone"},
            "meta_metric": expected["visits"],
            "formula": items["visits"][0]["formula"],
        }
    ]
    assert json.loads(kinds["run_metadata"][0].content)["tables"]["patients"]["meta_metric"] == expected["patients"]


def test_one_table_has_no_summary(uploads: Path, tmp_path: Path) -> None:  # noqa: F811
    rs = ResourceSet("one", seed=2)
    rs.add_table("patients", "patients.csv", primary_key="id")
    rs.set_parameters("patients", k=3)
    text = rs.to_yaml()
    results = Results(tmp_path)
    run(text, "standard", uploads, results)
    kinds = _by_kind(run(text, "privacy_metrics", uploads, results))
    assert "privacy_metrics_summary" not in kinds and len(kinds["meta_privacy_metric"]) == 1


def test_a_categorical_distribution_shows_the_original_frequencies(uploads: Path, tmp_path: Path) -> None:  # noqa: F811
    cities = ["a"] * 10 + ["b"] * 6 + ["c"] * 4
    (uploads / "towns.csv").write_text("n,city\n" + "".join(f"{i},{c}\n" for i, c in enumerate(cities)))
    rs = ResourceSet("towns", seed=1)
    rs.add_table("towns", "towns.csv")
    rs.set_parameters("towns", k=2)
    kinds = _by_kind(run(rs.to_yaml(), "standard", uploads, Results(tmp_path)))
    page = next(o for o in kinds["figures"] if o.filename == "towns.distribution.1.html").content.decode()
    assert "distribution of city" in page
    # most frequent first, bar lengths 250 * share: 10/20, 6/20, 4/20
    bars = [
        f'<rect class="o" x="150" y="{28 * i + 2}" width="{w}" height="10"/>'
        for i, w in enumerate(("125.0", "75.0", "50.0"))
    ]
    assert all(bar in page for bar in bars)
    assert page.index(">a</text>") < page.index(">b</text>") < page.index(">c</text>")
