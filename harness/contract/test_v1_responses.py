"""v1 responses (``--capture-protocol v1``): a 200 is ``{"results": ...}`` JSON keyed by exactly the request's uuids
in canonical form, every refusal the JSON error body, every answer echoes ``PostHog-Request-Id``, ``Retry-After``
exactly where capture-v1.md §5 puts it, CORS on successes and errors, the preflight, 404 and 405 (§1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness.checks import Case, Failure, Reply, Title, expected_status_answered
from harness.contract.delivery import InspectionClient
from harness.contract.replies import ORIGIN, REQUESTED_HEADERS, origin_mirrored, status_in
from harness.contract.v1_cases import PATH, V1Cases
from harness.contract.v1_delivery import faults
from harness.contract.v1_replies import (
    ANSWER_CHECKS,
    error_body_conformant,
    preflight_methods,
    request_id_echoed,
    retry_after_due,
)
from harness.contract.v1_requests import REFUSED, case_of, mixed_outcome
from harness.wire import WireRequest

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.responses]

Check = Callable[..., Reply]

UUID_FORMS: dict[str, Callable[[str], str]] = {
    "upper-case": str.upper, "braced": lambda u: "{" + u + "}", "padded": lambda u: f"  {u} ",
    "32-hex-digits": lambda u: u.replace("-", ""), "urn": lambda u: "urn:uuid:" + u,
}
"""How a caller may spell a uuid: the key must still be the canonical lower-case form (§5.1, §8 #12)."""


@pytest.mark.parametrize("encoding", [None, "gzip"], ids=["plain", "gzip"])
def test_success_body_is_conformant(capture_v1: V1Cases, capture_check: Check, encoding: str | None) -> None:
    request = capture_v1.valid(f"v1 responses success {encoding}", size=4, encoding=encoding)
    capture_check(capture_v1.case(f"v1 success ({encoding or 'plain'})", request).case, ANSWER_CHECKS)


def test_mixed_outcome_has_exactly_one_result_per_event(capture_v1: V1Cases, capture_check: Check) -> None:
    request = capture_v1.valid("v1 responses mixed", size=5)
    mixed_outcome(request)
    capture_check(capture_v1.case("v1 mixed outcome (§9.3)", request).case, ANSWER_CHECKS)


@pytest.mark.parametrize("form", list(UUID_FORMS))
def test_results_are_keyed_by_canonical_uuids(capture_v1: V1Cases, capture_check: Check, form: str) -> None:
    request = capture_v1.valid(f"v1 responses uuid {form}")
    for event in request["body"]["batch"][1:]:
        event["uuid"] = UUID_FORMS[form](event["uuid"])
    capture_check(capture_v1.case(f"v1 uuids spelt {form}", request).case, ANSWER_CHECKS)


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusal_is_the_json_error_with_the_request_id(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    """Each §9.5 refusal: JSON ``{error, error_description, error_uri}``, the request id echoed, no Retry-After."""
    capture_check(case_of(capture_v1, f"v1 responses refused {name}", REFUSED[name]).case, ANSWER_CHECKS)


def test_an_odd_request_id_is_echoed_as_sent(capture_v1: V1Cases, capture_check: Check) -> None:
    request = capture_v1.valid("v1 responses request id")
    request["headers"]["PostHog-Request-Id"] = "{" + request["headers"]["PostHog-Request-Id"].upper() + "}"
    capture_check(capture_v1.case("v1 braced upper-case request id", request).case, ANSWER_CHECKS)


def test_a_retry_result_carries_retry_after(capture_v1: V1Cases, capture_check: Check,
                                           capture_inspection: InspectionClient) -> None:
    """A 200 holding ``retry`` has ``Retry-After`` (§5.1, §9.4); brought about by the inspection API's
    ``event_retry_rate`` fault (skipped on a target without one)."""
    v1 = capture_v1.case("v1 every event retried", capture_v1.valid("v1 responses retry"))
    with faults(capture_inspection, event_retry_rate=1.0):
        reply = capture_check(v1.case, ANSWER_CHECKS)
    if not any(entry.get("result") == "retry" for entry in json.loads(reply.body)["results"].values()):
        pytest.skip("the target answered no retry under event_retry_rate 1.0")


@pytest.mark.parametrize("status", [500, 503, 429])
def test_an_error_carries_retry_after_as_the_revision_says(capture_v1: V1Cases, capture_check: Check,
                                                           capture_inspection: InspectionClient, status: int) -> None:
    """``Retry-After`` on 5xx, not on 429 (newest, §5.2); the other way round under ``retry-after-rate-limited-only``
    (``error.rs@5a75b3c0``: only ``rate_limited``).  The statuses come from the inspection API's error fault, so a
    5xx is expected here, not a server error."""
    v1 = capture_v1.case(f"v1 answered {status} by the error fault", capture_v1.valid("v1 responses fault"))
    due = (status == 429) if "retry-after-rate-limited-only" in capture_v1.selected else status >= 500
    case = Case(v1.case.name, v1.case.request, status)
    with faults(capture_inspection, error_rate=1.0, error_statuses=[status]):
        capture_check(case, (expected_status_answered, error_body_conformant, request_id_echoed, retry_after_due(due)))


def _options(headers: dict[str, str], path: str = PATH) -> Case:
    return Case("v1 CORS preflight", WireRequest("OPTIONS", path, headers, b""), 200)


def test_cors_preflight_allows_post_and_options_only(capture_send: Callable[[Case], Reply]) -> None:
    case = _options({"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": REQUESTED_HEADERS})
    reply = capture_send(case)
    status_in((200,), Title.PREFLIGHT_NOT_200)(case, reply)
    origin_mirrored(case, reply)
    preflight_methods(case, reply)
    allowed = {h.strip().lower() for h in reply.headers.get("access-control-allow-headers", "").split(",")}
    if not set(REQUESTED_HEADERS.split(",")) <= allowed and "*" not in allowed:
        raise Failure(Title.PREFLIGHT_HEADERS_NOT_MIRRORED, f"{case.name}: asked for {REQUESTED_HEADERS!r}, got "
                                                            f"{reply.headers.get('access-control-allow-headers')!r}")


@pytest.mark.parametrize("name", ["valid", "no-authorization", "content-type-text-plain", "batch-empty"])
def test_answers_carry_cors_headers(capture_v1: V1Cases, capture_send: Callable[[Case], Reply], name: str) -> None:
    v1 = capture_v1.case(f"v1 CORS {name}", capture_v1.valid("v1 responses cors")) if name == "valid" else \
        case_of(capture_v1, f"v1 CORS {name}", REFUSED[name])
    headers: dict[str, Any] = {**v1.case.request.headers, "Origin": ORIGIN}
    case = Case(v1.case.name, WireRequest("POST", PATH, headers, v1.case.request.body), v1.case.expect_status)
    origin_mirrored(case, capture_send(case))


def test_get_is_405(capture_v1: V1Cases, capture_send: Callable[[Case], Reply]) -> None:
    headers = capture_v1.valid("v1 responses get")["headers"]
    case = Case("v1 GET", WireRequest("GET", PATH, headers, b""), 405)
    status_in((405,), Title.METHOD_NOT_405)(case, capture_send(case))


def test_unknown_path_is_404(capture_v1: V1Cases, capture_send: Callable[[Case], Reply]) -> None:
    v1 = capture_v1.case("v1 unknown path", capture_v1.valid("v1 responses 404"), path="/i/v1/analytics/event")
    case = Case(v1.case.name, v1.case.request, 404)
    status_in((404,), Title.UNKNOWN_PATH_NOT_404)(case, capture_send(case))
