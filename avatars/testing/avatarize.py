"""A LOCAL STAND-IN for the platform's computations, in pure Python.

Nothing here is the Avatar platform's avatarization method or its metrics.
These functions exist so that the local test server can run jobs end to end
and return plausible, honestly computed files. Every output says so.

Tables
    CSV with a header row, UTF-8. A column is *numeric* when it has at least
    one non-empty value and every non-empty value parses as a finite float;
    otherwise it is *categorical*. Empty cells are missing values. The table's
    ``primary_key`` column (if any) is left out of every computation. Tables
    above ``max_rows`` rows (default 20,000) are refused: the neighbour search
    is pure Python.

Stand-in synthesis (:func:`synthesize`, the ``standard`` job)
    1. Standardize the numeric columns: ``z = (x - mean) / std`` (population
       std; a constant column gets std 1; a missing value gets ``z = 0``).
    2. For each row, find its ``k`` nearest rows (the row itself included) by
       Euclidean distance in that standardized numeric space (exact k-d tree
       search; ties broken by row order).
    3. Draw weights ``w_j ~ Exp(1)`` for the ``k`` neighbours and normalize
       them (a flat Dirichlet draw) with a :class:`random.Random` seeded by
       the parameters' ``seed``. Each numeric value of the synthetic row is the
       convex combination ``sum(w_j * x_j)`` over the neighbours that have a
       value (weights renormalized; all missing -> missing), rounded to the
       column's largest number of decimals (integers stay integers).
    4. Each categorical value is drawn from the neighbours' values with
       probabilities ``w_j``, independently per column.
    5. The primary key column, if any, is refilled with ``1..n``; rows are
       shuffled. ``ncp`` is accepted and ignored (no projection is done).

    The job keeps, privately, the link "original row i -> synthetic row j".

Privacy metrics (:func:`privacy_metrics`)
    Distances are Euclidean in the ORIGINAL table's standardized numeric space
    (original means and stds; missing -> 0). For each original row ``i`` with
    its own synthetic row ``a(i)``:

    * ``d1(i)``, ``d2(i)``: distances to the closest and second closest
      synthetic rows; ``own(i)``: distance to ``a(i)``;
    * ``cloak(i)``: the number of synthetic rows strictly closer to ``i``
      than ``a(i)``.

    Reported: ``hidden_rate`` = share of original rows with ``cloak(i) > 0``
    (an attacker linking each row to its closest synthetic row would miss),
    as a fraction in [0, 1]; ``local_cloaking`` = median of ``cloak(i)``;
    ``distance_to_closest`` = median of ``d1(i)``; ``closest_distances_ratio``
    = median of ``d1(i) / d2(i)`` (1.0 when ``d2 = 0``).

Signal metrics (:func:`signal_metrics`)
    Per numeric column: mean and population std of the original and of the
    synthetic values. ``hellinger_distance`` per column: ``sqrt(1 - sum
    sqrt(p q))`` between histograms (numeric: 10 equal-width bins over the
    combined range; categorical: value frequencies); the top-level value is
    the mean over columns. ``correlation_difference``: mean absolute
    difference between the Pearson correlations of the original and of the
    synthetic numeric columns over all column pairs (a constant column has
    correlation 0; ``null`` with fewer than two numeric columns).

Advice (:func:`advise`)
    ``suggested_k = round(sqrt(n_rows) / 2)`` clamped to ``[3, 20]``, and to
    ``n_rows`` for tables with fewer rows.
"""

from __future__ import annotations

import csv
import heapq
import io
import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

STAND_IN_NOTICE = (
    "Computed by the avatars.testing LOCAL STAND-IN (k-nearest-neighbour convex "
    "combinations in pure Python). This is NOT the Avatar platform's avatarization "
    "method and these are NOT the platform's metrics."
)
DEFAULT_MAX_ROWS = 20_000

Check = Callable[[], None]


