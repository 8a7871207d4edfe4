"""The platform's created-operation protocol, for any call.

The platform's own client sends ``Avatars-Accept-Created: yes`` on every
request; ours sends it (:data:`REQUEST_HEADERS`, added by
:meth:`avatars.ApiClient.request`) on every request to the API's origin only
(not to the object store, whose ``201`` answers mean something else).  A
server that accepts work it has not finished answers ``201`` with a
``Location`` header; the client then GETs that location until the answer is
no longer ``202``, and that last answer is the result of the original call.

:func:`follow` is called once by :meth:`avatars.ApiClient.request` with the
first answer.  The polls go through the same road as every call
(``ApiClient._send``: the session, its proxies, retry adapters, TLS settings,
the call's time budget), with these rules of our own:

* a ``Location`` on the API's origin gets the call's credentials; one on any
  other origin gets none (no ``Authorization``, and the session's auth is
  bypassed), and neither gets the original body;
* the polls share the original call's total time budget (``total_timeout``);
  without one, polling stops after :data:`MAX_POLLS` answers;
* the wait between polls is the ``Retry-After`` of the ``202`` (seconds),
  else :data:`POLL_INTERVAL`, never more than the time left.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Dict
from urllib.parse import urljoin

import requests

from ._urls import origin_of, same_origin
from .auth import NoAuth
from .errors import ApiTimeoutError, redact_url

if TYPE_CHECKING:  # pragma: no cover
    from ._deadline import Deadline
    from .client import ApiClient

logger = logging.getLogger(__name__)

#: Sent on every request, as the platform's own client does.
ACCEPT_CREATED_HEADER = "Avatars-Accept-Created"
REQUEST_HEADERS: Dict[str, str] = {ACCEPT_CREATED_HEADER: "yes"}
#: Seconds between polls when a ``202`` has no ``Retry-After``.
POLL_INTERVAL = 0.5
#: Without a total time budget, give up after this many polls.
MAX_POLLS = 600

__all__ = ["ACCEPT_CREATED_HEADER", "REQUEST_HEADERS", "follow"]


def _retry_after(response: requests.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        value = float(raw)
    except ValueError:
        return POLL_INTERVAL
    return value if 0 <= value < 3600 else POLL_INTERVAL


def follow(
    client: ApiClient,
    method: str,
    response: requests.Response,
    kwargs: Dict[str, Any],
    *,
    stream: bool,
    deadline: Deadline,
    keep_for_body: bool,
) -> requests.Response:
    """The final answer of a call whose first answer is ``response`` (itself unless it is 201 + Location)."""
    if response.status_code != 201:
        return response
    location = response.headers.get("Location")
    if not location:
        return response
    sent = response.request.headers.get(ACCEPT_CREATED_HEADER) if response.request is not None else None
    if sent != "yes":
        return response  # we did not offer the protocol (another origin): a 201 is just a 201
    poll_url = urljoin(response.url or client.base_url, location)
    if origin_of(poll_url) is None:
        return response  # not a URL we can poll (e.g. a custom scheme): keep the 201 as the answer
    response.close()
    poll_kwargs: Dict[str, Any] = {
        key: value for key, value in kwargs.items() if key not in ("data", "json", "params", "files")
    }
    if not same_origin(poll_url, origin_of(client.base_url)):
        poll_kwargs["auth"] = NoAuth()
        headers = {k: v for k, v in dict(poll_kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
        poll_kwargs["headers"] = headers
    logger.debug("%s %s: accepted (201), polling %s", method, redact_url(response.url), redact_url(poll_url))
    polls = 0
    while True:
        if deadline.remaining() <= 0:
            raise ApiTimeoutError(
                f"the operation accepted by {method} was still pending at {redact_url(poll_url)} "
                f"when the call's time budget ({deadline.seconds:g} s) ran out",
                method="GET",
                url=poll_url,
            )
        polled = client._send(
            "GET", poll_url, poll_kwargs, stream=stream, deadline=deadline, keep_for_body=keep_for_body
        )
        polls += 1
        if polled.status_code != 202:
            return polled
        wait = _retry_after(polled)
        polled.close()
        if polls >= MAX_POLLS:
            raise ApiTimeoutError(
                f"the operation accepted by {method} was still pending after {polls} polls of {redact_url(poll_url)}",
                method="GET",
                url=poll_url,
            )
        wait = min(wait, deadline.remaining())
        if wait > 0:
            time.sleep(wait)
