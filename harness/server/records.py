"""Turn an accepted event into the record capture would produce for Kafka (contract §4.4).

The record keeps what capture keeps and computes what capture computes: the distinct id as a string
(stringified, NUL-replaced, cut to 200 characters), a uuid (a new UUIDv7 when the event has none), the
client IP (``127.0.0.1`` for ``capture_internal`` events), ``data`` rebuilt from the known event fields
only (rule 22: other top-level keys are dropped, ``properties`` is never changed), ``now``, ``sent_at``,
the computed event time (§4.3) and the batch's ``historical_migration``.
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
