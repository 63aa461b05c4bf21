"""Turn an accepted event into the record capture would produce for Kafka (contract §4.4).

The record keeps what capture keeps and computes what capture computes: the distinct id as a string
(stringified, NUL-replaced, cut to 200 characters), a uuid (a new UUIDv7 when the event has none), the
client IP (``127.0.0.1`` for ``capture_internal`` events), ``data`` rebuilt from the known event fields
only (rule 22: other top-level keys are dropped, ``properties`` is never changed), ``now``, ``sent_at``,
the computed event time (§4.3) and the batch's ``historical_migration``.

A v1 event (capture-v1.md §4.4, :func:`build_v1`) makes the same record, plus the protocol and the result
it was acknowledged with; its ``data`` carries the properties the server injects (session and window ids,
the coerced options, ``$lib`` from ``PostHog-Sdk-Info``) after the client's own, so they win.
"""

from __future__ import annotations

import os
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from harness.generate import ids
from harness.spec import timestamps
from harness.spec.records import distinct_id, known_fields
from harness.spec.unicode import rust_trim


class Record(NamedTuple):
    """One stored event, shaped like capture's ``CapturedEvent`` (a tuple: it is a store row as is)."""

    uuid: str
    distinct_id: str
    ip: str
    data: str
    now: str
    sent_at: str | None
    token: str
    event: str
    timestamp: str
    historical_migration: bool
    is_cookieless_mode: bool
    protocol: str = "v0"
    result: str | None = None
    """v1 only: the result the event was acknowledged with, ``ok`` or ``warning``, with ``:details`` when set."""


class Context(NamedTuple):
    """What every event of one request shares, formatted once per request."""

    token: str
    client_ip: str
    now: datetime
    sent_at: datetime | None
    historical_migration: bool

    @property
    def now_text(self) -> str:
        return timestamps.rfc3339(self.now)

    @property
    def sent_at_text(self) -> str | None:
        return timestamps.rfc3339(self.sent_at) if self.sent_at else None


def build_all(events: Sequence[Mapping[str, Any]], context: Context) -> list[Record]:
    """The records of a request's accepted events."""
    now_text, sent_at_text = context.now_text, context.sent_at_text
    return [build(event, context, now_text, sent_at_text) for event in events]


def build(event: Mapping[str, Any], context: Context, now_text: str, sent_at_text: str | None) -> Record:
    """The record of one accepted event (already validated: every field has a type capture accepts)."""
    properties = event.get("properties") or {}
    fields = known_fields(event)
    event_uuid = _uuid(fields.get("uuid"))
    fields["uuid"] = event_uuid
    moment = timestamps.event_time(
        context.now, fields.get("timestamp"), fields.get("offset"), context.sent_at,
        properties.get("$ignore_sent_at") is True,
    )
    return Record(
        uuid=event_uuid,
        distinct_id=distinct_id(event),
        ip="127.0.0.1" if "capture_internal" in properties else context.client_ip,
        data=orjson.dumps(fields).decode(),
        now=now_text,
        sent_at=sent_at_text,
        token=context.token,
        event=event["event"],
        timestamp=timestamps.rfc3339(moment),
        historical_migration=context.historical_migration,
        is_cookieless_mode=properties.get("$cookieless_mode") is True,
    )


def build_v1(event: Mapping[str, Any], context: Context, texts: tuple[str, str | None], lib: tuple[str, str] | None,
             result: str, details: str | None) -> Record:
    """The record of one v1 event the judge answered ``ok`` or ``warning`` (capture-v1.md §4.4): every
    field already has its type; ``texts`` are the context's ``now`` and ``sent_at`` (the request timestamp),
    formatted once per request; ``lib`` is ``($lib, $lib_version)`` from ``PostHog-Sdk-Info`` or None."""
    options = event.get("options") or {}
    flags = {key: _flag(options.get(key)) for key in ("cookieless_mode", "disable_skew_correction",
                                                     "process_person_profile")}
    if details == "person_processing_disabled":  # an illegal distinct id, or the per-distinct-id limiter
        flags["process_person_profile"] = False
    tour = options.get("product_tour_id")
    injected = {"$session_id": event.get("session_id"), "$window_id": event.get("window_id"),
                "$cookieless_mode": flags["cookieless_mode"], "$ignore_sent_at": flags["disable_skew_correction"],
                "$process_person_profile": flags["process_person_profile"],
                "$product_tour_id": None if tour is None else str(tour)}
    if lib is not None:
        injected["$lib"], injected["$lib_version"] = lib
    properties = {**(event.get("properties") or {}), **{k: v for k, v in injected.items() if v is not None}}
    event_uuid = _uuid(event["uuid"].strip())
    who = rust_trim(event["distinct_id"])
    fields = {"token": context.token, "distinct_id": who, "uuid": event_uuid, "event": event["event"],
              "properties": properties, "timestamp": event["timestamp"]}
    if flags["disable_skew_correction"]:  # skips both the skew correction and the future clamp
        moment = timestamps.parse_date(event["timestamp"]) or context.now
    else:
        moment = timestamps.event_time(context.now, event["timestamp"], None, context.sent_at, False)
    return Record(
        uuid=event_uuid, distinct_id=who, ip=context.client_ip, data=orjson.dumps(fields).decode(), now=texts[0],
        sent_at=texts[1], token=context.token, event=event["event"], timestamp=timestamps.rfc3339(moment),
        historical_migration=context.historical_migration, is_cookieless_mode=flags["cookieless_mode"] is True,
        protocol="v1", result=f"{result}:{details}" if details else result,
    )


def _flag(value: Any) -> bool | None:
    """An option's boolean as the newest ``RawOptions::validate`` coerces it (already judged coercible)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in ("true", "1")


def _uuid(value: str | None) -> str:
    """The event's uuid in canonical form, or a new UUIDv7 when it is absent, null or ``""`` (rule 18)."""
    if not value:
        return new_uuid7()
    if len(value) == 36 and value.islower():  # already canonical: the SDKs' form, the common case
        return value
    return str(uuid_module.UUID(value))


def new_uuid7() -> str:
    """A UUIDv7 for the current millisecond, as capture generates for events without one."""
    return ids.uuid7_text(int(datetime.now().timestamp() * 1000), int.from_bytes(os.urandom(10), "big") >> 6)
