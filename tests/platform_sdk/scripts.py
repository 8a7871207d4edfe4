"""Platform SDK scripts beyond the quick start, unchanged, against ``avatars serve``.

Each scenario below is a script as a user of the platform SDK
(``octopize.avatar``) writes it, using more of ``Manager`` and ``Runner``
than the quick start: a CSV path with column types and dropped columns, the
everyday parameters (imputation, excluded variables, column weights, known
variables and target of the privacy metrics, differential privacy, data
augmentation), the parameters advice, job selection and re-runs, status and
job look-ups, every way of reading results, YAML export and re-import, metrics
on avatar data given by the user, a runner rebuilt from a stored run, and the
manager's job history and deletion.  Only names that both packages export are
used, so the same text runs with either package installed as ``avatars``:

    # the platform SDK 1.25 on API 2.90 (tox -e platform-scripts)
    /work/sdk/venv125/bin/python tests/platform_sdk/scripts.py --server-python .venv/bin/python
    # the platform SDK 1.30 on API 3.x (tox -e platform-scripts-3)
    /work/sdk/venv130/bin/python tests/platform_sdk/scripts.py --server-python .venv/bin/python --api-version 3
    # our package (tox -e platform-scripts-avatars runs both API versions)
    .venv/bin/python tests/platform_sdk/scripts.py --server-python .venv/bin/python --api-version 2 --api-version 3

A scenario that a release does not support (told by the names it has, not by
its version number) is skipped with the reason printed.  One line per
scenario: ``PASS``, ``FAIL`` (with the assertion or error) or ``SKIP``.  Exit
status: the number of failed scenarios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from _serve import start_server, stop_servers
from quickstart import check, patients, visits, which_avatars


class Skip(Exception):
    """The installed package cannot run this scenario (the message says why)."""


def is_platform_sdk() -> bool:
    return which_avatars().startswith("platform SDK")


def needs(obj: Any, name: str) -> Any:
    """``obj.name``, or skip the scenario when this release has no such name."""
    if not hasattr(obj, name):
        raise Skip(f"{which_avatars()} has no {getattr(obj, '__name__', type(obj).__name__)}.{name}")
    return getattr(obj, name)


def choice(enum_name: str, value: str) -> Any:
    """A parameter given as the platform's enum (``avatar_yaml``, where the SDK's
    ``set_parameters`` requires it: it reads ``.value``), else as its plain value,
    which ``avatars`` accepts too."""
    try:
        from avatar_yaml.models import parameters
    except ImportError:
        return value
    return getattr(parameters, enum_name)(value)


def sdk_bug(reason: str) -> bool:
    """True (and the reason printed) when the platform SDK is installed and has the bug ``reason``:
    the caller leaves out the call the bug breaks."""
    if is_platform_sdk():
        print(f"  skipped for {which_avatars()}: {reason}", flush=True)
        return True
    return False


def text(value: Any) -> str:
    """An enum member (the SDK's ``StrEnum``, our ``str`` enums) or a string, as its value."""
    return str(getattr(value, "value", value))


def wait_for(runner: Any, kinds: Optional[List[Any]] = None, timeout: float = 60.0) -> None:
    """Poll ``runner.get_status`` until the jobs of ``kinds`` (default: every job
    ``run()`` launches) have finished, as a script that shows its own progress does
    (and so the SDK's first result call finds them done: it sleeps 5 s otherwise)."""
    from avatars.models import JobKind

    wanted = kinds or [JobKind.standard, JobKind.signal_metrics, JobKind.privacy_metrics, JobKind.report]
    deadline = time.monotonic() + timeout
    while True:
        statuses = {text(k): text(s) for k, s in ((k, runner.get_status(k)) for k in wanted)}
        failed = {k: s for k, s in statuses.items() if s in ("error", "parent_error", "lost", "orphaned")}
        check(not failed, f"jobs failed: {failed}")
        if all(s == "finished" for s in statuses.values()):
            return
        check(time.monotonic() < deadline, f"jobs still running after {timeout:g} s: {statuses}")
        time.sleep(0.05)


def run_one_table(ctx: Context, set_name: str, df: Any, seed: int, kinds: List[Any], **parameters: Any) -> Any:
    """create_runner -> add_table("patients", df) -> set_parameters(**parameters) -> run(kinds),
    then :func:`wait_for` those jobs: the runner."""
    runner = ctx.manager.create_runner(set_name=set_name, seed=seed)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.set_parameters("patients", **parameters)
    runner.run(jobs_to_run=kinds)
    wait_for(runner, kinds)
    return runner


def run_linked(ctx: Context, set_name: str, seed: int, rows: int, kinds: Optional[List[Any]]) -> Any:
    """Tables ``patient`` (``rows`` rows) and ``visit`` linked by ``patient_id``, k=4 each,
    run (``kinds``: the jobs, default all) and waited for: ``(runner, patients, visits)``."""
    people = patients(rows)
    stays = visits(list(people["patient_id"]))
    runner = ctx.manager.create_runner(set_name=set_name, seed=seed)
    runner.add_table("patient", people, primary_key="patient_id", individual_level=True)
    runner.add_table("visit", stays, primary_key="visit_id", foreign_keys=["patient_id"], individual_level=False)
    runner.add_link("patient", "patient_id", "visit", "patient_id")
    runner.set_parameters("patient", k=4)
    runner.set_parameters("visit", k=4)
    if kinds is None:
        runner.run()
    else:
        runner.run(jobs_to_run=kinds)
    wait_for(runner, kinds)
    return runner, people, stays


def avatarization(runner: Any, table: str) -> Dict[str, Any]:
    """The table's entry in the set's ``AvatarParameters`` document (``{}``: none)."""
    import yaml

    for doc in yaml.safe_load_all(runner.get_yaml()):
        if isinstance(doc, dict) and doc.get("kind") == "AvatarParameters":
            entry = ((doc.get("spec") or {}).get("avatarization") or {}).get(table)
            return dict(entry or {})
    return {}


def same_frame(left: Any, right: Any, label: str) -> None:
    check(list(left.columns) == list(right.columns), f"{label}: columns {list(left.columns)} != {list(right.columns)}")
    check(len(left) == len(right), f"{label}: {len(left)} rows != {len(right)} rows")
    check(left.astype(str).values.tolist() == right.astype(str).values.tolist(), f"{label}: the values differ")


class Context:
    def __init__(
        self, base_url: str, api_key: str, username: str, password: str, workdir: Path, api_version: int
    ) -> None:
        from avatars.manager import Manager

        self.api_version = api_version
        self.base_url = base_url
        self.api_key = api_key
        self.username = username
        self.password = password
        self.workdir = workdir
        self.manager = Manager(base_url=base_url, api_key=api_key)


# ---------------------------------------------------------------- scenarios


def csv_path_types_and_dropped_columns(ctx: Context) -> None:
    """add_table with a CSV file path, declared types and columns_to_drop; run only the standard job."""
    from avatars.models import JobKind

    df = patients(80)
    df["comment"] = [f"note {i % 4}" for i in range(len(df))]
    path = ctx.workdir / "patients.csv"
    df.to_csv(path, index=False)
    runner = ctx.manager.create_runner(set_name="scripts-csv-path", seed=7)
    runner.add_table(
        "patients",
        str(path),
        primary_key="patient_id",
        types={"age": "int", "weight": "float", "sex": "category", "smoker": "bool", "comment": "category"},
        columns_to_drop=["comment"],
    )
    runner.set_parameters("patients", k=5, ncp=2)
    runner.run(jobs_to_run=[JobKind.standard])
    wait_for(runner, [JobKind.standard])
    shuffled = runner.shuffled("patients")
    expected = [c for c in df.columns if c != "comment"]
    check(list(shuffled.columns) == expected, f"columns {list(shuffled.columns)}, expected {expected}")
    check(len(shuffled) == len(df), f"{len(shuffled)} avatars for {len(df)} rows")
    check(runner.get_status(JobKind.standard) == "finished", f"status {runner.get_status(JobKind.standard)!r}")
    job = runner.get_job(JobKind.standard)
    check(job.done and job.kind == JobKind.standard, f"get_job: {job!r}")
    check(
        str(job.set_name) == str(runner.set_name), f"the job's set {job.set_name} is not the runner's {runner.set_name}"
    )


def everyday_parameters(ctx: Context) -> None:
    """Imputation, excluded variables, column weights, categorical reduction, and the
    privacy metrics' known variables and target; every job, results for each."""
    import numpy as np

    df = patients(90)
    df["city"] = [("Paris", "Lyon", "Nantes")[i % 3] for i in range(len(df))]
    df.loc[df.index % 11 == 0, "weight"] = np.nan  # missing values to impute
    runner = ctx.manager.create_runner(set_name="scripts-parameters", seed=3)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.set_parameters(
        "patients",
        k=6,
        ncp=3,
        use_categorical_reduction=False,
        column_weights={"age": 2.0, "weight": 1.0},
        exclude_variable_names=["city"],
        exclude_variable_method=choice("ExcludeVariablesMethod", "row_order"),
        imputation_method=choice("ImputeMethod", "knn"),
        imputation_k=3,
        imputation_training_fraction=0.5,
        known_variables=["age", "sex"],
        target="smoker",
    )
    check(avatarization(runner, "patients").get("ncp") == 3, "ncp was not set")
    runner.delete_parameters("patients", ["ncp"])  # the others stay
    kept = avatarization(runner, "patients")
    check("ncp" not in kept and kept.get("k") == 6, f"after delete_parameters(['ncp']): {kept}")
    if not sdk_bug("delete_parameters(names) leaves the names in the metrics documents (hasattr on a dict)"):
        check("ncp:" not in runner.get_yaml(), "delete_parameters(['ncp']) left an ncp")
    runner.run()
    wait_for(runner)
    shuffled = runner.shuffled("patients")
    check(len(shuffled) == len(df) and list(shuffled.columns) == list(df.columns), f"shuffled: {shuffled.shape}")
    unshuffled = runner.sensitive_unshuffled("patients")
    check(len(unshuffled) == len(df), "sensitive_unshuffled: wrong row count")
    privacy = runner.privacy_metrics("patients")
    check(len(privacy) == 1 and privacy[0].get("metadata", {}).get("table_name") == "patients", f"privacy {privacy}")
    signal = runner.signal_metrics("patients")
    check(len(signal) == 1 and signal[0].get("metadata", {}).get("table_name") == "patients", f"signal {signal}")
    yaml_text = runner.get_yaml()
    for word in ("column_weights", "known_variables", "exclude_variables", "imputation", "knn"):
        check(word in yaml_text, f"the set's YAML has no {word!r}")


def differential_privacy(ctx: Context) -> None:
    """open_dp_epsilon instead of k."""
    from avatars.models import JobKind

    df = patients(60)
    kinds = [JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics]
    runner = run_one_table(ctx, "scripts-dp", df, 5, kinds, open_dp_epsilon=2.0)
    check("epsilon" in runner.get_yaml(), "the set's YAML has no epsilon")
    shuffled = runner.shuffled("patients")
    check(len(shuffled) == len(df), f"{len(shuffled)} avatars for {len(df)} rows")
    check(bool(runner.privacy_metrics("patients")), "no privacy metrics")


def data_augmentation(ctx: Context) -> None:
    """data_augmentation_strategy as a ratio, with its target column."""
    from avatars.models import JobKind

    df = patients(60)
    runner = ctx.manager.create_runner(set_name="scripts-augmentation", seed=5)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.set_parameters(
        "patients",
        k=5,
        data_augmentation_strategy=0.5,
        data_augmentation_target_column="sex",
        data_augmentation_should_anonymize_original_table=True,
    )
    runner.run(jobs_to_run=[JobKind.standard])
    wait_for(runner, [JobKind.standard])
    yaml_text = runner.get_yaml()
    check("data_augmentation" in yaml_text, "the set's YAML has no data_augmentation")
    # the platform adds rows; the local stand-in documents that it does not: at least every row comes back
    shuffled = runner.shuffled("patients")
    check(len(shuffled) >= len(df), f"{len(shuffled)} avatars for {len(df)} rows")


def pseudonymized_columns(ctx: Context) -> None:
    """pseudonymized_columns with the strategies both packages export at the top."""
    import avatars
    from avatars.models import JobKind

    constant = needs(avatars, "ConstantStrategy")
    hashed = needs(avatars, "HashSha256Strategy")
    fake = needs(avatars, "FakeDataStrategy")
    pii = needs(avatars, "PiiType")
    df = patients(40)
    df["email"] = [f"p{i}@example.org" for i in range(len(df))]
    df["comment"] = [f"note {i}" for i in range(len(df))]
    runner = ctx.manager.create_runner(set_name="scripts-pseudonymized", seed=6)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.set_parameters(
        "patients",
        k=4,
        pseudonymized_columns={
            "comment": constant(value="-"),
            "sex": hashed(),
            "email": fake(pii_type=pii.EMAIL),
        },
    )
    yaml_text = runner.get_yaml()
    for kind in ("CONSTANT", "HASH_SHA256", "FAKER", "EMAIL"):
        check(kind in yaml_text, f"the set's YAML has no {kind}")
    runner.run(jobs_to_run=[JobKind.standard])
    wait_for(runner, [JobKind.standard])
    # the platform replaces the values; the local stand-in documents that it does not
    shuffled = runner.shuffled("patients")
    check(len(shuffled) == len(df) and set(shuffled.columns) == set(df.columns), f"shuffled: {shuffled.shape}")


def time_series(ctx: Context) -> None:
    """A time-series table (time_series_time, the time_series_* parameters) linked to its individuals."""
    import pandas as pd

    from avatars.models import JobKind

    people = patients(30)
    rows = [(pid, t) for pid in people["patient_id"] for t in range(4)]
    measures = pd.DataFrame(
        {
            "measure_id": range(1, len(rows) + 1),
            "patient_id": [pid for pid, _ in rows],
            "t": [float(t) for _, t in rows],
            "value": [round(1.5 * pid + 0.25 * t, 2) for pid, t in rows],
        }
    )
    runner = ctx.manager.create_runner(set_name="scripts-time-series", seed=9)
    runner.add_table("patient", people, primary_key="patient_id", individual_level=True)
    runner.add_table(
        "measure",
        measures,
        primary_key="measure_id",
        foreign_keys=["patient_id"],
        time_series_time="t",
        individual_level=False,
    )
    runner.add_link("patient", "patient_id", "measure", "patient_id")
    runner.set_parameters("patient", k=4)
    runner.set_parameters(
        "measure",
        time_series_nf=2,
        time_series_projection_type=choice("ProjectionType", "fpca"),
        time_series_nb_points=4,
        time_series_method=choice("AlignmentMethod", "mean"),
    )
    yaml_text = runner.get_yaml()
    for word in ("time_series", "time_series_time", "fpca"):
        check(word in yaml_text, f"the set's YAML has no {word!r}")
    runner.run(jobs_to_run=[JobKind.standard])
    wait_for(runner, [JobKind.standard])
    series = runner.sensitive_unshuffled("measure")
    check(len(series) == len(measures) and list(series.columns) == list(measures.columns), f"measure {series.shape}")
    check(set(series["patient_id"]) <= set(runner.sensitive_unshuffled("patient")["patient_id"]), "unlinked measures")


def advice_then_run(ctx: Context) -> None:
    """advise_parameters fills k from the server's advice; then the standard job runs with it."""
    from avatars.models import JobKind

    df = patients(100)
    runner = ctx.manager.create_runner(set_name="scripts-advice", seed=11)
    runner.add_table("patients", df, primary_key="patient_id")
    runner.advise_parameters("patients")
    check("k:" in runner.get_yaml(), "advise_parameters set no k")
    runner.run(jobs_to_run=[JobKind.standard])
    wait_for(runner, [JobKind.standard])
    check(len(runner.shuffled("patients")) == len(df), "wrong row count after the advice")


def every_way_to_read_results(ctx: Context) -> None:
    """get_all_results, get_specific_result, the PIA report, on two linked tables."""
    from avatars.models import JobKind

    runner, people, stays = run_linked(ctx, "scripts-results", 13, 50, None)
    results = runner.get_all_results()
    for table, source in (("patient", people), ("visit", stays)):
        check(table in results.shuffled, f"get_all_results: no shuffled {table}")
        same_frame(results.shuffled[table], runner.shuffled(table), f"{table} shuffled")
        check(len(results.sensitive_unshuffled[table]) == len(source), f"{table}: unshuffled rows")
        check(results.privacy_metrics[table] == runner.privacy_metrics(table), f"{table}: privacy metrics differ")
        check(results.signal_metrics[table] == runner.signal_metrics(table), f"{table}: signal metrics differ")
    # every visit's patient is a synthetic patient
    avatar_ids = set(runner.sensitive_unshuffled("patient")["patient_id"])
    linked = set(runner.sensitive_unshuffled("visit")["patient_id"])
    check(linked <= avatar_ids, f"visits point to unknown patients: {sorted(linked - avatar_ids)[:5]}")
    specific = needs(runner, "get_specific_result")
    one = specific("visit", JobKind.standard, "shuffled")
    same_frame(one, runner.shuffled("visit"), "get_specific_result")
    check(specific("visit", JobKind.privacy_metrics, "privacy_metrics") == runner.privacy_metrics("visit"), "privacy")
    for report_type in ("basic", "pia"):
        target = ctx.workdir / f"{report_type}-report.pdf"
        runner.download_report(str(target), report_type=report_type)
        written = [p for p in ctx.workdir.iterdir() if p.name.endswith(f"{report_type}-report.pdf")]
        check(bool(written) and all(p.stat().st_size > 0 for p in written), f"{report_type} report: {written}")


def page_text(page: Any) -> str:
    """A figure page as text (the SDK gives ``IPython.display.HTML``, ``avatars`` a ``str``)."""
    return str(getattr(page, "data", page))


def projections_figures_and_summaries(ctx: Context) -> None:
    """projections, figures and render_plot, run metadata, the metrics summaries and
    metrics_summary, on two linked tables."""
    from avatars.models import JobKind

    kinds = [JobKind.standard, JobKind.signal_metrics, JobKind.privacy_metrics]
    runner, people, stays = run_linked(ctx, "scripts-figures", 17, 40, kinds)

    # projections: the numeric columns that were synthesized (no key), standardized
    projections = needs(runner, "projections")
    for table, source, dims in (("patient", people, 2), ("visit", stays, 1)):
        original, avatars = projections(table)
        names = [f"Dim.{i + 1}" for i in range(dims)]
        check(list(original.columns) == names and list(avatars.columns) == names, f"{table}: {list(original.columns)}")
        check(len(original) == len(source) and len(avatars) == len(source), f"{table}: projection rows")
        for column in names:
            mean, std = float(original[column].mean()), float(original[column].std(ddof=0))
            check(abs(mean) < 1e-3 and abs(std - 1) < 1e-3, f"{table} {column}: mean {mean}, std {std}")
            # avatars are convex combinations of original rows: inside their range
            low, high = float(original[column].min()), float(original[column].max())
            inside = avatars[column].between(low - 1e-6, high + 1e-6).all()
            check(bool(inside), f"{table} {column}: avatars outside [{low}, {high}]")

    # figures: pages per plot kind, tied to their table
    figures = runner.get_specific_result("patient", JobKind.standard, "figures")
    made = {text(kind): pages for kind, pages in figures.items()}
    check(len(made.get("distribution", [])) == 4, f"patient distributions: {len(made.get('distribution', []))}")
    for kind in ("aggregate_stats", "correlation", "correlation_difference", "contribution", "2d_projection"):
        check(len(made.get(kind, [])) == 1, f"patient figures: no {kind} in {sorted(made)}")
    check("<svg" in page_text(made["2d_projection"][0]), "2d_projection: no SVG")
    check("<th>age</th>" in page_text(made["aggregate_stats"][0]), "aggregate_stats: no age row")
    visit = runner.get_specific_result("visit", JobKind.standard, "figures")
    check(len(visit.get("distribution", [])) == 1, f"visit figures: {sorted(text(k) for k in visit)}")
    rendered = runner.render_plot("patient", "2d_projection")  # no browser; the SDK displays, ours returns
    if not is_platform_sdk():
        check(rendered == [page_text(made["2d_projection"][0])], "render_plot: not the 2d_projection page")
        runner.render_plot("visit", "distribution", directory=str(ctx.workdir))
        check((ctx.workdir / "visit_distribution_0.html").is_file(), "render_plot: no file written")

    # run metadata of the standard job
    metadata = runner.get_specific_result("patient", JobKind.standard, "run_metadata")
    if metadata or not sdk_bug("1.25 answers {} for run_metadata and never downloads it"):
        dims = metadata["tables"]["patient"]["projection_dimensions"]
        check(dims == {"Dim.1": "age", "Dim.2": "weight"}, f"run_metadata: {dims}")

    # summaries: one meta-metric per table, from that table's metrics
    privacy = runner.render_privacy_metrics_summary()
    signal = runner.render_signal_metrics_summary()
    for table in ("patient", "visit"):
        hidden = runner.privacy_metrics(table)[0]["hidden_rate"]
        check(privacy[table] == {"standalone": round(100 * hidden, 4)}, f"{table} privacy summary: {privacy}")
        hellinger = runner.signal_metrics(table)[0]["hellinger_distance"]
        check(signal[table] == {"standalone": round(100 * (1 - hellinger), 4)}, f"{table} signal summary: {signal}")
    frame = runner.metrics_summary()
    check(sorted(frame.index) == ["patient", "visit"], f"metrics_summary index: {list(frame.index)}")
    check(
        sorted(frame.columns) == [("standalone", "privacy"), ("standalone", "signal")],
        f"columns: {list(frame.columns)}",
    )
    value = float(frame.loc["visit", ("standalone", "signal")])
    check(value == signal["visit"]["standalone"] and 0 <= value <= 100, f"metrics_summary: {value}")
    if not is_platform_sdk():  # the SDK cannot read the per-table meta-metrics
        items = runner.get_specific_result("visit", JobKind.privacy_metrics, "meta_privacy_metric")
        check(items[0]["meta_metric"] == privacy["visit"]["standalone"], f"meta_privacy_metric: {items}")


def yaml_export_and_reimport(ctx: Context) -> None:
    """get_yaml(path) -> create_runner_from_yaml -> upload_file -> run: the same avatars."""
    from avatars.models import JobKind

    df = patients(70)
    first = ctx.manager.create_runner(set_name="scripts-yaml", seed=21)
    first.add_table("patients", df, primary_key="patient_id")
    first.set_parameters("patients", k=7, ncp=2)
    path = ctx.workdir / "set.yaml"
    first.get_yaml(str(path))
    check(path.is_file() and "AvatarParameters" in path.read_text(), "get_yaml(path) wrote no parameters")
    first.run(jobs_to_run=[JobKind.standard])
    wait_for(first, [JobKind.standard])
    again = ctx.manager.create_runner_from_yaml(str(path), "scripts-yaml-again")
    check(list(again.config.tables) == ["patients"], f"tables read back: {list(again.config.tables)}")
    check("k: 7" in again.get_yaml(), "the parameters were not read back")
    needs(again, "upload_file")("patients", df)
    if sdk_bug("from_yaml() replaces runner.config but not the job launcher's copy, so run() sees no k"):
        return
    again.run(jobs_to_run=[JobKind.standard])
    wait_for(again, [JobKind.standard])
    same_frame(again.shuffled("patients"), first.shuffled("patients"), "same seed, same set")


def metrics_on_given_avatars(ctx: Context) -> None:
    """avatar_data given by the user: only the metrics jobs run."""
    from avatars.models import JobKind

    df = patients(60)
    made = run_one_table(ctx, "scripts-avatar-data-source", df, 1, [JobKind.standard, JobKind.signal_metrics], k=5)
    given = made.sensitive_unshuffled("patients")
    expected_signal = made.signal_metrics("patients")
    runner = ctx.manager.create_runner(set_name="scripts-avatar-data", seed=1)
    runner.add_table("patients", df, primary_key="patient_id", avatar_data=given)
    runner.set_parameters("patients", k=5)
    runner.run(jobs_to_run=[JobKind.privacy_metrics, JobKind.signal_metrics])
    wait_for(runner, [JobKind.privacy_metrics, JobKind.signal_metrics])
    privacy = runner.privacy_metrics("patients")
    check(len(privacy) == 1 and "hidden_rate" in privacy[0], f"privacy metrics: {privacy}")
    check(runner.signal_metrics("patients") == expected_signal, "signal metrics of the same avatars differ")


def rerun_status_and_delete(ctx: Context) -> None:
    """run twice (a new set each time), get_status by kind and by name, delete the jobs."""
    from avatars.models import JobKind

    df = patients(40)
    runner = run_one_table(ctx, "scripts-rerun", df, 2, [JobKind.standard], k=4)
    first_set = runner.set_name
    first = runner.shuffled("patients")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ignore_warnings=True: no warning about the earlier results
        runner.run(jobs_to_run=[JobKind.standard], ignore_warnings=True)
        wait_for(runner, [JobKind.standard])
    check(runner.set_name != first_set, "a second run kept the first set")
    same_frame(runner.shuffled("patients"), first, "same seed, same avatars")
    check(runner.get_status("standard") == "finished", "get_status('standard')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the older keyword
        check(runner.get_status(job_name=JobKind.standard) == "finished", "get_status(job_name=)")
    job_name = runner.get_job(JobKind.standard).name
    deleted = runner.delete()
    check([j.name for j in deleted.deleted_jobs] == [job_name], f"deleted {deleted.deleted_jobs}")
    check(not deleted.failed_jobs, f"failed to delete {deleted.failed_jobs}")
    left = ctx.manager.get_last_jobs(count=20, name="scripts-rerun")
    check(job_name not in left, "the deleted job is still listed")


def statuses_and_cancel(ctx: Context) -> None:
    """statuses() of a whole run; cancelling a run that has ended sends nothing and returns []."""
    from avatars.models import JobKind

    kinds = [JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics]
    runner = run_one_table(ctx, "scripts-cancel", patients(30), 3, kinds, k=3)
    statuses = needs(runner, "statuses")()
    check(
        {text(k): text(v) for k, v in statuses.items()}
        == {"standard": "finished", "privacy_metrics": "finished", "signal_metrics": "finished"},
        f"statuses(): {statuses}",
    )
    check(needs(runner, "cancel")() == [], "cancel() of an ended run")
    check(needs(runner, "cancel")(JobKind.standard) == [], "cancel(standard) of an ended job")
    check(needs(ctx.manager, "cancel_job")("scripts-cancel") == [], "manager.cancel_job of an ended run")
    check(needs(ctx.manager, "cancel_job_by_id")(runner.set_name) == [], "cancel_job_by_id of an ended run")
    check(runner.get_status(JobKind.standard) == "finished", "the cancels changed a job")


def a_failed_job_shows_its_cause(ctx: Context) -> None:
    """k larger than the table: the standard job fails; reading its results says why."""
    from avatars.models import JobKind

    runner = ctx.manager.create_runner(set_name="scripts-failure", seed=1)
    runner.add_table("patients", patients(3), primary_key="patient_id")
    runner.set_parameters("patients", k=5)
    runner.run(jobs_to_run=[JobKind.standard, JobKind.privacy_metrics])
    deadline = time.monotonic() + 30
    while text(runner.get_status(JobKind.privacy_metrics)) not in ("error", "parent_error"):
        check(time.monotonic() < deadline, "the failing jobs did not end")
        time.sleep(0.05)
    check(text(runner.get_status(JobKind.standard)) == "error", "the standard job did not fail")
    cause = "larger than its 3 rows"  # the local server's message for this mistake
    for read, label in ((runner.shuffled, "shuffled"), (runner.privacy_metrics, "privacy_metrics")):
        try:
            read("patients")
        except Exception as exc:  # the SDK raises ValueError, avatars JobFailedError
            message = str(exc)
        else:
            raise AssertionError(f"{label}() of a failed job returned")
        if label == "privacy_metrics" and sdk_bug("a dependant's error names its parent, not the cause"):
            check("parent" in message, f"{label}: {message}")
            continue
        check(cause in message, f"{label}() does not say why: {message}")


def manager_history_and_deletion(ctx: Context) -> None:
    """get_last_jobs, get_last_results, delete_job (by display name), delete_jobs (by job names)."""
    from avatars.models import JobKind

    names = {}
    for display in ("scripts-history-a", "scripts-history-b"):
        runner = run_one_table(ctx, display, patients(30), 4, [JobKind.standard], k=3)
        names[display] = runner.get_job(JobKind.standard).name
    last = ctx.manager.get_last_jobs(count=1)
    check(list(last) == [names["scripts-history-b"]], f"get_last_jobs(1): {list(last)}")
    two = ctx.manager.get_last_jobs(count=2)
    # the order among them is the server's (the SDK keeps it): compare as sets
    check(set(two) == set(names.values()), f"get_last_jobs(2): {list(two)}")
    by_name = ctx.manager.get_last_jobs(count=5, name="scripts-history-a")
    check(list(by_name) == [names["scripts-history-a"]], f"get_last_jobs(name=): {list(by_name)}")
    check(all(j.display_name == "scripts-history-a" for j in by_name.values()), "display names")
    results = ctx.manager.get_last_results(count=2)
    check(len(results) == 2, f"get_last_results(2): {len(results)} results")
    deleted = ctx.manager.delete_job("scripts-history-a")
    check([j.name for j in deleted.deleted_jobs] == [names["scripts-history-a"]], f"delete_job: {deleted}")
    check(not ctx.manager.get_last_jobs(count=5, name="scripts-history-a"), "delete_job left jobs")
    deleted = ctx.manager.delete_jobs([names["scripts-history-b"]])
    check([j.name for j in deleted.deleted_jobs] == [names["scripts-history-b"]], f"delete_jobs: {deleted}")


def runner_from_a_stored_run(ctx: Context) -> None:
    """create_runner_from_id / create_runner_from_name: read a run's results without running again."""
    from avatars.models import JobKind

    runner = run_one_table(ctx, "scripts-stored", patients(40), 8, [JobKind.standard, JobKind.privacy_metrics], k=4)
    original = runner.shuffled("patients")
    privacy = runner.privacy_metrics("patients")
    by_id = needs(ctx.manager, "create_runner_from_id")(runner.set_name)
    same_frame(by_id.shuffled("patients"), original, "create_runner_from_id")
    check(by_id.privacy_metrics("patients") == privacy, "create_runner_from_id: privacy metrics differ")
    by_name = needs(ctx.manager, "create_runner_from_name")("scripts-stored")
    check(str(by_name.set_name) == str(runner.set_name), f"create_runner_from_name: set {by_name.set_name}")


def password_login(ctx: Context) -> None:
    """Manager without an API key, then authenticate(username, password)."""
    from avatars.manager import Manager

    if ctx.api_version != 2:
        raise Skip("platform API 3.x authenticates with API keys only (no POST /login)")
    needs(Manager, "authenticate")
    if is_platform_sdk():
        # the SDK's login sends a masked password (a known bug of the SDK, not copied here)
        raise Skip(f"{which_avatars()}: its authenticate() sends a masked password (SDK bug)")
    manager = Manager(base_url=ctx.base_url)
    manager.authenticate(ctx.username, ctx.password)
    check(isinstance(manager.get_last_jobs(count=1), dict), "get_last_jobs after a password login")


SCENARIOS: List[Callable[[Context], None]] = [
    csv_path_types_and_dropped_columns,
    everyday_parameters,
    differential_privacy,
    data_augmentation,
    pseudonymized_columns,
    time_series,
    advice_then_run,
    every_way_to_read_results,
    projections_figures_and_summaries,
    yaml_export_and_reimport,
    metrics_on_given_avatars,
    rerun_status_and_delete,
    statuses_and_cancel,
    a_failed_job_shows_its_cause,
    manager_history_and_deletion,
    runner_from_a_stored_run,
    password_login,
]


def run_scenarios(ctx: Context, only: Optional[List[str]] = None) -> Dict[str, int]:
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for scenario in SCENARIOS:
        if only and scenario.__name__ not in only:
            continue
        started = time.monotonic()
        try:
            scenario(ctx)
        except Skip as skip:
            outcome, detail = "SKIP", str(skip)
        except Exception as exc:  # a scenario's failure is reported, the others still run
            outcome = "FAIL"
            detail = f"{type(exc).__name__}: {exc}"
            if os.environ.get("SCRIPTS_TRACEBACK"):
                traceback.print_exc()
        else:
            outcome, detail = "PASS", ""
        counts[outcome] += 1
        took = f" ({time.monotonic() - started:.1f} s)"
        print(f"{outcome} {scenario.__name__}{took}" + (f": {detail}" if detail else ""), flush=True)
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-python", help="start avatars serve from this Python (one with avatars[server])")
    parser.add_argument(
        "--api-version",
        type=int,
        choices=(2, 3),
        action="append",
        help="the server acts as platform API 2.90 or 3.x (repeat to run against both; default 2)",
    )
    parser.add_argument("--base-url", default=os.environ.get("AVATAR_BASE_API_URL"))
    parser.add_argument("--api-key", default=os.environ.get("AVATAR_API_KEY"))
    parser.add_argument("--username", default=os.environ.get("AVATAR_USERNAME", ""))
    parser.add_argument("--password", default=os.environ.get("AVATAR_PASSWORD", ""))
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    if not args.server_python and not (args.base_url and args.api_key):
        parser.error("give --server-python, or --base-url and --api-key")
    failures = 0
    for api_version in args.api_version or [2]:
        print(f"scripts with {which_avatars()}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            os.chdir(workdir)  # the platform SDK writes crash reports to the working directory
            try:
                if args.server_python:
                    info = start_server(args.server_python, workdir, api_version, job_step_seconds=0.01)
                    base_url, api_key = info["base URL"], info["API key"]
                    username, password = info.get("username", ""), info.get("password", "")
                else:
                    base_url, api_key, username, password = args.base_url, args.api_key, args.username, args.password
                print(f"server: {base_url} (API {api_version})", flush=True)
                counts = run_scenarios(Context(base_url, api_key, username, password, workdir, api_version), args.only)
            finally:
                stop_servers()
        print(f"API {api_version}: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
        failures += counts["FAIL"]
    return failures


if __name__ == "__main__":
    sys.exit(main())
