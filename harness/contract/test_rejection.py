"""Rejection: every rule the generators can break, answered with the contract's status (400, 401, 413).

A body breaks exactly one rule (:data:`harness.generate.mutations.BREAKERS`), is sent as JSON to a single-event
path, the batch path and a legacy path (capture has one handler for all, §1.1; ``/engage`` is left out
because a nameless body is valid there), and must get :func:`harness.checks.expected_status` for the
variant: never a 200, never a 5xx.  Three parse rules no JSON value can break are sent as bytes:
truncated JSON, nesting past serde's 128 levels, and ``1e400``.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest

from harness.checks import Reply, expected_status
from harness.contract import bodies
from harness.contract.cases import Cases
from harness.contract.replies import STATUS_CHECKS
from harness.generate.mutations import GENERATED_RULES

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
