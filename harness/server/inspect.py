"""The ``/_harness/`` API: what the reference endpoint stored and counted, and its faults, over HTTP.

Kept out of the routing module (:mod:`harness.server.app`) because none of it is capture: nothing here
is in the contract; it is how the load ledger, the contract suite's delivery checks and people look
inside.  Every answer is JSON; a bad parameter is a 400 whose ``error`` says what is accepted (``limit``
1..1000, ``after`` a row id 0..2^63-1, ``since`` below, the filters :data:`~harness.server.store.FILTERS`).

The API belongs to whoever started the server (:meth:`Inspection.refusal`, checked before any route):

- no CORS: its answers never carry ``Access-Control-*`` headers, and a request a browser marks as
  cross-origin (an ``Origin`` other than the server's own, ``Sec-Fetch-Site: cross-site``) is refused 403;
- the ``Host`` header must name this server: ``localhost``, ``127.0.0.1``, ``::1``, the address the
  connection arrived on, or a name given to ``serve --inspect-host`` (any port); another name, which is
  what DNS rebinding sends, is refused 403;
- with a token (``serve --inspect-token``, ``CAPTURE_HARNESS_INSPECT_TOKEN``, generated when binding
  beyond loopback), every route needs ``Authorization: Bearer TOKEN`` or ``X-Capture-Harness-Token:
  TOKEN`` (401 otherwise);
- ``POST``/``PUT /_harness/faults`` need ``Content-Type: application/json`` (415), so that no HTML form
  or ``text/plain`` fetch can change the faults.

The inspector page at ``/_harness/`` itself (:mod:`harness.server.inspector_page`) passes the Host and
Origin checks but not the token's: it holds no data and asks for the token its calls send.
``/_harness/rejections`` answers the ring of refused capture requests (:mod:`harness.server.rejections`).
``POST /_harness/events/trim`` with ``{"through_id": N}`` deletes the stored rows with ids up to ``N``: a load
run against the embedded endpoint reads what was stored as it goes (``fields=uuid``: ids and uuids only) and
trims it, so that its store stays small (:mod:`harness.load.stored`); ``stored_events`` still counts them.

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

import asyncio
import hmac
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import orjson

from harness.server.connections import BodyBudget
from harness.server.faults import FaultPlan, Faults, shown
from harness.server.rejections import Rejections
from harness.server.store import FILTERS, RECORDING_FILTERS, Store

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

MAX_LIMIT = 1000
"""The most events one ``/_harness/events`` page holds."""
MAX_ROW_ID = (1 << 63) - 1
"""SQLite's largest row id: the bound of ``after``."""
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""``Host`` names always taken as this server (beside the connection's own address)."""
TOKEN_HEADER = "x-capture-harness-token"
TRIM_PATH = "/_harness/events/trim"
"""``POST {"through_id": N}``: delete the stored events with row ids up to ``N`` (the newest row stays)."""
_JSON_BODIES = {("/_harness/faults", "POST"): "fault settings", ("/_harness/faults", "PUT"): "fault settings",
                (TRIM_PATH, "POST"): "trim request"}
"""Routes whose body must be sent as JSON (415 otherwise), so that no HTML form or text/plain fetch reaches them."""
RECORDING_PREFIX = "/_harness/recordings/"
"""``GET /_harness/recordings/<session_id>``: one session's stored recording."""

_DIGITS = re.compile(r"[0-9]{1,19}")
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
    in_flight: int

    def __init__(self) -> None:
        self.in_flight = 0
        """Requests being handled now (this one included); never reset."""
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

    def __init__(self, store: Store, stats: Stats, plan: FaultPlan, *, token: str | None = None,
                 hosts: Iterable[str] = (), bodies: BodyBudget | None = None,
                 rejections: Rejections | None = None) -> None:
        self._store, self._stats, self._plan, self._bodies = store, stats, plan, bodies
        self.rejections = rejections or Rejections()
        self._token = token.encode() if token else None
        self._hosts = LOOPBACK_NAMES | {host.lower().strip("[]") for host in hosts}
        self.routes: dict[tuple[str, str], Handler] = {
            ("/_harness/events", "GET"): self._events,
            ("/_harness/stats", "GET"): self._get_stats,
            ("/_harness/reset", "POST"): self._reset,
            (TRIM_PATH, "POST"): self._trim,
            ("/_harness/rejections", "GET"): self._rejections,
            ("/_harness/recordings", "GET"): self._recordings,
            ("/_harness/faults", "GET"): self._get_faults,
            ("/_harness/faults", "POST"): self._set_faults,
            ("/_harness/faults", "PUT"): self._set_faults,
            ("/_harness/faults", "DELETE"): self._clear_faults,
        }
        self.allowed: dict[str, str] = {}
        for path, method in self.routes:
            self.allowed[path] = f"{self.allowed[path]}, {method}" if path in self.allowed else method

    @property
    def token_required(self) -> bool:
        """Whether the routes need the inspection token (the inspector page asks for it then)."""
        return self._token is not None

    def refusal(self, scope: dict[str, Any], headers: dict[str, str], *,
                token_needed: bool = True) -> tuple[int, dict[str, str], bool] | None:
        """Why this request may not use the API (status, JSON answer, whether to ask for the token), or None.
        ``token_needed=False`` for the inspector page, which holds no data (:mod:`harness.server.inspector_page`)."""
        host = headers.get("host", "")
        if _host_name(host) not in self._hosts and _host_name(host) != _server_name(scope):
            return 403, {"error": f"Host {host or '(none)'} does not name this server: the /_harness/ API answers "
                                  "requests for localhost, 127.0.0.1, ::1, the address it is bound to, or a name "
                                  "given to serve --inspect-host"}, False
        origin = headers.get("origin")
        if (origin is not None and origin != f"{scope.get('scheme', 'http')}://{host}") \
                or headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return 403, {"error": "the /_harness/ API refuses cross-origin requests from browsers"}, False
        if self._token is not None and token_needed:
            authorization = headers.get("authorization", "")
            given = authorization[7:].strip() if authorization[:7].lower() == "bearer " else headers.get(TOKEN_HEADER)
            if not given:
                return 401, {"error": "the /_harness/ API needs the inspection token: send Authorization: Bearer "
                                      "TOKEN or X-Capture-Harness-Token: TOKEN"}, True
            if not hmac.compare_digest(given.encode("latin-1"), self._token):
                return 401, {"error": "the inspection token is wrong"}, True
        if (scope["path"], scope["method"]) in _JSON_BODIES \
                and headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return 415, {"error": f"send the {_JSON_BODIES[scope['path'], scope['method']]} as JSON, with "
                                  "Content-Type: application/json"}, False
        return None

    async def _events(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        try:
            params = {key: values[-1] for key, values in
                      parse_qs(query.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            return 400, {"error": "the query string is not UTF-8"}
        try:
            limit = _bounded(params.pop("limit", "100"), "limit", 1, MAX_LIMIT)
            after = _bounded(params.pop("after", "0"), "after", 0, MAX_ROW_ID)
            since = params.pop("since", None)
            since_ms = parse_since(since) if since is not None else None
            fields = params.pop("fields", None)
            if fields not in (None, "uuid"):
                raise ValueError(f"fields={shown(fields[:40])} is not accepted; fields=uuid answers each event "
                                 "as its id and uuid only, and without fields every column is answered")
            unknown = sorted(set(params) - set(FILTERS))
            if unknown:
                raise ValueError(f"cannot filter on {', '.join(map(shown, unknown))}; the parameters are "
                                 f"{', '.join(FILTERS)}, since, after, limit and fields")
            found = self._store.events(after=after, limit=limit, since_ms=since_ms, uuids_only=fields == "uuid",
                                       **params)
        except ValueError as error:
            return 400, {"error": str(error), "filters": [*FILTERS, "since", "after", "limit", "fields"]}
        return 200, {"events": found, "next_after": found[-1]["id"] if len(found) == limit else None}

    async def _get_stats(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        in_flight = {"requests": self._stats.in_flight, "body_bytes": self._bodies.held if self._bodies else 0}
        return 200, {**self._stats.to_json(self._store.count(), self._plan.faults), "in_flight": in_flight,
                     "trimmed_events": self._store.trimmed, "stored_recordings": self._store.recording_count()}

    async def _reset(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        self._store.reset()
        self._stats.reset()
        self.rejections.clear()
        return 200, {"status": "reset"}

    async def _trim(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        """Delete the rows up to ``through_id``, in a thread: a delete of many rows must not stall the loop."""
        try:
            request = orjson.loads(await read_body() or b"{}")
        except orjson.JSONDecodeError as error:
            return 400, {"error": f"the body is not JSON ({error.msg})"}
        through = request.get("through_id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or set(request) != {"through_id"} or isinstance(through, bool) \
                or not isinstance(through, int) or not 0 <= through <= MAX_ROW_ID:
            return 400, {"error": f"send {{\"through_id\": N}}, N a row id from 0 to {MAX_ROW_ID} (the last one read), "
                                  f"not {shown(request)}"}
        return 200, {"trimmed": await asyncio.to_thread(self._store.trim, through), "through_id": through}

    async def _rejections(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        """The last rejected capture requests (:mod:`harness.server.rejections`), after the id ``after``."""
        after = parse_qs(query.decode("latin-1")).get("after", ["0"])[-1]
        try:
            newer = self.rejections.after(_bounded(after, "after", 0, MAX_ROW_ID))
        except ValueError as error:
            return 400, {"error": str(error)}
        return 200, {"rejections": newer}

    def route(self, path: str, method: str) -> Handler | None:
        """The handler of ``(path, method)``: a route of :attr:`routes`, or one session's recording
        (``GET /_harness/recordings/<session_id>``)."""
        handler = self.routes.get((path, method))
        session_id = path.removeprefix(RECORDING_PREFIX)
        if handler is None and method == "GET" and session_id != path and session_id:
            return lambda query, read_body: self._recording(session_id, query)
        return handler

    async def _recordings(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        """Recorded sessions (``/s/``), filtered by :data:`~harness.server.store.RECORDING_FILTERS`."""
        try:
            params, limit, after = _paging(query)
            unknown = sorted(set(params) - set(RECORDING_FILTERS))
            if unknown:
                raise ValueError(f"cannot filter on {', '.join(map(shown, unknown))}; the parameters are "
                                 f"{', '.join(RECORDING_FILTERS)}, after and limit")
        except ValueError as error:
            return 400, {"error": str(error), "filters": [*RECORDING_FILTERS, "after", "limit"]}
        found = self._store.recordings(after=after, limit=limit, **params)
        next_after = found[-1]["id"] if len(found) == limit else None
        return 200, {"sessions": [{k: v for k, v in s.items() if k != "id"} for s in found], "next_after": next_after}

    async def _recording(self, session_id: str, query: bytes) -> tuple[int, Any]:
        """One session's stored ``$snapshot_items`` messages in order, paged like events."""
        try:
            params, limit, after = _paging(query)
            if params:
                raise ValueError(f"unknown parameters {', '.join(map(shown, sorted(params)))}; use after and limit")
        except ValueError as error:
            return 400, {"error": str(error)}
        found = self._store.recording(session_id, after=after, limit=limit)
        if not found and after == 0:
            return 404, {"error": f"no recording of session {shown(session_id[:80])} is stored"}
        return 200, {"session_id": session_id, "snapshots": found,
                     "next_after": found[-1]["id"] if len(found) == limit else None}

    async def _get_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        return 200, self._plan.faults.to_json()

    async def _set_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        try:
            changes = orjson.loads(await read_body() or b"{}")
        except orjson.JSONDecodeError as error:
            return 400, {"error": f"the body is not JSON ({error.msg})"}
        if not isinstance(changes, dict):
            return 400, {"error": "send a JSON object of fault settings"}
        try:
            faults = Faults.from_json(changes, self._plan.faults)
        except ValueError as error:
            return 400, {"error": str(error)}
        self._plan.use(faults)
        return 200, faults.to_json()

    async def _clear_faults(self, query: bytes, read_body: ReadBody) -> tuple[int, Any]:
        self._plan.use(Faults())
        return 200, self._plan.faults.to_json()


def _paging(query: bytes) -> tuple[dict[str, str], int, int]:
    """A recordings query's filters, ``limit`` (1..1000, default 100) and ``after`` (a row id)."""
    try:
        params = {key: values[-1] for key, values in parse_qs(query.decode("utf-8"), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        raise ValueError("the query string is not UTF-8") from None
    limit = _bounded(params.pop("limit", "100"), "limit", 1, MAX_LIMIT)
    return params, limit, _bounded(params.pop("after", "0"), "after", 0, MAX_ROW_ID)


def _bounded(value: str, name: str, low: int, high: int) -> int:
    """``value`` as a whole number in ``low..high`` (digits only: no sign, space, underscore or exponent)."""
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise ValueError(f"{name}={shown(value[:40])} is not a whole number from {low} to {high}")
    return int(value)


def _host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port and brackets, lower-case."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.rpartition(":")[0].lower() if host.count(":") == 1 else host.lower()


def _server_name(scope: dict[str, Any]) -> str | None:
    server = scope.get("server")
    return str(server[0]).lower() if server else None


def parse_since(value: str) -> int:
    """The receive-time bound ``since=value`` names, in milliseconds since the epoch (see the module
    docstring for the two forms); anything else is a ``ValueError`` that quotes :data:`SINCE_FORMS`."""
    if _SECONDS.fullmatch(value):
        seconds = Decimal(value)
        if seconds > _LATEST_SECONDS:
            raise ValueError(f"since={shown(value[:40])} is past the year 9999 as epoch seconds (milliseconds are not "
                             f"accepted); since takes {SINCE_FORMS}")
        return int(seconds * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"since={shown(value[:40])} is not a time; since takes {SINCE_FORMS}") from None
    if moment.tzinfo is None:
        raise ValueError(f"since={shown(value[:40])} has no offset; since takes {SINCE_FORMS}")
    try:
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    except OverflowError:  # an offset that takes year 1 or 9999 out of range
        raise ValueError(f"since={shown(value[:40])} is out of range; since takes {SINCE_FORMS}") from None
