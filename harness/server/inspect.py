"""The ``/_harness/`` API: what the reference endpoint stored and counted, and its faults, over HTTP.

Kept out of the routing module (:mod:`harness.server.app`) because none of it is capture: nothing here
is in the contract; it is how the load ledger, the contract suite's delivery checks and people look
inside.  Every answer is JSON; a bad parameter is a 400 whose ``error`` says what is accepted.

``since=`` on ``/_harness/events`` bounds the receive time from below, and takes one of two forms:

- an RFC 3339 date-time with ``Z`` or an offset, read by :meth:`datetime.fromisoformat` (so the other
  ISO 8601 forms it reads are accepted too); a date alone or a time without an offset is refused,
  because the server would have to guess the zone;
- epoch seconds, digits with an optional decimal fraction (no sign, no exponent), at most
  ``253402300799`` (9999-12-31T23:59:59Z), so that a millisecond value (what ``since=`` took before) is
  refused instead of being read as a time thousands of years away.

Either is cut to the millisecond, the resolution of the stored receive time.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import orjson

from harness.server.faults import FaultPlan, Faults
from harness.server.store import FILTERS, Store

ReadBody = Callable[[], Awaitable[bytes]]
"""Reads the request body when awaited (the router's reader, with its size cap and timeout)."""
Handler = Callable[[bytes, ReadBody], Awaitable[tuple[int, Any]]]
"""An inspection handler: the raw query string and the body reader in, the status and JSON value out."""

SINCE_FORMS = (
    "an RFC 3339 date-time with Z or an offset (since=2023-01-01T12:00:00Z, "
    "since=2023-01-01T14:00:00%2B02:00 with its + percent-encoded), or epoch seconds "
    "(since=1672574400 or since=1672574400.5); a date alone or a time without an offset is refused"
)
"""What ``since=`` accepts, quoted in its 400."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_SECONDS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class Stats:
    """Counters behind ``GET /_harness/stats``; the router counts, ``/_harness/reset`` zeroes them."""

    requests: Counter[tuple[str, int]]
    rejections: Counter[str]
    accepted_events: int
    dropped_events: int
    started: float

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start counting again, uptime included."""
        self.requests = Counter()
        self.rejections = Counter()
        self.accepted_events = 0
        self.dropped_events = 0
        self.started = time.monotonic()

    def to_json(self, stored_events: int, faults: Faults) -> dict[str, Any]:
        by_path: dict[str, dict[str, int]] = {}
        for (path, status), count in sorted(self.requests.items()):
            by_path.setdefault(path, {})[str(status)] = count
        return {
            "requests": by_path, "accepted_events": self.accepted_events, "stored_events": stored_events,
            "dropped_events": self.dropped_events, "rejections": dict(self.rejections.most_common()),
            "faults": faults.to_json(), "uptime_s": round(time.monotonic() - self.started, 3),
        }


class Inspection:
    """The ``/_harness/`` routes over one server's store, counters and fault plan.

    ``routes`` maps ``(path, method)`` to its handler and ``allowed`` a path to the methods it takes
    (for the 405's ``Allow``); both are built once, here, not per request.
    """

    def __init__(self, store: Store, stats: Stats, plan: FaultPlan) -> None:
        self._store, self._stats, self._plan = store, stats, plan
        self.routes: dict[tuple[str, str], Handler] = {
            ("/_harness/events", "GET"): self._events,
            ("/_harness/stats", "GET"): self._get_stats,
            ("/_harness/reset", "POST"): self._reset,
            ("/_harness/faults", "GET"): self._get_faults,
            ("/_harness/faults", "POST"): self._set_faults,
            ("/_harness/faults", "PUT"): self._set_faults,
            ("/_harness/faults", "DELETE"): self._clear_faults,
        }
        self.allowed: dict[str, str] = {}
        for path, method in self.routes:
            self.allowed[path] = f"{self.allowed[path]}, {method}" if path in self.allowed else method

    async def _events(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        params = {key: values[-1] for key, values in parse_qs(query.decode()).items()}
        try:
            limit = min(int(params.pop("limit", "100")), 1000)
            after = int(params.pop("after", "0"))
            since = params.pop("since", None)
            since_ms = parse_since(since) if since is not None else None
            found = self._store.events(after=after, limit=limit, since_ms=since_ms, **params)
        except ValueError as error:
            return 400, {"error": str(error), "filters": [*FILTERS, "since", "after", "limit"]}
        return 200, {"events": found, "next_after": found[-1]["id"] if len(found) == limit else None}

    async def _get_stats(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        return 200, self._stats.to_json(self._store.count(), self._plan.faults)

    async def _reset(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        self._store.reset()
        self._stats.reset()
        return 200, {"status": "reset"}

    async def _get_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        return 200, self._plan.faults.to_json()

    async def _set_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        try:
            changes = orjson.loads(await read_body() or b"{}")
            if not isinstance(changes, dict):
                raise TypeError("send a JSON object of fault settings")
            faults = Faults.from_json(changes, self._plan.faults)
        except (ValueError, TypeError) as error:
            return 400, {"error": str(error)}
        self._plan.use(faults)
        return 200, faults.to_json()

    async def _clear_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        self._plan.use(Faults())
        return 200, self._plan.faults.to_json()


def parse_since(value: str) -> int:
    """The receive-time bound ``since=value`` names, in milliseconds since the epoch (see the module
    docstring for the two forms); anything else is a ``ValueError`` that quotes :data:`SINCE_FORMS`."""
    if _SECONDS.fullmatch(value):
        seconds = Decimal(value)
        if seconds > _LATEST_SECONDS:
            raise ValueError(f"since={value!r} is past the year 9999 as epoch seconds (milliseconds are not "
                             f"accepted); since takes {SINCE_FORMS}")
        return int(seconds * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"since={value!r} is not a time; since takes {SINCE_FORMS}") from None
    if moment.tzinfo is None:
        raise ValueError(f"since={value!r} has no offset; since takes {SINCE_FORMS}")
    return (moment - _EPOCH) // timedelta(milliseconds=1)
