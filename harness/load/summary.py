"""A load run's summary: ``summary.json``, the checks applied (:mod:`harness.load.verdict`) and the verdict,
and the lines printed at the end.

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

from harness.load import files, latency, verdict
from harness.load.ledger import Reconciliation
from harness.load.options import LoadOptions
from harness.safety import mask_token


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
        "latency_ms": {row["name"]: {k: row[k] for k in files.STATS_FIGURES} for row in stats},
        "errors": failures, "delivery": delivery.to_json(),
        "report": {"html": str(report_dir / files.HTML_REPORT), "csv": str(report_dir / files.STATS_CSV),
                   "failure_details": str(report_dir / files.FAILURES_GLOB)},
    }
    if hdr is not None:
        summary.update(open_model=hdr["plan"], latency_hdr_ms=hdr["latency_ms"])
        summary["report"].update(hlog=hdr["files"]["hlog"], plot=hdr["files"]["plot"])
    return summary


def judge(options: LoadOptions, stats: list[dict[str, Any]], failures: list[dict[str, Any]],
          delivery: Reconciliation, hdr: Mapping[str, Any] | None, locust_status: int) -> dict[str, Any]:
    """The run's verdict, for ``summary.json``: ``checks`` (every check applied, with its limit and figure),
    ``verdict`` (``passed`` and the ``reasons`` it failed) and ``broken_thresholds`` (the same reasons).
    An open-model run's latency checks use the corrected figures.  Besides the checks, a missing latency
    report and Locust's own failure fail the run."""
    applied = verdict.checks(options.thresholds, corrected_stats(stats, hdr), failures, delivery,
                             hdr["plan"] if hdr is not None else None)
    reasons = [check.reason for check in applied if check.reason]
    if options.arrival_rate and hdr is None:
        reasons.append(f"the open model's latency report {options.report_dir / files.LATENCY_REPORT} is missing "
                       f"(see {files.LOCUST_LOG})")
    if locust_status not in (0, 1):
        reasons.append(f"Locust exited with status {locust_status} (see {options.report_dir / files.LOCUST_LOG})")
    return {"checks": [check.to_json() for check in applied], "verdict": {"passed": not reasons, "reasons": reasons},
            "broken_thresholds": reasons}


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
             f"{'name':<26}{'reqs':>9}{'fails':>7}{'req/s':>9}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  (ms)"]
    for name, row in summary["latency_ms"].items():
        cells = [f"{row[k]:>7.0f}" if row[k] is not None else f"{'-':>7}" for k in files.STATS_PERCENTILES]
        lines.append(f"{name:<26}{row['requests']:>9,}{row['failures']:>7,}{row['rps']:>9,.0f}{''.join(cells)}"
                     f"{row['max'] or 0:>8.0f}")
    if summary["errors"]:
        lines += ["", "errors:"] + [f"  {e['occurrences']:>7,}  {e['name']}: {e['error']}" for e in summary["errors"]]
    lines += ["", _delivery_line(summary["delivery"])]
    if summary.get("open_model"):
        lines += ["", *latency.render({"plan": summary["open_model"], "latency_ms": summary["latency_hdr_ms"]})]
    lines += ["", "checks: " + "; ".join(f"{c['text']} {'ok' if c['passed'] else 'FAILED'}"
                                         for c in summary.get("checks", []))]
    reasons = summary.get("verdict", {}).get("reasons", [])
    lines += [f"FAILED: {reason}" for reason in reasons] if reasons else ["PASSED"]
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
