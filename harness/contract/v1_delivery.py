"""v1 delivery: every event answered ``ok`` or ``warning`` is stored intact, and nothing else is.

Read through the reference server's inspection API (``GET /_harness/events?uuid=``, :func:`harness.contract.delivery.
records_of`), where a v1 record holds the canonical uuid, the trimmed ``distinct_id``, ``event``, ``data`` (the
event's JSON, its ``properties`` with what the server injects appended, capture-v1.md §4.4) and the ``result``
it was acknowledged with (``ok``, or ``warning:person_processing_disabled``); and the fault settings that bring
about what no request can (:func:`faults`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest

from harness.checks import Case, Check, Failure, Reply, Title
from harness.contract.client import Client
from harness.contract.delivery import (
    WAIT_S,
    InspectionClient,
    poll_stored,
    raise_if_stored_differs,
    records_of,
    stored_properties,
)
from harness.contract.v1_cases import V1Case
from harness.contract.v1_replies import ACKNOWLEDGED, answered_results
from harness.spec.unicode import rust_trim
from harness.spec.v1.text import canonical_uuid
from harness.wire import WireRequest

INJECTED = frozenset({"$session_id", "$window_id", "$cookieless_mode", "$ignore_sent_at", "$process_person_profile",
                      "$product_tour_id", "$lib", "$lib_version"})
"""Properties the server writes after the client's own (§4.4), so they may differ from what was sent."""


@contextmanager
def faults(inspection: InspectionClient, **settings: Any) -> Iterator[None]:
    """The target's fault ``settings`` (``POST /_harness/faults``) for the block, cleared after it: how the suite
    brings about what no request can (a ``retry`` result, a 5xx).  Skips the test when the target refuses them."""
    client = inspection.client
    headers = {"Content-Type": "application/json", **client.inspect_headers}
    reply = client.send(WireRequest("POST", "/_harness/faults", headers, orjson.dumps(settings)))
    if reply.status != 200:
        pytest.skip(f"the target's /_harness/faults answered {reply.status} to {settings}: cannot bring it about")
    try:
        yield
    finally:
        client.send(WireRequest("DELETE", "/_harness/faults", dict(client.inspect_headers), b""))


def stored_as_answered(v1: V1Case, client: Client, *, wait_s: float = WAIT_S) -> Check:
    """A check: after a 200, each event acknowledged (``ok``/``warning``, or left out of the results, which SDKs
    take for success, §6) is stored as sent, with that result; an event answered ``drop`` or ``retry``, one the
    judge drops, or any event of a refused request is not stored."""
    sent = {canonical_uuid(e["uuid"].strip()) or e["uuid"]: e for e in v1.request["body"]["batch"]
            if isinstance(e, dict) and isinstance(e.get("uuid"), str)}
    judged_drops = {r.uuid for r in v1.report.results if r.result == "drop"}

    def check(case: Case, reply: Reply) -> None:
        answered = answered_results(reply) if reply.status == 200 else {}
        acknowledged = {u for u in sent if u not in judged_drops and (u not in answered or answered[u].get("result")
                                                                       in ACKNOWLEDGED)} if reply.status == 200 else set()
        found = poll_stored(client, acknowledged, wait_s)
        missing = sorted(acknowledged - found.keys())
        if missing:
            raise Failure(Title.NOT_STORED, f"{case.name}: {len(missing)} of {len(acknowledged)} events answered ok "
                                            f"or warning not found in /_harness/events (e.g. uuid {missing[0]})")
        for uuid, record in found.items():
            _compare(case, uuid, sent[uuid], answered.get(uuid), record)
        unwanted = [u for u in sent.keys() - acknowledged if records_of(client, u)]
        if unwanted:
            raise Failure(Title.V1_UNACKNOWLEDGED_STORED,
                          f"{case.name}: answered {reply.status}; {len(unwanted)} events not acknowledged (answered "
                          f"{_answer_of(answered.get(unwanted[0]))}) are stored, e.g. uuid {unwanted[0]}")
    return check




def _compare(case: Case, uuid: str, event: dict[str, Any], answer: dict[str, Any] | None,
             record: dict[str, Any]) -> None:
    stored = stored_properties(record)
    sent = {k: v for k, v in (event.get("properties") or {}).items() if k not in INJECTED}
    kept = {k: stored.get(k) for k in sent} if isinstance(stored, dict) else None
    wanted = {"distinct_id": rust_trim(event["distinct_id"]), "event": event["event"], "properties": sent}
    got = {"distinct_id": record.get("distinct_id"), "event": record.get("event"), "properties": kept}
    if "result" in record and answer is not None:  # no answer for it: the responses category's finding
        wanted["result"], got["result"] = _answer_of(answer), record["result"]
    raise_if_stored_differs(case, uuid, wanted, got)


def _answer_of(answer: dict[str, Any] | None) -> str:
    """``result`` or ``result:details``, as the inspection API writes it (``none`` when not answered)."""
    if answer is None:
        return "none"
    result = "warning" if answer.get("result") == "limited" else str(answer.get("result"))
    return f"{result}:{answer['details']}" if answer.get("details") else result
