"""The catalogue of capture's acceptance rules: one named entry per way a payload can fail.

Every rule the schemas encode (their ``x-rule`` keyword) and every rule checked in code is listed here
once, with the HTTP status capture answers, the processing stage that decides it and the section of
``capture-contract.md`` it comes from.  Generators label invalid payloads with these names, the validator
reports them, and the contract suite asserts their statuses, so a rule's name is a stable public id.

Stages exist because capture stops at the first failing step: a request that is both malformed and
missing its token gets the parse error (400), not the token error (401).  The verdict of a document is
the status of its earliest-stage violation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Stage(enum.IntEnum):
    """Capture's processing order (contract §2.1, §3.3 and §6); earlier stages decide the status."""

    WIRE = 0  # body size before decoding
    PARSE = 1  # JSON shape and field types (serde deserialization of RawRequest)
    EVENTS = 2  # the event list itself (empty batch)
    TOKEN = 3  # token extraction and shape (checked before any event rule)
    EVENT = 4  # per-event processing rules
    SINK = 5  # per-event size at the Kafka producer


class Verdict(enum.Enum):
    """The two verdicts of DESIGN.md, kept apart."""

    REJECTED = "rejected"  # capture answers 4xx
    INEFFECTIVE = "ineffective"  # capture answers 200, ingestion does not do what the event asks


@dataclass(frozen=True)
class Rule:
    """One rule of the contract.

    ``status`` is what capture answers; None for warnings (capture answers 200) and for
    ``response-not-conformant``, which judges a response body rather than a request.
    """

    name: str
    verdict: Verdict
    stage: Stage | None
    status: int | None
    section: str
    summary: str
    capture_text: str = ""
    """The plain-text body capture answers (contract §7.2), for the reference server and the contract suite."""


def _rejected(name: str, stage: Stage, status: int, section: str, summary: str) -> Rule:
    return Rule(name, Verdict.REJECTED, stage, status, section, summary, _capture_text(name, stage, summary))


_TOKEN_REASONS = {
    "token-empty": "empty", "token-too-long": "too_long", "token-not-ascii": "not_ascii",
    "token-personal-api-key": "personal_api_key", "token-null-byte": "null_byte",
}
_CAPTURE_TEXTS = {
    "body-too-large": "maximum event size exceeded: request body over the 20 MiB limit",
    "event-too-large": "maximum event size exceeded: Event rejected by kafka during send",
    "event-name-missing": "failed to hydrate events from request: non-engage request missing event name attribute",
    "batch-empty": "request holds no event",
    "token-missing": "event submitted without an api_key",
    "token-inconsistent": "batch submitted with inconsistent api_key values",
    "event-name-empty": "event submitted with an empty event name",
    "distinct-id-missing": "event submitted without a distinct_id",
    "cookieless-mode-not-boolean": "event submitted with invalid cookieless mode",
}


def _capture_text(name: str, stage: Stage, summary: str) -> str:
    """Capture's error text for a rule: its own message where the contract quotes one, else the
    parse error's prefix with the rule's summary (serde's exact wording differs between revisions)."""
    if name in _TOKEN_REASONS:
        return f"API key is not valid: {_TOKEN_REASONS[name]}"
    return _CAPTURE_TEXTS.get(name) or f"failed to parse request: {summary}"


def _ineffective(name: str, section: str, summary: str) -> Rule:
    return Rule(name, Verdict.INEFFECTIVE, None, None, section, summary)


WIRE_BODY_LIMIT = 20 * 1024 * 1024
"""Capture's wire cap for v0 analytics bodies (contract §6, rule 26)."""

EVENT_SIZE_LIMIT = 1_000_000
"""Kafka's default ``message.max.bytes``: one serialized event above it is answered 413 (contract §6)."""

