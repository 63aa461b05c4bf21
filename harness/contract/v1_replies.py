"""Checks of v1 answers (capture-v1.md §5): the error tag, each event's result, the bodies, the echoed request
id and ``Retry-After``.  Same style as :mod:`harness.checks`: ``(case, reply) -> None`` raising
:class:`harness.checks.Failure` with a :class:`harness.checks.Title`.

One departure is reported once, by the category that names it (as :data:`harness.contract.replies.STATUS_CHECKS`
does for v0): :func:`verdict_checks` (acceptance, rejection, edge cases, limits) judge the status, the ``error``
tag when the body is JSON at all, and each event's result looked up by its parsed uuid, while the shape of the
bodies, the key spelling, the headers of the answer are the responses category's (:data:`ANSWER_CHECKS`).
"""

from __future__ import annotations

from typing import Any

import orjson

from harness.checks import Case, Check, Failure, Reply, Title, excerpt, short
from harness.contract.replies import STATUS_CHECKS
from harness.spec.v1.model import EventResult, Report
from harness.spec.v1.text import canonical_uuid
from harness.spec.v1.validation import validate_response

NON_RETRYABLE = frozenset({400, 401, 402, 413, 415})
"""Statuses whose answer never carries ``Retry-After`` in any revision (§5.2)."""

ACKNOWLEDGED = frozenset({"ok", "warning", "limited"})
"""Results the SDKs treat as terminal success (§6): the event is stored."""


def _document(reply: Reply) -> Any:
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return None


def answered_results(reply: Reply) -> dict[str, dict[str, Any]]:
    """A 200's results keyed by parsed (canonical) uuid, whatever spelling the endpoint used; empty when
    the body has none (the responses category reports that)."""
    document = _document(reply)
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, dict):
        return {}
    return {canonical_uuid(key.strip()) or key: value for key, value in results.items() if isinstance(value, dict)}


def error_tag(report: Report) -> Check:
    """A refusal with the expected status carries the judge's ``error`` tag (when its body is JSON at all)."""
    def check(case: Case, reply: Reply) -> None:
        if report.error is None or reply.status != case.expect_status:
            return
        document = _document(reply)
        got = document.get("error") if isinstance(document, dict) else None
        if isinstance(got, str) and got != report.error:
            raise Failure(Title.V1_ERROR_TAG_DIFFERS, f"{case.name} (breaks {case.rule}): expected {reply.status} "
                                                      f"{report.error}, got {reply.status} {got}")
    return check


def _acceptable(expected: EventResult, result: Any, details: Any) -> bool:
    """Whether an answer stands for the judge's ``expected`` result: a drop exactly; an accepted event also
    as ``retry``/``not_persisted`` (a transient sink error) or, without details of its own,
    ``warning``/``person_processing_disabled`` (the per-distinct-id limiter, §4.6 step 8)."""
    if (result, details) == (expected.result, expected.details):
        return True
    if expected.result == "drop":
        return False
    if (result, details) == ("retry", "not_persisted"):
        return True
    if result in ("warning", "limited"):
        return details == "person_processing_disabled" and expected.details in (None, "person_processing_disabled")
    return False


def results_as_judged(report: Report) -> Check:
    """Each event a 200 answers has the judge's result (drop with its tag, ok, ok with details); an event
    the answer leaves out is the responses category's finding (:func:`result_keys_are_the_uuids`)."""
    def check(case: Case, reply: Reply) -> None:
        if reply.status != 200 or not report.accepted:
            return
        answered = answered_results(reply)
        for expected in report.results:
            got = answered.get(expected.uuid)
            if got is None or _acceptable(expected, got.get("result"), got.get("details")):
                continue
            title = Title.V1_DROP_NOT_ANSWERED if expected.result == "drop" and got.get("result") != "drop" \
                else Title.V1_VALID_EVENT_DROPPED if got.get("result") == "drop" and expected.result != "drop" \
                else Title.V1_RESULT_DETAILS_DIFFER
            rule = f" (breaks {expected.finding.rule})" if expected.finding else ""
            raise Failure(title, f"{case.name}: event [{expected.index}]{rule}: expected {expected.result}"
                                 f"{'/' + expected.details if expected.details else ''}, got {short(got, 120)}")
    return check


def verdict_checks(report: Report) -> tuple[Check, ...]:
    """The status, the error tag and each event's result: what every v1 test but the responses' checks."""
    return (*STATUS_CHECKS, error_tag(report), results_as_judged(report))


