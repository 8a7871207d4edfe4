"""Background job execution for the local server.

Lifecycle: a new job is ``queued`` (``progress`` null). A worker thread
(``avatars-testing-job-worker-N``, daemon) picks the oldest queued job whose
parents (``depends_on``) have all ended:

* a parent ended in failure (``error``, ``parent_error``, ``lost``,
  ``orphaned``) -> the job ends ``parent_error`` with an exception naming it;
* all parents ``finished`` -> the job becomes ``pending``, runs, its
  ``progress`` rises from 0 to 1 in ``steps`` steps of ``step_seconds``, and
  it ends ``finished`` (results registered) or ``error`` (readable
  ``exception``).

Cancelling a queued or pending job ends it at once with status ``error`` and
exception ``"cancelled by user"``; a worker still computing it drops its
output. Cancelling an ended job changes nothing. Deleting (soft) a job that
has not ended cancels it first.

What each kind computes is described in :mod:`avatars.testing.avatarize`
(a local stand-in). Which inputs it uses:

``standard``
    every ``parameters`` entry of the job's resource set, or only the one
    named by ``parameters_name``; one ``shuffled`` CSV per entry.
``privacy_metrics`` / ``signal_metrics``
    for each selected entry, the output of a finished ``standard`` job of the
    same resource set that covered that entry: first among the job's
    ancestors (``depends_on``, transitively), else the most recent one of the
    same user. Without one, the job ends in ``error``.
``report``
    a Markdown file over the selected entries; it reuses the privacy/signal
    metrics found like above and computes the missing ones.
``advice``
    one JSON per selected entry with a suggested ``k``.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import avatarize, platform_flow
from ._util import LOGGER_NAME, new_id, now, safe_filename
from .avatarize import Table, TableError
from .resource_sets import DocumentError, ParametersSpec, ResourceDocument, read_set
from .store import END_STATUSES, FAILURE_STATUSES, Job, ResultFile, Store

logger = logging.getLogger(f"{LOGGER_NAME}.jobs")  # this module's name, avatars.testing.jobs

JOB_KINDS = ("standard", "privacy_metrics", "signal_metrics", "report", "advice")
CANCELLED_MESSAGE = "cancelled by user"
WORKER_THREAD_PREFIX = "avatars-testing-job-worker"


class JobFailure(Exception):
    """Ends the job in ``error`` with this message as ``exception``."""


class _Abandon(Exception):
    """The job was cancelled or the server is stopping: drop the output."""


@dataclass
class _Output:
    kind: str
    parameters_name: Optional[str]
    filename: str
    content: bytes
    content_type: str


class JobRunner:
    """Worker threads that run queued jobs (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 2,
        step_seconds: float = 0.05,
        steps: int = 5,
        max_rows: int = avatarize.DEFAULT_MAX_ROWS,
    ) -> None:
        self.store = store
        self.workers = max(1, workers)
        self.step_seconds = step_seconds
        self.steps = max(1, steps)
        self.max_rows = max_rows
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: List[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for index in range(self.workers):
            thread = threading.Thread(target=self._worker, name=f"{WORKER_THREAD_PREFIX}-{index + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("job worker %s did not stop in time", thread.name)
        self._threads = []

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    @property
    def threads(self) -> List[threading.Thread]:
        return list(self._threads)

    # -- API used by the endpoints ---------------------------------------------

    def cancel(self, job: Job, *, status: str = "error") -> bool:
        """End ``job`` as cancelled if it has not ended; True when it changed.

        ``status`` is ``"error"`` (platform 2.90) or ``"cancelled"`` (3.x, where
        the jobs waiting on it end ``cancelled`` too).
        """
        with self.store.lock:
            if job.status in END_STATUSES:
                return False
            self._end_in_error(job, CANCELLED_MESSAGE, status=status)
        self.wake()
        return True

    # -- scheduling --------------------------------------------------------------

    def _worker(self) -> None:
        while not self._stop.is_set():
            job = self._claim()
            if job is None:
                with self._wake:
                    if not self._stop.is_set():
                        self._wake.wait(0.25)
                continue
            try:
                self._run(job)
            except Exception:  # pragma: no cover - defensive
                logger.exception("job %s crashed the worker", job.name)
            self.wake()

    def _propagate_failures(self) -> bool:
        """End every queued job with a failed parent as ``parent_error`` (transitively).

        Called with the store lock held, whenever a job fails, so that children
        end at once even when every worker is busy.
        """
        store = self.store
        any_change = False
        changed = True
        while changed:
            changed = False
            for job in store.jobs.values():
                if job.status != "queued":
                    continue
                for name in job.depends_on:
                    parent = store.jobs.get(name)
                    if parent is None or parent.status in FAILURE_STATUSES:
                        job.status = (
                            "cancelled" if parent is not None and parent.status == "cancelled" else "parent_error"
                        )
                        job.exception = (
                            f"parent job {name} ended with status {parent.status}"
                            if parent is not None
                            else f"parent job {name} no longer exists"
                        )
                        job.finished_at = now()
                        changed = any_change = True
                        break
        return any_change

    def _claim(self) -> Optional[Job]:
        store = self.store
        with store.lock:
            if self._propagate_failures():
                store.save()
            for job in sorted(store.jobs.values(), key=lambda j: j.seq):
                if job.status != "queued":
                    continue
                parents = [store.jobs.get(name) for name in job.depends_on]
                if all(p is not None and p.status == "finished" for p in parents):
                    job.status = "pending"
                    job.progress = 0.0
                    job.started_at = now()
                    store.save()
                    return job
        return None

    # -- execution ---------------------------------------------------------------

    def _check(self, job: Job) -> None:
        if self._stop.is_set() or job.status != "pending":
            raise _Abandon()

    def _sleep_step(self, job: Job) -> None:
        if self.step_seconds > 0 and self._stop.wait(self.step_seconds):
            raise _Abandon()
        self._check(job)

    def _set_progress(self, job: Job, value: float) -> None:
        with self.store.lock:
            if job.status == "pending":
                job.progress = round(value, 4)
                self.store.save()

    def _run(self, job: Job) -> None:
        try:
            self._check(job)
            self._sleep_step(job)
            self._set_progress(job, 1.0 / (self.steps + 1))
            outputs = self._compute(job)
            for step in range(2, self.steps + 1):
                self._sleep_step(job)
                self._set_progress(job, step / (self.steps + 1))
            self._finish(job, outputs)
        except _Abandon:
            logger.debug("job %s abandoned (status %s)", job.name, job.status)
        except JobFailure as exc:
            self._fail(job, str(exc))
        except Exception as exc:
            logger.exception("job %s failed unexpectedly", job.name)
            self._fail(job, f"internal error of the local server: {type(exc).__name__}: {exc}")

    def _fail(self, job: Job, message: str) -> None:
        with self.store.lock:
            if job.status != "pending":
                return
            self._end_in_error(job, message)

    def _end_in_error(self, job: Job, message: str, *, status: str = "error") -> None:
        """End ``job`` with ``status`` (``error``), then its queued children (store lock held)."""
        job.status = status
        job.exception = message
        job.finished_at = now()
        self._propagate_failures()
        self.store.save()

    def _finish(self, job: Job, outputs: List[_Output]) -> None:
        store = self.store
        directory = store.path(f"results/{safe_filename(job.name)}")
        directory.mkdir(parents=True, exist_ok=True)
        records: List[ResultFile] = []
        for output in outputs:
            path = directory / output.filename
            path.write_bytes(output.content)
            store.objects.put_result_object(job.user_id, job.name, output.filename, output.content, output.content_type)
            records.append(
                ResultFile(
                    id=new_id().replace("-", ""),
                    job_name=job.name,
                    user_id=job.user_id,
                    kind=output.kind,
                    parameters_name=output.parameters_name,
                    filename=output.filename,
                    relpath=str(path.relative_to(store.root)),
                    size=len(output.content),
                    content_type=output.content_type,
                    created_at=now(),
                )
            )
        with store.lock:
            if job.status != "pending" or self._stop.is_set():
                shutil.rmtree(directory, ignore_errors=True)
                raise _Abandon()
            for record in records:
                store.results[record.id] = record
            job.status = "finished"
            job.progress = 1.0
            job.finished_at = now()
            store.save()

    # -- kinds -------------------------------------------------------------------

    def _set_text(self, job: Job) -> str:
        with self.store.lock:
            resource = self.store.resource_sets.get(job.set_name)
            text = resource.text if resource is not None else None
        if text is None:
            raise JobFailure(f"resource set {job.set_name} no longer exists")
        return text

    def _entries(self, job: Job, doc: ResourceDocument) -> List[ParametersSpec]:
        if job.parameters_name:
            entry = doc.parameters_named(job.parameters_name)
            if entry is None:
                names = ", ".join(p.name for p in doc.parameters) or "none"
                raise JobFailure(
                    f"parameters {job.parameters_name!r} not found in resource set "
                    f"{job.display_name!r} (available: {names})"
                )
            if entry.kind != "AvatarParameters":
                # a metrics/report/advice entry measures the avatarizations of its table
                measured = [
                    p
                    for p in doc.parameters
                    if p.kind == "AvatarParameters"
                    and (p.name == entry.measures if entry.measures else p.table == entry.table)
                ]
                if not measured:
                    raise JobFailure(f"parameters {entry.name!r}: no AvatarParameters entry for table {entry.table!r}")
                return measured
            return [entry]
        if not doc.parameters:
            raise JobFailure(f"resource set {job.display_name!r} has no parameters entry")
        return list(doc.parameters)

    def _original(self, job: Job, doc: ResourceDocument, entry: ParametersSpec) -> Tuple[Table, Optional[str]]:
        table_spec = doc.table(entry.table)
        if table_spec is None:
            raise JobFailure(
                f"parameters {entry.name!r}: table {entry.table!r} is not declared in the resource set's tables"
            )
        path = self.store.objects.user_file(job.user_id, table_spec.dataset_id)  # s3://avatars/users/<id>/<it>
        if path is None:
            raise JobFailure(f"table {table_spec.name!r}: dataset {table_spec.dataset_id} not found")
        try:
            table = avatarize.read_table(path, max_rows=self.max_rows, label=f"table {table_spec.name!r}")
        except TableError as exc:
            raise JobFailure(str(exc)) from None
        except OSError as exc:
            raise JobFailure(f"table {table_spec.name!r}: cannot read the dataset ({exc})") from None
        return table, table_spec.primary_key

    def _compute(self, job: Job) -> List[_Output]:
        text = self._set_text(job)
        try:
            doc = read_set(text.encode("utf-8")).legacy
        except DocumentError as exc:  # stored sets were checked when sent: a store edited by hand
            raise JobFailure(f"invalid resource set: {exc}") from None
        if doc is None:
            return self._platform_outputs(job, text)
        entries = self._entries(job, doc)

        def check() -> None:
            self._check(job)

        handlers: Dict[
            str, Callable[[Job, ResourceDocument, List[ParametersSpec], Callable[[], None]], List[_Output]]
        ] = {
            "standard": self._standard,
            "privacy_metrics": self._privacy,
            "signal_metrics": self._signal,
            "report": self._report,
            "advice": self._advice,
        }
        handler = handlers.get(job.kind)
        if handler is None:
            raise JobFailure(f"unknown job kind {job.kind!r}")
        try:
            return handler(job, doc, entries, check)
        except TableError as exc:
            raise JobFailure(str(exc)) from None

    def _platform_outputs(self, job: Job, text: str) -> List[_Output]:
        """Sets in the platform's format run in :mod:`.platform_flow`."""

        def read_input(volume: str, file: str) -> Optional[Path]:
            # the caller uploaded it to the object store, under their prefix
            return self.store.objects.user_file(job.user_id, file)

        def find_result(kind: str, table: str) -> Optional[Path]:
            result = self._find_result(job, kind, "standard", table)
            return self.store.path(result.relpath) if result is not None else None

        try:
            outputs = platform_flow.run_parameters(
                text,
                job.parameters_name or "",
                read_input=read_input,
                find_result=find_result,
                max_rows=self.max_rows,
                check=lambda: self._check(job),
                display_name=job.display_name or "unnamed",
            )
        except platform_flow.FlowError as exc:
            raise JobFailure(str(exc)) from None
        return [_Output(o.kind, o.table, o.filename, o.content, o.content_type) for o in outputs]

    def _standard(
        self, job: Job, doc: ResourceDocument, entries: List[ParametersSpec], check: Callable[[], None]
    ) -> List[_Output]:
        outputs: List[_Output] = []
        private_dir = self.store.path(f"jobs/{safe_filename(job.name)}")
        private_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            table, primary_key = self._original(job, doc, entry)
            try:
                synthesis = avatarize.synthesize(
                    table, k=entry.k, seed=entry.seed, primary_key=primary_key, check=check
                )
            except TableError as exc:
                raise JobFailure(f"parameters {entry.name!r}: {exc}") from None
            link_path = private_dir / f"{safe_filename(entry.name)}.link.json"
            link_path.write_text(json.dumps({"link": synthesis.link, "seed": synthesis.seed}))
            outputs.append(
                _Output(
                    "shuffled",
                    entry.name,
                    f"{safe_filename(entry.name)}.shuffled.csv",
                    avatarize.table_to_csv(synthesis.table),
                    "text/csv",
                )
            )
        return outputs

    def _ancestors(self, job: Job) -> List[Job]:
        out: List[Job] = []
        seen = set()
        queue = list(job.depends_on)
        with self.store.lock:
            while queue:
                name = queue.pop(0)
                if name in seen:
                    continue
                seen.add(name)
                parent = self.store.jobs.get(name)
                if parent is not None:
                    out.append(parent)
                    queue.extend(parent.depends_on)
        return out

    def _find_result(self, job: Job, kind: str, job_kind: str, entry: str) -> Optional[ResultFile]:
        """A result file of ``kind`` for ``entry``: ancestors first, then latest."""
        with self.store.lock:
            candidates = [j for j in self._ancestors(job) if j.kind == job_kind]
            others = sorted(
                (
                    j
                    for j in self.store.jobs.values()
                    if j.kind == job_kind and j.user_id == job.user_id and j.deleted_at is None
                ),
                key=lambda j: j.seq,
                reverse=True,
            )
            for candidate in candidates + others:
                if candidate.status != "finished" or candidate.set_name != job.set_name:
                    continue
                for result in self.store.results.values():
                    if result.job_name == candidate.name and result.kind == kind and result.parameters_name == entry:
                        return result
        return None

    def _synthetic(self, job: Job, entry: ParametersSpec) -> Tuple[Table, List[int]]:
        result = self._find_result(job, "shuffled", "standard", entry.name)
        if result is None:
            raise JobFailure(
                f"parameters {entry.name!r}: no finished standard job of this resource set "
                f"produced it; run a standard job first (and list it in depends_on)"
            )
        link_path = self.store.path(f"jobs/{safe_filename(result.job_name)}/{safe_filename(entry.name)}.link.json")
        try:
            link = [int(i) for i in json.loads(link_path.read_text())["link"]]
        except (OSError, ValueError, KeyError) as exc:
            raise JobFailure(f"the standard job's private link file is unreadable ({exc})") from None
        table = avatarize.read_table(self.store.path(result.relpath), max_rows=self.max_rows, label="synthetic table")
        return table, link

    def _privacy(
        self, job: Job, doc: ResourceDocument, entries: List[ParametersSpec], check: Callable[[], None]
    ) -> List[_Output]:
        return _json_outputs("privacy_metrics", entries, lambda entry: self._privacy_for(job, doc, entry, check))

    def _privacy_for(
        self, job: Job, doc: ResourceDocument, entry: ParametersSpec, check: Callable[[], None]
    ) -> Dict[str, Any]:
        original, primary_key = self._original(job, doc, entry)
        synthetic, link = self._synthetic(job, entry)
        metrics = avatarize.privacy_metrics(original, synthetic, link, primary_key=primary_key, check=check)
        return {"parameters_name": entry.name, "table": entry.table, **metrics}

    def _signal(
        self, job: Job, doc: ResourceDocument, entries: List[ParametersSpec], check: Callable[[], None]
    ) -> List[_Output]:
        return _json_outputs("signal_metrics", entries, lambda entry: self._signal_for(job, doc, entry, check))

    def _signal_for(
        self, job: Job, doc: ResourceDocument, entry: ParametersSpec, check: Callable[[], None]
    ) -> Dict[str, Any]:
        original, primary_key = self._original(job, doc, entry)
        synthetic, _ = self._synthetic(job, entry)
        metrics = avatarize.signal_metrics(original, synthetic, primary_key=primary_key, check=check)
        return {"parameters_name": entry.name, "table": entry.table, **metrics}

    def _load_json_result(self, job: Job, kind: str, entry: str) -> Optional[Dict[str, Any]]:
        result = self._find_result(job, kind, kind, entry)
        if result is None:
            return None
        try:
            data = json.loads(self.store.path(result.relpath).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _report(
        self, job: Job, doc: ResourceDocument, entries: List[ParametersSpec], check: Callable[[], None]
    ) -> List[_Output]:
        sections: List[Dict[str, Any]] = []
        for entry in entries:
            privacy = self._load_json_result(job, "privacy_metrics", entry.name)
            if privacy is None:
                privacy = self._privacy_for(job, doc, entry, check)
            signal = self._load_json_result(job, "signal_metrics", entry.name)
            if signal is None:
                signal = self._signal_for(job, doc, entry, check)
            sections.append(
                {
                    "parameters_name": entry.name,
                    "table": entry.table,
                    "k": entry.k,
                    "nb_rows_in": signal.get("nb_rows_original"),
                    "nb_rows_out": signal.get("nb_rows_synthetic"),
                    "privacy": privacy,
                    "signal": signal,
                }
            )
        text = avatarize.render_report(sections)
        return [
            _Output("report", job.parameters_name, "report.md", text.encode("utf-8"), "text/markdown; charset=utf-8")
        ]

    def _advice(
        self, job: Job, doc: ResourceDocument, entries: List[ParametersSpec], check: Callable[[], None]
    ) -> List[_Output]:
        def advice(entry: ParametersSpec) -> Dict[str, Any]:
            check()
            table, _ = self._original(job, doc, entry)
            return {"parameters_name": entry.name, "table": entry.table, **avatarize.advise(table)}

        return _json_outputs("advice", entries, advice)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _json_outputs(
    kind: str, entries: List[ParametersSpec], compute: Callable[[ParametersSpec], Dict[str, Any]]
) -> List[_Output]:
    """One ``<entry>.<kind>.json`` output per entry, in order."""
    return [
        _Output(
            kind,
            entry.name,
            f"{safe_filename(entry.name)}.{kind}.json",
            _json_bytes(compute(entry)),
            "application/json",
        )
        for entry in entries
    ]
