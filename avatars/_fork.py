"""Fork safety: what a child process must not inherit from its parent.

A child forked while another thread of the parent held a lock (a token
refresh in progress) would block forever on that lock, and a child that
reuses its parent's pooled connections reads answers meant for the parent.
Objects that hold such state register a reset with :func:`reset_in_child`;
after ``os.fork()``, the child runs every reset once (``os.register_at_fork``):
new locks, empty connection pools.  The parent is not affected.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

__all__ = ["reset_in_child", "reset_session_pools"]

_resets: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()
_registered = False
_guard = threading.Lock()


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # it may have been held by another thread at fork time
    for obj, reset in list(_resets.items()):
        try:
            reset(obj)
        except Exception:  # noqa: BLE001  # pragma: no cover - a reset must never break the child
            pass


def reset_in_child(obj: Any, reset: Callable[[Any], None]) -> None:
    """Run ``reset(obj)`` in a child process after ``os.fork()`` (while ``obj`` lives)."""
    global _registered
    with _guard:
        if not _registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _registered = True
        _resets[obj] = reset


def reset_session_pools(session: requests.Session) -> None:
    """Give every ``HTTPAdapter`` of ``session`` new, empty connection pools
    (the inherited ones are dropped without touching the parent's sockets)."""
    for adapter in list(session.adapters.values()):
        if not isinstance(adapter, HTTPAdapter):
            continue
        state: Any = adapter
        state.proxy_manager = {}
        adapter.init_poolmanager(state._pool_connections, state._pool_maxsize, block=state._pool_block)
