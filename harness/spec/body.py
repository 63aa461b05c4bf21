"""Body anatomy: where a request body keeps its events and tokens, read the way capture reads them.

Generation, the wire layer's users, the validator, the server, the contract suite and the load job all
need to find a body's events; none of them should import the validator (or the traffic model) for that.
"""

from __future__ import annotations

from typing import Any

DEFAULT_TOKEN = "phc_captureharnessdefaulttoken0000000000"
"""The placeholder project token of generated traffic (public: it is no one's key)."""

PERFORMANCE_EVENT = "$performance_event"
"""The event capture drops before anything else looks at it (contract rule 11)."""

SPECIAL_EVENT_KINDS: dict[str, str] = {
    "$identify": "identify",
    "$create_alias": "alias",
    "$merge_dangerously": "alias",
    "$groupidentify": "groupidentify",
}
"""Event names whose effect ingestion checks, and the kind whose ``$defs/effective`` describes it."""


def detect_kind(document: Any) -> str:
    """Guess the payload kind from its shape, as capture itself would read it."""
    if isinstance(document, list):
        return "batch"
    if not isinstance(document, dict):
        return "capture"
    if "batch" in document:
        return "batch"
    if "event" in document:
        name = document["event"]
        return SPECIAL_EVENT_KINDS.get(name, "capture") if isinstance(name, str) else "capture"
    if "status" in document:
        return "response"
    return "capture"


def events_of(document: Any) -> list[Any]:
    """The events a request body carries (a batch's ``batch``, an array's items, or the body itself).

    For a batch or an array this is the body's own list (callers may cut it in place); for a single
    event it is a new one-item list."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        batch = document.get("batch")
        if "event" not in document and isinstance(batch, list):
            return batch
        return [document]
    return []


def kept_events(document: Any) -> list[dict[str, Any]]:
    """The events capture keeps: every event object but ``$performance_event``, which it drops (rule 11)."""
    return [e for e in events_of(document) if isinstance(e, dict) and e.get("event") != PERFORMANCE_EVENT]


def event_token(event: dict[str, Any]) -> str | None:
    """The token capture reads from one event (§3.1): its own field first, else a string ``properties.token``."""
    for name in ("token", "$token", "api_key"):
        value = event.get(name)
        if value is not None:
            return value if isinstance(value, str) else None
    properties = event.get("properties")
    token = properties.get("token") if isinstance(properties, dict) else None
    return token if isinstance(token, str) else None
