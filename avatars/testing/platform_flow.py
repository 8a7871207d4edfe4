"""Job execution for resource sets in the platform's format (the everyday flow).

A set written by :class:`avatars.documents.ResourceSet` or by the platform's
own SDK is parsed with :mod:`avatars.documents`; a job runs one parameters
document of it, chosen by the job's ``parameters_name``.  What each document
kind computes, with the LOCAL STAND-IN of :mod:`avatars.testing.avatarize`:

``AvatarParameters`` (``standard``)
    every table named in ``avatarization`` (with its ``k``),
    ``avatarization_open_dp`` / ``avatarization_fast_dp`` (the stand-in has
    no differential privacy: ``k = clamp(round(10 / epsilon), 2, 50)``), or
    ``time_series`` only (``k = 5``), capped to the table's row count.
    Columns marked ``drop`` are removed; foreign keys are left out of the
    synthesis and then point to the synthetic row of the parent that the
    original row's parent became (links between tables are kept).  Files
    per table: ``<table>.shuffled.csv`` and ``<table>.unshuffled.csv`` (the
    synthetic rows in the original order: sensitive).  A data file may be
    CSV or parquet (told by its first bytes, ``PAR1``, not by its name: the
    platform SDK 1.30 uploads DataFrames as parquet); parquet is read and
    written with ``pyarrow`` when it is installed (it is not a dependency: a
    job on parquet data fails with a message naming it otherwise).  As on
    the platform, the files are in the document's ``results.format``
    (``csv`` or ``parquet``), or else in the format of the table's data
    file (``<table>.shuffled.parquet``...); a column is written as bool,
    int or float when every value is one, else as text.
``AvatarPrivacyMetricsParameters`` / ``AvatarSignalMetricsParameters``
    per table, ``<table>.privacy.json`` / ``<table>.signal.json``: a one-item
    list ``[{"metadata": {"table_name": ...}, ...metrics}]``, as the platform
    SDK reads them.  The avatarized table is the ``standard`` job's output
    (found by the caller), or the table's ``avatars_data`` file.
``AvatarReportParameters``
    ``report.md`` (Markdown, whatever ``output_format`` asks for).
``AvatarAdviceParameters``
    ``advice.json``: ``[{"table_name", "advice": {"k": ...}}]``.

Every job also writes ``run_metadata.json``; the ``standard`` job each
table's projections and figures, the metrics jobs the per-table
meta-metrics and, with several tables, the summaries: see
:mod:`.result_files`.

Table names in file names are written as the platform does
(:mod:`avatars.documents.files`).  Inputs and earlier results come through
the callables the caller passes: this module reads no store of its own.
"""

from __future__ import annotations

import importlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..documents import ResourceSet
from ..documents.files import result_file_name
from . import avatarize, resource_sets, result_files
from .avatarize import Table, TableError

__all__ = ["FlowOutput", "FlowError", "is_platform_set", "job_kind_of", "run_parameters"]

#: (volume, file) -> the path of the uploaded file, or None
ReadInput = Callable[[str, str], Optional[Path]]
#: (result kind, table) -> the path of an earlier result of this set, or None
FindResult = Callable[[str, str], Optional[Path]]


class FlowError(Exception):
    """The job cannot run (its ``exception`` text)."""


@dataclass
class FlowOutput:
    kind: str
    table: str
    filename: str
    content: bytes
    content_type: str


def is_platform_set(text: str) -> bool:
    """Whether the stored set ``text`` holds platform documents (not the older single mapping)."""
    return not resource_sets.is_legacy(text)


def job_kind_of(text: str, parameters_name: str) -> Optional[str]:
    """The job kind the parameters document ``parameters_name`` means (``None``: no such document)."""
    return resource_sets.parameters_kinds(text).get(parameters_name)


def _kind_in(docs: List[Any], parameters_name: str) -> Optional[str]:
    """:func:`job_kind_of` in a set's loaded documents (a later document of the same name wins)."""
    kinds = {
        str((doc.get("metadata") or {}).get("name")): resource_sets.PARAMETERS_KINDS[str(doc.get("kind"))]
        for doc in docs
        if isinstance(doc, dict) and doc.get("kind") in resource_sets.PARAMETERS_KINDS
    }
    return kinds.get(parameters_name)


#: the first (and last) four bytes of a parquet file
PARQUET_MAGIC = b"PAR1"
#: output formats a parameters document's ``results.format`` may ask for
OUTPUT_FORMATS = ("csv", "parquet")


