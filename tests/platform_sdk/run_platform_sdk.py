"""The platform's own SDK (``octopize.avatar``) against ``avatars serve``.

Run with the interpreter that has the SDK installed, NOT ours: both packages
are imported as ``avatars``, so they cannot share an environment.  Our server
runs as a subprocess from another interpreter (``--server-python``, one with
``avatars[server]`` installed)::

    /work/sdk/venv125/bin/python tests/platform_sdk/run_platform_sdk.py \\
        --server-python .venv/bin/python

(``tox -e platform-sdk`` does the same with fresh environments.)  With the
1.30 SDK (platform API 3.17; ``tox -e platform-sdk-3``) the server acts as a
3.x platform: the checks both versions share (:func:`run_shared`) run there
too, what 3.x dropped must answer as the platform's router does (404/405),
and the 3.x additions are called (the job flow, cancel, event-log filters,
the ``/connections`` group, with no response body ever holding a DSN).  Every
endpoint of the contract's table is called through the SDK's ``ApiClient``
with an API key, plus (2.90) the bearer path: a plain ``POST /login`` form (the
1.25.0 SDK's own ``authenticate()`` sends a masked password), an access token
that expires, and the SDK's own refresh.  The set's table is uploaded with the
SDK's ``upload_file``; the jobs run, and their result files are read back with
the SDK's own downloader (every row, the columns, the privacy metrics of the
table).  Each check prints one line; the exit
status is the number of failed checks (0: all passed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import httpx
from _serve import start_server, stop_servers

try:
    from avatars import __version__ as sdk_version
    from avatars.client import ApiClient
    from avatars.models import BulkDeleteRequest, CreateApiKeyRequest, JobCreateRequest, JobKind
except ImportError as exc:  # pragma: no cover - run with the wrong interpreter
    sys.exit(f"run this script with the platform SDK's Python (octopize.avatar), not ours: {exc}")

try:
    import avatars.base_client  # noqa: F401 - only the platform SDK has it
except ImportError:  # pragma: no cover
    sys.exit("this interpreter imports our avatars package, not the platform SDK's")

ADMIN_HEADER = "X-Avatar-Admin-Secret"

DOCUMENTS = """\
kind: AvatarMetadata
metadata:
  name: avatar-metadata
spec:
  display_name: sdk-check
---
kind: AvatarSchema
metadata:
  name: patients
spec:
  tables:
  - name: patients
    data:
      file: patients.csv
---
kind: AvatarParameters
metadata:
  name: standard
spec:
  schema: patients
  avatarization:
    patients:
      k: 5
---
kind: AvatarPrivacyMetricsParameters
metadata:
  name: privacy_metrics
spec:
  schema: patients
---
kind: AvatarSignalMetricsParameters
metadata:
  name: signal_metrics
spec:
  schema: patients
---
kind: AvatarReportParameters
metadata:
  name: report
spec:
  report_type: basic
"""
ADVICE = """\
kind: AvatarAdviceParameters
metadata:
  name: advice
spec:
  schema: patients
  advice:
    advisor_type:
    - parameters
"""
#: the table the set names (uploaded with the SDK's own upload_file)
PATIENTS = "id,age,weight\n" + "".join(f"{i},{20 + i % 60},{50 + i % 40}.5\n" for i in range(1, 41))


class Checks:
    def __init__(self) -> None:
        self.failed: List[str] = []
        self.passed = 0

    def run(self, label: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except Exception as exc:
            self.failed.append(label)
            print(f"FAIL  {label}: {type(exc).__name__}: {exc}")
            if os.environ.get("SDK_CHECK_TRACEBACK"):
                traceback.print_exc()
            return None
        self.passed += 1
        print(f"ok    {label}")
        return result

    def raises(self, label: str, needle: str, call: Callable[[], Any]) -> None:
        """The call must fail with ``needle`` in the SDK's message (an error envelope it read)."""

        def check() -> None:
            try:
                call()
            except Exception as exc:
                if needle not in str(exc):
                    raise AssertionError(f"expected {needle!r} in the error, got: {exc}") from None
                return
            raise AssertionError("expected an error, the call succeeded")

        self.run(label, check)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def admin(info: Dict[str, str], path: str, body: Dict[str, Any]) -> Dict[str, Any]:
    origin = info["base URL"].rsplit("/api", 1)[0]
    response = httpx.post(f"{origin}/_admin{path}", json=body, headers={ADMIN_HEADER: info["admin secret"]})
    response.raise_for_status()
    data: Dict[str, Any] = response.json()
    return data


