"""``download_result_files`` (``Runner.download_all``, ``avatars results
download``) asks for the credentials of several files in one ``POST
/access/batch``, not one ``GET /access`` per file; credentials already cached
are not asked for again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import requests
import responses

from avatars import ApiClient
from avatars.errors import SchemaError
from avatars.resources.results import download_result_files

from .test_storage import BASE, KEY_ID, PREFIX, SECRET, STORE, Api

FILES = ["t.shuffled.csv", "t.unshuffled.csv", "t.privacy.json"]


@pytest.fixture
def store() -> Iterator[ApiClient]:
    with ApiClient(BASE, api_key="key-1", storage_endpoint_url=STORE) as client:
        client.storage.retry_backoff = 0.0
        yield client


class Batch:
    """``POST /access/batch``: grants what it is asked (all but ``refused``), counting the calls."""

    def __init__(self, rsps: responses.RequestsMock, refused: Tuple[str, ...] = ()) -> None:
        self.asked: List[List[str]] = []
        self.refused = refused
        rsps.add_callback(responses.POST, f"{BASE}/access/batch", callback=self.answer)

    def answer(self, request: requests.PreparedRequest) -> Tuple[int, Dict[str, str], str]:
        urls = json.loads(request.body or "[]")
        self.asked.append(urls)
        granted = [
            {"url": url, "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET}}
            for url in urls
            if not url.endswith(self.refused)
        ]
        return 200, {}, json.dumps(granted)


def _objects(rsps: responses.RequestsMock, names: List[str]) -> List[Tuple[str, str]]:
    for name in names:
        rsps.add(responses.GET, f"{STORE}/avatars/user-1/results/j/{name}", body=name.encode())
    return [(f"{PREFIX}/results/j/{name}", name) for name in names]


def test_several_files_take_one_batch_and_no_access_each(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path
) -> None:
    api = Api(rsps, [SECRET])
    batch = Batch(rsps)
    written = download_result_files(store.results, _objects(rsps, FILES), tmp_path)
    assert [path.read_bytes() for _, path in written] == [name.encode() for name in FILES]
    assert batch.asked == [[f"{PREFIX}/results/j/{name}" for name in FILES]]
    assert api.access_urls == []  # every download signed with the batch's credentials


def test_a_file_the_batch_leaves_out_is_asked_for_alone(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path
) -> None:
    api = Api(rsps, [SECRET])
    Batch(rsps, refused=("t.privacy.json",))
    written = download_result_files(store.results, _objects(rsps, FILES), tmp_path)
    assert len(written) == 3
    assert api.access_urls == [f"{PREFIX}/results/j/t.privacy.json"]


def test_cached_credentials_are_not_asked_for_again(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path
) -> None:
    Api(rsps, [SECRET])
    batch = Batch(rsps)
    files = _objects(rsps, FILES)
    download_result_files(store.results, files, tmp_path / "first")
    download_result_files(store.results, files, tmp_path / "again")
    assert len(batch.asked) == 1  # the second round has every credential already


def test_one_file_takes_no_batch(rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path) -> None:
    api = Api(rsps, [SECRET])
    batch = Batch(rsps)
    download_result_files(store.results, _objects(rsps, FILES[:1]), tmp_path)
    assert batch.asked == [] and api.access_urls == [f"{PREFIX}/results/j/{FILES[0]}"]


def test_a_hostile_batch_answer_keeps_nothing_and_downloads_nothing(
    rsps: responses.RequestsMock, store: ApiClient, tmp_path: Path
) -> None:
    Api(rsps, [SECRET])
    stranger = {"url": f"{PREFIX}/other/x.csv", "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET}}
    rsps.add(responses.POST, f"{BASE}/access/batch", json=[stranger])
    files = _objects(rsps, FILES)
    with pytest.raises(SchemaError):
        download_result_files(store.results, files, tmp_path)
    assert not any((call.request.url or "").startswith(STORE) for call in rsps.calls)
    assert list(tmp_path.iterdir()) == []
