"""avatars._created with ``responses``: 201 + Location is polled while it answers 202."""

from __future__ import annotations

import pytest
import responses

from avatars import ApiClient, ApiTimeoutError, ServerError, _created

from . import _payloads as p
from .conftest import AUTH, BASE


def test_relative_location_is_polled_with_credentials(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/users/me", status=201, headers={"Location": "/api/ops/1"}, json={})
    rsps.add(responses.GET, "https://avatar.test/api/ops/1", status=202, headers={"Retry-After": "0"}, json={})
    rsps.add(responses.GET, "https://avatar.test/api/ops/1", json=p.me())
    assert client.users.get_me().email == p.me()["email"]
    assert [c.request.url for c in rsps.calls][1:] == ["https://avatar.test/api/ops/1"] * 2
    assert all(c.request.headers["Authorization"] == AUTH["Authorization"] for c in rsps.calls)
    assert rsps.calls[0].request.headers["Avatars-Accept-Created"] == "yes"


def test_other_origin_gets_no_credentials_nor_body(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.POST, f"{BASE}/api-keys", status=201, headers={"Location": "https://ops.example/o/7"})
    rsps.add(responses.GET, "https://ops.example/o/7", json=p.api_key_created())
    created = client.api_keys.create_api_key("k", 30)
    assert created.api_key.plaintext
    poll = rsps.calls[1].request
    assert "Authorization" not in poll.headers and poll.body is None and poll.method == "GET"


def test_a_201_without_location_is_the_answer(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.POST, f"{BASE}/api-keys", status=201, json=p.api_key_created())
    assert client.api_keys.create_api_key("k", 30).api_key.name
    assert len(rsps.calls) == 1


def test_the_final_answer_may_be_an_error(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/users/me", status=201, headers={"Location": f"{BASE}/ops/2"})
    rsps.add(responses.GET, f"{BASE}/ops/2", status=500, json={"detail": "the operation failed"})
    with pytest.raises(ServerError) as info:
        client.users.get_me()
    assert "the operation failed" in str(info.value)


def test_polls_are_bounded_without_a_budget(
    rsps: responses.RequestsMock, client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_created, "MAX_POLLS", 3)
    rsps.add(responses.GET, f"{BASE}/users/me", status=201, headers={"Location": f"{BASE}/ops/3"})
    rsps.add(responses.GET, f"{BASE}/ops/3", status=202, headers={"Retry-After": "0"})
    with pytest.raises(ApiTimeoutError) as info:
        client.users.get_me()
    assert "after 3 polls" in str(info.value)
    assert len(rsps.calls) == 4


def test_retry_after_is_read_and_bounded() -> None:
    import requests

    response = requests.Response()
    for raw, expected in (("2", 2.0), ("0", 0.0), ("soon", _created.POLL_INTERVAL), ("99999", _created.POLL_INTERVAL)):
        response.headers["Retry-After"] = raw
        assert _created._retry_after(response) == expected


def test_other_origins_are_not_offered_the_protocol(rsps: responses.RequestsMock, client: ApiClient) -> None:
    """A storage or result URL on another origin: no header, and its 201 + Location is the answer."""
    rsps.add(responses.POST, "https://store.example/bucket/obj", status=201, headers={"Location": "/bucket/obj"})
    response = client.request("POST", "https://store.example/bucket/obj", data=b"x")
    assert response.status_code == 201 and len(rsps.calls) == 1
    assert "Avatars-Accept-Created" not in rsps.calls[0].request.headers
    assert "Authorization" not in rsps.calls[0].request.headers
