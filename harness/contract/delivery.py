"""Delivery: what an endpoint acknowledged must be stored as it was sent, and what it refused must not.

Only for endpoints that serve the reference server's inspection API (``GET /_harness/events?uuid=``);
each record there is shaped like capture's Kafka message: ``uuid`` (canonical), ``distinct_id`` (as
capture stringifies it), ``event`` and ``data`` (the event's JSON text, ``properties`` untouched).
The expected distinct id comes from :func:`harness.spec.records.distinct_id`, the project's one
implementation of contract §4.2 (stringify, replace NUL, cut to 200 characters).
"""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from harness.checks import Case, Check, Failure, Reply, Title, short
from harness.contract.client import Client, NoAnswerError
from harness.spec.body import kept_events
from harness.spec.records import distinct_id as stored_distinct_id

WAIT_S = 0.25
"""How long an acknowledged event may take to show up (the reference commits before it answers; a
proxy in front of a queue may lag a little)."""


@dataclass(frozen=True)
class InspectionClient:
    """The target's ``/_harness/`` inspection API, what the ``capture_inspection`` fixture yields: ``url`` (the
    API's base URL, e.g. ``http://127.0.0.1:8000/_harness``), ``client`` (the session's connection, for
    :func:`stored_as_sent` and :func:`none_stored`), ``events(uuid)`` and ``stats()``."""

    url: str
    client: Client

    def events(self, event_uuid: str) -> list[dict[str, Any]]:
        """The records stored under ``event_uuid`` (``GET /_harness/events?uuid=``; none: an empty list)."""
        return records_of(self.client, event_uuid)

    def stats(self) -> dict[str, Any]:
        """The endpoint's counters (``GET /_harness/stats``: requests per path and status, rejections, events)."""
        try:
            status, document = self.client.get_json("/_harness/stats")
        except NoAnswerError as error:
            raise Failure(Title.INSPECTION_FAILED, f"GET /_harness/stats: {error}") from None
        if status != 200 or not isinstance(document, dict):
            raise Failure(Title.INSPECTION_FAILED, f"GET /_harness/stats answered {status}")
        return document


def records_of(client: Client, event_uuid: str) -> list[dict[str, Any]]:
    """The stored records of one uuid, from the inspection API."""
    try:
        status, document = client.get_json(f"/_harness/events?uuid={quote(event_uuid)}")
    except NoAnswerError as error:
        raise Failure(Title.INSPECTION_FAILED, f"GET /_harness/events?uuid={event_uuid}: {error}") from None
    if status != 200 or not isinstance(document, dict):
        raise Failure(Title.INSPECTION_FAILED, f"GET /_harness/events?uuid={event_uuid} answered {status}")
    return list(document.get("events", []))


def stored_as_sent(body: Any, client: Client, *, wait_s: float = WAIT_S) -> Check:
    """A check: once acknowledged (2xx), every kept event of ``body`` (each with a uuid) is stored with the
    uuid, distinct_id, event and properties that were sent."""
    def check(case: Case, reply: Reply) -> None:
        if not 200 <= reply.status < 300:
            return
        expected = {_canonical(e["uuid"]): e for e in kept_events(body)}
        found = poll_stored(client, expected.keys(), wait_s)
        missing = [u for u in expected if u not in found]
        if missing:
            raise Failure(Title.NOT_STORED,
                          f"{case.name}: {len(missing)} of {len(expected)} events acknowledged with {reply.status} "
                          f"not found in /_harness/events (e.g. uuid {missing[0]})")
        for event_uuid, event in expected.items():
            _compare(case, event_uuid, event, found[event_uuid])
    return check


def none_stored(uuids: Sequence[str], client: Client, *, title: Title = Title.PARTIAL_BATCH_STORED,
                why: str = "capture refuses the whole request when one event is invalid (rule 10)") -> Check:
    """A check: none of the events ``uuids`` is stored, whatever the answer.  By default for a request
    holding an invalid event; ``title`` and ``why`` name other reasons (``$performance_event``)."""
    wanted = [_canonical(u) for u in uuids]

    def check(case: Case, reply: Reply) -> None:
        stored = [u for u in wanted if records_of(client, u)]
        if stored:
            raise Failure(title, f"{case.name}: answered {reply.status} and stored {len(stored)} of {len(wanted)} "
                                 f"events that must not be (e.g. uuid {stored[0]}): {why}")
    return check


def poll_stored(client: Client, uuids: Collection[str], wait_s: float) -> dict[str, dict[str, Any]]:
    """The newest stored record of each of ``uuids`` found within ``wait_s`` (an endpoint may commit after it
    answered), looked up until all are found or the time is up."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + wait_s
    while True:
        for uuid in set(uuids) - found.keys():
            records = records_of(client, uuid)
            if records:
                found[uuid] = records[-1]
        if len(found) == len(uuids) or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def _compare(case: Case, event_uuid: str, sent: dict[str, Any], record: dict[str, Any]) -> None:
    wanted = {"distinct_id": stored_distinct_id(sent), "event": sent["event"], "properties": sent.get("properties", {})}
    got = {"distinct_id": record.get("distinct_id"), "event": record.get("event"),
           "properties": stored_properties(record)}
    raise_if_stored_differs(case, event_uuid, wanted, got)


def stored_properties(record: dict[str, Any]) -> Any:
    """The properties of an inspection API row's stored event (its ``data``); None when it holds none."""
    try:
        data = orjson.loads(record.get("data") or b"null")
    except orjson.JSONDecodeError:
        data = None
    return data.get("properties") if isinstance(data, dict) else None


def raise_if_stored_differs(case: Case, event_uuid: str, wanted: dict[str, Any], got: dict[str, Any]) -> None:
    """:data:`Title.STORED_DIFFERS` naming each field where what was stored (``got``) is not what was sent."""
    differs = [name for name in wanted if wanted[name] != got[name]]
    if differs:
        detail = "; ".join(f"{name} stored {short(got[name])}, sent {short(wanted[name])}" for name in differs)
        raise Failure(Title.STORED_DIFFERS, f"{case.name}: event {event_uuid}: {detail}")


def _canonical(value: str) -> str:
    return str(uuid_module.UUID(value))
