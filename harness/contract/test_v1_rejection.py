"""v1 rejection (``--capture-protocol v1``): every request-level refusal of capture-v1.md §9.5 and §2-§4 gets
its status and ``error`` tag, two faults at once get the answer of the step checked first (§3, §4.6), and
every per-event fault is a ``drop`` with its tag inside a 200, the other events ``ok`` (§4.2, §5.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import Reply
from harness.contract.v1_cases import V1Cases
from harness.contract.v1_replies import verdict_checks
from harness.contract.v1_requests import DROPPED, HEADER_ORDER, REFUSED, case_of, mixed_outcome

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.rejection]

Check = Callable[..., Reply]


@pytest.mark.parametrize("name", list(REFUSED))
def test_request_level_fault_is_refused(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    v1 = case_of(capture_v1, f"v1 refused {name}", REFUSED[name])
    assert v1.report.status is not None and v1.report.status >= 400
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("name", list(HEADER_ORDER))
def test_the_first_failing_step_decides(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    v1 = case_of(capture_v1, f"v1 order {name}", HEADER_ORDER[name])
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("name", list(DROPPED))
def test_event_fault_is_dropped_with_its_tag(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    v1 = case_of(capture_v1, f"v1 dropped {name}", DROPPED[name])
    capture_check(v1.case, verdict_checks(v1.report))


def test_mixed_outcome_is_a_200_with_a_result_per_event(capture_v1: V1Cases, capture_check: Check) -> None:
    """capture-v1.md §9.3: one request, five events, four outcomes; still a 200."""
    request = capture_v1.valid("v1 mixed outcome", size=5)
    mixed_outcome(request)
    v1 = capture_v1.case("v1 mixed outcome (§9.3)", request)
    assert v1.report.dropped >= 3
    capture_check(v1.case, verdict_checks(v1.report))


