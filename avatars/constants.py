"""The platform SDK's result and plot names, so that ``from avatars.constants import
Results, PlotKind`` works in a script written for it.

Both are ``str`` enums: a member and its plain value are interchangeable in every
:class:`~avatars.Runner` call that takes one.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Results", "PlotKind"]


class _Name(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class Results(_Name):
    """The result kinds of ``GET /results/{job}`` (the keys of its answer)."""

    ADVICE = "advice"
    SHUFFLED = "shuffled"
    UNSHUFFLED = "unshuffled"
    PRIVACY_METRICS = "privacy_metrics"
    SIGNAL_METRICS = "signal_metrics"
    REPORT_IMAGES = "report_images"
    PROJECTIONS_ORIGINAL = "original_projections"
    PROJECTIONS_AVATARS = "avatar_projections"
    METADATA = "run_metadata"
    REPORT = "report"
    META_PRIVACY_METRIC = "meta_privacy_metric"
    META_SIGNAL_METRIC = "meta_signal_metric"
    FIGURES = "figures"
    FIGURES_METADATA = "figures_metadata"
    PRIVACY_METRICS_SUMMARY = "privacy_metrics_summary"
    SIGNAL_METRICS_SUMMARY = "signal_metrics_summary"


class PlotKind(_Name):
    """The plot kinds of the ``figures`` of a ``standard`` job (:meth:`~avatars.Runner.render_plot`)."""

    CORRELATION = "correlation"
    CORRELATION_DIFFERENCE = "correlation_difference"
    CONTRIBUTION = "contribution"
    PROJECTION_2D = "2d_projection"
    PROJECTION_3D = "3d_projection"
    DISTRIBUTION = "distribution"
    AGGREGATE_STATS = "aggregate_stats"
    RAW_SERIES = "raw_series"
    NORMALIZED_SERIES = "normalized_series"
    CLASS_PROJECTION_2D = "class_projection_2d"
    METRICS_SUMMARY = "metrics_summary"
