"""The shared surface as platform API 3.x answers it (SDK 1.30's models), next to 2.90's."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from avatars.testing import LocalAvatarServer

from .conftest import create_job, key_session, make_set, people_csv, upload


@pytest.fixture(params=[2, 3], ids=["2.90", "3.x"])
def world(request: pytest.FixtureRequest) -> Iterator[Tuple[LocalAvatarServer, requests.Session]]:
    with LocalAvatarServer(api_version=request.param, job_step_seconds=0.01, job_steps=2) as srv:
        user = srv.admin.create_user("dana@example.com", "pw")
        session = key_session(srv.admin.create_api_key(user))
        yield srv, session
        session.close()


def three_jobs(srv: LocalAvatarServer, http: requests.Session) -> List[str]:
    set_name = make_set(http, srv, upload(http, srv, people_csv(30))["id"])
    return [create_job(http, srv, set_name, kind) for kind in ("standard", "advice", "standard")]


def test_jobs_order_and_limit(world: Tuple[LocalAvatarServer, requests.Session]) -> None:
    srv, http = world
    first, second, third = three_jobs(srv, http)
    listed = [j["name"] for j in http.get(srv.url("/jobs")).json()["jobs"]]
    newest = [j["name"] for j in http.get(srv.url("/jobs"), params={"limit": 2}).json()["jobs"]]
    if srv.api_version == 3:  # SDK 1.30: newest first; the limit keeps the newest
        assert listed == [third, second, first]
        assert newest == [third, second]
    else:
        assert listed == [first, second, third]
        assert newest == [second, third]
    only = http.get(srv.url("/jobs"), params={"kind": "standard", "limit": 1}).json()["jobs"]
    assert [j["name"] for j in only] == [third]


def test_job_phase_fields_on_3x_only(world: Tuple[LocalAvatarServer, requests.Session]) -> None:
    srv, http = world
    name = three_jobs(srv, http)[0]
    job = http.get(srv.url(f"/jobs/{name}")).json()
    listed = http.get(srv.url("/jobs")).json()["jobs"][0]
    for body in (job, listed):
        if srv.api_version == 3:
            assert (body["phase"], body["phase_done"], body["phase_total"]) == ("", 0, 0)
        else:
            assert "phase" not in body and "phase_total" not in body


def test_event_log_filters(srv3: LocalAvatarServer) -> None:
    user = srv3.admin.create_user("erin@example.com", "pw")
    http = key_session(srv3.admin.create_api_key(user))
    names = three_jobs(srv3, http)
    key = http.post(srv3.url("/api-keys"), json={"name": "k", "expiration_days": 30}).json()["api_key"]
    http.delete(srv3.url(f"/jobs/{names[0]}"))
    everything = http.get(srv3.url("/event-logs")).json()

    def ask(**params: Any) -> List[Dict[str, Any]]:
        response = http.get(srv3.url("/event-logs"), params=params)
        assert response.status_code == 200, response.text
        body: List[Dict[str, Any]] = response.json()
        return body

    assert {e["object_type"] for e in ask(object_type="api_key")} == {"api_key"}
    assert [e["object_id"] for e in ask(object_type="api_key")] == [key["id"]]
    assert {e["verb"] for e in ask(verb=["create", "delete"])} <= {"create", "delete"}
    assert ask(verb="test") == []
    both = ask(object_type=["job", "api_key"], verb="create")
    assert {e["object_type"] for e in both} == {"job", "api_key"} and {e["verb"] for e in both} == {"create"}
    # the time window, at the precision the client sees (microseconds)
    oldest, newest = everything[-1]["created_at"], everything[0]["created_at"]
    assert ask(created_before=oldest) == []
    assert ask(created_from=newest) == [e for e in everything if e["created_at"] >= newest]
    middle = everything[len(everything) // 2]["created_at"]
    assert ask(created_before=middle) == [e for e in everything if e["created_at"] < middle] != []
    assert len(ask(created_from=oldest)) == len(everything)
    later = (dt.datetime.fromisoformat(newest) + dt.timedelta(seconds=1)).isoformat()
    assert ask(created_from=later) == []
    # pages
    page = ask(limit=2)
    assert page == everything[:2]
    assert ask(limit=2, starting_after=page[-1]["id"]) == everything[2:4]


@pytest.mark.parametrize(
    "params, name",
    [
        ({"verb": "shout"}, "verb"),
        ({"object_type": "planet"}, "object_type"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_before": "2026-13-40"}, "created_before"),
        ({"limit": "many"}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_event_log_filters_refuse_bad_values(srv3: LocalAvatarServer, params: Dict[str, str], name: str) -> None:
    user = srv3.admin.create_user("finn@example.com", "pw")
    http = key_session(srv3.admin.create_api_key(user))
    response = http.get(srv3.url("/event-logs"), params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_event_log_filters_are_3x_only() -> None:
    with LocalAvatarServer(api_version=2) as srv:
        user = srv.admin.create_user("gus@example.com", "pw")
        http = key_session(srv.admin.create_api_key(user))
        http.post(srv.url("/api-keys"), json={"name": "k", "expiration_days": 30})
        assert len(http.get(srv.url("/event-logs"), params={"verb": "shout", "limit": "0"}).json()) == 1


def test_openapi_lists_each_versions_paths(world: Tuple[LocalAvatarServer, requests.Session]) -> None:
    srv, _ = world
    document = requests.get(srv.url("/openapi.json")).json()
    paths = document["paths"]
    three = {
        "/capabilities",
        "/connections",
        "/connections/engines",
        "/connections/presets",
        "/connections/test",
        "/connections/{name}",
        "/connections/{name}/test",
        "/connections/{name}/sample",
    }
    if srv.api_version == 3:
        assert three <= set(paths)
        assert "/login" not in paths and "post" not in paths["/users"]
        assert set(paths["/connections/{name}"]) == {"put", "patch", "delete"}
        schemas = document["components"]["schemas"]
        assert "dsn" not in schemas["ConnectionSummary"]["properties"]
        assert schemas["ConnectionDraft"]["properties"]["dsn"]["writeOnly"] is True
        assert schemas["CapabilitiesResponse"]["properties"]["connections"]["items"] == {
            "$ref": "#/components/schemas/DatabaseConnectionSummary"
        }
    else:
        assert not three & set(paths)
        assert "/login" in paths


def test_3x_job_kinds_are_valid_filters(world: Tuple[LocalAvatarServer, requests.Session]) -> None:
    srv, http = world
    three_jobs(srv, http)
    response = http.get(srv.url("/jobs"), params={"kind": ["extract", "standard"]})
    if srv.api_version == 3:
        assert response.status_code == 200
        assert {j["kind"] for j in response.json()["jobs"]} == {"standard"}
        assert http.get(srv.url("/jobs"), params={"kind": "regenerate"}).json() == {"jobs": []}
    else:
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "kind"]
    assert http.get(srv.url("/jobs"), params={"kind": "nonsense"}).status_code == 422


def test_me_environment_license_type_on_3x(world: Tuple[LocalAvatarServer, requests.Session]) -> None:
    srv, http = world
    environment = http.get(srv.url("/users/me")).json()["environment"]
    assert ("license_type" in environment) == (srv.api_version == 3)
    assert environment.get("license_type") is None
