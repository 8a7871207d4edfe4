"""The names the platform's resource documents use: document kinds and the
enumerated values of their fields (as the platform's ``avatar_yaml`` package
spells them)."""

from __future__ import annotations

from enum import Enum

__all__ = [
    "AdviceType",
    "AlignmentMethod",
    "AugmentationStrategy",
    "ColumnType",
    "DocumentKind",
    "ExcludeVariablesMethod",
    "ImputeMethod",
    "LinkMethod",
    "OutputFormat",
    "ProjectionType",
    "ReportLanguage",
    "ReportType",
]


class _Named(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class DocumentKind(_Named):
    """The ``kind`` of each document of a resource set."""

    metadata = "AvatarMetadata"
    volume = "AvatarVolume"
    schema = "AvatarSchema"
    parameters = "AvatarParameters"
    privacy_metrics = "AvatarPrivacyMetricsParameters"
    signal_metrics = "AvatarSignalMetricsParameters"
    report = "AvatarReportParameters"
    advice = "AvatarAdviceParameters"


class ColumnType(_Named):
    """A column's type in an ``AvatarSchema`` (``NUMERIC`` is written ``float``)."""

    INT = "int"
    BOOL = "bool"
    CATEGORY = "category"
    NUMERIC = "float"
    DATETIME = "datetime"
    DATETIME_TZ = "datetime_tz"


class LinkMethod(_Named):
    """How child rows are given to parent rows after avatarization."""

    LINEAR_SUM_ASSIGNMENT = "linear_sum_assignment"
    MINIMUM_DISTANCE_ASSIGNMENT = "minimum_distance_assignment"
    #: keeps the original order: a privacy breach, for tests only
    SENSITIVE_ORIGINAL_ORDER_ASSIGNMENT = "sensitive_original_order_assignment"
    TIME_SERIES = "time_series"


class ExcludeVariablesMethod(_Named):
    """How excluded variables are put back after avatarization."""

    #: keeps the original row order: a privacy breach
    ROW_ORDER = "row_order"
    COORDINATE_SIMILARITY = "coordinate_similarity"


class ImputeMethod(_Named):
    KNN = "knn"
    MODE = "mode"
    MEDIAN = "median"
    MEAN = "mean"
    FAST_KNN = "fast_knn"


class ProjectionType(_Named):
    FPCA = "fpca"
    FLATTEN = "flatten"


class AlignmentMethod(_Named):
    SPECIFIED = "specified"
    MAX = "max"
    MIN = "min"
    MEAN = "mean"


class AugmentationStrategy(_Named):
    minority = "minority"
    not_majority = "not_majority"


class ReportType(_Named):
    BASIC = "basic"
    PIA = "pia"


class ReportLanguage(_Named):
    EN = "en"
    FR = "fr"


class OutputFormat(_Named):
    PDF = "pdf"
    DOCX = "docx"


class AdviceType(_Named):
    VARIABLES = "variables"
    PARAMETERS = "parameters"
    TABLES_LINKS = "tables_links"
