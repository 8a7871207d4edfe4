"""``/connections`` of the local server acting as platform API 3.x (real sockets, plain requests).

The DSN is write-only: every test that stores one also checks that no answer
(nor the event log, the request log, a log line or a ``repr``) holds it.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.admin import CreatedUser
from avatars.testing.connections import ConnectionRegistry, redact

from .conftest import key_session

SECRET = "pw-9c1e-secret"


class Caller:
    """A user of the server with a session; every answer it gets is kept."""

    def __init__(self, srv: LocalAvatarServer, user: CreatedUser) -> None:
        self.srv = srv
        self.user = user
        self.session = key_session(srv.admin.create_api_key(user))
        self.bodies: List[bytes] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.srv.url(path), **kwargs)
        self.bodies.append(response.content)
        return response

    def names(self) -> List[str]:
        response = self("GET", "/connections")
        assert response.status_code == 200
        return [c["name"] for c in response.json()["connections"]]


@pytest.fixture
def alice(srv3: LocalAvatarServer) -> Iterator[Caller]:
    caller = Caller(srv3, srv3.admin.create_user("alice@example.com", "alice-pw"))
    yield caller
    caller.session.close()


@pytest.fixture
def boss(srv3: LocalAvatarServer, alice: Caller) -> Iterator[Caller]:
    """An admin of alice's organization."""
    user = srv3.admin.create_user(
        "boss@example.com", "boss-pw", role="admin", organization_id=alice.user.organization_id
    )
    caller = Caller(srv3, user)
    yield caller
    caller.session.close()


@pytest.fixture
def outsider(srv3: LocalAvatarServer) -> Iterator[Caller]:
    """An admin of another organization."""
    caller = Caller(
        srv3, srv3.admin.create_user("eve@example.com", "eve-pw", role="admin", organization_id=str(uuid.uuid4()))
    )
    yield caller
    caller.session.close()


def make_db(path: Path, rows: int = 4) -> Path:
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, ref TEXT, city TEXT)")
    db.execute('CREATE TABLE "odd ""name""" (k INTEGER)')
    db.executemany(
        "INSERT INTO people VALUES (?, ?, ?)", [(i, None if i == 2 else f"r{i}", "x") for i in range(1, rows + 1)]
    )
    db.commit()
    db.close()
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "people.sqlite")


def dsn_of(path: Path) -> str:
    return f"sqlite:///{path}?password={SECRET}"


def assert_never_echoed(*callers: Caller, secrets: tuple = (SECRET,)) -> None:
    for caller in callers:
        for body in caller.bodies:
            for secret in secrets:
                assert secret.encode() not in body, body


def draft(path: Path, scope: str = "user", **extra: Any) -> Dict[str, Any]:
    return {"engine": "sqlite", "dsn": dsn_of(path), "scope": scope, **extra}


# -- the group exists on 3.x only ----------------------------------------------------------


def test_connections_are_a_3x_group(srv: LocalAvatarServer, http: requests.Session) -> None:
    assert srv.api_version == 2
    for method, path in (("GET", "/connections"), ("GET", "/connections/engines"), ("PUT", "/connections/x")):
        response = http.request(method, srv.url(path), json={})
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not Found"}


def test_connections_need_credentials(srv3: LocalAvatarServer) -> None:
    assert requests.get(srv3.url("/connections")).status_code == 401
    assert requests.put(srv3.url("/connections/x"), json={"engine": "sqlite", "dsn": "sqlite:////x"}).status_code == 401


# -- engines, presets, capabilities ------------------------------------------------------------


def test_engines_sqlite_available_others_described(alice: Caller) -> None:
    response = alice("GET", "/connections/engines")
    assert response.status_code == 200
    engines = {e["engine"]: e for e in response.json()["engines"]}
    assert engines["sqlite"]["available"] is True and engines["sqlite"]["kind"] == "sql"
    assert [f["key"] for f in engines["sqlite"]["fields"]] == ["path"]
    for name in ("postgresql", "mysql", "mongodb"):
        assert engines[name]["available"] is False
        keys = {f["key"]: f for f in engines[name]["fields"]}
        assert keys["password"]["secret"] is True and keys["host"]["required"] is True
    assert engines["mongodb"]["kind"] == "documents"
    sslmode = next(f for f in engines["postgresql"]["fields"] if f["key"] == "sslmode")
    assert sslmode["type"] == "select" and {o["value"] for o in sslmode["options"]} >= {"disable", "require"}


