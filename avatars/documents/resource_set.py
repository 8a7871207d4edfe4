"""``ResourceSet``: build, check, write and read the platform's multi-document YAML.

A resource set is what ``PUT /resources/{display_name}`` stores and what the
platform's jobs read: one YAML stream, documents separated by ``---``, each
``{kind, metadata: {name}, spec}``.  This module writes exactly the documents
(names, nesting, field names) the platform's own SDK writes, so a set built
here runs on the platform and a set written by the platform's SDK can be read
here (:meth:`ResourceSet.from_yaml`).

Every builder call checks its input against what it already knows (the
tables' columns, their keys) and raises :class:`DocumentError` naming the
field before anything could be sent.

::

    rs = ResourceSet("my-study", seed=42)
    rs.add_table("patients", file="patients.csv", primary_key="id", columns=["id", "age", "sex"])
    rs.set_parameters("patients", k=10, column_weights={"age": 2.0})
    rs.add_report()
    text = rs.to_yaml()
    assert ResourceSet.from_yaml(text).to_yaml() == text
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

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
from ._schemas import (
    PARAMETER_SCHEMAS,
    SCHEMA_BY_KIND,
    ColumnSchema,
    DocumentError,
    DocumentSchema,
    check,
)
from .pseudonymization import strategy_document

__all__ = ["ResourceSet", "DocumentError", "INPUT_VOLUME", "RESULTS_VOLUME", "check_name"]

#: the volume the platform's SDK names for uploaded tables
INPUT_VOLUME = "input"
#: the volume results are written to
RESULTS_VOLUME = "results"
SCHEMA_NAME = "schema"
AVATAR_SCHEMA_NAME = "schema_avatarized"
STANDARD = "standard"
PRIVACY_METRICS = "privacy_metrics"
SIGNAL_METRICS = "signal_metrics"
REPORT = "report"

_Doc = Dict[str, Any]
_PIA_DEFAULTS = {
    "datarecipient": "unknown",
    "data_type": "unknown",
    "datasubject": "unknown",
    "sensitivity_level": "Undefined",
}


def check_name(value: object, field: str, *, what: str = "name") -> str:
    """A table or column name the YAML and the object store can both hold.

    Refused: non-strings, empty or blank names, surrounding white space,
    characters YAML cannot carry as written (control characters, line breaks,
    lone surrogates), and for table names ``/`` and ``\\`` (a table's name is
    part of its file's object key).
    """
    if not isinstance(value, str):
        raise DocumentError(f"{field}: {what} must be a string, got {type(value).__name__}", field=field)
    if not value.strip():
        raise DocumentError(f"{field}: {what} must not be empty", field=field)
    if value != value.strip():
        raise DocumentError(f"{field}: {what} {value!r} has leading or trailing white space", field=field)
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise DocumentError(
            f"{field}: {what} {value!r} contains {bad!r}, which a resource document cannot hold", field=field
        )
    if what == "table name" and ("/" in value or "\\" in value):
        raise DocumentError(f"{field}: table name {value!r} must not contain '/' or '\\'", field=field)
    return value


def _enum_value(value: Any, enum: Any, field: str) -> str:
    try:
        return str(enum(value).value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise DocumentError(f"{field}: {value!r} is not one of {allowed}", field=field) from None


def _drop_none(mapping: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _string_list(value: Any, field: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise DocumentError(f"{field}: expected a list of column names, got {type(value).__name__}", field=field)
    return [check_name(v, field, what="column name") for v in value]


class ResourceSet:
    """The documents of one resource set (see the module docstring).

    :param display_name: the set's name as users see it (``PUT
        /resources/{display_name}``).
    :param seed: the seed written into every parameters document.
    :param annotations: free ``str -> str`` annotations of the metadata document.
    :param pia_metadata: ``datarecipient``, ``data_type``, ``datasubject``,
        ``sensitivity_level`` for PIA reports.
    """

    def __init__(
        self,
        display_name: str,
        *,
        seed: Optional[int] = None,
        max_distribution_plots: Optional[int] = None,
        compute_figures: Optional[bool] = None,
        annotations: Optional[Mapping[str, str]] = None,
        pia_metadata: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.display_name = check_name(display_name, "display_name", what="display name")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise DocumentError(f"seed: must be an integer, got {seed!r}", field="seed")
        self.seed = seed
        self.max_distribution_plots = max_distribution_plots
        self.compute_figures = compute_figures
        self.annotations: Dict[str, str] = dict(annotations or {})
        self.pia_metadata: Dict[str, str] = {**_PIA_DEFAULTS, **dict(pia_metadata or {})}
        self.metadata_name = f"avatar-metadata-{display_name}"
        #: volume name -> URL (``AvatarVolume`` documents)
        self.volumes: Dict[str, str] = {}
        #: table name -> its ``AvatarSchema`` entry, as written
        self.tables: Dict[str, _Doc] = {}
        #: table name -> its entry in the avatarized schema
        self.avatar_tables: Dict[str, _Doc] = {}
        #: table name -> its columns, when known (checks only; not written)
        self.columns: Dict[str, Optional[List[str]]] = {}
        #: section (``avatarization``, ``time_series``, ...) -> table -> parameters
        self.parameters: Dict[str, Dict[str, _Doc]] = {section: {} for section in PARAMETER_SCHEMAS}
        self.privacy_metrics_enabled = False
        self.signal_metrics_enabled = False
        #: report type -> (output format, language)
        self.reports: Dict[str, Tuple[str, str]] = {}
        #: advice document name -> advisor types
        self.advice: Dict[str, List[str]] = {}

    # ----------------------------------------------------------------- tables

    def add_table(
        self,
        table_name: str,
        file: str,
        *,
        volume: str = INPUT_VOLUME,
        columns: Optional[Sequence[str]] = None,
        primary_key: Optional[str] = None,
        foreign_keys: Optional[Sequence[str]] = None,
        time_series_time: Optional[str] = None,
        types: Optional[Mapping[str, Union[ColumnType, str]]] = None,
        individual_level: Optional[bool] = None,
        columns_to_drop: Optional[Sequence[str]] = None,
        avatar_file: Optional[str] = None,
        avatar_volume: Optional[str] = None,
    ) -> None:
        """Add (or replace) a table whose data is ``file`` in ``volume``.

        ``columns``, when given, are checked against every column named
        here and in later calls.  ``avatar_file`` is an already avatarized
        version of the table (to compute metrics without avatarizing).
        """
        name = check_name(table_name, "table_name", what="table name")
        check_name(file, "file", what="file name")
        known = _string_list(columns, "columns") if columns is not None else None
        if known is not None and len(set(known)) != len(known):
            duplicate = next(c for c in known if known.count(c) > 1)
            raise DocumentError(f"columns: column {duplicate!r} appears twice in table {name!r}", field="columns")
        keys = {
            "primary_key": [check_name(primary_key, "primary_key", what="column name")] if primary_key else [],
            "time_series_time": [check_name(time_series_time, "time_series_time", what="column name")]
            if time_series_time
            else [],
            "foreign_keys": _string_list(foreign_keys, "foreign_keys"),
        }
        drop = list(dict.fromkeys(_string_list(columns_to_drop, "columns_to_drop")))
        type_map: Dict[str, str] = {}
        for column, column_type in (types or {}).items():
            check_name(column, "types", what="column name")
            type_map[column] = _enum_value(column_type, ColumnType, f"types.{column}")
        if individual_level is not None and not isinstance(individual_level, bool):
            raise DocumentError("individual_level: must be True or False", field="individual_level")
        for field, names in (*keys.items(), ("columns_to_drop", drop), ("types", list(type_map))):
            self._check_known(name, known, names, field)
        if primary_key and primary_key == time_series_time:
            raise DocumentError("time_series_time: must differ from primary_key", field="time_series_time")
        for field, single in (("primary_key", primary_key), ("time_series_time", time_series_time)):
            if single and single in keys["foreign_keys"]:
                raise DocumentError(f"foreign_keys: {single!r} is already the {field}", field="foreign_keys")
        protected = set(keys["primary_key"] + keys["time_series_time"] + keys["foreign_keys"])
        if protected & set(drop):
            bad = sorted(protected & set(drop))
            raise DocumentError(
                f"columns_to_drop: {', '.join(bad)} is a key of table {name!r} and cannot be dropped",
                field="columns_to_drop",
            )

        entries: List[_Doc] = []
        if time_series_time:
            entries.append(
                {"field": time_series_time, "time_series_time": True, "type": type_map.get(time_series_time)}
            )
        if primary_key:
            entries.append({"field": primary_key, "primary_key": True, "type": type_map.get(primary_key)})
        for fk in keys["foreign_keys"]:
            entries.append({"field": fk, "identifier": True, "type": type_map.get(fk)})
        for column, column_type in type_map.items():
            if column not in protected:
                entries.append({"field": column, "type": column_type})
        present = {e["field"] for e in entries}
        for entry in entries:
            if entry["field"] in drop:
                entry["drop"] = True
        entries.extend({"field": column, "drop": True} for column in drop if column not in present)

        self.tables[name] = _drop_none(
            {
                "name": name,
                "data": {"volume": volume, "file": file},
                "individual_level": individual_level,
                "columns": [_column(e) for e in entries] or None,
                "links": self.tables.get(name, {}).get("links"),
            }
        )
        self.columns[name] = known
        if avatar_file is not None:
            check_name(avatar_file, "avatar_file", what="file name")
            self.avatar_tables[name] = {
                "name": name,
                "avatars_data": {"volume": avatar_volume or volume, "file": avatar_file},
            }
        else:
            self.avatar_tables.pop(name, None)

    def add_link(
        self,
        parent_table_name: str,
        parent_field: str,
        child_table_name: str,
        child_field: str,
        method: Union[LinkMethod, str] = LinkMethod.LINEAR_SUM_ASSIGNMENT,
    ) -> None:
        """Link ``child_table_name.child_field`` (a foreign key) to the parent's primary key."""
        parent = self._table(parent_table_name, "parent_table_name")
        child = self._table(child_table_name, "child_table_name")
        method_value = _enum_value(method, LinkMethod, "method")
        if parent_field not in _fields(parent, "primary_key"):
            raise DocumentError(
                f"parent_field: {parent_field!r} is not the primary key of table {parent_table_name!r}",
                field="parent_field",
            )
        if child_field not in _fields(child, "identifier"):
            raise DocumentError(
                f"child_field: {child_field!r} is not a foreign key of table {child_table_name!r} "
                "(name it in add_table(foreign_keys=...))",
                field="child_field",
            )
        link = {"field": parent_field, "to": {"table": child_table_name, "field": child_field}, "method": method_value}
        links = [existing for existing in parent.get("links") or [] if existing["to"]["table"] != child_table_name]
        parent["links"] = [*links, link]

    # ------------------------------------------------------------- parameters

    def set_parameters(
        self,
        table_name: str,
        k: Optional[int] = None,
        ncp: Optional[int] = None,
        use_categorical_reduction: Optional[bool] = None,
        column_weights: Optional[Mapping[str, float]] = None,
        exclude_variable_names: Optional[Sequence[str]] = None,
        exclude_variable_method: Optional[Union[ExcludeVariablesMethod, str]] = None,
        imputation_method: Optional[Union[ImputeMethod, str]] = None,
        imputation_k: Optional[int] = None,
        imputation_training_fraction: Optional[float] = None,
        imputation_return_data_imputed: Optional[bool] = None,
        open_dp_epsilon: Optional[float] = None,
        fast_dp_epsilon: Optional[float] = None,
        time_series_nf: Optional[int] = None,
        time_series_projection_type: Optional[Union[ProjectionType, str]] = None,
        time_series_nb_points: Optional[int] = None,
        time_series_method: Optional[Union[AlignmentMethod, str]] = None,
        known_variables: Optional[Sequence[str]] = None,
        target: Optional[str] = None,
        quantile_threshold: Optional[int] = None,
        data_augmentation_strategy: Optional[Union[float, AugmentationStrategy, str, Mapping[str, float]]] = None,
        data_augmentation_target_column: Optional[str] = None,
        data_augmentation_should_anonymize_original_table: Optional[bool] = None,
        processors: Optional[Sequence[Mapping[str, Any]]] = None,
        pseudonymized_columns: Optional[Mapping[str, Any]] = None,
        use_excluded_variables_in_metrics: bool = False,
    ) -> None:
        """Set (replace) every parameter of one table, with the platform SDK's names.

        Exactly one of ``k`` (avatarization), ``open_dp_epsilon`` (OpenDP) or
        ``fast_dp_epsilon`` (FastDP) chooses the method, unless the table is
        only a time series (``time_series_*``) or carries an ``avatar_file``.
        Privacy and signal metrics parameters follow from the same values
        (``known_variables``, ``target``, ``quantile_threshold`` are for the
        privacy metrics).  ``pseudonymized_columns`` maps a column to a
        strategy of :mod:`avatars.documents.pseudonymization` (or a mapping
        with a ``kind``: ``FAKER``, ``HASH_SHA256``, ``UUID4``, ``CONSTANT``,
        ``INTEGER``, ``SPECIFIC_ID``, and its fields); it is written into the
        table's columns, as the platform expects.
        Nothing is kept if a value is refused.
        """
        table = self._table(table_name, "table_name")
        known = self.columns.get(table_name)
        chosen = [
            n
            for n, v in (("k", k), ("open_dp_epsilon", open_dp_epsilon), ("fast_dp_epsilon", fast_dp_epsilon))
            if v is not None
        ]
        if len(chosen) > 1:
            raise DocumentError(f"{chosen[1]}: set only one of {', '.join(chosen)}", field=chosen[1])
        self._check_known(table_name, known, list(column_weights or {}), "column_weights")
        excluded = _string_list(exclude_variable_names, "exclude_variable_names")
        self._check_known(table_name, known, excluded, "exclude_variable_names")
        dropped = _fields(table, "drop")
        if set(excluded) & set(dropped):
            both = ", ".join(sorted(set(excluded) & set(dropped)))
            raise DocumentError(
                f"exclude_variable_names: {both} is also in columns_to_drop of {table_name!r}",
                field="exclude_variable_names",
            )
        known_vars = _string_list(known_variables, "known_variables")
        self._check_known(table_name, known, known_vars, "known_variables")
        if target is not None:
            self._check_known(table_name, known, [check_name(target, "target", what="column name")], "target")
        if data_augmentation_target_column is not None:
            self._check_known(table_name, known, [data_augmentation_target_column], "data_augmentation_target_column")
        if pseudonymized_columns is not None:
            try:
                pseudonymized_columns = {
                    column: strategy_document(strategy) for column, strategy in pseudonymized_columns.items()
                }
            except (TypeError, AttributeError) as exc:
                raise DocumentError(f"pseudonymized_columns: {exc}", field="pseudonymized_columns") from None
        for column in pseudonymized_columns or {}:
            check_name(column, "pseudonymized_columns", what="column name")
        self._check_known(table_name, known, list(pseudonymized_columns or {}), "pseudonymized_columns")

        imputation = None
        if imputation_method is not None or imputation_k is not None or imputation_training_fraction is not None:
            imputation = {
                "method": None
                if imputation_method is None
                else _enum_value(imputation_method, ImputeMethod, "imputation_method"),
                "k": imputation_k,
                "training_fraction": imputation_training_fraction,
                "return_data_imputed": bool(imputation_return_data_imputed),
            }
        exclude = None
        if excluded:
            method = ExcludeVariablesMethod.ROW_ORDER if exclude_variable_method is None else exclude_variable_method
            exclude = {
                "variable_names": excluded,
                "replacement_strategy": _enum_value(method, ExcludeVariablesMethod, "exclude_variable_method"),
            }
        augmentation = None
        if data_augmentation_strategy is not None:
            strategy: Any = data_augmentation_strategy
            if isinstance(strategy, str):
                strategy = _enum_value(strategy, AugmentationStrategy, "data_augmentation_strategy")
            elif isinstance(strategy, Mapping):
                strategy = dict(strategy)
            augmentation = {
                "augmentation_strategy": strategy,
                "target_column": data_augmentation_target_column,
                "should_anonymize_original_table": data_augmentation_should_anonymize_original_table,
            }
        elif data_augmentation_target_column is not None:
            raise DocumentError(
                "data_augmentation_target_column: set data_augmentation_strategy too",
                field="data_augmentation_target_column",
            )
        common = {
            "ncp": ncp,
            "use_categorical_reduction": use_categorical_reduction,
            "column_weights": None if column_weights is None else dict(column_weights),
            "exclude_variables": exclude,
            "imputation": imputation,
        }
        method_params = {
            **common,
            "data_augmentation": augmentation,
            "avatarization_processors_parameters": None if processors is None else [dict(p) for p in processors],
        }
        new: Dict[str, Optional[_Doc]] = {section: None for section in PARAMETER_SCHEMAS}
        if k is not None:
            new["avatarization"] = {"k": k, **method_params}
        elif open_dp_epsilon is not None:
            new["avatarization_open_dp"] = {"epsilon": open_dp_epsilon, **method_params}
        elif fast_dp_epsilon is not None:
            new["avatarization_fast_dp"] = {"epsilon": fast_dp_epsilon, "mechanism": "gaussian", **method_params}
        if any(
            v is not None
            for v in (time_series_nf, time_series_projection_type, time_series_nb_points, time_series_method)
        ):
            projection = None
            if time_series_nf is not None or time_series_projection_type is not None:
                projection = {
                    "projection_type": None
                    if time_series_projection_type is None
                    else _enum_value(time_series_projection_type, ProjectionType, "time_series_projection_type"),
                    "nf": time_series_nf,
                }
            alignment = None
            if time_series_nb_points is not None or time_series_method is not None:
                alignment = {
                    "nb_points": time_series_nb_points,
                    "method": None
                    if time_series_method is None
                    else _enum_value(time_series_method, AlignmentMethod, "time_series_method"),
                }
            new["time_series"] = _drop_none({"projection": projection, "alignment": alignment})
        metric_common = dict(common)
        if use_excluded_variables_in_metrics:
            metric_common["exclude_variables"] = None
        privacy = {
            **metric_common,
            "known_variables": known_vars or None,
            "target": target,
            "quantile_threshold": quantile_threshold,
        }
        if any(v is not None for v in privacy.values()):
            new["privacy_metrics"] = privacy
        if any(v is not None for v in metric_common.values()):
            new["signal_metrics"] = metric_common
        for section, values in new.items():
            if values is not None:
                try:
                    check(PARAMETER_SCHEMAS[section], _drop_none(values))
                except DocumentError as exc:
                    raise _as_argument(exc, section) from None
        if pseudonymized_columns:
            for column, strategy in pseudonymized_columns.items():
                check(ColumnSchema, {"field": column, "pseudonymization": dict(strategy)}, "pseudonymized_columns")

        for section, values in new.items():
            if values is None:
                self.parameters[section].pop(table_name, None)
            else:
                self.parameters[section][table_name] = _drop_none(values)
        self.privacy_metrics_enabled = True
        self.signal_metrics_enabled = True
        if pseudonymized_columns:
            columns = table.get("columns") or []
            present = {c["field"] for c in columns}
            for column_entry in columns:
                if column_entry["field"] in pseudonymized_columns:
                    column_entry["pseudonymization"] = dict(pseudonymized_columns[column_entry["field"]])
            for column, strategy in pseudonymized_columns.items():
                if column not in present:
                    columns.append({"field": column, "pseudonymization": dict(strategy)})
            table["columns"] = [_column(c) for c in columns]

    def delete_parameters(self, table_name: str) -> None:
        """Remove every parameter of ``table_name``."""
        self._table(table_name, "table_name")
        for section in self.parameters.values():
            section.pop(table_name, None)

    def current_parameters(self, table_name: str) -> Dict[str, Any]:
        """The :meth:`set_parameters` arguments that give the table's parameters now."""
        table = self._table(table_name, "table_name")
        out: Dict[str, Any] = {}
        method: Dict[str, Any] = {}
        for section, key in (
            ("avatarization", "k"),
            ("avatarization_open_dp", "open_dp_epsilon"),
            ("avatarization_fast_dp", "fast_dp_epsilon"),
        ):
            if table_name in self.parameters[section]:
                method = self.parameters[section][table_name]
                out[key] = method["k" if key == "k" else "epsilon"]
        privacy = self.parameters["privacy_metrics"].get(table_name, {})
        common = method or privacy or self.parameters["signal_metrics"].get(table_name, {})
        for name in ("ncp", "use_categorical_reduction", "column_weights"):
            if common.get(name) is not None:
                out[name] = copy.deepcopy(common[name])
        exclude = common.get("exclude_variables") or {}
        if exclude:
            out["exclude_variable_names"] = list(exclude.get("variable_names") or [])
            out["exclude_variable_method"] = exclude.get("replacement_strategy")
        imputation = common.get("imputation") or {}
        for name in ("method", "k", "training_fraction", "return_data_imputed"):
            if imputation.get(name) is not None:
                out[f"imputation_{name}"] = imputation[name]
        augmentation = method.get("data_augmentation") or {}
        for name, argument in (
            ("augmentation_strategy", "data_augmentation_strategy"),
            ("target_column", "data_augmentation_target_column"),
            ("should_anonymize_original_table", "data_augmentation_should_anonymize_original_table"),
        ):
            if augmentation.get(name) is not None:
                out[argument] = copy.deepcopy(augmentation[name])
        if method.get("avatarization_processors_parameters") is not None:
            out["processors"] = copy.deepcopy(method["avatarization_processors_parameters"])
        series = self.parameters["time_series"].get(table_name, {})
        for part, names in (("projection", ("nf", "projection_type")), ("alignment", ("nb_points", "method"))):
            for name in names:
                if (series.get(part) or {}).get(name) is not None:
                    out[f"time_series_{name}"] = series[part][name]
        for name in ("known_variables", "target", "quantile_threshold"):
            if privacy.get(name) is not None:
                out[name] = copy.deepcopy(privacy[name])
        pseudonymized = {
            c["field"]: dict(c["pseudonymization"]) for c in table.get("columns") or [] if c.get("pseudonymization")
        }
        if pseudonymized:
            out["pseudonymized_columns"] = pseudonymized
        return out

    def delete_link(self, parent_table_name: str, child_table_name: str) -> None:
        """Remove the link from ``parent_table_name`` to ``child_table_name``."""
        parent = self._table(parent_table_name, "parent_table_name")
        links = [link for link in parent.get("links") or [] if link["to"]["table"] != child_table_name]
        if len(links) == len(parent.get("links") or []):
            raise DocumentError(
                f"child_table_name: no link from {parent_table_name!r} to {child_table_name!r}",
                field="child_table_name",
            )
        if links:
            parent["links"] = links
        else:
            parent.pop("links", None)

    def delete_table(self, table_name: str) -> None:
        """Remove a table, its parameters and the links to it."""
        self._table(table_name, "table_name")
        self.delete_parameters(table_name)
        for name, table in self.tables.items():
            if name != table_name and any(link["to"]["table"] == table_name for link in table.get("links") or []):
                self.delete_link(name, table_name)
        del self.tables[table_name]
        self.avatar_tables.pop(table_name, None)
        self.columns.pop(table_name, None)

    def has_avatarization(self) -> bool:
        """Whether an ``AvatarParameters`` document will be written."""
        return any(
            self.parameters[s]
            for s in ("avatarization", "avatarization_open_dp", "avatarization_fast_dp", "time_series")
        )

    def add_report(
        self,
        report_type: Union[ReportType, str] = ReportType.BASIC,
        output_format: Union[OutputFormat, str] = OutputFormat.PDF,
        language: Union[ReportLanguage, str] = ReportLanguage.EN,
    ) -> str:
        """Ask for a report; returns its parameters name (``report`` or ``report_pia``).

        A PIA report is always a ``docx`` document, as on the platform.
        """
        kind = _enum_value(report_type, ReportType, "report_type")
        fmt = _enum_value(output_format, OutputFormat, "output_format")
        lang = _enum_value(language, ReportLanguage, "language")
        if kind == ReportType.PIA.value:
            fmt = OutputFormat.DOCX.value
        self.reports[kind] = (fmt, lang)
        return report_name(kind)

    def add_advice(self, advisor_type: Sequence[Union[AdviceType, str]] = (AdviceType.PARAMETERS,)) -> str:
        """Ask for advice; returns the advice document's name (``advice_parameters``)."""
        kinds = [_enum_value(t, AdviceType, "advisor_type") for t in advisor_type]
        if not kinds:
            raise DocumentError("advisor_type: name at least one advice type", field="advisor_type")
        name = "advice_" + "_".join(kinds)
        self.advice[name] = kinds
        return name

    def add_volume(self, name: str, url: str) -> None:
        """An ``AvatarVolume`` document (the platform infers ``input`` and ``results``)."""
        check_name(name, "name", what="volume name")
        check_name(url, "url", what="volume URL")
        self.volumes[name] = url

    # ----------------------------------------------------------------- output

    def parameters_names(self) -> List[str]:
        """The parameters documents this set will hold, in the order jobs should run."""
        names = [STANDARD] if self.has_avatarization() else []
        names += [
            n
            for n, on in (
                (SIGNAL_METRICS, self.signal_metrics_enabled),
                (PRIVACY_METRICS, self.privacy_metrics_enabled),
            )
            if on
        ]
        names += [report_name(t) for t in self.reports]
        return names + list(self.advice)

    def validate(self) -> None:
        """Check the set as a whole (links, references), then every document's shape."""
        for name, table in self.tables.items():
            for link in table.get("links") or []:
                target = link["to"]["table"]
                if target not in self.tables:
                    raise DocumentError(
                        f"tables.{name}.links: link to table {target!r}, which is not in the set",
                        field=f"tables.{name}.links",
                    )
        for section, per_table in self.parameters.items():
            for table_name in per_table:
                if table_name not in self.tables:
                    raise DocumentError(
                        f"{section}.{table_name}: parameters for a table that is not in the set",
                        field=f"{section}.{table_name}",
                    )
        for index, document in enumerate(self.documents(check=False)):
            _check_document(document, index)

    def documents(self, *, check: bool = True) -> List[_Doc]:
        """The documents, as plain data, in the order the platform's SDK writes them."""
        if check:
            self.validate()
        out: List[_Doc] = [
            {
                "kind": DocumentKind.metadata.value,
                "metadata": {"name": self.metadata_name},
                "spec": {"display_name": self.display_name, "pia_metadata": dict(self.pia_metadata)},
                "annotations": dict(self.annotations),
            }
        ]
        for name, url in self.volumes.items():
            out.append({"kind": DocumentKind.volume.value, "metadata": {"name": name}, "spec": {"url": url}})
        out.append(_doc(DocumentKind.schema, SCHEMA_NAME, {"tables": [copy.deepcopy(t) for t in self.tables.values()]}))
        avatar_tables = [
            copy.deepcopy(self.avatar_tables.get(name) or {"name": name, "avatars_data": {"auto": True}})
            for name in self.tables
        ]
        out.append(_doc(DocumentKind.schema, AVATAR_SCHEMA_NAME, {"tables": avatar_tables, "schema_ref": SCHEMA_NAME}))
        for name, kinds in self.advice.items():
            out.append(
                _doc(
                    DocumentKind.advice,
                    name,
                    {
                        "schema": SCHEMA_NAME,
                        "advice": {"advisor_type": list(kinds)},
                        "results": {"volume": RESULTS_VOLUME, "path": "advice"},
                    },
                )
            )
        time_series = copy.deepcopy(self.parameters["time_series"]) or None
        if self.has_avatarization():
            spec = {
                "schema": SCHEMA_NAME,
                **{
                    s: copy.deepcopy(self.parameters[s]) or None
                    for s in ("avatarization", "avatarization_open_dp", "avatarization_fast_dp")
                },
                "time_series": time_series,
                "results": _drop_none(
                    {"volume": RESULTS_VOLUME, "path": STANDARD, "max_distribution_plots": self.max_distribution_plots}
                ),
                "seed": self.seed,  # 0 is a seed too (the platform SDK drops it here)
                "compute_figures": self.compute_figures,
            }
            out.append(_doc(DocumentKind.parameters, STANDARD, _drop_none(spec)))
        reference = STANDARD if self.has_avatarization() else None
        for kind, name, enabled in (
            (DocumentKind.privacy_metrics, PRIVACY_METRICS, self.privacy_metrics_enabled),
            (DocumentKind.signal_metrics, SIGNAL_METRICS, self.signal_metrics_enabled),
        ):
            if enabled:
                spec = {
                    "schema": AVATAR_SCHEMA_NAME,
                    "avatarization_ref": reference,
                    "time_series": copy.deepcopy(time_series),
                    name: copy.deepcopy(self.parameters[name]) or None,
                    "results": {"volume": RESULTS_VOLUME, "path": name},
                    "seed": self.seed,
                }
                out.append(_doc(kind, name, _drop_none(spec)))
        for report_type, (fmt, language) in self.reports.items():
            name = report_name(report_type)
            out.append(
                _doc(
                    DocumentKind.report,
                    name,
                    {
                        "report_type": report_type,
                        "output_format": fmt,
                        "language": language,
                        "results": {"volume": RESULTS_VOLUME, "path": name},
                    },
                )
            )
        return out

    def to_yaml(self) -> str:
        """The set as one YAML stream (``---`` between documents)."""
        yaml = _yaml()
        parts = [yaml.safe_dump(doc, indent=2, sort_keys=False, allow_unicode=True) for doc in self.documents()]
        return "---\n".join(parts)

    @classmethod
    def from_yaml(cls, text: str) -> ResourceSet:
        """Read a set written by :meth:`to_yaml` or by the platform's SDK.

        Raises :class:`DocumentError` naming the document and field that is
        not a resource document.
        """
        yaml = _yaml()
        if not isinstance(text, str):
            raise DocumentError(f"expected YAML text, got {type(text).__name__}", field="yaml")
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise DocumentError(f"not YAML: {str(exc).splitlines()[0]}", field="yaml") from None
        except RecursionError:
            raise DocumentError("not YAML the client reads: nested too deeply", field="yaml") from None
        return cls.from_documents(docs)

    @classmethod
    def from_documents(cls, docs: Sequence[Any]) -> ResourceSet:
        """:meth:`from_yaml` for documents already loaded from YAML (one mapping each)."""
        for index, doc in enumerate(docs):
            _check_document(doc, index)
        metadata = next((d for d in docs if d["kind"] == DocumentKind.metadata.value), None)
        display_name = ((metadata or {}).get("spec") or {}).get("display_name")
        if not display_name:
            raise DocumentError("no AvatarMetadata document with spec.display_name", field="AvatarMetadata")
        spec = metadata["spec"] if metadata else {}
        rs = cls(
            display_name,
            annotations=(metadata or {}).get("annotations") or {},
            pia_metadata=spec.get("pia_metadata") or {},
        )
        if metadata:
            rs.metadata_name = metadata["metadata"]["name"]
        for doc in docs:
            rs._absorb(doc)
        for name in rs.tables:
            rs.columns.setdefault(name, None)  # a document does not list every column: no checks against them
        return rs

    # ---------------------------------------------------------------- helpers

    def _absorb(self, doc: _Doc) -> None:
        kind, name, spec = doc["kind"], doc["metadata"]["name"], doc.get("spec") or {}
        if kind == DocumentKind.volume.value:
            self.volumes[name] = spec["url"]
        elif kind == DocumentKind.schema.value:
            target = self.avatar_tables if spec.get("schema_ref") else self.tables
            for table in spec["tables"]:
                if spec.get("schema_ref") and (table.get("avatars_data") or {}).get("auto"):
                    continue
                target[table["name"]] = copy.deepcopy(table)
        elif kind == DocumentKind.parameters.value:
            for section in ("avatarization", "avatarization_open_dp", "avatarization_fast_dp", "time_series"):
                self.parameters[section].update(copy.deepcopy(spec.get(section) or {}))
            self.seed = spec.get("seed", self.seed)
            self.compute_figures = spec.get("compute_figures")
            self.max_distribution_plots = (spec.get("results") or {}).get("max_distribution_plots")
        elif kind in (DocumentKind.privacy_metrics.value, DocumentKind.signal_metrics.value):
            section = PRIVACY_METRICS if kind == DocumentKind.privacy_metrics.value else SIGNAL_METRICS
            self.parameters[section].update(copy.deepcopy(spec.get(section) or {}))
            self.parameters["time_series"].update(copy.deepcopy(spec.get("time_series") or {}))
            setattr(self, f"{section}_enabled", True)
            if self.seed is None:
                self.seed = spec.get("seed")
        elif kind == DocumentKind.report.value:
            self.reports[spec.get("report_type", ReportType.BASIC.value)] = (
                spec.get("output_format", OutputFormat.PDF.value),
                spec.get("language", ReportLanguage.EN.value),
            )
        elif kind == DocumentKind.advice.value:
            self.advice[name] = list(spec["advice"]["advisor_type"])

    def _table(self, table_name: str, field: str) -> _Doc:
        table = self.tables.get(table_name) if isinstance(table_name, str) else None
        if table is None:
            raise DocumentError(
                f"{field}: no table {table_name!r} (tables: {', '.join(self.tables) or 'none'}; "
                "add it with add_table() first)",
                field=field,
            )
        return table

    @staticmethod
    def _check_known(table: str, known: Optional[List[str]], names: Sequence[str], field: str) -> None:
        if known is None:
            return
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DocumentError(
                f"{field}: {', '.join(repr(u) for u in unknown)} is not a column of table {table!r} "
                f"(columns: {', '.join(known)})",
                field=field,
            )

    def __repr__(self) -> str:
        return f"ResourceSet({self.display_name!r}, tables={list(self.tables)}, jobs={self.parameters_names()})"


