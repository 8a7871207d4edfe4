"""A real S3-compatible store for the storage client's integration tests.

``moto``'s standalone server on a free loopback port, with request
authentication switched on (it then verifies every SigV4 signature against
the IAM keys it knows), plus a tiny API on another port that answers the two
calls the client makes before touching the store: ``GET /upload_url`` and
``GET /access`` (``POST /access/batch`` too), handing out IAM keys limited to
the user's prefix.  The "s3server" work will serve the same from
``avatars.testing``; tests take a :class:`StoreSetup` so that they can move.

Also :class:`Forwarder`, a TCP relay that can cut a connection after a number
of bytes (a dropped connection, for real) or terminate TLS in front of the store.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

BUCKET = "avatars"


@dataclass
class User:
    name: str
    prefix: str
    key_id: str = ""
    secret: str = ""


@dataclass
class StoreSetup:
    """What a test needs: the API base URL, the storage endpoint, an admin S3
    client (botocore) to look behind the client's back, and the fake API's log."""

    base_url: str
    storage_url: str
    admin: Any
    iam: Any
    api: FakeApi
    users: Dict[str, User] = field(default_factory=dict)

    def rotate(self, name: str) -> Tuple[str, str]:
        """Delete ``name``'s key at the store and issue a new one; the old pair."""
        user = self.users[name]
        old = (user.key_id, user.secret)
        self.iam.delete_access_key(UserName=user.name, AccessKeyId=user.key_id)
        self._issue(user)
        return old

    def _issue(self, user: User) -> None:
        key = self.iam.create_access_key(UserName=user.name)["AccessKey"]
        user.key_id, user.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def pending_uploads(self) -> List[str]:
        answer = self.admin.list_multipart_uploads(Bucket=BUCKET)
        return [u["Key"] for u in answer.get("Uploads", [])]


class FakeApi:
    """``/upload_url``, ``/access``, ``/access/batch`` for the user whose API key
    is ``key-<name>``; records every request (path, headers)."""

    def __init__(self, users: Dict[str, User]) -> None:
        self.users = users
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []
        #: When set, /access hands out this user's keys instead (a wrong grant).
        self.grant_as: Optional[str] = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _user(self) -> Optional[User]:
                auth = self.headers.get("Authorization", "")
                name = auth.split("api-key-v1 key-", 1)[-1] if "api-key-v1 key-" in auth else ""
                return api.users.get(name)

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _grant(self, user: User, url: str) -> Dict[str, Any]:
                holder = api.users[api.grant_as] if api.grant_as else user
                return {
                    "url": url,
                    "credentials": {"access_key_id": holder.key_id, "secret_access_key": holder.secret},
                }

            def do_GET(self) -> None:
                api.requests.append(("GET", self.path, dict(self.headers)))
                user = self._user()
                if user is None:
                    return self._answer(401, {"detail": "Not authenticated"})
                parts = urlsplit(self.path)
                if parts.path == "/api/upload_url":
                    return self._answer(200, f"s3://{BUCKET}/{user.prefix}")
                if parts.path == "/api/access":
                    url = parse_qs(parts.query).get("url", [""])[0]
                    return self._answer(200, self._grant(user, url))
                return self._answer(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                api.requests.append(("POST", self.path, dict(self.headers)))
                user = self._user()
                if user is None:
                    return self._answer(401, {"detail": "Not authenticated"})
                if urlsplit(self.path).path == "/api/access/batch":
                    urls = json.loads(body)
                    return self._answer(200, [self._grant(user, u) for u in urls if user.prefix in u])
                return self._answer(404, {"detail": "Not Found"})

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def access_calls(self) -> int:
        return sum(1 for method, path, _ in self.requests if path.startswith("/api/access"))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _policy(prefix: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/{prefix}/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{BUCKET}",
                },
            ],
        }
    )


_RAW_QUERY_PATCHED = False


