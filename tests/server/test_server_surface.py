"""Contract v2 semantics of the local server: versioned resource sets, job kind
from the parameters document, ``depends_on`` by name or Location, real job
filters, the endpoints that used to be swallowed, event logs, and 3.x mode."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests
import yaml

from avatars.testing import LocalAvatarServer
from avatars.testing.resource_sets import PARAMETERS_KINDS

from .conftest import key_session

YAML = {"Content-Type": "application/yaml"}


#: the smallest valid ``spec`` of each parameters kind (the fields the platform's models require)
SPECS: Dict[str, Dict[str, Any]] = {
    "AvatarParameters": {"schema": "schema", "avatarization": {"t": {"k": 2}}},
    "AvatarPrivacyMetricsParameters": {"schema": "schema", "avatarization_ref": "standard"},
    "AvatarSignalMetricsParameters": {"schema": "schema", "avatarization_ref": "standard"},
    "AvatarReportParameters": {"report_type": "basic"},
    "AvatarAdviceParameters": {"schema": "schema", "advice": {"advisor_type": ["parameters"]}},
}


def documents(*parameters: str, prefix: str = "") -> str:
    """A platform-style multi-document set: metadata, a schema, and one document per ``kind:name``."""
    table = {"name": "t", "data": {"volume": "input", "file": "t.csv"}, "columns": [{"field": "a"}]}
    docs: List[Dict[str, Any]] = [
        {"kind": "AvatarMetadata", "metadata": {"name": "avatar-metadata"}, "spec": {"display_name": "x"}},
        {"kind": "AvatarSchema", "metadata": {"name": prefix + "schema"}, "spec": {"tables": [table]}},
    ]
    for item in parameters:
        kind, name = item.split(":")
        docs.append({"kind": kind, "metadata": {"name": name}, "spec": SPECS[kind]})
    return yaml.safe_dump_all(docs, sort_keys=False)


FULL = documents(
    "AvatarParameters:standard",
    "AvatarPrivacyMetricsParameters:privacy_metrics",
    "AvatarSignalMetricsParameters:signal_metrics",
    "AvatarReportParameters:report",
    "AvatarAdviceParameters:advice",
)


@pytest.fixture
def put_set(http: requests.Session, srv: LocalAvatarServer) -> Any:
    def put(display_name: str = "people", text: str = FULL) -> str:
        response = http.put(srv.url(f"/resources/{display_name}"), data=text, headers=YAML)
        assert response.status_code == 200, response.text
        assert response.json()["display_name"] == display_name
        name: str = response.json()["set_name"]
        return name

    return put


def post_job(http: requests.Session, srv: LocalAvatarServer, set_name: str, params: str, *deps: str) -> Dict[str, Any]:
    response = http.post(
        srv.url("/jobs"), json={"set_name": set_name, "parameters_name": params, "depends_on": list(deps)}
    )
    assert response.status_code == 200, response.text
    body: Dict[str, Any] = response.json()
    return body


def names(http: requests.Session, srv: LocalAvatarServer, **query: Any) -> List[str]:
    response = http.get(srv.url("/jobs"), params=query)
    assert response.status_code == 200, response.text
    return [j["name"] for j in response.json()["jobs"]]


def test_put_creates_a_new_version_each_time(http: requests.Session, srv: LocalAvatarServer, put_set: Any) -> None:
    first = put_set("people", documents("AvatarParameters:a"))
    second = put_set("people", documents("AvatarParameters:b"))
    assert first != second
    assert "name: a" in http.get(srv.url(f"/resources/{first}")).text  # the first set is unchanged
    assert "name: b" in http.get(srv.url(f"/resources/{second}")).text
    job = post_job(http, srv, first, "a")
    assert job["name"].startswith("standard_")
    # a parameters name of the other version is unknown in this one
    wrong = http.post(srv.url("/jobs"), json={"set_name": first, "parameters_name": "b"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "parameters_name"]


def test_post_appends_to_an_existing_set_and_404s_an_unknown_one(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any
) -> None:
    set_name = put_set("people", documents("AvatarParameters:a"))
    added = http.post(
        srv.url(f"/resources/{set_name}"), data=documents("AvatarAdviceParameters:adv", prefix="2-"), headers=YAML
    )
    assert added.status_code == 200 and added.json() == {"set_name": set_name, "display_name": "people"}
    text = http.get(srv.url(f"/resources/{set_name}")).text
    kinds = [d["kind"] for d in yaml.safe_load_all(text)]
    assert kinds.count("AvatarParameters") == 1 and kinds.count("AvatarAdviceParameters") == 1
    assert post_job(http, srv, set_name, "adv")["name"].startswith("advice_")
    assert post_job(http, srv, set_name, "a")["name"].startswith("standard_")
    unknown = http.post(srv.url(f"/resources/{uuid.uuid4()}"), data=FULL, headers=YAML)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Resource set not found"}
    assert http.get(srv.url(f"/resources/{uuid.uuid4()}")).status_code == 404


@pytest.mark.parametrize(
    "text, loc",
    [
        ("kind: [unclosed\n", ["body"]),
        ("just a string", ["body", 0]),
        ("kind: AvatarParameters\nmetadata: {}\nspec: {schema: s}\n", ["body", 0, "metadata", "name"]),
        ("metadata: {name: x}\n", ["body", 0, "kind"]),
        ("kind: AvatarNothing\nmetadata: {name: x}\n", ["body", 0, "kind"]),
        ("---\nkind: AvatarSchema\nmetadata: {name: s}\nspec: {tables: []}\n---\n- a list\n", ["body", 1]),
        # the platform's models require these fields, and check values
        ("kind: AvatarParameters\nmetadata: {name: p}\nspec: {}\n", ["body", 0, "spec", "schema"]),
        ("kind: AvatarSchema\nmetadata: {name: s}\n", ["body", 0, "spec", "tables"]),
        (
            "kind: AvatarParameters\nmetadata: {name: p}\nspec: {schema: s, avatarization: {t: {k: 0}}}\n",
            ["body", 0, "spec", "avatarization", "t", "k"],
        ),
        ("kind: AvatarAdviceParameters\nmetadata: {name: a}\nspec: {schema: s}\n", ["body", 0, "spec", "advice"]),
        ("[" * 5000, ["body"]),
        ("", ["body"]),
        (json.dumps({"tables": [{"name": "t"}], "parameters": []}), ["body", "tables", 0, "dataset_id"]),
    ],
)
def test_malformed_documents_are_422_envelopes(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any, text: str, loc: List[Any]
) -> None:
    response = http.put(srv.url("/resources/bad"), data=text.encode("utf-8"), headers=YAML)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert item["loc"][: len(loc)] == loc and item["msg"] and item["type"]
    good = put_set("good")
    appended = http.post(srv.url(f"/resources/{good}"), data=text.encode("utf-8"), headers=YAML)
    assert appended.status_code == 422
    assert http.put(srv.url("/resources/bad"), data=b"\xff\xfe", headers=YAML).status_code == 422


def test_job_kind_comes_from_the_parameters_document(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any
) -> None:
    set_name = put_set()
    kinds = {}
    for params in ("standard", "privacy_metrics", "signal_metrics", "report", "advice"):
        created = post_job(http, srv, set_name, params)
        assert set(created) == {"name", "Location"}
        kinds[params] = http.get(srv.url(f"/jobs/{created['name']}")).json()["kind"]
    assert kinds == {k: k for k in kinds}


def test_depends_on_by_name_or_location_and_bad_references(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any
) -> None:
    set_name = put_set()
    standard = post_job(http, srv, set_name, "standard")
    assert standard["Location"] == srv.url(f"/jobs/{standard['name']}")
    by_location = post_job(http, srv, set_name, "privacy_metrics", standard["Location"])
    relative = post_job(http, srv, set_name, "signal_metrics", f"/jobs/{standard['name']}")
    by_name = post_job(http, srv, set_name, "report", by_location["name"], relative["name"])
    job = http.get(srv.url(f"/jobs/{by_name['name']}")).json()
    assert job["depends_on"] == [by_location["name"], relative["name"]]
    assert http.get(srv.url(f"/jobs/{by_location['name']}")).json()["depends_on"] == [standard["name"]]
    for bad in (["nope"], [srv.url("/jobs/nope")], [""], [1]):
        response = http.post(
            srv.url("/jobs"), json={"set_name": set_name, "parameters_name": "report", "depends_on": bad}
        )
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"][:2] == ["body", "depends_on"]
    # a deleted parent cannot be depended on
    http.delete(srv.url(f"/jobs/{standard['name']}"))
    gone = {"set_name": set_name, "parameters_name": "report", "depends_on": [standard["Location"]]}
    assert http.post(srv.url("/jobs"), json=gone).status_code == 422


def test_job_filters_are_real_and_combine(http: requests.Session, srv: LocalAvatarServer, put_set: Any) -> None:
    a = put_set("A")
    b = put_set("B")
    a_std = post_job(http, srv, a, "standard")["name"]
    a_adv = post_job(http, srv, a, "advice")["name"]
    b_std = post_job(http, srv, b, "standard")["name"]
    b_rep = post_job(http, srv, b, "report")["name"]
    assert names(http, srv, set_name=a) == [a_std, a_adv]
    assert names(http, srv, set_name=b.upper()) == [b_std, b_rep]
    assert names(http, srv, display_name="B") == [b_std, b_rep]
    assert names(http, srv, kind=["standard", "report"]) == [a_std, b_std, b_rep]
    assert names(http, srv, kind=["standard", "report"], set_name=a) == [a_std]
    assert names(http, srv, kind="advice", display_name="B") == []
    assert names(http, srv, limit=2) == [b_std, b_rep]  # the most recent ones
    assert names(http, srv, limit=1, set_name=a) == [a_adv]
    assert names(http, srv, limit=0) == []
    http.delete(srv.url(f"/jobs/{a_std}"))
    assert names(http, srv, set_name=a) == [a_adv]
    assert names(http, srv, set_name=a, include_deleted="true") == [a_std, a_adv]
    assert names(http, srv, set_name=a, include_deleted="false") == [a_adv]
    # names= is a 3.x filter: a 2.90 platform does not know it
    assert names(http, srv, names=a_adv) == [a_adv, b_std, b_rep]
    for bad in ({"kind": "nope"}, {"set_name": "x"}, {"limit": "-1"}, {"limit": "ten"}, {"include_deleted": "maybe"}):
        response = http.get(srv.url("/jobs"), params=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", next(iter(bad))]


def test_fixed_paths_are_not_swallowed_by_variable_segments(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any
) -> None:
    set_name = put_set("vol")
    for purpose in ("input", "results"):
        response = http.get(
            srv.url("/resources/volume"), params={"volume_name": "v", "purpose": purpose, "set_name": set_name}
        )
        assert response.status_code == 200, response.text
        volume = yaml.safe_load(response.text)
        assert volume["kind"] == "AvatarVolume" and volume["metadata"] == {"name": "v"}
        assert volume["spec"]["url"].startswith(srv.storage_base_url)
    by_display = http.get(
        srv.url("/resources/volume"), params={"volume_name": "v", "purpose": "input", "display_name": "vol"}
    )
    assert by_display.status_code == 200
    for query in (
        {"purpose": "input", "set_name": set_name},
        {"volume_name": "v", "purpose": "x", "set_name": set_name},
    ):
        assert http.get(srv.url("/resources/volume"), params=query).status_code == 422
    missing = {"volume_name": "v", "purpose": "input", "set_name": str(uuid.uuid4())}
    assert http.get(srv.url("/resources/volume"), params=missing).status_code == 404


def test_revoke_api_key_admin(srv: LocalAvatarServer) -> None:
    admin = srv.admin.create_user("root@example.com", "pw", role="admin")
    bob = srv.admin.create_user("bob@example.com", "pw")
    root_http = key_session(srv.admin.create_api_key(admin))
    bob_key_1 = srv.admin.create_api_key(bob)
    bob_key_2 = srv.admin.create_api_key(bob)
    bob_http = key_session(bob_key_1)
    keys = bob_http.get(srv.url("/api-keys")).json()
    assert bob_http.delete(srv.url("/api-keys/admin"), params={"user_id": bob.id}).status_code == 403
    one = root_http.delete(srv.url("/api-keys/admin"), params={"api_key_id": keys[1]["id"]})
    assert one.status_code == 204
    assert key_session(bob_key_2).get(srv.url("/users/me")).status_code == 401
    assert bob_http.get(srv.url("/users/me")).status_code == 200
    assert root_http.delete(srv.url("/api-keys/admin"), params={"user_id": bob.id}).status_code == 204
    assert bob_http.get(srv.url("/users/me")).status_code == 401
    assert root_http.delete(srv.url("/api-keys/admin")).status_code == 422
    both = {"user_id": bob.id, "api_key_id": keys[0]["id"]}
    assert root_http.delete(srv.url("/api-keys/admin"), params=both).status_code == 422
    assert root_http.delete(srv.url("/api-keys/admin"), params={"user_id": str(uuid.uuid4())}).status_code == 404


def test_event_logs_most_recent_first(http: requests.Session, srv: LocalAvatarServer, put_set: Any) -> None:
    set_name = put_set()
    post_job(http, srv, set_name, "standard")
    response = http.get(srv.url("/event-logs"))
    assert response.status_code == 200
    events = response.json()
    assert [(e["verb"], e["object_type"]) for e in events][:2] == [("create", "job"), ("create", "resource")]
    assert events[1]["object_id"] == set_name
    assert set(events[0]) == {"id", "verb", "object_id", "object_type", "created_at"}
    assert requests.get(srv.url("/event-logs")).status_code == 401


def test_sso_routes_answer_an_envelope(srv: LocalAvatarServer) -> None:
    for path in ("/login/sso", "/login/sso/auth"):
        response = requests.get(srv.url(path))
        assert response.status_code == 501 and "not configured" in response.json()["detail"]["message"]


def test_3x_mode(srv3: LocalAvatarServer) -> None:
    user = srv3.admin.create_user("dora@example.com", "pw")
    http = key_session(srv3.admin.create_api_key(user))
    for method, path in (("POST", "/login"), ("POST", "/refresh"), ("POST", "/logout")):
        response = http.request(method, srv3.url(path))
        assert response.status_code == 404 and response.json() == {"detail": "Not Found"}, path
    # the path exists for another method: the router's 405
    response = http.post(srv3.url("/users"), json={"email": "x@example.com"})
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}
    capabilities = http.get(srv3.url("/capabilities")).json()
    assert set(capabilities) == {"input_protocols", "database_engines", "connections"}
    set_name = http.put(srv3.url("/resources/flow"), data=FULL, headers=YAML).json()["set_name"]
    flow = http.post(srv3.url("/jobs/flow"), json={"set_name": set_name})
    assert flow.status_code == 200, flow.text
    created = {j["name"].split("_")[0]: j for j in flow.json()["jobs"]}
    jobs = {j["name"]: j for j in http.get(srv3.url("/jobs"), params={"set_name": set_name}).json()["jobs"]}
    kinds = {j["kind"] for j in jobs.values()}
    assert kinds == {"standard", "privacy_metrics", "signal_metrics", "report", "advice"}
    report = next(j for j in jobs.values() if j["kind"] == "report")
    assert {jobs[p]["kind"] for p in report["depends_on"]} == {"standard", "privacy_metrics", "signal_metrics"}
    assert all(set(c) == {"name", "Location"} for c in created.values())
    some = [j["name"] for j in list(jobs.values())[:2]]
    assert names(http, srv3, names=[*some, "no-such-job"]) == some
    too_many = http.get(srv3.url("/jobs"), params={"names": [f"j{i}" for i in range(101)]})
    assert too_many.status_code == 400
    assert http.post(srv3.url("/jobs/flow"), json={"set_name": str(uuid.uuid4())}).status_code == 404
    empty = http.put(srv3.url("/resources/empty"), data=documents(), headers=YAML).json()["set_name"]
    assert http.post(srv3.url("/jobs/flow"), json={"set_name": empty}).status_code == 400
    srv3.admin.set_api_version(2)
    assert http.get(srv3.url("/capabilities")).status_code == 404
    # 2.90's router has no /jobs/flow: the path falls on /jobs/{job_name} (GET, DELETE)
    refused = http.post(srv3.url("/jobs/flow"), json={"set_name": set_name})
    assert refused.status_code == 405 and refused.json() == {"detail": "Method Not Allowed"}
    assert http.get(srv3.url("/jobs/flow")).json() == {"detail": "Job not found"}
    assert requests.post(srv3.url("/login"), data={"username": "dora@example.com", "password": "pw"}).status_code == 200


def test_every_bad_document_is_reported_and_a_set_needs_no_metadata_document(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any
) -> None:
    bad = "kind: AvatarParameters\nmetadata: {name: p}\nspec: {}\n---\nkind: AvatarSchema\nmetadata: {name: s}\n"
    response = http.put(srv.url("/resources/bad"), data=bad, headers=YAML)
    assert response.status_code == 422
    assert [i["loc"] for i in response.json()["detail"]] == [
        ["body", 0, "spec", "schema"],
        ["body", 1, "spec", "tables"],
    ]
    # the platform SDK reads sets without an AvatarMetadata document: the display name is the set's
    without = documents("AvatarParameters:p").split("---\n", 1)[1]
    assert "AvatarMetadata" not in without
    set_name = put_set("no-metadata", without)
    assert post_job(http, srv, set_name, "p")["name"].startswith("standard_")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"set_name": None, "parameters_name": "standard"}, "set_name"),
        ({"set_name": "nope", "parameters_name": "standard"}, "set_name"),
        ({"parameters_name": 5}, "parameters_name"),
        ({"parameters_name": ""}, "parameters_name"),
        ({"parameters_name": "standard", "depends_on": "x"}, "depends_on"),
        ({"parameters_name": "standard", "depends_on": {"a": 1}}, "depends_on"),
        ({"parameters_name": "standard", "depends_on": [None]}, "depends_on"),
    ],
)
def test_malformed_job_requests_are_422_envelopes(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any, body: Dict[str, Any], field: str
) -> None:
    request = {"set_name": put_set(), **body}
    response = http.post(srv.url("/jobs"), json=request)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_deeply_nested_json_is_a_422_not_a_500(http: requests.Session, srv: LocalAvatarServer) -> None:
    response = http.post(srv.url("/jobs"), data="[" * 100_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "documents"


@pytest.mark.parametrize("name", ["single.yaml", "linked.yaml", "dp_and_series.yaml"])
def test_sets_written_by_the_platforms_avatar_yaml_are_accepted(
    http: requests.Session, srv: LocalAvatarServer, put_set: Any, name: str
) -> None:
    text = (GOLDEN / name).read_text()
    set_name = put_set("golden", text)
    expected = {
        d["metadata"]["name"]: PARAMETERS_KINDS[d["kind"]]
        for d in yaml.safe_load_all(text)
        if d and d["kind"] in PARAMETERS_KINDS
    }
    assert expected
    for parameters_name, kind in expected.items():
        job = post_job(http, srv, set_name, parameters_name)
        assert http.get(srv.url(f"/jobs/{job['name']}")).json()["kind"] == kind
    # one field the platform requires, taken out of the first parameters document: refused, located
    docs = [d for d in yaml.safe_load_all(text) if d]
    index = next(i for i, d in enumerate(docs) if d["kind"] in PARAMETERS_KINDS and "schema" in d["spec"])
    del docs[index]["spec"]["schema"]
    response = http.put(srv.url("/resources/golden"), data=yaml.safe_dump_all(docs), headers=YAML)
    assert response.status_code == 422
    assert [i["loc"] for i in response.json()["detail"]] == [["body", index, "spec", "schema"]]
