"""The reference endpoint's capture v1 route, ``POST /i/v1/analytics/events`` (capture-v1.md), newest
revision by default, older answers selectable by name (:data:`VARIANTS`, ``serve --v1-variant``).

The steps run in capture's order (§1, §3, §4.5, §4.6): the CORS preflight and the method; the headers
(:func:`harness.spec.v1.headers.check`: ``Authorization``, the required headers, their values); the body
read under the 10 MiB wire cap (refused before reading when ``Content-Length`` announces more); the
request-level faults; decoding and the body's verdict (:mod:`harness.spec.v1.validation`, the judge that
``validate --protocol v1`` runs, so the endpoint cannot drift from it); the per-event ``retry`` fault; the
store; the answer.  Every answer echoes ``PostHog-Request-Id`` when the request carried one; errors are
``{"error", "error_description", "error_uri"}``; a 200 always holds ``results``, keyed by canonical uuid
in request order, with ``Retry-After: 1`` only when one of them is ``retry`` (§5.1, §10 (b)).

Events answered ``ok`` or ``warning`` are stored (:func:`harness.server.records.build_v1`) with that result;
``drop`` and ``retry`` events are not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson

from harness.server import offload, records
from harness.server.asgi import (
    JSON,
    TEXT,
    BodyError,
    Headers,
    Receive,
    Scope,
    Send,
    client_ip,
    preflight_headers,
    respond,
)
from harness.spec import timestamps
from harness.spec.records import trim_token
from harness.spec.rules import V1_WIRE_BODY_LIMIT
from harness.spec.unicode import rust_trim
from harness.spec.v1 import headers as header_checks
from harness.spec.v1 import validation
from harness.spec.v1.model import EventResult, Finding, finding

if TYPE_CHECKING:
    from harness.server.app import CaptureApp

PATHS = frozenset({"/i/v1/analytics/events", "/i/v1/analytics/events/"})
"""Both spellings, one handler, no redirect (§1)."""
METHODS = b"POST, OPTIONS"

SERVER_VARIANTS = ("retry-after-rate-limited-only", "lib-not-injected", "accept-on-errors")
"""Older answers only the endpoint has (no request verdict changes): ``Retry-After`` on ``rate_limited``
only, not on 408/5xx (§8 #9, ``error.rs@5a75b3c0``); no ``$lib`` injected from ``PostHog-Sdk-Info`` (§8 #10);
``Accept`` / ``Accept-Encoding`` on error answers (§8 #11)."""
VARIANTS: tuple[str, ...] = (*validation.VARIANTS, *SERVER_VARIANTS)
"""Every name ``CaptureApp(v1_variants=...)`` and ``serve --v1-variant`` take: the judge's (§8 #1, #4, #5,
#6, #8, the names ``validate --protocol v1 --variant`` takes) and :data:`SERVER_VARIANTS`."""

DOCS_URI = "https://posthog.com/docs/api"
BILLING_URI = "https://posthog.com/docs/billing/limits"
STATUS_TAGS = {408: "body_read_timeout", 413: "payload_too_large", 429: "rate_limited", 500: "internal_error",
               503: "service_unavailable"}
"""The ``error`` of the answers that no rule decides: a body read cut short, and the injected faults."""
FIXED_DESCRIPTIONS = {"request_parsing_error": "Failed to parse request body.",
                      "request_decoding_error": "Failed to decode request body.",
                      "invalid_api_token": "The provided API token is not valid.",
                      "rate_limited": "Rate limit exceeded."}
"""The tags whose ``error_description`` is a fixed text (§5.2); 5xx use the reason phrase."""
STORED_RESULTS = frozenset({"ok", "warning"})
SDK_INFO_MAX_BYTES = 200


def variants(names: Iterable[str]) -> frozenset[str]:
    """``names`` checked against :data:`VARIANTS`; an unknown one is a ``ValueError`` listing them."""
    chosen = frozenset(names)
    unknown = sorted(chosen - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown v1 variant {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    return chosen


async def serve(app: CaptureApp, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                cors: Headers) -> int:
    """Answer one request on :data:`PATHS`; returns the status for the stats."""
    judged = app.v1_variants & frozenset(validation.VARIANTS)
    echo = cors + _echo(headers)
    method = scope["method"]
    if method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers:
        return await respond(send, 200, b"", TEXT, cors + _preflight(headers))
    if method != "POST":  # a bare OPTIONS too (inferred, §1)
        return await respond(send, 405, b"", TEXT, echo + [(b"allow", METHODS)])
    refused = header_checks.check(headers, judged)
    declared = headers.get("content-length", "")
    if refused is None and declared.isdigit() and int(declared) > V1_WIRE_BODY_LIMIT:
        refused = finding("v1-body-too-large", "$.body", f"{int(declared):,} bytes announced", judged)
    if refused is not None:
        return await _refuse(app, send, refused, echo, (scope, headers, None))
    try:
        body = await app.take_body(scope, receive, headers)
    except BodyError as error:
        return await _error(app, send, error.status, STATUS_TAGS[error.status], str(error), echo)  # 408/503: Retry-After
    injected = await app.injected_fault()
    if injected is not None:
        return await _error(app, send, injected, STATUS_TAGS[injected], "", echo, app.plan.faults.retry_after_s)
    now = datetime.now(UTC)
    hot = partial(app.plan.over_distinct_id_limit, second=int(now.timestamp()))
    request = (headers, body, judged, client_ip(scope, headers), now, _lib(app, headers), hot)
    if offload.runs_inline("", headers, body):
        verdict = judge(*request)
    else:  # a large or compressed body: its pipeline must not hold up other clients
        verdict = await app.pipelines.run(judge, *request)
    if isinstance(verdict, Finding):
        return await _refuse(app, send, verdict, echo, (scope, headers, body))
    del body, request
    return await _accept(app, send, *verdict, echo)


def judge(headers: Mapping[str, str], body: bytes, judged: frozenset[str], client_ip: str, now: datetime,
          lib: tuple[str, str] | None, hot: Callable[[str], bool] = lambda key: False,
          ) -> Finding | tuple[tuple[EventResult, ...], dict[int, records.Record]]:
    """The body's verdict once the headers passed: the refusing finding, or every event's result with the
    records of those to store (by batch index).  ``hot(token:distinct_id)`` says whether an ``ok`` event is
    past the per-distinct-id limit (then ``warning``).  No I/O and no randomness: it may run in a worker
    thread."""
    # the headers passed, so the encoding is one of capture's: decode_body knows every one of them
    document = validation.decode_body(body, headers.get("content-encoding"), "$.body", judged)
    if isinstance(document, Finding):
        return document
    report = validation.validate_body(document, variants=judged, prefix="$.body", kind="request")
    if not report.accepted:
        return report.rejections[0]
    context = records.Context(token=trim_token(headers["authorization"][7:]), client_ip=client_ip, now=now,
                              sent_at=timestamps.parse_date(headers["posthog-request-timestamp"]),
                              historical_migration=document.get("historical_migration") is True)
    batch: Sequence[dict[str, Any]] = document["batch"]
    results = tuple(_limited(r) if r.result == "ok" and r.details is None
                    and hot(f"{context.token}:{rust_trim(batch[r.index]['distinct_id'])}") else r
                    for r in report.results)
    texts = (context.now_text, context.sent_at_text)
    built = {r.index: records.build_v1(batch[r.index], context, texts, lib, r.result, r.details)
             for r in results if r.result in STORED_RESULTS}
    return results, built


def _limited(result: EventResult) -> EventResult:
    """Capture's per-``token:distinct_id`` limiter (§4.6 step 8): stored, person processing off."""
    return EventResult(result.index, result.uuid, "warning", "person_processing_disabled")


async def _accept(app: CaptureApp, send: Send, results: tuple[EventResult, ...], built: dict[int, records.Record],
                  echo: Headers) -> int:
    """The 200: the per-event retry fault drawn per stored event, the rest stored, every result answered."""
    limited = "result-limited" in app.v1_variants
    entries: dict[str, dict[str, str]] = {}
    kept: list[records.Record] = []
    retried = False
    for result in results:
        answer, details = result.result, result.details
        if answer in STORED_RESULTS and app.plan.retries_event():
            answer, details, retried = "retry", "not_persisted", True
        elif answer in STORED_RESULTS:
            kept.append(built[result.index])
        elif result.finding is not None:
            app.stats.rejections[result.finding.rule] += 1
        if answer == "warning" and limited:
            answer = "limited"
        entries[result.uuid] = {"result": answer, "details": details} if details else {"result": answer}
    if kept:
        if app.plan.drops():
            app.stats.dropped_events += len(kept)
        else:
            try:
                await app.commits.add(kept)
            except sqlite3.Error:  # nothing stored: the whole request is retryable
                app.stats.rejections["store: 503"] += 1
                return await _error(app, send, 503, "service_unavailable", "", echo)
        app.stats.accepted_events += len(kept)
    retry: Headers = [(b"retry-after", b"1")] if retried else []
    return await respond(send, 200, orjson.dumps({"results": entries}), JSON, echo + retry)


async def _refuse(app: CaptureApp, send: Send, refused: Finding, echo: Headers,
                  seen: tuple[Scope, dict[str, str], bytes | None]) -> int:
    """A request-level rejection: counted by rule, kept for the inspector (``seen``: scope, headers, body)."""
    app.stats.rejections[refused.rule] += 1
    assert refused.status is not None  # every request-level v1 rule has one
    app.rejections.add(*seen, refused.status, refused.rule, refused.message)
    return await _error(app, send, refused.status, refused.tag, refused.message, echo)


async def _error(app: CaptureApp, send: Send, status: int, tag: str, description: str, extra: Headers,
                 retry_after_s: int = 1) -> int:
    """The JSON error body (§5.2), with ``Retry-After`` where the selected revision puts it (§5.2, §8 #9)."""
    if status >= 500:
        description = HTTPStatus(status).phrase
    body = {"error": tag, "error_description": FIXED_DESCRIPTIONS.get(tag, description) or tag,
            "error_uri": BILLING_URI if tag == "billing_limit_exceeded" else DOCS_URI}
    headers = list(extra)
    if "retry-after-rate-limited-only" in app.v1_variants:
        retryable = tag == "rate_limited"
    else:
        retryable = status == 408 or status >= 500
    if retryable:
        headers.append((b"retry-after", str(retry_after_s).encode()))
    if "accept-on-errors" in app.v1_variants:
        headers += [(b"accept", JSON), (b"accept-encoding", b"gzip, deflate, br, zstd")]
    return await respond(send, status, orjson.dumps(body), JSON, headers)


def _echo(headers: dict[str, str]) -> Headers:
    """``PostHog-Request-Id`` byte for byte, on every answer to a request that carried one."""
    request_id = headers.get("posthog-request-id")
    return [] if request_id is None else [(b"posthog-request-id", request_id.encode("latin-1"))]


def _preflight(headers: dict[str, str]) -> Headers:
    """The preflight's answer: ``POST, OPTIONS`` (never GET), the requested headers mirrored."""
    mirrored = [h for h in preflight_headers(headers) if h[0] != b"access-control-allow-methods"]
    return [(b"access-control-allow-methods", METHODS), *mirrored]


def _lib(app: CaptureApp, headers: dict[str, str]) -> tuple[str, str] | None:
    """``($lib, $lib_version)`` from ``PostHog-Sdk-Info``, split at the last ``/`` (§3); None when the value
    is over 200 bytes, has no ``/`` or an empty part, or under ``lib-not-injected``."""
    value = headers.get("posthog-sdk-info", "")
    if "lib-not-injected" in app.v1_variants or len(value.encode("latin-1")) > SDK_INFO_MAX_BYTES:
        return None
    lib, _, version = value.rpartition("/")
    lib, version = lib.strip(), version.strip()
    return (lib, version) if lib and version else None
