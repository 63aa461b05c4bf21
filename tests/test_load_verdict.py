"""The load run's checks and verdict from figures alone (no Locust run): the open model's missed sends,
the default error-rate check, a run with nothing answered, and that only the checks applied are listed."""

from __future__ import annotations

import errno
import ssl
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Title
from harness.load import summary, transport, verdict
from harness.load.ledger import Reconciliation
from harness.load.options import LoadOptions, Thresholds, UsageError
from harness.load.outcomes import PerEvent

DELIVERED = Reconciliation(sent=1000, acknowledged=1000, stored=1000, lost=0, duplicated=0, unexpected=0,
                           lost_examples=(), checked=True)


def _options(thresholds: Thresholds, arrival_rate: float | None = 100.0) -> LoadOptions:
    return LoadOptions(url="http://127.0.0.1:1", api_key="phc_x", scenario="capture", users=5, spawn_rate=5,
                       duration_s=10, processes=1, report_dir=Path("report"), seed=1, thresholds=thresholds,
                       arrival_rate=arrival_rate)


def _stats(requests: int, failures: int = 0) -> list[dict[str, Any]]:
    return [{"name": "Aggregated", "requests": requests, "failures": failures, "rps": requests / 10,
             "p50": 2.0, "p95": 4.0, "p99": 8.0, "max": 20.0}]


def _hdr(planned: int, missed: int) -> dict[str, Any]:
    return {"plan": {"planned": planned, "sent": planned - missed, "missed": missed, "unsent": 0},
            "latency_ms": {}}


def _closed(p95: float = 4.0, p99: float = 8.0) -> dict[str, Any]:
    """A closed-model latency report whose total's service time has these figures (ms)."""
    figures = {"p50": 2.0, "p90": 3.0, "p95": p95, "p99": p99, "p99.9": p99, "max": 20.0}
    return {"model": "closed", "plan": None, "latency_ms": {"Aggregated": {"requests": 340, "service": figures}}}


def _judge(thresholds: Thresholds, missed: int, planned: int = 1000) -> dict[str, Any]:
    return summary.judge(_options(thresholds), _stats(planned - missed), [], DELIVERED, _hdr(planned, missed), 0)


def test_by_default_any_missed_send_fails_and_names_the_generator() -> None:
    verdict = _judge(Thresholds(), missed=12)
    assert verdict["verdict"]["passed"] is False
    (reason,) = verdict["verdict"]["reasons"]
    assert reason.startswith("12 of 1,000 planned sends were missed (1.20%): the load generator was the bottleneck, "
                             "not the endpoint"), reason
    assert "--processes" in reason and "lower --arrival-rate" in reason and "--max-missed" in reason
    missed = verdict["checks"][-1]
    assert {k: missed[k] for k in ("name", "limit", "value", "passed")} == \
        {"name": "missed sends", "limit": 0, "value": 12, "passed": False}


@pytest.mark.parametrize("limit, missed, passed", [(12, 12, True), (11, 12, False), (0.05, 50, True),
                                                   (0.05, 51, False), (0, 0, True)])
def test_max_missed_is_a_count_or_a_fraction_of_planned_sends(limit: int | float, missed: int, passed: bool) -> None:
    verdict = _judge(Thresholds(max_missed=limit), missed=missed)
    assert verdict["verdict"]["passed"] is passed, verdict
    assert verdict["checks"][-1]["passed"] is passed
    assert verdict["checks"][-1]["text"].startswith("missed sends ")


def _judge_given_up(thresholds: Thresholds, given_up: int) -> dict[str, Any]:
    per_event = Reconciliation(sent=1000, acknowledged=1000 - given_up, stored=1000 - given_up, lost=0, duplicated=0,
                               unexpected=0, lost_examples=(), checked=True,
                               per_event=PerEvent(retried=given_up * 4, retries_given_up=given_up))
    return summary.judge(_options(thresholds, arrival_rate=None), _stats(100), [], per_event, _closed(), 0)


def test_by_default_an_event_given_up_after_its_last_resend_fails_the_run() -> None:
    """An SDK drops an event still answered retry after its last attempt: lost to the app, so the run fails
    unless told to tolerate it, and says how."""
    judged = _judge_given_up(Thresholds(), given_up=3)
    assert judged["verdict"]["passed"] is False
    (reason,) = judged["verdict"]["reasons"]
    assert reason.startswith("3 of 1,000 events were still answered retry after the last resend (0.30%)"), reason
    assert "--max-given-up" in reason
    assert {k: judged["checks"][-1][k] for k in ("name", "limit", "value", "passed")} == \
        {"name": "retries given up", "limit": 0, "value": 3, "passed": False}
    assert _judge_given_up(Thresholds(), given_up=0)["verdict"]["passed"] is True


@pytest.mark.parametrize("limit, given_up, passed", [(3, 3, True), (2, 3, False), (0.003, 3, True),
                                                     (0.002, 3, False)])
