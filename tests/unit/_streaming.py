"""A test transport that consumes request bodies the way urllib3 does, without keeping them.

``responses`` buffers a file-like request body whole (its ``_read_filelike_body``
calls ``body.read()`` without a size, so that the call list can show the
bytes) and never iterates a generator body.  Memory use and chunked reading of
uploads are therefore measured with this adapter instead: it reads a
file-like body with ``read(16384)`` (urllib3's block size) and iterates any
other stream, keeping only a SHA-256 and a byte count, then answers with
whatever the handler returns.  It is mounted on an injected session, so the
request goes through the real ``ApiClient`` -> ``requests`` -> auth path.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
import urllib3
from requests.adapters import HTTPAdapter

BLOCK_SIZE = 16384


@dataclass
class Received:
    method: str
    url: str
    headers: Dict[str, str]
    size: int
    sha256: str


Handler = Callable[[Received], Tuple[int, Dict[str, str], Any]]


class StreamingAdapter(HTTPAdapter):
    def __init__(self, handler: Handler) -> None:
        super().__init__(max_retries=0)
        self.handler = handler
        self.received: List[Received] = []

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        digest = hashlib.sha256()
        size = 0
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, bytes):
            digest.update(body)
            size = len(body)
        elif body is not None and hasattr(body, "read"):
            while True:
                chunk = body.read(BLOCK_SIZE)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
        elif body is not None:
            for chunk in body:
                digest.update(chunk)
                size += len(chunk)
        received = Received(request.method or "", request.url or "", dict(request.headers), size, digest.hexdigest())
        self.received.append(received)
        status, headers, payload = self.handler(received)
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
            headers = {"Content-Type": "application/json", **headers}
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(payload),
            headers=headers,
            status=status,
            preload_content=False,
            request_method=request.method,
        )
        return self.build_response(request, raw)


def session_with(adapter: StreamingAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
