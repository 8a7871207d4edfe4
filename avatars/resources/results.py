"""``client.results``: the files a job produced, and downloading them.

Result files live in object storage.  Two ways to fetch one:

* :meth:`ResultFiles.download_file`: ask the API for access (``GET /access``),
  then fetch the object from the store, signed with those credentials
  (:mod:`avatars.storage`);
* :meth:`ResultFiles.download_url`: a plain ``GET`` of the URL, for result URLs
  that are directly readable (e.g. pre-signed).  The API credentials are only
  ever attached on the API's own origin, so another host receives none.

Results of a job that has not finished: the server answers with an error
status (raised as the matching :class:`~avatars.errors.ApiError`, e.g.
:class:`~avatars.errors.ConflictError` or :class:`~avatars.errors.NotFound`),
or with an empty mapping, returned as an empty (falsy) :class:`~avatars.models.Results`.  This
facade does not wait or retry: poll :meth:`avatars.resources.jobs.Jobs.get_job_status`
until the job :attr:`~avatars.models.JobResponse.is_terminal` first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from .. import models
from .._filenames import confine, plan_files
from ..config import Timeout
from ..errors import RequestValidationError, redact_url
from ..models import FileAccess
from ..transfer import (
    DEFAULT_DECOMPRESSION_LIMIT,
    DecompressionLimit,
    Destination,
    DownloadResult,
    ProgressCallback,
    _local_file,
    check_destination,
    save_response,
)
from ._helpers import JsonResource, name_segment, request_id_of, require_text, schemas_module

if TYPE_CHECKING:  # pragma: no cover
    from ..progress import ProgressListener

__all__ = ["ResultFiles", "download_result_files", "prefetch_credentials"]


class ResultFiles(JsonResource):
    """The result endpoints (``/results``, ``/access``, ``/access/batch``, ``/upload_url``)."""

    def get_results(self, job_name: str, *, timeout: Optional[Timeout] = None) -> models.Results:
        """``GET /results/{job_name}``: ``{result kind: [url, ...]}``.

        ``print()`` of the answer lists the files by kind.
        """
        path = f"results/{name_segment(job_name, 'job_name')}"
        response = self._client.request("GET", path, timeout=timeout)
        results: models.Results = schemas_module().load_results(
            self._json(response),
            job_name=job_name,
            endpoint="GET /results/{job_name}",
            request_id=request_id_of(response),
        )
        return results

    def get_permission_to_download(self, url: str, *, timeout: Optional[Timeout] = None) -> FileAccess:
        """``GET /access?url=...``: storage credentials for one result file."""
        require_text(url, "url")
        response = self._client.request("GET", "access", params={"url": url}, timeout=timeout)
        access = self._load(FileAccess, response, "GET /access")
        return access

    def get_permissions_to_download_batch(
        self, urls: Sequence[str], *, timeout: Optional[Timeout] = None
    ) -> List[FileAccess]:
        """``POST /access/batch`` (the body is a bare JSON list of URLs): credentials
        for several files in one call; a URL the platform refuses is left out."""
        if isinstance(urls, (str, bytes)) or not isinstance(urls, Sequence):
            raise RequestValidationError(f"urls must be a list of URLs, got {type(urls).__name__}", field="urls")
        for index, url in enumerate(urls):
            require_text(url, f"urls[{index}]")
        body: Any = list(urls)  # the platform takes a bare JSON list
        response = self._client.request("POST", "access/batch", json=body, timeout=timeout)
        return self._load_many(FileAccess, response, "POST /access/batch")

    def get_upload_url(self, *, timeout: Optional[Timeout] = None) -> str:
        """``GET /upload_url``: the caller's upload prefix (a string)."""
        response = self._client.request("GET", "upload_url", timeout=timeout)
        url: str = self._expect(str, response, "GET /upload_url")
        return url

    def download_file(
        self,
        file_access_or_url: Union[FileAccess, str],
        destination: Destination,
        *,
        progress: Optional[ProgressCallback] = None,
        durable: bool = False,
        timeout: Optional[Timeout] = None,
        decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
    ) -> DownloadResult:
        """``GET /access``, then ``GET`` from the object store: stream one result
        file to ``destination``.

        ``destination`` is a path (written atomically: a temporary file next
        to it replaces it when complete) or a writable binary file.  Given a
        URL instead of a :class:`FileAccess`, this first asks ``GET /access``
        for it.  ``progress(done_bytes, total_bytes)`` is called as bytes
        arrive.  ``durable=True`` also ``fsync``-s the file before it takes its
        final name (survives a power cut; costs the disk's speed).
        A compressed answer may expand only as far as ``decompression_limit``
        allows (see :mod:`avatars.transfer`); a local write failure raises
        :class:`~avatars.errors.LocalFileError`.
        """
        check_destination(destination)
        if not isinstance(file_access_or_url, (FileAccess, str)):
            raise RequestValidationError(
                f"expected a FileAccess or a URL, got {type(file_access_or_url).__name__}",
                field="file_access_or_url",
            )
        if isinstance(file_access_or_url, str) and self._client.storage.is_direct_url(file_access_or_url):
            # A plain http(s) URL outside the store (a pre-signed link): read as it is, no credentials.
            return self.download_url(
                file_access_or_url,
                destination,
                progress=progress,
                durable=durable,
                timeout=timeout,
                decompression_limit=decompression_limit,
            )
        result = self._client.datasets.download(
            file_access_or_url,
            destination,
            progress=progress,
            durable=durable,
            decompression_limit=decompression_limit,
            timeout=timeout,
        )
        assert isinstance(result, DownloadResult)
        return result

    def download_url(
        self,
        url: str,
        destination: Destination,
        *,
        progress: Optional[ProgressCallback] = None,
        durable: bool = False,
        timeout: Optional[Timeout] = None,
        decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
    ) -> DownloadResult:
        """``GET url``: stream a directly readable result URL to ``destination``.

        For ``http(s)`` URLs only (object storage, pre-signed links).  The
        client's credentials go only to the API's own origin; another host
        receives none, and no credentials are needed to call this.
        """
        require_text(url, "url")
        if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).netloc:
            raise RequestValidationError(
                f"url must be an absolute http(s) URL, got {redact_url(url)[:200]!r} "
                "(for storage URLs such as s3://..., use download_file)",
                field="url",
            )
        check_destination(destination)
        response = self._client.request("GET", url, timeout=timeout, stream=True, auth_required=False)
        return save_response(
            response, destination, progress=progress, durable=durable, decompression_limit=decompression_limit
        )


