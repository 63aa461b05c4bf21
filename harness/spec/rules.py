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
    # v1 (`/i/v1/analytics/events`, capture-v1.md §3, §4.6): headers first, in this order, then the body
    V1_AUTH = 10  # Authorization present (§3 step 1)
    V1_HEADERS = 11  # every required header present (§3 step 2)
    V1_HEADER_VALUES = 12  # Bearer scheme, token shape, Content-Type, ... (§3 steps 3-9)
    V1_WIRE = 13  # body size and decoding (§4.5)
    V1_PARSE = 14  # serde deserialization of the envelope and its events (§4.1, §4.2)
    V1_BATCH = 15  # validate_batch: empty batch, then created_at (§4.6 step 1)
    V1_UUID = 16  # each event's uuid, in order: empty, unparseable, duplicate (§4.2)
    V1_EVENT = 17  # per-event results inside a 200 (§4.2, §5.1)
    V1_SINK = 18  # per-event size at the producer (§4.5)


class Verdict(enum.Enum):
    """The two verdicts of DESIGN.md, kept apart."""

    REJECTED = "rejected"  # capture answers 4xx
    INEFFECTIVE = "ineffective"  # capture answers 200, ingestion does not do what the event asks
    DROPPED = "dropped"  # v1: the request gets 200, this event's result is `drop` (capture-v1.md §5.1)
    NOTED = "noted"  # v1: the event is stored, its result carries `details` (or a field is ignored)
    SDK = "sdk"  # v1 `--profile sdk`: what an SDK should not emit (capture-v1.md §6, §10), a warning


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
    protocol: str = "v0"
    """``v0`` (capture-contract.md) or ``v1`` (capture-v1.md, ``section`` then cites that file)."""
    tag: str = ""
    """v1: the ``error`` tag of a request-level rejection, or the per-event ``details`` tag."""
    result: str | None = None
    """v1 per-event rules: the event's ``result`` (``drop``, ``ok``, ``warning``); None for request rules."""
    variants: tuple[Variant, ...] = ()
    """v1: how older capture revisions decide the same input (capture-v1.md §8), selectable by name."""


@dataclass(frozen=True)
class Variant:
    """An older revision's answer to a rule's input (capture-v1.md §8); the rule itself is the newest."""

    name: str
    status: int | None
    tag: str
    result: str | None
    section: str
    summary: str


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



def _v1(name: str, stage: Stage, status: int, tag: str, section: str, summary: str,
        *variants: Variant) -> Rule:
    """A v1 request-level rejection: ``status`` with the JSON error body ``{"error": tag, ...}``."""
    return Rule(name, Verdict.REJECTED, stage, status, "capture-v1.md " + section, summary, summary,
                protocol="v1", tag=tag, variants=variants)


def _v1_event(name: str, result: str, tag: str, section: str, summary: str, *variants: Variant,
              stage: Stage = Stage.V1_EVENT) -> Rule:
    """A v1 per-event result inside a 200: ``{"result": result, "details": tag}`` for that event's uuid."""
    verdict = Verdict.DROPPED if result == "drop" else Verdict.NOTED
    return Rule(name, verdict, stage, 200, "capture-v1.md " + section, summary, protocol="v1", tag=tag,
                result=result, variants=variants)


def _v1_warning(name: str, verdict: Verdict, section: str, summary: str) -> Rule:
    """A v1 warning: capture ignores what it names (server profile) or an SDK should not send it (sdk)."""
    return Rule(name, verdict, None, None, "capture-v1.md " + section, summary, protocol="v1")


_PARSE = "request_parsing_error"
_HEADER_VALUE = "invalid_header_value"

V1_WIRE_BODY_LIMIT = 10 * 1024 * 1024
"""v1's wire cap (``CAPTURE_V1_MAX_COMPRESSED_BODY_BYTES``): exactly the limit is allowed (capture-v1.md §4.5)."""

V1_DECOMPRESSED_LIMIT = 50 * 1024 * 1024
"""v1's decompressed cap: an output of exactly the limit already fails (capture-v1.md §4.5)."""

