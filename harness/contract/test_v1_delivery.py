"""v1 delivery (``--capture-protocol v1``): every event answered ``ok`` or ``warning`` is stored intact with that
result, and no event answered ``drop``, none capture-v1.md drops, and none of a refused request (§5.1, §5.3).
Read through the reference server's ``/_harness/`` inspection API; skipped on a target without one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import Reply
from harness.contract.delivery import InspectionClient
from harness.contract.v1_cases import V1Cases
from harness.contract.v1_delivery import stored_as_answered
from harness.contract.v1_replies import verdict_checks
from harness.contract.v1_requests import DROPPED, HEADER_ORDER, REFUSED, case_of, mixed_outcome

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.delivery]

Check = Callable[..., Reply]

SHAPES = {"python-plain": ("python", None), "python-deflate": ("python", "deflate"), "node-gzip": ("node", "gzip")}

REFUSED_AFTER_VALID_EVENTS = ("uuid-duplicate", "uuid-not-a-uuid", "distinct-id-a-number", "created-at-now")
"""Refusals of a request whose other events are valid: nothing of it may be stored (§5.3)."""


@pytest.mark.parametrize("shape", list(SHAPES))
def test_acknowledged_events_are_stored_as_sent(capture_v1: V1Cases, capture_check: Check,
                                                capture_inspection: InspectionClient, shape: str) -> None:
    sdk, encoding = SHAPES[shape]
    request = capture_v1.valid(f"v1 delivery {shape}", size=4, sdk=sdk, encoding=encoding)
    request["body"]["batch"][0].update(session_id="capture-harness-session", distinct_id="  capture-harness-pad  ")
    v1 = capture_v1.case(f"v1 delivery {shape}", request)
    capture_check(v1.case, (*verdict_checks(v1.report), stored_as_answered(v1, capture_inspection.client)))


def test_mixed_outcome_stores_the_acknowledged_events_only(capture_v1: V1Cases, capture_check: Check,
                                                           capture_inspection: InspectionClient) -> None:
    request = capture_v1.valid("v1 delivery mixed", size=5)
    mixed_outcome(request)
    v1 = capture_v1.case("v1 delivery mixed outcome (§9.3)", request)
    capture_check(v1.case, (*verdict_checks(v1.report), stored_as_answered(v1, capture_inspection.client)))


@pytest.mark.parametrize("name", [n for n in DROPPED if "before" not in n])
def test_dropped_event_is_not_stored(capture_v1: V1Cases, capture_check: Check,
                                     capture_inspection: InspectionClient, name: str) -> None:
    v1 = case_of(capture_v1, f"v1 delivery dropped {name}", DROPPED[name])
    capture_check(v1.case, (*verdict_checks(v1.report), stored_as_answered(v1, capture_inspection.client)))


@pytest.mark.parametrize("name", REFUSED_AFTER_VALID_EVENTS + ("a-uuid-fault-after-a-drop",))
def test_refused_request_stores_nothing(capture_v1: V1Cases, capture_check: Check,
                                        capture_inspection: InspectionClient, name: str) -> None:
    row = REFUSED.get(name) or HEADER_ORDER[name]
    v1 = case_of(capture_v1, f"v1 delivery refused {name}", row)
    capture_check(v1.case, (*verdict_checks(v1.report), stored_as_answered(v1, capture_inspection.client)))
