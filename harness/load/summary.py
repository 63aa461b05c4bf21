"""A load run's summary: ``summary.json``, the checks applied (:mod:`harness.load.verdict`) and the verdict,
and the lines printed at the end.

The summary holds what the run measured (:mod:`harness.load.results`), what the ledger reconciled
(:mod:`harness.load.ledger`) and the latency report (:mod:`harness.load.latency`): HdrHistograms of every
request, in both models, exact to 3 significant digits.  Its service-time figures (the closed model's
only histogram, the open model's uncorrected one) are the percentiles of ``latency_ms`` and of the
thresholds; an open-model run's thresholds use the corrected figures instead (Locust measures from the
actual send, which hides a stall: coordinated omission).  Locust's own percentiles, rounded to two
significant digits, stay in ``locust_latency_ms`` for comparison.  The report directory
never holds the API key in full, so the summary shows it masked.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.load import files, latency, verdict
from harness.load.ledger import Reconciliation
from harness.load.options import LoadOptions
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN


def build(options: LoadOptions, url: str, seed: int, stats: list[dict[str, Any]], failures: list[dict[str, Any]],
          delivery: Reconciliation, hdr: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary of a run, without its verdict (``checks`` and ``verdict``, from :func:`judge`)."""
    total = next((row for row in stats if row["name"] == files.TOTAL), None)
    requests = total["requests"] if total else 0
    report_dir = options.report_dir
    summary: dict[str, Any] = {
        "target": url, "scenario": options.scenario, "seed": seed, "api_key": mask_token(options.api_key),
        "users": options.users, "processes": options.processes, "duration_s": options.duration_s,
        "requests": requests, "failures": total["failures"] if total else 0,
        "error_rate": (total["failures"] / requests) if total and requests else 0.0,
        "rps": total["rps"] if total else 0.0,
        "events_per_s": (delivery.sent * total["rps"] / requests) if total and requests else 0.0,
        "latency_ms": {row["name"]: {k: row[k] for k in files.STATS_FIGURES} for row in hdr_stats(stats, hdr)},
        "locust_latency_ms": {row["name"]: {k: row[k] for k in (*files.STATS_PERCENTILES, "max")} for row in stats},
        "errors": failures, "delivery": delivery.to_json(),
        "options": _options(options), "replay": replay_command(options, seed),
        "report": {"html": str(report_dir / files.HTML_REPORT), "locust_html": str(report_dir / files.LOCUST_HTML),
                   "csv": str(report_dir / files.STATS_CSV),
                   "failure_details": str(report_dir / files.FAILURES_GLOB)},
    }
    if hdr is not None:
        summary.update(latency_model=_model(hdr), latency_hdr_ms=hdr["latency_ms"])
        if hdr.get("plan") is not None:
            summary["open_model"] = hdr["plan"]
        summary["report"].update(hlog=hdr["files"]["hlog"], plot=hdr["files"]["plot"])
    return summary


def judge(options: LoadOptions, stats: list[dict[str, Any]], failures: list[dict[str, Any]],
          delivery: Reconciliation, hdr: Mapping[str, Any] | None, locust_status: int) -> dict[str, Any]:
    """The run's verdict, for ``summary.json``: ``checks`` (every check applied, with its limit and figure),
    ``verdict`` (``passed`` and the ``reasons`` it failed) and ``broken_thresholds`` (the same reasons).
    The latency checks use the HdrHistogram figures: the service time in the closed model, the corrected
    latency in the open model.  Besides the checks, a missing latency report and Locust's own failure fail
    the run."""
    applied = verdict.checks(options.thresholds, corrected_stats(hdr_stats(stats, hdr), hdr), failures, delivery,
                             hdr["plan"] if hdr is not None else None)
    reasons = [check.reason for check in applied if check.reason]
    if hdr is None:
        reasons.append(f"the latency report {options.report_dir / files.LATENCY_REPORT} is missing, so no "
                       f"percentile was measured (see {files.LOCUST_LOG})")
    if locust_status not in (0, 1):
        reasons.append(f"Locust exited with status {locust_status} (see {options.report_dir / files.LOCUST_LOG})")
    return {"checks": [check.to_json() for check in applied], "verdict": {"passed": not reasons, "reasons": reasons},
            "broken_thresholds": reasons}