def prefetch_credentials(results: ResultFiles, urls: Sequence[str], *, timeout: Optional[Timeout] = None) -> None:
    """Ask once (``POST /access/batch``) for the credentials of the storage
    locations among ``urls`` that have none cached, when there are several: their
    downloads then need no ``GET /access`` each.  A location the platform leaves
    out of its answer is asked for alone when it is downloaded."""
    storage = results._client.storage
    wanted = [url for url in dict.fromkeys(urls) if not storage.is_direct_url(url) and not storage.has_credentials(url)]
    if len(wanted) > 1:
        storage.prefetch(wanted, timeout=timeout)


def download_result_files(
    results: ResultFiles,
    files: Sequence[Tuple[str, str]],
    directory: Union[str, os.PathLike[str]],
    *,
    progress: Optional[ProgressListener] = None,
    durable: bool = False,
    timeout: Optional[Timeout] = None,
    decompression_limit: Optional[DecompressionLimit] = DEFAULT_DECOMPRESSION_LIMIT,
) -> List[Tuple[str, Path]]:
    """Download a batch of result files into ``directory`` with the
    ``results`` facade (``client.results``), one file after the other; returns
    ``[(url, path), ...]`` in the order given.

    ``files`` is ``[(url, file name), ...]``, e.g. the URLs and names of
    :meth:`avatars.models.Results.files`.  The names come from the server,
    so before anything is fetched every name is made a safe file name,
    the names of the batch distinct (``t.csv``, ``t-2.csv``), and each
    path checked to lie in ``directory`` (once for the whole batch, and
    again just before its file is written; see :mod:`avatars._filenames`):
    :class:`~avatars.errors.UnsafeFileNameError` otherwise, and nothing is
    written.  ``directory`` is created if needed.  ``progress`` (a
    :class:`~avatars.progress.ProgressListener`) hears ``"download <name>"``.
    """
    from ..progress import bytes_callback

    folder = Path(directory)
    if "\0" in str(folder):
        raise RequestValidationError(f"directory {str(folder)[:200]!r} holds a NUL character", field="directory")
    with _local_file(str(folder)):
        folder.mkdir(parents=True, exist_ok=True)
    paths = plan_files(folder, [name for _, name in files])
    prefetch_credentials(results, [url for url, _ in files], timeout=timeout)
    written: List[Tuple[str, Path]] = []
    for (url, _), path in zip(files, paths):
        confine(folder, path.name)  # again just before writing: a link may have appeared since the plan
        callback = bytes_callback(progress, f"download {path.name}") if progress is not None else None
        results.download_file(
            url,
            path,
            progress=callback,
            durable=durable,
            timeout=timeout,
            decompression_limit=decompression_limit,
        )
        written.append((url, path))
    return written
