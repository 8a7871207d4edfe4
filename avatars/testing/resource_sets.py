"""Resource set documents: parsing and shape checks.

Two forms are accepted:

* the platform's resource documents (contract v2): multi-document YAML
  (``---`` between documents), each a mapping ``{kind, metadata: {name},
  spec}``.  :func:`document_index` reads only each document's ``kind`` and
  ``metadata.name`` (what job creation needs); the rest is stored as sent.
* the local stand-in's older single mapping (below), which the stand-in job
  runner still executes.  A ``parameters`` entry is an ``AvatarParameters``
  document (a ``standard`` job) unless its optional ``kind`` names another
  parameters kind of :data:`PARAMETERS_KINDS`; such an entry measures (or
  advises on) the ``AvatarParameters`` entry named by its optional
  ``parameters`` key, else every ``AvatarParameters`` entry of its ``table``;
  ``k`` is required only for ``AvatarParameters`` entries.

The older shape::

    tables:
      - name: str                 # unique within the document
        dataset_id: UUID
        primary_key: str | null   # optional
    parameters:
      - name: str                 # unique within the document
        table: str
        k: int                    # AvatarParameters entries only
        kind: str                 # optional, default AvatarParameters
        ncp: int | null           # optional
        seed: int | null          # optional

Only the shape is checked here (types, required keys, uniqueness); semantic
problems (``k < 1``, a table name that is not declared, an unknown dataset)
are reported by the job that uses the document, as the job's ``exception``.
Unknown keys are tolerated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ._util import canonical_uuid, is_uuid

Loc = List[Union[str, int]]


@dataclass(frozen=True)
class TableSpec:
    name: str
    dataset_id: str
    primary_key: Optional[str]


@dataclass(frozen=True)
class ParametersSpec:
    name: str
    table: str
    k: int
    ncp: Optional[int]
    seed: Optional[int]
    kind: str = "AvatarParameters"
    measures: Optional[str] = None


@dataclass(frozen=True)
class ResourceDocument:
    tables: List[TableSpec]
    parameters: List[ParametersSpec]

    def table(self, name: str) -> Optional[TableSpec]:
        for table in self.tables:
            if table.name == name:
                return table
        return None

    def parameters_named(self, name: str) -> Optional[ParametersSpec]:
        for entry in self.parameters:
            if entry.name == name:
                return entry
        return None


class DocumentError(Exception):
    """A malformed document; ``errors`` are FastAPI-style 422 items."""

    def __init__(self, errors: List[Dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = errors


def _err(loc: Sequence[Union[str, int]], msg: str, type_: str) -> Dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": type_}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: The kind of job a parameters document starts (``POST /jobs`` reads it).
PARAMETERS_KINDS: Dict[str, str] = {
    "AvatarParameters": "standard",
    "AvatarPrivacyMetricsParameters": "privacy_metrics",
    "AvatarSignalMetricsParameters": "signal_metrics",
    "AvatarReportParameters": "report",
    "AvatarAdviceParameters": "advice",
}


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError([_err([], "body is not UTF-8 text", "value_error.encoding")]) from None


def _is_legacy(data: Any) -> bool:
    return isinstance(data, dict) and "kind" not in data and ("tables" in data or "parameters" in data)


def document_index(raw: bytes) -> List[Tuple[str, str]]:
    """``(kind, metadata.name)`` of every document of ``raw``, in order.

    Uses ``yaml.safe_load_all``; empty documents (a leading ``---``) are
    skipped.  A document that is not a mapping with a string ``kind`` and a
    string ``metadata.name`` is a :class:`DocumentError` (422 items located at
    ``["body", <document index>, ...]``).  The older single-mapping form is
    shape-checked by :func:`parse_document` and indexed as one
    ``AvatarParameters`` entry per ``parameters`` item.
    """
    import yaml  # PyYAML, the ``server`` extra

    text = _decode(raw)
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise DocumentError([_err([], f"invalid YAML: {message}", "value_error.yaml")]) from None
    if not documents:
        raise DocumentError([_err([], "the body holds no YAML document", "value_error.missing")])
    if len(documents) == 1 and _is_legacy(documents[0]):
        legacy = parse_document(raw)
        return [(entry.kind, entry.name) for entry in legacy.parameters]
    errors: List[Dict[str, Any]] = []
    out: List[Tuple[str, str]] = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            errors.append(_err([index], "a resource document must be a mapping", "type_error.dict"))
            continue
        kind = doc.get("kind")
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(kind, str) or not kind:
            errors.append(_err([index, "kind"], "a non-empty string is required", "type_error.str"))
        if not isinstance(name, str) or not name:
            errors.append(_err([index, "metadata", "name"], "a non-empty string is required", "type_error.str"))
        if not errors:
            out.append((str(kind), str(name)))
    if errors:
        raise DocumentError(errors)
    return out


def parse_document(raw: bytes) -> ResourceDocument:
    """Parse and shape-check a resource document; raise :class:`DocumentError`."""
    import yaml  # PyYAML, the ``server`` extra

    text = _decode(raw)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise DocumentError([_err([], f"invalid YAML: {message}", "value_error.yaml")]) from None
    if not isinstance(data, dict):
        raise DocumentError(
            [_err([], "the document must be a mapping with 'tables' and 'parameters'", "type_error.dict")]
        )
    errors: List[Dict[str, Any]] = []
    tables: List[TableSpec] = []
    parameters: List[ParametersSpec] = []

    raw_tables = data.get("tables")
    if raw_tables is None:
        errors.append(_err(["tables"], "field required", "value_error.missing"))
    elif not isinstance(raw_tables, list):
        errors.append(_err(["tables"], "value is not a valid list", "type_error.list"))
    else:
        seen: set[str] = set()
        for index, item in enumerate(raw_tables):
            loc: Loc = ["tables", index]
            if not isinstance(item, dict):
                errors.append(_err(loc, "value is not a valid dict", "type_error.dict"))
                continue
            bad = False
            name = item.get("name")
            if not isinstance(name, str) or not name:
                errors.append(_err([*loc, "name"], "a non-empty string is required", "type_error.str"))
                bad = True
            elif name in seen:
                errors.append(_err([*loc, "name"], f"duplicate table name {name!r}", "value_error.duplicate"))
                bad = True
            dataset_id = item.get("dataset_id")
            if not is_uuid(dataset_id):
                errors.append(_err([*loc, "dataset_id"], "value is not a valid uuid", "type_error.uuid"))
                bad = True
            primary_key = item.get("primary_key")
            if primary_key is not None and not isinstance(primary_key, str):
                errors.append(_err([*loc, "primary_key"], "str or null expected", "type_error.str"))
                bad = True
            if not bad:
                seen.add(str(name))
                tables.append(TableSpec(str(name), canonical_uuid(str(dataset_id)), primary_key))

    raw_params = data.get("parameters")
    if raw_params is None:
        errors.append(_err(["parameters"], "field required", "value_error.missing"))
    elif not isinstance(raw_params, list):
        errors.append(_err(["parameters"], "value is not a valid list", "type_error.list"))
    else:
        seen_params: set[str] = set()
        for index, item in enumerate(raw_params):
            loc = ["parameters", index]
            if not isinstance(item, dict):
                errors.append(_err(loc, "value is not a valid dict", "type_error.dict"))
                continue
            bad = False
            name = item.get("name")
            if not isinstance(name, str) or not name:
                errors.append(_err([*loc, "name"], "a non-empty string is required", "type_error.str"))
                bad = True
            elif name in seen_params:
                errors.append(_err([*loc, "name"], f"duplicate parameters name {name!r}", "value_error.duplicate"))
                bad = True
            table = item.get("table")
            if not isinstance(table, str) or not table:
                errors.append(_err([*loc, "table"], "a non-empty string is required", "type_error.str"))
                bad = True
            kind = item.get("kind", "AvatarParameters")
            if kind not in PARAMETERS_KINDS:
                allowed = ", ".join(PARAMETERS_KINDS)
                errors.append(_err([*loc, "kind"], f"one of {allowed} expected", "type_error.enum"))
                bad = True
            k = item.get("k", 0 if kind != "AvatarParameters" else None)
            if k is None:
                errors.append(_err([*loc, "k"], "field required", "value_error.missing"))
                bad = True
            elif not _is_int(k):
                errors.append(_err([*loc, "k"], "value is not a valid integer", "type_error.integer"))
                bad = True
            for optional in ("ncp", "seed"):
                value = item.get(optional)
                if value is not None and not _is_int(value):
                    errors.append(_err([*loc, optional], "integer or null expected", "type_error.integer"))
                    bad = True
            if not bad:
                seen_params.add(str(name))
                parameters.append(
                    ParametersSpec(
                        str(name),
                        str(table),
                        int(str(k)),
                        item.get("ncp"),
                        item.get("seed"),
                        str(kind),
                        item.get("parameters") if isinstance(item.get("parameters"), str) else None,
                    )
                )
    if errors:
        raise DocumentError(errors)
    return ResourceDocument(tables=tables, parameters=parameters)