def run_290(info: Dict[str, str], checks: Checks) -> None:
    """SDK 1.25 (platform API 2.90): the shared surface, then the 2.90-only bearer path."""
    run_shared(info, checks, 2)
    # auth: a plain POST /login form, an access token that expires, the SDK's refresh
    run_bearer(info, checks)


def run_shared(info: Dict[str, str], checks: Checks, major: int) -> None:
    """Every endpoint both platform versions have, through the SDK's ``ApiClient``.

    ``major`` is the platform API the server acts as: the user-admin calls the
    2.90 SDK has (create and delete a user) are made with the SDK there, and
    through the server's admin API on 3.x (whose SDK has none)."""
    base = info["base URL"]
    client = ApiClient(base, api_key=info["API key"])
    run = checks.run
    tag = "" if major == 2 else "3.x "

    # health, compatibility, openapi
    run(f"{tag}health.get_root", lambda: expect("message" in client.health.get_root(), "no message"))
    run(f"{tag}health.get_health", lambda: expect(client.health.get_health()["message"] == "ok", "not ok"))
    run(f"{tag}health.get_health_db", lambda: expect(client.health.get_health_db()["message"] == "ok", "not ok"))
    run(
        f"{tag}compatibility.is_client_compatible",
        lambda: expect(client.compatibility.is_client_compatible().status.value == "compatible", "not compatible"),
    )
    paths = run(f"{tag}openapi.get_openapi_schema", lambda: client.openapi.get_openapi_schema()["paths"])
    if paths is not None:
        run(f"{tag}the OpenAPI document lists /jobs", lambda: expect("/jobs" in paths, "no /jobs"))
        only_3 = ("/capabilities", "/connections", "/jobs/flow")
        run(
            f"{tag}the OpenAPI document lists this version's paths only",
            lambda: expect(
                all((p in paths) == (major >= 3) for p in only_3) and ("/login" in paths) == (major == 2),
                f"{sorted(paths)}",
            ),
        )

    # users
    me = run(f"{tag}users.get_me", client.users.get_me)
    run(f"{tag}users.get_credits_info", lambda: client.users.get_credits_info())
    run(f"{tag}users.get_features_info", lambda: client.users.get_features_info())
    if me is not None:
        run(
            f"{tag}users.find_users(email=)",
            lambda: expect(client.users.find_users(email=me.email)[0].id == me.id, "?"),
        )
        run(f"{tag}users.get_user", lambda: expect(client.users.get_user(str(me.id)).email == me.email, "wrong user"))

    # api keys
    keys = run(f"{tag}api_keys.list_api_keys", client.api_keys.list_api_keys)
    created = run(
        f"{tag}api_keys.create_api_key",
        lambda: client.api_keys.create_api_key(CreateApiKeyRequest(name="sdk", expiration_days=30)),
    )
    if created is not None:
        key_id = created["api_key"]["id"]
        run(
            f"{tag}api_keys.get_api_key",
            lambda: expect(client.api_keys.get_api_key(key_id).name == "sdk", "wrong key"),
        )
        run(f"{tag}api_keys.revoke_api_key", lambda: client.api_keys.revoke_api_key(key_id))
        run(
            f"{tag}api_keys.get_api_key after revoke",
            lambda: expect(client.api_keys.get_api_key(key_id).revoked_at is not None, "not revoked"),
        )
    expect(keys is None or len(keys) >= 1, "no key listed")

    # admin: a second user (the SDK's create_user on 2.90), whose keys an admin revokes
    root = admin(info, "/users", {"email": "root@example.com", "password": "root-pw", "role": "admin"})
    root_key = admin(info, "/api-keys", {"user": root["id"], "name": "root"})["plaintext"]
    root_client = ApiClient(base, api_key=root_key)
    bob_id: Optional[str] = None
    if major == 2:
        from avatars.models import CreateUser  # SDK 1.25 (platform API 2.90) only

        bob = run(
            "users.create_user (admin)", lambda: root_client.users.create_user(CreateUser(email="bob@example.com"))
        )
        bob_id = str(bob.id) if bob is not None else None
    else:
        bob_id = admin(info, "/users", {"email": "bob@example.com", "password": "bob-pw"})["id"]
    if bob_id is not None:
        bob_key = admin(info, "/api-keys", {"user": bob_id, "name": "bob"})
        run(
            f"{tag}api_keys.revoke_api_key_admin(api_key_id=)",
            lambda: root_client.api_keys.revoke_api_key_admin(api_key_id=bob_key["id"]),
        )
        checks.raises(
            f"{tag}a revoked key is refused",
            "not authenticated",
            lambda: ApiClient(base, api_key=bob_key["plaintext"]).users.get_me(),
        )
        run(
            f"{tag}api_keys.revoke_api_key_admin(user_id=)",
            lambda: root_client.api_keys.revoke_api_key_admin(user_id=bob_id),
        )
        if major == 2:
            run(
                "users.delete_user (admin)",
                lambda: expect(str(root_client.users.delete_user(bob_id).id) == bob_id, "?"),
            )

    # resource sets: versioned PUT, POST appends, GET, volume; the table they name, uploaded by the SDK
    upload_patients(client, checks)
    checks.raises(
        f"{tag}resources.put_resources refuses a document the platform refuses",
        "schema",
        lambda: client.resources.put_resources("bad", "kind: AvatarParameters\nmetadata: {name: p}\nspec: {}\n"),
    )
    first = run(f"{tag}resources.put_resources", lambda: client.resources.put_resources("sdk-set", DOCUMENTS))
    second = run(f"{tag}resources.put_resources again", lambda: client.resources.put_resources("sdk-set", DOCUMENTS))
    if first is None or second is None:
        return
    run(f"{tag}PUT creates a new version", lambda: expect(first.set_name != second.set_name, "same set_name"))
    run(
        f"{tag}resources.create_resource (appends)",
        lambda: expect(client.resources.create_resource(str(first.set_name), ADVICE).set_name == first.set_name, "?"),
    )
    run(
        f"{tag}resources.get_resources",
        lambda: expect("AvatarAdviceParameters" in client.resources.get_resources(str(first.set_name)), "not added"),
    )
    checks.raises(
        f"{tag}resources.create_resource on an unknown set",
        "404",
        lambda: client.resources.create_resource(str(uuid.uuid4()), ADVICE),
    )
    run(
        f"{tag}resources.get_user_volume",
        lambda: expect(
            "AvatarVolume" in client.resources.get_user_volume("in", "input", set_name=str(first.set_name)), "?"
        ),
    )

    # jobs: kind from the parameters document, depends_on by Location, real filters
    standard = run(
        f"{tag}jobs.create_job",
        lambda: client.jobs.create_job(JobCreateRequest(set_name=first.set_name, parameters_name="standard")),
    )
    if standard is None:
        return
    privacy = run(
        f"{tag}jobs.create_job depends_on=[Location]",
        lambda: client.jobs.create_job(
            JobCreateRequest(set_name=first.set_name, parameters_name="privacy_metrics", depends_on=[standard.Location])
        ),
    )
    other = run(
        f"{tag}jobs.create_job on the other set",
        lambda: client.jobs.create_job(JobCreateRequest(set_name=second.set_name, parameters_name="standard")),
    )
    checks.raises(
        f"{tag}jobs.create_job unknown parameters_name",
        "parameters_name",
        lambda: client.jobs.create_job(JobCreateRequest(set_name=first.set_name, parameters_name="nope")),
    )
    run(
        f"{tag}job kind comes from the document",
        lambda: expect(client.jobs.get_job_status(privacy.name).kind == JobKind.privacy_metrics, "wrong kind"),
    )
    run(
        f"{tag}jobs.get_jobs(set_name=) keeps one set",
        lambda: expect(
            {j.name for j in client.jobs.get_jobs(set_name=str(first.set_name)).jobs} == {standard.name, privacy.name},
            "the filter leaks another set's jobs",
        ),
    )
    run(
        f"{tag}jobs.get_jobs(kind=[..], display_name=, limit=)",
        lambda: expect(
            [j.name for j in client.jobs.get_jobs(kind=[JobKind.standard], display_name="sdk-set", limit=1).jobs]
            == [other.name],
            "filters do not combine",
        ),
    )
    if major >= 3:
        run(
            "3.x jobs.get_jobs: newest first",
            lambda: expect(
                [j.name for j in client.jobs.get_jobs(display_name="sdk-set").jobs][:3]
                == [other.name, privacy.name, standard.name],
                "not newest first",
            ),
        )
        run("3.x JobResponse has phase, phase_done, phase_total", lambda: check_phase(info, standard.name))
        run(
            "3.x jobs.get_jobs(kind=[a 3.x kind])",
            lambda: expect(client.jobs.get_jobs(kind=[JobKind("extract"), JobKind.standard]).jobs, "no standard jobs"),
        )
    run(f"{tag}jobs.get_last_jobs", lambda: expect(len(client.jobs.get_last_jobs().jobs) >= 1, "no jobs"))
    deadline = time.monotonic() + 30
    while client.jobs.get_job_status(standard.name).status.value not in ("finished", "error"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    status = run(f"{tag}jobs.get_job_status", lambda: client.jobs.get_job_status(standard.name))
    run(
        f"{tag}the standard job finished",
        lambda: expect(status is not None and status.status.value == "finished", f"{status}"),
    )
    results = run(f"{tag}results.get_results", lambda: client.results.get_results(standard.name))
    run(f"{tag}results name the avatarized table", lambda: check_results(client, results or {}))
    run(f"{tag}privacy metrics of the standard job it depends on", lambda: check_privacy(client, privacy.name))
    run(
        f"{tag}jobs.delete_job",
        lambda: expect(client.jobs.delete_job(other.name).deleted_at is not None, "not deleted"),
    )
    run(
        f"{tag}jobs.get_jobs(include_deleted=True)",
        lambda: expect(
            other.name in [j.name for j in client.jobs.get_jobs(include_deleted=True).jobs], "deleted job missing"
        ),
    )
    run(
        f"{tag}jobs.bulk_delete_jobs",
        lambda: expect(
            client.jobs.bulk_delete_jobs(BulkDeleteRequest(job_names=[privacy.name, "nope"])).failed_jobs == ["nope"],
            "?",
        ),
    )

    # results and storage
    run(
        f"{tag}results.get_upload_url",
        lambda: expect(isinstance(client.results.get_upload_url(), str), "not a string"),
    )
    elsewhere = f"s3://avatars/users/{uuid.uuid4()}/x.csv"  # another user's prefix
    checks.raises(
        f"{tag}results.get_permission_to_download (another user's location)",
        "403",
        lambda: client.results.get_permission_to_download(elsewhere),
    )
    run(
        f"{tag}results.get_permissions_to_download_batch (locations of others left out)",
        lambda: expect(client.results.get_permissions_to_download_batch([elsewhere]) == [], "not left out"),
    )

    # event logs
    run(
        f"{tag}event_logs.list_my_event_logs",
        lambda: expect(len(client.event_logs.list_my_event_logs()) >= 1, "empty"),
    )
    if major >= 3:
        check_event_filters(client, checks)

    # the created-operation protocol, as the SDK speaks it
    admin(info, "/operations", {"method": "GET", "path": "/api/users/me", "polls": 2})
    run(f"{tag}created operation: 201 + Location, 202, then the answer", lambda: client.users.get_me())


def check_phase(info: Dict[str, str], job_name: str) -> None:
    """3.x ``JobResponse`` carries the phase fields (the SDK's model has defaults, so read the wire)."""
    response = httpx.get(
        f"{info['base URL']}/jobs/{job_name}", headers={"Authorization": f"api-key-v1 {info['API key']}"}
    )
    body = response.json()
    expect(all(k in body for k in ("phase", "phase_done", "phase_total")), f"fields {sorted(body)}")


def check_event_filters(client: Any, checks: Checks) -> None:
    """3.x ``GET /event-logs`` filters: verb, object_type, created_from/before, pages with starting_after."""
    from avatars.models import ObjectType, Verb  # only in SDK >= 1.30

    run = checks.run
    every = client.event_logs.list_my_event_logs()
    run(
        "3.x event_logs(verb=[create])",
        lambda: expect(
            {e.verb for e in client.event_logs.list_my_event_logs(verb=[Verb.create])} == {"create"}, "other verbs"
        ),
    )
    run(
        "3.x event_logs(object_type=[job])",
        lambda: expect(
            {e.object_type for e in client.event_logs.list_my_event_logs(object_type=[ObjectType.job])} == {"job"},
            "other object types",
        ),
    )
    newest = every[0].created_at.isoformat()
    run(
        "3.x event_logs(created_from=, created_before=)",
        lambda: expect(
            len(client.event_logs.list_my_event_logs(created_from=newest)) >= 1
            and len(client.event_logs.list_my_event_logs(created_before=every[-1].created_at.isoformat())) == 0,
            "the time filters do not apply",
        ),
    )

    def pages() -> None:
        seen: List[str] = []
        after: Optional[str] = None
        while True:
            page = client.event_logs.list_my_event_logs(limit=2, starting_after=after)
            seen += [str(e.id) for e in page]
            if len(page) < 2:
                break
            after = str(page[-1].id)
        expect(seen == [str(e.id) for e in every], "the pages do not add up to the whole trail")

    run("3.x event_logs pages (limit=, starting_after=)", pages)
    checks.raises(
        "3.x event_logs refuses an unknown verb (422)", "422", lambda: client.event_logs.list_my_event_logs(verb=["x"])
    )


def check_results(client: Any, results: Dict[str, List[str]]) -> None:
    """The standard job's files: every row of the table, avatarized, read back by the SDK's downloader."""
    from avatars.file_downloader import FileDownloader

    kinds = ["avatar_projections", "figures", "figures_metadata", "original_projections", "run_metadata"]
    expect(sorted(results) == [*kinds, "shuffled", "unshuffled"], f"result kinds {sorted(results)}")
    (url,) = results["unshuffled"]
    expect(url.rsplit("/", 1)[-1] == "patients.unshuffled.csv", f"file name of {url}")
    frame = FileDownloader(client).download_file(url)
    expect(list(frame.columns) == ["id", "age", "weight"], f"columns {list(frame.columns)}")
    expect(len(frame) == PATIENTS.count("\n") - 1, f"{len(frame)} rows")
    batch = client.results.get_permissions_to_download_batch(results["shuffled"])
    expect(client.download_file(batch[0]).count("\n") == PATIENTS.count("\n"), "shuffled rows")


def upload_patients(client: Any, checks: Checks) -> None:
    """The table the sets name, uploaded with the SDK's own ``upload_file`` (s3fs to the store)."""
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "patients.csv"
        table.write_text(PATIENTS)
        checks.run("upload_file (the set's table)", lambda: client.upload_file(data=str(table), key="patients.csv"))


def check_privacy(client: Any, job_name: str) -> None:
    """The privacy job (it depends on the standard job) ends with the table's metrics."""
    from avatars.file_downloader import FileDownloader

    deadline = time.monotonic() + 30
    while client.jobs.get_job_status(job_name).status.value not in ("finished", "error"):
        expect(time.monotonic() < deadline, "the privacy job did not end")
        time.sleep(0.05)
    status = client.jobs.get_job_status(job_name)
    expect(status.status.value == "finished", f"{status.status.value}: {status.exception}")
    (url,) = client.results.get_results(job_name)["privacy_metrics"]
    (metrics,) = FileDownloader(client).download_file(url)
    expect(metrics["metadata"] == {"table_name": "patients"}, f"{metrics.get('metadata')}")


def run_bearer(info: Dict[str, str], checks: Checks) -> None:
    from avatars.models import (  # SDK 1.25 (platform API 2.90) only
        ForgottenPasswordRequest,
        Login,
        LoginResponse,
        ResetPasswordRequest,
    )

    base = info["base URL"]
    admin(info, "/settings", {"access_token_lifetime": 1})
    form = {"username": info["username"], "password": info["password"], "grant_type": "password", "scope": ""}
    login = checks.run("POST /login (plain form)", lambda: httpx.post(f"{base}/login", data=form).raise_for_status())
    admin(info, "/settings", {"access_token_lifetime": 3600})
    if login is None:
        return
    tokens = LoginResponse(**login.json())
    client = ApiClient(base)
    client._update_auth_tokens(tokens)  # what authenticate() does after its (buggy) login
    checks.run("bearer: users.get_me", client.users.get_me)
    time.sleep(1.2)  # let the 1 s access token expire (setup, not an assertion on time)
    checks.run("bearer: expired token refreshed by the SDK, call retried", client.users.get_me)
    checks.run(
        "auth.refresh",
        lambda: expect(client.auth.refresh(client.auth_tokens.refresh).access_token, "no token"),  # type: ignore[union-attr]
    )
    checks.run(
        "auth.forgotten_password",
        lambda: client.auth.forgotten_password(ForgottenPasswordRequest(email=info["username"])),
    )
    checks.raises(
        "auth.reset_password (wrong token)",
        "400",
        lambda: client.auth.reset_password(
            ResetPasswordRequest(
                email=info["username"], new_password="x", new_password_repeated="x", token=uuid.uuid4()
            )
        ),
    )
    checks.raises("auth.get_authorization_code (no SSO here)", "501", client.auth.get_authorization_code)
    checks.raises("auth.auth (no SSO here)", "501", client.auth.auth)
    checks.run("auth.logout", client.auth.logout)
    checks.raises(
        "auth.login (the SDK's model masks the password)",
        "401",
        lambda: client.auth.login(Login(username=info["username"], password=info["password"])),
    )
    # last: revoke every key of the demo user (the key in use included)
    keyed = ApiClient(base, api_key=info["API key"])
    checks.run("api_keys.revoke_all_api_keys", keyed.api_keys.revoke_all_api_keys)
    checks.raises("the revoked key is refused", "not authenticated", keyed.users.get_me)


def run_3x(info: Dict[str, str], checks: Checks) -> None:
    """SDK 1.30 (platform API 3.17) against ``avatars serve --api-version 3``: the shared
    surface, what 3.x dropped, and the 3.x additions (flow, cancel, connections)."""
    run_shared(info, checks, 3)
    run_3x_absent(info, checks)
    run_3x_flow(info, checks)
    run_3x_connections(info, checks)
    # last: revoke every key of the demo user (the key in use included)
    keyed = ApiClient(info["base URL"], api_key=info["API key"])
    checks.run("3.x api_keys.revoke_all_api_keys", keyed.api_keys.revoke_all_api_keys)
    checks.raises("3.x the revoked key is refused", "not authenticated", keyed.users.get_me)


def run_3x_absent(info: Dict[str, str], checks: Checks) -> None:
    """What 3.x dropped answers as the platform's router does: 404 for a path it
    lacks, 405 for a method it lacks on a path it has."""
    base = info["base URL"]
    auth = {"Authorization": f"api-key-v1 {info['API key']}"}
    me = httpx.get(f"{base}/users/me", headers=auth).json()["id"]
    for method, path, status in (
        ("POST", "/login", 404),
        ("POST", "/refresh", 404),
        ("POST", "/logout", 404),
        ("POST", "/login/forgotten_password", 404),
        ("POST", "/login/reset_password", 404),
        ("GET", "/login/sso", 404),
        ("POST", "/users", 405),
        ("DELETE", f"/users/{me}", 405),
    ):
        checks.run(
            f"3.x has no {method} {path.replace(me, '{id}')} ({status})",
            lambda method=method, path=path, status=status: expect(  # type: ignore[misc]
                httpx.request(method, f"{base}{path}", headers=auth, json={}).status_code == status, "answered"
            ),
        )


def run_3x_flow(info: Dict[str, str], checks: Checks) -> None:
    from avatars.models import JobFlowCreateRequest  # only in SDK >= 1.30

    base = info["base URL"]
    client = ApiClient(base, api_key=info["API key"])
    run = checks.run
    run(
        "3.x capabilities.get_capabilities", lambda: expect(client.capabilities.get_capabilities().input_protocols, "?")
    )
    stored = run(
        "3.x resources.put_resources (flow)",
        lambda: client.resources.put_resources("flow", DOCUMENTS + "---\n" + ADVICE),
    )
    if stored is None:
        return
    flow = run(
        "3.x jobs.create_job_flow",
        lambda: client.jobs.create_job_flow(JobFlowCreateRequest(set_name=stored.set_name)),
    )
    if flow is None:
        return
    names = [j.name for j in flow.jobs]
    run("3.x one job per parameters document", lambda: expect(len(names) == 5, f"{len(names)} jobs"))
    run(
        "3.x jobs.get_jobs(names=)",
        lambda: expect(
            sorted(j.name for j in client.jobs.get_jobs(names=names[:2] + ["none"]).jobs) == sorted(names[:2]), "?"
        ),
    )
    report = next(n for n in names if n.startswith("report_"))  # queued behind its parents (1 s steps)
    run("3.x jobs.cancel_job", lambda: expect(client.jobs.cancel_job(report).done, "not ended"))
    checks.raises("3.x cancel an ended job", "409", lambda: client.jobs.cancel_job(report))
    privacy = next(n for n in names if n.startswith("privacy_metrics_"))
    run("3.x the flow's privacy job ends with the table's metrics", lambda: check_privacy(client, privacy))
    standard = next(n for n in names if n.startswith("standard_"))
    run("3.x the flow's standard job's results", lambda: check_results(client, client.results.get_results(standard)))
    run(
        "3.x event_logs.list_my_event_logs(limit=)",
        lambda: expect(len(client.event_logs.list_my_event_logs(limit=1)) == 1, "limit ignored"),
    )


#: The secret of the connections the checks store: no response body may hold it.
DSN_SECRET = "dsn-secret-7f3a"


def run_3x_connections(info: Dict[str, str], checks: Checks) -> None:
    """The ``/connections`` group through the SDK's ``Connections``; every response body
    of the run is kept, and none may hold the DSN's secret or the DSN itself."""
    from avatars.models import (  # only in SDK >= 1.30
        ConnectionDraft,
        ConnectionPatch,
        ConnectionPresetRequest,
        ConnectionSampleRequest,
    )

    base = info["base URL"]
    bodies: List[bytes] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.content)

    http = httpx.Client(base_url=base, event_hooks={"response": [keep]})
    client = ApiClient(base, api_key=info["API key"], http_client=http)
    connections = client.connections
    run = checks.run
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "clinic.sqlite"
        make_sqlite(database)
        dsn = f"sqlite:///{database}?note={DSN_SECRET}"

        run(
            "3.x connections.list_engines: sqlite available, the others listed unavailable",
            lambda: check_engines(connections.list_engines()),
        )
        presets = run("3.x connections.list_connection_presets", connections.list_connection_presets)
        run(
            "3.x the deployment offers a demo preset",
            lambda: expect([p.kind.value for p in presets.presets] == ["demo"], f"{presets}"),
        )
        added = run(
            "3.x connections.add_connection_presets(demo)",
            lambda: connections.add_connection_presets(ConnectionPresetRequest(kind="demo")),
        )
        run(
            "3.x adding the presets twice adds nothing",
            lambda: expect(
                len(added["connections"]) == 1
                and connections.add_connection_presets(ConnectionPresetRequest(kind="demo"))["connections"] == [],
                f"{added}",
            ),
        )
        checks.raises(
            "3.x add_connection_presets(sample): none offered (404)",
            "404",
            lambda: connections.add_connection_presets(ConnectionPresetRequest(kind="sample")),
        )
        run(
            "3.x connections.test_connection(demo)",
            lambda: expect(connections.test_connection("demo").table_count == 2, "demo tables"),
        )
        draft = ConnectionDraft(engine="sqlite", dsn=dsn, label="Clinic", scope="user")
        probe = run("3.x connections.test_draft_connection", lambda: connections.test_draft_connection(draft))
        run(
            "3.x the draft probe reports the database",
            lambda: expect(
                probe.reachable and probe.has_schema and not probe.is_empty and probe.table_count == 2, f"{probe}"
            ),
        )
        stored = run("3.x connections.put_connection (user scope)", lambda: connections.put_connection(draft, "clinic"))
        run(
            "3.x the summary carries a redacted form, not the DSN",
            lambda: expect(
                stored.scope.value == "user" and stored.redacted and DSN_SECRET not in stored.redacted, f"{stored}"
            ),
        )
        checks.raises(
            "3.x put_connection, organization scope, not an admin (403)",
            "403",
            lambda: connections.put_connection(
                ConnectionDraft(engine="sqlite", dsn=dsn, scope="organization"), "clinic-org"
            ),
        )
        checks.raises(
            "3.x put_connection with an engine that is not available (422)",
            "422",
            lambda: connections.put_connection(
                ConnectionDraft(engine="postgresql", dsn=f"postgresql://u:{DSN_SECRET}@db/x", scope="user"), "pg"
            ),
        )
        checks.raises(
            "3.x put_connection, the DSN's scheme is not the engine (422)",
            "422",
            lambda: connections.put_connection(
                ConnectionDraft(engine="sqlite", dsn=f"mysql://u:{DSN_SECRET}@db/x", scope="user"), "bad"
            ),
        )
        run(
            "3.x test_draft_connection, unavailable engine: a displayable error",
            lambda: check_unavailable(
                connections.test_draft_connection(
                    ConnectionDraft(engine="mysql", dsn=f"mysql://u:{DSN_SECRET}@db/x", scope="user")
                )
            ),
        )
        run(
            "3.x connections.list_connections",
            lambda: expect(
                sorted(c.name for c in connections.list_connections().connections) == ["clinic", "demo"],
                "not listed",
            ),
        )
        run(
            "3.x capabilities list the engines and the connections",
            lambda: check_capabilities(client.capabilities.get_capabilities()),
        )
        sample = run(
            "3.x connections.sample_connection",
            lambda: connections.sample_connection(
                ConnectionSampleRequest(columns={"patients": ["patient_id", "nope"], "ghost": ["x"]}, limit=3),
                "clinic",
            ),
        )
        run(
            "3.x the sample: the asked columns only, the limit, what is missing",
            lambda: expect(
                sample.samples == {"patients": {"patient_id": ["1", "2", "3"]}}
                and sorted(sample.missing or []) == ["ghost", "patients.nope"],
                f"{sample}",
            ),
        )
        run(
            "3.x connections.patch_connection (relabel)",
            lambda: expect(
                connections.patch_connection(ConnectionPatch(label="Clinic 2"), "clinic").label == "Clinic 2", "?"
            ),
        )
        renamed = run(
            "3.x connections.patch_connection (rename: the SDK sends label null)",
            lambda: connections.patch_connection(ConnectionPatch(name="clinic-2"), "clinic"),
        )
        run(
            "3.x the rename kept the connection and its label",
            lambda: expect(
                renamed.name == "clinic-2"
                and renamed.label == "Clinic 2"
                and connections.test_connection("clinic-2").reachable,
                f"{renamed}",
            ),
        )
        checks.raises("3.x the old name is gone (404)", "404", lambda: connections.test_connection("clinic"))
        checks.raises(
            "3.x patch_connection to a taken name (422)",
            "422",
            lambda: connections.patch_connection(ConnectionPatch(name="demo"), "clinic-2"),
        )
        run("3.x connections.delete_connection", lambda: connections.delete_connection("clinic-2"))
        checks.raises("3.x a deleted connection is gone (404)", "404", lambda: connections.test_connection("clinic-2"))
        run(
            "3.x the event log has the connection calls",
            lambda: expect(
                {"create", "update", "delete", "test", "read"}
                <= {e.verb for e in client.event_logs.list_my_event_logs(object_type=["connection"])},
                "missing verbs",
            ),
        )
    http.close()
    run(
        "3.x no response body holds the DSN or its secret",
        lambda: expect(
            len(bodies) > 20
            and not any(DSN_SECRET.encode() in b or str(database).encode() + b"?" in b for b in bodies),
            f"{len(bodies)} bodies",
        ),
    )


