"""Resource documents: what ResourceSet writes is what the platform's avatar_yaml writes,
reads back to the same set, and bad input is refused with the field named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from avatars.documents import DocumentError, ResourceSet

GOLDEN = Path(__file__).parent.parent / "data" / "documents"
SDK_PYTHON = Path(os.environ.get("AVATAR_SDK_PYTHON", "/work/sdk/venv125/bin/python"))


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def by_meaning(text: str) -> Dict[Tuple[str, str], Any]:
    """Documents keyed by (kind, name), null fields removed (absent and null mean the same)."""
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    keyed = {(d["kind"], d["metadata"]["name"]): _clean(d) for d in docs}
    assert len(keyed) == len(docs), "two documents share a kind and name"
    return keyed


def single() -> ResourceSet:
    rs = ResourceSet("single", seed=42, annotations={"client_type": "python"})
    rs.add_table(
        "patients",
        "patients.csv",
        columns=["id", "age", "sex"],
        primary_key="id",
        types={"id": "int", "age": "float", "sex": "category"},
    )
    rs.set_parameters(
        "patients",
        k=10,
        ncp=2,
        column_weights={"age": 2.0},
        imputation_method="knn",
        imputation_k=3,
        known_variables=["age"],
        target="sex",
    )
    rs.add_report()
    rs.add_report("pia")
    return rs


def linked() -> ResourceSet:
    rs = ResourceSet("linked", seed=7)
    rs.add_table(
        "patients",
        "patients.csv",
        primary_key="id",
        individual_level=True,
        types={"id": "int", "name": "category"},
        columns_to_drop=["note"],
    )
    rs.add_table(
        "visits",
        "visits.csv",
        primary_key="vid",
        foreign_keys=["pid"],
        types={"when": "datetime"},
        individual_level=False,
    )
    rs.add_link("patients", "id", "visits", "pid", "minimum_distance_assignment")
    rs.set_parameters(
        "patients",
        k=5,
        exclude_variable_names=["name"],
        exclude_variable_method="coordinate_similarity",
        pseudonymized_columns={"name": {"kind": "HASH_SHA256"}},
    )
    rs.set_parameters("visits", k=3, use_categorical_reduction=True)
    rs.add_advice()
    return rs


def dp_and_series() -> ResourceSet:
    rs = ResourceSet("dp")
    rs.add_table("a", "a.csv")
    rs.add_table("b", "b.csv")
    rs.add_table("series", "series.csv", foreign_keys=["a_id"], time_series_time="t")
    rs.set_parameters("a", open_dp_epsilon=1.5)
    rs.set_parameters("b", fast_dp_epsilon=0.5)
    rs.set_parameters(
        "series",
        time_series_nf=3,
        time_series_projection_type="fpca",
        time_series_nb_points=10,
        time_series_method="mean",
    )
    return rs


SCENARIOS = {"single": single, "linked": linked, "dp_and_series": dp_and_series}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_written_like_the_platform_sdk(name: str) -> None:
    """Golden files: tests/data/documents/make_golden.py run with the platform's avatar_yaml."""
    ours = by_meaning(SCENARIOS[name]().to_yaml())
    golden = by_meaning((GOLDEN / f"{name}.yaml").read_text())
    assert sorted(ours) == sorted(golden)
    for key in golden:
        assert ours[key] == golden[key], key


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reads_the_platform_sdk_output_back_to_the_same_set(name: str) -> None:
    golden_text = (GOLDEN / f"{name}.yaml").read_text()
    parsed = ResourceSet.from_yaml(golden_text)
    assert by_meaning(parsed.to_yaml()) == by_meaning(golden_text)
    assert parsed.display_name == name if name != "dp_and_series" else parsed.display_name == "dp"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_round_trip_is_exact(name: str) -> None:
    text = SCENARIOS[name]().to_yaml()
    again = ResourceSet.from_yaml(text)
    assert again.to_yaml() == text
    assert again.parameters_names() == SCENARIOS[name]().parameters_names()


def _avatar_yaml_readback(texts: List[str]) -> List[str]:
    """Each text parsed by the platform's avatar_yaml (Config.from_yaml) and written again."""
    code = (
        "import json, sys\n"
        "from avatar_yaml import Config\n"
        "texts = json.load(sys.stdin)\n"
        "json.dump([Config.from_yaml(t).get_yaml() for t in texts], sys.stdout)\n"
    )
    try:
        import avatar_yaml  # noqa: F401  (the py312 tox env installs it)
    except ImportError:
        if not SDK_PYTHON.exists():
            if os.environ.get("AVATARS_REQUIRE_AVATAR_YAML"):  # the avatar-yaml tox env must not skip
                pytest.fail("avatar_yaml is not importable in this environment")
            pytest.skip("avatar_yaml is not importable here and no platform SDK Python is available")
        python = str(SDK_PYTHON)
    else:
        python = sys.executable
    import json

    done = subprocess.run([python, "-c", code], input=json.dumps(texts), capture_output=True, text=True, check=True)
    result: List[str] = json.loads(done.stdout)
    return result


