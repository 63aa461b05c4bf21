"""The v1 contract tests' tables: the requests each test sends, by a stable id, and the rule each breaks.

Written out, not drawn from the generators' random breakers, so each row breaks the rule it names for every
seed (an HTTP server strips a header value's trailing spaces, which turns a ``"Bearer    "`` token fault into a
scheme fault); each test asserts that the judge agrees.  The rows follow capture-v1.md: :data:`REFUSED` is §9.5's
table and one row per other request-level rule, :data:`HEADER_ORDER` pairs two faults of which the earlier step
of §3 / §4.6 decides, :data:`DROPPED` one row per per-event tag of §5.1 (and the per-event order of §4.2).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass

from harness.contract.v1_cases import PATH, Edit, Request, V1Case, V1Cases, envelope, event, header
from harness.spec.jsontext import to_json

Raw = Callable[[Request], bytes]


@dataclass(frozen=True)
class Row:
    """A request edit (or raw bytes built from the request) and the rule whose answer it must get."""

    rule: str
    edits: tuple[Edit, ...] = ()
    raw: Raw | None = None


def _only(*names: str) -> Edit:
    def edit(request: Request) -> None:
        request["headers"] = {k: v for k, v in request["headers"].items() if k in names}
    return edit


def _top_level_array(request: Request) -> None:
    request["body"] = request["body"]["batch"]


def _without(key: str, index: int = 0) -> Edit:
    def edit(request: Request) -> None:
        request["body"]["batch"][index].pop(key)
    return edit


def _twin(spell: Callable[[str], str]) -> Edit:
    """The second event gets the first one's uuid, spelt by ``spell``."""
    def edit(request: Request) -> None:
        batch = request["body"]["batch"]
        batch[1]["uuid"] = spell(batch[0]["uuid"])
    return edit


def _plain(request: Request) -> bytes:
    return to_json(request["body"])


