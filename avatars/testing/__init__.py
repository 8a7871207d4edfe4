"""``avatars.testing``: a local Avatar API server for tests and demos.

:class:`LocalAvatarServer` implements the whole wire contract
(``api-contract.md``) on 127.0.0.1, with an admin side for tests (users, API
keys, token lifetimes, rate limits, fault injection, request logs) and a
second listener playing the object storage. Its jobs run a LOCAL STAND-IN
(see :mod:`avatars.testing.avatarize`), never the Avatar platform's method.

Importing this package is cheap: werkzeug and the server modules are imported
only when one of the names below is first used.

Choices where the contract is silent:

* ``GET /results/{job_name}`` before the job finished: ``409`` with
  ``{"detail": {"message", "status"[, "exception"]}}``; unknown/deleted: 404.
* Cancelling a queued/pending job ends it with status ``error`` and exception
  ``"cancelled by user"``; cancelling an ended job changes nothing (200).
* A refresh token reused (rotation on), revoked or expired: ``401 {"detail":
  "Not authenticated"}``; an expired or revoked API key: the same.
* ``POST /logout`` revokes the access token used and its session's refresh
  tokens. ``POST /login`` also sets a harmless ``avatar_session`` cookie
  (``Path=/api``).
* Unfinished jobs of a previous server on the same ``data_dir`` come back as
  ``lost``.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Dict, List

logging.getLogger("avatars.testing").addHandler(logging.NullHandler())

if TYPE_CHECKING:  # pragma: no cover
    from .admin import CreatedUser as CreatedUser
    from .admin import IssuedApiKey as IssuedApiKey
    from .admin import ServerAdmin as ServerAdmin
    from .cli import serve_main as serve_main
    from .faults import Fault as Fault
    from .faults import FaultRegistry as FaultRegistry
    from .faults import RateLimits as RateLimits
    from .mocked import MockedPlatform as MockedPlatform
    from .requestlog import RequestLog as RequestLog
    from .requestlog import RequestRecord as RequestRecord
    from .server import LocalAvatarServer as LocalAvatarServer

_LAZY: Dict[str, str] = {
    "LocalAvatarServer": ".server",
    "ServerAdmin": ".admin",
    "CreatedUser": ".admin",
    "IssuedApiKey": ".admin",
    "Fault": ".faults",
    "FaultRegistry": ".faults",
    "RateLimits": ".faults",
    "MockedPlatform": ".mocked",
    "RequestLog": ".requestlog",
    "RequestRecord": ".requestlog",
    "serve_main": ".cli",
}

__all__ = [
    "CreatedUser",
    "Fault",
    "FaultRegistry",
    "IssuedApiKey",
    "LocalAvatarServer",
    "MockedPlatform",
    "RateLimits",
    "RequestLog",
    "RequestRecord",
    "ServerAdmin",
    "serve_main",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)
