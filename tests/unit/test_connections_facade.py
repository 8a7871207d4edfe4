"""``client.connections`` (platform API 3.x) with ``responses``: the wire of each call,
the typed answers, the 2.90 refusal, and a DSN that never comes back in an error."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict

import pytest
import responses
from responses import matchers

from avatars import (
    ApiClient,
    ConflictError,
    EndpointUnavailableError,
    NotFound,
    RequestValidationError,
    SchemaError,
    ValidationError,
)
from avatars.models import ConnectionProbe, ConnectionSample, ConnectionSummary

from ..secrets_audit import reachable_texts
from .conftest import BASE

SECRET = "s3cr3t-pw"
DSN = f"postgresql://etl:{SECRET}@db.internal:5432/crm"
SUMMARY: Dict[str, Any] = {
    "name": "crm",
    "label": "CRM",
    "engine": "postgresql",
    "scope": "organization",
    "redacted": "postgresql://etl:***@db.internal:5432/crm",
}


def test_list_connections(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/connections", json={"connections": [SUMMARY, {"name": "d", "engine": "sqlite"}]})
    listed = client.connections.list_connections()
    assert listed == [
        ConnectionSummary("crm", "postgresql", "CRM", "organization", SUMMARY["redacted"]),
        ConnectionSummary("d", "sqlite"),
    ]


def test_list_engines_and_presets(rsps: responses.RequestsMock, client: ApiClient) -> None:
    field = {"key": "password", "label": "Password", "secret": True, "extra": 1}
    rsps.add(
        responses.GET,
        f"{BASE}/connections/engines",
        json={"engines": [{"engine": "mysql", "label": "MySQL", "kind": "sql", "available": False, "fields": [field]}]},
    )
    rsps.add(
        responses.GET,
        f"{BASE}/connections/presets",
        json={"presets": [{"name": "demo", "engine": "sqlite", "kind": "demo", "label": None}]},
    )
    (engine,) = client.connections.list_engines()
    assert engine.engine == "mysql" and engine.available is False and engine.preview is False
    (form,) = engine.form_fields
    assert form.key == "password" and form.secret is True and form.required is False and form.type == "text"
    (preset,) = client.connections.list_connection_presets()
    assert (preset.name, preset.engine, preset.kind, preset.label) == ("demo", "sqlite", "demo", None)


def test_a_list_that_is_not_a_list_is_a_schema_error(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/connections", json={"connections": {"name": "x"}})
    with pytest.raises(SchemaError, match="connections"):
        client.connections.list_connections()
    rsps.add(responses.GET, f"{BASE}/connections/engines", json=[])
    with pytest.raises(SchemaError):
        client.connections.list_engines()


def test_put_connection_sends_the_draft(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(
        responses.PUT,
        f"{BASE}/connections/crm",
        json=SUMMARY,
        status=201,
        match=[
            matchers.json_params_matcher(
                {"engine": "postgresql", "label": "CRM", "dsn": DSN, "fields": None, "scope": "organization"}
            )
        ],
    )
    stored = client.connections.put_connection("crm", engine="postgresql", dsn=DSN, label="CRM")
    assert stored.redacted == SUMMARY["redacted"] and SECRET not in repr(stored)


def test_put_connection_from_form_fields(rsps: responses.RequestsMock, client: ApiClient) -> None:
    form = {"path": "/data/x.sqlite"}
    rsps.add(
        responses.PUT,
        f"{BASE}/connections/x",
        json={"name": "x", "engine": "sqlite", "scope": "user"},
        match=[
            matchers.json_params_matcher(
                {"engine": "sqlite", "label": None, "dsn": "", "fields": form, "scope": "user"}
            )
        ],
    )
    assert client.connections.put_connection("x", engine="sqlite", fields=form, scope="user").scope == "user"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"engine": "sqlite"}, "dsn"),
        ({"engine": "sqlite", "dsn": DSN, "fields": {"a": "b"}}, "dsn"),
        ({"engine": "", "dsn": DSN}, "engine"),
        ({"engine": "sqlite", "dsn": ""}, "dsn"),
        ({"engine": "sqlite", "dsn": DSN, "scope": "deployment"}, "scope"),
        ({"engine": "sqlite", "fields": {"port": 5432}}, "fields"),
    ],
)
def test_put_connection_checks_before_sending(client: ApiClient, kwargs: Dict[str, Any], field: str) -> None:
    with responses.RequestsMock():  # nothing is sent
        with pytest.raises(RequestValidationError) as caught:
            client.connections.put_connection("x", **kwargs)
    assert caught.value.field == field
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("name", ["engines", "presets", "test", "a/b", "..", ""])
def test_names_that_are_other_endpoints_are_refused(client: ApiClient, name: str) -> None:
    with responses.RequestsMock():
        with pytest.raises(RequestValidationError):
            client.connections.test_connection(name)
        with pytest.raises(RequestValidationError):
            client.connections.patch_connection("ok", new_name=name)


def test_a_server_that_echoes_the_dsn_is_masked(
    rsps: responses.RequestsMock, client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"detail": [{"loc": ["body", "dsn"], "msg": f"bad value {DSN}", "type": "x", "input": {"dsn": DSN}}]}
    rsps.add(responses.PUT, f"{BASE}/connections/crm", json=echo, status=422)
    with pytest.raises(ValidationError) as caught:
        client.connections.put_connection("crm", engine="postgresql", dsn=DSN)
    error = caught.value
    assert error.status_code == 422 and error.fields == ["body.dsn"]
    for text in (str(error), repr(error), json.dumps(error.body), str(error.detail)):
        assert SECRET not in text and DSN not in text
    assert "***" in json.dumps(error.body)
    assert error.response is None
    assert SECRET not in caplog.text
    assert error.__context__ is None and error.__cause__ is None  # the unmasked error is not reachable
    assert not [text for text in reachable_texts(error) if SECRET in text]


def test_a_secret_form_field_echoed_is_masked(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.POST, f"{BASE}/connections/test", json={"detail": f"login failed for {SECRET}"}, status=400)
    with pytest.raises(Exception) as caught:
        client.connections.test_draft_connection(
            engine="postgresql", fields={"host": "db", "database": "d", "user": "u", "password": SECRET}, scope="user"
        )
    assert SECRET not in str(caught.value) and "login failed for ***" in str(caught.value)


def test_an_error_without_the_dsn_is_left_as_it_is(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.PUT, f"{BASE}/connections/crm", json={"detail": "The name 'crm' is taken"}, status=409)
    with pytest.raises(ConflictError) as caught:
        client.connections.put_connection("crm", engine="postgresql", dsn=DSN)
    assert caught.value.response is not None and "taken" in str(caught.value)


def test_patch_sends_the_platform_shape(rsps: responses.RequestsMock, client: ApiClient) -> None:
    """As the platform SDK's ConnectionPatch: both keys, null for "leave it"; "" clears the label."""
    rsps.add(
        responses.PATCH,
        f"{BASE}/connections/crm",
        json={**SUMMARY, "name": "crm2"},
        match=[matchers.json_params_matcher({"name": "crm2", "label": None})],
    )
    rsps.add(
        responses.PATCH,
        f"{BASE}/connections/crm2",
        json={**SUMMARY, "name": "crm2", "label": None},
        match=[matchers.json_params_matcher({"name": None, "label": ""})],
    )
    assert client.connections.patch_connection("crm", new_name="crm2").name == "crm2"
    assert client.connections.patch_connection("crm2", label="").label is None
    with pytest.raises(RequestValidationError):
        client.connections.patch_connection("crm2")
    with pytest.raises(RequestValidationError):
        client.connections.patch_connection("crm2", label=3)  # type: ignore[arg-type]