RULES: tuple[Rule, ...] = (
    _rejected("body-too-large", Stage.WIRE, 413, "§6, rule 26",
              "the request body is over capture's 20 MiB wire cap"),
    _rejected("body-not-json", Stage.PARSE, 400, "§2.1, rule 8",
              "the decoded payload is not JSON"),
    _rejected("json-too-deep", Stage.PARSE, 400, "§8",
              "JSON nested deeper than 127 levels, beyond serde_json's recursion limit"),
    _rejected("body-not-json-container", Stage.PARSE, 400, "§2.2, rule 9",
              "the body must be a JSON array of events or a JSON object"),
    _rejected("string-lone-surrogate", Stage.PARSE, 400, "§8",
              "a string holds a lone UTF-16 surrogate escape, which capture's JSON parser rejects"),
    _rejected("number-out-of-range", Stage.PARSE, 400, "§8",
              "a number is beyond the range of a 64-bit float (e.g. 1e400), which capture's JSON parser rejects"),
    _rejected("event-not-object", Stage.PARSE, 400, "§2.2, rule 10",
              "every element of an event list must be a JSON object"),
    _rejected("event-name-missing", Stage.PARSE, 400, "§2.2, §4.1, rule 9",
              "an event must have an `event` field (a nameless body is only accepted on /engage)"),
    _rejected("event-name-not-string", Stage.PARSE, 400, "§4.1, rule 16",
              "`event` must be a JSON string"),
    _rejected("token-not-string", Stage.PARSE, 400, "§3.1",
              "an event's `token`, `$token` or `api_key` must be a string or null"),
    _rejected("token-duplicate-alias", Stage.PARSE, 400, "§3.1",
              "`token`, `$token` and `api_key` are one field: send at most one of them"),
    _rejected("distinct-id-duplicate-alias", Stage.PARSE, 400, "§8",
              "`distinct_id` and `$distinct_id` are one field: send at most one of them"),
    _rejected("uuid-invalid", Stage.PARSE, 400, "§4.1, rule 18",
              "`uuid` must be null, \"\" or a UUID in a form capture parses"),
    _rejected("properties-not-object", Stage.PARSE, 400, "§4.1, rule 19",
              "`properties` must be a JSON object (null is rejected too)"),
    _rejected("timestamp-not-string", Stage.PARSE, 400, "§4.1, rule 19",
              "`timestamp` must be a string or null (a number is rejected)"),
    _rejected("offset-not-integer", Stage.PARSE, 400, "§4.1, rule 19",
              "`offset` must be a 64-bit signed integer or null"),
    _rejected("set-not-object", Stage.PARSE, 400, "§4.1, rule 19",
              "top-level `$set` must be an object or null"),
    _rejected("set-once-not-object", Stage.PARSE, 400, "§4.1, rule 19",
              "top-level `$set_once` must be an object or null"),
    _rejected("batch-not-array", Stage.PARSE, 400, "§2.2, rule 9",
              "a batch object needs a `batch` array of events"),
    _rejected("batch-token-missing", Stage.PARSE, 400, "§2.2, rule 9",
              "a batch object needs a string `api_key` or `token`, or capture cannot read it as a batch"),
    _rejected("batch-token-not-string", Stage.PARSE, 400, "§2.2, rule 9",
              "the batch `api_key` / `token` must be a string"),
    _rejected("batch-token-duplicate-alias", Stage.PARSE, 400, "§2.2, §3.1",
              "a batch object may carry `api_key` or `token`, not both"),
    _rejected("batch-historical-migration-not-boolean", Stage.PARSE, 400, "§2.2",
              "`historical_migration` must be a boolean or null"),
    _rejected("batch-sent-at-not-string", Stage.PARSE, 400, "§2.2",
              "the batch `sent_at` must be a string or null"),
    _rejected("batch-empty", Stage.EVENTS, 400, "§2.2, rule 11",
              "a request must hold at least one event (\"request holds no event\")"),
    _rejected("token-missing", Stage.TOKEN, 401, "§3.1, rule 13",
              "no token found: put `api_key` on the batch, or `token`/`api_key` on the event, "
              "or a string `properties.token`"),
    _rejected("token-inconsistent", Stage.TOKEN, 401, "§3.1, rule 13",
              "the events of an array carry different tokens"),
    _rejected("token-empty", Stage.TOKEN, 401, "§3.2, rule 14",
              "the token is empty or only whitespace"),
    _rejected("token-too-long", Stage.TOKEN, 401, "§3.2, rule 14",
              "the token is longer than 64 characters after trimming"),
    _rejected("token-not-ascii", Stage.TOKEN, 401, "§3.2, rule 14",
              "the token holds non-ASCII characters"),
    _rejected("token-personal-api-key", Stage.TOKEN, 401, "§3.2, rule 14",
              "the token starts with `phx_`: that is a personal API key, use the project key (`phc_...`)"),
    _rejected("token-null-byte", Stage.TOKEN, 401, "§3.2, rule 14",
              "the token holds a NUL character"),
    _rejected("event-name-empty", Stage.EVENT, 400, "§4.1, rule 16",
              "`event` must not be empty"),
    _rejected("distinct-id-missing", Stage.EVENT, 400, "§4.2, rule 17",
              "no usable distinct_id: set `distinct_id` (or `properties.distinct_id`) to a non-blank value"),
    _rejected("cookieless-mode-not-boolean", Stage.EVENT, 400, "§4.4, rule 23",
              "`properties.$cookieless_mode` must be a boolean"),
    _rejected("event-too-large", Stage.SINK, 413, "§6, rule 26",
              "one serialized event is over Kafka's 1,000,000-byte message limit"),
    _ineffective("kind-mismatch", "§5",
                 "the document was checked as one kind of special event but its `event` names another"),
    Rule("response-not-conformant", Verdict.REJECTED, Stage.PARSE, None, "§7.1, rule 27",
         "not a capture response body: expected {\"status\": \"Ok\"} or {\"status\": 1}, "
         "or the JSON error body {status, code, error}"),
    _ineffective("identify-without-effect", "§5",
                 "`$identify` without `properties.$anon_distinct_id` and without `$set` changes nothing"),
    _ineffective("alias-missing", "§5",
                 "`$create_alias` / `$merge_dangerously` need a non-empty string `properties.alias`"),
    _ineffective("groupidentify-missing-group", "§5",
                 "`$groupidentify` needs string `properties.$group_type` and `properties.$group_key`"),
    _ineffective("group-field-too-long", "§5",
                 "`$group_type` and `$group_key` are limited to 400 characters by ingestion"),
    _ineffective("merge-illegal-id", "§5",
                 "ingestion refuses to merge an id on its illegal list (e.g. `anonymous`, `null`, `0`)"),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def rule(name: str) -> Rule:
    """Look a rule up by name; an unknown name is a programming error and says which names exist."""
    try:
        return RULES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}; known rules: {', '.join(RULES_BY_NAME)}") from None


REJECTION_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.verdict is Verdict.REJECTED)
WARNING_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.verdict is Verdict.INEFFECTIVE)