V1_RULES: tuple[Rule, ...] = (
    _v1("v1-authorization-missing", Stage.V1_AUTH, 401, "missing_authorization", "§2.2, §3 step 1",
        "no `Authorization` header: v1 takes the project token only from `Authorization: Bearer <token>`",
        Variant("authorization-required-header", 400, "missing_required_headers", None, "§8 #1",
                "before 2026-05-07 `authorization` was one of the required headers: 400 missing_required_headers")),
    _v1("v1-headers-missing", Stage.V1_HEADERS, 400, "missing_required_headers", "§3 step 2",
        "required headers are missing: Content-Type, User-Agent, PostHog-Sdk-Info, PostHog-Attempt, "
        "PostHog-Request-Id and PostHog-Request-Timestamp (all missing names in one error)"),
    _v1("v1-authorization-not-bearer", Stage.V1_HEADER_VALUES, 400, _HEADER_VALUE, "§2.3, §3 step 3",
        "`Authorization` must be `Bearer <token>` (the scheme case-insensitive, followed by a space and more)"),
    _v1("v1-token-invalid", Stage.V1_HEADER_VALUES, 401, "invalid_api_token", "§2.4, §3 step 3",
        "the Bearer token is empty, over 64 bytes, not ASCII, holds NUL or is a personal key (`phx_`)"),
    _v1("v1-content-type-unsupported", Stage.V1_HEADER_VALUES, 415, "unsupported_content_type", "§3 step 4",
        "`Content-Type` must be `application/json` (parameters allowed, case-insensitive)"),
    _v1("v1-content-encoding-unsupported", Stage.V1_HEADER_VALUES, 415, "unsupported_encoding", "§3 step 5",
        "`Content-Encoding` must be one of gzip, deflate, br, zstd (not identity, x-gzip, lists or gzip-js)"),
    _v1("v1-request-id-invalid", Stage.V1_HEADER_VALUES, 400, _HEADER_VALUE, "§3 step 6",
        "`PostHog-Request-Id` must parse as a UUID (hyphenated, 32 hex digits, braced or urn:uuid:)"),
    _v1("v1-attempt-invalid", Stage.V1_HEADER_VALUES, 400, _HEADER_VALUE, "§3 step 7",
        "`PostHog-Attempt` must be an unsigned 32-bit integer of at least 1"),
    _v1("v1-request-timestamp-invalid", Stage.V1_HEADER_VALUES, 400, _HEADER_VALUE, "§3 step 8",
        "`PostHog-Request-Timestamp` must be an RFC 3339 date-time"),
    _v1("v1-header-not-visible-ascii", Stage.V1_HEADER_VALUES, 400, _HEADER_VALUE, "§2.5, §3 steps 5 and 9",
        "`Authorization`, `Content-Encoding`, `User-Agent` and `PostHog-Sdk-Info` must be visible ASCII"),
    _v1("v1-body-too-large", Stage.V1_WIRE, 413, "payload_too_large", "§4.5",
        "the body is over 10,485,760 bytes on the wire, or decompresses to 52,428,800 bytes or more"),
    _v1("v1-body-empty", Stage.V1_WIRE, 400, "empty_body", "§4.5", "the body is empty (0 bytes)"),
    _v1("v1-body-not-decodable", Stage.V1_WIRE, 400, "request_decoding_error", "§4.5",
        "the body does not decode with its `Content-Encoding` (e.g. `gzip` on a plain body)"),
    _v1("v1-body-not-json", Stage.V1_PARSE, 400, _PARSE, "§4.1",
        "the body is not JSON (or not UTF-8, or repeats an envelope key); gzip without the header is not sniffed"),
    _v1("v1-body-not-object", Stage.V1_PARSE, 400, _PARSE, "§4.1",
        "the body must be a JSON object `{created_at, batch, ...}` (a top-level array is refused)"),
    _v1("v1-created-at-missing", Stage.V1_PARSE, 400, _PARSE, "§4.1", "the body needs a string `created_at`"),
    _v1("v1-batch-not-array", Stage.V1_PARSE, 400, _PARSE, "§4.1", "the body needs a `batch` array of events"),
    _v1("v1-historical-migration-not-boolean", Stage.V1_PARSE, 400, _PARSE, "§4.1",
        "`historical_migration` must be a boolean"),
    _v1("v1-capture-internal-not-boolean", Stage.V1_PARSE, 400, _PARSE, "§4.1",
        "`capture_internal` must be a boolean or null"),
    _v1("v1-event-not-object", Stage.V1_PARSE, 400, _PARSE, "§4.2", "every element of `batch` must be an object"),
    _v1("v1-event-name-not-string", Stage.V1_PARSE, 400, _PARSE, "§4.2", "an event needs a string `event`"),
    _v1("v1-uuid-not-string", Stage.V1_PARSE, 400, _PARSE, "§4.2, §5.3",
        "an event needs a string `uuid`: v1 never generates one"),
    _v1("v1-distinct-id-not-string", Stage.V1_PARSE, 400, _PARSE, "§4.2",
        "an event needs a string `distinct_id` at its top level (v1 never stringifies numbers, no fallbacks)"),
    _v1("v1-timestamp-not-string", Stage.V1_PARSE, 400, _PARSE, "§4.2", "an event needs a string `timestamp`"),
    _v1("v1-session-id-not-string", Stage.V1_PARSE, 400, _PARSE, "§4.2",
        "`session_id` and `window_id` must be strings or null"),
    _v1("v1-batch-empty", Stage.V1_BATCH, 400, "empty_batch", "§4.6 step 1", "`batch` must hold at least one event"),
    _v1("v1-created-at-invalid", Stage.V1_BATCH, 400, "invalid_batch", "§4.1, §4.6 step 1",
        "`created_at` must be an RFC 3339 date-time"),
    _v1("v1-uuid-empty", Stage.V1_UUID, 400, "missing_event_uuid", "§4.2, §5.3",
        "an event's `uuid` is empty or whitespace: the whole request is refused"),
    _v1("v1-uuid-invalid", Stage.V1_UUID, 400, "invalid_event_uuid", "§4.2",
        "an event's `uuid` does not parse as a UUID: the whole request is refused",
        Variant("uuid-invalid-as-missing", 400, "missing_event_uuid", None, "§8 #8",
                "before 2026-05-07 an unparseable uuid was tagged missing_event_uuid")),
    _v1("v1-uuid-duplicate", Stage.V1_UUID, 400, "duplicate_event_uuid", "§4.2, §5.3",
        "two events carry the same uuid (compared parsed: case and braces do not matter)"),
    _v1_event("v1-performance-event", "drop", "dropped_performance_event", "§4.2",
              "`$performance_event` events are dropped"),
    _v1_event("v1-event-name-empty", "drop", "missing_event_name", "§4.2", "`event` is empty"),
    _v1_event("v1-event-name-too-long", "drop", "event_name_too_long", "§4.2",
              "`event` is over 200 bytes (UTF-8)"),
    _v1_event("v1-distinct-id-empty", "drop", "missing_distinct_id", "§4.2",
              "`distinct_id` is empty or whitespace"),
    _v1_event("v1-distinct-id-too-long", "drop", "distinct_id_too_large", "§4.2",
              "`distinct_id` is over 200 bytes (UTF-8) after trimming"),
    _v1_event("v1-timestamp-invalid", "drop", "invalid_event_timestamp", "§4.2",
              "`timestamp` is not an RFC 3339 date-time"),
    _v1_event("v1-properties-not-object", "drop", "malformed_event_properties", "§4.2",
              "`properties` must be an object when present"),
    _v1_event("v1-options-invalid", "drop", "invalid_options", "§4.3",
              "`options` is not an object, or a known option holds a value the server cannot coerce",
              Variant("options-strict", 400, _PARSE, None, "§8 #6",
                      "older revisions require `options` and JSON booleans: the whole request is refused")),
    _v1_event("v1-distinct-id-illegal", "ok", "person_processing_disabled", "§4.2, §5.1",
              "`distinct_id` is on the illegal list (`anonymous`, `null`, `0`, ...): stored, person processing off",
              Variant("illegal-distinct-id-drop", 200, "invalid_distinct_id", "drop", "§8 #5",
                      "before 2026-05-27 such an event was dropped with invalid_distinct_id")),
    _v1_event("v1-event-too-large", "drop", "event_too_big", "§4.5",
              "one serialized event is over the producer's 1,000,000-byte message limit", stage=Stage.V1_SINK),
    Rule("v1-response-not-conformant", Verdict.REJECTED, Stage.V1_PARSE, None, "capture-v1.md §5.1",
         "not a v1 success body: `{\"results\": {canonical uuid: {\"result\": ok|warning|drop|retry, "
         "\"details\"?: tag}}}`", protocol="v1",
         variants=(Variant("result-limited", None, "limited", "limited", "§8 #4",
                           "older revisions answer `limited` where the newest answer `warning`"),)),
    Rule("v1-response-keys-mismatch", Verdict.REJECTED, Stage.V1_PARSE, None, "capture-v1.md §5.1, §8 #12",
         "the `results` keys must be exactly the request's uuids, in canonical lower-case hyphenated form",
         protocol="v1"),
    Rule("v1-error-not-conformant", Verdict.REJECTED, Stage.V1_PARSE, None, "capture-v1.md §5.2",
         "not a v1 error body: `{\"error\": tag, \"error_description\": text, \"error_uri\": url}`",
         protocol="v1"),
    _v1_warning("v1-event-field-ignored", Verdict.NOTED, "§4.2",
                "a top-level event key v1 does not read (`$set`, `offset`, `type`, `api_key`, ...) is lost"),
    _v1_warning("v1-body-field-ignored", Verdict.NOTED, "§2.1, §4.1",
                "a body key v1 does not read (`api_key`, `token`, `sent_at`, ...) is ignored"),
    _v1_warning("v1-header-obsolete", Verdict.NOTED, "§3",
                "a header name from an early draft (`PostHog-Api-Token`, `PostHog-Client-Timestamp`, "
                "`PostHog-Attempt-Timestamp`) is ignored"),
    _v1_warning("v1-sdk-timestamp-not-utc", Verdict.SDK, "§6 (H), §10",
                "SDKs write `timestamp`, `created_at` and `PostHog-Request-Timestamp` in UTC (`Z` or `+00:00`)"),
    _v1_warning("v1-sdk-options-missing", Verdict.SDK, "§4.3, §6",
                "SDKs always send `options` (`{}` when nothing is set), for servers that require it"),
    _v1_warning("v1-sdk-lib-in-properties", Verdict.SDK, "§6",
                "SDKs strip `$lib` and `$lib_version` from properties: the server injects them from PostHog-Sdk-Info"),
    _v1_warning("v1-sdk-top-level-set", Verdict.SDK, "§6",
                "SDKs move top-level `$set` / `$set_once` into `properties` (the server ignores them at the top)"),
    _v1_warning("v1-sdk-body-token", Verdict.SDK, "§2.1, §10",
                "SDKs send no `api_key`, `token` or `sent_at` in the body"),
    _v1_warning("v1-sdk-uuid-not-lowercase", Verdict.SDK, "§8 #12, §10",
                "SDKs should send canonical lower-case uuids: results are keyed that way and looked up verbatim"),
    _v1_warning("v1-sdk-historical-migration-false", Verdict.SDK, "§6, §10",
                "SDKs send `historical_migration` only when it is true"),
    _v1_warning("v1-sdk-distinct-id-in-properties", Verdict.SDK, "§6 (H)",
                "SDKs put `distinct_id` at the event's root, not in properties"),
    _v1_warning("v1-sdk-skew-option-old-name", Verdict.SDK, "§4.3, §8 #7",
                "`options.disable_skew_adjustment` is the old name: the newest server reads only "
                "`disable_skew_correction`"),
)
"""The v1 rules (capture-v1.md), in the server's check order; ``section`` cites that file."""

