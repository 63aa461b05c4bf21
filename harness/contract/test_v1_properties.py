"""v1 properties (``--capture-protocol v1``): Hypothesis drives the v1 generators (:class:`harness.generate.v1.
V1Traffic` and the breakers of ``generate --protocol v1 --invalid``) through :class:`harness.generate.choices.
DrawnChoices`, and every request gets the judge's answer: status, ``error`` tag and each event's result.
Failures shrink to a small request; ``--capture-profile`` picks the settings, as for v0's properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checks import Reply
from harness.contract.v1_cases import V1Cases
from harness.contract.v1_replies import verdict_checks
from harness.generate.choices import DrawnChoices
from harness.generate.v1 import V1Traffic
from harness.generate.v1_mutations import BREAKERS, GENERATED_RULES

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.properties]


@st.composite
def _requests(draw: Any, cases: V1Cases, rule: str | None = None) -> dict[str, Any]:
    """A tagged v1 request of 1 to 5 events, broken by ``rule``'s breaker after tagging when given."""
    choices = DrawnChoices(draw)
    request = cases.tag(V1Traffic(choices, token=cases.target.api_key).request(draw(st.integers(1, 5))))
    if rule is not None:
        BREAKERS[rule](choices, request)
    return request


def test_generated_requests_are_acknowledged(capture_v1: V1Cases, capture_check: Callable[..., Reply],
                                             capture_settings: settings) -> None:
    @capture_settings
    @given(request=_requests(capture_v1))
    def valid_request(request: dict[str, Any]) -> None:
        v1 = capture_v1.case("generated v1 request", request)
        assert v1.report.status == 200 and v1.report.dropped == 0, v1.report
        capture_check(v1.case, verdict_checks(v1.report))
    valid_request()


def test_generated_rule_breakers_get_the_judges_answer(capture_v1: V1Cases, capture_check: Callable[..., Reply],
                                                       capture_settings: settings) -> None:
    @capture_settings
    @given(data=st.data(), rule=st.sampled_from(GENERATED_RULES))
    def broken_request(data: st.DataObject, rule: str) -> None:
        v1 = capture_v1.case(f"generated v1 request breaking {rule}", data.draw(_requests(capture_v1, rule)))
        capture_check(v1.case, verdict_checks(v1.report))
    broken_request()
