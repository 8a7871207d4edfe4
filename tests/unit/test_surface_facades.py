"""The facade methods of contract v2 that are new or changed: job filters, job
flow and cancel (3.x), volumes, admin key revocation, event logs, capabilities,
SSO, and the typed error for an endpoint the connected platform lacks."""

from __future__ import annotations

from typing import Any, Dict
from uuid import uuid4

import pytest
import responses
from responses import matchers

from avatars import (
    ApiClient,
    CapabilitiesResponse,
    ConflictError,
    CreateUser,
    EndpointUnavailableError,
    EventLogResponse,
    JobFlowCreateRequest,
    JobKind,
    JobStatus,
    NotFound,
    RequestValidationError,
)

from . import _payloads as p
from .conftest import AUTH, BASE

ROUTER_404 = {"detail": "Not Found"}


def test_get_jobs_sends_every_filter_the_platform_way(rsps: responses.RequestsMock, client: ApiClient) -> None:
    set_name = uuid4()
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={"jobs": [p.job("a")]},
        match=[
            matchers.query_string_matcher(
                f"kind=standard&kind=report&display_name=My+run&set_name={set_name}&limit=5&include_deleted=true"
            )
        ],
    )
    jobs = client.jobs.get_jobs(
        [JobKind.standard, "report"], display_name="My run", set_name=set_name, limit=5, include_deleted=True
    )
    assert [j.name for j in jobs] == ["a"]
    rsps.add(responses.GET, f"{BASE}/jobs", json={"jobs": []}, match=[matchers.query_string_matcher("kind=advice")])
    assert client.jobs.get_jobs("advice").jobs == []
    rsps.add(
        responses.GET, f"{BASE}/jobs", json={"jobs": []}, match=[matchers.query_string_matcher("include_deleted=false")]
    )
    assert len(client.jobs.get_jobs(include_deleted=False)) == 0


