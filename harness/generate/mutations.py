"""Turn a valid body into an edge case capture still accepts, or into one that breaks exactly one rule.

Edge cases (:data:`EDGES`) are what real clients send on a bad day and capture must accept: odd unicode,
NUL in properties, huge strings and integers, deep nesting, every distinct_id, uuid, timestamp and
token form.  Invalid bodies (:data:`BREAKERS`) each break the one rule they are named after, so a
validator or an endpoint can be checked rule by rule; ``harness.validate`` must report exactly that rule.

Every function takes a :class:`~harness.generate.choices.Choices` and a :class:`~harness.generate.traffic.Traffic`, so
they serve Hypothesis (shrinking) and bulk generation alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from harness.generate import model
from harness.generate.choices import Choices
from harness.generate.traffic import Traffic
from harness.spec.body import events_of
from harness.spec.rules import EVENT_SIZE_LIMIT, REJECTION_RULES, rule

Body = Any
Mutation = Callable[[Choices, Traffic], Body]

# --- vocabularies of awkward values -------------------------------------------------------------------

AWKWARD_TEXT = (
    "😀🎉👩‍👩‍👧‍👦", "مرحبا بالعالم", "שלום עולם", "e\u0301 n\u0303 a\u030a", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "漢字かなカナ", "Ελληνικά", "\u200bzero\u200dwidth\ufeff", "tab\tnewline\ncr\r", "a\u0000b",
    "\\\"quotes'\\", "\U0010ffff", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
)
ODD_DISTINCT_IDS: tuple[Any, ...] = (
    42, 23.4, -1, 2**53 + 1, True, False, ["a", "b"], {"string": "a", "number": 3}, [], {},
    "anonymous", "null", "undefined", "0", "[object Object]", "NaN", "guest",
    "  padded  ", "a\u0000b", "😀" * 60, "x" * 250, "€" * 150, "مستخدم-٤٢",
)
"""distinct_ids capture accepts: stringified, NUL-replaced, truncated, placeholders included (§4.2)."""

BIG_INTEGERS = (2**53 + 1, -(2**53) - 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64 + 7, 10**30)

TIMESTAMP_FORMS: tuple[Callable[[int], str | None], ...] = (
    lambda ms: model.iso_ms_z(ms),
    lambda ms: model.iso_python(ms, 123456),
    lambda ms: model.iso_ms_z(ms)[:-5] + "+05:30",
    lambda ms: model.iso_ms_z(ms)[:-5] + "-08:00",
    lambda ms: model.iso_ms_z(ms)[:-5],  # no zone: read as UTC
    lambda ms: model.iso_ms_z(ms)[:10],  # date only
    lambda ms: model.iso_ms_z(ms)[:19].replace("T", " "),
    lambda ms: str(ms),  # numeric epoch string
    lambda ms: "yesterday",  # unparseable: accepted, event time falls back to now
    lambda ms: None,
)


def fractional_timestamp(ms: int, digits: int) -> str:
    """An RFC 3339 time with ``digits`` (0-9) fractional-second digits."""
    base = model.iso_ms_z(ms)[:19]
    fraction = f"{ms % 1000:03d}{ms % 997:03d}{ms % 991:03d}"[:digits]
    return f"{base}.{fraction}Z" if digits else f"{base}Z"


def uuid_forms(c: Choices, ms: int) -> tuple[Any, ...]:
    """Every uuid form ``Uuid::parse_str`` accepts, plus the "generate one" values (rule 18)."""
    value = model.uuid7(c, ms)
    simple = value.replace("-", "")
    return (value, value.upper(), simple, simple.upper(), "{" + value + "}", "urn:uuid:" + value, "", None)


# --- where things live in a body ----------------------------------------------------------------------


def set_distinct_id(event: dict[str, Any], value: Any) -> None:
    """Put ``value`` where capture reads the distinct_id of ``event`` (top level wins, §4.2)."""
    if event.get("distinct_id") is not None or "properties" not in event:
        event["distinct_id"] = value
    else:
        event["properties"]["distinct_id"] = value


def set_token(body: Body, value: Any) -> None:
    """Put ``value`` where capture reads the token of ``body`` (batch, event field, or properties)."""
    if isinstance(body, dict) and "event" not in body:
        body["api_key"] = value
        return
    for event in events_of(body):
        if "api_key" in event:
            event["api_key"] = value
        else:
            event.setdefault("properties", {})["token"] = value


# --- edge cases: valid, awkward ---------------------------------------------------------------------


def _awkward_property(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    event.setdefault("properties", {})[c.pick(("note", "label", "名前", "emoji 😀", "nul\u0000key"))] = \
        c.pick(AWKWARD_TEXT) + c.text("abcé😀\u0000 \u202e", 0, 8)


def _long_string(c: Choices, body: Body) -> None:
    c.pick(events_of(body)).setdefault("properties", {})["long_text"] = "lorem ipsum " * c.integer(100, 20_000)


def _odd_distinct_id(c: Choices, body: Body) -> None:
    set_distinct_id(c.pick(events_of(body)), copy.deepcopy(c.pick(ODD_DISTINCT_IDS)))


def _deep_nesting(c: Choices, body: Body) -> None:
    nested: Any = c.pick(("leaf", 1, None, [], {}))
    for level in range(c.integer(10, 100)):  # serde_json stops at 128 levels in all
        nested = {f"level{level}": nested} if level % 2 else [nested]
    c.pick(events_of(body)).setdefault("properties", {})["nested"] = nested


def _big_integers(c: Choices, body: Body) -> None:
    c.pick(events_of(body)).setdefault("properties", {})["big"] = c.pick(BIG_INTEGERS)


def _uuid_form(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    form = c.pick(uuid_forms(c, model.START_MS))
    if c.chance(0.1):
        event.pop("uuid", None)
    else:
        event["uuid"] = form


def _timestamp_form(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    if c.chance(0.3):
        event["timestamp"] = fractional_timestamp(model.START_MS + c.integer(0, 10**9), c.integer(0, 9))
    elif c.chance(0.2):
        event.pop("timestamp", None)
        event["offset"] = c.integer(0, 10**6)
    else:
        event["timestamp"] = c.pick(TIMESTAMP_FORMS)(model.START_MS + c.integer(0, 10**9))


def _token_form(c: Choices, body: Body) -> None:
    token = c.pick((" phc_padded ", "legacytokenwithoutprefix", "phc_" + "x" * 60, "\tphc_tab\n"))
    if isinstance(body, dict) and "event" not in body:
        body.pop("api_key", None)
        body.pop("token", None)
        body[c.pick(("api_key", "token"))] = token
        return
    for event in events_of(body):
        for name in ("api_key", "token", "$token"):
            event.pop(name, None)
        location = c.pick(("token", "$token", "api_key", "properties"))
        if location == "properties":
            event.setdefault("properties", {})["token"] = token
        else:
            event[location] = token


def _performance_events(c: Choices, body: Body) -> None:
    """``$performance_event`` entries are dropped before any check, so they may lack anything (§2.2)."""
    junk = {"event": "$performance_event", "properties": {"entries": [c.integer(0, 10**6)]}}
    target = events_of(body)
    if target is body or target is body.get("batch"):
        target.insert(c.integer(0, len(target)), junk)


def _unknown_top_level(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    event.update({"type": "capture", "library": "posthog-node", "library_version": "4.0.0"})
    if c.chance(0.5):
        event["$set"] = None


EDGES: dict[str, Callable[[Choices, Body], None]] = {
    "awkward-property": _awkward_property,
    "long-string": _long_string,
    "odd-distinct-id": _odd_distinct_id,
    "deep-nesting": _deep_nesting,
    "big-integers": _big_integers,
    "uuid-form": _uuid_form,
    "timestamp-form": _timestamp_form,
    "token-form": _token_form,
    "performance-events": _performance_events,
    "unknown-top-level-keys": _unknown_top_level,
}
"""Edits that keep a body acceptable to capture, by name."""


def edge_case(c: Choices, traffic: Traffic, kind: str, batch_size: int = 5) -> Body:
    """A valid body of ``kind`` with one to three edge-case edits applied."""
    body = traffic.body(kind, batch_size)
    for _ in range(c.integer(1, 3)):
        EDGES[c.pick(tuple(EDGES))](c, body)
    return body


# --- invalid bodies: each breaks one rule ------------------------------------------------------------


def _server_single(c: Choices, t: Traffic) -> dict[str, Any]:
    """A single event with top-level ``api_key`` and ``distinct_id``: every field is easy to break alone."""
    who = t.someone(c.pick(("posthog-python", "posthog-node")))
    return model.single_body(model.activity(c, who, t.clock, t.token), t.token)


def _any_single(c: Choices, t: Traffic) -> dict[str, Any]:
    return t.capture()


def _batch_object(c: Choices, t: Traffic) -> dict[str, Any]:
    return t.server_batch(c.integer(1, 5))


def _array(c: Choices, t: Traffic) -> list[dict[str, Any]]:
    return t.browser_flush()


def _any_body(c: Choices, t: Traffic) -> Body:
    return c.pick((_any_single, _batch_object, _array))(c, t)


def _with(base: Callable[[Choices, Traffic], Body], edit: Callable[[Choices, Body], Any]) -> Mutation:
    """A valid body from ``base``, edited in place by ``edit``."""
    def mutate(c: Choices, t: Traffic) -> Body:
        body = base(c, t)
        edit(c, body)
        return body
    return mutate


def _pop(field: str) -> Callable[[Choices, Body], None]:
    def edit(c: Choices, body: Body) -> None:
        del body[field]
    return edit


def _on_event(field: str, values: tuple[Any, ...]) -> Callable[[Choices, Body], None]:
    def edit(c: Choices, body: Body) -> None:
        c.pick(events_of(body))[field] = copy.deepcopy(c.pick(values))
    return edit


def _token_value(values: Callable[[Choices], str]) -> Callable[[Choices, Body], None]:
    def edit(c: Choices, body: Body) -> None:
        set_token(body, values(c))
    return edit


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_NOT_OBJECTS: tuple[Any, ...] = ("text", 42, 1.5, True, ["a"])


def _drop_distinct_id(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    event.pop("distinct_id", None)
    event.get("properties", {}).pop("distinct_id", None)
    blank = c.pick((None, "", "   ", "\t\n", "absent"))
    if blank != "absent":
        event["distinct_id"] = blank


def _drop_tokens(c: Choices, body: Body) -> None:
    for event in events_of(body):
        event.pop("api_key", None)
        event.get("properties", {}).pop("token", None)


def _mixed_tokens(c: Choices, body: Body) -> None:
    if len(body) < 2:
        body.append(copy.deepcopy(body[0]))
    body[-1]["properties"]["token"] = body[0]["properties"]["token"] + "-other"


def _duplicate_alias(c: Choices, body: Body) -> None:
    event = c.pick(events_of(body))
    event[c.pick(("token", "$token"))] = event["api_key"]


def _oversized_event(c: Choices, body: Body) -> None:
    c.pick(events_of(body)).setdefault("properties", {})["blob"] = "x" * (EVENT_SIZE_LIMIT + c.integer(1, 1000))


def _lone_surrogate(c: Choices, body: Body) -> None:
    c.pick(events_of(body)).setdefault("properties", {})["broken"] = "emoji half " + c.pick(("\ud83d", "\ude00"))


BREAKERS: dict[str, Mutation] = {
    "body-not-json-container": lambda c, t: c.pick(("hello", 42, 1.5, True, None)),
    "string-lone-surrogate": _with(_any_single, _lone_surrogate),
    "event-not-object": _with(_array, lambda c, body: body.insert(c.integer(0, len(body)),
                                                                  c.pick((None, 5, "event", [])))),
    "event-name-missing": _with(_server_single, _pop("event")),
    "event-name-not-string": _with(_any_body, _on_event("event", (5, None, ["$pageview"], {"a": 1}, True))),
    "token-not-string": _with(_server_single, lambda c, body: body.update(api_key=c.pick((5, True, ["k"], {})))),
    "token-duplicate-alias": _with(_server_single, _duplicate_alias),
    "distinct-id-duplicate-alias": _with(_server_single, lambda c, body: body.update(
        {"$distinct_id": body["distinct_id"]})),
    "uuid-invalid": _with(_any_body, _on_event("uuid", ("not-a-uuid", "1234", 12345, "0190b2c4-4c1a-7c3e-8d55",
                                                        "g190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5c", True))),
    "properties-not-object": _with(_server_single, _on_event("properties", (None,) + _NOT_OBJECTS)),
    "timestamp-not-string": _with(_any_body, _on_event("timestamp", (1767603600000, 1767603600.5))),
    "offset-not-integer": _with(_any_body, _on_event("offset", (3.5, "308", 2**63, True, 1e3))),
    "set-not-object": _with(_any_body, _on_event("$set", _NOT_OBJECTS)),
    "set-once-not-object": _with(_any_body, _on_event("$set_once", _NOT_OBJECTS)),
    "batch-not-array": _with(_batch_object, lambda c, body: body.update(batch=c.pick(({}, "events", 5, None)))),
    "batch-token-missing": _with(_batch_object, _pop("api_key")),
    "batch-token-not-string": _with(_batch_object, lambda c, body: body.update(api_key=c.pick((5, None, ["k"])))),
    "batch-token-duplicate-alias": _with(_batch_object, lambda c, body: body.update(token=body["api_key"])),
    "batch-historical-migration-not-boolean": _with(_batch_object, lambda c, body: body.update(
        historical_migration=c.pick(("true", 1, "yes", [])))),
    "batch-sent-at-not-string": _with(_batch_object, lambda c, body: body.update(sent_at=1767603600000)),
    "batch-empty": lambda c, t: c.pick(([], {"api_key": t.token, "batch": []})),
    "token-missing": _with(lambda c, t: c.pick((_any_single, _array))(c, t), _drop_tokens),
    "token-inconsistent": _with(_array, _mixed_tokens),
    "token-empty": _with(_any_body, _token_value(lambda c: c.pick(("", " ", "\t\n", "\u3000")))),
    "token-too-long": _with(_any_body, _token_value(lambda c: "phc_" + c.text(_ALNUM, 61, 120))),
    "token-not-ascii": _with(_any_body, _token_value(lambda c: c.pick(("phc_ключ", "phc_clé", "phc_😀", "phc_\u00a0x")))),
    "token-personal-api-key": _with(_any_body, _token_value(lambda c: "phx_" + c.text(_ALNUM, 8, 40))),
    "token-null-byte": _with(_any_body, _token_value(lambda c: "phc_ab\u0000" + c.text(_ALNUM, 0, 8))),
    "event-name-empty": _with(_any_body, _on_event("event", ("",))),
    "distinct-id-missing": _with(_any_body, _drop_distinct_id),
    "cookieless-mode-not-boolean": _with(_any_body, lambda c, body: c.pick(events_of(body)).setdefault(
        "properties", {}).update({"$cookieless_mode": c.pick(("true", 1, None, "yes"))})),
    "event-too-large": _with(_server_single, _oversized_event),
}
"""One body-maker per rejection rule, by rule name.  ``body-too-large`` (a 20 MiB body) and
``number-out-of-range`` (JSON text like ``1e400``, which no Python value serializes to) are not
generated: the wire and server tests build them as bytes."""

GENERATED_RULES: tuple[str, ...] = tuple(r.name for r in REJECTION_RULES if r.name in BREAKERS)
"""Rejection rules the generators can break, in catalogue order (each has a breaker in :data:`BREAKERS`)."""


def invalid(c: Choices, traffic: Traffic, rule_name: str) -> tuple[Body, int]:
    """A body breaking exactly ``rule_name``, and the status capture answers it."""
    try:
        breaker = BREAKERS[rule_name]
    except KeyError:
        raise ValueError(f"no generator breaks rule {rule_name!r}; generated rules: {', '.join(BREAKERS)}") from None
    status = rule(rule_name).status
    assert status is not None
    return breaker(c, traffic), status
