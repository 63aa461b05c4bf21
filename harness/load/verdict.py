"""A load run's checks and verdict: every check that was applied, its limit, its figure and whether it passed.

A run fails by default when any request failed (like Locust's ``--exit-code-on-error``), when no request
got an answer at all, when an acknowledged event was not stored (or, for v1, an event answered ``drop`` was)
and, in the open model, when any planned send was missed; with per-event (v1) answers, when an event was
still answered ``retry`` after the last resend.  ``--max-error-rate``, ``--max-missed`` and ``--max-given-up``
set those tolerances; the latency and rate
thresholds are checked only when given.  Only the checks applied are listed, so the summary never claims a
threshold that was not set.

The latency thresholds (``--max-p95``, ``--max-p99``) are judged on HdrHistogram figures, exact to 3
significant digits (:mod:`harness.load.latency`): the service time in the closed model, the corrected
latency in the open model; never on Locust's percentiles, which it rounds to two significant digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.checks import Title
from harness.load import files
from harness.load.ledger import Reconciliation
from harness.load.options import Thresholds
from harness.load.transport import NO_ANSWER_TITLES


@dataclass(frozen=True)
class Check:
    name: str
    limit: float
    value: float
    passed: bool
    text: str
    """The check with its figures, e.g. ``error rate 0.00% <= 0.00%``."""
    reason: str | None = None
    """Why it failed, as a sentence (None when it passed)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "value": self.value, "passed": self.passed,
                "text": self.text, **({"reason": self.reason} if self.reason else {})}


def answered(total: Mapping[str, Any], errors: list[dict[str, Any]]) -> int:
    """Requests that got an answer: Locust's count without those whose connection failed (refused, reset,
    timed out, TLS)."""
    unanswered = sum(int(e["occurrences"]) for e in errors if e["error"] in _UNANSWERED)
    return max(0, int(total["requests"]) - unanswered)


_UNANSWERED = tuple(str(title) for title in NO_ANSWER_TITLES)
"""The failure titles of requests that got no HTTP answer."""


def checks(thresholds: Thresholds, stats: list[dict[str, Any]], errors: list[dict[str, Any]],
           delivery: Reconciliation, plan: Mapping[str, Any] | None) -> list[Check]:
    """The checks applied to a run, in order; ``stats`` with the HdrHistogram percentiles (the open model's
    total row with its corrected ones, marked ``corrected``)."""
    total = next((row for row in stats if row["name"] == files.TOTAL), None)
    requests = int(total["requests"]) if total else 0
    result = [_answered(total, errors)]
    if total is not None and requests:
        result.append(_error_rate(thresholds.max_error_rate, int(total["failures"]), requests))
        which = "corrected " if total.get("corrected") else ""
        for key, limit in (("p95", thresholds.max_p95_ms), ("p99", thresholds.max_p99_ms)):
            if limit is not None and total[key] is not None:
                passed = total[key] <= limit
                result.append(Check(f"{which}{key}", limit, total[key], passed,
                                    f"{which}{key} {ms(total[key])}ms <= {limit:g}ms",
                                    None if passed else f"{which}{key} latency {ms(total[key])}ms is above the "
                                                        f"threshold {limit:g}ms"))
        if thresholds.min_rps is not None:
            passed = total["rps"] >= thresholds.min_rps
            result.append(Check("requests/s", thresholds.min_rps, total["rps"], passed,
                                f"requests/s {total['rps']:,.0f} >= {thresholds.min_rps:g}",
                                None if passed else f"requests/s {total['rps']:.4g} is below the threshold "
                                                    f"{thresholds.min_rps:g}"))
    if delivery.checked:
        examples = ", ".join(delivery.lost_examples[:3])
        result.append(Check("lost after ack", 0, delivery.lost, not delivery.lost, f"lost after ack {delivery.lost:,}",
                            f"{delivery.lost} acknowledged events were not stored (e.g. {examples})"
                            if delivery.lost else None))
    if delivery.checked and delivery.per_event is not None and delivery.per_event.dropped:
        after = delivery.per_event.stored_after_drop
        result.append(Check("stored after drop", 0, after, not after, f"stored after drop {after:,}",
                            f"{after} events answered drop were stored anyway" if after else None))
    if delivery.per_event is not None:
        result.append(given_up(thresholds.max_given_up, delivery.per_event.retries_given_up, delivery.sent))
    if plan is not None:
        result.append(missed(thresholds.max_missed, int(plan.get("missed", 0)), int(plan.get("planned", 0))))
    return result


