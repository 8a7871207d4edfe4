"""``client.datasets``: upload, list, download and delete datasets.

Uploads and downloads stream (see :mod:`avatars.transfer`): a file is never
read into memory whole.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Union

from ..config import Timeout
from ..models import Dataset, FileType
from ..transfer import (
    Destination,
    DownloadResult,
    ProgressCallback,
    UploadSource,
    check_destination,
    open_upload,
    save_response,
)
from ._helpers import IdLike, JsonResource, id_segment, require_text

__all__ = ["Datasets"]


class Datasets(JsonResource):
    """The dataset endpoints (``/datasets``)."""

    def create_dataset(
        self,
        source: UploadSource,
        name: Optional[str] = None,
        filetype: Union[FileType, str] = FileType.csv,
        *,
        progress: Optional[ProgressCallback] = None,
        timeout: Optional[Timeout] = None,
    ) -> Dataset:
        """``POST /datasets/stream?name=&filetype=``: upload a dataset, streamed.

        ``source`` is a path, a binary file (read from its current position),
        ``bytes``, or an iterable of ``bytes`` chunks (sent chunked; such a body
        cannot be re-sent, so a call needing a re-send raises
        :class:`~avatars.errors.RequestNotRetryableError`).
        ``progress(done_bytes, total_bytes)`` is called as bytes go out.
        """
        params: Dict[str, str] = {"filetype": FileType.parse(filetype, field_name="filetype").value}
        if name is not None:
            params["name"] = require_text(name, "name")
        with open_upload(source, progress=progress) as upload:
            response = self._client.request(
                "POST",
                "datasets/stream",
                params=params,
                data=upload.body,
                headers={"Content-Type": "application/octet-stream"},
                timeout=timeout,
            )
        dataset = self._load(Dataset, response, "POST /datasets/stream")
        return dataset

    def find_all_datasets(self, *, timeout: Optional[Timeout] = None) -> List[Dataset]:
        """``GET /datasets``: the caller's datasets."""
        response = self._client.request("GET", "datasets", timeout=timeout)
        return self._load_many(Dataset, response, "GET /datasets")

    def get_dataset(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> Dataset:  # noqa: A002
        """``GET /datasets/{id}``."""
        response = self._client.request("GET", f"datasets/{id_segment(id)}", timeout=timeout)
        dataset = self._load(Dataset, response, "GET /datasets/{id}")
        return dataset

    def download_dataset(
        self,
        id: IdLike,  # noqa: A002
        destination: Destination,
        *,
        progress: Optional[ProgressCallback] = None,
        durable: bool = False,
        timeout: Optional[Timeout] = None,
    ) -> DownloadResult:
        """``GET /datasets/{id}/download/stream``: stream a dataset to ``destination``.

        ``destination`` is a path (written atomically) or a writable binary
        file.  The result's ``sha256`` can be compared with :attr:`Dataset.hash`.
        ``durable=True`` also ``fsync``-s the file before it takes its final
        name (survives a power cut; costs the disk's speed).
        """
        path = f"datasets/{id_segment(id)}/download/stream"
        check_destination(destination)
        response = self._client.request("GET", path, timeout=timeout, stream=True)
        return save_response(response, destination, progress=progress, durable=durable)

    def delete_dataset(self, id: IdLike, *, timeout: Optional[Timeout] = None) -> None:  # noqa: A002
        """``DELETE /datasets/{id}``."""
        self._client.request("DELETE", f"datasets/{id_segment(id)}", timeout=timeout)
