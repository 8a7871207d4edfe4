"""The default retry policy object, on whichever urllib3 is installed (1.26 or 2.x)."""

from __future__ import annotations

import urllib3
from urllib3.exceptions import ConnectTimeoutError, ProtocolError

from avatars.session import IDEMPOTENT_METHODS, RETRY_STATUSES, AvatarRetry, default_retry


def _fail(retry, method: str = "GET", error: Exception | None = None):  # type: ignore[no-untyped-def]
    return retry.increment(method=method, url="/api/x", error=error or ConnectTimeoutError("boom"))


def test_backoff_cap_survives_every_attempt() -> None:
    retry = default_retry(total=10, backoff_factor=1.0, backoff_max=1.5)
    for _ in range(6):
        retry = _fail(retry)  # Retry.new() rebuilds the object each time
    assert isinstance(retry, AvatarRetry)
    assert retry.get_backoff_time() == 1.5


def test_retry_after_is_capped() -> None:
    retry = default_retry(max_retry_after=2.0)

    class _Response:
        headers = {"Retry-After": "3600"}

        def getheader(self, name: str) -> str | None:  # urllib3 1.26 reads headers this way
            return self.headers.get(name)

    assert retry.get_retry_after(_Response()) == 2.0  # type: ignore[arg-type]
    again = _fail(retry)
    assert again.get_retry_after(_Response()) == 2.0  # type: ignore[arg-type]


def test_a_post_whose_body_went_out_is_not_retried() -> None:
    retry = default_retry()
    read_error = ProtocolError("Connection aborted.", ConnectionResetError())
    try:
        _fail(retry, "POST", read_error)
    except Exception as exc:  # urllib3 re-raises the error: no retry
        assert isinstance(exc, ProtocolError)
    else:
        raise AssertionError("a POST was allowed a retry after its body went out")
    # the same failure on a GET is retried
    assert _fail(retry, "GET", read_error).total == retry.total - 1


def test_policy_shape() -> None:
    retry = default_retry(total=4)
    assert retry.total == 4 and retry.connect == 4 and retry.status == 4
    assert set(retry.status_forcelist or ()) == set(RETRY_STATUSES)
    assert retry.is_retry("GET", 503) and retry.is_retry("PUT", 502) and retry.is_retry("DELETE", 504)
    assert not retry.is_retry("POST", 503)
    assert not retry.is_retry("GET", 500)
    assert "POST" not in IDEMPOTENT_METHODS
    assert retry.raise_on_status is False
    assert int(urllib3.__version__.split(".")[0]) in (1, 2)