def test_capabilities_list_available_engines_and_usable_connections(alice: Caller, outsider: Caller, db: Path) -> None:
    empty = alice("GET", "/capabilities").json()
    assert empty == {"input_protocols": ["s3"], "database_engines": ["sqlite"], "connections": []}
    assert alice("PUT", "/connections/mine", json=draft(db, label="Mine")).status_code == 201
    assert alice("GET", "/capabilities").json()["connections"] == [
        {"name": "mine", "label": "Mine", "engine": "sqlite", "scope": "user"}
    ]
    assert outsider("GET", "/capabilities").json()["connections"] == []
    assert_never_echoed(alice)


def test_demo_preset_written_in_the_data_dir_added_once(srv3: LocalAvatarServer, alice: Caller, boss: Caller) -> None:
    presets = alice("GET", "/connections/presets").json()["presets"]
    assert presets == [{"name": "demo", "label": presets[0]["label"], "engine": "sqlite", "kind": "demo"}]
    assert alice("GET", "/connections").json() == {"connections": []}  # offered, not listed
    demo_file = Path(srv3.store.root) / "connections" / "demo.sqlite"
    assert not demo_file.exists()

    added = alice("POST", "/connections/presets", json={"kind": "demo"})
    assert added.status_code == 200
    (summary,) = added.json()["connections"]
    assert summary["name"] == "demo" and summary["scope"] == "user"
    assert demo_file.is_file()
    assert alice("POST", "/connections/presets", json={"kind": "demo"}).json() == {"connections": []}
    probe = alice("POST", "/connections/demo/test").json()
    assert probe == {
        "reachable": True,
        "engine": "sqlite",
        "has_schema": True,
        "is_empty": False,
        "table_count": 2,
        "error": None,
    }
    # the boss's organization-wide copy: alice already has one by that name, boss does not
    assert (
        boss("POST", "/connections/presets", json={"kind": "demo", "scope": "organization"}).json()["connections"][0][
            "scope"
        ]
        == "organization"
    )
    assert alice("GET", "/connections").json()["connections"][-1]["scope"] == "user"