def error_body_conformant(case: Case, reply: Reply) -> None:
    """A v1 4xx from capture (not axum's 404 / 405) is JSON ``{error, error_description, error_uri}``."""
    if not 400 <= reply.status < 500 or reply.status in (404, 405):
        return
    content_type = reply.headers.get("content-type", "")
    document = _document(reply)
    if not content_type.startswith("application/json") or not validate_response(document, "error").accepted:
        raise Failure(Title.V1_ERROR_BODY_NOT_CONFORMANT,
                      f"{case.name}: {reply.status} with content-type {content_type!r}, body {excerpt(reply.body)}")


def success_body_conformant(case: Case, reply: Reply) -> None:
    """A v1 200 is JSON ``{"results": {uuid: {"result", "details"?}}}`` (never a 2xx without results)."""
    if reply.status != 200:
        return
    content_type = reply.headers.get("content-type", "")
    document = _document(reply)
    if not content_type.startswith("application/json") or not validate_response(document).accepted:
        raise Failure(Title.V1_SUCCESS_BODY_NOT_CONFORMANT,
                      f"{case.name}: content-type {content_type!r}, body {excerpt(reply.body)}")


def result_keys_are_the_uuids(case: Case, reply: Reply) -> None:
    """A 200's keys are exactly the request's uuids in canonical form: one each, lower-case hyphenated."""
    if reply.status != 200 or not case.uuids:
        return
    document = _document(reply)
    if not isinstance(document, dict) or not isinstance(document.get("results"), dict):
        return  # no results map at all: success_body_conformant's finding
    keys = list(document["results"])
    wanted = [canonical_uuid(u.strip()) or u for u in case.uuids]
    if sorted(keys) != sorted(wanted):
        missing, extra = sorted(set(wanted) - set(keys)), sorted(set(keys) - set(wanted))
        raise Failure(Title.V1_RESULT_KEYS_MISMATCH,
                      f"{case.name}: {len(keys)} keys for {len(wanted)} events; missing {missing[:2]}, "
                      f"unexpected {extra[:2]}")


def request_id_echoed(case: Case, reply: Reply) -> None:
    """Every answer to a request with ``PostHog-Request-Id`` echoes it byte for byte (§5.1)."""
    sent = next((v for k, v in case.request.headers.items() if k.lower() == "posthog-request-id"), None)
    if sent is not None and reply.headers.get("posthog-request-id") != sent:
        raise Failure(Title.V1_REQUEST_ID_NOT_ECHOED, f"{case.name} (answered {reply.status}): sent {sent!r}, got "
                                                      f"{reply.headers.get('posthog-request-id')!r}")


def retry_after_where_due(case: Case, reply: Reply) -> None:
    """``Retry-After`` on a 200 exactly when a result is ``retry``; never on a 400, 401, 402, 413 or 415."""
    value = reply.headers.get("retry-after")
    if reply.status == 200:
        retried = any(r.get("result") == "retry" for r in answered_results(reply).values())
        if retried and not (value or "").strip().isdigit():
            raise Failure(Title.V1_RETRY_AFTER_MISSING, f"{case.name}: a retry result, Retry-After {value!r}")
        if not retried and value is not None:
            raise Failure(Title.V1_RETRY_AFTER_UNEXPECTED, f"{case.name}: 200 without retry, Retry-After {value!r}")
    elif reply.status in NON_RETRYABLE and value is not None:
        raise Failure(Title.V1_RETRY_AFTER_UNEXPECTED, f"{case.name}: {reply.status}, Retry-After {value!r}")


def retry_after_due(due: bool) -> Check:
    """An error answer carries ``Retry-After`` exactly when ``due`` (the revision's rule for its status, §5.2)."""
    def check(case: Case, reply: Reply) -> None:
        value = reply.headers.get("retry-after")
        if due and not (value or "").strip().isdigit():
            raise Failure(Title.V1_RETRY_AFTER_MISSING, f"{case.name}: {reply.status}, Retry-After {value!r}")
        if not due and value is not None:
            raise Failure(Title.V1_RETRY_AFTER_UNEXPECTED, f"{case.name}: {reply.status}, Retry-After {value!r}")
    return check


ANSWER_CHECKS: tuple[Check, ...] = (*STATUS_CHECKS, result_keys_are_the_uuids, success_body_conformant,
                                    error_body_conformant, request_id_echoed, retry_after_where_due)
"""What the responses category checks of every answer, in order: the keys before the body's schema, which
also refuses a non-canonical key, so that a key departure is reported under its own title."""


def preflight_methods(case: Case, reply: Reply) -> None:
    """A v1 preflight allows ``POST, OPTIONS`` and never ``GET`` (§1)."""
    methods = {m.strip().upper() for m in reply.headers.get("access-control-allow-methods", "").split(",")}
    if not {"POST", "OPTIONS"} <= methods or "GET" in methods:
        raise Failure(Title.V1_PREFLIGHT_METHODS, f"{case.name}: Access-Control-Allow-Methods is "
                                                  f"{reply.headers.get('access-control-allow-methods')!r}")
