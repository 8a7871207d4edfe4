"""The audit trail of the local server (``GET /event-logs``), kept in memory.

Verbs and object types are the platform's (SDK 1.30 ``Verb``/``ObjectType``):
``create``/``update``/``delete``, ``job``/``api_key``/``resource``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ._util import iso, new_id, now


@dataclass(frozen=True)
class Event:
    id: str
    user_id: str
    verb: str
    object_type: str
    object_id: Optional[str]
    created_at: float

    def to_json(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "verb": self.verb,
            "object_id": self.object_id,
            "object_type": self.object_type,
            "created_at": iso(self.created_at),
        }


class EventLog:
    """Events per user; :meth:`of` lists a user's, most recent first."""

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._events: List[Event] = []
        self._limit = limit

    def add(self, user_id: str, verb: str, object_type: str, object_id: Optional[str]) -> Event:
        event = Event(new_id(), user_id, verb, object_type, object_id, now())
        with self._lock:
            self._events.append(event)
            del self._events[: max(0, len(self._events) - self._limit)]
        return event

    def of(self, user_id: str) -> List[Event]:
        with self._lock:
            mine = [e for e in self._events if e.user_id == user_id]
        return list(reversed(mine))
