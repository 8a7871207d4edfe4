"""``Manager``: the entry point of the everyday flow.

For everyday avatarization, a Manager and a :class:`~avatars.Runner` usually
suffice::

    from avatars import Manager

    with Manager("https://avatar.example.com/api") as manager:
        manager.authenticate("alice@example.com", password)
        runner = manager.create_runner("my-study")
        ...

The underlying :class:`~avatars.ApiClient` stays reachable as
``manager.auth_client`` (also ``manager.client``) for anything else.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Iterable, List, Optional, Type, Union

import requests

from .client import ApiClient
from .config import ClientConfig, Timeout
from .errors import RequestValidationError
from .models import BulkDeleteResponse, HealthMessage, JobResponse
from .progress import ProgressOption
from .runner import Runner

__all__ = ["Manager"]


class Manager:
    """Authenticate, create runners, and look after jobs.

    :param base_url: the API URL (``.../api``).  Values not given (and no
        ``config``) come from the ``AVATAR_*`` variables, as for :class:`ApiClient`.
    :param api_key: authenticate with an API key instead of :meth:`authenticate`.
    :param config: a :class:`ClientConfig`.
    :param http_client: your own configured :class:`requests.Session`.
    :param progress: the default ``progress=`` of the runners it creates.
    :param client_options: passed to :class:`ApiClient` (``timeout``,
        ``should_verify_ssl``, ``total_timeout``, ``rate_limit_wait``...).
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        api_key: Optional[str] = None,
        config: Optional[ClientConfig] = None,
        http_client: Optional[requests.Session] = None,
        progress: ProgressOption = True,
        **client_options: Any,
    ) -> None:
        # ApiClient applies the configuration rule (argument, else AVATAR_*).
        self.auth_client = ApiClient(
            base_url, api_key=api_key, config=config, http_client=http_client, **client_options
        )
        self.progress = progress

    @property
    def client(self) -> ApiClient:
        """The underlying :class:`ApiClient`."""
        return self.auth_client

    def authenticate(
        self, username: Optional[str] = None, password: Optional[str] = None, timeout: Optional[Timeout] = None
    ) -> None:
        """Log in with username and password, by default ``AVATAR_USERNAME`` and
        ``AVATAR_PASSWORD`` (see :meth:`ApiClient.authenticate`)."""
        self.auth_client.authenticate(username, password, timeout=timeout)

    def create_runner(self, set_name: str, *, progress: Optional[ProgressOption] = None) -> Runner:
        """A new :class:`Runner` whose resource set is called ``set_name``."""
        return Runner(self.auth_client, set_name, progress=self.progress if progress is None else progress)

    def get_last_jobs(self, count: int = 10) -> List[JobResponse]:
        """The ``count`` most recent jobs, newest first."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise RequestValidationError(f"count must be a positive integer, got {count!r}", field="count")
        jobs = list(self.auth_client.jobs.get_jobs().jobs)
        jobs.sort(key=lambda job: job.created_at, reverse=True)
        return jobs[:count]

    def delete_jobs(self, names: Union[str, Iterable[str]]) -> BulkDeleteResponse:
        """Delete jobs by name (at most 100 per call, as the API allows)."""
        job_names = [names] if isinstance(names, str) else list(names)
        return self.auth_client.jobs.bulk_delete_jobs(job_names)

    def get_health(self) -> HealthMessage:
        """``GET /health``."""
        return self.auth_client.health.get_health()

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
