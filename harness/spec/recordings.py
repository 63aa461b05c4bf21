"""Session recordings on ``/s/``: the judge of a ``$snapshot`` request body, and the message capture builds.

Capture's recordings route (docs/recordings-contract.md) decodes a body like v0's analytics routes, parses
it as an array of events or one event, and then reads almost everything from the **first** event: the
token, ``$session_id``, ``$window_id``, the distinct id, ``$cookieless_mode``.  Every event must carry
``$snapshot_data``; all of them are folded into **one** ``$snapshot_items`` message for Kafka.

The shape rules are in ``schemas/recording.json`` (their names in :data:`harness.spec.rules.RECORDING_RULES`
and, for the parse and token rules ``/s/`` shares with v0, :data:`harness.spec.rules.RULES`); this module
adds the two byte limits, which JSON Schema cannot measure, and the one warning.  The verdict is the
earliest stage's, as for v0 (:mod:`harness.spec.validation`), and findings of one stage are listed in the
order capture checks them, so the first is the error capture would answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from harness.spec import schemas
from harness.spec.jsontext import to_json
from harness.spec.records import distinct_id
from harness.spec.rules import EVENT_SIZE_LIMIT, RECORDING_RULES
from harness.spec.validation import Finding, Report, finding_message, schema_findings

RECORDING_PATHS = frozenset({"/s", "/s/"})
"""The routes of capture's recordings mode (``rust/capture/src/router.rs``), both answered alike."""

PAYLOAD_LIMIT = EVENT_SIZE_LIMIT
"""Recordings mode caps the decoded payload at ``KAFKA_PRODUCER_MESSAGE_MAX_BYTES`` (default 1,000,000)."""

MESSAGE_LIMIT = EVENT_SIZE_LIMIT
"""The ``$snapshot_items`` message must fit Kafka's ``message.max.bytes`` (default 1,000,000), measured
by :func:`message_size`."""

KIND = "recording"
"""The payload kind of a ``/s/`` body, for ``validate --kind`` and ``generate --kind``."""

TARGET = schemas.uri("recording.json")

_ORDER = {name: index for index, name in enumerate((
    "recording-session-id-missing", "recording-session-id-invalid", "recording-distinct-id-missing",
    "cookieless-mode-not-boolean", "recording-snapshot-data-missing"))}
"""The EVENT-stage checks in ``process_replay_events``' order: the first is what capture answers."""

EXPLAINED = 200
"""Schema failures explained per body at most: all of the deciding stage must be seen to sort them into
capture's order, but a body with thousands of bad elements should not cost thousands of explanations."""


def events_of(document: Any) -> list[Any]:
    """The events of a recordings body: an array's items, or the one event object."""
    if isinstance(document, list):
        return document
    return [document] if isinstance(document, dict) else []


def is_recording(document: Any) -> bool:
    """Whether a body looks like posthog-js's recordings: every event a ``$snapshot`` (``validate`` detects it)."""
    events = events_of(document)
    return bool(events) and all(isinstance(e, dict) and e.get("event") == "$snapshot" for e in events)


def judge(document: Any, *, encoded: bytes | None = None, user_agent: str | None = None, warnings: bool = True,
          limit: int | None = None) -> Report:
    """Judge a ``/s/`` body as capture would.  ``encoded`` is its decoded JSON text when the caller has it
    (the size cap is measured on it); ``user_agent`` is the request's, which can name the message's
    ``$lib``; ``limit`` caps the findings listed, not the verdict."""
    size = len(encoded if encoded is not None else to_json(document))
    if size > PAYLOAD_LIMIT:
        found = Finding("recording-payload-too-large", "$",
                        finding_message("recording-payload-too-large", f"{size:,} bytes"))
        return Report(kind=KIND, rejections=(found,), status=413)
    stage = schemas.failing_stage(TARGET, document)
    if stage is not None:
        deciding = sorted(schema_findings(TARGET, document, stage, EXPLAINED), key=lambda f: _ORDER.get(f.rule, -1))
        shown = deciding if limit is None else deciding[:limit]
        return Report(kind=KIND, rejections=tuple(shown), status=shown[0].status,
                      truncated=len(shown) < len(deciding))
    message = message_size(snapshot_message(events_of(document), user_agent))
    if message > MESSAGE_LIMIT:
        found = Finding("recording-message-too-large", "$",
                        finding_message("recording-message-too-large", f"{message:,} bytes"))
        return Report(kind=KIND, rejections=(found,), status=413)
    return Report(kind=KIND, warnings=tuple(merged_sessions(events_of(document))) if warnings else ())


def merged_sessions(events: list[Any]) -> Iterator[Finding]:
    """``recording-sessions-merged``: capture files every event under the first one's session and window."""
    first = _properties(events[0]) if events else {}
    for index, event in enumerate(events[1:], start=1):
        properties = _properties(event)
        for key in ("$session_id", "$window_id"):
            if key in properties and properties[key] != first.get(key):
                yield Finding("recording-sessions-merged", f"$[{index}].properties['{key}']",
                              finding_message("recording-sessions-merged", f"{properties[key]!r}"[:40]))


def _properties(event: Any) -> Mapping[str, Any]:
    properties = event.get("properties") if isinstance(event, dict) else None
    return properties if isinstance(properties, dict) else {}


def snapshot_items(events: list[Any]) -> list[Any]:
    """Every event's ``$snapshot_data`` in order: an array's items, or the one object (judged already)."""
    items: list[Any] = []
    for event in events:
        data = _properties(event)["$snapshot_data"]
        if isinstance(data, list):
            items.extend(data)
        else:
            items.append(data)
    return items


def snapshot_message(events: list[Any], user_agent: str | None = None) -> dict[str, Any]:
    """The one ``$snapshot_items`` event capture forwards for an accepted body (``process_replay_events``):
    the first event's session, window (the session when absent), distinct id, source and library."""
    first = _properties(events[0])
    session = first["$session_id"]
    library = first.get("$lib")
    if not isinstance(library, str):
        library = _library_from(user_agent)
    return {"event": "$snapshot_items", "properties": {
        "distinct_id": distinct_id(events[0]),
        "$session_id": session,
        "$window_id": first.get("$window_id", session),
        "$snapshot_source": "mobile" if first.get("$snapshot_source") == "mobile" else "web",
        "$snapshot_items": snapshot_items(events),
        "$lib": library,
    }}


def message_size(message: dict[str, Any]) -> int:
    """The bytes the message takes in the Kafka record: capture writes it as the JSON *string* ``data``
    of its ``CapturedEvent``, so every quote and backslash is escaped (the record's other fields, a few
    hundred bytes, are not counted, as v0's ``event-too-large`` does not count them)."""
    return len(to_json(to_json(message).decode()))


def _library_from(user_agent: str | None) -> str:
    """Capture's fallback for a missing ``$lib``: the User-Agent's product when it names posthog, else
    ``web``; ``unknown`` without a User-Agent."""
    if user_agent is None:
        return "unknown"
    product = user_agent.split("/")[0]
    return product if "posthog" in product else "web"


def item_times(items: list[Any]) -> tuple[int | None, int | None]:
    """The first and last rrweb ``timestamp`` (ms) among ``items``; None when none carries an integer one."""
    times = [item["timestamp"] for item in items if isinstance(item, dict)
             and isinstance(item.get("timestamp"), int) and not isinstance(item.get("timestamp"), bool)]
    return (min(times), max(times)) if times else (None, None)


REJECTIONS: tuple[str, ...] = tuple(r.name for r in RECORDING_RULES if r.status is not None)
"""The recordings rules a body can break (the rest is the one warning)."""
