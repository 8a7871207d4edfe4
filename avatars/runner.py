"""``Runner``: one avatarization, from tables to results, on top of ``ApiClient``.

::

    runner = manager.create_runner("my-study")
    runner.add_table("patients", "patients.csv", primary_key="id")
    runner.set_parameters("patients", k=15, seed=42)
    runner.run()                 # uploads, writes the resource set, creates the jobs
    runner.wait(timeout=600)     # polls with backoff; raises JobFailedError on failure
    rows = runner.shuffled("patients")
    print(runner.privacy_metrics("patients"))
    runner.download_report("report.md")

What :meth:`Runner.run` creates, for each table ``t`` (its parameters entry is
named after the table):

* ``standard`` on ``t``;
* ``privacy_metrics`` and ``signal_metrics`` on ``t``, depending on it;
* ``report`` on ``t``, depending on the metrics jobs.

No transport code lives here: every call goes through the client's facades.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .client import ApiClient
from .errors import AvatarError, JobFailedError, RequestValidationError, WaitTimeoutError
from .models import JobCreateRequest, JobKind, JobResponse, JobStatus, ResourceSetResponse
from .progress import ProgressOption, bytes_callback, resolve_progress
from .storage.client import UploadResult

__all__ = ["Runner", "TableSpec", "Parameters", "DEFAULT_JOBS"]

#: The jobs :meth:`Runner.run` creates by default, in dependency order.
DEFAULT_JOBS: Tuple[JobKind, ...] = (
    JobKind.standard,
    JobKind.privacy_metrics,
    JobKind.signal_metrics,
    JobKind.report,
)

TableData = Union[str, "os.PathLike[str]", IO[bytes], Sequence[Mapping[str, Any]], Any]


@dataclass
class TableSpec:
    """A table added to a runner (before upload: ``dataset`` is ``None``)."""

    name: str
    source: Any = field(repr=False)
    primary_key: Optional[str] = None
    columns: Optional[List[str]] = None
    #: Where the table's data went in object storage (set by :meth:`Runner.run`).
    dataset: Optional[UploadResult] = None


@dataclass(frozen=True)
class Parameters:
    """Avatarization parameters of one table."""

    k: int
    ncp: Optional[int] = None
    seed: Optional[int] = None


def _is_dataframe(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas"


def _rows_to_csv(rows: Sequence[Mapping[str, Any]], table: str) -> Tuple[bytes, List[str]]:
    if not rows:
        raise RequestValidationError(f"table {table!r}: the list of rows is empty", field="data")
    columns: List[str] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RequestValidationError(
                f"table {table!r}: row {index} is a {type(row).__name__}, expected a dict", field="data"
            )
        for key in row:
            if key not in columns:
                columns.append(str(key))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue().encode("utf-8"), columns


def _csv_header(first_line: bytes) -> List[str]:
    text = first_line.decode("utf-8-sig", errors="replace")
    return next(csv.reader([text]), [])


class Runner:
    """Build and run one avatarization (see the module docstring).

    :param client: an authenticated :class:`~avatars.ApiClient`.
    :param set_name: the display name of the resource set.
    :param progress: ``True`` (tqdm bars when available on a terminal),
        ``False``, or a :class:`~avatars.progress.ProgressListener`.
    """

    def __init__(self, client: ApiClient, set_name: str, *, progress: ProgressOption = True) -> None:
        if not isinstance(set_name, str) or not set_name.strip():
            raise RequestValidationError("set_name must be a non-empty string", field="set_name")
        self.client = client
        self.set_name = set_name
        self._progress = resolve_progress(progress)
        self.tables: Dict[str, TableSpec] = {}
        self.parameters: Dict[str, Parameters] = {}
        self.resource_set: Optional[ResourceSetResponse] = None
        #: ``(kind, table) -> job name`` of the jobs created by :meth:`run`.
        self.jobs: Dict[Tuple[JobKind, str], str] = {}
        self._finished: Dict[str, JobResponse] = {}

    # ------------------------------------------------------------------ building

    def add_table(self, name: str, data: TableData, primary_key: Optional[str] = None) -> TableSpec:
        """Add a table: a CSV path, a binary file, rows (a list of dicts), or a
        pandas DataFrame (when pandas is installed)."""
        if not isinstance(name, str) or not name.strip():
            raise RequestValidationError("table name must be a non-empty string", field="name")
        if name in self.tables:
            raise RequestValidationError(f"table {name!r} was already added", field="name")
        if self.jobs:
            raise RequestValidationError("this runner already ran; create a new runner", field="name")
        columns: Optional[List[str]] = None
        data_: Any = data  # one of several kinds, told apart below
        if isinstance(data_, (str, os.PathLike)):
            path = Path(data_)
            if not path.is_file():
                raise RequestValidationError(f"table {name!r}: no such file {str(path)!r}", field="data")
            with open(path, "rb") as fh:
                columns = _csv_header(fh.readline())
            source: Any = path
        elif _is_dataframe(data_):
            text = data_.to_csv(index=False)
            source = text.encode("utf-8")
            columns = [str(c) for c in data_.columns]
        elif isinstance(data_, (bytes, bytearray)):
            source = bytes(data_)
            columns = _csv_header(source.split(b"\n", 1)[0])
        elif hasattr(data_, "read"):
            if isinstance(data_, io.TextIOBase):
                raise RequestValidationError(f"table {name!r}: open the file in binary mode ('rb')", field="data")
            source = data_
            if getattr(data_, "seekable", lambda: False)():
                start = data_.tell()
                columns = _csv_header(data_.readline())
                data_.seek(start)
        elif isinstance(data_, Sequence) and not isinstance(data_, str):
            source, columns = _rows_to_csv(data_, name)
        else:
            raise RequestValidationError(
                f"table {name!r}: data must be a path, a binary file, a list of dicts or a DataFrame, "
                f"got {type(data_).__name__}",
                field="data",
            )
        if primary_key is not None and columns is not None and primary_key not in columns:
            raise RequestValidationError(
                f"table {name!r}: primary key {primary_key!r} is not a column ({', '.join(columns)})",
                field="primary_key",
            )
        spec = TableSpec(name=name, source=source, primary_key=primary_key, columns=columns)
        self.tables[name] = spec
        return spec

    def set_parameters(self, table: str, k: int, ncp: Optional[int] = None, seed: Optional[int] = None) -> Parameters:
        """Set the avatarization parameters of a table added before."""
        if table not in self.tables:
            raise RequestValidationError(
                f"unknown table {table!r}; add it first with add_table() (known: {', '.join(self.tables) or 'none'})",
                field="table",
            )
        for label, value, minimum in (("k", k, 1), ("ncp", ncp, 1), ("seed", seed, 0)):
            if value is None and label != "k":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise RequestValidationError(f"{label} must be an integer >= {minimum}, got {value!r}", field=label)
        spec = self.tables[table]
        if spec.columns is not None and ncp is not None and ncp > len(spec.columns):
            raise RequestValidationError(
                f"ncp={ncp} is larger than the number of columns of {table!r} ({len(spec.columns)})", field="ncp"
            )
        params = Parameters(k=k, ncp=ncp, seed=seed)
        self.parameters[table] = params
        return params

    def resource_document(self) -> Dict[str, Any]:
        """The resource-set document :meth:`run` sends (datasets must be uploaded)."""
        tables = []
        for spec in self.tables.values():
            if spec.dataset is None:
                raise RequestValidationError(f"table {spec.name!r} is not uploaded yet", field="tables")
            tables.append({"name": spec.name, "data": spec.dataset.location.uri, "primary_key": spec.primary_key})
        parameters = [
            {"name": table, "table": table, "k": p.k, "ncp": p.ncp, "seed": p.seed}
            for table, p in self.parameters.items()
        ]
        return {"tables": tables, "parameters": parameters}

    # ------------------------------------------------------------------ running

    def run(self, jobs: Iterable[Union[JobKind, str]] = DEFAULT_JOBS) -> Dict[Tuple[JobKind, str], str]:
        """Upload the tables, write the resource set, create the jobs.

        Returns ``(kind, table) -> job name``.  Input is checked before any
        network call.
        """
        kinds = [JobKind.parse(k, field_name="jobs") for k in jobs]
        if not kinds:
            raise RequestValidationError("jobs is empty", field="jobs")
        if not self.tables:
            raise RequestValidationError("no table: call add_table() first", field="tables")
        missing = [t for t in self.tables if t not in self.parameters]
        if missing:
            raise RequestValidationError(
                f"no parameters for table(s) {', '.join(missing)}: call set_parameters()", field="parameters"
            )
        if self.jobs:
            raise RequestValidationError("this runner already ran; create a new runner", field="jobs")

        for spec in self.tables.values():
            if spec.dataset is None:
                spec.dataset = self.client.datasets.upload(
                    spec.source,
                    f"{spec.name}.csv",
                    progress=bytes_callback(self._progress, f"upload {spec.name}"),
                )
        document = json.dumps(self.resource_document(), indent=2)
        self.resource_set = self.client.resources.put_resources(self.set_name, document)
        set_name = self.resource_set.set_name

        for table in self.tables:
            created: Dict[JobKind, str] = {}
            for kind in sorted(set(kinds), key=_kind_order):
                depends_on: List[str] = []
                if kind in (JobKind.privacy_metrics, JobKind.signal_metrics, JobKind.advice):
                    depends_on = [created[JobKind.standard]] if JobKind.standard in created else []
                elif kind is JobKind.report:
                    depends_on = [
                        created[k]
                        for k in (JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics)
                        if k in created
                    ]
                request = JobCreateRequest(set_name=set_name, parameters_name=table, depends_on=depends_on, kind=kind)
                job = self.client.jobs.create_job(request)
                created[kind] = job.name
                self.jobs[(kind, table)] = job.name
        return dict(self.jobs)

    def wait(
        self,
        timeout: Optional[float] = None,
        *,
        poll_interval: float = 0.2,
        max_poll_interval: float = 5.0,
        backoff: float = 1.5,
    ) -> Dict[Tuple[JobKind, str], JobResponse]:
        """Poll until every job ends; raise :class:`JobFailedError` when one fails.

        Polls start every ``poll_interval`` seconds and slow down by
        ``backoff`` up to ``max_poll_interval``.  ``timeout`` (seconds, or
        ``None`` for no limit) raises :class:`WaitTimeoutError`.
        """
        if not self.jobs:
            raise RequestValidationError("nothing to wait for: call run() first", field="jobs")
        if poll_interval <= 0 or max_poll_interval < poll_interval or backoff < 1:
            raise RequestValidationError("need 0 < poll_interval <= max_poll_interval and backoff >= 1")
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        statuses: Dict[Tuple[JobKind, str], JobResponse] = {}
        while True:
            pending = False
            failed: List[Tuple[Tuple[JobKind, str], JobResponse]] = []
            for key, name in self.jobs.items():
                if name in self._finished:
                    statuses[key] = self._finished[name]
                    continue
                job = self.client.jobs.get_job_status(name)
                statuses[key] = job
                self._progress.on_job(job)
                if job.failed:
                    failed.append((key, job))
                elif job.is_done:
                    self._finished[name] = job
                else:
                    pending = True
            if failed:
                raise self._failure(failed, statuses)
            if not pending:
                return statuses
            if deadline is not None and time.monotonic() + interval > deadline:
                waiting = sorted(f"{k[0]}:{k[1]}" for k, j in statuses.items() if not j.is_done)
                raise WaitTimeoutError(f"jobs still running after {timeout:g} s: {', '.join(waiting)}")
            time.sleep(interval)
            interval = min(max_poll_interval, interval * backoff)

    def _failure(
        self,
        failed: List[Tuple[Tuple[JobKind, str], JobResponse]],
        statuses: Dict[Tuple[JobKind, str], JobResponse],
    ) -> JobFailedError:
        """The error for the root cause: a job that failed by itself, not one that
        only ended ``parent_error`` because of it (re-polled, since a parent may
        have failed after it was polled in this round)."""
        for key, name in self.jobs.items():
            if statuses[key].failed or name in self._finished:
                continue
            statuses[key] = self.client.jobs.get_job_status(name)
        candidates = [(k, j) for k, j in statuses.items() if j.failed]
        roots = [(k, j) for k, j in candidates if j.status is not JobStatus.parent_error]
        key, job = (roots or candidates or failed)[0]
        return JobFailedError(
            f"job {job.name} ({job.kind} on {key[1]!r}) ended with status {job.status}: "
            f"{job.exception or 'no message'}",
            job=job,
            exception=job.exception,
        )

    def get_status(self, kind: Union[JobKind, str], table: Optional[str] = None) -> JobResponse:
        """The current state of the ``kind`` job (of ``table`` when several tables)."""
        return self.client.jobs.get_job_status(self._job_name(kind, table))

    # ------------------------------------------------------------------ results

    def shuffled(self, table: str) -> List[Dict[str, str]]:
        """The avatarized rows of ``table`` (values as strings, as in the CSV)."""
        data = self._result_bytes(JobKind.standard, table, "shuffled")
        return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))

    def privacy_metrics(self, table: str) -> Dict[str, Any]:
        """The privacy metrics of ``table``."""
        return self._result_json(JobKind.privacy_metrics, table, "privacy_metrics")

    def signal_metrics(self, table: str) -> Dict[str, Any]:
        """The signal (utility) metrics of ``table``."""
        return self._result_json(JobKind.signal_metrics, table, "signal_metrics")

    def download_report(self, path: Union[str, os.PathLike[str]], table: Optional[str] = None) -> Path:
        """Write the report (of ``table`` when several tables) to ``path``."""
        name = self._job_name(JobKind.report, table)
        url = self._result_url(name, "report")
        target = Path(path)
        self.client.results.download_file(url, target, progress=bytes_callback(self._progress, "report"))
        return target

    def get_all_results(self) -> Dict[str, Dict[str, Any]]:
        """``{"shuffled": {table: rows}, "privacy_metrics": {...}, "signal_metrics": {...}}``
        for the jobs that ran."""
        out: Dict[str, Dict[str, Any]] = {}
        for kind, table in self.jobs:
            if kind is JobKind.standard:
                out.setdefault("shuffled", {})[table] = self.shuffled(table)
            elif kind is JobKind.privacy_metrics:
                out.setdefault("privacy_metrics", {})[table] = self.privacy_metrics(table)
            elif kind is JobKind.signal_metrics:
                out.setdefault("signal_metrics", {})[table] = self.signal_metrics(table)
        return out

    def download_all(self, directory: Union[str, os.PathLike[str]]) -> Dict[str, Path]:
        """Write every result file of every job to ``directory``; returns ``{file name: path}``."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written: Dict[str, Path] = {}
        for (_kind, table), name in self.jobs.items():
            for _result_kind, url, base in self.client.results.get_results(name).files():
                filename = f"{table}.{base}" if not base.startswith(f"{table}.") else base
                target = folder / filename
                self.client.results.download_file(
                    url, target, progress=bytes_callback(self._progress, f"download {filename}")
                )
                written[filename] = target
        return written

    # ------------------------------------------------------------------ helpers

    def _job_name(self, kind: Union[JobKind, str], table: Optional[str]) -> str:
        parsed = JobKind.parse(kind, field_name="kind")
        if table is None:
            tables = [t for (k, t) in self.jobs if k is parsed]
            if len(tables) > 1:
                raise RequestValidationError(
                    f"several tables ran {parsed}: pass table= (one of {', '.join(tables)})", field="table"
                )
            if not tables:
                raise RequestValidationError(f"no {parsed} job in this run", field="kind")
            table = tables[0]
        if table not in self.tables:
            raise RequestValidationError(f"unknown table {table!r}", field="table")
        name = self.jobs.get((parsed, table))
        if name is None:
            raise RequestValidationError(f"no {parsed} job for table {table!r} in this run", field="kind")
        return name

    def _result_url(self, job_name: str, result_kind: str) -> str:
        results = self.client.results.get_results(job_name)
        urls = results.get(result_kind) or []
        if not urls:
            raise AvatarError(f"job {job_name} has no {result_kind!r} result (has: {', '.join(results) or 'none'})")
        return urls[0]

    def _result_bytes(self, kind: JobKind, table: str, result_kind: str) -> bytes:
        url = self._result_url(self._job_name(kind, table), result_kind)
        buffer = io.BytesIO()
        label = f"fetch {result_kind} of {table}"
        self.client.results.download_file(url, buffer, progress=bytes_callback(self._progress, label))
        return buffer.getvalue()

    def _result_json(self, kind: JobKind, table: str, result_kind: str) -> Dict[str, Any]:
        raw = self._result_bytes(kind, table, result_kind)
        try:
            data = json.loads(raw)
        except ValueError:
            raise AvatarError(f"the {result_kind} result of {table!r} is not JSON") from None
        if not isinstance(data, dict):
            raise AvatarError(f"the {result_kind} result of {table!r} is not a JSON object")
        return data

    def __repr__(self) -> str:
        return f"Runner(set_name={self.set_name!r}, tables={list(self.tables)}, jobs={len(self.jobs)})"


_ORDER = {
    JobKind.standard: 0,
    JobKind.advice: 1,
    JobKind.privacy_metrics: 2,
    JobKind.signal_metrics: 3,
    JobKind.report: 4,
}


def _kind_order(kind: JobKind) -> int:
    return _ORDER.get(kind, 9)