def _is_parquet(path: Path) -> bool:
    """Whether ``path`` holds parquet, by its magic bytes (the key's extension says nothing:
    the platform SDK 1.30 uploads a DataFrame as parquet under any key)."""
    with open(path, "rb") as handle:
        return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _pyarrow(label: str, what: str) -> Any:
    """``pyarrow`` (with ``pyarrow.parquet`` loaded), an optional import of the local server."""
    try:
        pyarrow = importlib.import_module("pyarrow")
        importlib.import_module("pyarrow.parquet")  # pyarrow.parquet is a submodule to load
    except ImportError:
        raise FlowError(
            f"{label}: {what} needs pyarrow, which the local server's Python does not have "
            "(pip install pyarrow in the server's environment)"
        ) from None
    return pyarrow


def _text(value: Any) -> str:
    """A parquet value as the CSV text pandas would write for it."""
    if value is None or (isinstance(value, float) and value != value):  # null, NaN
        return ""
    return str(value)


def _parquet_table(path: Path, label: str, max_rows: int) -> Table:
    pa = _pyarrow(label, "a parquet data file")
    try:
        data = pa.parquet.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise FlowError(f"{label}: unreadable parquet file ({exc})") from None
    if data.num_rows > max_rows:
        raise FlowError(f"{label}: more than {max_rows} rows; the local stand-in is limited to {max_rows} rows")
    columns = [str(name) for name in data.column_names]
    if len(set(columns)) != len(columns):
        raise FlowError(f"{label}: duplicate column names")
    values = [data.column(i).to_pylist() for i in range(data.num_columns)]
    return Table(columns, [[_text(v) for v in row] for row in zip(*values)])


def _csv_table(path: Optional[Path], label: str, max_rows: int) -> Table:
    """A data file's table: CSV, or parquet (read with pyarrow when it is installed)."""
    if path is None or not path.is_file():
        raise FlowError(f"{label}: the data file was not uploaded")
    if _is_parquet(path):
        return _parquet_table(path, label, max_rows)
    try:
        return avatarize.read_table(path, max_rows=max_rows, label=label)
    except TableError as exc:
        raise FlowError(str(exc)) from None


def _typed(texts: List[str]) -> List[Any]:
    """CSV texts as the values of one parquet column: bool, int or float when every
    value is one (an empty text is a null), else text."""
    present = [t for t in texts if t != ""]
    if present and all(t in ("True", "False") for t in present):
        return [None if t == "" else t == "True" for t in texts]
    for kind in (int, float):
        try:
            return [None if t == "" else kind(t) for t in texts]
        except ValueError:
            continue
    return [None if t == "" else t for t in texts]


def _parquet_bytes(table: Table, label: str) -> bytes:
    pa = _pyarrow(label, "a parquet result")
    columns = {name: pa.array(_typed([row[i] for row in table.rows])) for i, name in enumerate(table.columns)}
    sink = pa.BufferOutputStream()
    pa.parquet.write_table(pa.table(columns), sink)
    content: bytes = sink.getvalue().to_pybytes()
    return content


def _output_format(docs: List[Any], parameters_name: str) -> Optional[str]:
    """``results.format`` of the parameters document ``parameters_name`` (``None``: not set)."""
    for doc in docs:
        if isinstance(doc, dict) and (doc.get("metadata") or {}).get("name") == parameters_name:
            results = (doc.get("spec") or {}).get("results") or {}
            value = results.get("format") if isinstance(results, dict) else None
            if value is None:
                return None
            if value not in OUTPUT_FORMATS:
                raise FlowError(f"results.format must be one of {', '.join(OUTPUT_FORMATS)}, got {value!r}")
            return str(value)
    return None


def _columns(table_doc: Dict[str, Any], flag: str) -> List[str]:
    return [c["field"] for c in table_doc.get("columns") or [] if c.get(flag)]


def _without(table: Table, names: List[str]) -> Tuple[Table, List[List[str]]]:
    """``table`` without the columns ``names``, and those columns' values per row."""
    keep = [i for i, c in enumerate(table.columns) if c not in names]
    gone = [table.columns.index(n) for n in names if n in table.columns]
    return (
        Table([table.columns[i] for i in keep], [[row[i] for i in keep] for row in table.rows]),
        [[row[i] for i in gone] for row in table.rows],
    )