def make_sqlite(path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE patients (patient_id INTEGER PRIMARY KEY, age INTEGER)")
    db.execute("CREATE TABLE visits (visit_id INTEGER PRIMARY KEY, patient_id INTEGER)")
    db.executemany("INSERT INTO patients VALUES (?, ?)", [(i, 20 + i) for i in range(1, 11)])
    db.commit()
    db.close()


def check_engines(engines: Any) -> None:
    by_name = {e.engine: e for e in engines.engines}
    expect(by_name["sqlite"].available, "sqlite not available")
    expect({"postgresql", "mysql"} <= set(by_name), f"engines {sorted(by_name)}")
    expect(not any(e.available for name, e in by_name.items() if name != "sqlite"), "another engine available")
    secret = [f.key for e in engines.engines for f in e.fields if f.secret]
    expect("password" in secret, "no secret field")


def check_unavailable(probe: Any) -> None:
    expect(not probe.reachable and probe.error and "not available" in probe.error, f"{probe}")


def check_capabilities(capabilities: Any) -> None:
    expect(capabilities.database_engines == ["sqlite"], f"{capabilities.database_engines}")
    names = sorted(c.name for c in capabilities.connections)
    expect(names == ["clinic", "demo"], f"{names}")


def check_storage(info: Dict[str, str], checks: Checks) -> None:
    """The SDK's own ``upload_file``/``download_file`` and s3fs against the server's
    object store (``storage_check.py``); first, while the demo user's API key
    lives, and in a process of its own (the SDK keeps state between clients)."""
    script = Path(__file__).resolve().parent / "storage_check.py"

    def check() -> None:
        done = subprocess.run(
            [sys.executable, str(script), info["base URL"], info["API key"]],
            capture_output=True,
            text=True,
            timeout=300,
        )
        print(done.stdout.strip())
        expect(done.returncode == 0, f"storage_check failed: {done.stderr.strip()[-2000:]}")

    checks.run("storage: upload_file, download_file, s3fs (storage_check.py)", check)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-python", required=True, help="a Python with avatars[server] installed")
    args = parser.parse_args(argv)
    checks = Checks()
    print(f"platform SDK {sdk_version} against avatars serve ({args.server_python})")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            if tuple(int(p) for p in sdk_version.split(".")[:2]) >= (1, 30):
                info = start_server(args.server_python, Path(workdir), 3)
                print(f"server (as platform 3.x): {info['base URL']}")
                check_storage(info, checks)
                run_3x(info, checks)
            else:
                info = start_server(args.server_python, Path(workdir), 2)
                print(f"server: {info['base URL']}")
                check_storage(info, checks)
                run_290(info, checks)
    finally:
        stop_servers()
    print(json.dumps({"passed": checks.passed, "failed": checks.failed}))
    return len(checks.failed)


if __name__ == "__main__":
    sys.exit(main())
