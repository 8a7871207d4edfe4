"""``Manager``: the entry point of the everyday flow, with the platform SDK's names.

::

    from avatars import Manager

    manager = Manager("https://avatar.example.com/api", api_key=key)
    runner = manager.create_runner("my-study", seed=42)
    ...
    manager.get_last_jobs(5)            # {job name: JobResponse}, newest first
    manager.delete_job("my-study")      # every job of the one set with that name

The :class:`~avatars.ApiClient` underneath is ``manager.auth_client`` (the
platform SDK's name; there is no second name for it).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Dict, Iterable, List, Optional, Tuple, Type, Union
from uuid import UUID

import requests

from ._validate import require_text_list, require_uuid
from .client import ApiClient
from .config import ClientConfig, Timeout
from .documents import ResourceSet
from .errors import ConflictError, RequestValidationError
from .models import BulkDeleteResponse, HealthMessage, JobKind, JobResponse, Results
from .progress import ProgressOption
from .runner import Runner

__all__ = ["Manager"]

_BULK_DELETE_LIMIT = 100


def _count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise RequestValidationError(f"count must be a positive integer, got {count!r}", field="count")
    return count


class Manager:
    """Authenticate, create runners, and look after jobs.

    :param base_url: the API URL (``.../api``).  Values not given (and no
        ``config``) come from the ``AVATAR_*`` variables, as for :class:`ApiClient`.
    :param api_client: an :class:`ApiClient` you configured yourself.
    :param api_key: authenticate with an API key instead of :meth:`authenticate`.
    :param config: a :class:`ClientConfig`.
    :param http_client: your own configured :class:`requests.Session`.
    :param progress: the default ``progress=`` of the runners it creates.
    :param client_options: passed to :class:`ApiClient` (``timeout``,
        ``should_verify_ssl``, ...).
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        api_client: Optional[ApiClient] = None,
        api_key: Optional[str] = None,
        config: Optional[ClientConfig] = None,
        http_client: Optional[requests.Session] = None,
        progress: ProgressOption = True,
        **client_options: Any,
    ) -> None:
        if api_client is not None:
            if base_url is not None or api_key is not None or config is not None or client_options:
                raise RequestValidationError(
                    "api_client excludes base_url, api_key, config and client options: configure the client",
                    field="api_client",
                )
            self.auth_client = api_client
        else:
            # ApiClient applies the configuration rule (argument, else AVATAR_*).
            self.auth_client = ApiClient(
                base_url, api_key=api_key, config=config, http_client=http_client, **client_options
            )
        self.progress = progress

    def authenticate(
        self, username: Optional[str] = None, password: Optional[str] = None, timeout: Optional[Timeout] = None
    ) -> None:
        """Log in with username and password, by default ``AVATAR_USERNAME`` and
        ``AVATAR_PASSWORD`` (see :meth:`ApiClient.authenticate`; a manager given
        an explicit ``api_key`` refuses it)."""
        self.auth_client.authenticate(username, password, timeout=timeout)

    def forgotten_password(self, email: str) -> None:
        self.auth_client.forgotten_password(email)

    def reset_password(
        self, email: str, new_password: str, new_password_repeated: str, token: Union[str, UUID]
    ) -> None:
        self.auth_client.reset_password(email, new_password, new_password_repeated, token)

    def create_runner(
        self,
        set_name: str,
        seed: Optional[int] = None,
        max_distribution_plots: Optional[int] = None,
        pia_data_recipient: str = "unknown",
        pia_data_type: str = "unknown",
        pia_data_subject: str = "unknown",
        pia_sensitivity_level: str = "Undefined",
        report_language: str = "en",
        *,
        progress: Optional[ProgressOption] = None,
        timeout: Optional[float] = None,
    ) -> Runner:
        """A new :class:`Runner` whose resource set is displayed as ``set_name``."""
        return Runner(
            self.auth_client,
            set_name,
            seed=seed,
            max_distribution_plots=max_distribution_plots,
            pia_data_recipient=pia_data_recipient,
            pia_data_type=pia_data_type,
            pia_data_subject=pia_data_subject,
            pia_sensitivity_level=pia_sensitivity_level,
            report_language=report_language,
            progress=self.progress if progress is None else progress,
            timeout=timeout,
        )

    def create_runner_from_yaml(self, yaml_path: Union[str, os.PathLike[str]], set_name: str) -> Runner:
        """A runner configured by a YAML resource set (add the tables' data before :meth:`Runner.run`)."""
        runner = self.create_runner(set_name)
        runner.from_yaml(yaml_path)
        return runner

    def get_last_jobs(self, count: int = 1, name: Optional[str] = None) -> Dict[str, JobResponse]:
        """The ``count`` most recent jobs (of the sets displayed as ``name``), newest first,
        as ``{job name: job}``.

        This is the platform SDK's meaning.  ``client.jobs.get_last_jobs()``
        is another call: every job of the most recent set (``GET /jobs/last_set``).
        """
        wanted = _count(count)
        jobs = [job for job in self.auth_client.jobs.get_jobs() if name is None or job.display_name == name]
        jobs.sort(key=lambda job: job.created_at, reverse=True)
        return {job.name: job for job in jobs[:wanted]}

    def get_last_results(self, count: int = 1) -> List[Results]:
        """The result files (``GET /results/{job}``) of the ``count`` most recent jobs."""
        return [self.auth_client.results.get_results(name) for name in self.get_last_jobs(count)]

    def get_jobs_by_name(self, name: str) -> List[JobResponse]:
        """Every job of the sets displayed as ``name``."""
        return [job for job in self.auth_client.jobs.get_jobs() if job.display_name == name]

    def get_jobs_by_id(self, id: Union[str, UUID]) -> List[JobResponse]:  # noqa: A002 - the platform's name
        """Every job of the set ``id`` (a run's ``set_name``): ``GET /jobs?set_name=``."""
        return list(self.auth_client.jobs.get_jobs(set_name=require_uuid(id, "id")))

    def get_last_set(self) -> List[JobResponse]:
        """Every job of the most recent set (``GET /jobs/last_set``)."""
        return list(self.auth_client.jobs.get_last_jobs())

    def find_ids_by_name(self, set_name: str) -> List[Tuple[str, List[JobResponse]]]:
        """The runs displayed as ``set_name`` (the name given to :meth:`create_runner`):
        ``[(set_name UUID, its jobs)]``, the run with the newest job first.  Advice
        jobs are left out (they are not a run); no run: an empty list."""
        # the kinds of a run on every platform version (not the 3.x-only kinds a 2.90 platform refuses)
        kinds = [JobKind.standard, JobKind.privacy_metrics, JobKind.signal_metrics, JobKind.report]
        runs: Dict[str, List[JobResponse]] = {}
        for job in self.auth_client.jobs.get_jobs(display_name=set_name, kind=kinds):
            if job.display_name == set_name and job.kind is not JobKind.advice:
                runs.setdefault(str(job.set_name), []).append(job)
        return sorted(runs.items(), key=lambda run: max(job.created_at for job in run[1]), reverse=True)

    def create_runner_from_id(self, set_name: Union[str, UUID]) -> Runner:
        """A runner for a run made earlier: its stored set (``GET /resources/{set_name}``)
        and its jobs (``GET /jobs?set_name=``), so its results can be read without
        running anything again.  A later :meth:`Runner.run` makes a new set (the
        table data must then be added again); the display name is kept as stored
        (the platform SDK appends ``-vN``)."""
        wanted = require_uuid(set_name, "set_name")
        config = ResourceSet.from_yaml(self.auth_client.resources.get_resources(wanted))
        jobs = self.get_jobs_by_id(wanted)
        runner = self.create_runner(config.display_name)
        runner._restore(str(wanted), config, jobs)
        return runner

    def create_runner_from_name(self, display_name: str) -> Runner:
        """:meth:`create_runner_from_id` for the newest run displayed as ``display_name``."""
        runs = self.find_ids_by_name(display_name)
        if not runs:
            raise RequestValidationError(f"no run is named {display_name!r}", field="display_name")
        return self.create_runner_from_id(runs[0][0])

    def get_health(self) -> HealthMessage:
        return self.auth_client.health.get_health()

    def delete_job(self, name: str) -> BulkDeleteResponse:
        """Delete every job of the one set displayed as ``name``.

        When several sets (several runs) share the name, nothing is deleted:
        the error lists their ``set_name``; delete one with
        :meth:`delete_job_by_id`.
        """
        return self.delete_jobs([job.name for job in self._jobs_of_one_run(name, "delete_job_by_id")])

    def _jobs_of_one_run(self, name: str, by_id: str) -> List[JobResponse]:
        """The jobs of the one set displayed as ``name``; none or several: refused."""
        jobs = self.get_jobs_by_name(name)
        sets = sorted({str(job.set_name) for job in jobs})
        if not sets:
            raise RequestValidationError(f"no job belongs to a set named {name!r}", field="name")
        if len(sets) > 1:
            raise RequestValidationError(
                f"{len(sets)} runs are named {name!r}; choose one with {by_id}(set_name): " + ", ".join(sets),
                field="name",
            )
        return jobs

    def delete_job_by_id(self, id: Union[str, UUID]) -> BulkDeleteResponse:  # noqa: A002 - the platform's name
        """Delete every job of the set ``id`` (its ``set_name``)."""
        try:
            set_name = UUID(str(id))
        except ValueError:
            raise RequestValidationError(f"id must be a set_name (a UUID), got {id!r}", field="id") from None
        names = [job.name for job in self.auth_client.jobs.get_jobs() if job.set_name == set_name]
        if not names:
            raise RequestValidationError(f"no job belongs to the set {set_name}", field="id")
        return self.delete_jobs(names)

    def cancel_job(self, name: str) -> List[JobResponse]:
        """Stop the jobs still going of the one run displayed as ``name`` (several
        runs with that name: refused, as :meth:`delete_job`); see :meth:`cancel_jobs`."""
        return self.cancel_jobs([job.name for job in self._jobs_of_one_run(name, "cancel_job_by_id")])

    def cancel_job_by_id(self, id: Union[str, UUID]) -> List[JobResponse]:  # noqa: A002 - the platform's name
        """Stop the jobs still going of the set ``id`` (its ``set_name``)."""
        return self.cancel_jobs([job.name for job in self.get_jobs_by_id(id)])

    def cancel_jobs(self, job_names: Union[str, Iterable[str]]) -> List[JobResponse]:
        """Stop the named jobs that have not ended (``POST /jobs/{name}/cancel``,
        platform API 3.x); returns the jobs a cancel was sent for, as the server
        answered.  A job already over, or over before its cancel arrived, is
        left alone."""
        names = [job_names] if isinstance(job_names, str) else list(require_text_list(job_names, "job_names"))
        stopped: List[JobResponse] = []
        for name in names:
            if self.auth_client.jobs.get_job_status(name).done:
                continue
            try:
                stopped.append(self.auth_client.jobs.cancel_job(name))
            except ConflictError:  # it ended meanwhile
                continue
        return stopped

    def delete_jobs(self, job_names: Union[str, Iterable[str]]) -> BulkDeleteResponse:
        """Delete jobs by name, in batches of 100 (the API's limit); the answers are merged."""
        names = [job_names] if isinstance(job_names, str) else list(require_text_list(job_names, "job_names"))
        if not names:
            raise RequestValidationError("job_names is empty", field="job_names")
        deleted: List[JobResponse] = []
        failed: List[str] = []
        for start in range(0, len(names), _BULK_DELETE_LIMIT):
            answer = self.auth_client.jobs.bulk_delete_jobs(names[start : start + _BULK_DELETE_LIMIT])
            deleted.extend(answer.deleted_jobs)
            failed.extend(answer.failed_jobs)
        return BulkDeleteResponse(deleted_jobs=deleted, failed_jobs=failed)

    def close(self) -> None:
        self.auth_client.close()

    def __enter__(self) -> Manager:
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Manager({self.auth_client!r})"