def _recording(name: str, stage: Stage | None, status: int | None, section: str, summary: str, text: str = "") -> Rule:
    """A rule of ``/s/`` (docs/recordings-contract.md); kept here, not in :mod:`harness.spec.recordings`
    (which builds on this module), so the catalogue imports nothing back."""
    verdict = Verdict.REJECTED if status else Verdict.INEFFECTIVE
    return Rule(name, verdict, stage, status, "recordings-contract.md " + section, summary, text)


RECORDING_RULES: tuple[Rule, ...] = (
    _recording("recording-payload-too-large", Stage.WIRE, 413, "§4",
               "the decoded payload is over 1,000,000 bytes: recordings mode caps it at Kafka's message.max.bytes",
               "maximum event size exceeded: recording payload over the 1,000,000-byte limit"),
    _recording("recording-session-id-missing", Stage.EVENT, 400, "§5.1",
               "the first event needs `properties.$session_id`", "replay event submitted without session id"),
    _recording("recording-session-id-invalid", Stage.EVENT, 400, "§5.1",
               "`properties.$session_id` must be a string of at most 70 characters, letters, digits and `-` only",
               "replay event has invalid session id"),
    _recording("recording-distinct-id-missing", Stage.EVENT, 400, "§5.2",
               "the first event needs a non-empty `distinct_id` (or, when that is null, `properties.distinct_id`)",
               "event submitted without a distinct_id"),
    _recording("recording-snapshot-data-missing", Stage.EVENT, 400, "§5.3",
               "every event needs `properties.$snapshot_data`, an array of rrweb events or one object",
               "replay event submitted without snapshot data"),
    _recording("recording-message-too-large", Stage.SINK, 413, "§4",
               "the one `$snapshot_items` message capture builds is over Kafka's 1,000,000-byte limit",
               "maximum event size exceeded: Event rejected by kafka during send"),
    _recording("recording-sessions-merged", None, None, "§6",
               "events of other sessions (or windows) in one request are filed under the first event's ids"),
)
"""The rules of session recordings on ``/s/`` that v0's :data:`RULES` lack (docs/recordings-contract.md);
``/s/`` applies v0's parse and token rules too."""

ALL_RULES: tuple[Rule, ...] = RULES + V1_RULES + RECORDING_RULES
"""The whole catalogue: v0's :data:`RULES` (capture-contract.md), :data:`V1_RULES`, :data:`RECORDING_RULES`."""

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in ALL_RULES}


def rule(name: str) -> Rule:
    """Look a rule up by name; an unknown name is a programming error and says which names exist."""
    try:
        return RULES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}; known rules: {', '.join(RULES_BY_NAME)}") from None


REJECTION_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.verdict is Verdict.REJECTED)
WARNING_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.verdict is Verdict.INEFFECTIVE)
