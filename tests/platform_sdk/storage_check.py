"""The platform's own SDK moves data through ``avatars serve``'s object store, unchanged.

Run it with the Python of an environment where the platform SDK
(``octopize.avatar``, import name ``avatars``) is installed, NOT ours::

    avatars serve                      # prints the base URL and an API key
    /path/to/sdk-venv/bin/python tests/platform_sdk/storage_check.py BASE_URL API_KEY

It uploads a file and a DataFrame with ``client.upload_file`` (s3fs and
botocore under the hood, storage endpoint derived from the base URL), lists
and reads them back with ``client.download_file`` through ``/access`` and
``/access/batch``, and checks that a second user cannot get credentials for
the first user's objects. Exit status 0 when every check passed.
"""

from __future__ import annotations

import io
import sys
import tempfile
import uuid


def main(base_url: str, api_key: str) -> int:
    import pandas as pd

    from avatars.client import ApiClient  # the platform SDK's, not ours

    client = ApiClient(base_url=base_url, api_key=api_key)
    run = uuid.uuid4().hex[:8]
    body = "id,age\n" + "".join(f"{i},{20 + i % 50}\n" for i in range(2000))
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write(body)
        path = handle.name

    client.upload_file(data=path, key=f"check-{run}/people.csv")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    client.upload_file(data=frame, key=f"check-{run}/frame.csv")
    prefix = client.results.get_upload_url()
    assert isinstance(prefix, str) and prefix.startswith("s3://"), prefix
    print(f"uploaded under {prefix}/check-{run}/")

    api_urls = [f"{base_url}/access?url={prefix}/check-{run}/{name}" for name in ("people.csv", "frame.csv")]
    single = client.download_file(client.results.get_permission_to_download(api_urls[0]))
    assert single == body, "people.csv came back different"
    batch = client.results.get_permissions_to_download_batch(api_urls)
    assert [a.url for a in batch] == api_urls, [a.url for a in batch]
    assert client.download_file(batch[0]) == body, "people.csv (batch credentials) came back different"
    print("download_file: the file reads back intact (single and batch credentials)")

    from avatars.storage import get_filesystem

    credentials = client.results.get_permission_to_download(f"{base_url}/access?url={prefix}").credentials
    fs = get_filesystem(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        storage_path=prefix,
        storage_endpoint_url=base_url[: -len("/api")] + "/storage",
    )
    listed = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{prefix}/check-{run}/"))
    assert listed == ["frame.csv", "people.csv"], listed
    # SDK 1.25 writes a DataFrame as CSV, 1.30 as parquet (under the same key): compare the bytes
    written = fs.cat_file(f"{prefix}/check-{run}/frame.csv")
    if written.startswith(b"PAR1"):
        again = pd.read_parquet(io.BytesIO(written))
    else:
        again = pd.read_csv(io.BytesIO(written))
    assert again.reset_index(drop=True).equals(frame), again
    fs.rm(f"{prefix}/check-{run}/frame.csv")
    assert not fs.exists(f"{prefix}/check-{run}/frame.csv")
    print("s3fs: ls, rm and exists agree with the store")

    other_prefix = prefix.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    try:
        client.results.get_permission_to_download(f"{other_prefix}/x.csv")
    except Exception as exc:  # the SDK raises its own error type for a 403
        print(f"another user's prefix refused: {type(exc).__name__}")
    else:
        print("FAIL: /access granted credentials for another user's prefix")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