def test_the_platform_avatar_yaml_reads_our_output_back_to_the_same_documents() -> None:
    texts = [build().to_yaml() for _, build in sorted(SCENARIOS.items())]
    for ours_text, theirs_text in zip(texts, _avatar_yaml_readback(texts)):
        ours, theirs = by_meaning(ours_text), by_meaning(theirs_text)
        # avatar_yaml 0.1.40's parser forgets a metrics document that has no per-table
        # section (only time series parameters): the one place it does not read its own output.
        for key in set(ours) - set(theirs):
            spec = ours[key]["spec"]
            assert key[0].endswith("MetricsParameters") and key[1] not in spec, key
        assert theirs == {key: doc for key, doc in ours.items() if key in theirs}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_current_parameters_give_the_same_documents_again(name: str) -> None:
    rs = SCENARIOS[name]()
    text = rs.to_yaml()
    for table in list(rs.tables):
        arguments = rs.current_parameters(table)
        rs.delete_parameters(table)
        rs.set_parameters(table, **arguments)
    assert rs.to_yaml() == text


def test_delete_table_removes_its_parameters_and_the_links_to_it() -> None:
    rs = linked()
    rs.delete_table("visits")
    docs = by_meaning(rs.to_yaml())
    tables = docs[("AvatarSchema", "schema")]["spec"]["tables"]
    assert [t["name"] for t in tables] == ["patients"] and "links" not in tables[0]
    assert list(docs[("AvatarParameters", "standard")]["spec"]["avatarization"]) == ["patients"]
    with pytest.raises(DocumentError) as info:
        rs.delete_link("patients", "visits")
    assert info.value.field == "child_table_name"


# ------------------------------------------------------------------ bad input


def _two_tables() -> ResourceSet:
    rs = ResourceSet("bad")
    rs.add_table("parent", "p.csv", columns=["id", "age"], primary_key="id")
    rs.add_table("child", "c.csv", columns=["cid", "pid", "x"], primary_key="cid", foreign_keys=["pid"])
    return rs


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda rs: rs.set_parameters("parent", k=0), "k"),
        (lambda rs: rs.set_parameters("parent", k=True), "k"),
        (lambda rs: rs.set_parameters("parent", k=2.5), "k"),
        (lambda rs: rs.set_parameters("parent", open_dp_epsilon=0), "open_dp_epsilon"),
        (lambda rs: rs.set_parameters("parent", fast_dp_epsilon=-1.0), "fast_dp_epsilon"),
        (lambda rs: rs.set_parameters("parent", k=3, open_dp_epsilon=1.0), "open_dp_epsilon"),
        (lambda rs: rs.set_parameters("parent", k=3, ncp=0), "ncp"),
        (lambda rs: rs.set_parameters("parent", k=3, column_weights={"nope": 1.0}), "column_weights"),
        (lambda rs: rs.set_parameters("parent", k=3, known_variables=["nope"]), "known_variables"),
        (lambda rs: rs.set_parameters("parent", k=3, target="nope"), "target"),
        (lambda rs: rs.set_parameters("parent", k=3, exclude_variable_names=["nope"]), "exclude_variable_names"),
        (lambda rs: rs.set_parameters("parent", k=3, imputation_method="magic"), "imputation_method"),
        (
            lambda rs: rs.set_parameters("parent", k=3, imputation_k=2, imputation_training_fraction=1.5),
            "imputation_training_fraction",
        ),
        (lambda rs: rs.set_parameters("parent", k=3, time_series_nf=0), "time_series_nf"),
        (
            lambda rs: rs.set_parameters("parent", k=3, pseudonymized_columns={"age": {"kind": "ROT13"}}),
            "pseudonymized_columns.pseudonymization.kind",
        ),
        (lambda rs: rs.set_parameters("missing", k=3), "table_name"),
        (lambda rs: rs.add_table("t", "t.csv", columns=["a"], types={"b": "int"}), "types"),
        (lambda rs: rs.add_table("t", "t.csv", columns=["a"], types={"a": "integer"}), "types.a"),
        (lambda rs: rs.add_table("t", "t.csv", columns=["a"], primary_key="b"), "primary_key"),
        (lambda rs: rs.add_table("t", "t.csv", primary_key="a", columns_to_drop=["a"]), "columns_to_drop"),
        (lambda rs: rs.add_table("t", "t.csv", primary_key="a", time_series_time="a"), "time_series_time"),
        (lambda rs: rs.add_table("t", "t.csv", primary_key="a", foreign_keys=["a"]), "foreign_keys"),
        (lambda rs: rs.add_table("a/b", "t.csv"), "table_name"),
        (lambda rs: rs.add_table("line\nbreak", "t.csv"), "table_name"),
        (lambda rs: rs.add_table("lone\ud800", "t.csv"), "table_name"),
        (lambda rs: rs.add_table(" padded", "t.csv"), "table_name"),
        (lambda rs: rs.add_table("", "t.csv"), "table_name"),
        (lambda rs: rs.add_table("t", "t.csv", columns=["ok", "tab\there"]), "columns"),
        (lambda rs: rs.add_link("parent", "id", "ghost", "pid"), "child_table_name"),
        (lambda rs: rs.add_link("parent", "age", "child", "pid"), "parent_field"),
        (lambda rs: rs.add_link("parent", "id", "child", "x"), "child_field"),
        (lambda rs: rs.add_link("parent", "id", "child", "pid", method="closest"), "method"),
        (lambda rs: rs.add_report("long"), "report_type"),
        (lambda rs: rs.add_report(language="de"), "language"),
    ],
)
def test_bad_input_is_refused_naming_the_field(call: Any, field: str) -> None:
    rs = _two_tables()
    before = rs.to_yaml()
    with pytest.raises(DocumentError) as info:
        call(rs)
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError)
    assert rs.to_yaml() == before  # a refused call changes nothing


