"""The LOCAL STAND-IN's other result files: projections, figures, summaries, run metadata.

What the local server writes besides the tables and the per-table metrics
(:mod:`.platform_flow`), each listed by ``GET /results/{job}`` under the
platform SDK's result kind, all computed from the job's real data:

``original_projections`` / ``avatar_projections`` (``standard`` job)
    ``<table>.projections.original.csv`` / ``<table>.projections.avatars.csv``:
    the coordinates the stand-in really works in (:func:`.avatarize.coordinates`:
    the original's numeric columns standardized with the original's means and
    stds), one column per numeric column, named ``Dim.1``, ``Dim.2``... in the
    table's column order (``run_metadata`` says which column each one is).  The
    original rows are in their order; the avatar rows are in the order of the
    ``shuffled`` file (never the original order: that would give away which
    avatar came from which row).
``figures`` / ``figures_metadata`` (``standard`` job, unless ``compute_figures: false``)
    one small self-contained HTML page (inline SVG or a table, no script, no
    network) per plot and ``figures_metadata.json``, a list of ``{"filename",
    "kind", "table_name"}`` that ties each page to its table and plot kind:
    ``aggregate_stats`` (mean and std of the first 10 numeric columns),
    ``correlation`` and ``correlation_difference`` (Pearson correlations in the
    stand-in's space, first 20 numeric columns), ``contribution`` (each
    column's share of the variance of that space), ``2d_projection`` and
    ``3d_projection`` (the first two or three dimensions, at most 1,000
    points per series, evenly spaced rows; 3-D only with three numeric
    columns), and one ``distribution`` page per column (at most
    ``results.max_distribution_plots`` of them, default 10).  Not produced:
    ``raw_series``, ``normalized_series``, ``class_projection_2d`` and
    ``metrics_summary`` (the stand-in has no time series, no class balancing).
``meta_privacy_metric`` / ``meta_signal_metric`` and the summaries (metrics jobs)
    one number per table and reference, 0 to 100, higher is better: privacy
    ``100 * hidden_rate``, signal ``100 * (1 - hellinger_distance)``; the only
    reference is ``standalone`` (each table on its own).
    ``<table>.meta_privacy_metric.json`` is ``[{"metadata": {"table_name",
    "reference"}, "meta_metric": value}]``; with two tables or more,
    ``privacy_metrics_summary.json`` / ``signal_metrics_summary.json`` is
    ``{table: {reference: value}}``, as the platform SDK reads it.
``run_metadata`` (every job)
    ``run_metadata.json``: what the job ran on (parameters name, kind, seed,
    per table rows, ``k``, the projection dimensions...), with the stand-in
    notice.
"""

from __future__ import annotations

import html
import json
import math
import statistics
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..documents.files import escape_table_name, result_file_name
from .avatarize import STAND_IN_NOTICE, Table, _histogram, _parse_float

__all__ = [
    "PLOT_KINDS",
    "DEFAULT_MAX_DISTRIBUTION_PLOTS",
    "REFERENCE",
    "Output",
    "projection_files",
    "figure_files",
    "meta_metric",
    "meta_files",
    "summary_file",
    "run_metadata_file",
]

#: (result kind, table, file name, content, content type)
Output = Tuple[str, str, str, bytes, str]
Points = Sequence[Tuple[float, ...]]

PLOT_KINDS = (
    "aggregate_stats",
    "correlation",
    "correlation_difference",
    "contribution",
    "2d_projection",
    "3d_projection",
    "distribution",
)
DEFAULT_MAX_DISTRIBUTION_PLOTS = 10
REFERENCE = "standalone"
MAX_POINTS = 1_000
_STATS_COLUMNS = 10
_CORRELATION_COLUMNS = 20
_LEVELS = 20
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"


def _dims(names: Sequence[str]) -> Dict[str, str]:
    return {f"Dim.{i + 1}": name for i, name in enumerate(names)}


def _points_csv(names: Sequence[str], points: Points) -> bytes:
    lines = [",".join(_dims(names))]
    lines.extend(",".join(f"{v:.6f}" for v in point) for point in points)
    return ("\n".join(lines) + "\n").encode("utf-8")


