"""Work per request is bounded by what is reported, and a big body never holds up other clients (issue 14).

- The validator finds the deciding rule of a body with 100,000 failing items without explaining them all
  (``limit=1``), and agrees with the exhaustive default on every golden case.
- Over real HTTP, on 127.0.0.1: while the pipeline of a big body runs (gated so that it cannot finish
  first), ``/_liveness`` is answered; then the big body gets its own answer (400 with the deciding rule for
  100,000 empty objects, 200 and every event stored for a valid 50,000-event batch).  No wall-time
  assertion: the order is what is checked, with generous deadlines; timings are in
  ``benchmarks/bench_fairness.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

import harness
from harness.server import CaptureApp, Store, capture
from harness.server.runner import Running, running
from harness.spec.rules import rule
from tests.support import request
from tests.test_golden_cases import CASES

TOKEN = "phc_fairness"
DEADLINE_S = 120.0
LIVENESS_DEADLINE_S = 30.0
JSON_CT = {"Content-Type": "application/json"}


def test_the_deciding_rule_of_100000_failing_items_is_found_alone() -> None:
    report = harness.validate([{}] * 100_000, limit=1)
    assert report.rules == {"event-name-missing"} and report.status == 400
    assert len(report.rejections) == 1 and report.truncated
    assert report.rejections[0].path == "$[0]"


def test_a_late_failure_in_a_big_batch_is_found_with_its_path() -> None:
    good = {"event": "e", "distinct_id": "user-1", "token": TOKEN}
    report = harness.validate([good] * 50_000 + [{"event": "e", "token": TOKEN}], limit=3)
    assert report.rules == {"distinct-id-missing"} and not report.truncated
    assert [f.path for f in report.rejections] == ["$[50000]"]


@pytest.mark.parametrize("case", [c for c in CASES if not c.valid], ids=lambda c: c.id)
def test_one_finding_decides_as_every_finding_does(case: Any) -> None:
    everything = harness.validate(case.data, case.kind)
    first = harness.validate(case.data, case.kind, limit=1)
    assert first.status == everything.status
    assert first.rejections == everything.rejections[:1]


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Running, Gate, Store]]:
    """A server whose capture pipeline says it started, then waits (at most DEADLINE_S) for ``release``
    before it runs: were the pipeline on the event loop, nothing else could be answered meanwhile."""
    gate = Gate(threading.Event(), threading.Event())
    real: Callable[..., capture.Outcome] = capture.handle

    def handle(*args: Any) -> capture.Outcome:
        gate.started.set()
        gate.release.wait(DEADLINE_S)
        return real(*args)

    monkeypatch.setattr(capture, "handle", handle)
    store = Store(tmp_path / "events.sqlite3")
    with running(CaptureApp(store)) as server:
        yield server, gate, store


@dataclass(frozen=True)
class Gate:
    started: threading.Event
    release: threading.Event


def big_request_while_liveness(server: Running, gate: Gate, body: bytes) -> tuple[int, bytes, list[str]]:
    """Send ``body`` to /batch/, and once its pipeline runs, /_liveness; note the order of the answers."""
    order: list[str] = []
    answer: dict[str, Any] = {}

    def big() -> None:
        status, _, reply = request(server.url, "POST", "/batch/", body, JSON_CT, timeout=DEADLINE_S)
        answer.update(status=status, reply=reply)
        order.append("big")

    sender = threading.Thread(target=big)
    sender.start()
    try:
        assert gate.started.wait(DEADLINE_S), "the big request never reached the pipeline"
        status, _, reply = request(server.url, "GET", "/_liveness", timeout=LIVENESS_DEADLINE_S)
        assert (status, reply) == (200, b"ok")
        order.append("liveness")
    finally:
        gate.release.set()
        sender.join(DEADLINE_S)
    assert not sender.is_alive()
    return answer["status"], answer["reply"], order


def test_liveness_is_answered_while_100000_empty_objects_are_judged(gated: tuple[Running, Gate, Store]) -> None:
    server, gate, _ = gated
    status, reply, order = big_request_while_liveness(server, gate, b"[" + b",".join([b"{}"] * 100_000) + b"]")
    assert order == ["liveness", "big"]
    assert status == 400 and reply == rule("event-name-missing").capture_text.encode()
    stats = orjson.loads(request(server.url, "GET", "/_harness/stats")[2])
    assert stats["rejections"] == {"event-name-missing": 1}, stats


def test_liveness_is_answered_while_a_50000_event_batch_is_stored(gated: tuple[Running, Gate, Store]) -> None:
    server, gate, store = gated
    events = [{"event": "$pageview", "distinct_id": f"user-{i}", "properties": {"n": i}} for i in range(50_000)]
    body = orjson.dumps({"api_key": TOKEN, "batch": events})
    status, reply, order = big_request_while_liveness(server, gate, body)
    assert order == ["liveness", "big"]
    assert status == 200, reply
    assert store.count() == 50_000
    stats = orjson.loads(request(server.url, "GET", "/_harness/stats")[2])
    assert stats["accepted_events"] == 50_000, stats
