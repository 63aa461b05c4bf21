"""Capture's v0 request handling without I/O: request bytes in, status, body and records out.

The steps and their order are capture's (contract §2 to §4): decode the wire encoding, parse the JSON,
turn a nameless body on ``/engage`` into ``$identify``, judge the payload with the same validator users
run (``harness.spec.validation``, which reads the schemas), then build one record per kept event.  The
status and the plain-text error body come from the deciding rule (``harness.spec.rules``), so the server
cannot drift from the validator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from harness import wire
from harness.server import records
from harness.spec import timestamps
from harness.spec.body import detect_kind, event_token, kept_events
from harness.spec.jsontext import strict_loads
from harness.spec.records import trim_token
from harness.spec.rules import rule
from harness.spec.validation import parse_rejection, validate

ENGAGE_PATHS = frozenset({"/engage", "/engage/"})


@dataclass(frozen=True)
class Outcome:
    """What to answer, and what to store.  ``reason`` names the rule (or decode step) of a rejection."""

    status: int
    text: str = ""
    records: list[records.Record] = field(default_factory=list)
    reason: str | None = None


def handle(path: str, query: str, headers: Mapping[str, str], body: bytes, client_ip: str,
           now: datetime) -> Outcome:
    """Process one v0 capture request (GET or POST) as capture would."""
    try:
        text = wire.decode_payload(path, query, headers, body)
    except wire.DecodeError as error:
        return Outcome(error.status, str(error), reason=f"decode: {type(error).__name__}")
    encoded = text.encode()
    try:
        document = strict_loads(encoded)
    except orjson.JSONDecodeError as error:
        broken = parse_rejection(str(error))
        return Outcome(400, f"failed to parse request: {error}", reason=broken.name)
    if path in ENGAGE_PATHS and _is_engage_shape(document):
        document = {**document, "event": "$identify"}
    kind = detect_kind(document)
    if kind == "response":  # a `{"status": ...}` body is just an event without a name to capture
        kind = "capture"
    report = validate(document, kind, encoded=encoded, wire_size=len(body), warnings=False, limit=1)
    if not report.accepted:
        deciding = rule(report.rejections[0].rule)
        assert deciding.status is not None
        return Outcome(deciding.status, deciding.capture_text, reason=deciding.name)
    kept = kept_events(document)
    if not kept:  # every event was $performance_event: silently accepted (rule 11)
        return Outcome(200)
    context = records.Context(
        token=trim_token(_request_token(document, kept)),
        client_ip=client_ip,
        now=now,
        sent_at=_sent_at(document, query),
        historical_migration=isinstance(document, dict) and document.get("historical_migration") is True
        and "event" not in document,
    )
    return Outcome(200, records=records.build_all(kept, context))


def _is_engage_shape(document: Any) -> bool:
    """A body capture reads as ``RawEngageEvent``: an object with no ``event`` that is not a batch."""
    return isinstance(document, dict) and "event" not in document and not (
        isinstance(document.get("batch"), list) and isinstance(document.get("api_key", document.get("token")), str))


def _request_token(document: Any, kept: list[dict[str, Any]]) -> str:
    """The batch token wins; otherwise the token the kept events agree on (validated already)."""
    if isinstance(document, dict) and "event" not in document:
        batch_token = document.get("api_key", document.get("token"))
        if isinstance(batch_token, str):
            return batch_token
    for event in kept:
        token = event_token(event)
        if token is not None:
            return token
    raise AssertionError("a validated request always has a token")


def _sent_at(document: Any, query: str) -> datetime | None:
    """The batch body's ``sent_at`` first, then the ``_`` query parameter in milliseconds (rule 21)."""
    if isinstance(document, dict) and "event" not in document:
        from_body = timestamps.sent_at_from_body(document.get("sent_at"))
        if from_body is not None:
            return from_body
    values = parse_qs(query.lstrip("?")).get("_") if query else None
    return timestamps.sent_at_from_query(values[0] if values else None)
