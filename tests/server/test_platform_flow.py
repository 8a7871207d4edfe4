"""The local server's execution of platform-format sets: every table, links kept,
result files named as the platform SDK reads them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from avatars.documents import ResourceSet
from avatars.documents.files import table_of_result_file
from avatars.testing.platform_flow import FlowError, FlowOutput, is_platform_set, run_parameters


def _rows(content: bytes) -> List[Dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    patients = ["id,age,weight,note"] + [f"{i},{20 + i},{50 + 2 * i}.5,n{i}" for i in range(1, 13)]
    visits = ["vid,pid,cost"] + [f"{v},{1 + v % 12},{v * 1.25}" for v in range(1, 31)]
    (tmp_path / "patients.csv").write_text("\n".join(patients) + "\n")
    (tmp_path / "visits.csv").write_text("\n".join(visits) + "\n")
    return tmp_path


def linked_set() -> ResourceSet:
    rs = ResourceSet("study", seed=3)
    rs.add_table("patients", "patients.csv", primary_key="id", columns_to_drop=["note"])
    rs.add_table("visits", "visits.csv", primary_key="vid", foreign_keys=["pid"])
    rs.add_link("patients", "id", "visits", "pid")
    rs.set_parameters("patients", k=3)
    rs.set_parameters("visits", k=4)
    rs.add_report()
    return rs


class Results:
    """The earlier jobs' result files of one set, as the server keeps them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: Dict[tuple, Path] = {}

    def keep(self, outputs: List[FlowOutput]) -> None:
        for output in outputs:
            path = self.folder / f"result-{output.filename}"
            path.write_bytes(output.content)
            self.files[(output.kind, output.table)] = path

    def find(self, kind: str, table: str) -> Optional[Path]:
        return self.files.get((kind, table))


def run(text: str, name: str, uploads: Path, results: Results) -> List[FlowOutput]:
    outputs = run_parameters(
        text,
        name,
        read_input=lambda volume, file: uploads / file if (uploads / file).is_file() else None,
        find_result=results.find,
    )
    results.keep(outputs)
    return outputs


def test_standard_runs_every_table_and_keeps_the_links(uploads: Path, tmp_path: Path) -> None:
    text = linked_set().to_yaml()
    assert is_platform_set(text) and not is_platform_set('{"tables": []}')
    results = Results(tmp_path)
    outputs = run(text, "standard", uploads, results)

    by_name = {o.filename: o for o in outputs if o.kind in ("shuffled", "unshuffled")}
    assert sorted(by_name) == [
        "patients.shuffled.csv",
        "patients.unshuffled.csv",
        "visits.shuffled.csv",
        "visits.unshuffled.csv",
    ]
    for output in by_name.values():  # the platform SDK finds each table's file by its name
        assert table_of_result_file(f"s3://b/standard/{output.filename}", output.kind) == output.table
    patients = _rows(by_name["patients.unshuffled.csv"].content)
    visits = _rows(by_name["visits.unshuffled.csv"].content)
    assert list(patients[0]) == ["id", "age", "weight"]  # 'note' dropped
    assert len(patients) == 12 and len(visits) == 30
    assert sorted(int(p["id"]) for p in patients) == list(range(1, 13))
    # each visit points to the synthetic version of its original patient
    original_pid = [1 + v % 12 for v in range(1, 31)]
    for visit, pid in zip(visits, original_pid):
        assert visit["pid"] == patients[pid - 1]["id"]
    assert {r["vid"] for r in _rows(by_name["visits.shuffled.csv"].content)} == {v["vid"] for v in visits}


def test_metrics_and_report_read_the_standard_jobs_output(uploads: Path, tmp_path: Path) -> None:
    text = linked_set().to_yaml()
    results = Results(tmp_path)
    run(text, "standard", uploads, results)
    privacy = run(text, "privacy_metrics", uploads, results)
    privacy = [o for o in privacy if o.kind == "privacy_metrics"]
    assert [o.filename for o in privacy] == ["patients.privacy.json", "visits.privacy.json"]
    content = json.loads(privacy[0].content)
    assert content[0]["metadata"] == {"table_name": "patients"} and "hidden_rate" in content[0]
    signal = run(text, "signal_metrics", uploads, results)
    assert json.loads(signal[1].content)[0]["metadata"]["table_name"] == "visits"
    report = run(text, "report", uploads, results)
    assert report[0].filename == "report.md" and b"LOCAL STAND-IN" in report[0].content


def test_metrics_without_a_standard_job_say_what_is_missing(uploads: Path, tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="run the standard job first"):
        run(linked_set().to_yaml(), "privacy_metrics", uploads, Results(tmp_path))


def test_k_larger_than_the_table_fails_with_the_reason(uploads: Path, tmp_path: Path) -> None:
    rs = ResourceSet("big-k")
    rs.add_table("patients", "patients.csv")
    rs.set_parameters("patients", k=50)
    with pytest.raises(FlowError, match="k=50 is larger than its 12 rows"):
        run(rs.to_yaml(), "standard", uploads, Results(tmp_path))


def test_a_table_that_was_not_uploaded_is_named(uploads: Path, tmp_path: Path) -> None:
    rs = ResourceSet("missing")
    rs.add_table("ghost", "ghost.csv")
    rs.set_parameters("ghost", k=2)
    with pytest.raises(FlowError, match="table 'ghost': the data file was not uploaded"):
        run(rs.to_yaml(), "standard", uploads, Results(tmp_path))
    with pytest.raises(FlowError, match="parameters 'nope' not found"):
        run(rs.to_yaml(), "nope", uploads, Results(tmp_path))


def test_advice_names_each_table(uploads: Path, tmp_path: Path) -> None:
    rs = linked_set()
    name = rs.add_advice()
    advice = json.loads(run(rs.to_yaml(), name, uploads, Results(tmp_path))[0].content)
    assert [(a["table_name"], a["advice"]["k"]) for a in advice] == [("patients", 3), ("visits", 3)]


@pytest.mark.parametrize("name", ["standard", "privacy_metrics", "report"])
def test_a_job_reads_its_set_with_one_yaml_parse(
    name: str, uploads: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    text = linked_set().to_yaml()
    results = Results(tmp_path)
    run(text, "standard", uploads, results)
    expected = run(text, name, uploads, results)
    parses: List[str] = []
    real = yaml.safe_load_all

    def counting(stream: str):  # type: ignore[no-untyped-def]
        parses.append(stream)
        return real(stream)

    monkeypatch.setattr(yaml, "safe_load_all", counting)
    outputs = run(text, name, uploads, results)
    assert len(parses) == 1
    assert [(o.filename, o.content) for o in outputs] == [(o.filename, o.content) for o in expected]
