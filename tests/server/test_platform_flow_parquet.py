"""The local server's jobs on parquet data (the platform SDK 1.30 uploads DataFrames as
parquet, under any key) and ``results.format``: told by the magic bytes, read and
written with pyarrow when it is there, a clear failure naming pyarrow when it is not."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, List

import pytest
import yaml

from avatars.documents import ResourceSet
from avatars.documents.files import table_of_result_file
from avatars.testing.platform_flow import FlowError, FlowOutput, run_parameters

from .test_platform_flow import Results, _rows, linked_set, run

pd = pytest.importorskip("pandas")


def patients_frame() -> Any:
    return pd.DataFrame(
        {
            "id": list(range(1, 13)),
            "age": [20 + i for i in range(12)],
            "weight": [50.5 + 2 * i for i in range(12)],
            "smoker": [i % 3 == 0 for i in range(12)],
            "sex": ["F" if i % 2 else "M" for i in range(12)],
            "note": [None if i % 4 == 0 else f"n{i}" for i in range(12)],
        }
    )


def parquet_bytes(frame: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def one_table_set(file: str, output_format: Any = None) -> str:
    rs = ResourceSet("study", seed=3)
    rs.add_table("patients", file, primary_key="id")
    rs.set_parameters("patients", k=3)
    text = rs.to_yaml()
    if output_format is None:
        return text
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        if doc["metadata"]["name"] == "standard":
            doc["spec"]["results"]["format"] = output_format  # as the platform SDK 1.30 writes it
    return yaml.safe_dump_all(docs, sort_keys=False)


def by_file(outputs: List[FlowOutput]) -> dict:
    return {o.filename: o for o in outputs}


def test_parquet_under_a_csv_key_is_read_and_the_results_are_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    uploads = tmp_path / "in"
    uploads.mkdir()
    (uploads / "patients.csv").write_bytes(parquet_bytes(patients_frame()))  # the key lies
    results = Results(tmp_path)
    text = one_table_set("patients.csv")

    outputs = by_file(run(text, "standard", uploads, results))

    assert sorted(f for f in outputs if outputs[f].kind in ("shuffled", "unshuffled")) == [
        "patients.shuffled.parquet",
        "patients.unshuffled.parquet",
    ]
    assert outputs["patients.projections.original.csv"].kind == "original_projections"  # always CSV
    assert table_of_result_file("s3://b/standard/patients.shuffled.parquet", "shuffled") is None  # our client: CSV
    shuffled = pd.read_parquet(io.BytesIO(outputs["patients.shuffled.parquet"].content))
    assert list(shuffled.columns) == list(patients_frame().columns)
    assert len(shuffled) == 12 and sorted(shuffled["id"]) == list(range(1, 13))
    types = dict(shuffled.dtypes.astype(str))
    assert types["id"] == types["age"] == "int64" and types["weight"] == "float64" and types["smoker"] == "bool"
    assert shuffled["sex"].isin(["F", "M"]).all()


def test_results_format_csv_turns_parquet_data_into_csv_results(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "patients.parquet").write_bytes(parquet_bytes(patients_frame()))
    outputs = by_file(run(one_table_set("patients.parquet", "csv"), "standard", tmp_path, Results(tmp_path)))
    rows = _rows(outputs["patients.shuffled.csv"].content)
    assert len(rows) == 12 and set(rows[0]) == set(patients_frame().columns)
    assert {row["smoker"] for row in rows} <= {"True", "False"}
    assert outputs["patients.shuffled.csv"].content_type == "text/csv"


def test_results_format_parquet_turns_csv_data_into_parquet_results(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "patients.csv").write_bytes(patients_frame().to_csv(index=False).encode())
    outputs = by_file(run(one_table_set("patients.csv", "parquet"), "standard", tmp_path, Results(tmp_path)))
    frame = pd.read_parquet(io.BytesIO(outputs["patients.unshuffled.parquet"].content))
    assert str(frame["age"].dtype) == "int64" and len(frame) == 12


def test_metrics_and_the_linked_tables_run_on_parquet_data(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    patients = pd.DataFrame({"id": range(1, 13), "age": [20 + i for i in range(12)], "note": ["n"] * 12})
    visits = pd.DataFrame({"vid": range(1, 31), "pid": [1 + v % 12 for v in range(1, 31)], "cost": [1.25] * 30})
    (tmp_path / "patients.csv").write_bytes(parquet_bytes(patients))
    (tmp_path / "visits.csv").write_bytes(parquet_bytes(visits))
    results = Results(tmp_path)
    text = linked_set().to_yaml()
    standard = run(text, "standard", tmp_path, results)
    assert {o.filename for o in standard} >= {"patients.unshuffled.parquet", "visits.unshuffled.parquet"}
    privacy = run(text, "privacy_metrics", tmp_path, results)  # reads the parquet results
    privacy = [o for o in privacy if o.kind == "privacy_metrics"]
    assert sorted(o.table for o in privacy) == ["patients", "visits"]
    assert all(o.filename.endswith(".privacy.json") for o in privacy)


def test_without_pyarrow_a_parquet_job_fails_naming_pyarrow(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "patients.csv").write_bytes(b"PAR1 not really parquet, and no pyarrow to read it")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    with pytest.raises(FlowError, match=r"table 'patients': a parquet data file needs pyarrow.*pip install pyarrow"):
        run(one_table_set("patients.csv"), "standard", tmp_path, Results(tmp_path))


def test_a_csv_job_asked_for_parquet_without_pyarrow_fails_naming_pyarrow(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "patients.csv").write_bytes(patients_frame().to_csv(index=False).encode())
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(FlowError, match="a parquet result needs pyarrow"):
        run(one_table_set("patients.csv", "parquet"), "standard", tmp_path, Results(tmp_path))


def test_a_broken_parquet_file_and_an_unknown_format_are_job_failures(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "patients.csv").write_bytes(b"PAR1 truncated")
    with pytest.raises(FlowError, match="table 'patients': unreadable parquet file"):
        run(one_table_set("patients.csv"), "standard", tmp_path, Results(tmp_path))
    (tmp_path / "patients.csv").write_bytes(b"id,age\n1,2\n2,3\n3,4\n")
    with pytest.raises(FlowError, match="results.format must be one of csv, parquet, got 'xlsx'"):
        run_parameters(
            one_table_set("patients.csv", "xlsx"),
            "standard",
            read_input=lambda volume, file: tmp_path / file,
            find_result=lambda kind, table: None,
        )