def test_max_given_up_is_a_count_or_a_fraction_of_events_sent(limit: int | float, given_up: int, passed: bool) -> None:
    judged = _judge_given_up(Thresholds(max_given_up=limit), given_up)
    assert judged["verdict"]["passed"] is passed, judged
    assert judged["checks"][-1]["text"].startswith("retries given up ")


def test_a_run_without_per_event_answers_has_no_given_up_check() -> None:
    judged = summary.judge(_options(Thresholds(), arrival_rate=None), _stats(100), [], DELIVERED, _closed(), 0)
    assert "retries given up" not in [check["name"] for check in judged["checks"]]


def test_a_clean_run_lists_only_the_checks_applied() -> None:
    verdict = summary.judge(_options(Thresholds(max_p95_ms=50), arrival_rate=None), _stats(340), [], DELIVERED,
                            _closed(), 0)
    assert [check["text"] for check in verdict["checks"]] == [
        "answered 340 of 340 >= 1", "error rate 0.00% <= 0.00%", "p95 4ms <= 50ms", "lost after ack 0"]
    assert verdict["verdict"] == {"passed": True, "reasons": []}


def test_a_failed_request_fails_by_default_saying_how_to_tolerate_it() -> None:
    verdict = summary.judge(_options(Thresholds(), arrival_rate=None), _stats(340, failures=12),
                            [{"name": "capture json", "error": "server error (500)", "occurrences": 12}],
                            DELIVERED, _closed(), 1)
    assert verdict["verdict"]["reasons"] == [
        "12 of 340 requests failed (3.53%); pass --max-error-rate R to tolerate a share of failures"]


@pytest.mark.parametrize("hdr_p95, passed", [(50.1, False), (49.9, True)])
def test_the_closed_models_max_p95_is_judged_on_the_hdrhistogram_figure(hdr_p95: float, passed: bool) -> None:
    """Locust's rounded p95 says 4 ms (or, below, 60 ms); the threshold follows the HdrHistogram's figure."""
    for locust_p95 in (4.0, 60.0):
        stats = [{**_stats(340)[0], "p95": locust_p95}]
        verdict = summary.judge(_options(Thresholds(max_p95_ms=50), arrival_rate=None), stats, [], DELIVERED,
                                _closed(p95=hdr_p95), 0)
        check = next(check for check in verdict["checks"] if check["name"] == "p95")
        assert check["value"] == hdr_p95 and check["passed"] is passed, check
        assert verdict["verdict"]["passed"] is passed
        if not passed:
            assert verdict["verdict"]["reasons"] == ["p95 latency 50.1ms is above the threshold 50ms"]


def test_a_missing_latency_report_fails_the_run_and_no_percentile_is_judged() -> None:
    verdict = summary.judge(_options(Thresholds(max_p95_ms=50), arrival_rate=None), _stats(340), [], DELIVERED,
                            None, 0)
    assert [check["name"] for check in verdict["checks"]] == ["answered", "error rate", "lost after ack"]
    (reason,) = verdict["verdict"]["reasons"]
    assert "latency report" in reason and "is missing" in reason


def test_a_run_with_nothing_counted_does_not_claim_nothing_was_sent() -> None:
    verdict = summary.judge(_options(Thresholds(max_error_rate=1), arrival_rate=None), _stats(0), [],
                            DELIVERED, _closed(), 0)
    assert verdict["verdict"]["passed"] is False
    assert "no request was sent" not in " ".join(verdict["verdict"]["reasons"])
    assert verdict["verdict"]["reasons"][0].startswith("no request was answered or failed within the run")


@pytest.mark.parametrize("settings", [{"max_error_rate": 2}, {"max_error_rate": -0.1}, {"max_error_rate": float("nan")},
                                      {"max_missed": 1.5}, {"max_missed": -1}, {"max_given_up": 1.0},
                                      {"max_given_up": -2}])
def test_thresholds_out_of_range_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="--max-"):
        Thresholds(**settings)


@pytest.mark.parametrize("error, title", [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), Title.CONNECTION_REFUSED),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), Title.CONNECTION_RESET),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), Title.CONNECTION_RESET),
    (TimeoutError("timed out"), Title.TIMED_OUT),
    (OSError(errno.ETIMEDOUT, "Connection timed out"), Title.TIMED_OUT),
    (OSError(errno.EHOSTUNREACH, "No route to host"), Title.CONNECTION_FAILED),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), Title.TLS_FAILED),
])
def test_each_way_a_request_gets_no_answer_has_its_title(error: BaseException, title: Title) -> None:
    assert transport.failure(error, "https://127.0.0.1:8443")[0] is title


def test_requests_without_an_answer_of_any_kind_are_not_counted_as_answered() -> None:
    errors = [{"error": str(title), "occurrences": 2} for title in transport.NO_ANSWER_TITLES]
    errors.append({"error": f"{Title.SERVER_ERROR} (503)", "occurrences": 3})  # an answer, if a bad one
    requests = 2 * len(transport.NO_ANSWER_TITLES) + 3 + 4  # and 4 that passed
    assert verdict.answered({"requests": requests}, errors) == 3 + 4
