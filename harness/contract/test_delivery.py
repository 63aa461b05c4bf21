"""Delivery: what the endpoint acknowledged is stored as sent; what it refused or drops is not stored.

Needs the ``/_harness/`` inspection API of the reference server (or an endpoint that offers the same);
every test skips, with the reason, on targets without it.  Each acknowledged event is looked up by
uuid and compared on uuid, distinct_id (as capture stringifies it, §4.2), event and properties, for
every kind and through every encoding; a request holding one invalid event stores nothing (rule 10);
``$performance_event`` events are dropped (rule 11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.checks import Reply, Title, expected_status_answered, no_server_error
from harness.contract.cases import PAYLOAD_KINDS, Cases
from harness.contract.client import Client
from harness.contract.delivery import none_stored, stored_as_sent
from harness.contract.replies import STATUS_CHECKS
from harness.contract.tagging import fresh_uuid
from harness.generate import mutations
from harness.spec.body import events_of
from harness.wire import ENCODINGS, expected_outcome

pytestmark = [pytest.mark.delivery, pytest.mark.usefixtures("capture_inspection")]


@pytest.mark.parametrize("kind", PAYLOAD_KINDS)
def test_acknowledged_events_are_stored_as_sent(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                capture_client: Client, kind: str) -> None:
    label = f"delivery {kind} body"
    body = capture_cases.valid(kind, label, batch_size=5)
    path = "/batch/" if kind == "batch" else "/i/v0/e/"
    capture_check(capture_cases.case(label, body, path=path),
                  checks=(*STATUS_CHECKS, stored_as_sent(body, capture_client)))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_events_survive_every_encoding(capture_cases: Cases, capture_check: Callable[..., Reply],
                                       capture_client: Client, encoding: str) -> None:
    label = f"delivery unicode batch as {encoding} to /e/"
    body = capture_cases.valid("batch", label)
    for event, text in zip(events_of(body), mutations.AWKWARD_TEXT, strict=False):
        event["properties"].update({"note": text, f"key {text}": [text, {"n": 2**53 + 1}]})
    expect = expected_outcome(encoding, "/e/")
    assert expect is not None
    case = capture_cases.case(label, body, encoding=encoding, path="/e/", expect=expect)
    capture_check(case, checks=(*STATUS_CHECKS, stored_as_sent(body, capture_client)))


ODD_IDS: tuple[Any, ...] = (42, 23.4, True, ["a", "b"], {"string": "a", "number": 3}, "a\u0000b", "€" * 150, "x" * 250)
"""§4.2's own examples: stringified (keys sorted), NUL replaced, over 200 bytes cut to 200 characters."""


@pytest.mark.parametrize("distinct_id", ODD_IDS, ids=lambda v: ascii(v)[:20])
def test_distinct_id_is_stored_as_capture_stringifies_it(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                          capture_client: Client, distinct_id: Any) -> None:
    label = f"delivery distinct_id {ascii(distinct_id)[:40]}"
    body = capture_cases.valid("capture", label)
    mutations.set_distinct_id(events_of(body)[0], distinct_id)
    capture_check(capture_cases.case(label, body), checks=(*STATUS_CHECKS, stored_as_sent(body, capture_client)))


REFUSED = {"event-name-empty-in-an-array": ("event", ""), "uuid-invalid-in-a-batch-object": ("uuid", "not-a-uuid")}


@pytest.mark.parametrize("flaw", list(REFUSED))
def test_request_with_one_invalid_event_stores_nothing(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                       capture_client: Client, flaw: str) -> None:
    label = f"delivery {flaw}"
    field, value = REFUSED[flaw]
    events = [events_of(capture_cases.valid("capture", f"{label} {i}"))[0] for i in range(3)]
    for event in events:
        event.pop("api_key", None)
        event.setdefault("properties", {})["token"] = capture_cases.target.api_key
    good = [event["uuid"] for index, event in enumerate(events) if index != 1]
    events[1][field] = value
    body: Any = events if flaw.endswith("array") else {"api_key": capture_cases.target.api_key, "batch": events}
    case = capture_cases.case(label, body, path="/batch/", expect=400, rule=flaw.split("-in-")[0])
    capture_check(case, checks=(no_server_error, none_stored(good, capture_client), expected_status_answered))


def test_performance_events_are_not_stored(capture_cases: Cases, capture_check: Callable[..., Reply],
                                           capture_client: Client) -> None:
    label = "delivery batch with $performance_event entries"
    body = capture_cases.valid("batch", label)
    performance: dict[str, Any] = {
        "event": "$performance_event", "uuid": fresh_uuid("00000000-0000-4000-8000-000000000000"),
        "properties": {"entries": [1], "$capture_harness_run": capture_cases.target.run_id}}
    events_of(body).insert(1, performance)
    case = capture_cases.case(label, body, path="/batch/")
    capture_check(case, checks=(*STATUS_CHECKS, stored_as_sent(body, capture_client),
                                none_stored([performance["uuid"]], capture_client, title=Title.PERFORMANCE_EVENT_STORED,
                                            why="capture drops $performance_event events (rule 11)")))