def _stand_in_k(rs: ResourceSet, table: str, rows: int) -> int:
    if table in rs.parameters["avatarization"]:
        k = int(rs.parameters["avatarization"][table]["k"])
    elif table in rs.parameters["avatarization_open_dp"] or table in rs.parameters["avatarization_fast_dp"]:
        section = (
            "avatarization_open_dp" if table in rs.parameters["avatarization_open_dp"] else "avatarization_fast_dp"
        )
        epsilon = float(rs.parameters[section][table]["epsilon"])
        k = max(2, min(50, round(10 / epsilon)))
    else:
        k = 5
    if k > rows:
        if table in rs.parameters["avatarization"]:
            raise FlowError(f"table {table!r}: k={k} is larger than its {rows} rows")
        k = max(1, rows)
    return k


def _standard(
    rs: ResourceSet,
    read_input: ReadInput,
    max_rows: int,
    check: Callable[[], None],
    output_format: Optional[str],
    parameters_name: str = "standard",
) -> List[FlowOutput]:
    sections = ("avatarization", "avatarization_open_dp", "avatarization_fast_dp", "time_series")
    names = [t for t in rs.tables if any(t in rs.parameters[s] for s in sections)]
    if not names:
        raise FlowError("the AvatarParameters document names no table")
    originals: Dict[str, Table] = {}
    synthetic: Dict[str, Table] = {}  # in the original row order
    identifiers: Dict[str, List[str]] = {}  # foreign and primary keys: not synthesized
    ks: Dict[str, int] = {}
    formats: Dict[str, str] = {}
    order = _parents_first(rs, names)
    for name in order:
        check()
        doc = rs.tables[name]
        data = doc.get("data") or {}
        path = read_input(str(data.get("volume")), str(data.get("file")))
        original = _csv_table(path, f"table {name!r}", max_rows)
        assert path is not None  # _csv_table refused a missing file
        formats[name] = output_format or ("parquet" if _is_parquet(path) else "csv")
        dropped = [c for c in _columns(doc, "drop") if c in original.columns]
        original, _ = _without(original, dropped)
        originals[name] = original
        foreign = [c for c in _columns(doc, "identifier") if c in original.columns]
        core, fk_values = _without(original, foreign)
        primary = next(iter(_columns(doc, "primary_key")), None)
        identifiers[name] = foreign + ([primary] if primary else [])
        seed = rs.seed
        try:
            ks[name] = _stand_in_k(rs, name, core.nb_rows)
            synthesis = avatarize.synthesize(core, k=ks[name], seed=seed, primary_key=primary, check=check)
        except TableError as exc:
            raise FlowError(f"table {name!r}: {exc}") from None
        rows = [list(synthesis.table.rows[synthesis.link[i]]) for i in range(core.nb_rows)]
        table = Table(list(core.columns) + foreign, [r + fk for r, fk in zip(rows, fk_values)])
        synthetic[name] = table
    _relink(rs, originals, synthetic)
    outputs: List[FlowOutput] = []
    figures: List[Dict[str, str]] = []
    tables: Dict[str, Any] = {}
    for name in names:
        unshuffled = synthetic[name]
        columns = originals[name].columns
        reordered = Table(columns, [[row[unshuffled.columns.index(c)] for c in columns] for row in unshuffled.rows])
        shuffled_rows = [reordered.rows[i] for i in _shuffle_order(reordered.nb_rows, rs.seed)]
        check()
        extra, figures_of, tables[name] = _standard_extras(
            rs, name, originals[name], Table(columns, shuffled_rows), identifiers[name], ks[name]
        )
        outputs.extend(FlowOutput(*o) for o in extra)
        figures.extend(figures_of)
        for kind, rows in (("shuffled", shuffled_rows), ("unshuffled", reordered.rows)):
            filename = result_file_name(name, kind)
            if formats[name] == "parquet":
                content = _parquet_bytes(Table(columns, rows), f"table {name!r}")
                filename = filename[: -len(".csv")] + ".parquet"
                outputs.append(FlowOutput(kind, name, filename, content, "application/vnd.apache.parquet"))
            else:
                content = avatarize.table_to_csv(Table(columns, rows))
                outputs.append(FlowOutput(kind, name, filename, content, "text/csv"))
    if figures:
        outputs.append(FlowOutput(*result_files.figures_metadata_file(figures)))
    outputs.append(_run_metadata("standard", parameters_name, rs, tables))
    return outputs