REFUSED: dict[str, Row] = {
    "no-authorization": Row("v1-authorization-missing", (header("Authorization", None),)),
    "authorization-basic": Row("v1-authorization-not-bearer", (header("Authorization", "Basic abc"),)),
    "authorization-bare-bearer": Row("v1-authorization-not-bearer", (header("Authorization", "Bearer"),)),
    "token-personal-api-key": Row("v1-token-invalid", (header("Authorization", "Bearer phx_abc"),)),
    "token-over-64-bytes": Row("v1-token-invalid", (header("Authorization", "Bearer " + "a" * 65),)),
    "only-three-headers": Row("v1-headers-missing", (_only("Authorization", "Content-Type", "User-Agent"),)),
    "no-user-agent": Row("v1-headers-missing", (header("User-Agent", None),)),
    "no-sdk-info": Row("v1-headers-missing", (header("PostHog-Sdk-Info", None),)),
    "attempt-0": Row("v1-attempt-invalid", (header("PostHog-Attempt", "0"),)),
    "attempt-not-a-number": Row("v1-attempt-invalid", (header("PostHog-Attempt", "1.0"),)),
    "request-id-not-a-uuid": Row("v1-request-id-invalid", (header("PostHog-Request-Id", "req-1"),)),
    "request-timestamp-not-rfc3339": Row("v1-request-timestamp-invalid", (header("PostHog-Request-Timestamp", "now"),)),
    "content-type-text-plain": Row("v1-content-type-unsupported", (header("Content-Type", "text/plain"),)),
    "content-type-form": Row("v1-content-type-unsupported",
                             (header("Content-Type", "application/x-www-form-urlencoded"),)),
    "content-encoding-lz4": Row("v1-content-encoding-unsupported", (header("Content-Encoding", "lz4"),)),
    "content-encoding-identity": Row("v1-content-encoding-unsupported", (header("Content-Encoding", "identity"),)),
    "user-agent-not-ascii": Row("v1-header-not-visible-ascii", (header("User-Agent", "posthog-pythön/7.91.1"),)),
    "gzip-on-a-plain-body": Row("v1-body-not-decodable", (header("Content-Encoding", "gzip"),), _plain),
    "empty-body": Row("v1-body-empty", raw=lambda request: b""),
    "body-not-json": Row("v1-body-not-json", raw=lambda request: b'{"created_at": "2026-03-19T14:30:00Z", "batch": ['),
    "gzip-without-the-header": Row("v1-body-not-json", raw=lambda request: gzip.compress(_plain(request), mtime=0)),
    "top-level-array": Row("v1-body-not-object", (_top_level_array,)),
    "created-at-missing": Row("v1-created-at-missing", (lambda request: request["body"].pop("created_at"),)),
    "created-at-now": Row("v1-created-at-invalid", (envelope("created_at", "now"),)),
    "batch-empty": Row("v1-batch-empty", (envelope("batch", []),)),
    "batch-not-an-array": Row("v1-batch-not-array", (envelope("batch", "[]"),)),
    "historical-migration-a-string": Row("v1-historical-migration-not-boolean",
                                         (envelope("historical_migration", "true"),)),
    "capture-internal-a-string": Row("v1-capture-internal-not-boolean", (envelope("capture_internal", "yes"),)),
    "event-not-an-object": Row("v1-event-not-object", (lambda request: request["body"]["batch"].__setitem__(1, 7),)),
    "event-name-missing": Row("v1-event-name-not-string", (_without("event", 1),)),
    "uuid-missing": Row("v1-uuid-not-string", (_without("uuid", 1),)),
    "distinct-id-a-number": Row("v1-distinct-id-not-string", (event("distinct_id", 42, 1),)),
    "timestamp-missing": Row("v1-timestamp-not-string", (_without("timestamp", 1),)),
    "session-id-a-number": Row("v1-session-id-not-string", (event("session_id", 5, 1),)),
    "uuid-empty": Row("v1-uuid-empty", (event("uuid", "", 1),)),
    "uuid-whitespace": Row("v1-uuid-empty", (event("uuid", "   ", 1),)),
    "uuid-not-a-uuid": Row("v1-uuid-invalid", (event("uuid", "not-a-uuid", 1),)),
    "uuid-duplicate": Row("v1-uuid-duplicate", (_twin(str),)),
    "uuid-duplicate-in-upper-case": Row("v1-uuid-duplicate", (_twin(str.upper),)),
    "uuid-duplicate-braced": Row("v1-uuid-duplicate", (_twin(lambda uuid: "{" + uuid + "}"),)),
}
"""Request-level refusals (capture-v1.md §9.5 and §2-§4): status and ``error`` tag, JSON error body."""

HEADER_ORDER: dict[str, Row] = {
    "authorization-before-required-headers": Row("v1-authorization-missing",
                                                 (header("Authorization", None), header("User-Agent", None))),
    "required-headers-before-the-scheme": Row("v1-headers-missing",
                                              (header("PostHog-Attempt", None), header("Authorization", "Basic abc"))),
    "scheme-before-content-type": Row("v1-authorization-not-bearer",
                                      (header("Authorization", "Basic abc"), header("Content-Type", "text/plain"))),
    "token-before-content-type": Row("v1-token-invalid",
                                     (header("Authorization", "Bearer phx_abc"), header("Content-Type", "text/plain"))),
    "content-type-before-encoding": Row("v1-content-type-unsupported",
                                        (header("Content-Type", "text/plain"), header("Content-Encoding", "lz4"))),
    "encoding-before-request-id": Row("v1-content-encoding-unsupported",
                                      (header("Content-Encoding", "lz4"), header("PostHog-Request-Id", "req-1"))),
    "token-before-the-body": Row("v1-token-invalid", (header("Authorization", "Bearer phx_abc"),),
                                 raw=lambda request: b"{not json"),
    "headers-before-the-body": Row("v1-request-timestamp-invalid", (header("PostHog-Request-Timestamp", "now"),),
                                   raw=lambda request: b""),
    "empty-batch-before-created-at": Row("v1-batch-empty", (envelope("batch", []), envelope("created_at", "now"))),
    "created-at-before-uuids": Row("v1-created-at-invalid",
                                   (envelope("created_at", "now"), event("uuid", "not-a-uuid", 1))),
    "parsing-before-uuids": Row("v1-distinct-id-not-string", (_twin(str), event("distinct_id", 42, 2))),
    "uuids-in-batch-order": Row("v1-uuid-invalid", (event("uuid", "not-a-uuid", 1), event("uuid", "", 2))),
    "a-uuid-fault-after-a-drop": Row("v1-uuid-invalid", (event("event", "", 0), event("uuid", "not-a-uuid", 2))),
}
"""Two faults at once: the step capture-v1.md §3 (headers), §4.6 (body) or §4.2 (uuids) checks first decides."""