def test_delete_test_sample(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.DELETE, f"{BASE}/connections/crm", status=204)
    rsps.add(
        responses.POST,
        f"{BASE}/connections/crm/test",
        json={"reachable": False, "engine": "postgresql", "error": "not available"},
    )
    rsps.add(
        responses.POST,
        f"{BASE}/connections/crm/sample",
        json={"samples": {"t": {"id": ["1", None]}}, "missing": ["u"], "error": None},
        match=[matchers.json_params_matcher({"columns": {"t": ["id"], "u": ["x"]}, "limit": 2})],
    )
    assert client.connections.delete_connection("crm") is None
    assert client.connections.test_connection("crm") == ConnectionProbe(False, "postgresql", error="not available")
    sample = client.connections.sample_connection("crm", {"t": ["id"], "u": ["x"]}, limit=2)
    assert sample == ConnectionSample({"t": {"id": ["1", None]}}, ["u"], None)


@pytest.mark.parametrize(
    "columns, limit",
    [
        ({}, None),
        ({f"t{i}": ["a"] for i in range(11)}, None),
        ({"t": "id"}, None),
        ({"t": 5}, None),
        ({"t": None}, None),
        ({"t": ["id"]}, 0),
        ({"t": ["a"]}, 21),
    ],
)
def test_sample_checks_before_sending(client: ApiClient, columns: Any, limit: Any) -> None:
    with responses.RequestsMock():
        with pytest.raises(RequestValidationError):
            client.connections.sample_connection("crm", columns, limit=limit)


def test_a_probe_of_the_wrong_shape_is_a_schema_error(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.POST, f"{BASE}/connections/crm/test", json={"engine": "sqlite"})
    with pytest.raises(SchemaError, match="reachable"):
        client.connections.test_connection("crm")


def test_on_a_290_platform_every_call_is_unavailable(rsps: responses.RequestsMock, client: ApiClient) -> None:
    rsps.add(responses.GET, f"{BASE}/connections", json={"detail": "Not Found"}, status=404)
    rsps.add(responses.PUT, f"{BASE}/connections/crm", json={"detail": "Not Found"}, status=404)
    rsps.add(responses.POST, f"{BASE}/connections/crm/test", json={"detail": "No connection named 'crm'"}, status=404)
    with pytest.raises(EndpointUnavailableError) as caught:
        client.connections.list_connections()
    assert caught.value.required_api == ">= 3.0"
    with pytest.raises(EndpointUnavailableError) as put:
        client.connections.put_connection("crm", engine="postgresql", dsn=DSN)
    assert SECRET not in str(put.value)
    # a 404 about a connection stays a NotFound
    with pytest.raises(NotFound) as missing:
        client.connections.test_connection("crm")
    assert not isinstance(missing.value, EndpointUnavailableError)


def test_the_facade_repr_has_no_secret(client: ApiClient) -> None:
    assert repr(client.connections) == f"<Connections of {BASE}>"
