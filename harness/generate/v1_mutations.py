"""v1 requests that each break exactly one v1 rule (capture-v1.md), for ``generate --protocol v1 --invalid``.

Each breaker edits a valid request of :class:`harness.generate.v1.V1Traffic` in place: a header, the
envelope, or one event (the other events stay ``ok``).  Not generated: the rules that need raw bytes
(``v1-body-empty``, ``v1-body-not-decodable``, ``v1-body-not-json``) or megabytes (``v1-body-too-large``,
``v1-event-too-large``); the golden cases cover those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.generate.choices import Choices
from harness.generate.v1 import V1Traffic
from harness.spec.rules import V1_RULES, rule
from harness.spec.v1.events import ILLEGAL_DISTINCT_IDS
from harness.spec.v1.headers import REQUIRED

Request = dict[str, Any]
Breaker = Callable[[Choices, Request], None]


def _header(name: str, values: tuple[str, ...]) -> Breaker:
    def edit(c: Choices, request: Request) -> None:
        request["headers"][name] = c.pick(values)
    return edit


def _drop_header(c: Choices, request: Request) -> None:
    del request["headers"][c.pick(REQUIRED)]


def _envelope(key: str, values: tuple[Any, ...]) -> Breaker:
    def edit(c: Choices, request: Request) -> None:
        value = c.pick(values)
        if value is _DELETE:
            request["body"].pop(key, None)
        else:
            request["body"][key] = value
    return edit


def _event(key: str, values: tuple[Any, ...]) -> Breaker:
    """Set (or delete) ``key`` of one event, picked at random."""
    def edit(c: Choices, request: Request) -> None:
        events = request["body"]["batch"]
        event = events[c.integer(0, len(events) - 1)]
        value = c.pick(values)
        if value is _DELETE:
            event.pop(key, None)
        else:
            event[key] = value
    return edit


def _not_object(c: Choices, request: Request) -> None:
    request["body"] = request["body"]["batch"]


def _event_not_object(c: Choices, request: Request) -> None:
    events = request["body"]["batch"]
    events[c.integer(0, len(events) - 1)] = c.pick(("event", 7, None, []))


def _batch_not_array(c: Choices, request: Request) -> None:
    body = request["body"]
    body["batch"] = c.pick((body["batch"][0], "[]", None))


def _duplicate(c: Choices, request: Request) -> None:
    events = request["body"]["batch"]
    if len(events) == 1:
        events.append({**events[0], "uuid": events[0]["uuid"]})
    twin = events[c.integer(1, len(events) - 1)]
    uuid = events[0]["uuid"]
    twin["uuid"] = c.pick((uuid, uuid.upper(), "{" + uuid + "}", f" {uuid} "))


_DELETE = object()
_TOKENS = ("Bearer phx_personalkey123", "Bearer    ", "Bearer " + "a" * 65)
BREAKERS: dict[str, Breaker] = {
    "v1-authorization-missing": lambda c, r: r["headers"].pop("Authorization"),
    "v1-headers-missing": _drop_header,
    "v1-authorization-not-bearer": _header("Authorization", ("Basic abc", "Bearer", "phc_test_key", "Token phc_x")),
    "v1-token-invalid": _header("Authorization", _TOKENS),
    "v1-content-type-unsupported": _header("Content-Type", ("text/plain", "application/x-www-form-urlencoded")),
    "v1-content-encoding-unsupported": _header("Content-Encoding", ("lz4", "identity", "gzip-js", "gzip, br", "")),
    "v1-request-id-invalid": _header("PostHog-Request-Id", ("req-1", "", "1234", "01a2171c-ebe4-7d5e-9df2")),
    "v1-attempt-invalid": _header("PostHog-Attempt", ("0", "-1", "abc", "1.0")),
    "v1-request-timestamp-invalid": _header("PostHog-Request-Timestamp", ("now", "2026-11-26 09:08:21", "1764148101")),
    "v1-header-not-visible-ascii": _header("User-Agent", ("posthog-pythön/7.91.1", "posthog-node/5.70.0\x7f")),
    "v1-body-not-object": _not_object,
    "v1-created-at-missing": _envelope("created_at", (_DELETE, 1764148101, None)),
    "v1-batch-not-array": _batch_not_array,
    "v1-historical-migration-not-boolean": _envelope("historical_migration", ("true", 1, None)),
    "v1-capture-internal-not-boolean": _envelope("capture_internal", ("yes", 1, {})),
    "v1-event-not-object": _event_not_object,
    "v1-event-name-not-string": _event("event", (_DELETE, 7, None)),
    "v1-uuid-not-string": _event("uuid", (_DELETE, None, 12345)),
    "v1-distinct-id-not-string": _event("distinct_id", (_DELETE, 42, None, {"id": 1})),
    "v1-timestamp-not-string": _event("timestamp", (_DELETE, 1764148101092, None)),
    "v1-session-id-not-string": _event("session_id", (5, {}, ["s"])),
    "v1-batch-empty": lambda c, r: r["body"].__setitem__("batch", []),
    "v1-created-at-invalid": _envelope("created_at", ("now", "2026-11-26", "26/11/2026 09:08")),
    "v1-uuid-empty": _event("uuid", ("", "   ")),
    "v1-uuid-invalid": _event("uuid", ("not-a-uuid", "01a2171c-ebe4-7d5e-9df2", "zzzzzzzz-ebe4-7d5e-9df2-08ae9cc11bac")),
    "v1-uuid-duplicate": _duplicate,
    "v1-performance-event": _event("event", ("$performance_event",)),
    "v1-event-name-empty": _event("event", ("",)),
    "v1-event-name-too-long": _event("event", ("e" * 201, "é" * 101)),
    "v1-distinct-id-empty": _event("distinct_id", ("", "   ")),
    "v1-distinct-id-too-long": _event("distinct_id", ("d" * 201, "ü" * 101)),
    "v1-timestamp-invalid": _event("timestamp", ("yesterday", "", "2026-02-30T09:00:00Z", "2026-11-26T09:08:21")),
    "v1-properties-not-object": _event("properties", ([1], None, "props", 3)),
    "v1-options-invalid": _event("options", ([], "{}", {"process_person_profile": "maybe"}, {"product_tour_id": {}})),
    "v1-distinct-id-illegal": _event("distinct_id", tuple(sorted(ILLEGAL_DISTINCT_IDS))),
}

GENERATED_RULES: tuple[str, ...] = tuple(r.name for r in V1_RULES if r.name in BREAKERS)
"""The v1 rules ``--invalid`` cycles through, in the catalogue's order."""


def invalid(c: Choices, traffic: V1Traffic, name: str) -> dict[str, Any]:
    """A labelled request breaking ``name``: ``{"rule", "tag", "expect_status", "headers", "body"}``."""
    request = traffic.request(c.integer(1, 5))
    BREAKERS[name](c, request)
    found = rule(name)
    return {"rule": name, "tag": found.tag, "expect_status": found.status, "headers": request["headers"],
            "body": request["body"]}
