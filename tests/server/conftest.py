"""Fixtures for the local server tests: real sockets on 127.0.0.1, plain requests."""

from __future__ import annotations

import json
import random
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from avatars.testing import LocalAvatarServer
from avatars.testing.admin import CreatedUser
from avatars.testing.resource_sets import PARAMETERS_KINDS


@pytest.fixture
def srv() -> Iterator[LocalAvatarServer]:
    with LocalAvatarServer(job_step_seconds=0.01, job_steps=3) as server:
        yield server


@pytest.fixture
def srv3() -> Iterator[LocalAvatarServer]:
    """The server acting as platform API 3.x."""
    with LocalAvatarServer(job_step_seconds=0.01, job_steps=2, api_version=3) as server:
        yield server


@pytest.fixture
def user(srv: LocalAvatarServer) -> CreatedUser:
    return srv.admin.create_user("alice@example.com", "alice-password")


@pytest.fixture
def api_key(srv: LocalAvatarServer, user: CreatedUser) -> str:
    return srv.admin.create_api_key(user)


def key_session(api_key: str) -> requests.Session:
    """A plain requests session that authenticates with ``api_key``."""
    session = requests.Session()
    session.headers["Authorization"] = f"api-key-v1 {api_key}"
    return session


@pytest.fixture
def http(api_key: str) -> Iterator[requests.Session]:
    session = key_session(api_key)
    session.headers["User-Agent"] = "avatar-python/0.1.0 requests"
    yield session
    session.close()


def people_csv(rows: int = 120, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    lines = ["id,age,height,weight,city"]
    for i in range(rows):
        age = rng.randint(18, 90)
        height = rng.gauss(170, 10)
        weight = height * 0.4 + rng.gauss(0, 5)
        lines.append(f"{i},{age},{height:.1f},{weight:.1f},{rng.choice(['paris', 'lyon', 'nice'])}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload(http: requests.Session, srv: LocalAvatarServer, data: bytes, name: str = "people") -> Dict[str, Any]:
    """Put ``data`` in the caller's prefix of the object store; ``id`` names it in a resource document."""
    import uuid

    prefix = http.get(srv.url("/upload_url")).json()
    object_id = str(uuid.uuid4())
    grant = http.get(srv.url("/access"), params={"url": f"{prefix}/{object_id}"}).json()
    client = s3_client(srv.storage_endpoint_url, grant)
    try:
        client.put_object(Bucket="avatars", Key=f"{prefix[len('s3://avatars/') :]}/{object_id}", Body=data)
    finally:
        client.close()
    return {"id": object_id, "name": name, "location": f"{prefix}/{object_id}", "grant": grant}


#: The entries of :func:`make_set` that start the other job kinds (the job kind
#: comes from the parameters document, contract v2).
ENTRY_OF_KIND = {"standard": "p1", "privacy_metrics": "p1-privacy", "signal_metrics": "p1-signal"}
ENTRY_OF_KIND.update({"report": "p1-report", "advice": "p1-advice"})
METRICS_ENTRIES = {ENTRY_OF_KIND[job]: doc for doc, job in PARAMETERS_KINDS.items() if job != "standard"}


def make_set(
    http: requests.Session,
    srv: LocalAvatarServer,
    dataset_id: str,
    *,
    k: int = 5,
    display_name: str = "people-set",
    parameters: Optional[List[Dict[str, Any]]] = None,
) -> str:
    doc = {
        "tables": [{"name": "people", "dataset_id": dataset_id, "primary_key": "id"}],
        "parameters": parameters
        or [
            {"name": "p1", "table": "people", "k": k, "ncp": None, "seed": 7},
            *({"name": name, "table": "people", "kind": kind} for name, kind in METRICS_ENTRIES.items()),
        ],
    }
    response = http.put(
        srv.url(f"/resources/{display_name}"), data=json.dumps(doc), headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 200, response.text
    set_name: str = response.json()["set_name"]
    return set_name


def create_job(
    http: requests.Session,
    srv: LocalAvatarServer,
    set_name: str,
    kind: str,
    depends_on: Optional[List[str]] = None,
    parameters_name: Optional[str] = None,
) -> str:
    """A job of ``kind``: the entry of :func:`make_set` with that kind, unless ``parameters_name`` is given."""
    response = http.post(
        srv.url("/jobs"),
        json={
            "set_name": set_name,
            "parameters_name": parameters_name or ENTRY_OF_KIND[kind],
            "depends_on": depends_on or [],
        },
    )
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


def wait_job(http: requests.Session, srv: LocalAvatarServer, name: str, timeout: float = 20.0) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: Dict[str, Any] = http.get(srv.url(f"/jobs/{name}")).json()
        if job["done"]:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {name} did not end")


def s3_client(endpoint: str, grant: Dict[str, Any], *, secret: Optional[str] = None) -> Any:
    """A botocore S3 client (path-style, SigV4, no retries) with the credentials of a ``FileAccess``."""
    import botocore.session
    from botocore.config import Config

    credentials = grant["credentials"]
    return botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=secret if secret is not None else credentials["secret_access_key"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def fetch_result(http: requests.Session, srv: LocalAvatarServer, url: str) -> bytes:
    """The bytes of a result URL from ``GET /results``: ``/access`` credentials, then a signed S3 GET."""
    from avatars.testing.access import parse_location

    grant = http.get(srv.url("/access"), params={"url": url}).json()
    parsed = parse_location(url)
    assert parsed is not None, url
    client = s3_client(srv.storage_endpoint_url, grant)
    try:
        data: bytes = client.get_object(Bucket=parsed[0], Key=parsed[1])["Body"].read()
    finally:
        client.close()
    return data