def ms(value: float) -> str:
    """Milliseconds to the histograms' 3 significant digits (whole milliseconds from 100 ms up)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _answered(total: Mapping[str, Any] | None, errors: list[dict[str, Any]]) -> Check:
    requests = int(total["requests"]) if total else 0
    got = answered(total, errors) if total else 0
    if not requests:
        reason = f"no request was answered or failed within the run: Locust counted none (see {files.LOCUST_LOG})"
    elif any(e["error"] == str(Title.TLS_FAILED) for e in errors):
        reason = (f"none of the {requests:,} requests sent got an answer: TLS verification failed, the endpoint's "
                  "certificate did not verify (pass --ca-bundle FILE or --insecure)")
    else:
        counts = {e["error"]: 0 for e in errors}
        for e in errors:
            counts[e["error"]] += int(e["occurrences"])
        how = ", ".join(f"{count:,} {title}" for title, count in sorted(counts.items(), key=lambda kv: -kv[1])
                        if title in _UNANSWERED)
        reason = (f"none of the {requests:,} requests sent got an answer ({how}); is the endpoint listening at "
                  "--url, and does it answer?")
    return Check("answered", 1, got, got > 0, f"answered {got:,} of {requests:,} >= 1", None if got else reason)


def _error_rate(limit: float, failures: int, requests: int) -> Check:
    rate = failures / requests
    passed = rate <= limit
    reason = None
    if not passed:
        reason = f"{failures:,} of {requests:,} requests failed ({rate:.2%}); " + (
            "pass --max-error-rate R to tolerate a share of failures" if limit == 0
            else f"more than --max-error-rate {limit:g}")
    return Check("error rate", limit, rate, passed, f"error rate {rate:.2%} <= {limit:.2%}", reason)


def missed(limit: float, missed_sends: int, planned: int) -> Check:
    """The open model's missed sends against ``limit``: a count (an int) or a fraction of planned sends."""
    return _tolerated("missed sends", limit, missed_sends, planned, lambda fraction: (
        f"{missed_sends:,} of {planned:,} planned sends were missed ({fraction:.2%}): the load generator was the "
        "bottleneck, not the endpoint; raise its capacity with more --processes (or -u), or lower --arrival-rate"
        + (", or pass --max-missed N|R to tolerate some" if not limit else "")))


def given_up(limit: float, events: int, sent: int) -> Check:
    """Per-event answers: events given up after the last resend (the SDKs drop them, so they are lost to the
    app as surely as a failed request's) against ``limit``, a count (an int) or a fraction of events sent."""
    return _tolerated("retries given up", limit, events, sent, lambda fraction: (
        f"{events:,} of {sent:,} events were still answered retry after the last resend ({fraction:.2%}), so an "
        "SDK would have dropped them" + (": pass --max-given-up N|R to tolerate some" if not limit else "")))


def _tolerated(name: str, limit: float, count: int, of: int, reason: Callable[[float], str]) -> Check:
    """``count`` of ``of`` against ``limit``: a count when an int, else a fraction; ``reason`` says why it
    failed, given the fraction."""
    fraction = count / of if of else 0.0
    if isinstance(limit, int):
        passed, shown = count <= limit, f"{name} {count:,} <= {limit:,}"
    else:
        passed, shown = fraction <= limit, f"{name} {fraction:.2%} <= {limit:.2%}"
    return Check(name, limit, count if isinstance(limit, int) else fraction, passed, shown,
                 None if passed else reason(fraction))