def test_presets_refusals(alice: Caller) -> None:
    assert alice("POST", "/connections/presets", json={"kind": "sample"}).status_code == 404
    assert alice("POST", "/connections/presets", json={"kind": "demo", "scope": "organization"}).status_code == 403
    bad = alice("POST", "/connections/presets", json={"kind": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "kind"]
    missing = alice("POST", "/connections/presets", json={})
    assert missing.status_code == 422 and missing.json()["detail"][0]["type"] == "value_error.missing"
    assert alice("POST", "/connections/presets", json={"kind": "demo", "scope": "deployment"}).status_code == 422
    assert alice.names() == []


# -- storing: scopes, replace, validation ------------------------------------------------------


def test_put_user_scope_then_replace(alice: Caller, boss: Caller, db: Path, tmp_path: Path) -> None:
    first = alice("PUT", "/connections/people", json=draft(db, label="People"))
    assert first.status_code == 201
    assert first.json() == {
        "name": "people",
        "label": "People",
        "engine": "sqlite",
        "scope": "user",
        "redacted": f"sqlite:///{db}",
    }
    other = make_db(tmp_path / "other.sqlite", rows=1)
    again = alice("PUT", "/connections/people", json=draft(other))
    assert again.status_code == 200 and again.json()["label"] is None
    assert again.json()["redacted"] == f"sqlite:///{other}"
    assert alice.names() == ["people"]
    assert boss.names() == []  # a user connection is its owner's only
    assert boss("POST", "/connections/people/test").status_code == 404
    assert_never_echoed(alice, boss)


def test_organization_scope_is_for_admins_and_every_member(
    alice: Caller, boss: Caller, outsider: Caller, db: Path
) -> None:
    refused = alice("PUT", "/connections/shared", json=draft(db, scope="organization"))
    assert refused.status_code == 403
    default_scope = {"engine": "sqlite", "dsn": dsn_of(db)}  # the platform's default scope: organization
    assert alice("PUT", "/connections/shared", json=default_scope).status_code == 403
    stored = boss("PUT", "/connections/shared", json=default_scope)
    assert stored.status_code == 201 and stored.json()["scope"] == "organization"
    assert alice.names() == ["shared"] and outsider.names() == []
    assert alice("POST", "/connections/shared/test").json()["reachable"] is True
    # a member may not change or remove the organization's
    assert alice("PATCH", "/connections/shared", json={"label": "x"}).status_code == 403
    assert alice("DELETE", "/connections/shared").status_code == 403
    # and may not shadow it with one of their own
    assert alice("PUT", "/connections/shared", json=draft(db)).status_code == 409
    assert boss("DELETE", "/connections/shared").status_code == 204
    assert alice.names() == []
    assert_never_echoed(alice, boss, outsider)


def test_draft_built_from_form_fields(alice: Caller, db: Path) -> None:
    stored = alice(
        "PUT", "/connections/fromfields", json={"engine": "sqlite", "fields": {"path": str(db)}, "scope": "user"}
    )
    assert stored.status_code == 201 and stored.json()["redacted"] == f"sqlite:///{db}"
    missing = alice("PUT", "/connections/nofields", json={"engine": "sqlite", "fields": {}, "scope": "user"})
    assert missing.status_code == 422
    assert missing.json()["detail"] == [
        {"loc": ["body", "dsn"], "msg": missing.json()["detail"][0]["msg"], "type": "value_error.missing"}
    ]
    fields = {"host": "db.internal", "database": "crm", "user": "etl", "password": SECRET}
    unavailable = alice("PUT", "/connections/pg", json={"engine": "postgresql", "fields": fields, "scope": "user"})
    assert unavailable.status_code == 422 and "not available" in unavailable.json()["detail"][0]["msg"]
    partial = alice(
        "PUT", "/connections/pg", json={"engine": "postgresql", "fields": {"password": SECRET}, "scope": "user"}
    )
    assert partial.status_code == 422
    assert sorted(e["loc"][-1] for e in partial.json()["detail"]) == ["database", "host", "user"]
    assert_never_echoed(alice)


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"dsn": f"sqlite:////x?{SECRET}", "scope": "user"}, ["body", "engine"]),
        ({"engine": "oracle9", "dsn": f"oracle://u:{SECRET}@h/d", "scope": "user"}, ["body", "engine"]),
        ({"engine": "sqlite", "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "dsn": f"not a dsn {SECRET}", "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "dsn": f"postgresql://u:{SECRET}@h/d", "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "dsn": f"sqlite:///relative/{SECRET}.db", "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "dsn": f"sqlite://host/{SECRET}.db", "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "dsn": f"sqlite:////x/{SECRET}", "scope": "everyone"}, ["body", "scope"]),
        ({"engine": "sqlite", "dsn": f"sqlite:////x/{SECRET}", "scope": "user", "label": 3}, ["body", "label"]),
        ({"engine": "sqlite", "dsn": 7, "scope": "user"}, ["body", "dsn"]),
        ({"engine": "sqlite", "fields": {"path": 1}, "scope": "user"}, ["body", "fields", "path"]),
    ],
)
def test_put_validation_never_echoes_the_dsn(alice: Caller, body: Dict[str, Any], loc: List[str]) -> None:
    response = alice("PUT", "/connections/bad", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert loc in [item["loc"] for item in detail]
    assert all(set(item) == {"loc", "msg", "type"} for item in detail)
    assert_never_echoed(alice)
    assert alice.names() == []


@pytest.mark.parametrize("name", ["engines", "presets", "test", "-dash", "a" * 65, "sp ace", "semi;colon"])
def test_put_refuses_reserved_and_malformed_names(alice: Caller, db: Path, name: str) -> None:
    response = alice("PUT", f"/connections/{name}", json=draft(db))
    assert response.status_code in (404, 405, 422), name
    if response.status_code == 422:
        assert response.json()["detail"][0]["loc"] == ["path", "name"]
    assert alice.names() == []


def test_put_refuses_a_body_that_is_not_an_object(alice: Caller) -> None:
    assert alice("PUT", "/connections/x", data=b"[1]", headers={"Content-Type": "application/json"}).status_code == 422
    assert (
        alice("PUT", "/connections/x", data=b"{not json", headers={"Content-Type": "application/json"}).status_code
        == 422
    )


# -- deployment connections ----------------------------------------------------------------------


def test_deployment_connections_are_read_only_and_hidden_per_organization(
    srv3: LocalAvatarServer, alice: Caller, boss: Caller, outsider: Caller, db: Path
) -> None:
    srv3.admin.declare_connection("warehouse", "sqlite", dsn_of(db), label="Warehouse")
    assert alice.names() == ["warehouse"] and outsider.names() == ["warehouse"]
    (listed,) = alice("GET", "/connections").json()["connections"]
    assert listed["scope"] == "deployment" and listed["redacted"] == f"sqlite:///{db}"
    assert alice("PUT", "/connections/warehouse", json=draft(db)).status_code == 409
    assert boss("PUT", "/connections/warehouse", json=draft(db, scope="organization")).status_code == 409
    assert alice("PUT", "/connections/x", json=draft(db, scope="deployment")).status_code == 403
    assert boss("PATCH", "/connections/warehouse", json={"label": "W"}).status_code == 409
    assert alice("DELETE", "/connections/warehouse").status_code == 403
    assert boss("DELETE", "/connections/warehouse").status_code == 204
    assert alice.names() == [] and boss.names() == []
    assert outsider.names() == ["warehouse"]  # another organization is not affected
    assert_never_echoed(alice, boss, outsider)


# -- rename, relabel, delete -------------------------------------------------------------------


def test_patch_renames_and_relabels_without_the_dsn(alice: Caller, db: Path) -> None:
    alice("PUT", "/connections/one", json=draft(db, label="One"))
    alice("PUT", "/connections/two", json=draft(db))
    relabelled = alice("PATCH", "/connections/one", json={"label": "Uno"})
    assert relabelled.status_code == 200 and relabelled.json()["label"] == "Uno"
    renamed = alice("PATCH", "/connections/one", json={"name": "uno"})
    assert renamed.json()["name"] == "uno" and renamed.json()["label"] == "Uno"  # absent: unchanged
    assert renamed.json()["redacted"] == f"sqlite:///{db}"
    assert alice.names() == ["two", "uno"]
    assert alice("POST", "/connections/uno/test").json()["reachable"] is True
    assert alice("POST", "/connections/one/test").status_code == 404
    # null leaves the label as it is (the platform SDK sends "label": null with a rename); "" clears it
    kept = alice("PATCH", "/connections/uno", json={"name": "uno", "label": None})
    assert kept.json()["label"] == "Uno"
    cleared = alice("PATCH", "/connections/uno", json={"label": ""})
    assert cleared.json()["label"] is None
    taken = alice("PATCH", "/connections/uno", json={"name": "two"})
    assert taken.status_code == 422 and taken.json()["detail"][0]["loc"] == ["body", "name"]
    invalid = alice("PATCH", "/connections/uno", json={"name": "bad name"})
    assert invalid.status_code == 422
    assert alice("PATCH", "/connections/missing", json={"label": "x"}).status_code == 404
    assert alice("PATCH", "/connections/uno", json={"dsn": "sqlite:////other"}).status_code == 200  # ignored
    assert alice("GET", "/connections").json()["connections"][1]["redacted"] == f"sqlite:///{db}"
    assert_never_echoed(alice)


def test_delete_forgets_only_that_connection(alice: Caller, db: Path) -> None:
    alice("PUT", "/connections/one", json=draft(db))
    alice("PUT", "/connections/two", json=draft(db))
    response = alice("DELETE", "/connections/one")
    assert response.status_code == 204 and response.content == b""
    assert alice.names() == ["two"]
    assert alice("DELETE", "/connections/one").status_code == 404


# -- test and sample ----------------------------------------------------------------------------


def test_probe_facts(alice: Caller, tmp_path: Path) -> None:
    empty_schema = tmp_path / "empty.sqlite"
    con = sqlite3.connect(str(empty_schema))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    blank = tmp_path / "blank.sqlite"
    sqlite3.connect(str(blank)).close()
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not a database file at all, not even close" * 20)

    def probe(path: Path) -> Dict[str, Any]:
        response = alice("POST", "/connections/test", json=draft(path))
        assert response.status_code == 200
        body: Dict[str, Any] = response.json()
        return body

    assert probe(empty_schema) == {
        "reachable": True,
        "engine": "sqlite",
        "has_schema": True,
        "is_empty": True,
        "table_count": 1,
        "error": None,
    }
    assert probe(blank)["has_schema"] is False and probe(blank)["table_count"] == 0
    missing = probe(tmp_path / "nope.sqlite")
    assert missing["reachable"] is False and "does not exist" in missing["error"]
    assert str(tmp_path) not in missing["error"]
    broken = probe(not_db)
    assert broken["reachable"] is False and broken["error"]
    assert alice.names() == []  # testing a draft stores nothing
    assert_never_echoed(alice)


def test_probe_of_an_unavailable_engine_is_an_answer_not_an_error(alice: Caller, boss: Caller) -> None:
    body = {"engine": "postgresql", "dsn": f"postgresql://etl:{SECRET}@db.internal:5432/crm", "scope": "user"}
    response = alice("POST", "/connections/test", json=body)
    assert response.status_code == 200
    assert response.json()["reachable"] is False and "not available" in response.json()["error"]
    # the rules of storing it: the organization's scope is an admin's
    assert alice("POST", "/connections/test", json={**body, "scope": "organization"}).status_code == 403
    assert boss("POST", "/connections/test", json={**body, "scope": "organization"}).status_code == 200
    assert_never_echoed(alice, boss)


def test_sample_values_of_asked_columns_only(alice: Caller, db: Path) -> None:
    alice("PUT", "/connections/people", json=draft(db))
    response = alice(
        "POST",
        "/connections/people/sample",
        json={"columns": {"people": ["id", "ref", "nope"], "ghost": ["x"], 'odd "name"': ["k"]}, "limit": 3},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["samples"] == {"people": {"id": ["1", "2", "3"], "ref": ["r1", None, "r3"]}, 'odd "name"': {"k": []}}
    assert sorted(body["missing"]) == ["ghost", "people.nope"]
    assert body["error"] is None
    default = alice("POST", "/connections/people/sample", json={"columns": {"people": ["city"]}}).json()
    assert default["samples"] == {"people": {"city": ["x", "x", "x", "x"]}}  # 4 rows, default limit 5


def test_sample_identifiers_are_not_sql(alice: Caller, db: Path) -> None:
    alice("PUT", "/connections/people", json=draft(db))
    evil = 'people"; DROP TABLE people; --'
    body = alice(
        "POST", "/connections/people/sample", json={"columns": {evil: ["id"], "people": ['id" FROM people --']}}
    ).json()
    assert sorted(body["missing"]) == sorted([evil, 'people.id" FROM people --'])
    con = sqlite3.connect(str(db))
    assert con.execute("SELECT COUNT(*) FROM people").fetchone() == (4,)
    con.close()


@pytest.mark.parametrize(
    "body, loc",
    [
        ({}, ["body", "columns"]),
        ({"columns": {}}, ["body", "columns"]),
        ({"columns": {f"t{i}": ["a"] for i in range(11)}}, ["body", "columns"]),
        ({"columns": {"people": "id"}}, ["body", "columns", "people"]),
        ({"columns": {"people": ["id"]}, "limit": 0}, ["body", "limit"]),
        ({"columns": {"people": ["id"]}, "limit": 21}, ["body", "limit"]),
        ({"columns": {"people": ["id"]}, "limit": "5"}, ["body", "limit"]),
    ],
)
def test_sample_limits(alice: Caller, db: Path, body: Dict[str, Any], loc: List[str]) -> None:
    alice("PUT", "/connections/people", json=draft(db))
    response = alice("POST", "/connections/people/sample", json=body)
    assert response.status_code == 422
    assert loc in [item["loc"] for item in response.json()["detail"]]


def test_sample_and_test_of_unknown_or_unopenable_connections(alice: Caller, tmp_path: Path) -> None:
    assert alice("POST", "/connections/ghost/test").status_code == 404
    assert alice("POST", "/connections/ghost/sample", json={"columns": {"t": ["a"]}}).status_code == 404
    gone = make_db(tmp_path / "gone.sqlite")
    alice("PUT", "/connections/gone", json=draft(gone))
    gone.unlink()
    alice.bodies.clear()  # the summary's redacted form names the file; the errors must not
    probe = alice("POST", "/connections/gone/test").json()
    assert probe["reachable"] is False and probe["error"]
    sample = alice("POST", "/connections/gone/sample", json={"columns": {"people": ["id"]}}).json()
    assert sample["samples"] is None and sample["error"]
    assert_never_echoed(alice, secrets=(SECRET, str(tmp_path)))


# -- the DSN stays out of the event log, the request log, log lines and reprs -------------------


def test_events_and_logs_never_hold_the_dsn(
    srv3: LocalAvatarServer, alice: Caller, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice("PUT", "/connections/people", json=draft(db))
    alice("PUT", "/connections/people", json=draft(db))
    alice("PATCH", "/connections/people", json={"label": "P"})
    alice("POST", "/connections/people/test")
    alice("POST", "/connections/people/sample", json={"columns": {"people": ["id"]}})
    alice("POST", "/connections/test", json=draft(db))
    alice("PUT", "/connections/bad", json={"engine": "sqlite", "dsn": f"mysql://u:{SECRET}@h/d", "scope": "user"})
    alice("DELETE", "/connections/people")
    events = alice("GET", "/event-logs", params={"object_type": "connection"}).json()
    assert [e["verb"] for e in reversed(events)] == ["create", "update", "update", "test", "read", "test", "delete"]
    assert {e["object_type"] for e in events} == {"connection"}
    assert_never_echoed(alice)
    assert SECRET not in caplog.text
    assert SECRET not in repr(list(srv3.log))
    registry = ConnectionRegistry()
    connection = registry.declare("w", "sqlite", dsn_of(db))
    assert SECRET not in repr(connection) and SECRET not in repr(registry)
    with pytest.raises(ValueError) as refused:
        srv3.admin.declare_connection("w", "sqlite", f"mysql://u:{SECRET}@h/d")
    assert SECRET not in str(refused.value)


def test_redact() -> None:
    assert redact(f"postgresql://etl:{SECRET}@db.internal:5432/crm?sslmode=require") == (
        "postgresql://etl:***@db.internal:5432/crm"
    )
    assert redact("mysql://etl@db/crm") == "mysql://etl@db/crm"
    assert redact(f"sqlite:////data/x.db?key={SECRET}") == "sqlite:////data/x.db"
    assert redact(f"garbage {SECRET}") == "***"
    assert SECRET not in redact(f"postgresql://etl:{SECRET}@db:notaport/crm")


def test_registry_resolves_the_most_specific_name(tmp_path: Path) -> None:
    registry = ConnectionRegistry(tmp_path)
    registry.declare("x", "sqlite", "sqlite:////d.db")
    registry.store("organization", "org", "x", "sqlite", "sqlite:////o.db", None)
    registry.store("user", "me", "x", "sqlite", "sqlite:////u.db", None)
    found = registry.resolve("me", "org", "x")
    assert found is not None and found.scope == "user"
    other = registry.resolve("someone", "org", "x")
    assert other is not None and other.scope == "organization"
    stranger = registry.resolve("someone", "elsewhere", "x")
    assert stranger is not None and stranger.scope == "deployment"
    with pytest.raises(ValueError):
        registry.declare("y", "oracle", "oracle://h/d")
