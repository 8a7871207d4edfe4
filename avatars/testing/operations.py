"""The created-operation protocol on the local server.

The platform's client sends ``Avatars-Accept-Created: yes``; a platform that
accepts work it has not finished answers ``201`` with a ``Location``, which
answers ``202`` while the work is pending and then the result of the
original call.  The local server finishes every call at once, so it offers
the protocol where a test asks for it::

    server.operations.defer("POST", "/api/jobs", polls=2)

The next matching request that carries ``Avatars-Accept-Created: yes`` runs
normally, but its answer is kept and the caller gets ``201`` with
``Location: <origin>/api/operations/<id>``; that URL answers ``202`` (with
``Retry-After: 0``) ``polls`` times, then the kept answer, once (later polls:
404).  ``origin`` (default: the request's own) lets a test put the operation
on another origin, e.g. ``http://localhost:PORT`` for a server bound to
127.0.0.1.  A request without the header gets the normal answer (the
deferral stays armed).  The operation URL needs no credentials: its id is
random, like a pre-signed URL.  Paths match like faults
(:func:`fnmatch.fnmatchcase`, method or ``"*"``).
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

ACCEPT_CREATED_HEADER = "Avatars-Accept-Created"


@dataclass
class Deferral:
    method: str
    path: str
    polls: int
    origin: Optional[str]
    remaining: int


@dataclass
class Operation:
    status: int
    headers: List[Tuple[str, str]]
    body: bytes
    pending: int
    polled: int = field(default=0)


class OperationRegistry:
    """Deferrals armed by tests, and the operations they created."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deferrals: List[Deferral] = []
        self._operations: Dict[str, Operation] = {}

    def defer(
        self, method: str, path: str, *, polls: int = 1, origin: Optional[str] = None, count: int = 1
    ) -> Deferral:
        if polls < 0 or count < 1:
            raise ValueError("polls must be >= 0 and count >= 1")
        deferral = Deferral(method.upper(), path, polls, origin.rstrip("/") if origin else None, count)
        with self._lock:
            self._deferrals.append(deferral)
        return deferral

    def take(self, method: str, path: str) -> Optional[Deferral]:
        with self._lock:
            for deferral in self._deferrals:
                if deferral.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, deferral.path):
                    deferral.remaining -= 1
                    if deferral.remaining <= 0:
                        self._deferrals.remove(deferral)
                    return deferral
        return None

    def create(self, deferral: Deferral, status: int, headers: List[Tuple[str, str]], body: bytes) -> str:
        op_id = secrets.token_hex(12)
        with self._lock:
            self._operations[op_id] = Operation(status, headers, body, deferral.polls)
        return op_id

    def poll(self, op_id: str) -> Optional[Tuple[bool, Operation]]:
        """``(still pending, operation)``, one poll counted; None when unknown or already delivered."""
        with self._lock:
            operation = self._operations.get(op_id)
            if operation is None:
                return None
            operation.polled += 1
            if operation.polled <= operation.pending:
                return True, operation
            del self._operations[op_id]
            return False, operation

    def clear(self) -> None:
        with self._lock:
            self._deferrals.clear()
            self._operations.clear()