def report_name(report_type: str) -> str:
    """``report`` for the basic report, ``report_pia`` for the PIA report."""
    return f"{REPORT}_pia" if report_type == ReportType.PIA.value else REPORT


def _as_argument(exc: DocumentError, section: str) -> DocumentError:
    """The error with ``field`` named as the set_parameters argument that holds it."""
    path = exc.field or ""
    if path == "epsilon":
        name = "open_dp_epsilon" if section == "avatarization_open_dp" else "fast_dp_epsilon"
    elif section == "time_series":
        name = "time_series_" + path.split(".")[-1]
    elif path == "avatarization_processors_parameters" or path.startswith("avatarization_processors_parameters."):
        name = "processors"
    elif path.startswith("exclude_variables."):
        name = "exclude_variable_method"
    else:
        name = path.replace(".", "_")
    message = str(exc).split(": ", 1)[-1]
    return DocumentError(f"{name}: {message}", field=name)


def _fields(table: _Doc, flag: str) -> List[str]:
    return [c["field"] for c in table.get("columns") or [] if c.get(flag)]


_COLUMN_ORDER = (
    "field",
    "type",
    "value_type",
    "identifier",
    "primary_key",
    "time_series_time",
    "pseudonymization",
    "drop",
)


def _column(entry: Mapping[str, Any]) -> _Doc:
    ordered = {k: entry[k] for k in _COLUMN_ORDER if entry.get(k) is not None}
    ordered.update({k: v for k, v in entry.items() if k not in ordered and v is not None})
    return ordered


def _doc(kind: DocumentKind, name: str, spec: _Doc) -> _Doc:
    return {"kind": kind.value, "metadata": {"name": name}, "spec": spec}


def _check_document(doc: Any, index: int) -> None:
    where = f"document[{index}]"
    check(DocumentSchema, doc, where)
    where = f"{where}({doc['kind']} {doc['metadata']['name']!r})"
    check(SCHEMA_BY_KIND[doc["kind"]], doc.get("spec") or {}, f"{where}.spec")


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is an install requirement
        raise DocumentError("resource documents need PyYAML: pip install PyYAML", field=None) from None
    return yaml