def projection_files(table: str, names: Sequence[str], original: Points, avatars: Points) -> List[Output]:
    """The two projection CSV files of ``table`` (``avatars`` in the shuffled order)."""
    return [
        (
            "original_projections",
            table,
            result_file_name(table, "original_projections"),
            _points_csv(names, original),
            "text/csv",
        ),
        (
            "avatar_projections",
            table,
            result_file_name(table, "avatar_projections"),
            _points_csv(names, avatars),
            "text/csv",
        ),
    ]


# ------------------------------------------------------------------ figures


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        ".notice{color:#666;font-size:small}.o{fill:#1f77b4}.a{fill:#ff7f0e}</style></head><body>"
        f"<h2>{html.escape(title)}</h2>{body}"
        f'<p class="notice">{html.escape(STAND_IN_NOTICE)}</p>'
        '<p class="notice"><span style="color:#1f77b4">&#9632; original</span> '
        '<span style="color:#ff7f0e">&#9632; avatars</span></p></body></html>\n'
    ).encode()


def _num(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _column(points: Points, d: int) -> List[float]:
    return [p[d] for p in points]


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    n = len(a)
    if n < 2:
        return 0.0
    ma, mb = math.fsum(a) / n, math.fsum(b) / n
    sab = math.fsum((x - ma) * (y - mb) for x, y in zip(a, b))
    saa = math.fsum((x - ma) ** 2 for x in a)
    sbb = math.fsum((y - mb) ** 2 for y in b)
    return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else 0.0


def _correlations(points: Points, width: int) -> List[List[float]]:
    cols = [_column(points, d) for d in range(width)]
    out = [[1.0] * width for _ in range(width)]
    for i in range(width):
        for j in range(i + 1, width):
            out[i][j] = out[j][i] = _pearson(cols[i], cols[j])
    return out


def _heat(value: float) -> str:
    """A background colour for a value in [-1, 1] (red positive, blue negative)."""
    strength = int(255 * (1 - min(1.0, abs(value))))
    return f"rgb(255,{strength},{strength})" if value >= 0 else f"rgb({strength},{strength},255)"


def _heatmap(caption: str, names: Sequence[str], matrix: List[List[float]]) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{html.escape(names[i])}</th>"
        + "".join(f'<td style="background:{_heat(v)}">{v:.3f}</td>' for v in row)
        + "</tr>"
        for i, row in enumerate(matrix)
    )
    return f"<table><caption>{html.escape(caption)}</caption><tr><th></th>{head}</tr>{rows}</table>"


def _sample(points: Points) -> Points:
    step = max(1, math.ceil(len(points) / MAX_POINTS))
    return points[::step]


def _scatter(original: Points, avatars: Points, project: Any) -> str:
    """An SVG scatter of both point sets, ``project(point) -> (x, y)``, scaled to fit."""
    drawn = [(cls, project(p)) for cls, pts in (("o", _sample(original)), ("a", _sample(avatars))) for p in pts]
    xs = [x for _, (x, _) in drawn] or [0.0]
    ys = [y for _, (_, y) in drawn] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = 380 / (x1 - x0) if x1 > x0 else 0.0
    sy = 380 / (y1 - y0) if y1 > y0 else 0.0
    circles = "".join(
        f'<circle class="{cls}" cx="{10 + (x - x0) * sx:.1f}" cy="{390 - (y - y0) * sy:.1f}" r="2" fill-opacity="0.5"/>'
        for cls, (x, y) in drawn
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">{circles}</svg>'


def _bars(labels: Sequence[str], pairs: Sequence[Tuple[float, float]]) -> str:
    """Paired horizontal bars (original, avatars) per label, lengths in [0, 1]."""
    rows = []
    for i, (label, (o, a)) in enumerate(zip(labels, pairs)):
        y = 14 * 2 * i
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="10">{html.escape(label[:24])}</text>'
            f'<rect class="o" x="150" y="{y + 2}" width="{250 * o:.1f}" height="10"/>'
            f'<rect class="a" x="150" y="{y + 14}" width="{250 * a:.1f}" height="10"/>'
        )
    height = 28 * len(rows) + 4
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="420" height="{height}">{"".join(rows)}</svg>'


