"""Rejection: every rule the generators can break, answered with the contract's status (400, 401, 413).

A body breaks exactly one rule (:data:`harness.generate.mutations.BREAKERS`), is sent as JSON to a single-event
path, the batch path and a legacy path (capture has one handler for all, §1.1; ``/engage`` is left out
because a nameless body is valid there), and must get :func:`harness.checks.expected_status` for the
variant: never a 200, never a 5xx.  Three parse rules no JSON value can break are sent as bytes:
truncated JSON, nesting past serde's 128 levels, and ``1e400``.  Then three rules of the request as a whole
(§12): no payload at all is a 400 (rule 3), a form content type on a body that is no form a 400 (rule 4),
and a missing token wins over an event's error (rule 15).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import product
from typing import Any

import pytest

from harness.checks import Case, Reply, expected_status
from harness.contract import bodies
from harness.contract.cases import Cases
from harness.contract.replies import STATUS_CHECKS
from harness.generate.mutations import GENERATED_RULES
from harness.spec.body import events_of
from harness.spec.rules import REJECTION_RULES, Stage
from harness.wire import FORM_CONTENT_TYPE, WireRequest

pytestmark = pytest.mark.rejection

PATHS = ("/i/v0/e/", "/batch/", "/e")
RULE_CELLS = list(product(GENERATED_RULES, PATHS))

RAW_RULES: dict[str, Callable[[object], bytes]] = {
    "body-not-json": bodies.not_json,
    "json-too-deep": bodies.too_deep,
    "number-out-of-range": bodies.number_out_of_range,
}
"""Parse rules broken in the JSON text itself, not in a value."""
RAW_CELLS = list(product(RAW_RULES, PATHS))


@pytest.mark.parametrize(("rule", "path"), RULE_CELLS, ids=[f"{r}-{p}" for r, p in RULE_CELLS])
def test_rule_breaking_body_is_refused(capture_cases: Cases, capture_check: Callable[..., Reply], rule: str,
                                       path: str) -> None:
    label = f"rejection {rule} as json to {path}"
    body, expect = capture_cases.invalid(rule, label)
    capture_check(capture_cases.case(label, body, path=path, expect=expect, rule=rule), STATUS_CHECKS)


@pytest.mark.parametrize(("rule", "path"), RAW_CELLS, ids=[f"{r}-{p}" for r, p in RAW_CELLS])
def test_unparseable_body_is_refused(capture_cases: Cases, capture_check: Callable[..., Reply], rule: str,
                                     path: str) -> None:
    label = f"rejection {rule} as json to {path}"
    payload = RAW_RULES[rule](capture_cases.valid("capture", label))
    expect = expected_status(rule, capture_cases.target.variant)
    capture_check(capture_cases.case(label, payload, path=path, expect=expect, rule=rule), STATUS_CHECKS)


# --- rules of the request as a whole (§12 rules 3, 4 and 15) -------------------------------------------------

NO_PAYLOAD = {"post-empty-body": WireRequest("POST", "/i/v0/e/", {"Content-Type": "application/json"}, b""),
              "get-without-data": WireRequest("GET", "/batch/?ver=1.2.3", {}, b"")}


@pytest.mark.parametrize("shape", list(NO_PAYLOAD))
def test_request_without_payload_is_400(capture_check: Callable[..., Reply], shape: str) -> None:
    """Rule 3: neither a non-empty ``data`` query parameter nor a body: 400 ("request missing data payload")."""
    request = NO_PAYLOAD[shape]
    capture_check(Case(f"rejection no payload ({shape}) to {request.target}", request, 400), STATUS_CHECKS)


def test_form_content_type_on_a_non_form_body_is_400(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    """Rule 4: a body is read as a form only under ``application/x-www-form-urlencoded``, and a body sent so
    that is no form is refused, even when it is valid JSON: it must not be read as JSON instead."""
    label = "rejection a JSON body sent as application/x-www-form-urlencoded"
    case = capture_cases.case(label, capture_cases.valid("capture", label), expect=400)
    request = dataclasses.replace(case.request, headers={"Content-Type": FORM_CONTENT_TYPE})
    capture_check(dataclasses.replace(case, request=request), STATUS_CHECKS)


EVENT_RULES = tuple(rule.name for rule in REJECTION_RULES if rule.stage is Stage.EVENT and rule.name in GENERATED_RULES)
"""The per-event rules capture checks after the token (§3.3): breaking one without a token is still a 401."""


@pytest.mark.parametrize("rule", EVENT_RULES)
def test_token_error_wins_over_event_errors(capture_cases: Cases, capture_check: Callable[..., Reply],
                                            rule: str) -> None:
    """Rule 15: the token is checked before the events, so a body without a token that also breaks an
    event rule gets the token's 401, not the event's 400."""
    label = f"rejection no token and {rule}"
    body, _ = capture_cases.invalid(rule, label)
    body = without_token(body)
    expect = expected_status("token-missing", capture_cases.target.variant)
    capture_check(capture_cases.case(label, body, path="/batch/", expect=expect, rule="token-missing"), STATUS_CHECKS)


def without_token(body: Any) -> Any:
    """``body`` without any token capture reads (§3.1): the events' ``token``, ``$token``, ``api_key`` and
    ``properties.token`` removed, and a batch object's events sent as an array (a batch object without its
    token is no batch object to capture: a parse error, rule ``batch-token-missing``)."""
    if isinstance(body, dict) and isinstance(body.get("batch"), list):
        body = body["batch"]
    for event in events_of(body):
        if isinstance(event, dict):
            for name in ("token", "$token", "api_key"):
                event.pop(name, None)
            if isinstance(event.get("properties"), dict):
                event["properties"].pop("token", None)
    return body
