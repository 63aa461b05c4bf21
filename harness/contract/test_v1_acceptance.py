"""v1 acceptance (``--capture-protocol v1``): what posthog-python 7.91.1 and posthog-node 5.70.0 send in v1 mode,
on both spellings of the route and in every encoding they (and capture) use, gets a 200 with every event ``ok``
(capture-v1.md §1, §4.5, §6); a retried request is acknowledged again (§4.6: capture does not deduplicate)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from harness.checks import Reply
from harness.contract.v1_cases import PATH, V1Cases
from harness.contract.v1_replies import verdict_checks

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.acceptance]

Check = Callable[..., Reply]

SHAPES = {"python-plain": ("python", None), "python-gzip": ("python", "gzip"), "python-deflate": ("python", "deflate"),
          "node-gzip": ("node", "gzip"), "node-plain": ("node", None), "br": ("node", "br")}
"""SDK and ``Content-Encoding``: Python's default none, its gzip and zlib deflate; Node's default gzip; br,
which capture accepts although neither SDK sends it (§6)."""


@pytest.mark.parametrize("path", [PATH, PATH + "/"], ids=["events", "events-slash"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_sdk_request_is_acknowledged_every_event_ok(capture_v1: V1Cases, capture_check: Check, shape: str,
                                                    path: str) -> None:
    sdk, encoding = SHAPES[shape]
    request = capture_v1.valid(f"v1 acceptance {shape}", size=5, sdk=sdk, encoding=encoding)
    v1 = capture_v1.case(f"v1 {shape} batch to {path}", request, path=path)
    assert v1.report.status == 200 and all(r.result == "ok" for r in v1.report.results), v1.report
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("size", [1, 100], ids=["one-event", "a-full-sdk-batch"])
def test_batch_sizes_the_sdks_send_are_acknowledged(capture_v1: V1Cases, capture_check: Check, size: int) -> None:
    request = capture_v1.valid(f"v1 acceptance size {size}", size=size, sdk="node", encoding="gzip")
    v1 = capture_v1.case(f"v1 batch of {size}", request)
    capture_check(v1.case, verdict_checks(v1.report))


def test_a_retried_request_is_acknowledged_again(capture_v1: V1Cases, capture_check: Check) -> None:
    """Attempt 2 of a request: the same request id, created_at and uuids, a new request timestamp (§6, §9.4)."""
    request = capture_v1.valid("v1 acceptance retried")
    first = capture_v1.case("v1 attempt 1", request)
    capture_check(first.case, verdict_checks(first.report))
    request["headers"]["PostHog-Attempt"] = "2"
    request["headers"]["PostHog-Request-Timestamp"] = datetime.now(UTC).isoformat()
    again = capture_v1.case("v1 attempt 2 of the same request", request)
    capture_check(again.case, verdict_checks(again.report))
