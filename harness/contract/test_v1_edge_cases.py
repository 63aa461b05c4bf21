"""v1 edge cases (``--capture-protocol v1``): awkward but valid requests capture-v1.md says capture accepts: the
lenient header forms (§2, §3), keys v1 ignores (§2.1, §4.1, §4.2: the warnings of the validator), coercible
``options`` (§4.3), and illegal distinct ids, ``ok`` with ``person_processing_disabled`` (§4.2, S3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.checks import Reply
from harness.contract.v1_cases import PATH, Edit, V1Cases, envelope, event, header
from harness.contract.v1_replies import verdict_checks
from harness.spec.v1.events import ILLEGAL_DISTINCT_IDS

pytestmark = [pytest.mark.capture_protocol("v1"), pytest.mark.edge_cases]

Check = Callable[..., Reply]


def _request_id(spell: Callable[[str], str]) -> Edit:
    def edit(request: dict[str, Any]) -> None:
        request["headers"]["PostHog-Request-Id"] = spell(request["headers"]["PostHog-Request-Id"])
    return edit


LENIENT: dict[str, Edit] = {
    "bearer-in-lower-case": lambda r: r["headers"].update(Authorization=r["headers"]["Authorization"].replace(
        "Bearer ", "bearer ")),
    "bearer-in-mixed-case": lambda r: r["headers"].update(Authorization=r["headers"]["Authorization"].replace(
        "Bearer ", "beaRER ")),
    "token-without-phc-prefix": header("Authorization", "Bearer abc"),
    "token-padded-inside": header("Authorization", "Bearer    phc_padded_token"),
    "content-type-with-charset": header("Content-Type", "application/json; charset=utf-8"),
    "content-type-in-mixed-case": header("Content-Type", "Application/JSON"),
    "content-encoding-in-upper-case": header("Content-Encoding", "GZIP"),
    "request-id-braced": _request_id(lambda value: "{" + value + "}"),
    "request-id-32-hex-digits": _request_id(lambda value: value.replace("-", "")),
    "request-id-urn": _request_id(lambda value: "urn:uuid:" + value),
    "request-id-in-upper-case": _request_id(str.upper),
    "attempt-with-a-plus": header("PostHog-Attempt", "+1"),
    "attempt-3": header("PostHog-Attempt", "3"),
    "request-timestamp-with-an-offset": header("PostHog-Request-Timestamp", "2026-11-26T10:08:21.092+01:00"),
    "sdk-info-without-a-slash": header("PostHog-Sdk-Info", "posthog-custom"),
    "sdk-info-over-200-bytes": header("PostHog-Sdk-Info", "lib/" + "9" * 300),
}
"""Header values capture accepts (capture-v1.md §2.3, §2.4, §3 table)."""

IGNORED: dict[str, Edit] = {
    "body-api-key-token-sent-at": lambda r: r["body"].update(api_key="phc_ignored", token="phc_ignored",
                                                             sent_at="2026-11-26T09:08:21Z"),
    "historical-migration-true": envelope("historical_migration", True),
    "capture-internal-null": envelope("capture_internal", None),
    "top-level-set-and-offset": lambda r: r["body"]["batch"][0].update({"$set": {"plan": "pro"}, "offset": 5,
                                                                        "type": "capture"}),
    "obsolete-header-names": lambda r: r["headers"].update({"PostHog-Api-Token": "phc_x",
                                                            "PostHog-Client-Timestamp": "2026-11-26T09:08:21Z"}),
    "query-string": lambda r: None,
    "session-and-window-ids": lambda r: r["body"]["batch"][0].update(session_id="s-1", window_id="w-1"),
    "session-id-null": event("session_id", None),
    "distinct-id-padded": event("distinct_id", "  capture-harness-padded  "),
    "event-name-of-200-bytes": event("event", "e" * 200),
    "event-name-of-100-two-byte-characters": event("event", "é" * 100),
    "historical-migration-false": envelope("historical_migration", False),
    "distinct-id-in-properties": lambda r: r["body"]["batch"][0]["properties"].update(distinct_id="other"),
    "lib-in-properties": lambda r: r["body"]["batch"][0]["properties"].update({"$lib": "web", "$lib_version": "1"}),
    "skew-option-old-name": event("options", {"disable_skew_adjustment": True}),
}
"""What v1 ignores or accepts as it is: the validator's warnings (v1-body-field-ignored, v1-event-field-ignored,
v1-header-obsolete, and the sdk profile's), the 200-byte boundaries, any query string (§1)."""

OPTIONS: dict[str, Any] = {
    "absent": None, "null": None, "empty": {}, "booleans": {"process_person_profile": False, "cookieless_mode": True},
    "strings": {"process_person_profile": " TRUE ", "disable_skew_correction": "0"},
    "numbers": {"cookieless_mode": 1, "process_person_profile": 0.0}, "tour-id-integer": {"product_tour_id": 7},
    "unknown-key": {"not_an_option": [1, 2]}, "null-values": {"cookieless_mode": None},
}
"""``options`` the newest ``RawOptions::validate`` coerces (§4.3); some are refused by ``options-strict``."""


@pytest.mark.parametrize("name", list(LENIENT))
def test_lenient_header_form_is_accepted(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    request = capture_v1.valid(f"v1 lenient {name}", encoding="gzip" if "encoding" in name else None)
    LENIENT[name](request)
    v1 = capture_v1.case(f"v1 header form {name}", request)
    assert v1.report.status == 200, v1.report
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("name", list(IGNORED))
def test_ignored_or_boundary_field_is_accepted(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    request = capture_v1.valid(f"v1 ignored {name}")
    IGNORED[name](request)
    path = f"{PATH}?compression=gzip-js&ver=1.0" if name == "query-string" else PATH
    v1 = capture_v1.case(f"v1 ignored {name}", request, path=path)
    assert v1.report.status == 200, v1.report
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("name", list(OPTIONS))
def test_coercible_options_are_accepted(capture_v1: V1Cases, capture_check: Check, name: str) -> None:
    request = capture_v1.valid(f"v1 options {name}")
    target = request["body"]["batch"][1]
    if name == "absent":
        target.pop("options")
    else:
        target["options"] = OPTIONS[name]
    v1 = capture_v1.case(f"v1 options {name}", request)
    capture_check(v1.case, verdict_checks(v1.report))


@pytest.mark.parametrize("distinct_id", sorted(ILLEGAL_DISTINCT_IDS) + [" Anonymous ", "NULL"])
def test_illegal_distinct_id_is_accepted_without_person_processing(capture_v1: V1Cases, capture_check: Check,
                                                                   distinct_id: str) -> None:
    request = capture_v1.valid(f"v1 illegal id {distinct_id}")
    request["body"]["batch"][1]["distinct_id"] = distinct_id
    v1 = capture_v1.case(f"v1 illegal distinct id {distinct_id!r}", request)
    assert "v1-distinct-id-illegal" in v1.report.rules
    capture_check(v1.case, verdict_checks(v1.report))
