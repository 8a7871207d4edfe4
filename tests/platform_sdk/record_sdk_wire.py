"""Record what the platform SDK sends for the calls of ``wire.CALLS`` into ``sdk_wire.json``.

Run with the SDK's interpreter (it cannot be imported next to our package)::

    /work/sdk/venv125/bin/python tests/platform_sdk/record_sdk_wire.py   # -> sdk_wire.json
    /work/sdk/venv130/bin/python tests/platform_sdk/record_sdk_wire.py   # -> sdk_wire_3.json (3.x calls)

(any Python 3.12 with ``pip install octopize.avatar==1.25.0``).  The fixture
it writes is committed; ``tests/integration/test_wire_vs_sdk.py`` compares our
client's live requests for the same calls to it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wire  # the shared recorder, standard library only

try:
    import avatars.base_client  # noqa: F401 - only the platform SDK has it
    from avatars import __version__ as sdk_version
    from avatars.client import ApiClient
    from avatars.models import BulkDeleteRequest, CreateApiKeyRequest, JobCreateRequest, JobKind
except ImportError as exc:  # pragma: no cover
    sys.exit(f"run this with the platform SDK's Python (octopize.avatar 1.25.0): {exc}")

FIXTURE = Path(__file__).resolve().parent / "sdk_wire.json"
FIXTURE_3 = Path(__file__).resolve().parent / "sdk_wire_3.json"


def calls(c: ApiClient) -> Dict[str, Callable[[], Any]]:
    from avatars.models import CreateUser, ForgottenPasswordRequest, Login, ResetPasswordRequest  # 2.90 only

    return {
        "health.get_root": c.health.get_root,
        "health.get_health": c.health.get_health,
        "health.get_health_db": c.health.get_health_db,
        "compatibility.is_client_compatible": c.compatibility.is_client_compatible,
        "openapi.get_openapi_schema": c.openapi.get_openapi_schema,
        "auth.login": lambda: c.auth.login(Login(username=wire.EMAIL, password=wire.PASSWORD)),
        "auth.refresh": lambda: c.auth.refresh("refresh-token"),
        "auth.forgotten_password": lambda: c.auth.forgotten_password(ForgottenPasswordRequest(email=wire.EMAIL)),
        "auth.reset_password": lambda: c.auth.reset_password(
            ResetPasswordRequest(
                email=wire.EMAIL, new_password="n", new_password_repeated="n", token=UUID(wire.RESET_TOKEN)
            )
        ),
        "auth.logout": c.auth.logout,
        "api_keys.list_api_keys": c.api_keys.list_api_keys,
        "api_keys.create_api_key": lambda: c.api_keys.create_api_key(CreateApiKeyRequest(name="k", expiration_days=30)),
        "api_keys.get_api_key": lambda: c.api_keys.get_api_key(wire.KEY),
        "api_keys.revoke_api_key": lambda: c.api_keys.revoke_api_key(wire.KEY),
        "api_keys.revoke_all_api_keys": c.api_keys.revoke_all_api_keys,
        "api_keys.revoke_api_key_admin": lambda: c.api_keys.revoke_api_key_admin(user_id=wire.USER),
        "event_logs.list_my_event_logs": c.event_logs.list_my_event_logs,
        "users.find_users": lambda: c.users.find_users(email=wire.EMAIL),
        "users.create_user": lambda: c.users.create_user(CreateUser(email=wire.EMAIL)),
        "users.get_me": c.users.get_me,
        "users.get_credits_info": c.users.get_credits_info,
        "users.get_features_info": c.users.get_features_info,
        "users.get_user": lambda: c.users.get_user(wire.USER),
        "users.delete_user": lambda: c.users.delete_user(wire.USER),
        "resources.put_resources": lambda: c.resources.put_resources("wire", wire.YAML),
        "resources.create_resource": lambda: c.resources.create_resource(wire.SET, wire.YAML),
        "resources.get_resources": lambda: c.resources.get_resources(wire.SET),
        "resources.get_user_volume": lambda: c.resources.get_user_volume("vol", "input", set_name=wire.SET),
        "jobs.get_jobs": lambda: c.jobs.get_jobs(
            kind=[JobKind.standard, JobKind.report],
            display_name="wire",
            set_name=wire.SET,
            limit=5,
            include_deleted=True,
        ),
        "jobs.create_job": lambda: c.jobs.create_job(
            JobCreateRequest(set_name=UUID(wire.SET), parameters_name="standard", depends_on=["/jobs/parent"])
        ),
        "jobs.get_last_jobs": c.jobs.get_last_jobs,
        "jobs.get_job_status": lambda: c.jobs.get_job_status("standard_1"),
        "jobs.delete_job": lambda: c.jobs.delete_job("standard_1"),
        "jobs.bulk_delete_jobs": lambda: c.jobs.bulk_delete_jobs(BulkDeleteRequest(job_names=["standard_1"])),
        "results.get_results": lambda: c.results.get_results("standard_1"),
        "results.get_permission_to_download": lambda: c.results.get_permission_to_download("s3://bucket/x"),
        "results.get_permissions_to_download_batch": lambda: c.results.get_permissions_to_download_batch(
            ["s3://bucket/x", "s3://bucket/y"]
        ),
        "results.get_upload_url": c.results.get_upload_url,
    }


def calls_3(c: ApiClient) -> Dict[str, Callable[[], Any]]:
    from avatars.models import (
        ConnectionDraft,
        ConnectionPatch,
        ConnectionPresetRequest,
        ConnectionSampleRequest,
        JobFlowCreateRequest,
        ObjectType,
        Verb,
    )

    connections = c.connections

    return {
        "capabilities.get_capabilities": c.capabilities.get_capabilities,
        "jobs.create_job_flow": lambda: c.jobs.create_job_flow(JobFlowCreateRequest(set_name=UUID(wire.SET))),
        "jobs.cancel_job": lambda: c.jobs.cancel_job("standard_1"),
        "jobs.get_jobs(names=)": lambda: c.jobs.get_jobs(names=["standard_1", "other"]),
        "event_logs.list_my_event_logs(filters)": lambda: c.event_logs.list_my_event_logs(
            verb=[Verb.create, Verb.delete], object_type=[ObjectType.job], starting_after=wire.KEY, limit=10
        ),
        "connections.list_connections": connections.list_connections,
        "connections.list_engines": connections.list_engines,
        "connections.list_connection_presets": connections.list_connection_presets,
        "connections.add_connection_presets": lambda: connections.add_connection_presets(
            ConnectionPresetRequest(kind="demo")
        ),
        "connections.put_connection": lambda: connections.put_connection(
            ConnectionDraft(engine="postgresql", dsn=wire.DSN, label="CRM"), "crm"
        ),
        "connections.patch_connection": lambda: connections.patch_connection(ConnectionPatch(name="crm2"), "crm"),
        "connections.delete_connection": lambda: connections.delete_connection("crm"),
        "connections.test_draft_connection": lambda: connections.test_draft_connection(
            ConnectionDraft(engine="postgresql", dsn=wire.DSN, scope="user")
        ),
        "connections.test_connection": lambda: connections.test_connection("crm"),
        "connections.sample_connection": lambda: connections.sample_connection(
            ConnectionSampleRequest(columns={"t": ["id"]}), "crm"
        ),
    }


def main() -> int:
    version = tuple(int(p) for p in sdk_version.split(".")[:2])
    labels, fixture, builder = (
        (wire.CALLS_3, FIXTURE_3, calls_3) if version >= (1, 30) else (wire.CALLS, FIXTURE, calls)
    )
    recorded: Dict[str, Any] = {}
    with wire.Recorder() as recorder:
        client = ApiClient(recorder.base_url, api_key=wire.API_KEY)
        table = builder(client)
        for label in labels:
            before = len(recorder.records)
            table[label]()
            recorded[label] = recorder.records[before:]
    fixture.write_text(
        json.dumps({"sdk": f"octopize.avatar {sdk_version}", "calls": recorded}, indent=1, sort_keys=True) + "\n"
    )
    print(f"wrote {fixture} ({len(recorded)} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