DROPPED: dict[str, Row] = {
    "performance-event": Row("v1-performance-event", (event("event", "$performance_event", 1),)),
    "event-name-empty": Row("v1-event-name-empty", (event("event", "", 1),)),
    "event-name-of-201-bytes": Row("v1-event-name-too-long", (event("event", "e" * 201, 1),)),
    "event-name-of-101-two-byte-characters": Row("v1-event-name-too-long", (event("event", "é" * 101, 1),)),
    "distinct-id-empty": Row("v1-distinct-id-empty", (event("distinct_id", "", 1),)),
    "distinct-id-whitespace": Row("v1-distinct-id-empty", (event("distinct_id", "   ", 1),)),
    "distinct-id-of-201-bytes": Row("v1-distinct-id-too-long", (event("distinct_id", "d" * 201, 1),)),
    "timestamp-yesterday": Row("v1-timestamp-invalid", (event("timestamp", "yesterday", 1),)),
    "timestamp-empty": Row("v1-timestamp-invalid", (event("timestamp", "", 1),)),
    "timestamp-without-offset": Row("v1-timestamp-invalid", (event("timestamp", "2026-11-26T09:08:21", 1),)),
    "properties-an-array": Row("v1-properties-not-object", (event("properties", [1], 1),)),
    "properties-null": Row("v1-properties-not-object", (event("properties", None, 1),)),
    "options-an-array": Row("v1-options-invalid", (event("options", [], 1),)),
    "options-uncoercible": Row("v1-options-invalid", (event("options", {"process_person_profile": "maybe"}, 1),)),
    "name-before-distinct-id": Row("v1-event-name-empty", (event("event", "", 1), event("distinct_id", "", 1))),
    "performance-event-before-distinct-id": Row("v1-performance-event", (event("event", "$performance_event", 1),
                                                                          event("distinct_id", "", 1))),
    "distinct-id-before-timestamp": Row("v1-distinct-id-empty", (event("distinct_id", "", 1),
                                                                 event("timestamp", "yesterday", 1))),
    "timestamp-before-properties": Row("v1-timestamp-invalid", (event("timestamp", "yesterday", 1),
                                                                event("properties", [1], 1))),
    "properties-before-options": Row("v1-properties-not-object", (event("properties", [1], 1), event("options", [], 1))),
}
"""Per-event drops inside a 200 (capture-v1.md §4.2, §5.1): the second of three events, the others ``ok``; the
last five rows break two checks of one event, of which §4.2's order decides the tag."""


def mixed_outcome(request: Request) -> None:
    """capture-v1.md §9.3: a valid event, then a bad timestamp, properties ``[1]``, ``$performance_event`` and
    an illegal distinct id (five events; the request must hold five)."""
    batch = request["body"]["batch"]
    batch[1]["timestamp"] = "yesterday"
    batch[2]["properties"] = [1]
    batch[3]["event"] = "$performance_event"
    batch[4]["distinct_id"] = "anonymous"


def case_of(cases: V1Cases, name: str, row: Row, *, size: int = 3, path: str = PATH) -> V1Case:
    """A valid request of ``size`` events (seeded by ``name``) edited by ``row``; asserts that the judge
    says it breaks the row's rule (else the test itself is wrong, not the endpoint), unless older revisions are
    selected: one may decide the row by another rule (``options-strict`` refuses bad options whole)."""
    request = cases.valid(name, size=size)
    for edit in row.edits:
        edit(request)
    v1 = cases.case(name, request, path=path, raw=row.raw(request) if row.raw is not None else None)
    assert row.rule in v1.report.rules or cases.variants, (name, row.rule, sorted(v1.report.rules))
    return v1
