"""The object store of ``avatars.testing`` as the storage client's integration tests see it.

:class:`StoreSetup` wraps a :class:`~avatars.testing.LocalAvatarServer`: its API
(``/upload_url``, ``/access``), its S3-compatible store (SigV4 checked against the
credentials ``/access`` issued, for the location they were issued for), two users
(``alice`` and ``bob``) with API keys, and helpers to look behind the client's
back (the stored bytes, the multipart uploads left open, the ``/access`` calls).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

from avatars.testing import LocalAvatarServer
from avatars.testing.objects import DEFAULT_BUCKET

BUCKET = DEFAULT_BUCKET


@dataclass
class User:
    name: str
    user_id: str
    api_key: str

    @property
    def prefix(self) -> str:
        """The key prefix of the user's objects (``users/<id>``)."""
        return f"users/{self.user_id}"


@dataclass
class StoreSetup:
    server: LocalAvatarServer
    users: Dict[str, User] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def storage_url(self) -> str:
        """The store beside the API (``<server>/storage``), the client's default."""
        return self.server.storage_endpoint_url

    def stored(self, bucket: str, key: str) -> bytes:
        return self.server.store.objects.read_bytes(bucket, key)

    def keys(self, prefix: str) -> List[str]:
        return [meta.key for meta in self.server.store.objects.list(BUCKET, prefix)]

    def pending_uploads(self) -> List[str]:
        """Keys of the multipart uploads neither completed nor aborted."""
        return [upload.key for upload in self.server.store.objects.uploads(BUCKET)]

    def access_calls(self) -> int:
        return self.server.log.count("GET", "/api/access") + self.server.log.count("POST", "/api/access/batch")

    def expire_credentials(self) -> int:
        """Every storage credential issued so far expires (the store answers ``ExpiredToken``)."""
        return self.server.admin.expire_storage_credentials()

    def clear_logs(self) -> None:
        """Forget the requests so far (the API's log and the store's)."""
        self.server.log.clear()
        self.server.storage_log.clear()

    def reset(self) -> None:
        """Between tests: no fault left armed."""
        self.server.admin.clear_faults()


def start_store(**server_options: Any) -> StoreSetup:
    """A started local server with users ``alice`` and ``bob`` (stop it with ``setup.server.stop()``)."""
    server = LocalAvatarServer(**server_options).start()
    setup = StoreSetup(server)
    for name in ("alice", "bob"):
        created = server.admin.create_user(f"{name}@example.com", f"{name}-password-123")
        key = server.admin.create_api_key(created, name="storage-tests")
        setup.users[name] = User(name, str(created.id), key)
    return setup