def _standard_extras(
    rs: ResourceSet, name: str, original: Table, avatars: Table, identifiers: List[str], k: int
) -> Tuple[List[result_files.Output], List[Dict[str, str]], Dict[str, Any]]:
    """Projections and figures of one avatarized table (``avatars`` in the shuffled order),
    and what ``run_metadata`` says of it."""
    try:
        dims, original_points, avatar_points = avatarize.coordinates(original, avatars, skip=identifiers)
    except TableError as exc:
        raise FlowError(f"table {name!r}: {exc}") from None
    outputs = result_files.projection_files(name, dims, original_points, avatar_points)
    metadata: List[Dict[str, str]] = []
    if rs.compute_figures is not False:
        core, _ = _without(original, identifiers)
        avatar_core, _ = _without(avatars, identifiers)
        pages, metadata = result_files.figure_files(
            name,
            core,
            avatar_core,
            dims,
            original_points,
            avatar_points,
            max_distribution_plots=rs.max_distribution_plots,
        )
        outputs.extend(pages)
    about = {
        "nb_rows": original.nb_rows,
        "k": k,
        "columns": list(original.columns),
        "identifiers": identifiers,
        "projection_dimensions": {f"Dim.{i + 1}": column for i, column in enumerate(dims)},
        "figures": len(metadata),
    }
    return outputs, metadata, about


def _run_metadata(kind: str, parameters_name: str, rs: ResourceSet, tables: Dict[str, Any]) -> FlowOutput:
    about = {"parameters_name": parameters_name, "job_kind": kind, "seed": rs.seed, "tables": tables}
    return FlowOutput(*result_files.run_metadata_file(about))


def _shuffle_order(n: int, seed: Optional[int]) -> List[int]:
    import random

    order = list(range(n))
    random.Random(0 if seed is None else seed + 1).shuffle(order)
    return order


def _links(rs: ResourceSet) -> List[Tuple[str, str, str, str]]:
    """(parent, parent field, child, child field) of every link."""
    return [
        (parent, link["field"], link["to"]["table"], link["to"]["field"])
        for parent, doc in rs.tables.items()
        for link in doc.get("links") or []
    ]


def _parents_first(rs: ResourceSet, names: List[str]) -> List[str]:
    children = {child for _, _, child, _ in _links(rs)}
    return [n for n in names if n not in children] + [n for n in names if n in children]


def _relink(rs: ResourceSet, originals: Dict[str, Table], synthetic: Dict[str, Table]) -> None:
    """Point each child's foreign key to the synthetic version of its original parent row."""
    for parent, parent_field, child, child_field in _links(rs):
        if parent not in synthetic or child not in synthetic:
            continue
        p_orig, p_syn, c_orig, c_syn = originals[parent], synthetic[parent], originals[child], synthetic[child]
        if parent_field not in p_orig.columns or child_field not in c_orig.columns:
            raise FlowError(f"link {parent}.{parent_field} -> {child}.{child_field}: no such column")
        p_index = p_orig.columns.index(parent_field)
        row_of = {row[p_index]: i for i, row in enumerate(p_orig.rows)}
        new_key = [row[p_syn.columns.index(parent_field)] for row in p_syn.rows]
        c_orig_index = c_orig.columns.index(child_field)
        c_syn_index = c_syn.columns.index(child_field)
        for i, row in enumerate(c_orig.rows):
            parent_row = row_of.get(row[c_orig_index])
            c_syn.rows[i][c_syn_index] = "" if parent_row is None else new_key[parent_row]


def _pairs(
    rs: ResourceSet, read_input: ReadInput, find_result: FindResult, max_rows: int
) -> List[Tuple[str, Table, Table, Optional[str]]]:
    """(table, original, avatarized in the original order, primary key) of every table."""
    out = []
    for name, doc in rs.tables.items():
        data = doc.get("data") or {}
        original = _csv_table(read_input(str(data.get("volume")), str(data.get("file"))), f"table {name!r}", max_rows)
        original, _ = _without(original, _columns(doc, "drop"))
        given = (rs.avatar_tables.get(name) or {}).get("avatars_data") or {}
        if given.get("file"):
            path = read_input(str(given.get("volume")), str(given["file"]))
        else:
            path = find_result("unshuffled", name)
        if path is None:
            raise FlowError(
                f"table {name!r}: no avatarized data (run the standard job first and name it in depends_on, "
                "or give avatar_data)"
            )
        avatars = _csv_table(path, f"avatarized table {name!r}", max_rows)
        if avatars.nb_rows != original.nb_rows:
            raise FlowError(f"table {name!r}: {avatars.nb_rows} avatarized rows for {original.nb_rows} rows")
        out.append((name, original, avatars, next(iter(_columns(doc, "primary_key")), None)))
    return out


