"""Our client against the local server acting as platform 2.90 and as 3.x:
the endpoints of contract v2 that are new or changed, over real sockets."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import yaml

from avatars import (
    ApiClient,
    AuthenticationError,
    ConflictError,
    EndpointUnavailableError,
    JobCreateRequest,
    JobKind,
    NotFound,
    UserRole,
    ValidationError,
)
from avatars.testing import LocalAvatarServer

from .conftest import TIMEOUT

DOCUMENTS = """\
kind: AvatarSchema
metadata: {name: patients}
spec: {tables: [{name: patients, data: {volume: input, file: patients.csv}}]}
---
kind: AvatarParameters
metadata: {name: standard}
spec: {schema: patients, avatarization: {patients: {k: 3}}}
---
kind: AvatarPrivacyMetricsParameters
metadata: {name: privacy}
spec: {schema: patients, avatarization_ref: standard}
---
kind: AvatarAdviceParameters
metadata: {name: advice}
spec: {schema: patients, advice: {advisor_type: [parameters]}}
"""


@pytest.fixture
def keyed(avatar_server: LocalAvatarServer, avatar_api_key: str) -> Iterator[ApiClient]:
    with ApiClient(avatar_server.base_url, api_key=avatar_api_key, timeout=TIMEOUT) as client:
        yield client


def test_jobs_filters_locations_and_volumes(keyed: ApiClient) -> None:
    a = keyed.resources.put_resources("A", DOCUMENTS).set_name
    b = keyed.resources.put_resources("B", DOCUMENTS).set_name
    assert a != b
    standard = keyed.jobs.create_job(JobCreateRequest(a, "standard"))
    privacy = keyed.jobs.create_job(JobCreateRequest(a, "privacy", depends_on=[standard.location]))
    advice_b = keyed.jobs.create_job(JobCreateRequest(b, "advice"))
    assert keyed.jobs.get_job_status(privacy.name).kind is JobKind.privacy_metrics
    assert [j.name for j in keyed.jobs.get_jobs(set_name=a)] == [standard.name, privacy.name]
    assert [j.name for j in keyed.jobs.get_jobs(kind=["advice", JobKind.privacy_metrics])] == [
        privacy.name,
        advice_b.name,
    ]
    assert [j.name for j in keyed.jobs.get_jobs(display_name="A", limit=1)] == [privacy.name]
    keyed.jobs.delete_job(advice_b.name)
    assert keyed.jobs.get_jobs(set_name=b).jobs == []
    assert [j.name for j in keyed.jobs.get_jobs(set_name=b, include_deleted=True)] == [advice_b.name]
    # names= on a 2.90 server: ignored there, applied by the client
    assert [j.name for j in keyed.jobs.get_jobs(names=[privacy.name, "none"])] == [privacy.name]
    with pytest.raises(ValidationError) as bad:
        keyed.jobs.create_job(JobCreateRequest(a, "nope"))
    assert bad.value.fields == ["body.parameters_name"]
    volume = yaml.safe_load(keyed.resources.get_user_volume("vol", "results", set_name=a))
    assert volume["kind"] == "AvatarVolume" and volume["metadata"]["name"] == "vol"
    added = keyed.resources.create_resource(a, "kind: AvatarReportParameters\nmetadata: {name: report}\n")
    assert added.set_name == a
    assert keyed.jobs.create_job(JobCreateRequest(a, "report")).name.startswith("report_")
    with pytest.raises(NotFound):
        keyed.resources.create_resource(uuid.uuid4(), DOCUMENTS)


def test_event_logs_admin_revocation_and_null_roles(avatar_server: LocalAvatarServer, keyed: ApiClient) -> None:
    keyed.resources.put_resources("A", DOCUMENTS)
    events = keyed.event_logs.list_my_event_logs()
    assert events[0].verb == "create" and events[0].object_type == "resource"
    root = avatar_server.admin.create_user("root@example.com", "pw", role="admin")
    bob = avatar_server.admin.create_user("bob@example.com", "pw")
    bob_key = avatar_server.admin.create_api_key(bob)
    with ApiClient(avatar_server.base_url, api_key=avatar_server.admin.create_api_key(root), timeout=TIMEOUT) as c:
        c.api_keys.revoke_api_key_admin(user_id=bob.id)
        assert c.users.get_user(bob.id).role is UserRole.user
    with ApiClient(avatar_server.base_url, api_key=bob_key, timeout=TIMEOUT) as bob_client:
        with pytest.raises(AuthenticationError):
            bob_client.users.get_me()


def test_3x_only_calls_on_a_290_server(keyed: ApiClient) -> None:
    set_name = keyed.resources.put_resources("A", DOCUMENTS).set_name
    job = keyed.jobs.create_job(JobCreateRequest(set_name, "advice"))
    for call in (
        lambda: keyed.jobs.cancel_job(job.name),
        lambda: keyed.jobs.create_job_flow(set_name),
        lambda: keyed.capabilities.get_capabilities(),
    ):
        with pytest.raises(EndpointUnavailableError) as info:
            call()
        assert info.value.required_api == ">= 3.0"


@pytest.mark.avatar_server(api_version=3, job_step_seconds=0.2)
def test_a_290_client_on_a_3x_server(avatar_server: LocalAvatarServer, keyed: ApiClient, avatar_user: object) -> None:
    with ApiClient(avatar_server.base_url, timeout=TIMEOUT) as anonymous:
        with pytest.raises(EndpointUnavailableError) as info:
            anonymous.authenticate("avatar-user@example.com", "avatars-test-password")
        assert "API keys only" in str(info.value) and "avatars-test-password" not in str(info.value)
    assert keyed.users.get_me().email == "avatar-user@example.com"  # an API key works
    assert keyed.capabilities.get_capabilities().input_protocols == ["s3"]
    set_name = keyed.resources.put_resources("flow", DOCUMENTS).set_name
    flow = keyed.jobs.create_job_flow(set_name)
    kinds = {keyed.jobs.get_job_status(j.name).kind for j in flow}
    assert kinds == {JobKind.standard, JobKind.privacy_metrics, JobKind.advice}
    names = [j.name for j in flow][:2]
    assert sorted(j.name for j in keyed.jobs.get_jobs(names=names)) == sorted(names)
    assert keyed.jobs.cancel_job(flow.jobs[-1].name).is_terminal
    with pytest.raises(ConflictError):
        keyed.jobs.cancel_job(flow.jobs[-1].name)
    with pytest.raises(EndpointUnavailableError):
        keyed.users.delete_user(uuid.uuid4())
