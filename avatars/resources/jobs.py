"""``client.jobs``: create, list, inspect, cancel and delete jobs.

Each method is one call.  Waiting for a job is not done here: poll
:meth:`Jobs.get_job_status` until :attr:`JobResponse.is_terminal`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union
from uuid import UUID

from .._validate import require_uuid
from ..config import Timeout
from ..errors import EndpointUnavailableError, RequestValidationError
from ..models import (
    BulkDeleteRequest,
    BulkDeleteResponse,
    JobCreateRequest,
    JobCreateResponse,
    JobFlowCreateRequest,
    JobFlowCreateResponse,
    JobKind,
    JobResponse,
    JobResponseList,
)
from ._helpers import API_3_ONLY, JsonResource, name_segment, platform_endpoint, require_text

__all__ = ["Jobs"]


#: Paths under /jobs that are routes, not job names.
_RESERVED = ("last_set", "bulk-delete", "flow")
#: At most this many names in one ``names=`` filter (the platform answers 400 beyond).
MAX_JOB_NAMES = 100


def _kinds(kind: Union[JobKind, str, Sequence[Union[JobKind, str]]]) -> List[str]:
    values = [kind] if isinstance(kind, str) else list(kind)
    return [JobKind.parse(value, field_name="kind").value for value in values]


class Jobs(JsonResource):
    """The job endpoints (``/jobs``).

    :attr:`flow_available` is what this client learnt about ``POST /jobs/flow``:
    ``None`` until :meth:`create_job_flow` was called, then ``True`` (a 3.x
    platform answered) or ``False`` (the router has no such route: a 2.90
    platform).  Set it yourself to skip the one probe a
    :class:`~avatars.Runner` makes on a client that does not know yet.
    """

    #: whether the platform has ``POST /jobs/flow`` (``None``: not known yet)
    flow_available: Optional[bool] = None

    def get_jobs(
        self,
        kind: Optional[Union[JobKind, str, Sequence[Union[JobKind, str]]]] = None,
        display_name: Optional[str] = None,
        set_name: Optional[Union[UUID, str]] = None,
        limit: Optional[int] = None,
        include_deleted: Optional[bool] = None,
        names: Optional[Sequence[str]] = None,
        *,
        timeout: Optional[Timeout] = None,
    ) -> JobResponseList:
        """``GET /jobs``: the caller's jobs; every filter given applies, together.

        ``kind`` is one kind or several (sent as ``?kind=a&kind=b``);
        ``set_name`` one resource set; ``display_name`` every set of that
        name; ``limit`` the most recent jobs only; ``include_deleted`` adds
        deleted jobs.  ``names`` (platform API 3.x) keeps the jobs with one of
        these names; a 2.90 platform ignores that filter, so the client applies
        it to the answer as well (a name that matches no job is simply absent).
        """
        params: Dict[str, Any] = {}
        if kind is not None:
            params["kind"] = _kinds(kind)
        if display_name is not None:
            params["display_name"] = require_text(display_name, "display_name")
        if set_name is not None:
            params["set_name"] = str(require_uuid(set_name, "set_name"))
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise RequestValidationError(f"limit must be an integer >= 0, got {limit!r}", field="limit")
            params["limit"] = str(limit)
        if include_deleted is not None:
            params["include_deleted"] = "true" if include_deleted else "false"
        wanted: Optional[List[str]] = None
        if names is not None:
            if isinstance(names, str):
                raise RequestValidationError("names must be a list of job names, not one string", field="names")
            wanted = list(dict.fromkeys(require_text(n, "names") for n in names))
            if len(wanted) > MAX_JOB_NAMES:
                raise RequestValidationError(
                    f"names holds {len(wanted)} names; at most {MAX_JOB_NAMES} per call", field="names"
                )
            params["names"] = wanted
        response = self._client.request("GET", "jobs", params=params or None, timeout=timeout)
        jobs = self._load(JobResponseList, response, "GET /jobs")
        if wanted is not None:
            keep = set(wanted)
            jobs = JobResponseList([job for job in jobs.jobs if job.name in keep])
        return jobs

    def create_job(self, request: JobCreateRequest, *, timeout: Optional[Timeout] = None) -> JobCreateResponse:
        """``POST /jobs``: start a job.  Never re-sent automatically (not idempotent)."""
        if not isinstance(request, JobCreateRequest):
            raise RequestValidationError(
                f"request must be a JobCreateRequest, got {type(request).__name__}", field="request"
            )
        response = self._client.request("POST", "jobs", json=request.to_json(), timeout=timeout)
        created = self._load(JobCreateResponse, response, "POST /jobs")
        return created

    def create_job_flow(
        self, request: Union[JobFlowCreateRequest, UUID, str], *, timeout: Optional[Timeout] = None
    ) -> JobFlowCreateResponse:
        """``POST /jobs/flow`` (platform API 3.x): a job for every parameters document of a set.

        ``request`` is a :class:`JobFlowCreateRequest` or the set's ``set_name``.
        Never re-sent automatically.  On a 2.90 platform:
        :class:`~avatars.errors.EndpointUnavailableError` (and
        :attr:`flow_available` becomes ``False``; a success makes it ``True``).
        """
        body = request if isinstance(request, JobFlowCreateRequest) else JobFlowCreateRequest(request)
        try:
            with platform_endpoint("POST /jobs/flow", API_3_ONLY):
                response = self._client.request("POST", "jobs/flow", json=body.to_json(), timeout=timeout)
        except EndpointUnavailableError:
            self.flow_available = False
            raise
        self.flow_available = True
        created = self._load(JobFlowCreateResponse, response, "POST /jobs/flow")
        return created

    def get_last_jobs(self, *, timeout: Optional[Timeout] = None) -> JobResponseList:
        """``GET /jobs/last_set``: every job of the most recent resource set.

        Not :meth:`avatars.Manager.get_last_jobs` (the platform SDK's name for
        "the ``count`` newest jobs"): the two names are the platform's, with
        the platform's meanings.
        """
        response = self._client.request("GET", "jobs/last_set", timeout=timeout)
        jobs = self._load(JobResponseList, response, "GET /jobs/last_set")
        return jobs

    def get_job_status(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``GET /jobs/{job_name}``: the job as it is now."""
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}"
        response = self._client.request("GET", path, timeout=timeout)
        job = self._load(JobResponse, response, "GET /jobs/{job_name}")
        return job

    def cancel_job(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``POST /jobs/{job_name}/cancel`` (platform API 3.x): stop a job that has not ended.

        An ended job: :class:`~avatars.errors.ConflictError` (409).  On a 2.90
        platform: :class:`~avatars.errors.EndpointUnavailableError`.
        """
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}/cancel"
        with platform_endpoint("POST /jobs/{job_name}/cancel", API_3_ONLY):
            response = self._client.request("POST", path, timeout=timeout)
        job = self._load(JobResponse, response, "POST /jobs/{job_name}/cancel")
        return job

    def delete_job(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``DELETE /jobs/{job_name}``: delete a job (cancelling it first if it runs)."""
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}"
        response = self._client.request("DELETE", path, timeout=timeout)
        job = self._load(JobResponse, response, "DELETE /jobs/{job_name}")
        return job

    def bulk_delete_jobs(
        self, job_names: Union[Sequence[str], BulkDeleteRequest], *, timeout: Optional[Timeout] = None
    ) -> BulkDeleteResponse:
        """``POST /jobs/bulk-delete``: delete 1 to 100 jobs at once.

        The answer lists the deleted jobs and the names that failed.
        """
        request = job_names if isinstance(job_names, BulkDeleteRequest) else BulkDeleteRequest(job_names)
        body: Any = request.to_json()
        response = self._client.request("POST", "jobs/bulk-delete", json=body, timeout=timeout)
        deleted = self._load(BulkDeleteResponse, response, "POST /jobs/bulk-delete")
        return deleted
