"""A load run's verdict: ``summary.json``, the thresholds it broke, and the lines printed at the end.

The summary holds what the run measured (:mod:`harness.load.results`), what the ledger reconciled
(:mod:`harness.load.ledger`) and, for an open-model run, the latency report
(:mod:`harness.load.latency`), whose corrected figures then replace Locust's for the latency thresholds:
Locust measures from the actual send, which hides a stall (coordinated omission).  The report directory
never holds the API key in full, so the summary shows it masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.load import files, latency
from harness.load.ledger import Reconciliation
from harness.load.options import LoadOptions, Thresholds
from harness.safety import mask_token


def build(options: LoadOptions, url: str, seed: int, stats: list[dict[str, Any]], failures: list[dict[str, Any]],
          delivery: Reconciliation, hdr: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary of a run, without its verdict (``broken_thresholds``, from :func:`broken`)."""
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
        "latency_ms": {row["name"]: {k: row[k] for k in files.STATS_FIGURES} for row in stats},
        "errors": failures, "delivery": delivery.to_json(),
        "report": {"html": str(report_dir / files.HTML_REPORT), "csv": str(report_dir / files.STATS_CSV),
                   "failure_details": str(report_dir / files.FAILURES_GLOB)},
    }
    if hdr is not None:
        summary.update(open_model=hdr["plan"], latency_hdr_ms=hdr["latency_ms"])
        summary["report"].update(hlog=hdr["files"]["hlog"], plot=hdr["files"]["plot"])
    return summary


def broken(options: LoadOptions, stats: list[dict[str, Any]], delivery: Reconciliation,
           hdr: Mapping[str, Any] | None, locust_status: int) -> list[str]:
    """Every reason the run failed: a broken threshold (for an open-model run, its latency thresholds on the
    corrected figures), lost events, a missing latency report, Locust's own failure; empty when all is well."""
    reasons = broken_thresholds(options.thresholds, corrected_stats(stats, hdr), delivery)
    if options.arrival_rate and hdr is None:
        reasons.append(f"the open model's latency report {options.report_dir / files.LATENCY_REPORT} is missing "
                       f"(see {files.LOCUST_LOG})")
    if locust_status not in (0, 1):
        reasons.append(f"Locust exited with status {locust_status} (see {options.report_dir / files.LOCUST_LOG})")
    return reasons


def corrected_stats(stats: list[dict[str, Any]], report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Locust's stats rows with the total's p95 and p99 replaced by the corrected figures of ``report``
    (unchanged without one), for the thresholds of an open-model run."""
    corrected = report["latency_ms"].get(files.TOTAL, {}).get("corrected") if report else None
    if not corrected:
        return stats
    return [{**row, "p95": corrected["p95"], "p99": corrected["p99"], "corrected": True}
            if row["name"] == files.TOTAL else row for row in stats]


def broken_thresholds(thresholds: Thresholds, stats: list[dict[str, Any]], delivery: Reconciliation) -> list[str]:
    """The thresholds ``stats`` break, and the events ``delivery`` lost, each as a sentence."""
    total = next((row for row in stats if row["name"] == files.TOTAL), None)
    if total is None or total["requests"] == 0:
        return [f"no request was sent (see {files.LOCUST_LOG})"]
    broken = []
    error_rate = total["failures"] / total["requests"]
    which = "corrected " if total.get("corrected") else ""
    limits = ((thresholds.max_p95_ms, total["p95"], f"{which}p95 latency", "ms", max),
              (thresholds.max_p99_ms, total["p99"], f"{which}p99 latency", "ms", max),
              (thresholds.max_error_rate, error_rate, "error rate", "", max),
              (thresholds.min_rps, total["rps"], "requests/s", "", min))
    for limit, actual, label, unit, kind in limits:
        if limit is None or actual is None:
            continue
        if (kind is max and actual > limit) or (kind is min and actual < limit):
            word = "above" if kind is max else "below"
            broken.append(f"{label} {actual:.4g}{unit} is {word} the threshold {limit:g}{unit}")
    if delivery.lost:
        examples = ", ".join(delivery.lost_examples[:3])
        broken.append(f"{delivery.lost} acknowledged events were not stored (e.g. {examples})")
    return broken


def render(summary: Mapping[str, Any]) -> str:
    """The terminal summary."""
    lines = [(f"\n{summary['scenario']} against {summary['target']}: {summary['requests']:,} requests in "
              f"{summary['duration_s']}s, {summary['rps']:,.0f} req/s, {summary['events_per_s']:,.0f} events/s, "
              f"error rate {summary['error_rate']:.2%}"), "",
             f"{'name':<26}{'reqs':>9}{'fails':>7}{'req/s':>9}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  (ms)"]
    for name, row in summary["latency_ms"].items():
        cells = [f"{row[k]:>7.0f}" if row[k] is not None else f"{'-':>7}" for k in files.STATS_PERCENTILES]
        lines.append(f"{name:<26}{row['requests']:>9,}{row['failures']:>7,}{row['rps']:>9,.0f}{''.join(cells)}"
                     f"{row['max'] or 0:>8.0f}")
    if summary["errors"]:
        lines += ["", "errors:"] + [f"  {e['occurrences']:>7,}  {e['name']}: {e['error']}" for e in summary["errors"]]
    lines += ["", _delivery_line(summary["delivery"])]
    broken = summary.get("broken_thresholds") or []
    if summary.get("open_model"):
        lines += ["", *latency.render({"plan": summary["open_model"], "latency_ms": summary["latency_hdr_ms"]})]
    lines += ["", *(f"FAILED: {reason}" for reason in broken)] if broken else ["", "all thresholds met"]
    lines.append(f"reports: {summary['report']['html']}, {Path(summary['report']['html']).parent / files.SUMMARY}")
    return "\n".join(lines)


def _delivery_line(delivery: Mapping[str, Any]) -> str:
    counted = f"delivery: {delivery['sent']:,} events sent, {delivery['acknowledged']:,} acknowledged"
    if not delivery["checked"]:
        return f"{counted} (not checked: the target has no /_harness/ inspection API)"
    return (f"{counted}, {delivery['stored']:,} stored, {delivery['lost']:,} lost after acknowledgement, "
            f"{delivery['duplicated']:,} duplicated, {delivery['unexpected']:,} unexpected")


def embed_plot(html: Path, plot: Path) -> None:
    """Put the open model's percentile plot into Locust's HTML report, so one file shows the run."""
    if not html.is_file() or not plot.is_file():
        return
    section = ("<section style='margin:2em'><h2>Latency from the intended send time (HdrHistogram)</h2>"
               f"{plot.read_text()}</section>")
    page = html.read_text()
    html.write_text(page.replace("</body>", section + "</body>", 1) if "</body>" in page else page + section)
