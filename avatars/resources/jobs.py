"""``client.jobs``: create, list, inspect, cancel and delete jobs.

Each method is one call.  Waiting for a job is not done here: poll
:meth:`Jobs.get_job_status` until :attr:`JobResponse.is_terminal`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import (
    BulkDeleteRequest,
    BulkDeleteResponse,
    JobCreateRequest,
    JobCreateResponse,
    JobKind,
    JobResponse,
    JobResponseList,
)
from ._helpers import JsonResource, name_segment

__all__ = ["Jobs"]


#: Paths under /jobs that are routes, not job names.
_RESERVED = ("last_set", "bulk-delete")


class Jobs(JsonResource):
    """The job endpoints (``/jobs``)."""

    def get_jobs(
        self, kind: Optional[Union[JobKind, str]] = None, *, timeout: Optional[Timeout] = None
    ) -> JobResponseList:
        """``GET /jobs``, optionally only the jobs of one ``kind`` (``?kind=``)."""
        params: Dict[str, str] = {}
        if kind is not None:
            params["kind"] = JobKind.parse(kind, field_name="kind").value
        response = self._client.request("GET", "jobs", params=params or None, timeout=timeout)
        jobs: JobResponseList = self._load("JobResponseListSchema", response, "GET /jobs")
        return jobs

    def create_job(self, request: JobCreateRequest, *, timeout: Optional[Timeout] = None) -> JobCreateResponse:
        """``POST /jobs``: start a job.  Never re-sent automatically (not idempotent)."""
        if not isinstance(request, JobCreateRequest):
            raise RequestValidationError(
                f"request must be a JobCreateRequest, got {type(request).__name__}", field="request"
            )
        response = self._client.request("POST", "jobs", json=request.to_json(), timeout=timeout)
        created: JobCreateResponse = self._load("JobCreateResponseSchema", response, "POST /jobs")
        return created

    def get_last_jobs(self, *, timeout: Optional[Timeout] = None) -> JobResponseList:
        """``GET /jobs/last_set``: every job of the most recent resource set.

        Not :meth:`avatars.Manager.get_last_jobs` (the platform SDK's name for
        "the ``count`` newest jobs"): the two names are the platform's, with
        the platform's meanings.
        """
        response = self._client.request("GET", "jobs/last_set", timeout=timeout)
        jobs: JobResponseList = self._load("JobResponseListSchema", response, "GET /jobs/last_set")
        return jobs

    def get_job_status(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``GET /jobs/{job_name}``: the job as it is now."""
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}"
        response = self._client.request("GET", path, timeout=timeout)
        job: JobResponse = self._load("JobResponseSchema", response, "GET /jobs/{job_name}")
        return job

    def cancel_job(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``POST /jobs/{job_name}/cancel``: stop a job that has not ended (an ended job is unchanged)."""
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}/cancel"
        response = self._client.request("POST", path, timeout=timeout)
        job: JobResponse = self._load("JobResponseSchema", response, "POST /jobs/{job_name}/cancel")
        return job

    def delete_job(self, job_name: str, *, timeout: Optional[Timeout] = None) -> JobResponse:
        """``DELETE /jobs/{job_name}``: delete a job (cancelling it first if it runs)."""
        path = f"jobs/{name_segment(job_name, 'job_name', reserved=_RESERVED)}"
        response = self._client.request("DELETE", path, timeout=timeout)
        job: JobResponse = self._load("JobResponseSchema", response, "DELETE /jobs/{job_name}")
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
        deleted: BulkDeleteResponse = self._load("BulkDeleteResponseSchema", response, "POST /jobs/bulk-delete")
        return deleted