def _check_signatures_on_the_raw_query() -> None:
    """moto < 5.2 (the newest on Python 3.9) rebuilds the signed query from
    werkzeug's ``request.url``, which werkzeug 3 decodes (``prefix=a%2F`` becomes
    ``prefix=a/``): every correctly signed request whose query holds an encoded
    ``/`` is refused with SignatureDoesNotMatch.  Give its check the query as
    it came on the wire, as S3 and moto 5.2 do; moto still verifies every
    signature.  The moto server runs in this process, so this reaches it.
    """
    global _RAW_QUERY_PATCHED
    import moto
    from moto.core.authorization import ActionAuthenticatorMixin

    major, minor = (int(part) for part in moto.__version__.split(".")[:2])
    if _RAW_QUERY_PATCHED or (major, minor) >= (5, 2):
        return
    check = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def on_the_raw_query(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        environ = getattr(getattr(self, "request", None), "environ", None)
        if isinstance(environ, dict) and environ.get("QUERY_STRING"):
            self.uri = f"{self.uri.split('?', 1)[0]}?{environ['QUERY_STRING']}"
        check(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = on_the_raw_query  # type: ignore[method-assign]
    _RAW_QUERY_PATCHED = True


def start_store() -> Tuple[Any, StoreSetup]:
    """Start moto (authentication on) and the fake API; the moto server and the setup."""
    import botocore.session
    import requests
    from moto.server import ThreadedMotoServer

    _check_signatures_on_the_raw_query()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = botocore.session.get_session()
    options = dict(
        endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="admin"
    )
    iam = session.create_client("iam", **options)
    admin_s3 = session.create_client("s3", **options)
    admin_s3.create_bucket(Bucket=BUCKET)
    iam.create_user(UserName="root-admin")
    iam.put_user_policy(
        UserName="root-admin",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    root = iam.create_access_key(UserName="root-admin")["AccessKey"]
    users = {name: User(name, f"user-{name}") for name in ("alice", "bob")}
    for user in users.values():
        iam.create_user(UserName=user.name)
        iam.put_user_policy(UserName=user.name, PolicyName="prefix", PolicyDocument=_policy(user.prefix))
    # From here on, moto verifies signatures and policies.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    options.update(aws_access_key_id=root["AccessKeyId"], aws_secret_access_key=root["SecretAccessKey"])
    iam = session.create_client("iam", **options)
    admin_s3 = session.create_client("s3", **options)
    api = FakeApi(users)
    setup = StoreSetup(api.base_url, endpoint, admin_s3, iam, api, users)
    for user in users.values():
        setup._issue(user)
    return moto, setup


class Forwarder:
    """A TCP relay to ``target`` on a free loopback port.

    ``cut_down``/``cut_up``: close a connection once it has relayed that many
    bytes towards the client / the server: only the first connection that gets
    that far, or every one with ``cut_every``.  (Each connection counts its own
    bytes: the store may close its connections after each answer.)  ``tls``:
    terminate TLS (an ``ssl.SSLContext`` for the server side) and relay plain bytes.
    """

    def __init__(
        self,
        target: Tuple[str, int],
        *,
        cut_down: Optional[int] = None,
        cut_up: Optional[int] = None,
        tls: Optional[ssl.SSLContext] = None,
        cut_every: bool = False,
    ) -> None:
        self.target = target
        self.cut_every = cut_every
        self.cuts = 0
        self._lock = threading.Lock()
        self.cut_down = cut_down
        self.cut_up = cut_up
        self.tls = tls
        self.connections = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _may_cut(self) -> bool:
        with self._lock:
            if self.cut_every or self.cuts == 0:
                self.cuts += 1
                return True
            return False

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        both = (client, upstream)
        threading.Thread(target=self._pump, args=(client, upstream, self.cut_up, both), daemon=True).start()
        self._pump(upstream, client, self.cut_down, both)

    def _pump(
        self, source: socket.socket, sink: socket.socket, limit: Optional[int], both: Tuple[socket.socket, ...]
    ) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit and self._may_cut():
                    sink.sendall(data[: max(0, limit - sent)])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in both:
            try:
                if isinstance(sock, ssl.SSLSocket):
                    sock.unwrap()  # close_notify, as a TLS server closing a connection sends
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
            sock.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()
