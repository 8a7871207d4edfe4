"""The platform's endpoints on a ``responses`` mock, for offline unit tests of your code.

:class:`MockedPlatform` registers every endpoint of the wire contract on a
:class:`responses.RequestsMock`, answering with :mod:`avatars.testing.payloads`.
Jobs and their results are kept in small dictionaries, so a test arranges a
situation in one line and checks what the code sent::

    def test_report(avatar_responses):
        avatar_responses.add_job(payloads.job("standard_1", status="running", progress=0.5))
        client = avatar_responses.client()
        assert client.jobs.get_job_status("standard_1").progress == 0.5
        assert avatar_responses.calls("GET", "/jobs/standard_1")

Use :meth:`MockedPlatform.respond` to make one endpoint answer something
else (an error status, a strange body).  Nothing here starts a server or
opens a socket; for tests over real sockets use :class:`LocalAvatarServer`.
Needs ``responses`` (``pip install responses``).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

from . import payloads

if TYPE_CHECKING:  # pragma: no cover
    import responses
    from requests import PreparedRequest

    from ..client import ApiClient

__all__ = ["MockedPlatform", "DEFAULT_BASE_URL", "DEFAULT_API_KEY"]

DEFAULT_BASE_URL = "https://avatar.example.com/api"
DEFAULT_API_KEY = "test-api-key"

_Answer = Tuple[int, Dict[str, str], str]
Body = Union[Dict[str, Any], List[Any], str, None]


def _json(status: int, body: Body) -> _Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


class MockedPlatform:
    """The Avatar API's endpoints, registered on ``mock`` under ``base_url``.

    :ivar jobs: job name -> job payload (what ``GET /jobs`` lists).
    :ivar results: job name -> ``GET /results/{job}`` payload.
    :ivar me: the ``GET /users/me`` payload.
    """

    def __init__(self, mock: responses.RequestsMock, base_url: str = DEFAULT_BASE_URL) -> None:
        self.mock = mock
        self.base_url = base_url.rstrip("/")
        self.jobs: Dict[str, Dict[str, Any]] = {}
        self.results: Dict[str, Dict[str, List[str]]] = {}
        #: parameters document name -> job kind, for ``POST /jobs`` (the mock keeps no resource
        #: sets); the names the platform SDK gives its documents are known, others are ``standard``
        self.parameters_kinds: Dict[str, str] = {
            "standard": "standard",
            "privacy_metrics": "privacy_metrics",
            "signal_metrics": "signal_metrics",
            "report": "report",
            "report_pia": "report",
            "advice": "advice",
            "advice_parameters": "advice",
        }
        self.me: Dict[str, Any] = payloads.me()
        self._counter = itertools.count(1)
        self._overrides: Dict[Tuple[str, str], _Answer] = {}
        self._register()

    # ------------------------------------------------------------------ arranging

    def client(self, **options: Any) -> ApiClient:
        """An :class:`~avatars.ApiClient` on this mock (API key ``test-api-key`` unless
        given); no ``AVATAR_*`` variable of the environment applies."""
        from ..client import ApiClient
        from ..config import ClientConfig

        settings = {k: options.pop(k) for k in ("timeout", "should_verify_ssl") if k in options}
        config = ClientConfig(base_url=self.base_url, api_key=options.pop("api_key", DEFAULT_API_KEY), **settings)
        return ApiClient(config=config, **options)

    def add_job(self, job: Mapping[str, Any], results: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        """Make a job exist (and, when given, its result locations)."""
        name = str(job["name"])
        self.jobs[name] = dict(job)
        if results is not None:
            self.results[name] = payloads.results(results)

    def respond(self, method: str, path: str, body: Body = None, status: int = 200) -> None:
        """Answer ``method path`` (relative to the base URL) with ``body`` and ``status`` from now on."""
        self._overrides[(method.upper(), "/" + path.strip("/"))] = _json(status, body)

    def calls(self, method: str, path: str) -> List[PreparedRequest]:
        """The requests the code sent to ``method path`` (path relative to the base URL, no query)."""
        wanted = self.base_url + "/" + path.strip("/")
        found = []
        for call in self.mock.calls:
            request = call.request
            url = str(request.url or "")
            if request.method == method.upper() and unquote(url.split("?", 1)[0]).rstrip("/") == wanted.rstrip("/"):
                found.append(request)
        return found

    # ------------------------------------------------------------------ registering

    def _register(self) -> None:
        routes: List[Tuple[str, str, Callable[[PreparedRequest, Tuple[str, ...]], _Answer]]] = [
            ("GET", r"/", lambda r, a: _json(200, {"message": "Avatar API (mocked)"})),
            ("GET", r"/health", lambda r, a: _json(200, payloads.health())),
            ("GET", r"/health/db", lambda r, a: _json(200, payloads.health())),
            ("GET", r"/check_client", lambda r, a: _json(200, payloads.compatibility("unknown"))),
            ("POST", r"/login", lambda r, a: _json(200, payloads.login())),
            ("POST", r"/refresh", lambda r, a: _json(200, payloads.login("access-token-2", "refresh-token-2"))),
            ("POST", r"/logout", lambda r, a: _json(200, {})),
            ("GET", r"/users/me", lambda r, a: _json(200, self.me)),
            ("GET", r"/users/credits_info", lambda r, a: _json(200, payloads.credits_info())),
            ("GET", r"/users/features_info", lambda r, a: _json(200, payloads.features_info())),
            ("GET", r"/api-keys", lambda r, a: _json(200, [payloads.api_key()])),
            ("POST", r"/api-keys", lambda r, a: _json(200, payloads.api_key_created())),
            ("GET", r"/jobs", self._list_jobs),
            ("GET", r"/jobs/last_set", self._list_jobs),
            ("POST", r"/jobs", self._create_job),
            ("POST", r"/jobs/bulk-delete", self._bulk_delete),
            # a 2.90 platform: its router has no POST /jobs/flow; the path falls on
            # /jobs/{job_name}, GET and DELETE only (a Runner asks once per client)
            ("POST", r"/jobs/flow", lambda r, a: _json(405, {"detail": "Method Not Allowed"})),
            ("GET", r"/jobs/([^/]+)", self._get_job),
            ("DELETE", r"/jobs/([^/]+)", self._delete_job),
            ("GET", r"/results/([^/]+)", self._get_results),
            ("GET", r"/access", self._access),
            ("POST", r"/access/batch", self._access_batch),
            ("GET", r"/upload_url", lambda r, a: _json(200, f"s3://uploads/{payloads.USER_ID}/")),
        ]
        for method, pattern, handler in routes:
            url = re.compile(re.escape(self.base_url) + pattern + r"/?(\?.*)?$")
            self.mock.add_callback(method, url, callback=self._dispatch(method, pattern, handler))

    def _dispatch(
        self, method: str, pattern: str, handler: Callable[[PreparedRequest, Tuple[str, ...]], _Answer]
    ) -> Callable[[PreparedRequest], _Answer]:
        compiled = re.compile(pattern + "$")

        def callback(request: PreparedRequest) -> _Answer:
            path = unquote(urlsplit(str(request.url)).path)[len(urlsplit(self.base_url).path) :].rstrip("/") or "/"
            override = self._overrides.get((method, path))
            if override is not None:
                return override
            match = compiled.match(path)
            return handler(request, match.groups() if match else ())

        return callback

    # ------------------------------------------------------------------ stateful endpoints

    def _list_jobs(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        query = parse_qs(urlsplit(str(request.url)).query)
        kinds = query.get("kind")
        jobs = [j for j in self.jobs.values() if not kinds or j.get("kind") in kinds]
        return _json(200, payloads.job_list(jobs))

    def _create_job(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        """The platform: the kind is the parameters document's; a 200 ``JobCreateResponse``."""
        body = json.loads(request.body or b"{}")
        parameters_name = str(body.get("parameters_name", "params-1"))
        kind = self.parameters_kinds.get(parameters_name, "standard")
        name = f"{kind}_{next(self._counter)}"
        self.jobs[name] = payloads.job(
            name,
            kind=kind,
            status="queued",
            set_name=str(body.get("set_name", payloads.SET_NAME)),
            parameters_name=parameters_name,
        )
        return _json(200, payloads.job_created(name, base_url=self.base_url))

    def _get_job(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        job = self.jobs.get(args[0])
        if job is None:
            return _json(404, payloads.error("Job not found"))
        return _json(200, job)

    def _delete_job(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        job = self.jobs.pop(args[0], None)
        if job is None:
            return _json(404, payloads.error("Job not found"))
        return _json(200, {**job, "deleted_at": payloads.CREATED_AT})

    def _bulk_delete(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        names = [str(n) for n in json.loads(request.body or b"{}").get("job_names", [])]
        deleted = [n for n in names if self.jobs.pop(n, None) is not None]
        return _json(200, payloads.bulk_delete(deleted, [n for n in names if n not in deleted]))

    def _get_results(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        name = args[0]
        job = self.jobs.get(name)
        if job is None:
            return _json(404, payloads.error("Job not found"))
        if not job.get("done"):
            return _json(409, payloads.error(f"job {name} is not finished"))
        return _json(200, self.results.get(name, {}))

    def _access(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        url = parse_qs(urlsplit(str(request.url)).query).get("url", [""])[0]
        return _json(200, payloads.file_access(url))

    def _access_batch(self, request: PreparedRequest, args: Tuple[str, ...]) -> _Answer:
        urls = json.loads(request.body or b"[]")
        if isinstance(urls, dict):  # also accept {"urls": [...]}
            urls = urls.get("urls", [])
        return _json(200, [payloads.file_access(str(u)) for u in urls])
