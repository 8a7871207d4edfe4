"""``client.event_logs``: the caller's audit trail."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..config import Timeout
from ..errors import RequestValidationError
from ..models import EventLogResponse
from ._helpers import JsonResource, require_text

__all__ = ["EventLogs"]


class EventLogs(JsonResource):
    """The event log endpoint (``/event-logs``)."""

    def list_my_event_logs(
        self,
        verb: Optional[Sequence[str]] = None,
        object_type: Optional[Sequence[str]] = None,
        created_from: Optional[str] = None,
        created_before: Optional[str] = None,
        starting_after: Optional[str] = None,
        limit: Optional[int] = None,
        *,
        timeout: Optional[Timeout] = None,
    ) -> List[EventLogResponse]:
        """``GET /event-logs``: the caller's events, most recent first.

        The filters are platform API 3.x's (``verb`` and ``object_type`` lists
        are repeated in the query; a page holds at most ``limit`` events, the
        next one starts after ``starting_after``, an event id).  A 2.90
        platform ignores them and answers the whole trail.
        """
        params: Dict[str, Any] = {}
        for name, values in (("verb", verb), ("object_type", object_type)):
            if values is not None:
                if isinstance(values, str):
                    values = [values]
                params[name] = [require_text(v, name) for v in values]
        for name, value in (
            ("created_from", created_from),
            ("created_before", created_before),
            ("starting_after", starting_after),
        ):
            if value is not None:
                params[name] = require_text(value, name)
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise RequestValidationError(f"limit must be an integer >= 1, got {limit!r}", field="limit")
            params["limit"] = str(limit)
        response = self._client.request("GET", "event-logs", params=params or None, timeout=timeout)
        return self._load_many(EventLogResponse, response, "GET /event-logs")