def _model(report: Mapping[str, Any]) -> str:
    return str(report.get("model") or ("open" if report.get("plan") is not None else "closed"))


def hdr_stats(stats: list[dict[str, Any]], report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Locust's stats rows with their percentiles and max replaced by the HdrHistogram service-time figures
    of ``report`` (the closed model's ``service``, the open model's ``uncorrected``): None for a row without
    them, and for every row without a report (Locust's rounded figures are never passed off as exact)."""
    rows = report["latency_ms"] if report is not None else {}
    kind = latency.SERVICE if report is not None and _model(report) == "closed" else "uncorrected"
    keys = (*files.STATS_PERCENTILES, "max")
    result = []
    for row in stats:
        figures = (rows.get(row["name"]) or {}).get(kind) or {}
        result.append({**row, **{key: figures.get(key) for key in keys}})
    return result


def corrected_stats(stats: list[dict[str, Any]], report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Locust's stats rows with the total's p95 and p99 replaced by the corrected figures of ``report``
    (unchanged without one), for the thresholds of an open-model run."""
    corrected = report["latency_ms"].get(files.TOTAL, {}).get("corrected") if report else None
    if not corrected:
        return stats
    return [{**row, "p95": corrected["p95"], "p99": corrected["p99"], "corrected": True}
            if row["name"] == files.TOTAL else row for row in stats]


def render(summary: Mapping[str, Any]) -> str:
    """The terminal summary."""
    lines = [(f"\n{summary['scenario']} against {summary['target']}: {summary['requests']:,} requests in "
              f"{summary['duration_s']}s, {summary['rps']:,.0f} req/s, {summary['events_per_s']:,.0f} events/s, "
              f"error rate {summary['error_rate']:.2%}"), "",
             f"{'name':<26}{'reqs':>9}{'fails':>7}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  (ms)"]
    for name, row in summary["latency_ms"].items():
        cells = [f"{_ms(row[k]):>8}" for k in (*files.STATS_PERCENTILES, "max")]
        lines.append(f"{name:<26}{row['requests']:>9,}{row['failures']:>7,}{row['rps']:>9,.0f}{''.join(cells)}")
    lines.append("latency: service time from the actual send, HdrHistogram (3 significant digits); Locust's rounded "
                 "figures are in summary.json's locust_latency_ms")
    if summary["errors"]:
        lines += ["", "errors:"] + [f"  {e['occurrences']:>7,}  {e['name']}: {e['error']}" for e in summary["errors"]]
    lines += ["", _delivery_line(summary["delivery"])]
    if summary.get("open_model"):
        lines += ["", *latency.render({"plan": summary["open_model"], "latency_ms": summary["latency_hdr_ms"]})]
    if summary.get("checks"):
        lines += ["", "checks: " + "; ".join(f"{c['text']} {'ok' if c['passed'] else 'FAILED'}"
                                             for c in summary["checks"])]
    reasons = summary.get("verdict", {}).get("reasons", [])
    lines += [f"FAILED: {reason}" for reason in reasons]
    lines += [cancelled_line(summary["cancel"])] if summary.get("cancelled") else [] if reasons else ["PASSED"]
    lines.append(f"reports: {summary['report']['html']}, {Path(summary['report']['html']).parent / files.SUMMARY}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    """Milliseconds to the histograms' 3 significant digits (whole milliseconds from 100 ms up)."""
    return "-" if value is None else verdict.ms(value)


def cancelled_line(cancel: Mapping[str, Any]) -> str:
    """``CANCELLED after 12.3 s of 60 s (SIGTERM during the run): the figures cover what ran``."""
    return (f"CANCELLED after {cancel['after_s']:.1f} s of {cancel['planned_s']} s ({cancel['signal']} during the "
            f"{cancel['phase']}): the figures cover what ran")


def _delivery_line(delivery: Mapping[str, Any]) -> str:
    counted = f"delivery: {delivery['sent']:,} events sent, {delivery['acknowledged']:,} acknowledged"
    if not delivery["checked"]:
        return f"{counted} (not checked: {delivery.get('unchecked') or 'the target has no /_harness/ inspection API'})"
    return (f"{counted}, {delivery['stored']:,} stored, {delivery['lost']:,} lost after acknowledgement, "
            f"{delivery['duplicated']:,} duplicated, {delivery['unexpected']:,} unexpected") + _per_event_line(delivery)


def _per_event_line(delivery: Mapping[str, Any]) -> str:
    """v1's per-event figures, on a line of their own (nothing when no answer was per-event)."""
    figures = delivery.get("per_event")
    if not figures:
        return ""
    tags = ", ".join(f"{count:,} {tag or 'untagged'}" for tag, count in figures["drops_by_tag"].items())
    stored = f", {figures['stored_after_drop']:,} stored after drop" if delivery["checked"] else ""
    return (f"\nper event: {figures['dropped']:,} dropped{f' ({tags})' if tags else ''}{stored}; "
            f"{figures['retried']:,} retry answers, {figures['resolved_retries']:,} retried events resolved, "
            f"{figures['unresolved_retries']:,} unresolved at the end, {figures['retries_given_up']:,} given up")


def replay_command(options: LoadOptions, seed: int) -> str:
    """The command line that replays the run's traffic and checks (``capture-harness load --seed N ...``).
    The API key is never written out: a key other than the placeholder is read from the environment; nor are
    the values of ``-H`` headers (they may hold credentials): each is written ``Name: …``, to fill in."""
    words = ["capture-harness", "load", "--seed", str(seed), "--scenario", options.scenario,
             "-u", str(options.users), "-r", f"{options.spawn_rate:g}", "-t", f"{options.duration_s}s"]
    thresholds = options.thresholds
    optional: list[tuple[str, object, bool]] = [
        ("--processes", options.processes, options.processes > 1), ("--url", options.url, bool(options.url)),
        ("--arrival-rate", options.arrival_rate, bool(options.arrival_rate)),
        ("--ramp", options.ramp_s, bool(options.ramp_s)),
        ("--max-p95", thresholds.max_p95_ms, thresholds.max_p95_ms is not None),
        ("--max-p99", thresholds.max_p99_ms, thresholds.max_p99_ms is not None),
        ("--max-error-rate", thresholds.max_error_rate, bool(thresholds.max_error_rate)),
        ("--min-rps", thresholds.min_rps, thresholds.min_rps is not None),
        ("--max-missed", thresholds.max_missed, bool(thresholds.max_missed)),
        ("--max-given-up", thresholds.max_given_up, bool(thresholds.max_given_up)),
        ("--ca-bundle", options.ca_bundle, options.ca_bundle is not None),
        ("--report-dir", options.report_dir, True)]
    for flag, value, given in optional:
        if given:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    words += ["--allow-production"] * options.allow_production + ["--insecure"] * options.insecure
    for header in options.headers:
        words += ["-H", f"{header.partition(':')[0].strip()}: …"]
    command = " ".join(shlex.quote(word) for word in words)
    command += ' --api-key "$CAPTURE_HARNESS_API_KEY"' if options.api_key != DEFAULT_TOKEN else ""
    return command + (" -- " + " ".join(shlex.quote(arg) for arg in options.locust_args) if options.locust_args else "")


def _options(options: LoadOptions) -> dict[str, Any]:
    """The run's options besides those the summary reports at its top level, for replaying it."""
    return {"url": options.url, "spawn_rate": options.spawn_rate, "arrival_rate": options.arrival_rate,
            "ramp_s": options.ramp_s, "allow_production": options.allow_production,
            "thresholds": dataclasses.asdict(options.thresholds),
            "ca_bundle": str(options.ca_bundle) if options.ca_bundle else None, "insecure": options.insecure,
            "headers": [header.partition(":")[0].strip() for header in options.headers],  # names: values may be secret
            "locust_args": list(options.locust_args)}