def test_a_link_to_a_table_that_is_gone_is_refused_when_writing() -> None:
    rs = _two_tables()
    rs.add_link("parent", "id", "child", "pid")
    del rs.tables["child"]
    with pytest.raises(DocumentError, match="link to table 'child'") as info:
        rs.to_yaml()
    assert info.value.field == "tables.parent.links"


@pytest.mark.parametrize(
    ("text", "field_part"),
    [
        ("kind: AvatarSchema\nmetadata: {name: s}\nspec: {tables: [{data: {file: x}}]}\n", "name"),
        ("kind: AvatarWhatever\nmetadata: {name: s}\n", "kind"),
        ("kind: AvatarParameters\nmetadata: {name: p}\nspec: {schema: s, avatarization: {t: {k: 0}}}\n", "k"),
        ("- just\n- a list\n", "document[0]"),
        ("kind: [unclosed\n", "yaml"),
        ("[" * 100_000 + "]" * 100_000, "yaml"),  # nested too deep for the parser (a RecursionError)
        ("- " * 5_000 + "x", "yaml"),
    ],
)
def test_from_yaml_refuses_what_is_not_a_resource_document(text: str, field_part: str) -> None:
    with pytest.raises(DocumentError) as info:
        ResourceSet.from_yaml(text)
    assert field_part in (info.value.field or ""), str(info.value)


def test_seed_zero_is_written_in_every_parameters_document() -> None:
    rs = ResourceSet("zero", seed=0)
    rs.add_table("t", "t.csv")
    rs.set_parameters("t", k=3)
    docs = by_meaning(rs.to_yaml())
    assert docs[("AvatarParameters", "standard")]["spec"]["seed"] == 0
    assert docs[("AvatarPrivacyMetricsParameters", "privacy_metrics")]["spec"]["seed"] == 0


def test_every_pseudonymization_strategy_reads_back_in_the_platforms_avatar_yaml() -> None:
    from avatars import (
        ConstantStrategy,
        FakeDataStrategy,
        HashSha256Strategy,
        IntegerStrategy,
        PiiType,
        SpecificIdLetterCase,
        SpecificIdStrategy,
        Uuid4Strategy,
    )

    rs = ResourceSet("pseudonymized", seed=1)
    columns = ["id", "mail", "name", "code", "note", "account", "ref"]
    rs.add_table("people", "people.csv", columns=columns, primary_key="id")
    strategies = {
        "id": Uuid4Strategy(),
        "mail": FakeDataStrategy(PiiType.EMAIL, high_variability=True),
        "name": FakeDataStrategy(PiiType.FULL_NAME, consistent=False),
        "code": SpecificIdStrategy("{{id}}-??##", letter_case=SpecificIdLetterCase.UPPER),
        "note": ConstantStrategy("redacted"),
        "account": IntegerStrategy(consistent=False),
        "ref": HashSha256Strategy(),
    }
    rs.set_parameters("people", k=3, pseudonymized_columns=strategies)
    text = rs.to_yaml()
    (theirs,) = _avatar_yaml_readback([text])
    # the columns' entries (avatar_yaml forgets metrics documents without a per-table section: see above)
    key = ("AvatarSchema", "schema")
    assert by_meaning(theirs)[key] == by_meaning(text)[key]
    written = {c["field"]: c["pseudonymization"] for c in ResourceSet.from_yaml(text).tables["people"]["columns"]}
    assert written["code"] == {
        "pattern": "{{id}}-??##",
        "letter_case": "upper",
        "consistent": True,
        "kind": "SPECIFIC_ID",
    }
    assert {entry["kind"] for entry in written.values()} == {
        "UUID4",
        "FAKER",
        "SPECIFIC_ID",
        "CONSTANT",
        "INTEGER",
        "HASH_SHA256",
    }
