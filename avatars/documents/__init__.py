"""The platform's resource documents: typed builders, checks, YAML in and out.

:class:`ResourceSet` holds the documents of one set (``AvatarMetadata``,
``AvatarVolume``, the ``AvatarSchema`` of the tables and of their avatarized
versions, ``AvatarParameters``, ``AvatarPrivacyMetricsParameters``,
``AvatarSignalMetricsParameters``, ``AvatarReportParameters``,
``AvatarAdviceParameters``), checks them, writes them as the platform's SDK
does (:meth:`ResourceSet.to_yaml`) and reads them back
(:meth:`ResourceSet.from_yaml`).  Needs PyYAML (an install requirement).
"""

from __future__ import annotations

from ._kinds import (
    AdviceType,
    AlignmentMethod,
    AugmentationStrategy,
    ColumnType,
    DocumentKind,
    ExcludeVariablesMethod,
    ImputeMethod,
    LinkMethod,
    OutputFormat,
    ProjectionType,
    ReportLanguage,
    ReportType,
)
from ._schemas import DocumentError
from .pseudonymization import (
    ConstantStrategy,
    FakeDataStrategy,
    HashSha256Strategy,
    IntegerStrategy,
    PiiType,
    SpecificIdLetterCase,
    SpecificIdStrategy,
    Uuid4Strategy,
)
from .resource_set import INPUT_VOLUME, RESULTS_VOLUME, ResourceSet, check_name, report_name

__all__ = [
    "INPUT_VOLUME",
    "RESULTS_VOLUME",
    "AdviceType",
    "AlignmentMethod",
    "AugmentationStrategy",
    "ColumnType",
    "ConstantStrategy",
    "DocumentError",
    "DocumentKind",
    "ExcludeVariablesMethod",
    "FakeDataStrategy",
    "HashSha256Strategy",
    "ImputeMethod",
    "IntegerStrategy",
    "LinkMethod",
    "OutputFormat",
    "PiiType",
    "ProjectionType",
    "ReportLanguage",
    "ReportType",
    "ResourceSet",
    "SpecificIdLetterCase",
    "SpecificIdStrategy",
    "Uuid4Strategy",
    "check_name",
    "report_name",
]