def _distribution(original: Table, avatars: Table, column: str) -> str:
    o_col, a_col = original.columns.index(column), avatars.columns.index(column)
    o_texts = [r[o_col] for r in original.rows]
    a_texts = [r[a_col] for r in avatars.rows]
    o_num = [_parse_float(t) for t in o_texts if t != ""]
    a_num = [_parse_float(t) for t in a_texts if t != ""]
    if o_num and all(v is not None for v in o_num + a_num):
        o = [v for v in o_num if v is not None]
        a = [v for v in a_num if v is not None]
        lo, hi = min(o + a), max(o + a)
        po, pa = _histogram(o, lo, hi, 10), _histogram(a, lo, hi, 10)
        width = (hi - lo) / 10
        labels = [f"{lo + i * width:.4g} to {lo + (i + 1) * width:.4g}" for i in range(10)]
        return _bars(labels, list(zip(po, pa)))
    o_counts, a_counts = Counter(o_texts), Counter(a_texts)
    levels = sorted(o_counts, key=lambda v: (-o_counts[v], v))[:_LEVELS]  # the most frequent originals
    n_o, n_a = len(o_texts) or 1, len(a_texts) or 1
    return _bars(levels, [(o_counts[v] / n_o, a_counts[v] / n_a) for v in levels])


def figure_files(
    table: str,
    original: Table,
    avatars: Table,
    names: Sequence[str],
    original_points: Points,
    avatar_points: Points,
    *,
    max_distribution_plots: Optional[int] = None,
) -> Tuple[List[Output], List[Dict[str, str]]]:
    """The figure pages of one table and their ``figures_metadata`` entries.

    ``original`` and ``avatars`` are the table's columns that were synthesized
    (no identifier); ``names`` and the points are :func:`.avatarize.coordinates`.
    """
    pages: List[Tuple[str, str, str, str]] = []  # (kind, file name, title, body)
    stem = escape_table_name(table)
    dims = len(names)
    o_cols = [_column(original_points, d) for d in range(dims)]
    a_cols = [_column(avatar_points, d) for d in range(dims)]

    # aggregate_stats: in the columns' own units, from the real values
    stats_rows = []
    for name in names[:_STATS_COLUMNS]:
        values = []
        for source in (original, avatars):
            index = source.columns.index(name)
            numbers = [v for v in (_parse_float(r[index]) for r in source.rows if r[index] != "") if v is not None]
            values.append(
                (
                    statistics.fmean(numbers) if numbers else None,
                    statistics.pstdev(numbers) if len(numbers) > 1 else None,
                )
            )
        (om, osd), (am, asd) = values
        stats_rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{_num(om)}</td><td>{_num(am)}</td>"
            f"<td>{_num(osd)}</td><td>{_num(asd)}</td></tr>"
        )
    pages.append(
        (
            "aggregate_stats",
            f"{stem}.aggregate_stats.html",
            "mean and std",
            "<table><tr><th>column</th><th>original mean</th><th>avatars mean</th>"
            f"<th>original std</th><th>avatars std</th></tr>{''.join(stats_rows)}</table>",
        )
    )

    width = min(dims, _CORRELATION_COLUMNS)
    corr_o = _correlations(original_points, width)
    corr_a = _correlations(avatar_points, width)
    shown = list(names[:width])
    pages.append(
        (
            "correlation",
            f"{stem}.correlation.html",
            "correlations",
            _heatmap("original", shown, corr_o) + "<br>" + _heatmap("avatars", shown, corr_a),
        )
    )
    difference = [[a - o for o, a in zip(ro, ra)] for ro, ra in zip(corr_o, corr_a)]
    pages.append(
        (
            "correlation_difference",
            f"{stem}.correlation_difference.html",
            "correlation difference",
            _heatmap("avatars minus original", shown, difference),
        )
    )

    variances = [statistics.pvariance(c) if len(c) > 1 else 0.0 for c in o_cols]
    total = math.fsum(variances) or 1.0
    a_variances = [statistics.pvariance(c) if len(c) > 1 else 0.0 for c in a_cols]
    a_total = math.fsum(a_variances) or 1.0
    pages.append(
        (
            "contribution",
            f"{stem}.contribution.html",
            "contribution",
            "<p>Share of the variance of the stand-in's space per column.</p>"
            + _bars(list(names), [(v / total, w / a_total) for v, w in zip(variances, a_variances)]),
        )
    )

    def flat(p: Tuple[float, ...]) -> Tuple[float, float]:
        return (p[0], p[1] if dims > 1 else 0.0)

    pages.append(
        (
            "2d_projection",
            f"{stem}.2d_projection.html",
            "Dim.1 and Dim.2",
            _scatter(original_points, avatar_points, flat),
        )
    )
    if dims >= 3:
        cos30, sin30 = math.cos(math.pi / 6), 0.5

        def oblique(p: Tuple[float, ...]) -> Tuple[float, float]:
            return ((p[0] - p[1]) * cos30, p[2] + (p[0] + p[1]) * sin30)

        pages.append(
            (
                "3d_projection",
                f"{stem}.3d_projection.html",
                "Dim.1 to Dim.3",
                _scatter(original_points, avatar_points, oblique),
            )
        )

    limit = DEFAULT_MAX_DISTRIBUTION_PLOTS if max_distribution_plots is None else max(0, int(max_distribution_plots))
    for index, column in enumerate(original.columns[:limit]):
        pages.append(
            (
                "distribution",
                f"{stem}.distribution.{index}.html",
                f"distribution of {column}",
                _distribution(original, avatars, column),
            )
        )

    outputs: List[Output] = []
    metadata: List[Dict[str, str]] = []
    for kind, filename, title, body in pages:
        outputs.append(("figures", table, filename, _page(f"{table}: {title}", body), _HTML))
        metadata.append({"filename": filename, "kind": kind, "table_name": table})
    return outputs, metadata


