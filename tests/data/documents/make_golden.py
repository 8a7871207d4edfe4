"""Write the golden resource sets the platform's own ``avatar_yaml`` produces.

Run with the platform SDK's Python (``avatar_yaml`` needs Python >= 3.12)::

    /work/sdk/venv125/bin/python tests/data/documents/make_golden.py

Each scenario here is built again with ``avatars.documents.ResourceSet`` in
tests/unit/test_documents.py, which compares the two documents by meaning.
"""

from __future__ import annotations

import sys
from pathlib import Path

from avatar_yaml import Config
from avatar_yaml.models.advice import AdviceType
from avatar_yaml.models.parameters import ReportType
from avatar_yaml.models.schema import ColumnType, HashSha256Strategy

HERE = Path(__file__).parent


def single() -> Config:
    config = Config(set_name="single", seed=42)
    config.create_metadata({"client_type": "python"})
    config.create_table(
        "patients",
        "input",
        "patients.csv",
        primary_key="id",
        types={"id": ColumnType.INT, "age": ColumnType.NUMERIC, "sex": ColumnType.CATEGORY},
    )
    config.create_avatarization_parameters(
        "patients", k=10, ncp=2, column_weights={"age": 2.0}, imputation_method="knn", imputation_k=3
    )
    config.create_privacy_metrics_parameters(
        "patients",
        ncp=2,
        column_weights={"age": 2.0},
        imputation_method="knn",
        imputation_k=3,
        known_variables=["age"],
        target="sex",
    )
    config.create_signal_metrics_parameters(
        "patients", ncp=2, column_weights={"age": 2.0}, imputation_method="knn", imputation_k=3
    )
    config.create_report()
    config.create_report(ReportType.PIA)
    return config


def linked() -> Config:
    config = Config(set_name="linked", seed=7)
    config.create_metadata()
    config.create_table(
        "patients",
        "input",
        "patients.csv",
        primary_key="id",
        individual_level=True,
        types={"id": ColumnType.INT, "name": ColumnType.CATEGORY},
        columns_to_drop=["note"],
    )
    config.create_table(
        "visits",
        "input",
        "visits.csv",
        primary_key="vid",
        foreign_keys=["pid"],
        types={"when": ColumnType.DATETIME},
        individual_level=False,
    )
    config.create_link("patients", "visits", "id", "pid", "minimum_distance_assignment")
    config.create_avatarization_parameters(
        "patients",
        k=5,
        exclude_variable_names=["name"],
        exclude_variable_method="coordinate_similarity",
        pseudonymized_columns={"name": HashSha256Strategy()},
    )
    config.create_privacy_metrics_parameters(
        "patients", exclude_variable_names=["name"], exclude_variable_method="coordinate_similarity"
    )
    config.create_signal_metrics_parameters(
        "patients", exclude_variable_names=["name"], exclude_variable_method="coordinate_similarity"
    )
    config.create_avatarization_parameters("visits", k=3, use_categorical_reduction=True)
    config.create_privacy_metrics_parameters("visits", use_categorical_reduction=True)
    config.create_signal_metrics_parameters("visits", use_categorical_reduction=True)
    config.create_advice([AdviceType.PARAMETERS])
    return config


def dp_and_series() -> Config:
    config = Config(set_name="dp")
    config.create_metadata()
    config.create_table("a", "input", "a.csv")
    config.create_table("b", "input", "b.csv")
    config.create_table("series", "input", "series.csv", foreign_keys=["a_id"], time_series_time="t")
    config.create_avatarization_open_dp_parameters("a", epsilon=1.5)
    config.create_privacy_metrics_parameters("a")
    config.create_signal_metrics_parameters("a")
    config.create_avatarization_fast_dp_parameters("b", epsilon=0.5)
    config.create_privacy_metrics_parameters("b")
    config.create_signal_metrics_parameters("b")
    config.create_time_series_parameters("series", nf=3, projection_type="fpca", nb_points=10, method="mean")
    config.create_privacy_metrics_parameters("series")
    config.create_signal_metrics_parameters("series")
    return config


SCENARIOS = {"single": single, "linked": linked, "dp_and_series": dp_and_series}


def main() -> int:
    for name, build in SCENARIOS.items():
        (HERE / f"{name}.yaml").write_text(build().get_yaml())
    return 0


if __name__ == "__main__":
    sys.exit(main())
