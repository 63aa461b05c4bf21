"""The v1 event walk (``validate_events``, capture-v1.md §4.2): uuids first, then each event's result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.spec.body import PERFORMANCE_EVENT
from harness.spec.jsontext import to_json
from harness.spec.rules import EVENT_SIZE_LIMIT
from harness.spec.v1.model import EventResult, Finding, finding
from harness.spec.v1.text import (
    canonical_uuid,
    coercible_flag,
    coercible_tour_id,
    is_rfc3339,
    is_utc,
    over_bytes,
    utf8_len,
)

NAME_MAX_BYTES = 200
DISTINCT_ID_MAX_BYTES = 200
ILLEGAL_DISTINCT_IDS = frozenset({
    "0", "00000000-0000-0000-0000-000000000000", "[object object]", "anonymous", "anonymous-user", "backend",
    "distinct_id", "distinctid", "email", "false", "guest", "id", "nan", "none", "not_authenticated", "null",
    "system", "true", "undefined", "user",
})
FLAG_OPTIONS = ("cookieless_mode", "disable_skew_correction", "process_person_profile")
EVENT_KEYS = frozenset({"event", "uuid", "distinct_id", "timestamp", "session_id", "window_id", "options",
                        "properties"})
BODY_KEYS = frozenset({"created_at", "batch", "historical_migration", "capture_internal"})


def uuid_rejection(events: list[dict[str, Any]], prefix: str, variants: frozenset[str]) -> Finding | None:
    """The first uuid fault in batch order (empty, unparseable, duplicate), which refuses the request."""
    seen: set[str] = set()
    for index, event in enumerate(events):
        path = f"{prefix}[{index}].uuid"
        text = event["uuid"].strip()
        if not text:
            return finding("v1-uuid-empty", path, repr(event["uuid"]), variants)
        canonical = canonical_uuid(text)
        if canonical is None:
            return finding("v1-uuid-invalid", path, repr(event["uuid"]), variants)
        if canonical in seen:
            return finding("v1-uuid-duplicate", path, canonical, variants)
        seen.add(canonical)
    return None


def strict_options(events: list[dict[str, Any]], prefix: str, variants: frozenset[str]) -> Iterator[Finding]:
    """Variant options-strict (older ``types.rs``): ``options`` required, booleans as JSON booleans."""
    for index, event in enumerate(events):
        options = event.get("options")
        bad = not isinstance(options, dict) or any(
            options.get(key) is not None and not isinstance(options.get(key), bool)
            for key in (*FLAG_OPTIONS, "disable_skew_adjustment")) or \
            not (options.get("product_tour_id") is None or isinstance(options.get("product_tour_id"), str))
        if bad:
            yield finding("v1-options-invalid", f"{prefix}[{index}].options", repr(options)[:60], variants)


def results(events: list[dict[str, Any]], prefix: str, variants: frozenset[str],
            sized: bool = True) -> tuple[EventResult, ...]:
    """Every event's result, in request order (the uuid stage already passed); ``sized=False`` when the
    whole body is under the per-event limit, so no event can be too big."""
    out = []
    for index, event in enumerate(events):
        uuid = canonical_uuid(event["uuid"].strip()) or ""
        found = _event_finding(event, f"{prefix}[{index}]", variants, sized)
        if found is None:
            out.append(EventResult(index, uuid, "ok"))
        else:
            out.append(EventResult(index, uuid, found.result or "drop", found.tag or None, found))
    return tuple(out)


def _event_finding(event: dict[str, Any], path: str, variants: frozenset[str], sized: bool) -> Finding | None:
    name, distinct_id = event["event"], event["distinct_id"].strip()
    if name == PERFORMANCE_EVENT:
        return finding("v1-performance-event", f"{path}.event", "", variants)
    if not name:
        return finding("v1-event-name-empty", f"{path}.event", "", variants)
    if over_bytes(name, NAME_MAX_BYTES):
        return finding("v1-event-name-too-long", f"{path}.event", f"{utf8_len(name)} bytes", variants)
    if not distinct_id:
        return finding("v1-distinct-id-empty", f"{path}.distinct_id", repr(event["distinct_id"]), variants)
    if over_bytes(distinct_id, DISTINCT_ID_MAX_BYTES):
        return finding("v1-distinct-id-too-long", f"{path}.distinct_id", f"{utf8_len(distinct_id)} bytes", variants)
    if not is_rfc3339(event["timestamp"]):
        return finding("v1-timestamp-invalid", f"{path}.timestamp", repr(event["timestamp"])[:60], variants)
    if "properties" in event and not isinstance(event["properties"], dict):
        return finding("v1-properties-not-object", f"{path}.properties", type(event["properties"]).__name__, variants)
    if not _options_ok(event.get("options")):
        return finding("v1-options-invalid", f"{path}.options", repr(event.get("options"))[:60], variants)
    if distinct_id.lower() in ILLEGAL_DISTINCT_IDS:
        return finding("v1-distinct-id-illegal", f"{path}.distinct_id", repr(distinct_id), variants)
    size = len(to_json(event)) if sized else 0
    if size > EVENT_SIZE_LIMIT:
        return finding("v1-event-too-large", path, f"{size:,} bytes", variants)
    return None


def _options_ok(options: Any) -> bool:
    if options is None or options == {}:
        return True
    if not isinstance(options, dict):
        return False
    return all(coercible_flag(options.get(key)) for key in FLAG_OPTIONS) and \
        coercible_tour_id(options.get("product_tour_id"))


def warnings(body: dict[str, Any], prefix: str, sdk: bool) -> Iterator[Finding]:
    """Ignored keys (server profile), and with ``sdk`` what an SDK should not emit (capture-v1.md §6, §10)."""
    none: frozenset[str] = frozenset()
    for key in body.keys() - BODY_KEYS:
        yield finding("v1-body-field-ignored", f"{prefix}.{key}", key, none)
    if sdk:
        yield from _sdk_body(body, prefix)
    for index, event in enumerate(body["batch"]):
        path = f"{prefix}.batch[{index}]"
        for key in sorted(event.keys() - EVENT_KEYS):
            yield finding("v1-event-field-ignored", f"{path}.{key}", key, none)
        if sdk:
            yield from _sdk_event(event, path)


def _sdk_body(body: dict[str, Any], prefix: str) -> Iterator[Finding]:
    none: frozenset[str] = frozenset()
    for key in ("api_key", "token", "sent_at"):
        if key in body:
            yield finding("v1-sdk-body-token", f"{prefix}.{key}", key, none)
    if body.get("historical_migration") is False:
        yield finding("v1-sdk-historical-migration-false", f"{prefix}.historical_migration", "", none)
    if not is_utc(body["created_at"]):
        yield finding("v1-sdk-timestamp-not-utc", f"{prefix}.created_at", repr(body["created_at"]), none)


def _sdk_event(event: dict[str, Any], path: str) -> Iterator[Finding]:
    none: frozenset[str] = frozenset()
    if not is_utc(event["timestamp"]):
        yield finding("v1-sdk-timestamp-not-utc", f"{path}.timestamp", repr(event["timestamp"]), none)
    if "options" not in event:
        yield finding("v1-sdk-options-missing", f"{path}.options", "", none)
    elif isinstance(event["options"], dict) and "disable_skew_adjustment" in event["options"]:
        yield finding("v1-sdk-skew-option-old-name", f"{path}.options.disable_skew_adjustment", "", none)
    properties = event.get("properties")
    if isinstance(properties, dict):
        for key in ("$lib", "$lib_version"):
            if key in properties:
                yield finding("v1-sdk-lib-in-properties", f"{path}.properties.{key}", key, none)
        if "distinct_id" in properties:
            yield finding("v1-sdk-distinct-id-in-properties", f"{path}.properties.distinct_id", "", none)
    for key in ("$set", "$set_once"):
        if key in event:
            yield finding("v1-sdk-top-level-set", f"{path}.{key}", key, none)
    if canonical_uuid(event["uuid"]) != event["uuid"]:
        yield finding("v1-sdk-uuid-not-lowercase", f"{path}.uuid", repr(event["uuid"]), none)