def figures_metadata_file(metadata: List[Dict[str, str]]) -> Output:
    return ("figures_metadata", "", "figures_metadata.json", _json(metadata), _JSON)


# ------------------------------------------------------------------ metrics summaries

_META = {
    "privacy_metrics": ("meta_privacy_metric", "privacy_metrics_summary", "100 * hidden_rate"),
    "signal_metrics": ("meta_signal_metric", "signal_metrics_summary", "100 * (1 - hellinger_distance)"),
}


def meta_metric(kind: str, values: Dict[str, Any]) -> Optional[float]:
    """The stand-in's meta-metric of one table (0 to 100, higher is better), or None."""
    key = "hidden_rate" if kind == "privacy_metrics" else "hellinger_distance"
    value = values.get(key)
    if not isinstance(value, (int, float)):
        return None
    return round(100 * (value if kind == "privacy_metrics" else 1 - value), 4)


def meta_files(kind: str, per_table: Dict[str, Dict[str, Any]]) -> List[Output]:
    """``<table>.meta_*_metric.json`` for every table, then the summary when there are several."""
    meta_kind, summary_kind, formula = _META[kind]
    outputs: List[Output] = []
    summary: Dict[str, Dict[str, Optional[float]]] = {}
    for table, values in per_table.items():
        value = meta_metric(kind, values)
        summary[table] = {REFERENCE: value}
        item = {"metadata": {"table_name": table, "reference": REFERENCE}, "meta_metric": value, "formula": formula}
        outputs.append((meta_kind, table, result_file_name(table, meta_kind), _json([item]), _JSON))
    if len(per_table) >= 2:
        outputs.append(summary_file(summary_kind, summary))
    return outputs


def summary_file(summary_kind: str, summary: Dict[str, Dict[str, Optional[float]]]) -> Output:
    return (summary_kind, "", f"{summary_kind}.json", _json(summary), _JSON)


def run_metadata_file(metadata: Dict[str, Any]) -> Output:
    content = {"stand_in": True, "notice": STAND_IN_NOTICE, **metadata}
    return ("run_metadata", "", "run_metadata.json", _json(content), _JSON)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")
