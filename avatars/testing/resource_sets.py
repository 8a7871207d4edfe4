"""Resource sets: the server's one reader and checker of set documents (:func:`read_set`).

Two forms are accepted:

* the platform's resource documents (contract v2): multi-document YAML
  (``---`` between documents), each a mapping ``{kind, metadata: {name},
  spec}``, checked as the platform checks them (the fields its
  ``avatar_yaml`` models require, enumerated values, ranges) with the schemas
  of :mod:`avatars.documents`; the text is stored as sent.  Jobs run them
  through :func:`platform_set` (:mod:`.platform_flow`).  A set needs no
  ``AvatarMetadata`` document (the platform SDK reads sets without one).
* the local stand-in's older single mapping (below), which the stand-in job
  runner still executes.  A ``parameters`` entry is an ``AvatarParameters``
  document (a ``standard`` job) unless its optional ``kind`` names another
  parameters kind of :data:`PARAMETERS_KINDS`; such an entry measures (or
  advises on) the ``AvatarParameters`` entry named by its optional
  ``parameters`` key, else every ``AvatarParameters`` entry of its ``table``;
  ``k`` is required only for ``AvatarParameters`` entries.

The older shape (JSON is YAML too)::

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

from ..documents import DocumentError as SetDocumentError
from ..documents import DocumentKind, ResourceSet
from ..documents._schemas import SCHEMA_BY_KIND, DocumentSchema
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
    DocumentKind.parameters.value: "standard",
    DocumentKind.privacy_metrics.value: "privacy_metrics",
    DocumentKind.signal_metrics.value: "signal_metrics",
    DocumentKind.report.value: "report",
    DocumentKind.advice.value: "advice",
}


@dataclass(frozen=True)
class SetIndex:
    """What a read set holds: ``(kind, metadata.name)`` of each document, in order.

    ``legacy`` is the parsed older single mapping, ``None`` for a set of
    platform documents.
    """

    entries: List[Tuple[str, str]]
    legacy: Optional[ResourceDocument] = None

    def parameters_kinds(self) -> Dict[str, str]:
        """``{parameters document name: job kind}`` (a later document of the same name wins)."""
        return {name: PARAMETERS_KINDS[kind] for kind, name in self.entries if kind in PARAMETERS_KINDS}


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError([_err([], "body is not UTF-8 text", "value_error.encoding")]) from None


def _is_legacy(data: Any) -> bool:
    return isinstance(data, dict) and "kind" not in data and ("tables" in data or "parameters" in data)


def _load_all(raw: bytes) -> List[Any]:
    """The non-empty YAML documents of ``raw`` (a leading ``---`` makes an empty one)."""
    import yaml  # PyYAML, the ``server`` extra

    text = _decode(raw)
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise DocumentError([_err([], f"invalid YAML: {message}", "value_error.yaml")]) from None
    except RecursionError:
        raise DocumentError([_err([], "invalid YAML: nested too deeply", "value_error.yaml")]) from None
    if not documents:
        raise DocumentError([_err([], "the body holds no YAML document", "value_error.missing")])
    return documents


def _marshmallow_items(messages: Any, loc: Loc) -> List[Dict[str, Any]]:
    """marshmallow's nested error messages as 422 items, one per message."""
    if isinstance(messages, dict):
        out: List[Dict[str, Any]] = []
        for key, value in messages.items():
            # a Dict field reports a bad value under {key: {"value": ...}}, a bad key under {key: {"key": ...}}
            step: Loc = [] if key in ("value", "key", "_schema") else [key if isinstance(key, int) else str(key)]
            out.extend(_marshmallow_items(value, [*loc, *step]))
        return out
    if isinstance(messages, list) and messages and not all(isinstance(m, str) for m in messages):
        return [item for m in messages for item in _marshmallow_items(m, loc)]
    texts = messages if isinstance(messages, list) else [messages]
    return [
        _err(loc, str(text), "value_error.missing" if str(text).startswith("Missing data") else "value_error")
        for text in texts
    ]


def _document_errors(doc: Any, index: int) -> List[Dict[str, Any]]:
    """The 422 items of one platform document (its envelope, then its ``spec`` by kind)."""
    if not isinstance(doc, dict):
        return [_err([index], "a resource document must be a mapping", "type_error.dict")]
    errors = _marshmallow_items(DocumentSchema().validate(doc), [index])
    if errors:
        return errors
    spec = doc.get("spec") or {}
    return _marshmallow_items(SCHEMA_BY_KIND[doc["kind"]]().validate(spec), [index, "spec"])


def read_set(raw: bytes) -> SetIndex:
    """Read and check a set: THE reader of ``PUT``/``POST /resources`` bodies and of stored sets.

    Platform documents are checked with :mod:`avatars.documents`' schemas (the
    fields the platform's ``avatar_yaml`` models require, the enumerated
    values, the ranges); errors are 422 items located at ``["body", <document
    index>, <field>, ...]``, every error of every document.  The older single
    mapping is checked by :func:`parse_document`.  Empty documents (a leading
    ``---``) are skipped.
    """
    documents = _load_all(raw)
    if len(documents) == 1 and _is_legacy(documents[0]):  # as is_legacy() tells
        legacy = _legacy(documents[0])
        return SetIndex([(entry.kind, entry.name) for entry in legacy.parameters], legacy)
    errors = [item for index, doc in enumerate(documents) for item in _document_errors(doc, index)]
    if errors:
        raise DocumentError(errors)
    return SetIndex([(str(d["kind"]), str(d["metadata"]["name"])) for d in documents])


def is_legacy(text: str) -> bool:
    """Whether ``text`` has the shape of the older single mapping (valid or not)."""
    try:
        documents = _load_all(text.encode("utf-8"))
    except DocumentError:
        return False
    return len(documents) == 1 and _is_legacy(documents[0])


def parameters_kinds(text: str) -> Dict[str, str]:
    """``{parameters document name: job kind}`` of a stored set (``{}``: not a readable set)."""
    try:
        return read_set(text.encode("utf-8")).parameters_kinds()
    except DocumentError:
        return {}


def platform_set(text: str, display_name: str) -> ResourceSet:
    """The platform set ``text`` as :class:`avatars.documents.ResourceSet` (what jobs run).

    The platform keeps the set's display name with the set (``PUT
    /resources/{display_name}``), and its SDK reads sets that have no
    ``AvatarMetadata`` document; one naming ``display_name`` stands in for it
    then.  A :class:`avatars.documents.DocumentError` becomes a 422
    :class:`DocumentError`.
    """
    return platform_set_of(load_documents(text), display_name)


def load_documents(text: str) -> List[Any]:
    """The non-empty YAML documents of a stored set (parsed once; a 422
    :class:`DocumentError` when it is not YAML)."""
    return _load_all(text.encode("utf-8"))


def platform_set_of(docs: Sequence[Any], display_name: str) -> ResourceSet:
    """:func:`platform_set` for documents already loaded (:func:`load_documents`)."""
    if not any(isinstance(d, dict) and d.get("kind") == DocumentKind.metadata.value for d in docs):
        metadata = {
            "kind": DocumentKind.metadata.value,
            "metadata": {"name": f"avatar-metadata-{display_name}"},
            "spec": {"display_name": display_name},
        }
        docs = [*docs, metadata]
    try:
        return ResourceSet.from_documents(docs)
    except SetDocumentError as exc:
        raise DocumentError([_err([], str(exc), "value_error.document")]) from None


def _legacy(data: Any) -> ResourceDocument:
    """Shape-check a set in the older single-mapping form; raise :class:`DocumentError`."""
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