def _metrics(
    kind: str, rs: ResourceSet, pairs: List[Tuple[str, Table, Table, Optional[str]]], check: Callable[[], None]
) -> Dict[str, Dict[str, Any]]:
    out = {}
    for name, original, avatars, primary in pairs:
        try:
            if kind == "privacy_metrics":
                values = avatarize.privacy_metrics(
                    original, avatars, list(range(original.nb_rows)), primary_key=primary, check=check
                )
            else:
                values = avatarize.signal_metrics(original, avatars, primary_key=primary, check=check)
        except TableError as exc:
            raise FlowError(f"table {name!r}: {exc}") from None
        out[name] = {"metadata": {"table_name": name}, **values}
    return out


def run_parameters(
    text: str,
    parameters_name: str,
    *,
    read_input: ReadInput,
    find_result: FindResult,
    max_rows: int = avatarize.DEFAULT_MAX_ROWS,
    check: Callable[[], None] = lambda: None,
    display_name: str = "unnamed",
) -> List[FlowOutput]:
    """The result files of the job that runs ``parameters_name`` of the set ``text``.

    ``display_name`` names the set when it has no ``AvatarMetadata`` document.
    """
    try:
        docs = resource_sets.load_documents(text)  # the set's one YAML parse for this job
        rs = resource_sets.platform_set_of(docs, display_name)
    except resource_sets.DocumentError as exc:
        raise FlowError(f"invalid resource set: {exc}") from None
    kind = _kind_in(docs, parameters_name)
    if kind is None:
        raise FlowError(
            f"parameters {parameters_name!r} not found in the resource set "
            f"(available: {', '.join(rs.parameters_names()) or 'none'})"
        )
    if kind == "standard":
        return _standard(rs, read_input, max_rows, check, _output_format(docs, parameters_name), parameters_name)
    if kind in ("privacy_metrics", "signal_metrics"):
        pairs = _pairs(rs, read_input, find_result, max_rows)
        result = _metrics(kind, rs, pairs, check)
        outputs = [
            FlowOutput(kind, name, result_file_name(name, kind), _json([values]), "application/json")
            for name, values in result.items()
        ]
        outputs.extend(FlowOutput(*o) for o in result_files.meta_files(kind, result))
        about = {
            name: {
                "nb_rows": original.nb_rows,
                "reference": result_files.REFERENCE,
                "meta_metric": result_files.meta_metric(kind, result[name]),
            }
            for name, original, _, _ in pairs
        }
        outputs.append(_run_metadata(kind, parameters_name, rs, about))
        return outputs
    if kind == "report":
        pairs = _pairs(rs, read_input, find_result, max_rows)
        privacy = _metrics("privacy_metrics", rs, pairs, check)
        signal = _metrics("signal_metrics", rs, pairs, check)
        sections = [
            {
                "parameters_name": parameters_name,
                "table": name,
                "k": (rs.parameters["avatarization"].get(name) or {}).get("k"),
                "nb_rows_in": original.nb_rows,
                "nb_rows_out": avatars.nb_rows,
                "privacy": privacy[name],
                "signal": signal[name],
            }
            for name, original, avatars, _ in pairs
        ]
        report = avatarize.render_report(sections).encode("utf-8")
        about = {name: {"nb_rows": original.nb_rows} for name, original, _, _ in pairs}
        return [
            FlowOutput("report", "", "report.md", report, "text/markdown; charset=utf-8"),
            _run_metadata(kind, parameters_name, rs, about),
        ]
    advice = []
    read: Dict[str, Table] = {}
    for name, doc in rs.tables.items():
        data = doc.get("data") or {}
        table = _csv_table(read_input(str(data.get("volume")), str(data.get("file"))), f"table {name!r}", max_rows)
        read[name] = table
        suggestion = avatarize.advise(table)
        advice.append({"table_name": name, "advice": {"k": suggestion["suggested_k"]}, "stand_in": suggestion})
    about = {name: {"nb_rows": table.nb_rows} for name, table in read.items()}
    return [
        FlowOutput("advice", "", "advice.json", _json(advice), "application/json"),
        _run_metadata("advice", parameters_name, rs, about),
    ]


def _json(data: Any) -> bytes:
    buffer = io.StringIO()
    json.dump(data, buffer, indent=2)
    return (buffer.getvalue() + "\n").encode("utf-8")
