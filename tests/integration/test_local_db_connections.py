"""``client.connections`` over real sockets: the local server as platform API 3.x, then 2.90."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from avatars import ApiClient, ConflictError, EndpointUnavailableError, NotFound, PermissionDenied, ValidationError
from avatars.testing import LocalAvatarServer

from .conftest import TIMEOUT

pytestmark = pytest.mark.integration

SECRET = "very-secret-note"


def make_db(path: Path) -> Path:
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, ref TEXT)")
    db.executemany("INSERT INTO people VALUES (?, ?)", [(i, f"r{i}") for i in range(1, 8)])
    db.commit()
    db.close()
    return path


def test_connections_against_the_3x_server(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    database = make_db(tmp_path / "people.sqlite")
    dsn = f"sqlite:///{database}?note={SECRET}"
    with LocalAvatarServer(api_version=3) as server:
        user = server.admin.create_user("ivy@example.com", "pw")
        with ApiClient(server.base_url, api_key=server.admin.create_api_key(user), timeout=TIMEOUT) as client:
            connections = client.connections
            engines = {e.engine: e for e in connections.list_engines()}
            assert engines["sqlite"].available and not engines["postgresql"].available
            assert [p.kind for p in connections.list_connection_presets()] == ["demo"]
            (demo,) = connections.add_connection_presets("demo")
            assert demo.name == "demo" and demo.scope == "user"
            assert connections.add_connection_presets("demo") == []

            probe = connections.test_draft_connection(engine="sqlite", dsn=dsn, scope="user")
            assert probe.reachable and probe.table_count == 1 and probe.is_empty is False
            with pytest.raises(PermissionDenied):  # the organization's scope needs an admin
                connections.put_connection("people", engine="sqlite", dsn=dsn)
            stored = connections.put_connection("people", engine="sqlite", dsn=dsn, label="People", scope="user")
            assert stored.redacted == f"sqlite:///{database}"
            with pytest.raises(ValidationError) as refused:
                connections.put_connection("pg", engine="postgresql", dsn=f"postgresql://u:{SECRET}@db/x", scope="user")
            assert refused.value.fields == ["body.engine"] and SECRET not in str(refused.value)
            server.admin.declare_connection("shared", "sqlite", dsn)
            with pytest.raises(ConflictError):  # a name the deployment already uses
                connections.put_connection("shared", engine="sqlite", dsn=dsn, scope="user")

            sample = connections.sample_connection("people", {"people": ["ref", "nope"]}, limit=2)
            assert sample.samples == {"people": {"ref": ["r1", "r2"]}} and sample.missing == ["people.nope"]
            renamed = connections.patch_connection("people", new_name="folks")
            assert (renamed.name, renamed.label) == ("folks", "People")  # None leaves the label as it is
            assert connections.patch_connection("folks", label="").label is None
            assert sorted(c.name for c in connections.list_connections()) == ["demo", "folks", "shared"]
            capabilities = client.capabilities.get_capabilities()
            assert capabilities.database_engines == ["sqlite"]
            assert sorted(c["name"] for c in capabilities.connections) == ["demo", "folks", "shared"]
            connections.delete_connection("folks")
            with pytest.raises(NotFound) as gone:
                connections.test_connection("folks")
            assert not isinstance(gone.value, EndpointUnavailableError)
    assert SECRET not in caplog.text


def test_connections_on_a_290_server_are_unavailable() -> None:
    with LocalAvatarServer(api_version=2) as server:
        user = server.admin.create_user("jay@example.com", "pw")
        with ApiClient(server.base_url, api_key=server.admin.create_api_key(user), timeout=TIMEOUT) as client:
            with pytest.raises(EndpointUnavailableError) as listed:
                client.connections.list_connections()
            assert "GET /connections" in str(listed.value) and listed.value.required_api == ">= 3.0"
            with pytest.raises(EndpointUnavailableError) as stored:
                client.connections.put_connection(
                    "x", engine="sqlite", dsn=f"sqlite:////tmp/x.db?k={SECRET}", scope="user"
                )
            assert SECRET not in str(stored.value)
            with pytest.raises(EndpointUnavailableError):
                client.connections.test_connection("x")
