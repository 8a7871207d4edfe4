"""Marshmallow schemas that check each resource document's shape.

They check what the platform would refuse (types, ranges, enumerated values)
and let through fields they do not know (``unknown = INCLUDE``): a newer
platform may add fields, and a document read back must be written out whole.
Cross-document checks (a link to a missing table, a weight on an unknown
column) live in :mod:`avatars.documents.resource_set`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, List, Mapping, Tuple, Type

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from ..errors import RequestValidationError
from ._kinds import (
    AdviceType,
    AlignmentMethod,
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

__all__ = ["DocumentError", "check", "SCHEMA_BY_KIND", "PARAMETER_SCHEMAS"]


class DocumentError(RequestValidationError):
    """A resource document (or a builder call) is not one the platform accepts.

    ``field`` is the dotted path of the offending value (``k``,
    ``spec.avatarization.patients.k``, ``tables.visits.links``, ...).
    """


def _one_of(enum: Type[Enum]) -> validate.OneOf:
    return validate.OneOf([member.value for member in enum])


_POSITIVE = validate.Range(min=1)
_STRICTLY_POSITIVE = validate.Range(min=0, min_inclusive=False)
_FRACTION = validate.Range(min=0, max=1, min_inclusive=False)
_PSEUDONYMIZATION_KINDS = ("FAKER", "HASH_SHA256", "UUID4", "CONSTANT", "INTEGER", "SPECIFIC_ID")


#: marshmallow >= 3.18 keeps a schema's fields (and so its errors) in declaration
#: order; older releases (3.13 is the oldest declared) iterate a plain ``set``,
#: so the order of the errors changed from run to run unless ``Meta.ordered``.
_UNORDERED_BY_DEFAULT = not isinstance(getattr(Schema, "set_class", None), type)


class _Open(Schema):
    class Meta:
        unknown = INCLUDE
        if _UNORDERED_BY_DEFAULT:
            ordered = True


def _opt_int(*validators: validate.Validator) -> fields.Integer:
    return fields.Integer(allow_none=True, strict=True, validate=list(validators))


def _opt_float(*validators: validate.Validator) -> fields.Float:
    return fields.Float(allow_none=True, validate=list(validators))


def _opt_bool() -> fields.Boolean:
    return fields.Boolean(allow_none=True, truthy={True}, falsy={False})


def _opt_str(**kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, **kwargs)


class ExcludeVariablesSchema(_Open):
    variable_names = fields.List(fields.String(), required=True)
    replacement_strategy = _opt_str(validate=_one_of(ExcludeVariablesMethod))


class ImputationSchema(_Open):
    method = _opt_str(validate=_one_of(ImputeMethod))
    k = _opt_int(_POSITIVE)
    training_fraction = _opt_float(_FRACTION)
    return_data_imputed = _opt_bool()


class DataAugmentationSchema(_Open):
    augmentation_strategy = fields.Raw(required=True)
    target_column = _opt_str()
    should_anonymize_original_table = _opt_bool()


class _CommonParameters(_Open):
    ncp = _opt_int(_POSITIVE)
    use_categorical_reduction = _opt_bool()
    column_weights = fields.Dict(
        keys=fields.String(), values=fields.Float(validate=validate.Range(min=0)), allow_none=True
    )
    exclude_variables = fields.Nested(ExcludeVariablesSchema, allow_none=True)
    imputation = fields.Nested(ImputationSchema, allow_none=True)


class _AvatarizationCommon(_CommonParameters):
    data_augmentation = fields.Nested(DataAugmentationSchema, allow_none=True)
    avatarization_processors_parameters = fields.List(fields.Dict(), allow_none=True)


class AvatarizationSchema(_AvatarizationCommon):
    k = fields.Integer(required=True, strict=True, validate=_POSITIVE)


class OpenDPSchema(_AvatarizationCommon):
    epsilon = fields.Float(required=True, validate=_STRICTLY_POSITIVE)
    preprocess_budget_ratio = _opt_float(validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False))


class FastDPSchema(_AvatarizationCommon):
    epsilon = fields.Float(required=True, validate=_STRICTLY_POSITIVE)
    mechanism = _opt_str(validate=validate.OneOf(["gaussian", "gmm", "histogram"]))
    gmm_n_components = _opt_int(_POSITIVE)
    histogram_n_bins = _opt_int(_POSITIVE)
    bounds_percentile = _opt_float(validate.Range(min=0, max=50))


class _Projection(_Open):
    projection_type = _opt_str(validate=_one_of(ProjectionType))
    nf = _opt_int(_POSITIVE)


class _Alignment(_Open):
    nb_points = _opt_int(_POSITIVE)
    method = _opt_str(validate=_one_of(AlignmentMethod))


class TimeSeriesSchema(_Open):
    projection = fields.Nested(_Projection, allow_none=True)
    alignment = fields.Nested(_Alignment, allow_none=True)


class PrivacyMetricsSchema(_CommonParameters):
    known_variables = fields.List(fields.String(), allow_none=True)
    target = _opt_str()
    quantile_threshold = _opt_int(validate.Range(min=0))


class SignalMetricsSchema(_CommonParameters):
    pass


class ResultsSchema(_Open):
    volume = _opt_str()
    path = _opt_str()
    format = _opt_str()
    name_template = _opt_str()
    max_distribution_plots = _opt_int(validate.Range(min=0))


def _per_table(schema: Type[Schema]) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Nested(schema), allow_none=True)


class ParametersSpecSchema(_Open):
    schema = fields.String(required=True)
    avatarization = _per_table(AvatarizationSchema)
    avatarization_open_dp = _per_table(OpenDPSchema)
    avatarization_fast_dp = _per_table(FastDPSchema)
    avatarization_ref = _opt_str()
    time_series = _per_table(TimeSeriesSchema)
    time_series_ref = _opt_str()
    privacy_metrics = _per_table(PrivacyMetricsSchema)
    signal_metrics = _per_table(SignalMetricsSchema)
    results = fields.Nested(ResultsSchema, allow_none=True)
    seed = _opt_int()
    compute_figures = _opt_bool()


class ReportSpecSchema(_Open):
    report_type = fields.String(validate=_one_of(ReportType))
    output_format = fields.String(validate=_one_of(OutputFormat))
    language = fields.String(validate=_one_of(ReportLanguage))
    results = fields.Nested(ResultsSchema, allow_none=True)


class _AdviceParameters(_Open):
    advisor_type = fields.List(fields.String(validate=_one_of(AdviceType)), required=True)


class AdviceSpecSchema(_Open):
    schema = fields.String(required=True)
    advice = fields.Nested(_AdviceParameters, required=True)
    results = fields.Nested(ResultsSchema, allow_none=True)


class MetadataSpecSchema(_Open):
    display_name = _opt_str()
    pia_metadata = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)


class VolumeSpecSchema(_Open):
    url = fields.String(required=True)


class _TableData(_Open):
    volume = _opt_str()
    file = _opt_str()
    auto = _opt_bool()


class _Pseudonymization(_Open):
    kind = fields.String(required=True, validate=validate.OneOf(_PSEUDONYMIZATION_KINDS))


class ColumnSchema(_Open):
    field = fields.String(required=True)
    type = _opt_str(validate=_one_of(ColumnType))
    value_type = _opt_str()
    identifier = _opt_bool()
    primary_key = _opt_bool()
    time_series_time = _opt_bool()
    pseudonymization = fields.Nested(_Pseudonymization, allow_none=True)
    drop = _opt_bool()


class _LinkTarget(_Open):
    table = fields.String(required=True)
    field = fields.String(required=True)


class LinkSchema(_Open):
    field = fields.String(required=True)
    to = fields.Nested(_LinkTarget, required=True)
    method = fields.String(required=True, validate=_one_of(LinkMethod))


class TableSchema(_Open):
    name = fields.String(required=True)
    data = fields.Nested(_TableData, allow_none=True)
    individual_level = _opt_bool()
    avatars_data = fields.Nested(_TableData, allow_none=True)
    columns = fields.List(fields.Nested(ColumnSchema), allow_none=True)
    links = fields.List(fields.Nested(LinkSchema), allow_none=True)


class SchemaSpecSchema(_Open):
    tables = fields.List(fields.Nested(TableSchema), required=True)
    schema_ref = _opt_str()


class _DocumentMetadata(_Open):
    name = fields.String(required=True, validate=validate.Length(min=1))


class DocumentSchema(_Open):
    kind = fields.String(required=True, validate=_one_of(DocumentKind))
    metadata = fields.Nested(_DocumentMetadata, required=True)
    spec = fields.Dict(allow_none=True)
    annotations = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)


SCHEMA_BY_KIND: Dict[str, Type[Schema]] = {
    DocumentKind.metadata.value: MetadataSpecSchema,
    DocumentKind.volume.value: VolumeSpecSchema,
    DocumentKind.schema.value: SchemaSpecSchema,
    DocumentKind.parameters.value: ParametersSpecSchema,
    DocumentKind.privacy_metrics.value: ParametersSpecSchema,
    DocumentKind.signal_metrics.value: ParametersSpecSchema,
    DocumentKind.report.value: ReportSpecSchema,
    DocumentKind.advice.value: AdviceSpecSchema,
}

#: the schema of one table's entry in each per-table section of a parameters document
PARAMETER_SCHEMAS: Dict[str, Type[Schema]] = {
    "avatarization": AvatarizationSchema,
    "avatarization_open_dp": OpenDPSchema,
    "avatarization_fast_dp": FastDPSchema,
    "time_series": TimeSeriesSchema,
    "privacy_metrics": PrivacyMetricsSchema,
    "signal_metrics": SignalMetricsSchema,
}


def _first_error(messages: Any, path: Tuple[str, ...] = ()) -> Tuple[Tuple[str, ...], str]:
    """The first (path, message) of marshmallow's nested error dictionary."""
    if isinstance(messages, Mapping):
        for key in sorted(messages, key=str):
            # marshmallow reports a Dict's bad value under {key: {"value": ...}}
            step = () if key in ("value", "_schema") else (str(key),)
            return _first_error(messages[key], path + step)
    if isinstance(messages, list) and messages:
        if all(isinstance(m, str) for m in messages):
            return path, str(messages[0])
        return _first_error(messages[0], path)
    return path, str(messages)


def check(schema: Type[Schema], data: Any, where: str = "") -> None:
    """Raise :class:`DocumentError` naming the first bad field of ``data``."""
    if not isinstance(data, Mapping):
        raise DocumentError(f"{where or 'document'} must be a mapping, got {type(data).__name__}", field=where or None)
    try:
        errors = schema().validate(dict(data))
    except ValidationError as exc:  # pragma: no cover - validate() returns, it does not raise
        errors = exc.messages_dict
    if errors:
        path, message = _first_error(errors)
        dotted = ".".join(p for p in ((where,) if where else ()) + path)
        raise DocumentError(f"{dotted}: {message}", field=dotted or None)


def check_list(items: List[Any], schema: Type[Schema], where: str) -> None:
    for index, item in enumerate(items):
        check(schema, item, f"{where}[{index}]")
