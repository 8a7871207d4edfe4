"""A real squid proxy for the tests: a throw-away config on a free loopback port,
basic proxy authentication, started and stopped by the test session.

Needs the Debian package ``squid`` (``.ci/run`` installs it) and ``openssl``
(to hash the proxy password for ``basic_ncsa_auth``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional

SQUID_CANDIDATES = ("/usr/sbin/squid", "/usr/local/sbin/squid")
NCSA_CANDIDATES = (
    "/usr/lib/squid/basic_ncsa_auth",
    "/usr/lib64/squid/basic_ncsa_auth",
    "/usr/libexec/squid/basic_ncsa_auth",
)


def find_squid() -> Optional[str]:
    found = shutil.which("squid")
    if found:
        return found
    for candidate in SQUID_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def find_ncsa() -> Optional[str]:
    for candidate in NCSA_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SquidUnavailable(RuntimeError):
    pass


class Squid:
    """``with Squid(user, password) as proxy: proxy.url_with_credentials``."""

    def __init__(self, user: str = "avatar-proxy-user", password: str = "Pr0xy-Secret-42") -> None:
        self.user = user
        self.password = password
        self.binary = find_squid()
        self.ncsa = find_ncsa()
        self.openssl = shutil.which("openssl")
        self.port = 0
        self.dir: Optional[Path] = None
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with_credentials(self, password: Optional[str] = None) -> str:
        return f"http://{self.user}:{password or self.password}@127.0.0.1:{self.port}"

    def access_log(self) -> List[str]:
        assert self.dir is not None
        path = self.dir / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def _hash(self) -> str:
        assert self.openssl is not None
        out = subprocess.run(
            [self.openssl, "passwd", "-1", "-salt", "avtrtest", self.password],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def start(self) -> Squid:
        missing = [
            name
            for name, value in (("squid", self.binary), ("basic_ncsa_auth", self.ncsa), ("openssl", self.openssl))
            if value is None
        ]
        if missing:
            raise SquidUnavailable(f"not installed: {', '.join(missing)} (apt-get install squid openssl)")
        self.dir = Path(tempfile.mkdtemp(prefix="avatars-squid-"))
        self.dir.chmod(0o755)
        (self.dir / "passwd").write_text(f"{self.user}:{self._hash()}\n")
        self.port = free_port()
        run_as = ""
        if os.geteuid() == 0:
            # squid refuses to run as root: it switches to this user, who must own the files.
            try:
                entry = pwd.getpwnam("proxy")
            except KeyError:
                entry = pwd.getpwnam("nobody")
            run_as = f"cache_effective_user {entry.pw_name}\n"
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        config = f"""
http_port 127.0.0.1:{self.port}
{run_as}pid_filename {self.dir}/squid.pid
cache_log {self.dir}/cache.log
access_log stdio:{self.dir}/access.log
coredump_dir {self.dir}
cache deny all
cache_mem 8 MB
pinger_enable off
netdb_filename none
logfile_rotate 0
shutdown_lifetime 0 seconds
forwarded_for delete
via off
auth_param basic program {self.ncsa} {self.dir}/passwd
auth_param basic realm avatars-test-proxy
auth_param basic children 2
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
"""
        conf = self.dir / "squid.conf"
        conf.write_text(config)
        if run_as:
            entry = pwd.getpwnam(run_as.split()[1])
            os.chown(conf, entry.pw_uid, entry.pw_gid)
        self.process = subprocess.Popen(
            [self.binary or "squid", "-N", "-f", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                log = (self.dir / "cache.log").read_text() if (self.dir / "cache.log").exists() else ""
                raise SquidUnavailable(f"squid exited early: {err[-2000:]} {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SquidUnavailable("squid did not start listening within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Squid:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
