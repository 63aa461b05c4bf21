"""The run's own report: ``report.html``, one self-contained page written from the report directory.

:func:`write_report` reads what the run left in the report directory (:mod:`harness.load.files`):
``summary.json`` (the verdict and its checks, Locust's per-name stats, the open model's HdrHistogram
percentiles, the delivery ledger, the seed and the replay command), Locust's ``locust_stats_history.csv``
(throughput and latency over time), the ``failures-*.jsonl`` files (a few examples per error title, each
with the curl command that reproduces it) and ``latency.json`` (the open model's merged histograms, for the
percentile plot).  Every file may be missing or cut short (a cancelled or failed run): the page then says
what is not available instead of failing.  :mod:`harness.load.report_html` renders the page: no script, no
stylesheet or font fetched, the plots inline SVG (:mod:`harness.load.plot`).  Locust's own page is kept
beside it as ``locust-report.html`` and linked.  No locust import here.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.load import files, latency, plot, report_html

EXAMPLES_PER_TITLE = 3
"""Failure examples shown per error title (the files hold every failure)."""

LINKED_FILES = (files.LOCUST_HTML, files.SUMMARY, files.LOCUST_LOG, files.SERVER_LOG, files.STATS_CSV,
                files.STATS_HISTORY_CSV, files.FAILURES_CSV, files.LATENCY_REPORT, files.LATENCY_HLOG,
                files.LATENCY_PLOT)
"""The files of the report directory the page links to, when they exist (besides the failure details)."""


@dataclass(frozen=True)
class Sample:
    """One row of Locust's stats history: the aggregate at ``t`` seconds after the first row.  The counts
    are since the start; Locust's percentiles here are over its last few seconds (a rolling window)."""

    t: float
    users: int
    requests: int
    failures: int
    p50: float | None
    p95: float | None


@dataclass
class Failures:
    """The failure details of one error title: how many lines the files hold, and the first few."""

    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows; any part may be missing."""

    report_dir: Path
    summary: Mapping[str, Any] | None
    history: list[Sample]
    failures: dict[str, Failures]
    over_time: tuple[str, str] | None
    """The plots of throughput, and of p50 and p95, over the run."""
    percentile_svg: str | None
    linked: list[str]
    failure_files: list[str]
    generated: str


def write_report(report_dir: Path) -> Path:
    """Write ``report.html`` into ``report_dir`` from what the run left there; returns its path.  Never fails
    on a missing or cut-short file: those sections say "not available"."""
    report_dir = Path(report_dir)
    history = read_history(report_dir / files.STATS_HISTORY_CSV)
    data = ReportData(
        report_dir=report_dir, summary=files.read_json(report_dir / files.SUMMARY), history=history,
        failures=read_failures(report_dir), over_time=over_time_svgs(history),
        percentile_svg=percentile_plot(report_dir),
        linked=[name for name in LINKED_FILES if (report_dir / name).is_file()],
        failure_files=sorted(path.name for path in report_dir.glob(files.FAILURES_GLOB)),
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    page = report_html.render(data)
    target = report_dir / files.HTML_REPORT
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)  # a reader never sees half a page
    return target


def read_history(path: Path) -> list[Sample]:
    """The aggregated rows of Locust's stats history (``--csv``), in order; [] when missing or unreadable."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == files.TOTAL]
    except (OSError, ValueError, csv.Error):
        return []
    samples: list[Sample] = []
    start: float | None = None
    for row in rows:
        try:
            stamp = float(row["Timestamp"])
            start = stamp if start is None else start
            samples.append(Sample(stamp - start, int(row["User Count"]), int(row["Total Request Count"]),
                                  int(row["Total Failure Count"]), _number(row.get("50%")), _number(row.get("95%"))))
        except (KeyError, TypeError, ValueError):
            continue  # a row cut short when the run was stopped
    return samples


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def read_failures(report_dir: Path, per_title: int = EXAMPLES_PER_TITLE) -> dict[str, Failures]:
    """The failure details of every process (``failures-*.jsonl``) by title, with the first ``per_title``
    examples of each (request name, detail, curl); a line cut short is skipped."""
    result: dict[str, Failures] = {}
    for path in sorted(report_dir.glob(files.FAILURES_GLOB)):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            entry = result.setdefault(str(record.get("title", "untitled")), Failures())
            entry.count += 1
            if len(entry.examples) < per_title:
                entry.examples.append(record)
    return result


def percentile_plot(report_dir: Path) -> str | None:
    """The open model's percentile plot of the total, from the merged histograms in ``latency.json``
    (None without them)."""
    report = files.read_json(report_dir / files.LATENCY_REPORT)
    try:
        encoded = report["histograms_us"][files.TOTAL] if report else None
        if not encoded:
            return None
        row = {kind: latency.decode(blob) for kind, blob in encoded.items()}
        plan = report.get("plan") if report else None
        return plot.plot_svg(row, title=plot.plan_title(plan) if plan else "service time by percentile (closed model)")
    except Exception:  # noqa: BLE001  # a histogram cut short or corrupt (zlib, base64, hdrh): no plot, a page
        return None


def rates(history: list[Sample]) -> list[tuple[float, float, float]]:
    """(t, requests/s, failures/s) over each interval between two rows, from the counts since the start
    (exact per interval, unlike Locust's own smoothed rate)."""
    return [(now.t, (now.requests - then.requests) / (now.t - then.t), (now.failures - then.failures) / (now.t - then.t))
            for then, now in itertools.pairwise(history) if now.t > then.t]


def over_time_svgs(history: list[Sample]) -> tuple[str, str] | None:
    """The two plots over time: requests/s (and failures/s), and p50 and p95 latency (None without data)."""
    if len(history) < 2:
        return None
    per_interval = rates(history)
    throughput = plot.timeseries_svg(
        [("requests/s", "#1f6feb", [(t, rps) for t, rps, _ in per_interval]),
         ("failures/s", "#d1242f", [(t, fps) for t, _, fps in per_interval])],
        "throughput, per interval", "per second", x_max=history[-1].t)
    latencies = plot.timeseries_svg(
        [("p50", "#1a7f37", [(s.t, s.p50) for s in history]),
         ("p95", "#bc4c00", [(s.t, s.p95) for s in history])],
        "latency, service time (Locust's rolling window)", "milliseconds", x_max=history[-1].t)
    return throughput, latencies
