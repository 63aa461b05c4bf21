"""The reference endpoint's ``/s/`` route: session recordings, judged and stored as capture's recordings mode.

:func:`handle` is the pipeline without I/O (bytes in, status and the row to store out), in capture's order
(docs/recordings-contract.md): decode the body with v0's wire decoding under the recordings size cap,
parse it strictly, judge it (:func:`harness.spec.recordings.judge`), then fold the request into the one
``$snapshot_items`` message capture would forward.  :func:`route` is the HTTP side the router calls: CORS
and OPTIONS as on the analytics routes, the body read with the router's cap and timeout, the pipeline
off the event loop for large or compressed bodies, and the row committed before the 200.

Faults (``/_harness/faults``) and ``?beacon=1`` apply to the analytics routes only: recordings answer
as capture does, always.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid as uuid_module
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from harness import wire
from harness.server import offload
from harness.server.asgi import (
    JSON,
    STORE_FAILED_TEXT,
    TEXT,
    BodyError,
    Headers,
    Receive,
    Scope,
    Send,
    answer_method,
    respond,
)
from harness.server.records import new_uuid7
from harness.spec import recordings, timestamps
from harness.spec.body import event_token
from harness.spec.jsontext import strict_loads, to_json
from harness.spec.records import distinct_id, trim_token
from harness.spec.rules import rule
from harness.spec.validation import parse_rejection

if TYPE_CHECKING:
    from harness.server.app import CaptureApp

@dataclass(frozen=True)
class Answer:
    """What to answer and, when accepted, the row to store (values in ``store.RECORDING_COLUMNS`` order)."""

    status: int
    text: str = ""
    row: tuple[Any, ...] | None = None
    reason: str | None = None


def handles(path: str) -> bool:
    """Whether ``path`` is a recordings route (``/s`` and ``/s/``)."""
    return path in recordings.RECORDING_PATHS


def handle(query: str, headers: Mapping[str, str], body: bytes, client_ip: str, now: datetime) -> Answer:
    """Process one ``/s/`` request (GET or POST) as capture's recordings mode would."""
    try:
        text = wire.decode_payload("/s/", query, headers, body, max_decompressed=recordings.PAYLOAD_LIMIT)
    except wire.DecodeError as error:
        reason = "recording-payload-too-large" if error.status == 413 else f"decode: {type(error).__name__}"
        return Answer(error.status, str(error), reason=reason)
    encoded = text.encode()
    try:
        document = strict_loads(encoded)
    except orjson.JSONDecodeError as error:
        return Answer(400, f"failed to parse request: {error}", reason=parse_rejection(str(error)).name)
    user_agent = headers.get("user-agent")
    report = recordings.judge(document, encoded=encoded, user_agent=user_agent, warnings=False, limit=1)
    if not report.accepted:
        deciding = rule(report.rejections[0].rule)
        assert deciding.status is not None
        return Answer(deciding.status, deciding.capture_text, reason=deciding.name)
    return Answer(200, row=_row(recordings.events_of(document), query, user_agent, client_ip, now))


def _row(events: list[Any], query: str, user_agent: str | None, client_ip: str, now: datetime) -> tuple[Any, ...]:
    """The stored row of an accepted request: capture's ``CapturedEvent`` for its ``$snapshot_items``."""
    first = events[0]
    message = recordings.snapshot_message(events, user_agent)
    properties = message["properties"]
    items = properties["$snapshot_items"]
    first_ms, last_ms = recordings.item_times(items)
    sent = parse_qs(query.lstrip("?")).get("_") if query else None
    moment = timestamps.event_time(now, first.get("timestamp"), first.get("offset"),
                                   timestamps.sent_at_from_query(sent[0] if sent else None),
                                   first["properties"].get("$ignore_sent_at") is True)
    given = first.get("uuid")
    token = event_token(first)
    assert token is not None, "a judged body's first event has a token"
    return (str(uuid_module.UUID(given)) if given else new_uuid7(), properties["$session_id"],
            orjson.dumps(properties["$window_id"]).decode(), distinct_id(first), trim_token(token), client_ip,
            timestamps.rfc3339(moment), len(items), first_ms, last_ms, to_json(message).decode())


async def route(app: CaptureApp, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                cors: Headers, client_ip: str) -> int:
    """Answer one request on ``/s`` or ``/s/`` (``client_ip`` as the router reads it); returns the status."""
    answered = await answer_method(scope["method"], send, headers, cors)
    if answered is not None:
        return answered
    try:
        body = await app.take_body(scope, receive, headers, label="recordings body")
    except BodyError as error:
        return await respond(send, error.status, str(error).encode(), TEXT, cors + error.headers)
    query = scope["query_string"].decode("latin-1")
    request = (query, headers, body, client_ip, datetime.now(UTC))
    if offload.runs_inline(query, headers, body):
        answer = handle(*request)
    else:  # a large or compressed body: its pipeline must not hold up other clients
        answer = await app.pipelines.run(handle, *request)
    if answer.row is None:
        deciding = answer.reason or str(answer.status)
        app.stats.rejections[f"recordings: {deciding}"] += 1
        app.rejections.add(scope, headers, body, answer.status, deciding, answer.text)
        return await respond(send, answer.status, answer.text.encode(), TEXT, cors)
    del body, request
    try:
        await asyncio.to_thread(app.store.add_recordings, [answer.row])
    except sqlite3.Error:  # nothing stored: the client retries
        app.stats.rejections["recordings store: 503"] += 1
        return await respond(send, 503, STORE_FAILED_TEXT, TEXT, cors + [(b"retry-after", b"1")])
    return await respond(send, 200, app.success_body, JSON, cors)
