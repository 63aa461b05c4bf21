"""The v1 load scenario: answers read per event as the SDKs read them, the resends they call for, the ledger's
per-event outcomes, the verdict and summary that report them, and one run against an endpoint answering
``retry`` for a fifth of the events.  (Everything but the last test runs without Locust or a server.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.checks import Case, Reply, Title
from harness.load import corpus, ledger, summary, v1_answers, verdict
from harness.load.options import Thresholds
from harness.load.outcomes import OutcomeLedger, PerEvent, clear_bits
from harness.load.scenarios import SCENARIOS, V1_PATH
from harness.server.process import ServeProcess
from harness.spec.v1.validation import decode_body, validate_request
from tests.support import load

SEED = 12  # its chunk 0 holds every SDK and encoding, posthog-python deflate (2.5% of shapes) too


@pytest.fixture(scope="module")
def chunk() -> list[Case]:
    return corpus.generate_chunk("v1", SEED, 0, 0, "phc_v1_test")


def _case(chunk: list[Case], name: str, at_least: int = 4) -> Case:
    return next(case for case in chunk if case.name == name and len(case.uuids) >= at_least)


def _reply(case: Case, results: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    """A 200 with ``results``, echoing the request id, with ``headers`` besides."""
    base = {"content-type": "application/json", "posthog-request-id": case.request.headers["PostHog-Request-Id"]}
    return Reply(200, orjson.dumps({"results": results}), {**base, **(headers or {})})


def _all(case: Case, result: str = "ok") -> dict[str, Any]:
    return {uuid: {"result": result} for uuid in case.uuids}


# --- the corpus ----------------------------------------------------------------------------------------


def test_v1_is_a_scenario_of_both_sdks_in_both_encodings(chunk: list[Case]) -> None:
    assert "v1" in SCENARIOS
    names = {case.name for case in chunk}
    assert {"v1 posthog-python identity", "v1 posthog-node gzip", "v1 posthog-node identity"} <= names, names
    for case in chunk[:50]:
        assert case.request.target == V1_PATH and case.expect_status == 200
        assert 1 <= len(case.uuids) <= 100 and case.event_span is not None and case.event_span[2] == len(case.uuids)
        headers, raw = case.request.headers, case.request.body
        report = validate_request(headers, raw=raw)
        assert report.accepted and all(r.result == "ok" for r in report.results), report
        assert [r.uuid for r in report.results] == list(case.uuids)  # restamped, canonical: the ledger finds them
        assert (raw[:2] == b"\x1f\x8b") == (headers.get("Content-Encoding") == "gzip")


# --- reading an answer ---------------------------------------------------------------------------------


def _judge(case: Case, reply: Reply) -> v1_answers.Outcome:
    return v1_answers.judge(v1_answers.first(case, 0.0), reply)


def test_all_ok(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    outcome = _judge(case, _reply(case, _all(case)))
    assert outcome == v1_answers.Outcome(None, tuple(range(len(case.uuids))))


def test_drops_are_counted_by_tag_and_warnings_acknowledge(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-python identity")
    results = _all(case)
    results[case.uuids[1]] = {"result": "drop", "details": "invalid_event_timestamp"}
    results[case.uuids[3]] = {"result": "drop"}
    results[case.uuids[2]] = {"result": "warning", "details": "person_processing_disabled"}
    outcome = _judge(case, _reply(case, results))
    assert outcome.failure is None
    assert outcome.dropped == ((1, "invalid_event_timestamp"), (3, ""))
    assert outcome.acknowledged == (0, 2, *range(4, len(case.uuids))) and outcome.retry == ()


def test_retries_come_with_retry_after(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    results = _all(case)
    results[case.uuids[0]] = results[case.uuids[2]] = {"result": "retry", "details": "not_persisted"}
    outcome = _judge(case, _reply(case, results, {"retry-after": "1"}))
    assert outcome.failure is None and outcome.retry == (0, 2) and outcome.retry_after_s == 1.0
    missing = _judge(case, _reply(case, results))
    assert missing.failure is not None and missing.failure.title == Title.V1_RETRY_AFTER_MISSING
    assert missing.retry == (0, 2)  # still resent, on the SDK's own backoff
    unexpected = _judge(case, _reply(case, _all(case), {"retry-after": "1"}))
    assert unexpected.failure is not None and unexpected.failure.title == Title.V1_RETRY_AFTER_UNEXPECTED


def test_a_missing_result_is_a_failure_and_settles_nothing_for_its_event(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-python identity")
    results = _all(case)
    del results[case.uuids[1]]
    outcome = _judge(case, _reply(case, results))
    assert outcome.failure is not None and outcome.failure.title == Title.V1_RESULT_KEYS_MISMATCH
    assert "1 uuids without a result" in outcome.failure.detail
    assert 1 not in outcome.acknowledged and len(outcome.acknowledged) == len(case.uuids) - 1


def test_a_non_canonical_key_is_a_failure(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    results = _all(case)
    results[case.uuids[0].upper()] = results.pop(case.uuids[0])
    outcome = _judge(case, _reply(case, results))
    assert outcome.failure is not None and outcome.failure.title == Title.V1_RESULT_KEYS_MISMATCH
    assert "1 other keys" in outcome.failure.detail and 0 not in outcome.acknowledged


@pytest.mark.parametrize("body", [b'{"status": "Ok"}', b"not json", b'{"results": []}',
                                  b'{"results": {}, "extra": 1}'])
def test_a_200_without_the_results_json_is_not_conformant(chunk: list[Case], body: bytes) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    reply = Reply(200, body, {"content-type": "application/json"})
    outcome = _judge(case, reply)
    assert outcome.failure is not None and outcome.failure.title == Title.V1_SUCCESS_BODY_NOT_CONFORMANT
    assert (outcome.acknowledged, outcome.retry) == ((), ())


def test_an_unknown_result_is_not_conformant(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    outcome = _judge(case, _reply(case, _all(case, "maybe")))
    assert outcome.failure is not None and outcome.failure.title == Title.V1_SUCCESS_BODY_NOT_CONFORMANT
    older = _judge(case, _reply(case, _all(case, "limited")))  # older revisions' warning (§8 #4)
    assert older.failure is None and len(older.acknowledged) == len(case.uuids)


def test_an_unechoed_request_id_is_a_failure(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    outcome = _judge(case, _reply(case, _all(case), {"posthog-request-id": "another"}))
    assert outcome.failure is not None and outcome.failure.title == Title.V1_REQUEST_ID_NOT_ECHOED
    assert len(outcome.acknowledged) == len(case.uuids)


@pytest.mark.parametrize(("status", "resent"), [(503, True), (500, True), (502, True), (504, True), (429, True),
                                                (408, True), (404, True), (400, False), (413, False),
                                                (402, False), (501, False)])
def test_whole_request_answers_resend_everything_or_nothing(chunk: list[Case], status: int, resent: bool) -> None:
    case = _case(chunk, "v1 posthog-python identity")
    body = orjson.dumps({"error": "x", "error_description": "x", "error_uri": "x"})
    outcome = _judge(case, Reply(status, body, {"content-type": "application/json", "retry-after": "2"}))
    assert outcome.failure is not None
    assert outcome.failure.title == (Title.SERVER_ERROR if status >= 500 else Title.REJECTED_VALID)
    assert outcome.retry == (tuple(range(len(case.uuids))) if resent else ())
    assert outcome.acknowledged == () and outcome.retry_after_s == 2.0


def test_no_answer_resends_everything(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-python identity")
    assert _judge(case, Reply(0)).retry == tuple(range(len(case.uuids)))


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), (" 10 ", 10.0), ("soon", None), (None, None),
                                                ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_is_seconds_or_a_date(value: str | None, seconds: float | None) -> None:
    assert v1_answers.retry_after_s(value) == seconds


# --- resends -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sdk", "schedule"), [("posthog-python", (1, 2, 4)), ("posthog-node", (3, 6, 12))])
def test_backoff_follows_each_sdk_and_retry_after_is_a_minimum(chunk: list[Case], sdk: str,
                                                              schedule: tuple[int, ...]) -> None:
    attempt = first = v1_answers.first(next(case for case in chunk if sdk in case.name), 0.0)
    delays = []
    for _ in schedule:
        delays.append(v1_answers.delay_s(attempt, 1.0))
        attempt = v1_answers.resend(attempt, attempt.positions, 0.0)
    assert tuple(delays) == schedule
    assert v1_answers.delay_s(first, 20.0) == 20.0 and v1_answers.delay_s(first, 600.0) == 30.0
    assert v1_answers.delay_s(first, None) == schedule[0]


@pytest.mark.parametrize("name", ["v1 posthog-python identity", "v1 posthog-node gzip", "v1 posthog-python deflate"])
def test_a_resend_carries_only_the_retried_events_under_the_same_request(chunk: list[Case], name: str) -> None:
    case = _case(chunk, name)
    first = v1_answers.first(case, 100.0)
    again = v1_answers.resend(first, (1, 3), 101.5)
    headers, original = again.case.request.headers, case.request.headers
    assert headers["PostHog-Attempt"] == "2" and again.number == 2 and again.positions == (1, 3)
    assert headers["PostHog-Request-Id"] == original["PostHog-Request-Id"]
    assert headers.get("Content-Encoding") == original.get("Content-Encoding")
    assert again.case.uuids == (case.uuids[1], case.uuids[3]) and again.case.name == f"{name} retry"
    report = validate_request(headers, raw=again.case.request.body)  # the judge the endpoint runs
    assert report.accepted and [r.uuid for r in report.results] == list(again.case.uuids), report
    sent = decode_body(case.request.body, original.get("Content-Encoding"), "$", frozenset())
    resent = decode_body(again.case.request.body, headers.get("Content-Encoding"), "$", frozenset())
    assert resent["created_at"] == sent["created_at"]
    assert resent["batch"] == [sent["batch"][1], sent["batch"][3]]  # same uuids, same timestamps
    moved = datetime.fromisoformat(headers["PostHog-Request-Timestamp"]) \
        - datetime.fromisoformat(original["PostHog-Request-Timestamp"])
    assert moved.total_seconds() == pytest.approx(1.5, abs=0.001)
    assert headers["PostHog-Request-Timestamp"].endswith("Z") == original["PostHog-Request-Timestamp"].endswith("Z")
    # a retry of the resend maps back to the original's positions, and its events only are sent again
    third = v1_answers.resend(again, (3,), 103.0)
    assert third.case.uuids == (case.uuids[3],) and third.case.request.headers["PostHog-Attempt"] == "3"
    outcome = v1_answers.judge(again, _reply(again.case, _all(again.case)))
    assert outcome.acknowledged == (1, 3)


def test_a_whole_resend_reuses_the_bytes(chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    first = v1_answers.first(case, 0.0)
    again = v1_answers.resend(first, first.positions, 2.0)
    assert again.case.request.body is case.request.body and again.document is None
    assert again.case.request.headers["PostHog-Attempt"] == "2"


@pytest.mark.parametrize(("positions", "expected"), [((), []), ((0, 1, 2), [(0, 3)]), ((3,), [(3, 1)]),
                                                     ((0, 2, 3, 7), [(0, 1), (2, 2), (7, 1)])])
def test_positions_are_settled_as_runs(positions: tuple[int, ...], expected: list[tuple[int, int]]) -> None:
    assert v1_answers.runs(positions) == expected


# --- the ledger's per-event outcomes -------------------------------------------------------------------


def test_clear_bits_counts_what_it_cleared() -> None:
    bits = bytearray(b"\xff\x0f")
    assert clear_bits(bits, 2, 9) == 9 and bits == bytearray(b"\x03\x08")
    assert clear_bits(bits, 40, 3) == 0


def _stored(case: Case, positions: list[int]) -> list[str]:
    return [case.uuids[p] for p in positions]


def test_settling_answers_in_the_ledger_then_reconciling(tmp_path: Path, chunk: list[Case]) -> None:
    """ok acknowledges, drop is counted by tag, retry waits for its resend, which resolves it; an event
    still retrying at the end is unresolved (never lost); one stored after its drop is reported."""
    case = _case(chunk, "v1 posthog-python identity", 6)
    book, resends = OutcomeLedger(tmp_path, "v1", SEED, 0), v1_answers.Resends()
    first = v1_answers.first(case, 0.0)
    results = _all(case)
    results[case.uuids[1]] = {"result": "drop", "details": "event_too_big"}
    results[case.uuids[2]] = results[case.uuids[4]] = {"result": "retry", "details": "not_persisted"}
    book.record(200, case.event_span, per_event=True)
    resends.settle(book, first, v1_answers.judge(first, _reply(case, results, {"retry-after": "1"})), 10.0)
    assert len(resends) == 1 and resends.due(10.5) is None
    again = resends.due(11.0)
    assert again is not None and again.case.uuids == (case.uuids[2], case.uuids[4])
    answer = {case.uuids[2]: {"result": "ok"}, case.uuids[4]: {"result": "retry"}}
    resends.settle(book, again, v1_answers.judge(again, _reply(again.case, answer, {"retry-after": "1"})), 11.0)
    book.close()
    others = [p for p in range(len(case.uuids)) if p not in (1, 4)]
    delivery = ledger.reconcile(tmp_path, _stored(case, [*others, 1]))
    assert (delivery.sent, delivery.acknowledged, delivery.stored, delivery.lost) == \
        (len(case.uuids), len(others), len(others) + 1, 0), delivery
    assert delivery.per_event == PerEvent(dropped=1, drops_by_tag={"event_too_big": 1}, stored_after_drop=1,
                                          retried=3, resolved_retries=1, unresolved_retries=1, retries_given_up=0)
    unchecked = ledger.reconcile(tmp_path, None)
    assert unchecked.per_event is not None and unchecked.per_event.unresolved_retries == 1


def test_retries_are_given_up_after_the_last_attempt(tmp_path: Path, chunk: list[Case]) -> None:
    case = _case(chunk, "v1 posthog-node gzip")
    book, resends = OutcomeLedger(tmp_path, "v1", SEED, 0), v1_answers.Resends()
    attempt: v1_answers.Attempt | None = v1_answers.first(case, 0.0)
    book.record(503, case.event_span, per_event=True)
    sends, now = 0, 0.0
    while attempt is not None:
        sends += 1
        resends.settle(book, attempt, v1_answers.judge(attempt, Reply(503, b"{}", {"retry-after": "1"})), now)
        now += 60
        attempt = resends.due(now)
    book.close()
    assert sends == v1_answers.MAX_ATTEMPTS == 4 and len(resends) == 0
    figures = ledger.reconcile(tmp_path, []).per_event
    assert figures is not None
    assert (figures.retries_given_up, figures.unresolved_retries) == (len(case.uuids), 0)
    assert figures.retried == len(case.uuids) * 4


def test_a_v0_ledger_has_no_per_event_figures(tmp_path: Path) -> None:
    book = ledger.LedgerWriter(tmp_path, "batch", SEED, 0)
    book.record(200, (0, 0, 5))
    book.close()
    assert ledger.reconcile(tmp_path, None).per_event is None
    assert len(ledger.ChunkBits(1, bytearray(b"\x1f"), bytearray(b"\x1f")).pack(0)) < \
        len(ledger.ChunkBits(1, bytearray(b"\x1f"), bytearray(b"\x1f"), bytearray(b"\x01")).pack(0))


# --- verdict and summary -------------------------------------------------------------------------------


def _delivery(**figures: Any) -> ledger.Reconciliation:
    return ledger.Reconciliation(100, 90, 90, 0, 0, 0, (), True, per_event=PerEvent(**figures))


def test_an_event_stored_after_drop_fails_the_run() -> None:
    stats = [{"name": "Aggregated", "requests": 10, "failures": 0, "rps": 1.0, "p95": 1.0, "p99": 1.0}]
    applied = verdict.checks(Thresholds(), stats, [], _delivery(dropped=10, stored_after_drop=2), None)
    check = next(c for c in applied if c.name == "stored after drop")
    assert not check.passed and check.reason == "2 events answered drop were stored anyway"
    clean = verdict.checks(Thresholds(), stats, [], _delivery(dropped=10), None)
    assert next(c for c in clean if c.name == "stored after drop").passed
    assert "stored after drop" not in [c.name for c in verdict.checks(Thresholds(), stats, [], _delivery(), None)]


def test_the_summary_line_shows_the_per_event_figures() -> None:
    delivery = _delivery(dropped=3, drops_by_tag={"event_too_big": 2, "": 1}, retried=12, resolved_retries=9,
                         unresolved_retries=2, retries_given_up=1).to_json()
    line = summary._delivery_line(delivery)
    assert line.splitlines()[1] == ("per event: 3 dropped (2 event_too_big, 1 untagged), 0 stored after drop; "
                                    "12 retry answers, 9 retried events resolved, 2 unresolved at the end, 1 given up")
    assert "per event" not in summary._delivery_line(ledger.Reconciliation(1, 1, 1, 0, 0, 0, (), True).to_json())


# --- a run -------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_run_resends_retried_events_until_they_are_stored_once(tmp_path: Path) -> None:
    """``load --scenario v1 -t 10s`` against an endpoint that answers retry for 20% of the events it would store:
    nothing acknowledged is lost or stored twice, the retries resolve, and the summary says so."""
    with ServeProcess(db=tmp_path / "store.sqlite3", args=("--event-retry-rate", "0.2"), cwd=tmp_path) as server:
        done = load(tmp_path, "report", "--url", server.url, "--scenario", "v1", "-t", "10s", "-u", "4", "--seed", "5",
                    "--max-given-up", "0.01")  # 0.2 ** 4 of the events are answered retry 4 times
    assert done.returncode == 0, done.output
    run = done.summary
    delivery, figures = run["delivery"], run["delivery"]["per_event"]
    assert delivery["checked"] and delivery["sent"] > 1000, delivery
    assert (delivery["lost"], delivery["duplicated"], delivery["unexpected"]) == (0, 0, 0), delivery
    assert delivery["acknowledged"] == delivery["stored"], delivery  # every acknowledged event stored, once
    assert figures["retried"] > 0.1 * delivery["sent"] and figures["resolved_retries"] > 0.3 * figures["retried"], \
        (delivery, figures)
    # every event sent is acknowledged, waiting for its resend, given up after four attempts, or in a first
    # attempt the run's end cut off (at most one per user, 100 events each)
    settled = delivery["acknowledged"] + figures["unresolved_retries"] + figures["retries_given_up"]
    assert 0 <= delivery["sent"] - settled <= 4 * 100, (delivery, figures)
    assert figures["dropped"] == figures["stored_after_drop"] == 0, figures
    assert run["failures"] == 0, run["errors"]
    assert any(name.endswith(" retry") for name in run["latency_ms"]), run["latency_ms"]
    assert f"{figures['retried']:,} retry answers" in done.stdout
    given_up = next(check for check in run["checks"] if check["name"] == "retries given up")
    assert given_up["passed"] and given_up["value"] == figures["retries_given_up"] / delivery["sent"], given_up
    assert "PASSED" in done.stdout.splitlines()