def test_names_filter_is_applied_to_the_answer_too(rsps: responses.RequestsMock, client: ApiClient) -> None:
    """A 2.90 platform ignores ``names=`` and answers every job: the client keeps only the named ones."""
    rsps.add(
        responses.GET,
        f"{BASE}/jobs",
        json={"jobs": [p.job("a"), p.job("b"), p.job("c")]},
        match=[matchers.query_string_matcher("names=c&names=a")],
    )
    assert [j.name for j in client.jobs.get_jobs(names=["c", "a", "c"])] == ["a", "c"]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"kind": ["standard", "standart"]}, "kind"),
        ({"set_name": "set-a"}, "set_name"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"names": "job-a"}, "names"),
        ({"names": [f"j{i}" for i in range(101)]}, "names"),
        ({"display_name": ""}, "display_name"),
    ],
)
def test_get_jobs_bad_filters_send_nothing(
    rsps: responses.RequestsMock, client: ApiClient, kwargs: Dict[str, Any], field: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.jobs.get_jobs(**kwargs)
    assert info.value.field == field
    assert len(rsps.calls) == 0


def test_create_job_flow(rsps: responses.RequestsMock, client: ApiClient) -> None:
    set_name = uuid4()
    rsps.add(
        responses.POST,
        f"{BASE}/jobs/flow",
        json={"jobs": [p.job_created(name="standard_1"), p.job_created(name="advice_1")]},
        match=[matchers.json_params_matcher({"set_name": str(set_name)}, strict_match=True)],
    )
    flow = client.jobs.create_job_flow(set_name)
    assert [j.name for j in flow] == ["standard_1", "advice_1"]
    rsps.add(responses.POST, f"{BASE}/jobs/flow", json={"jobs": []})
    assert len(client.jobs.create_job_flow(JobFlowCreateRequest(str(set_name)))) == 0


def test_3x_endpoints_on_a_290_platform_say_which_version_is_needed(
    rsps: responses.RequestsMock, client: ApiClient
) -> None:
    rsps.add(responses.POST, f"{BASE}/jobs/flow", status=404, json=ROUTER_404)
    rsps.add(responses.POST, f"{BASE}/jobs/j-1/cancel", status=404, json=ROUTER_404)
    rsps.add(responses.GET, f"{BASE}/capabilities", status=404, json=ROUTER_404)
    for call, endpoint in (
        (lambda: client.jobs.create_job_flow(uuid4()), "POST /jobs/flow"),
        (lambda: client.jobs.cancel_job("j-1"), "POST /jobs/{job_name}/cancel"),
        (lambda: client.capabilities.get_capabilities(), "GET /capabilities"),
    ):
        with pytest.raises(EndpointUnavailableError) as info:
            call()
        assert isinstance(info.value, NotFound) and info.value.status_code == 404
        assert info.value.required_api == ">= 3.0" and info.value.endpoint == endpoint
        assert "needs platform API >= 3.0" in str(info.value)


def test_a_404_about_a_resource_stays_not_found(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.POST, f"{BASE}/jobs/j-1/cancel", status=404, json={"detail": "Job not found"})
    with pytest.raises(NotFound) as info:
        client.jobs.cancel_job("j-1")
    assert not isinstance(info.value, EndpointUnavailableError)
    rsps.add(responses.POST, f"{BASE}/jobs/j-2/cancel", status=409, json={"detail": {"message": "already over"}})
    with pytest.raises(ConflictError):
        client.jobs.cancel_job("j-2")


def test_2x_endpoints_on_a_3x_platform(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login", status=404, json=ROUTER_404)
    rsps.add(responses.POST, f"{BASE}/users", status=405, json={"detail": "Method Not Allowed"})
    with ApiClient(BASE) as anonymous:
        with pytest.raises(EndpointUnavailableError) as info:
            anonymous.authenticate("ada@example.com", "real-password")
        assert "API keys only" in str(info.value) and "real-password" not in str(info.value)
        assert info.value.required_api.startswith("2.x")
    with ApiClient(BASE, api_key="key-1") as client:
        with pytest.raises(EndpointUnavailableError) as created:
            client.users.create_user(CreateUser("bob@example.com"))
        assert created.value.status_code == 405 and "POST /users" in str(created.value)


def test_revoke_api_key_admin(rsps: responses.RequestsMock, client: ApiClient) -> None:
    user_id, key_id = uuid4(), uuid4()
    rsps.add(
        responses.DELETE,
        f"{BASE}/api-keys/admin",
        status=204,
        match=[matchers.query_string_matcher(f"user_id={user_id}"), matchers.header_matcher(AUTH)],
    )
    rsps.add(
        responses.DELETE,
        f"{BASE}/api-keys/admin",
        status=204,
        match=[matchers.query_string_matcher(f"api_key_id={key_id}")],
    )
    assert client.api_keys.revoke_api_key_admin(user_id=user_id) is None
    assert client.api_keys.revoke_api_key_admin(api_key_id=str(key_id)) is None
    for kwargs in ({}, {"user_id": user_id, "api_key_id": key_id}, {"user_id": "nobody"}):
        with pytest.raises(RequestValidationError):
            client.api_keys.revoke_api_key_admin(**kwargs)  # type: ignore[arg-type]
    assert len(rsps.calls) == 2


def test_get_user_volume(rsps: responses.RequestsMock, client: ApiClient) -> None:
    set_name = uuid4()
    text = "kind: AvatarVolume\nmetadata:\n  name: in\nspec:\n  url: s3://bucket/x/\n"
    rsps.add(
        responses.GET,
        f"{BASE}/resources/volume",
        body=text,
        content_type="text/plain; charset=utf-8",
        match=[matchers.query_string_matcher(f"volume_name=in&purpose=input&set_name={set_name}")],
    )
    assert client.resources.get_user_volume("in", "input", set_name=set_name) == text
    with pytest.raises(RequestValidationError) as info:
        client.resources.get_user_volume("in", "output", set_name=set_name)
    assert info.value.field == "purpose"
    assert len(rsps.calls) == 1


def test_event_logs_and_filters(rsps: responses.RequestsMock, client: ApiClient) -> None:
    event = {"id": str(uuid4()), "verb": "create", "object_type": "job", "created_at": "2026-11-27T10:00:00+00:00"}
    rsps.add(responses.GET, f"{BASE}/event-logs", json=[event, {**event, "object_id": str(uuid4()), "new": 1}])
    events = client.event_logs.list_my_event_logs()
    assert all(isinstance(e, EventLogResponse) for e in events) and events[0].object_id is None
    rsps.add(
        responses.GET,
        f"{BASE}/event-logs",
        json=[],
        match=[matchers.query_string_matcher("verb=create&verb=delete&object_type=job&limit=10&starting_after=e1")],
    )
    assert client.event_logs.list_my_event_logs(["create", "delete"], "job", starting_after="e1", limit=10) == []
    with pytest.raises(RequestValidationError):
        client.event_logs.list_my_event_logs(limit=0)


def test_capabilities(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.GET,
        f"{BASE}/capabilities",
        json={"input_protocols": ["s3", "postgres"], "database_engines": ["postgres"], "connections": []},
    )
    caps = client.capabilities.get_capabilities()
    assert isinstance(caps, CapabilitiesResponse) and caps.input_protocols == ["s3", "postgres"]


def test_sso_calls_send_no_credentials(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/login/sso", json={"url": "https://idp.example/authorize"})
    rsps.add(responses.GET, f"{BASE}/login/sso/auth", body="<html>ok</html>", content_type="text/html")
    assert client.auth.get_authorization_code() == {"url": "https://idp.example/authorize"}
    assert client.auth.auth() == "<html>ok</html>"
    assert all("Authorization" not in call.request.headers for call in rsps.calls)


def test_3x_job_statuses_kinds_and_fields_load(rsps: responses.RequestsMock, client: ApiClient) -> None:
    body = p.job("j", status="cancelled", kind="regenerate", phase="cancelling", phase_done=1, phase_total=3)
    rsps.add(responses.GET, f"{BASE}/jobs/j", json=body)
    job = client.jobs.get_job_status("j")
    assert job.status is JobStatus.cancelled and job.failed and job.is_terminal
    assert job.kind is JobKind.regenerate
