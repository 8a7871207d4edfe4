"""``Runner``: one avatarization on the platform, with the platform SDK's names.

::

    runner = manager.create_runner("my-study", seed=42)
    runner.add_table("patients", df, primary_key="id")      # DataFrame, path or binary file
    runner.set_parameters("patients", k=15)
    runner.run()                                   # uploads, PUT /resources, creates the jobs
    avatars = runner.shuffled("patients")                  # waits for the job, then downloads
    print(runner.privacy_metrics("patients"))
    runner.download_report("report.pdf")

What it sends, in order: each table's data to object storage (at
:meth:`run`, not at :meth:`add_table`: a refused parameter never leaves an
orphan upload), the resource set (``PUT /resources/{display_name}``, the
YAML of :class:`~avatars.documents.ResourceSet`), then the jobs: on the
platform API 3.x one ``POST /jobs/flow`` for the whole set (and one ``GET
/jobs?set_name=`` to tell its jobs apart), on 2.90 one ``POST /jobs`` per
parameters document (``standard``, ``signal_metrics``, ``privacy_metrics``,
``report``, ``report_pia``), each naming the jobs it depends on.  Waiting
polls on a schedule that grows with the time already waited (:func:`poll_delay`).

Differences from the platform's SDK, all on purpose:

* Waiting shows progress (a tqdm bar on a terminal, nothing elsewhere, or
  your :class:`~avatars.progress.ProgressListener`) and can time out
  (``runner.timeout``).  The SDK blocks silently with no limit.
* A failed job raises :class:`~avatars.errors.JobFailedError` for the job
  that failed, with its message, not for a job that only ended
  ``parent_error`` because of it.
* Every mistake the client can see (an unknown table or column, ``k < 1``,
  results asked before :meth:`run`) raises before anything is sent.
* Results are pandas DataFrames with the columns' original types when pandas
  is installed, lists of ``{column: text}`` rows otherwise.
* A DataFrame's named index is kept as a column (the SDK drops it).
* After :meth:`from_yaml`, :meth:`run` runs the parameters the YAML holds
  (the SDK's job launcher keeps the configuration it had before), and
  :meth:`upload_file` checks the data's columns against the set.
* :meth:`delete_parameters` with names removes them from every document of
  the table (the SDK's leaves them in the metrics documents).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._filenames import safe_filename
from ._validate import require_text_list
from .client import ApiClient
from .documents import ColumnType, ReportLanguage, ReportType, ResourceSet, report_name
from .documents.files import file_name_of, table_of_result_file
from .errors import (
    AvatarError,
    ConflictError,
    EndpointUnavailableError,
    JobFailedError,
    RequestValidationError,
    WaitTimeoutError,
)
from .models import BulkDeleteResponse, JobCreateRequest, JobCreateResponse, JobKind, JobResponse, JobStatus
from .progress import ProgressOption, bytes_callback, resolve_progress
from .resources.results import download_result_files, prefetch_credentials
from .transfer import _local_file

__all__ = ["Runner", "RunnerResults", "DataStore", "JOB_EXECUTION_ORDER", "poll_delay"]

#: the jobs :meth:`Runner.run` launches by default, in the platform SDK's order
JOB_EXECUTION_ORDER: Tuple[JobKind, ...] = (
    JobKind.standard,
    JobKind.signal_metrics,
    JobKind.privacy_metrics,
    JobKind.report,
)

TableData = Union[str, "os.PathLike[str]", IO[bytes], IO[str], Any]

#: pandas dtype (as text) -> the platform's column type, first match wins
_DTYPE_TYPES: Tuple[Tuple[str, ColumnType], ...] = (
    ("datetime64[ns, ", ColumnType.DATETIME_TZ),
    ("datetime", ColumnType.DATETIME),
    ("float", ColumnType.NUMERIC),
    ("int", ColumnType.INT),
    ("bool", ColumnType.BOOL),
)


def poll_delay(elapsed: float, *, floor: float, ceiling: float, fraction: float) -> float:
    """Seconds to wait before polling again jobs launched ``elapsed`` seconds ago.

    ``fraction * elapsed``, at least ``floor`` and at most ``ceiling``.  The
    pause grows with the time already waited, so a job that ends ``T``
    seconds after its launch is seen at most ``max(floor, min(ceiling,
    fraction * T))`` seconds late (a bounded share of its own run time), and
    the polls until then number about ``floor``-spaced ones for the first
    ``floor / fraction`` seconds, then ``log(T * fraction / floor) / log(1 +
    fraction)`` more: logarithmic in ``T`` up to the ceiling, then one per
    ``ceiling`` seconds.
    """
    return max(floor, min(ceiling, fraction * max(0.0, elapsed)))


class DataStore:
    """The one place a :class:`Runner` meets object storage.

    ``upload`` puts a table's bytes under the caller's storage prefix as
    ``key``; ``download`` returns a result file's bytes.  Both go through the
    client's storage facade; pass your own ``DataStore`` to a Runner to keep
    data elsewhere in tests.
    """

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def upload(self, key: str, data: bytes, *, label: str, progress: Any) -> None:
        # Always the object store, with signed requests: an upload prefix that is not
        # a storage location (an http(s) URL elsewhere) is refused, never written to.
        self._client.datasets.upload(data, key, progress=bytes_callback(progress, label))

    def prefetch(self, urls: Sequence[str]) -> None:
        """Ask for the credentials of several result files at once (``POST /access/batch``),
        so that their downloads need no ``GET /access`` each; a URL left out is asked
        for alone when it is downloaded."""
        prefetch_credentials(self._client.results, urls)

    def download(self, url: str, *, label: str, progress: Any) -> bytes:
        buffer = io.BytesIO()
        self._client.results.download_file(url, buffer, progress=bytes_callback(progress, label))
        return buffer.getvalue()


@dataclass
class _Table:
    payload: bytes = field(repr=False)
    key: str
    columns: List[str]
    dtypes: Dict[str, str]
    avatar_payload: Optional[bytes] = field(default=None, repr=False)
    avatar_key: Optional[str] = None


@dataclass
class RunnerResults:
    """What :meth:`Runner.get_all_results` gathered: result -> table -> value."""

    shuffled: Dict[str, Any] = field(default_factory=dict)
    sensitive_unshuffled: Dict[str, Any] = field(default_factory=dict)
    privacy_metrics: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    signal_metrics: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)


def _is_dataframe(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas"


def _header(payload: bytes, table: str) -> List[str]:
    first = payload.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestValidationError(f"table {table!r}: the data is not UTF-8 CSV", field="data") from None
    columns = next(csv.reader([text]), [])
    if not columns or not any(c.strip() for c in columns):
        raise RequestValidationError(f"table {table!r}: the data has no CSV header line", field="data")
    return columns


def _read_table(table: str, data: Any, argument: str) -> Tuple[bytes, List[str], Dict[str, str], str]:
    """``(CSV bytes, columns, {column: pandas dtype}, file extension)`` of one table's data."""
    if _is_dataframe(data):
        frame = data
        index_names = [n for n in frame.index.names if n is not None]
        if index_names:
            clash = [str(n) for n in index_names if n in frame.columns]
            if clash:
                raise RequestValidationError(
                    f"table {table!r}: the index {', '.join(clash)} has the name of a column; rename one",
                    field=argument,
                )
            frame = frame.reset_index()  # a named index is data: keep it as a column
        payload = frame.to_csv(index=False).encode("utf-8")
        dtypes = {str(c): str(t) for c, t in frame.dtypes.items()}
        return payload, [str(c) for c in frame.columns], dtypes, ".csv"
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        path = Path(text)
        if isinstance(data, str) and ("\n" in text or (not path.exists() and "," in text)):
            raise RequestValidationError(
                f"table {table!r}: {argument} looks like CSV text, not a file path; "
                "pass io.BytesIO(text.encode()) or a DataFrame",
                field=argument,
            )
        if not path.is_file():
            raise RequestValidationError(f"table {table!r}: no such file {text!r}", field=argument)
        payload = path.read_bytes()
        return payload, _header(payload, table), {}, path.suffix or ".csv"
    if isinstance(data, (bytes, bytearray)):
        payload = bytes(data)
        return payload, _header(payload, table), {}, ".csv"
    if hasattr(data, "read"):
        content = data.read()
        payload = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        return payload, _header(payload, table), {}, ".csv"
    if isinstance(data, Sequence) and data and all(isinstance(row, Mapping) for row in data):
        columns: List[str] = list(dict.fromkeys(str(key) for row in data for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({str(k): ("" if v is None else v) for k, v in row.items()} for row in data)
        return buffer.getvalue().encode("utf-8"), columns, {}, ".csv"
    raise RequestValidationError(
        f"table {table!r}: {argument} must be a DataFrame, a path, a file object or a list of row dicts, "
        f"got {type(data).__name__}",
        field=argument,
    )


def _infer_types(dtypes: Mapping[str, str]) -> Dict[str, str]:
    out = {}
    for column, dtype in dtypes.items():
        found = next((t for prefix, t in _DTYPE_TYPES if prefix in dtype), ColumnType.CATEGORY)
        out[column] = found.value
    return out


class Runner:
    """One avatarization (see the module docstring).

    :param api_client: an authenticated :class:`~avatars.ApiClient`.
    :param display_name: the resource set's name (several runs may share it:
        each :meth:`run` makes a new set, ``set_name``).
    :param seed: the seed of every job (``None``: the platform picks one).
    :param report_language: ``"en"`` or ``"fr"``.
    :param progress: ``True`` (tqdm bar on a terminal), ``False``, or a
        :class:`~avatars.progress.ProgressListener`.
    :param timeout: seconds to wait for a job before
        :class:`~avatars.errors.WaitTimeoutError` (``None``: no limit).
    :param data_store: where table data goes (default: the client's object storage).
    """

    #: the poll schedule (see :func:`poll_delay`): the pause before the next poll is
    #: ``poll_fraction`` of the time since the jobs were launched, at least
    #: ``poll_interval`` and at most ``max_poll_interval`` seconds
    poll_interval = 0.2
    max_poll_interval = 5.0
    poll_fraction = 0.5

    def __init__(
        self,
        api_client: ApiClient,
        display_name: str,
        seed: Optional[int] = None,
        max_distribution_plots: Optional[int] = None,
        compute_figures: Optional[bool] = None,
        pia_data_recipient: str = "unknown",
        pia_data_type: str = "unknown",
        pia_data_subject: str = "unknown",
        pia_sensitivity_level: str = "Undefined",
        report_language: Union[ReportLanguage, str] = ReportLanguage.EN,
        *,
        progress: ProgressOption = True,
        timeout: Optional[float] = None,
        data_store: Optional[DataStore] = None,
    ) -> None:
        from ._version import __version__

        self.client = api_client
        self.display_name = display_name
        #: the set's id once :meth:`run` stored it (``None`` before)
        self.set_name: Optional[str] = None
        self.config = ResourceSet(
            display_name,
            seed=seed,
            max_distribution_plots=max_distribution_plots,
            compute_figures=compute_figures,
            annotations={"client_type": "python", "client_version": __version__},
            pia_metadata={
                "datarecipient": str(pia_data_recipient),
                "data_type": str(pia_data_type),
                "datasubject": str(pia_data_subject),
                "sensitivity_level": str(pia_sensitivity_level),
            },
        )
        self.report_language = _choice(ReportLanguage, report_language, "report_language")
        self.timeout = timeout
        self._progress = resolve_progress(progress)
        self._store = data_store or DataStore(api_client)
        self._tables: Dict[str, _Table] = {}
        #: parameters name (``standard``, ``report_pia``...) -> the job created for it
        self.jobs: Dict[str, JobCreateResponse] = {}
        self._uploaded: Dict[str, bytes] = {}
        self._finished: Dict[str, JobResponse] = {}
        self._result_urls: Dict[str, Dict[str, List[str]]] = {}
        self._downloads: Dict[str, bytes] = {}
        #: ``time.monotonic()`` of the last launch, and of the last poll (``None``: none yet)
        self._launched_at: Optional[float] = None
        self._polled_at: Optional[float] = None

    # --------------------------------------------------------------- building

    def add_annotations(self, annotations: Mapping[str, str]) -> None:
        """Add ``str -> str`` annotations to the set's metadata document."""
        for key, value in annotations.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise RequestValidationError("annotations must map strings to strings", field="annotations")
        self.config.annotations.update(annotations)

    def add_table(
        self,
        table_name: str,
        data: TableData,
        primary_key: Optional[str] = None,
        foreign_keys: Optional[Sequence[str]] = None,
        time_series_time: Optional[str] = None,
        types: Optional[Mapping[str, Union[ColumnType, str]]] = None,
        columns_to_drop: Optional[Sequence[str]] = None,
        individual_level: Optional[bool] = None,
        avatar_data: Optional[TableData] = None,
    ) -> None:
        """Add a table: a pandas DataFrame, a path to a CSV file, a file object, or a
        list of row dicts (an addition: the platform SDK takes the first two).

        A DataFrame's column types are read from its dtypes (``types``
        overrides them).  A string is a path: CSV text given by mistake is
        refused, not looked up as a file name.  ``avatar_data`` is an already
        avatarized version, to compute metrics without avatarizing.  The data
        is read now and sent by :meth:`run`.
        """
        from .documents import check_name

        check_name(table_name, "table_name", what="table name")
        payload, columns, dtypes, suffix = _read_table(table_name, data, "data")
        merged_types: Dict[str, Union[ColumnType, str]] = {**_infer_types(dtypes), **dict(types or {})}
        avatar_payload = avatar_key = None
        if avatar_data is not None:
            avatar_payload, avatar_columns, _, _ = _read_table(table_name, avatar_data, "avatar_data")
            if avatar_columns != columns:
                raise RequestValidationError(
                    f"table {table_name!r}: avatar_data has columns {avatar_columns}, data has {columns}",
                    field="avatar_data",
                )
            avatar_key = f"{table_name}_avatars{suffix}"
        key = f"{table_name}{suffix}"
        self.config.add_table(
            table_name,
            key,
            columns=columns,
            primary_key=primary_key,
            foreign_keys=[fk for fk in (foreign_keys or []) if fk is not None] or None,
            time_series_time=time_series_time,
            types=merged_types or None,
            individual_level=individual_level,
            columns_to_drop=columns_to_drop,
            avatar_file=avatar_key,
        )
        self._tables[table_name] = _Table(payload, key, columns, dtypes, avatar_payload, avatar_key)

    def add_link(
        self,
        parent_table_name: str,
        parent_field: str,
        child_table_name: str,
        child_field: str,
        method: str = "linear_sum_assignment",
    ) -> None:
        """Link the child's foreign key ``child_field`` to the parent's primary key."""
        self.config.add_link(parent_table_name, parent_field, child_table_name, child_field, method)

    def upload_file(
        self, table_name: str, data: TableData, avatar_data: Optional[TableData] = None
    ) -> Tuple[str, Optional[str]]:
        """Give the data of a table that the configuration already names (after
        :meth:`from_yaml` or :meth:`Manager.create_runner_from_yaml`); the set is not
        changed.  The data (and ``avatar_data``, when the set names an avatarized
        file for the table) is sent by :meth:`run` under the file names the set
        gives.  Returns those ``(file, avatar file)`` names.

        Its columns are checked against the columns the set names, before
        anything is sent.
        """
        self._check_table(table_name)
        doc = self.config.tables[table_name]
        key = str((doc.get("data") or {}).get("file") or f"{table_name}.csv")
        payload, columns, dtypes, _ = _read_table(table_name, data, "data")
        named = self.config.columns.get(table_name) or [c["field"] for c in doc.get("columns") or [] if c.get("field")]
        unknown = [c for c in named if c not in columns]
        if unknown:
            raise RequestValidationError(
                f"table {table_name!r}: the data has no column {', '.join(map(repr, unknown))} that the set names",
                field="data",
            )
        avatar_doc = (self.config.avatar_tables.get(table_name) or {}).get("avatars_data") or {}
        avatar_key = avatar_doc.get("file")
        avatar_payload = None
        if avatar_data is not None:
            if not avatar_key:
                raise RequestValidationError(
                    f"table {table_name!r}: the set names no avatarized file; use add_table(..., avatar_data=...)",
                    field="avatar_data",
                )
            avatar_payload, avatar_columns, _, _ = _read_table(table_name, avatar_data, "avatar_data")
            if avatar_columns != columns:
                raise RequestValidationError(
                    f"table {table_name!r}: avatar_data has columns {avatar_columns}, data has {columns}",
                    field="avatar_data",
                )
        if self.config.columns.get(table_name) is None:
            self.config.columns[table_name] = columns  # later parameters are checked against them
        self._tables[table_name] = _Table(
            payload, key, columns, dtypes, avatar_payload, str(avatar_key) if avatar_payload is not None else None
        )
        return key, (str(avatar_key) if avatar_key else None)

    def set_parameters(self, table_name: str, **parameters: Any) -> None:
        """Set (replace) the parameters of one table; the names are the platform SDK's.

        ``k`` (or ``open_dp_epsilon`` / ``fast_dp_epsilon``), ``ncp``,
        ``use_categorical_reduction``, ``column_weights``,
        ``exclude_variable_names``, ``exclude_variable_method``,
        ``imputation_method``, ``imputation_k``,
        ``imputation_training_fraction``, ``imputation_return_data_imputed``,
        ``time_series_nf``, ``time_series_projection_type``,
        ``time_series_nb_points``, ``time_series_method``,
        ``known_variables``, ``target``, ``quantile_threshold``,
        ``data_augmentation_strategy``, ``data_augmentation_target_column``,
        ``data_augmentation_should_anonymize_original_table``, ``processors``,
        ``pseudonymized_columns``, ``use_excluded_variables_in_metrics``.
        See :meth:`avatars.documents.ResourceSet.set_parameters`.  A refused
        value raises :class:`~avatars.documents.DocumentError` naming it.
        """
        if "exclude_replacement_strategy" in parameters:  # the platform SDK's deprecated name
            parameters.setdefault("exclude_variable_method", parameters.pop("exclude_replacement_strategy"))
        try:
            self.config.set_parameters(table_name, **parameters)
        except TypeError as exc:
            raise RequestValidationError(f"set_parameters: {exc}", field="parameters") from None

    def update_parameters(self, table_name: str, **parameters: Any) -> None:
        """Change some parameters of a table and keep the others (same names as :meth:`set_parameters`)."""
        current = self.config.current_parameters(table_name)
        if not any(key in current for key in ("k", "open_dp_epsilon", "fast_dp_epsilon")):
            raise RequestValidationError(
                f"table {table_name!r} has no parameters yet: use set_parameters()", field="table_name"
            )
        if {"k", "open_dp_epsilon", "fast_dp_epsilon"} & set(parameters):
            for key in ("k", "open_dp_epsilon", "fast_dp_epsilon"):
                current.pop(key, None)  # a new method replaces the old one
        self.set_parameters(table_name, **{**current, **parameters})

    def delete_parameters(self, table_name: str, parameters_names: Optional[Sequence[str]] = None) -> None:
        """Remove every parameter of a table, or only ``parameters_names``.

        The names are :meth:`set_parameters`' (``"ncp"``, ``"column_weights"``,
        ``"imputation_k"``...), or a group: ``"imputation"``,
        ``"exclude_variables"``, ``"data_augmentation"``, ``"time_series"``
        (every name it starts).  The method (``k`` or an epsilon) goes only
        with everything else: deleting it alone leaves a table that cannot run,
        and is refused.  An unknown name is refused; nothing changes then.
        """
        if parameters_names is None:
            self.config.delete_parameters(table_name)
            return
        names = (
            [parameters_names]
            if isinstance(parameters_names, str)
            else list(require_text_list(parameters_names, "parameters_names"))
        )
        current = self.config.current_parameters(table_name)
        known = _parameter_names()
        for name in names:
            group = _PARAMETER_GROUPS.get(name)
            matching = [key for key in known if key.startswith(group)] if group else [name]
            if not group and name not in known:
                raise RequestValidationError(
                    f"delete_parameters: {name!r} is not a parameter (see set_parameters)", field="parameters_names"
                )
            for key in matching:
                current.pop(key, None)
        if not current:
            self.config.delete_parameters(table_name)
            return
        if not {"k", "open_dp_epsilon", "fast_dp_epsilon"} & set(current) and not any(
            key.startswith("time_series_") for key in current
        ):
            raise RequestValidationError(
                f"delete_parameters: table {table_name!r} would keep parameters but no k or epsilon; "
                "delete them all (parameters_names=None) or use set_parameters()",
                field="parameters_names",
            )
        self.set_parameters(table_name, **current)

    def delete_link(self, parent_table_name: str, child_table_name: str) -> None:
        self.config.delete_link(parent_table_name, child_table_name)

    def delete_table(self, table_name: str) -> None:
        """Remove a table, its parameters and the links to it (nothing was sent for it yet)."""
        self.config.delete_table(table_name)
        self._tables.pop(table_name, None)

    def get_yaml(self, path: Optional[Union[str, os.PathLike[str]]] = None) -> str:
        """The resource set's YAML (also written to ``path`` when given)."""
        text = self.config.to_yaml()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def from_yaml(self, yaml_path: Union[str, os.PathLike[str]]) -> None:
        """Replace this runner's configuration with a YAML file's (data must be added again
        with :meth:`add_table` for the tables to be uploaded)."""
        text = Path(yaml_path).read_text(encoding="utf-8")
        config = ResourceSet.from_yaml(text)
        config.display_name = self.display_name
        self.config = config
        self._tables = {}

    # ---------------------------------------------------------------- running

    def run(
        self, jobs_to_run: Iterable[Union[JobKind, str]] = JOB_EXECUTION_ORDER, ignore_warnings: bool = False
    ) -> Dict[str, str]:
        """Send the data and the set, then launch the jobs; returns ``{parameters name: job name}``.

        Everything is checked first: nothing is sent when a job cannot run
        (no table, a table without parameters, metrics without avatarization
        or avatar data, a report without both metrics).  A second call makes a
        new set and new jobs; the earlier jobs stay on the platform, and this
        runner then reads the new ones: a :class:`UserWarning` names the
        earlier set (read it again with :meth:`Manager.create_runner_from_id`)
        unless ``ignore_warnings`` is true.
        """
        kinds = sorted({JobKind.parse(k, field_name="jobs_to_run") for k in jobs_to_run}, key=_order)
        if not kinds:
            raise RequestValidationError("jobs_to_run is empty", field="jobs_to_run")
        self._check_runnable(kinds)
        ran = [name for name in self.jobs if not name.startswith(JobKind.advice.value)]  # advice is no run
        if ran and self.set_name is not None and not ignore_warnings:
            warnings.warn(
                f"this runner's results of set {self.set_name} are replaced by a new run; read them later "
                f"with manager.create_runner_from_id({self.set_name!r})",
                UserWarning,
                stacklevel=2,
            )
        if JobKind.report in kinds:
            for report_type in (ReportType.BASIC, ReportType.PIA):
                if report_type.value not in self.config.reports:
                    self.config.add_report(report_type, language=self.report_language)
        text = self.config.to_yaml()  # checks the whole set
        self._upload_tables()
        stored = self.client.resources.put_resources(self.display_name, text)
        self.set_name = str(stored.set_name)
        self.jobs = {}
        self._finished.clear()
        self._result_urls.clear()
        self._downloads.clear()
        plan: List[Tuple[str, JobKind]] = []
        for kind in kinds:
            names = [report_name(r) for r in self.config.reports] if kind is JobKind.report else [kind.value]
            plan += [(name, kind) for name in names]
        # the jobs are known to be just created: the launch counts as a poll
        self._launched_at = self._polled_at = time.monotonic()
        # POST /jobs/flow creates a job for EVERY parameters document of the set: only when
        # that is exactly what was asked (else one POST /jobs per job, as on 2.90)
        if sorted(p for p, _ in plan) != sorted(self.config.parameters_names()) or not self._launch_flow(plan):
            for parameters_name, kind in plan:
                self._launch(parameters_name, self._depends(kind))
        return {name: created.name for name, created in self.jobs.items()}

    def advise_parameters(self, table_name: Optional[str] = None) -> None:
        """Ask the platform for parameters (an advice job), wait, and set them.

        Uploads the data and stores the set (with an advice document) first.
        """
        tables = [table_name] if table_name is not None else list(self.config.tables)
        for name in tables:
            self._check_table(name)
        if not tables:
            raise RequestValidationError("no table: call add_table() first", field="table_name")
        advice_name = self.config.add_advice()
        text = self.config.to_yaml()
        self._upload_tables()
        stored = self.client.resources.put_resources(self.display_name, text)
        self.set_name = str(stored.set_name)
        self._finished.pop(advice_name, None)
        self._result_urls.pop(advice_name, None)
        self._launched_at = self._polled_at = time.monotonic()
        self._launch(advice_name, [])
        advice = self._json_results(advice_name, "advice")
        for name in tables:
            entry = next(
                (item.get("advice") for item in advice if isinstance(item, dict) and item.get("table_name") == name),
                None,
            )
            if not isinstance(entry, dict):
                raise AvatarError(f"the advice job gave no parameters for table {name!r}")
            imputation = entry.get("imputation") or {}
            self.set_parameters(
                name,
                k=entry.get("k"),
                ncp=entry.get("ncp"),
                use_categorical_reduction=entry.get("use_categorical_reduction"),
                imputation_method=imputation.get("method"),
                imputation_k=imputation.get("k"),
                imputation_training_fraction=imputation.get("training_fraction"),
                imputation_return_data_imputed=imputation.get("return_data_imputed", False),
            )

    def get_job(self, job_name: Union[JobKind, str]) -> JobResponse:
        """``GET /jobs/{name}`` of the job this runner launched for ``job_name``
        (a kind, or a parameters name such as ``report_pia``)."""
        job = self.client.jobs.get_job_status(self._job(job_name).name)
        self._seen(self._parameters_name(job_name), job)
        return job

    def _seen(self, parameters_name: str, job: JobResponse) -> None:
        """Remember a job seen finished (no more polls for it, no cancel sent to it)."""
        if job.status is JobStatus.finished:
            self._finished.setdefault(parameters_name, job)

    def get_status(
        self, job_kind: Union[JobKind, str, None] = None, *, job_name: Union[JobKind, str, None] = None
    ) -> JobStatus:
        """The job's status now (``JobStatus`` is a ``str``: ``== "finished"`` works).

        ``job_name=`` is the platform SDK's older name of ``job_kind`` (a
        :class:`DeprecationWarning`)."""
        if job_name is not None:
            if job_kind is not None:
                raise RequestValidationError("give job_kind or job_name, not both", field="job_kind")
            warnings.warn("get_status(job_name=...) is get_status(job_kind)", DeprecationWarning, stacklevel=2)
            job_kind = job_name
        if job_kind is None:
            raise RequestValidationError("get_status needs a job kind, such as 'standard'", field="job_kind")
        return self.get_job(job_kind).status

    def wait(self, job_name: Union[JobKind, str, None] = None, *, timeout: Optional[float] = None) -> JobResponse:
        """Wait for one job (default: every job this runner launched, returning the last).

        Raises :class:`~avatars.errors.JobFailedError` for the job that failed
        first (the root cause, not a dependant's ``parent_error``), and
        :class:`~avatars.errors.WaitTimeoutError` after ``timeout`` (default
        ``runner.timeout``) seconds.
        """
        names = [self._parameters_name(job_name)] if job_name is not None else list(self.jobs)
        if not names:
            raise RequestValidationError("no job to wait for: call run() first", field="job_name")
        limit = self.timeout if timeout is None else timeout
        self._wait_many(names, limit)  # several jobs: one GET /jobs?set_name= per round
        job: Optional[JobResponse] = None
        for name in names:
            job = self._wait(name, limit)
        assert job is not None
        return job

    def delete(self, job_names: Union[JobKind, str, Sequence[Union[JobKind, str]], None] = None) -> BulkDeleteResponse:
        """Delete jobs this runner launched (all of them by default)."""
        wanted = self._named_jobs(job_names)
        names = [self._job(n).name for n in wanted]
        if not names:
            raise RequestValidationError("no job to delete: call run() first", field="job_names")
        return self.client.jobs.bulk_delete_jobs(names)

    def cancel(self, job_names: Union[JobKind, str, Sequence[Union[JobKind, str]], None] = None) -> List[JobResponse]:
        """Stop jobs this runner launched that have not ended (all of them by
        default): ``POST /jobs/{name}/cancel``, platform API 3.x.  Returns the
        jobs a cancel was sent for, as the server answered.

        A job already over is left alone, not refused: one this runner saw end
        is not asked about, and one that ended before its cancel arrived (a 409)
        is skipped.  On a 2.90 platform, which has no cancel, a job still going
        raises :class:`~avatars.errors.EndpointUnavailableError` (delete the
        jobs with :meth:`delete` instead).
        """
        wanted = self._named_jobs(job_names)
        if not wanted:
            raise RequestValidationError("no job to stop: call run() first", field="job_names")
        created = {self._parameters_name(n): self._job(n) for n in wanted}  # every name checked first
        stopped: List[JobResponse] = []
        for parameters_name, job in created.items():
            if parameters_name in self._finished:
                continue
            try:
                stopped.append(self.client.jobs.cancel_job(job.name))
            except ConflictError:  # it ended before the cancel arrived
                continue
        return stopped

    def kill(self) -> List[JobResponse]:
        """:meth:`cancel` every job of this runner (the platform SDK's ``kill`` does nothing)."""
        return self.cancel()

    def statuses(self) -> Dict[str, JobStatus]:
        """``{parameters name: status}`` of every job this runner launched, in the
        order the work happens (one ``GET /jobs?set_name=`` for several jobs, a
        ``GET /jobs/{name}`` for a single one; a job the listing lacks is asked
        for alone)."""
        if not self.jobs:
            raise RequestValidationError("no job was launched by this runner: call run() first", field="job_name")
        listed: Dict[str, JobResponse] = {}
        if self.set_name is not None and len(self.jobs) > 1:
            listed = {job.name: job for job in self.client.jobs.get_jobs(set_name=self.set_name)}
        out: Dict[str, JobStatus] = {}
        for parameters_name, created in self.jobs.items():
            job = listed.get(created.name) or self.client.jobs.get_job_status(created.name)
            self._seen(parameters_name, job)
            out[parameters_name] = job.status
        return out

    def print_parameters(self, table_name: Optional[str] = None, *, file: Optional[IO[str]] = None) -> None:
        """Print the parameters of one table (default: every table), one block per
        document kind (avatarization, its DP variants, time series, privacy and
        signal metrics), to ``file`` (default: standard output)."""
        out = sys.stdout if file is None else file
        names = list(self.config.tables) if table_name is None else [table_name]
        for name in names:
            self._check_table(name)
        for name in names:
            print(f"--- {name} ---", file=out)
            found = False
            for section, tables in self.config.parameters.items():
                if name in tables:
                    found = True
                    print(f"{section}: {json.dumps(tables[name], sort_keys=True, default=str)}", file=out)
            if not found:
                print("no parameters set (call set_parameters() or advise_parameters())", file=out)

    def table_summary(self, table_name: str) -> Any:
        """The statistics of a table that the advice job computed
        (:meth:`advise_parameters` first): a DataFrame with pandas, else a list of rows."""
        self._check_table(table_name)
        advice = next((name for name in reversed(list(self.jobs)) if name.startswith(JobKind.advice.value)), None)
        if advice is None:
            raise RequestValidationError("no advice job: call advise_parameters() first", field="table_name")
        for item in self._json_results(advice, "advice"):
            if isinstance(item, dict) and item.get("table_name") == table_name:
                summary = item.get("summary")
                stats = summary.get("stats") if isinstance(summary, dict) else None
                if not isinstance(stats, list) or not all(isinstance(row, dict) for row in stats):
                    break  # statistics are rows (mappings): anything else is no summary
                try:
                    pd: Any = importlib.import_module("pandas")
                except ImportError:
                    return stats
                return pd.DataFrame(stats)
        raise AvatarError(f"the advice job gave no summary for table {table_name!r}")

    def render_privacy_metrics_summary(self, open_in_browser: bool = False) -> Dict[str, Dict[str, Any]]:
        """The privacy meta-metric of every table (several tables only), as
        ``{table: {reference: value}}`` (the ``privacy_metrics`` job's
        ``privacy_metrics_summary`` file).  ``open_in_browser`` is accepted for
        the SDK's signature and ignored (the SDK deprecated it too)."""
        return self._summary(JobKind.privacy_metrics.value, "privacy_metrics_summary")

    def render_signal_metrics_summary(self) -> Dict[str, Dict[str, Any]]:
        """The signal meta-metric of every table (several tables only), as
        ``{table: {reference: value}}``."""
        return self._summary(JobKind.signal_metrics.value, "signal_metrics_summary")

    def metrics_summary(self) -> Any:
        """Privacy and signal meta-metrics of every table, side by side (several
        tables only): with pandas, a DataFrame indexed by table (``table_name``)
        whose columns are ``(reference, "privacy" | "signal")`` (levels named
        ``reference`` and ``metric``), every table and reference of either
        summary present (missing values are NaN); else ``{table: {reference:
        {"privacy": value, "signal": value}}}``."""
        summaries = (
            ("privacy", self.render_privacy_metrics_summary()),
            ("signal", self.render_signal_metrics_summary()),
        )
        merged: Dict[str, Dict[str, Dict[str, Any]]] = {}
        for metric, summary in summaries:
            for table, references in summary.items():
                for reference, value in references.items():
                    merged.setdefault(table, {}).setdefault(reference, {})[metric] = value
        try:
            pd: Any = importlib.import_module("pandas")
        except ImportError:
            return merged
        tables = sorted(merged)
        columns = sorted(
            {(ref, metric) for refs in merged.values() for ref in refs for metric in ("privacy", "signal")}
        )
        frame = pd.DataFrame(
            [[merged[t].get(ref, {}).get(metric) for ref, metric in columns] for t in tables],
            index=pd.Index(tables, name="table_name"),
            columns=pd.MultiIndex.from_tuples(columns, names=["reference", "metric"]),
            dtype="float64",
        )
        return frame

    def projections(self, table_name: str) -> Tuple[Any, Any]:
        """The coordinates of the original rows and of the avatars in the space the
        avatarization worked in (``standard`` job): two DataFrames (lists of rows
        without pandas) whose columns are the dimensions.  The avatars' rows are
        in the order of :meth:`shuffled`."""
        return (
            self._table_result(table_name, "original_projections"),
            self._table_result(table_name, "avatar_projections"),
        )

    def render_plot(
        self,
        table_name: str,
        plot_kind: str,
        open_in_browser: bool = False,
        *,
        directory: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> List[str]:
        """The HTML pages of one kind of plot of a table (``standard`` job), e.g.
        ``"2d_projection"``, ``"correlation"``, ``"distribution"`` (one page per column).

        Returns the pages (HTML text).  Nothing is displayed and no browser is
        opened unless asked: with ``directory`` the pages are written there as
        ``<table>_<kind>_<i>.html`` (the folder is created if needed; a local
        write failure raises :class:`~avatars.errors.LocalFileError`);
        ``open_in_browser=True`` writes them (to ``directory``, default the
        current directory) and opens each one.
        """
        kind = str(getattr(plot_kind, "value", plot_kind))
        if directory is not None:
            text: object = os.fspath(directory) if isinstance(directory, (str, os.PathLike)) else None
            if not isinstance(text, str) or "\0" in text:
                raise RequestValidationError(
                    "directory must be a folder path (text) without NUL characters", field="directory"
                )
        figures = self._figures(table_name, JobKind.standard.value)
        if kind not in figures:
            made = ", ".join(sorted(figures)) or "none"
            raise AvatarError(f"no {kind!r} plot for table {table_name!r} (plots made: {made})")
        pages = figures[kind]
        if directory is not None or open_in_browser:
            folder = Path(directory) if directory is not None else Path.cwd()
            stem = safe_filename(f"{table_name}_{kind}", fallback="plot")
            with _local_file(str(folder)):
                folder.mkdir(parents=True, exist_ok=True)
            for index, page in enumerate(pages):
                target = folder / f"{stem}_{index}.html"
                with _local_file(str(target)):
                    target.write_text(page, encoding="utf-8")
                if open_in_browser:
                    import webbrowser

                    webbrowser.open(target.resolve().as_uri())
        return pages

    # ---------------------------------------------------------------- results

    def shuffled(self, table_name: str) -> Any:
        """The avatarized table (waits for the ``standard`` job)."""
        return self._table_result(table_name, "shuffled")

    def sensitive_unshuffled(self, table_name: str) -> Any:
        """The avatarized table in the original row order: sensitive, handle with care."""
        return self._table_result(table_name, "unshuffled")

    def privacy_metrics(self, table_name: str) -> List[Dict[str, Any]]:
        """The privacy metrics of a table (a list of metric dictionaries, as on the platform)."""
        return self._metrics(table_name, JobKind.privacy_metrics.value, "privacy_metrics")

    def signal_metrics(self, table_name: str) -> List[Dict[str, Any]]:
        """The signal (utility) metrics of a table."""
        return self._metrics(table_name, JobKind.signal_metrics.value, "signal_metrics")

    def get_all_results(self) -> RunnerResults:
        """Every table's results from the jobs that ran."""
        if not self.jobs:
            raise RequestValidationError("no job was launched by this runner: call run() first", field="job_name")
        results = RunnerResults()
        self._wait_many([n for n in _RESULT_JOBS if n in self.jobs], self.timeout)
        wanted = [
            url
            for name, kinds in (
                (JobKind.standard.value, ("shuffled", "unshuffled")),
                (JobKind.privacy_metrics.value, ("privacy_metrics",)),
                (JobKind.signal_metrics.value, ("signal_metrics",)),
            )
            if name in self.jobs
            for kind in kinds
            for url in self._urls(name).get(kind, [])
            if url not in self._downloads
        ]
        self._store.prefetch(wanted)
        for table in self.config.tables:
            if JobKind.standard.value in self.jobs:
                results.shuffled[table] = self.shuffled(table)
                results.sensitive_unshuffled[table] = self.sensitive_unshuffled(table)
            if JobKind.privacy_metrics.value in self.jobs:
                results.privacy_metrics[table] = self.privacy_metrics(table)
            if JobKind.signal_metrics.value in self.jobs:
                results.signal_metrics[table] = self.signal_metrics(table)
        return results

    def get_specific_result_urls(self, job_name: Union[JobKind, str], result: str = "shuffled") -> List[str]:
        """The URLs of one kind of result file (``shuffled``, ``privacy_metrics``,
        ``report``...) of a job this runner launched (waits for the job); an empty
        list when the job made none."""
        self._job(job_name)
        return list(self._urls(self._parameters_name(job_name)).get(str(getattr(result, "value", result)), []))

    def get_specific_result(self, table_name: str, job_name: Union[JobKind, str], result: str = "shuffled") -> Any:
        """One result of the job ``job_name`` (a kind or a parameters name) for one table.

        ``shuffled``, ``unshuffled``, ``original_projections``,
        ``avatar_projections``: a table (as :meth:`shuffled`);
        ``privacy_metrics``, ``signal_metrics``, ``meta_privacy_metric``,
        ``meta_signal_metric``: the table's items (dictionaries); ``figures``:
        ``{plot kind: [HTML page, ...]}``; ``figures_metadata``: the table's
        entries; ``advice``: the table's advice; ``run_metadata``: the job's
        (the same for every table); ``privacy_metrics_summary``,
        ``signal_metrics_summary``: ``{table: {reference: value}}``.  A result the
        job did not make is empty: ``[]`` for items and ``figures_metadata``,
        ``{}`` for ``figures``, ``None`` for ``advice`` and the job's objects;
        a missing table file is an error, as with :meth:`shuffled`.
        """
        wanted = str(getattr(result, "value", result))
        self._check_table(table_name)
        parameters_name = self._parameters_name(job_name)
        self._job(parameters_name)
        if wanted in _TABLE_RESULTS:
            return self._table_result(table_name, wanted, parameters_name)
        if wanted in _TABLE_ITEMS:
            return self._metrics(table_name, parameters_name, wanted)
        if wanted == "figures":
            return self._figures(table_name, parameters_name)
        if wanted == "figures_metadata":
            return [m for m in self._json_results(parameters_name, wanted) if _of_table(m, table_name)]
        if wanted == "advice":
            items = self._json_results(parameters_name, wanted)
            return next((i.get("advice") for i in items if _of_table(i, table_name)), None)
        if wanted in _JOB_RESULTS:
            items = self._json_results(parameters_name, wanted)
            if not items:
                return None
            if not isinstance(items[0], dict):
                raise AvatarError(f"the {wanted} file of the {parameters_name} job is not a JSON object")
            return items[0]
        allowed = ", ".join((*_TABLE_RESULTS, *_TABLE_ITEMS, "figures", "figures_metadata", "advice", *_JOB_RESULTS))
        raise RequestValidationError(f"result must be one of {allowed}, got {result!r}", field="result")

    def download_report(
        self,
        path: Optional[Union[str, os.PathLike[str]]] = None,
        report_type: Union[ReportType, str] = ReportType.BASIC,
    ) -> List[Path]:
        """Write the report to ``path`` (default: its file name, in the current directory).

        Several files (one per table) are written as ``0_<name>``,
        ``1_<name>``... next to ``path``.  Returns the paths written.
        """
        name = report_name(_choice(ReportType, report_type, "report_type"))
        urls = self._urls(name).get("report", [])
        if not urls:
            raise AvatarError(f"the {name} job produced no report file")
        written = []
        for index, url in enumerate(urls):
            base = safe_filename(file_name_of(url), fallback=f"{name}-{index}")
            target = Path(path) if path is not None else Path(base)
            if len(urls) > 1:
                target = target.parent / f"{index}_{target.name}"
            target.write_bytes(self._store.download(url, label=f"report {target.name}", progress=self._progress))
            written.append(target)
        return written

    def download_all(self, directory: Union[str, os.PathLike[str]]) -> Dict[str, Path]:
        """Write every result file of every job to ``directory``; ``{file name: path}``.

        Files keep the platform's names (``<table>.shuffled.csv``,
        ``<table>.privacy.json``...); a name two jobs share (``report.md``)
        is prefixed by the second job's parameters name (``report_pia.report.md``).
        The names come from the server: they are made safe and distinct and
        kept inside ``directory`` (see
        :func:`avatars.resources.results.download_result_files`).
        """
        files: List[Tuple[str, str]] = []
        seen: set[str] = set()
        for name in self.jobs:
            for kind, urls in self._urls(name).items():
                for index, url in enumerate(urls):
                    base = file_name_of(url) or f"{kind}-{index}"
                    files.append((url, base if base not in seen else f"{name}.{base}"))
                    seen.add(base)
        # one batch: names are made safe, distinct across every job, and kept inside ``directory``
        saved = download_result_files(self.client.results, files, directory, progress=self._progress)
        return {path.name: path for _url, path in saved}

    # ---------------------------------------------------------------- helpers

    def _check_runnable(self, kinds: List[JobKind]) -> None:
        if not self.config.tables:
            raise RequestValidationError("no table: call add_table() first", field="tables")
        missing_data = [t for t in self.config.tables if t not in self._tables]
        if missing_data:
            raise RequestValidationError(
                f"no data for table(s) {', '.join(missing_data)}: call add_table() with the data",
                field="tables",
            )
        has_avatars = all(t in self.config.avatar_tables for t in self.config.tables)
        if JobKind.standard in kinds:
            without = [
                t
                for t in self.config.tables
                if not any(
                    t in self.config.parameters[s]
                    for s in ("avatarization", "avatarization_open_dp", "avatarization_fast_dp", "time_series")
                )
            ]
            if without:
                raise RequestValidationError(
                    f"no parameters for table(s) {', '.join(without)}: call set_parameters() (k or an epsilon)",
                    field="parameters",
                )
        elif (JobKind.privacy_metrics in kinds or JobKind.signal_metrics in kinds) and not has_avatars:
            raise RequestValidationError(
                "metrics without the standard job need every table's avatar_data (add_table(avatar_data=...))",
                field="jobs_to_run",
            )
        if JobKind.report in kinds and not {JobKind.privacy_metrics, JobKind.signal_metrics} <= set(kinds):
            raise RequestValidationError(
                "a report needs the privacy_metrics and signal_metrics jobs too", field="jobs_to_run"
            )
        for kind in kinds:
            if kind in (JobKind.privacy_metrics, JobKind.signal_metrics):
                setattr(self.config, f"{kind.value}_enabled", True)

    def _upload_tables(self) -> None:
        for name in self.config.tables:
            table = self._tables[name]
            for key, payload in ((table.key, table.payload), (table.avatar_key, table.avatar_payload)):
                if key is None or payload is None or self._uploaded.get(key) is payload:
                    continue
                self._store.upload(key, payload, label=f"upload {key}", progress=self._progress)
                self._uploaded[key] = payload

    def _depends(self, kind: JobKind) -> List[str]:
        if kind in (JobKind.privacy_metrics, JobKind.signal_metrics):
            wanted = [JobKind.standard.value]
        elif kind is JobKind.report:
            wanted = [JobKind.privacy_metrics.value, JobKind.signal_metrics.value]
        else:
            wanted = []
        # job names: the contract accepts a name or a Location (the platform SDK sends Locations)
        return [self.jobs[w].name for w in wanted if w in self.jobs]

    def _launch_flow(self, plan: Sequence[Tuple[str, JobKind]]) -> bool:
        """Create every job of the set with one ``POST /jobs/flow`` (platform API 3.x);
        ``False`` when the platform has no such endpoint (2.90: asked once per client,
        see :attr:`avatars.resources.jobs.Jobs.flow_available`).

        The flow's answer names the jobs but not their parameters documents: one
        ``GET /jobs?set_name=`` tells which is which, and counts as the first poll.
        """
        assert self.set_name is not None
        jobs_api = self.client.jobs
        if jobs_api.flow_available is False:
            return False
        try:
            created = jobs_api.create_job_flow(self.set_name)
        except EndpointUnavailableError:
            return False
        by_name = {job.name: job for job in created}
        listed = [job for job in jobs_api.get_jobs(set_name=self.set_name) if job.name in by_name]
        self._polled_at = time.monotonic()
        seen = {job.name for job in listed}
        listed += [jobs_api.get_job_status(name) for name in by_name if name not in seen]  # not listed yet
        found = {job.parameters_name or job.kind.value: job for job in listed}
        missing = [name for name, _ in plan if name not in found]
        if missing:
            raise AvatarError(
                f"POST /jobs/flow created no job for {', '.join(missing)} of set {self.set_name} "
                f"(it created {', '.join(sorted(found)) or 'none'})"
            )
        for name, _ in plan:
            job = found[name]
            self.jobs[name] = by_name[job.name]
            self._progress.on_job(job)
            if job.status is JobStatus.finished:
                self._finished[name] = job
        return True

    def _launch(self, parameters_name: str, depends_on: List[str]) -> None:
        assert self.set_name is not None
        request = JobCreateRequest(set_name=self.set_name, parameters_name=parameters_name, depends_on=depends_on)
        self.jobs[parameters_name] = self.client.jobs.create_job(request)

    def _named_jobs(
        self, job_names: Union[JobKind, str, Sequence[Union[JobKind, str]], None]
    ) -> List[Union[JobKind, str]]:
        """``job_names`` as a list: one name, several, or (``None``) every job this runner launched."""
        if job_names is None:
            return list(self.jobs)
        if isinstance(job_names, (str, JobKind)):
            return [job_names]
        if not isinstance(job_names, Iterable):
            raise RequestValidationError(
                f"job_names must be a job name or a list of them, got {type(job_names).__name__}", field="job_names"
            )
        return list(job_names)

    def _parameters_name(self, job_name: Union[JobKind, str]) -> str:
        return job_name.value if isinstance(job_name, JobKind) else str(job_name)

    def _job(self, job_name: Union[JobKind, str]) -> JobCreateResponse:
        name = self._parameters_name(job_name)
        created = self.jobs.get(name)
        if created is None:
            ran = ", ".join(self.jobs) or "none yet: call run() first"
            raise RequestValidationError(
                f"no {name!r} job was launched by this runner (launched: {ran})", field="job_name"
            )
        return created

    def _wait(self, parameters_name: str, timeout: Optional[float]) -> JobResponse:
        if parameters_name in self._finished:
            return self._finished[parameters_name]
        created = self._job(parameters_name)
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        self._pause_before_poll(started, deadline, first=True)
        while True:
            job = self.client.jobs.get_job_status(created.name)
            self._polled_at = time.monotonic()
            self._progress.on_job(job)
            if job.failed:
                raise self._root_cause(job)
            if job.status is JobStatus.finished:
                self._finished[parameters_name] = job
                return job
            if not self._pause_before_poll(started, deadline):
                raise WaitTimeoutError(
                    f"job {created.name} ({parameters_name}) is still {job.status.value or 'waiting'} "
                    f"after {timeout:g} s"
                )

    def _pause_before_poll(self, started: float, deadline: Optional[float], *, first: bool = False) -> bool:
        """Sleep until the next poll is due (see :func:`poll_delay`); ``False`` (and no
        sleep) when it would be due after ``deadline``.

        The schedule runs from the jobs' launch (:meth:`run`), or from ``started``
        for jobs this runner did not launch.  The launch counts as a poll (the
        jobs were just created): the first poll of a wait right after
        :meth:`run` is ``poll_interval`` after the launch, not at once; later,
        the first poll of a wait is at once unless a poll was just made.
        """
        if self._polled_at is None:
            return True
        origin = started if self._launched_at is None else min(self._launched_at, started)
        delay = poll_delay(
            self._polled_at - origin,
            floor=self.poll_interval,
            ceiling=self.max_poll_interval,
            fraction=self.poll_fraction,
        )
        now = time.monotonic()
        pause = max(0.0, self._polled_at + delay - now)
        if deadline is not None and now + pause > deadline:
            if not first:
                return False
            pause = max(0.0, deadline - now)  # the first poll of a wait is always made
        if pause > 0:
            time.sleep(pause)
        return True

    def _restore(self, set_name: str, config: ResourceSet, jobs: Iterable[JobResponse]) -> None:
        """Become the runner of the stored run ``set_name`` (see
        :meth:`avatars.Manager.create_runner_from_id`): its documents, and its
        newest job of each parameters document (deleted jobs left out)."""
        self.set_name = set_name
        self.config = config
        self._tables = {}
        self.jobs = {}
        self._finished.clear()
        self._result_urls.clear()
        self._downloads.clear()
        self._launched_at = self._polled_at = None
        newest: Dict[str, JobResponse] = {}
        for job in jobs:
            name = job.parameters_name or job.kind.value
            if job.deleted_at is None and (name not in newest or job.created_at > newest[name].created_at):
                newest[name] = job
        for name, job in sorted(newest.items(), key=lambda item: _order(item[1].kind)):
            self.jobs[name] = JobCreateResponse(name=job.name, location=f"{self.client.base_url}/jobs/{job.name}")
            if job.status is JobStatus.finished:
                self._finished[name] = job

    def _wait_many(self, parameters_names: Sequence[str], timeout: Optional[float]) -> None:
        """Wait for several jobs with one ``GET /jobs?set_name=`` per round (not one
        ``GET /jobs/{name}`` per job); a job the listing lacks is waited for alone."""
        pending = {self._job(p).name: p for p in parameters_names if p not in self._finished}
        if len(pending) < 2 or self.set_name is None:
            for name in pending.values():
                self._wait(name, timeout)
            return
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        self._pause_before_poll(started, deadline, first=True)
        while pending:
            listed = {job.name: job for job in self.client.jobs.get_jobs(set_name=self.set_name)}
            self._polled_at = time.monotonic()
            for job_name, parameters_name in list(pending.items()):
                job = listed.get(job_name)
                if job is None:
                    continue
                self._progress.on_job(job)
                if job.failed:
                    raise self._root_cause(job)
                if job.status is JobStatus.finished:
                    self._finished[parameters_name] = job
                    del pending[job_name]
            if not pending:
                return
            if not any(name in listed for name in pending):  # not in the listing: ask for each
                for name in list(pending.values()):
                    self._wait(name, None if deadline is None else max(0.0, deadline - time.monotonic()))
                return
            if not self._pause_before_poll(started, deadline):
                waiting = ", ".join(sorted(pending.values()))
                raise WaitTimeoutError(f"jobs {waiting} still running after {timeout:g} s")

    def _root_cause(self, job: JobResponse) -> JobFailedError:
        """The error of the job that failed by itself, when ``job`` only inherited a failure."""
        culprit = job
        if job.status is JobStatus.parent_error:
            for created in self.jobs.values():
                if created.name == job.name:
                    continue
                other = self.client.jobs.get_job_status(created.name)
                if other.failed and other.status is not JobStatus.parent_error:
                    culprit = other
                    break
        suffix = "" if culprit is job else f" (so {job.parameters_name or job.name} ended parent_error)"
        return JobFailedError(
            f"job {culprit.name} ({culprit.parameters_name or culprit.kind.value}) ended with status "
            f"{culprit.status.value}: "
            f"{culprit.exception or 'no message from the server'}{suffix}",
            job=culprit,
            exception=culprit.exception,
        )

    def _urls(self, parameters_name: str) -> Dict[str, List[str]]:
        if parameters_name not in self._result_urls:
            job = self._wait(parameters_name, self.timeout)
            self._result_urls[parameters_name] = self.client.results.get_results(job.name).to_dict()
        return self._result_urls[parameters_name]

    def _download(self, url: str, label: str) -> bytes:
        if url not in self._downloads:
            self._downloads[url] = self._store.download(url, label=label, progress=self._progress)
        return self._downloads[url]

    def _check_table(self, table_name: str) -> None:
        if table_name not in self.config.tables:
            raise RequestValidationError(
                f"no table {table_name!r} (tables: {', '.join(self.config.tables) or 'none'})", field="table_name"
            )

    def _table_result(self, table_name: str, result: str, parameters_name: str = JobKind.standard.value) -> Any:
        self._check_table(table_name)
        self._job(parameters_name)
        urls = self._urls(parameters_name).get(result, [])
        url = next((u for u in urls if table_of_result_file(u, result) == table_name), None)
        if url is None:
            raise AvatarError(f"the {parameters_name} job has no {result} file for table {table_name!r}")
        payload = self._download(url, f"{result} {table_name}")
        try:
            if result not in ("shuffled", "unshuffled"):  # coordinates: numbers, whatever the columns are called
                return _to_table(payload, {}, {})
            table = self._tables.get(table_name)
            return _to_table(payload, table.dtypes if table else {}, _declared_types(self.config.tables[table_name]))
        except (ValueError, csv.Error) as exc:  # pandas' ParserError/EmptyDataError, UnicodeDecodeError, csv's limits
            raise AvatarError(
                f"the {result} file {file_name_of(url)} is not a CSV table ({type(exc).__name__})"
            ) from None

    def _json_results(self, parameters_name: str, result: str) -> List[Any]:
        out: List[Any] = []
        for url in self._urls(parameters_name).get(result, []):
            try:
                data = json.loads(self._download(url, f"{result}"))
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                raise AvatarError(f"the {result} file {file_name_of(url)} is not JSON") from None
            out.extend(data if isinstance(data, list) else [data])
        return out

    def _metrics(self, table_name: str, parameters_name: str, result: str) -> List[Dict[str, Any]]:
        self._check_table(table_name)
        self._job(parameters_name)
        found = []
        for item in self._json_results(parameters_name, result):
            metadata = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(metadata, dict) and metadata.get("table_name") == table_name:
                found.append(item)
        return found

    def _summary(self, parameters_name: str, result: str) -> Dict[str, Dict[str, Any]]:
        if len(self.config.tables) < 2:
            raise RequestValidationError(f"{result} needs several tables", field="tables")
        self._job(parameters_name)
        items = self._json_results(parameters_name, result)
        if not items:
            raise AvatarError(f"the {parameters_name} job gave no {result} file")
        summary: Dict[str, Dict[str, Any]] = {}
        for item in items:
            if not isinstance(item, dict):
                raise AvatarError(f"the {result} file is not a JSON object")
            for table, references in item.items():
                if not isinstance(references, dict):
                    raise AvatarError(f"the {result} of table {table!r} is not a mapping")
                summary.setdefault(str(table), {})
                for reference, value in references.items():
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                        raise AvatarError(f"the {result} of table {table!r}, reference {reference!r} is not a number")
                    summary.setdefault(str(table), {})[str(reference)] = value
        return summary

    def _figures(self, table_name: str, parameters_name: str) -> Dict[str, List[str]]:
        """``{plot kind: [page, ...]}`` of a table, tied to it by ``figures_metadata``."""
        self._check_table(table_name)
        self._job(parameters_name)
        urls = self._urls(parameters_name).get("figures", [])
        if not urls:
            return {}
        by_file = {}
        for entry in self._json_results(parameters_name, "figures_metadata"):
            if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
                by_file[entry["filename"]] = entry
        figures: Dict[str, List[str]] = {}
        for url in urls:
            entry = by_file.get(file_name_of(url))
            if entry is None or entry.get("table_name") != table_name:
                continue
            page = self._download(url, f"figure {entry.get('kind')} {table_name}")
            try:
                text = page.decode("utf-8")
            except UnicodeDecodeError:
                raise AvatarError(f"the figure {file_name_of(url)} is not UTF-8 text") from None
            figures.setdefault(str(entry.get("kind")), []).append(text)
        return figures

    def __repr__(self) -> str:
        return f"Runner({self.display_name!r}, tables={list(self.config.tables)}, jobs={list(self.jobs)})"


#: groups of parameters that :meth:`Runner.delete_parameters` takes: the prefix of their names
_PARAMETER_GROUPS = {
    "imputation": "imputation_",
    "exclude_variables": "exclude_variable_",
    "data_augmentation": "data_augmentation_",
    "time_series": "time_series_",
}


def _parameter_names() -> List[str]:
    """The parameters :meth:`ResourceSet.set_parameters` takes (``table_name`` aside)."""
    import inspect

    return [
        name for name in inspect.signature(ResourceSet.set_parameters).parameters if name not in ("self", "table_name")
    ]


#: results that are one file per table (a table): :meth:`Runner.get_specific_result`
_TABLE_RESULTS = ("shuffled", "unshuffled", "original_projections", "avatar_projections")
#: results whose items name their table in ``metadata.table_name``
_TABLE_ITEMS = ("privacy_metrics", "signal_metrics", "meta_privacy_metric", "meta_signal_metric")
#: results that are one JSON object per job
_JOB_RESULTS = ("run_metadata", "privacy_metrics_summary", "signal_metrics_summary")


def _of_table(item: Any, table_name: str) -> bool:
    return isinstance(item, dict) and item.get("table_name") == table_name


#: the jobs whose files :meth:`Runner.get_all_results` reads
_RESULT_JOBS = (JobKind.standard.value, JobKind.privacy_metrics.value, JobKind.signal_metrics.value)


def _choice(enum: Any, value: Any, field: str) -> str:
    try:
        return str(enum(value).value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise RequestValidationError(f"{field} must be one of {allowed}, got {value!r}", field=field) from None


_ORDER = {kind: index for index, kind in enumerate((*JOB_EXECUTION_ORDER, JobKind.advice))}


def _order(kind: JobKind) -> int:
    return _ORDER.get(kind, len(_ORDER))


def _declared_types(table: Mapping[str, Any]) -> Dict[str, str]:
    return {c["field"]: c["type"] for c in table.get("columns") or [] if c.get("type")}


_PANDAS_OF_TYPE = {"int": "Int64", "float": "float64", "bool": "boolean", "category": "category"}


def _to_table(payload: bytes, dtypes: Mapping[str, str], declared: Mapping[str, str]) -> Any:
    """A DataFrame with the original dtypes when pandas is installed, else rows of text."""
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError:
        return list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))))
    frame = pd.read_csv(io.BytesIO(payload))
    for column in frame.columns:
        wanted = dtypes.get(column)
        try:
            if wanted is not None:
                if wanted.startswith("datetime64"):
                    frame[column] = pd.to_datetime(frame[column], utc="UTC" in wanted or "+" in wanted)
                elif wanted.startswith("int") and frame[column].isna().any():
                    frame[column] = frame[column].astype("Int64")
                else:
                    frame[column] = frame[column].astype(wanted)
            elif declared.get(column) in ("datetime", "datetime_tz"):
                frame[column] = pd.to_datetime(frame[column], utc=declared[column] == "datetime_tz")
            elif declared.get(column) in _PANDAS_OF_TYPE:
                frame[column] = frame[column].astype(_PANDAS_OF_TYPE[declared[column]])
        except (ValueError, TypeError):
            continue  # the value does not fit the original type: keep what the CSV says
    return frame