class TableError(Exception):
    """A table or parameter the stand-in cannot work with (job ``exception``)."""


def _noop() -> None:
    return None


@dataclass
class Table:
    columns: List[str]
    rows: List[List[str]]

    @property
    def nb_rows(self) -> int:
        return len(self.rows)


def _parse_float(value: str) -> Optional[float]:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_table(path: Path, *, max_rows: int = DEFAULT_MAX_ROWS, label: str = "table") -> Table:
    """Read a CSV file with a header; raise :class:`TableError` when unusable."""
    rows: List[List[str]] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise TableError(f"{label}: the CSV file is empty (no header row)")
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise TableError(
                        f"{label}: CSV line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                    )
                rows.append(row)
                if len(rows) > max_rows:
                    raise TableError(
                        f"{label}: more than {max_rows} rows; the local stand-in is limited to {max_rows} rows"
                    )
    except UnicodeDecodeError as exc:
        raise TableError(f"{label}: the file is not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise TableError(f"{label}: unparsable CSV ({exc})") from None
    if len(set(header)) != len(header):
        raise TableError(f"{label}: duplicate column names in the header")
    return Table(columns=list(header), rows=rows)


def table_to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue().encode("utf-8")


@dataclass
class ColumnPlan:
    numeric: List[int]
    categorical: List[int]
    primary_key: Optional[int]
    decimals: Dict[int, int]


def plan_columns(table: Table, primary_key: Optional[str]) -> ColumnPlan:
    pk_index: Optional[int] = None
    if primary_key is not None:
        if primary_key not in table.columns:
            raise TableError(f"primary key column {primary_key!r} is not in the table")
        pk_index = table.columns.index(primary_key)
    numeric: List[int] = []
    categorical: List[int] = []
    decimals: Dict[int, int] = {}
    for col in range(len(table.columns)):
        if col == pk_index:
            continue
        values = [row[col] for row in table.rows if row[col] != ""]
        if values and all(_parse_float(v) is not None for v in values):
            numeric.append(col)
            places = 0
            for value in values:
                text = value.strip().lower()
                if "e" in text:
                    places = max(places, 6)
                elif "." in text:
                    places = max(places, len(text.split(".", 1)[1]))
            decimals[col] = min(places, 6)
        else:
            categorical.append(col)
    return ColumnPlan(numeric=numeric, categorical=categorical, primary_key=pk_index, decimals=decimals)


def _numeric_matrix(table: Table, cols: Sequence[int]) -> List[List[Optional[float]]]:
    return [[_parse_float(row[c]) if row[c] != "" else None for c in cols] for row in table.rows]


def _moments(matrix: List[List[Optional[float]]], ncols: int) -> Tuple[List[float], List[float]]:
    means: List[float] = []
    stds: List[float] = []
    for c in range(ncols):
        values = [v for v in (r[c] for r in matrix) if v is not None]
        mean = statistics.fmean(values) if values else 0.0
        std = statistics.pstdev(values, mean) if len(values) > 1 else 0.0
        means.append(mean)
        stds.append(std if std > 0 else 1.0)
    return means, stds


def _standardize(matrix: List[List[Optional[float]]], means: List[float], stds: List[float]) -> List[Tuple[float, ...]]:
    return [tuple(0.0 if v is None else (v - means[c]) / stds[c] for c, v in enumerate(row)) for row in matrix]


def coordinates(
    original: Table, other: Table, *, skip: Sequence[str] = ()
) -> Tuple[List[str], List[Tuple[float, ...]], List[Tuple[float, ...]]]:
    """The space the stand-in works in: the original's numeric columns (less ``skip``)
    standardized with the ORIGINAL's means and stds, missing values at 0 (the mean).

    Returns the column names and the points of ``original`` and of ``other`` (a
    table with those columns, e.g. the synthetic one) in that space: the
    neighbour search of :func:`synthesize` and the distances of
    :func:`privacy_metrics` use exactly these coordinates.
    """
    plan = plan_columns(original, None)
    names = [original.columns[c] for c in plan.numeric if original.columns[c] not in skip]
    missing = [n for n in names if n not in other.columns]
    if missing:
        raise TableError(f"the synthetic table has no column {missing[0]!r}")
    matrix = _numeric_matrix(original, [original.columns.index(n) for n in names])
    means, stds = _moments(matrix, len(names))
    other_matrix = _numeric_matrix(other, [other.columns.index(n) for n in names])
    return names, _standardize(matrix, means, stds), _standardize(other_matrix, means, stds)


class KDTree:
    """An exact k-d tree over points (tuples of floats) in pure Python."""

    _LEAF = 16

    def __init__(self, points: Sequence[Tuple[float, ...]]) -> None:
        self.points = points
        self.dim = len(points[0]) if points else 0
        # node: (axis, split, left, right) or (-1, indices)
        self._root = self._build(list(range(len(points))))

    def _build(self, idx: List[int]) -> Any:
        if len(idx) <= self._LEAF or self.dim == 0:
            return (-1, idx)
        # split on the axis of largest spread
        best_axis, best_spread = 0, -1.0
        for axis in range(self.dim):
            values = [self.points[i][axis] for i in idx]
            spread = max(values) - min(values)
            if spread > best_spread:
                best_axis, best_spread = axis, spread
        if best_spread <= 0:
            return (-1, idx)
        idx.sort(key=lambda i: self.points[i][best_axis])
        mid = len(idx) // 2
        split = self.points[idx[mid]][best_axis]
        return (best_axis, split, self._build(idx[:mid]), self._build(idx[mid:]))

    @staticmethod
    def _dist2(a: Sequence[float], b: Sequence[float]) -> float:
        return sum((x - y) * (x - y) for x, y in zip(a, b))

    def query(self, q: Sequence[float], k: int) -> List[Tuple[float, int]]:
        """The ``k`` nearest points as ``(squared distance, index)``, nearest first."""
        heap: List[Tuple[float, int]] = []  # max-heap via negated distances

        def visit(node: Any) -> None:
            if node[0] == -1:
                for i in node[1]:
                    d = self._dist2(q, self.points[i])
                    item = (-d, -i)
                    if len(heap) < k:
                        heapq.heappush(heap, item)
                    elif item > heap[0]:
                        heapq.heapreplace(heap, item)
                return
            axis, split, left, right = node
            diff = q[axis] - split
            near, far = (left, right) if diff < 0 else (right, left)
            visit(near)
            if len(heap) < k or diff * diff <= -heap[0][0]:
                visit(far)

        if k > 0 and self.points:
            visit(self._root)
        return sorted((-d, -i) for d, i in heap)

    def count_within(self, q: Sequence[float], radius2: float) -> int:
        """How many points are at squared distance strictly below ``radius2``."""
        total = 0
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node[0] == -1:
                for i in node[1]:
                    if self._dist2(q, self.points[i]) < radius2:
                        total += 1
                continue
            axis, split, left, right = node
            diff = q[axis] - split
            near, far = (left, right) if diff < 0 else (right, left)
            stack.append(near)
            if diff * diff < radius2:
                stack.append(far)
        return total


@dataclass
class Synthesis:
    table: Table
    link: List[int]  # link[i] = index of original row i's synthetic row in table.rows
    seed: int


def synthesize(
    table: Table,
    *,
    k: int,
    seed: Optional[int],
    primary_key: Optional[str] = None,
    check: Check = _noop,
) -> Synthesis:
    """The stand-in synthesis described in the module docstring."""
    n = table.nb_rows
    if n == 0:
        raise TableError("the table has no data rows")
    if k < 1:
        raise TableError(f"k must be >= 1 (got k={k})")
    if k > n:
        raise TableError(f"k={k} is larger than the number of rows of the table ({n})")
    plan = plan_columns(table, primary_key)
    if not plan.numeric:
        raise TableError("the table has no numeric column; the local stand-in needs at least one to find neighbours")
    actual_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(actual_seed)
    matrix = _numeric_matrix(table, plan.numeric)
    means, stds = _moments(matrix, len(plan.numeric))
    points = _standardize(matrix, means, stds)
    tree = KDTree(points)
    synthetic_rows: List[List[str]] = []
    for i in range(n):
        if i % 128 == 0:
            check()
        neighbours = [j for _, j in tree.query(points[i], k)]
        weights = [rng.expovariate(1.0) for _ in neighbours]
        total_w = sum(weights) or 1.0
        weights = [w / total_w for w in weights]
        new_row = [""] * len(table.columns)
        for pos, col in enumerate(plan.numeric):
            acc = 0.0
            wsum = 0.0
            for w, j in zip(weights, neighbours):
                value = matrix[j][pos]
                if value is not None:
                    acc += w * value
                    wsum += w
            if wsum > 0:
                places = plan.decimals.get(col, 6)
                value = acc / wsum
                new_row[col] = str(int(round(value))) if places == 0 else f"{value:.{places}f}"
        for col in plan.categorical:
            pick = rng.choices(neighbours, weights=weights, k=1)[0]
            new_row[col] = table.rows[pick][col]
        synthetic_rows.append(new_row)
    order = list(range(n))
    rng.shuffle(order)  # order[p] = original index placed at output position p
    link = [0] * n
    out_rows: List[List[str]] = []
    for position, original in enumerate(order):
        link[original] = position
        row = synthetic_rows[original]
        if plan.primary_key is not None:
            row[plan.primary_key] = str(position + 1)
        out_rows.append(row)
    return Synthesis(table=Table(columns=list(table.columns), rows=out_rows), link=link, seed=actual_seed)


def _median(values: Sequence[float]) -> Optional[float]:
    return float(statistics.median(values)) if values else None


def privacy_metrics(
    original: Table,
    synthetic: Table,
    link: Sequence[int],
    *,
    primary_key: Optional[str] = None,
    check: Check = _noop,
) -> Dict[str, Any]:
    """The stand-in privacy metrics described in the module docstring."""
    if synthetic.columns != original.columns:
        raise TableError("the synthetic table's columns differ from the original's")
    if len(link) != original.nb_rows or synthetic.nb_rows != original.nb_rows:
        raise TableError("the synthetic table does not match the original row count")
    plan = plan_columns(original, primary_key)
    if not plan.numeric:
        raise TableError("the table has no numeric column to measure distances")
    orig_matrix = _numeric_matrix(original, plan.numeric)
    means, stds = _moments(orig_matrix, len(plan.numeric))
    orig_points = _standardize(orig_matrix, means, stds)
    syn_points = _standardize(_numeric_matrix(synthetic, plan.numeric), means, stds)
    tree = KDTree(syn_points)
    closest: List[float] = []
    ratios: List[float] = []
    cloaking: List[float] = []
    hidden = 0
    for i, point in enumerate(orig_points):
        if i % 128 == 0:
            check()
        nearest = tree.query(point, 2)
        d1 = math.sqrt(nearest[0][0])
        d2 = math.sqrt(nearest[1][0]) if len(nearest) > 1 else d1
        closest.append(d1)
        ratios.append(d1 / d2 if d2 > 0 else 1.0)
        own2 = KDTree._dist2(point, syn_points[link[i]])
        cloak = tree.count_within(point, own2)
        cloaking.append(float(cloak))
        if cloak > 0:
            hidden += 1
    n = original.nb_rows
    return {
        "stand_in": True,
        "notice": STAND_IN_NOTICE,
        "nb_rows": n,
        "numeric_columns": [original.columns[c] for c in plan.numeric],
        "hidden_rate": hidden / n if n else None,
        "local_cloaking": _median(cloaking),
        "distance_to_closest": _median(closest),
        "closest_distances_ratio": _median(ratios),
        "definitions": {
            "hidden_rate": "share of original rows for which at least one synthetic row "
            "other than their own is strictly closer than their own synthetic row",
            "local_cloaking": "median number of synthetic rows strictly closer to an "
            "original row than its own synthetic row",
            "distance_to_closest": "median distance from an original row to its closest synthetic row",
            "closest_distances_ratio": "median ratio of the distances to the closest and "
            "to the second closest synthetic rows",
            "space": "Euclidean distance over the original table's standardized numeric "
            "columns (missing values at the mean)",
        },
    }


def _hellinger(p: Sequence[float], q: Sequence[float]) -> float:
    bc = sum(math.sqrt(a * b) for a, b in zip(p, q))
    return math.sqrt(max(0.0, 1.0 - bc))


def _histogram(values: Sequence[float], lo: float, hi: float, bins: int) -> List[float]:
    counts = [0] * bins
    width = (hi - lo) / bins
    for v in values:
        index = bins - 1 if width <= 0 else min(bins - 1, int((v - lo) / width))
        counts[index] += 1
    total = float(len(values)) or 1.0
    return [c / total for c in counts]


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 2:
        return 0.0
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    sa = math.sqrt(sum((x - ma) ** 2 for x in a))
    sb = math.sqrt(sum((y - mb) ** 2 for y in b))
    if sa == 0 or sb == 0:
        return 0.0
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (sa * sb)


def signal_metrics(
    original: Table,
    synthetic: Table,
    *,
    primary_key: Optional[str] = None,
    check: Check = _noop,
) -> Dict[str, Any]:
    """The stand-in signal metrics described in the module docstring."""
    if synthetic.columns != original.columns:
        raise TableError("the synthetic table's columns differ from the original's")
    plan = plan_columns(original, primary_key)
    columns: Dict[str, Any] = {}
    hellingers: List[float] = []
    orig_numeric: Dict[int, List[Optional[float]]] = {}
    syn_numeric: Dict[int, List[Optional[float]]] = {}
    for col in plan.numeric:
        check()
        o_all = [_parse_float(r[col]) if r[col] != "" else None for r in original.rows]
        s_all = [_parse_float(r[col]) if r[col] != "" else None for r in synthetic.rows]
        orig_numeric[col], syn_numeric[col] = o_all, s_all
        o = [v for v in o_all if v is not None]
        s = [v for v in s_all if v is not None]
        lo = min(o + s) if (o or s) else 0.0
        hi = max(o + s) if (o or s) else 0.0
        h = _hellinger(_histogram(o, lo, hi, 10), _histogram(s, lo, hi, 10)) if o and s else 1.0
        hellingers.append(h)
        columns[original.columns[col]] = {
            "type": "numeric",
            "original_mean": statistics.fmean(o) if o else None,
            "synthetic_mean": statistics.fmean(s) if s else None,
            "original_std": statistics.pstdev(o) if len(o) > 1 else (0.0 if o else None),
            "synthetic_std": statistics.pstdev(s) if len(s) > 1 else (0.0 if s else None),
            "hellinger_distance": h,
        }
    for col in plan.categorical:
        check()
        o_vals = [r[col] for r in original.rows]
        s_vals = [r[col] for r in synthetic.rows]
        levels = sorted(set(o_vals) | set(s_vals))
        p = [o_vals.count(level) / (len(o_vals) or 1) for level in levels]
        q = [s_vals.count(level) / (len(s_vals) or 1) for level in levels]
        h = _hellinger(p, q)
        hellingers.append(h)
        columns[original.columns[col]] = {
            "type": "categorical",
            "original_levels": len(set(o_vals)),
            "synthetic_levels": len(set(s_vals)),
            "hellinger_distance": h,
        }
    correlation_difference: Optional[float] = None
    if len(plan.numeric) >= 2:
        diffs: List[float] = []
        cols = plan.numeric
        for a_pos in range(len(cols)):
            for b_pos in range(a_pos + 1, len(cols)):
                check()
                a, b = cols[a_pos], cols[b_pos]
                o_pairs = [(x, y) for x, y in zip(orig_numeric[a], orig_numeric[b]) if x is not None and y is not None]
                s_pairs = [(x, y) for x, y in zip(syn_numeric[a], syn_numeric[b]) if x is not None and y is not None]
                r_o = _pearson([x for x, _ in o_pairs], [y for _, y in o_pairs])
                r_s = _pearson([x for x, _ in s_pairs], [y for _, y in s_pairs])
                diffs.append(abs(r_o - r_s))
        correlation_difference = statistics.fmean(diffs)
    return {
        "stand_in": True,
        "notice": STAND_IN_NOTICE,
        "nb_rows_original": original.nb_rows,
        "nb_rows_synthetic": synthetic.nb_rows,
        "hellinger_distance": statistics.fmean(hellingers) if hellingers else None,
        "correlation_difference": correlation_difference,
        "columns": columns,
        "definitions": {
            "hellinger_distance": "mean over columns of sqrt(1 - sum(sqrt(p*q))) between "
            "histograms (10 equal-width bins for numeric columns, value frequencies for "
            "categorical ones)",
            "correlation_difference": "mean absolute difference of the Pearson "
            "correlations over all pairs of numeric columns",
        },
    }


def advise(table: Table) -> Dict[str, Any]:
    """The stand-in ``k`` advice described in the module docstring."""
    n = table.nb_rows
    k = int(round(math.sqrt(n) / 2)) if n else 0
    k = max(3, min(20, k))
    k = min(k, n)
    return {
        "stand_in": True,
        "notice": STAND_IN_NOTICE,
        "nb_rows": n,
        "suggested_k": k,
        "heuristic": "round(sqrt(nb_rows) / 2) clamped to [3, 20] and to nb_rows",
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render_report(sections: List[Dict[str, Any]]) -> str:
    """A Markdown report. Each section: ``parameters_name``, ``table``, ``nb_rows_in``,
    ``nb_rows_out``, ``privacy`` (dict), ``signal`` (dict)."""
    lines = [
        "# Avatar local test server: job report",
        "",
        f"> {STAND_IN_NOTICE}",
        "",
    ]
    for section in sections:
        privacy = section.get("privacy") or {}
        signal = section.get("signal") or {}
        lines += [
            f"## Parameters `{section.get('parameters_name')}` (table `{section.get('table')}`)",
            "",
            f"- rows in: {section.get('nb_rows_in')}",
            f"- rows out: {section.get('nb_rows_out')}",
            f"- k: {section.get('k')}",
            "",
            "### Privacy (stand-in definitions)",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        for key in ("hidden_rate", "local_cloaking", "distance_to_closest", "closest_distances_ratio"):
            lines.append(f"| {key} | {_fmt(privacy.get(key))} |")
        lines += [
            "",
            "### Signal (stand-in definitions)",
            "",
            "| metric | value |",
            "|---|---|",
            f"| hellinger_distance | {_fmt(signal.get('hellinger_distance'))} |",
            f"| correlation_difference | {_fmt(signal.get('correlation_difference'))} |",
            "",
        ]
        columns = signal.get("columns") or {}
        numeric = {k: v for k, v in columns.items() if v.get("type") == "numeric"}
        if numeric:
            lines += [
                "| column | original mean | synthetic mean | original std | synthetic std |",
                "|---|---|---|---|---|",
            ]
            for name, stats in numeric.items():
                lines.append(
                    f"| {name} | {_fmt(stats.get('original_mean'))} | "
                    f"{_fmt(stats.get('synthetic_mean'))} | {_fmt(stats.get('original_std'))} "
                    f"| {_fmt(stats.get('synthetic_std'))} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"
