"""v1 limits (``--capture-protocol v1``): the 10 MiB wire cap from both sides, a gzip bomb past the 50 MiB
decompressed cap, one event over the producer's 1,000,000 bytes dropped alone, and no cap on the number of
events (capture-v1.md §4.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.checks import Reply
from harness.contract.bodies import gzip_bomb
from harness.contract.tagging import fresh_uuid
from harness.contract.v1_cases import V1Cases
from harness.contract.v1_replies import verdict_checks
from harness.spec.jsontext import to_json
from harness.spec.rules import EVENT_SIZE_LIMIT, V1_DECOMPRESSED_LIMIT, V1_WIRE_BODY_LIMIT

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.limits]

Check = Callable[..., Reply]

PAD = 900_000
"""Bytes of padding per event of a large body: well under the producer's per-event limit."""


def _of_size(capture_v1: V1Cases, label: str, size: int) -> dict[str, Any]:
    """A valid request whose JSON body is exactly ``size`` bytes: events padded by an ASCII property."""
    request = capture_v1.valid(label, size=1)
    template = request["body"]["batch"][0]
    batch = request["body"]["batch"] = []
    while len(to_json(request["body"])) + PAD < size:
        batch.append({**template, "uuid": fresh_uuid(template["uuid"]),
                      "properties": {**template["properties"], "pad": "x" * PAD}})
    batch.append({**template, "uuid": fresh_uuid(template["uuid"]), "properties": {**template["properties"], "pad": ""}})
    batch[-1]["properties"]["pad"] = "x" * (size - len(to_json(request["body"])))
    assert len(to_json(request["body"])) == size
    return request


def test_body_of_exactly_10_mib_is_accepted(capture_v1: V1Cases, capture_check: Check) -> None:
    v1 = capture_v1.case("v1 body of exactly 10 MiB", _of_size(capture_v1, "v1 limits exact", V1_WIRE_BODY_LIMIT))
    assert v1.report.status == 200
    capture_check(v1.case, verdict_checks(v1.report))


def test_body_one_byte_over_10_mib_is_413(capture_v1: V1Cases, capture_check: Check) -> None:
    request = _of_size(capture_v1, "v1 limits over", V1_WIRE_BODY_LIMIT + 1)
    v1 = capture_v1.case("v1 body of 10 MiB + 1 byte", request)
    assert v1.case.rule == "v1-body-too-large"
    capture_check(v1.case, verdict_checks(v1.report))


def test_gzip_bomb_past_the_decompressed_cap_is_413(capture_v1: V1Cases, capture_check: Check) -> None:
    """A gzip member inflating to exactly 50 MiB: already over (§4.5, ``buf.len() >= limit``)."""
    request = capture_v1.valid("v1 limits bomb", encoding="gzip")
    v1 = capture_v1.case("v1 gzip bomb of 50 MiB", request, raw=gzip_bomb(V1_DECOMPRESSED_LIMIT))
    assert v1.case.rule == "v1-body-too-large"
    capture_check(v1.case, verdict_checks(v1.report))


def test_one_event_over_the_producer_limit_is_dropped_alone(capture_v1: V1Cases, capture_check: Check) -> None:
    request = capture_v1.valid("v1 limits big event", size=3)
    request["body"]["batch"][1]["properties"]["pad"] = "x" * EVENT_SIZE_LIMIT
    v1 = capture_v1.case("v1 one event over 1,000,000 bytes", request)
    assert "v1-event-too-large" in v1.report.rules
    capture_check(v1.case, verdict_checks(v1.report))


def test_no_cap_on_the_number_of_events(capture_v1: V1Cases, capture_check: Check) -> None:
    request = capture_v1.valid("v1 limits many", size=2000, sdk="node", encoding="gzip")
    v1 = capture_v1.case("v1 batch of 2,000 events", request)
    capture_check(v1.case, verdict_checks(v1.report))
