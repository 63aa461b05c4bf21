"""Latency in HdrHistograms, in both models, per request name: microseconds, 1 µs .. 1 hour, 3 significant digits.

In the **closed model** (no ``--capture-arrival-rate``) each request is recorded once, in the histogram
:data:`SERVICE`: its service time, the response time Locust counts (from the actual send until the answer),
unrounded.  Every request Locust counts is recorded (:meth:`Recorder.record_service`, from Locust's
``request`` event), so the counts agree with Locust's.

In the **open model** each request is recorded twice:

- **corrected**: from the time the open-model plan said it should be sent until its answer arrived, so a
  stall that delays later sends shows up in their latency (no coordinated omission);
- **uncorrected**: from the actual send until the answer (the service time Locust reports, unrounded).

Planned sends that were missed (more than :data:`harness.load.arrivals.MAX_LAG_S` late, never sent) are
recorded in the corrected histogram of the row :data:`MISSED` at their lag when they were given up, a lower
bound of the latency they would have had; the total row (:data:`harness.load.files.TOTAL`) is the sum of
every row, so its corrected percentiles include them.

Each Locust process records into a :class:`Recorder`; :meth:`Recorder.take` encodes the interval's
histograms (HdrHistogram's compressed base64 format) and starts a new interval.  A :class:`Collector`
(at the Locust master, or in the only process) decodes and adds them, losslessly, and writes every interval
to an HdrHistogram log.  At the end :func:`write_report` writes ``latency.json`` (percentiles, plan counts,
the merged histograms encoded) and a percentile plot ``latency.svg`` (:mod:`harness.load.plot`);
``capture-harness load`` reads them back with :func:`read_report`.  No locust import here.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from harness.load import plot
from harness.load.files import HDR_PERCENTILES, LATENCY_HLOG, LATENCY_PLOT, LATENCY_REPORT, TOTAL

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
KINDS = ("corrected", "uncorrected")
"""The open model's histograms of a row."""
SERVICE = "service"
CLOSED_KINDS = (SERVICE,)
"""The closed model's histogram of a row: the service time."""
MISSED = "(missed sends)"
"""The row of planned sends that were never sent: corrected only, at their lag when given up."""


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_seconds(histogram: HdrHistogram, seconds: float) -> None:
    """Record ``seconds`` in microseconds, clamped into the histogram's range (never silently lost)."""
    histogram.record_value(min(HIGHEST_US, max(0, round(seconds * 1_000_000))))


def encode(histogram: HdrHistogram) -> str:
    blob: bytes = histogram.encode()
    return blob.decode("ascii")


def decode(blob: str) -> HdrHistogram:
    return HdrHistogram.decode(blob.encode("ascii") if isinstance(blob, str) else blob)


def merge(into: HdrHistogram | None, other: HdrHistogram) -> HdrHistogram:
    """``into`` plus ``other`` (a new histogram when ``into`` is None).  Lossless: counts are added index by
    index.  (hdrh's ``add`` into an empty histogram would set its minimum to 0, so an empty start copies.)"""
    if other.get_total_count() == 0:
        return into if into is not None else new_histogram()
    if into is None or into.get_total_count() == 0:
        into = HdrHistogram.decode(other.encode())
        return into
    into.add(other)
    return into


# --- recording, in each Locust process ----------------------------------------------------------------


class Recorder:
    """This process's histograms for the current interval, by request name."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, HdrHistogram]] = {}
        self._service: dict[str, dict[int, int]] = {}
        """The closed model's service times of the interval so far, by name: whole microseconds -> count."""
        self._interval_start = time.time()

    def _row(self, name: str) -> dict[str, HdrHistogram]:
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = {kind: new_histogram() for kind in KINDS}
        return row

    def record(self, name: str, corrected_s: float, uncorrected_s: float) -> None:
        row = self._row(name)
        record_seconds(row["corrected"], corrected_s)
        record_seconds(row["uncorrected"], uncorrected_s)

    def record_missed(self, lags_s: Iterable[float]) -> None:
        histogram = self._row(MISSED)["corrected"]
        for lag in lags_s:
            record_seconds(histogram, lag)

    def record_service(self, name: str, ms: float) -> None:
        """Closed model: one request's service time, in milliseconds (Locust's response time).  Counted by
        whole microsecond here and added to the histogram at :meth:`take`: a dict increment per request, not
        a histogram record (the same histogram in the end, at a fraction of the cost)."""
        counts = self._service.get(name)
        if counts is None:
            counts = self._service[name] = {}
        us = int(ms * 1000 + 0.5)
        counts[us] = counts.get(us, 0) + 1

    def _fold_service(self) -> None:
        for name, counts in self._service.items():
            histogram = self._rows.setdefault(name, {}).setdefault(SERVICE, new_histogram())
            for us, count in counts.items():
                histogram.record_value(min(HIGHEST_US, max(0, us)), count)
        self._service = {}

    def take(self) -> dict[str, Any]:
        """The interval so far, encoded (empty histograms left out), and a fresh interval."""
        self._fold_service()
        now = time.time()
        interval = {"start_ms": int(self._interval_start * 1000), "end_ms": int(now * 1000),
                    "histograms": {name: {kind: encode(h) for kind, h in row.items() if h.get_total_count()}
                                   for name, row in self._rows.items()}}
        self._rows = {}
        self._interval_start = now
        return interval


# --- merging, at the master -----------------------------------------------------------------------------


class Collector:
    """Adds the intervals of every process into one histogram per row and kind; logs each interval."""

    def __init__(self, hlog: IO[str] | None = None, started_ms: int | None = None,
                 kinds: tuple[str, ...] = KINDS) -> None:
        self.rows: dict[str, dict[str, HdrHistogram]] = {}
        self.kinds = kinds
        """:data:`KINDS` (open model) or :data:`CLOSED_KINDS`; the log's untagged lines are of the first."""
        self._log = None
        if hlog is not None:
            started_ms = started_ms if started_ms is not None else int(time.time() * 1000)
            self._log = HistogramLogWriter(hlog)
            self._log.output_log_format_version()
            self._log.output_comment(_LOG_LEGEND[kinds[0]])
            # HistogramLogWriter.output_start_time is broken in hdrh 0.10 (datetime.iso_format); same line by hand
            stamp = datetime.datetime.fromtimestamp(started_ms / 1000, datetime.UTC).isoformat(" ")
            self._log.output_comment(f"[StartTime: {started_ms / 1000:.3f} (seconds since epoch), {stamp}]")
            self._log.output_base_time(started_ms)
            self._log.base_time = started_ms
            self._log.output_legend()

    def add(self, interval: Mapping[str, Any]) -> None:
        """Decode one process's interval and add it to the totals (and to the log)."""
        decoded: dict[str, dict[str, HdrHistogram]] = {
            name: {kind: decode(blob) for kind, blob in row.items()}
            for name, row in interval.get("histograms", {}).items()}
        for name, row in decoded.items():
            totals = self.rows.setdefault(name, {})
            for kind, histogram in row.items():
                totals[kind] = merge(totals.get(kind), histogram)
        if self._log is not None and decoded:
            self._write_interval(decoded, interval["start_ms"], interval["end_ms"])

    def _write_interval(self, rows: dict[str, dict[str, HdrHistogram]], start_ms: int, end_ms: int) -> None:
        assert self._log is not None
        lines: list[tuple[str | None, HdrHistogram]] = []
        for kind in self.kinds:
            total = None
            for row in rows.values():
                if kind in row:
                    total = merge(total, row[kind])
            if total is not None:
                lines.append((None if kind == self.kinds[0] else kind, total))
        for name, row in sorted(rows.items()):
            for kind, histogram in row.items():
                lines.append((f"{kind}:{_tag(name)}", histogram))
        for tag, histogram in lines:
            histogram.set_start_time_stamp(start_ms)
            histogram.set_end_time_stamp(max(end_ms, start_ms + 1))
            if tag is not None:
                self._log.log.write(f"Tag={tag},")  # the writer has no tags; the readers (hdrh's too) do
            self._log.output_interval_histogram(histogram, max_value_unit_ratio=1000.0)
        self._log.log.flush()

    def totals(self) -> dict[str, dict[str, HdrHistogram]]:
        """Every row, plus the total row (:data:`harness.load.files.TOTAL`), the sum of all rows."""
        rows = {name: dict(row) for name, row in sorted(self.rows.items())}
        total: dict[str, HdrHistogram] = {}
        for row in rows.values():
            for kind, histogram in row.items():
                total[kind] = merge(total.get(kind), histogram)
        rows[TOTAL] = total
        return rows

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


_LOG_LEGEND = {
    "corrected": "[capture-harness latency in microseconds, open model. Untagged: corrected latency (from the "
                 "intended send time), all requests; Tag=uncorrected: service time; Tag=corrected:NAME / "
                 "Tag=uncorrected:NAME: per request name. Intervals are as each Locust process reported them, so "
                 "they may overlap.]",
    SERVICE: "[capture-harness latency in microseconds, closed model. Untagged: service time (from the actual send "
             "until the answer), all requests; Tag=service:NAME: per request name. Intervals are as each Locust "
             "process reported them, so they may overlap.]"}


def _tag(name: str) -> str:
    return name.replace(",", ";").replace(" ", "_")


# --- figures ----------------------------------------------------------------------------------------------


def figures(histogram: HdrHistogram | None) -> dict[str, float] | None:
    """p50, p90, p95, p99, p99.9 and max in milliseconds (None for an empty histogram)."""
    if histogram is None or histogram.get_total_count() == 0:
        return None
    values = histogram.get_percentile_to_value_dict(list(HDR_PERCENTILES.values()))
    result = {key: values[p] / 1000 for key, p in HDR_PERCENTILES.items()}
    result["max"] = histogram.get_max_value() / 1000
    return result


def summarize(rows: Mapping[str, Mapping[str, HdrHistogram]], kinds: tuple[str, ...] = KINDS) -> dict[str, dict[str, Any]]:
    """Per row: in the open model, request count (sent and answered), missed count, and the corrected and
    uncorrected figures; in the closed model (``kinds`` :data:`CLOSED_KINDS`), request count and the
    service-time figures."""
    result: dict[str, dict[str, Any]] = {}
    for name, row in rows.items():
        if kinds == CLOSED_KINDS:
            service = row.get(SERVICE)
            result[name] = {"requests": service.get_total_count() if service is not None else 0,
                            SERVICE: figures(service)}
            continue
        corrected, uncorrected = row.get("corrected"), row.get("uncorrected")
        answered = uncorrected.get_total_count() if uncorrected is not None else 0
        recorded = corrected.get_total_count() if corrected is not None else 0
        result[name] = {"requests": answered, "missed": recorded - answered,
                        "corrected": figures(corrected), "uncorrected": figures(uncorrected)}
    return result


def plan_totals(processes: Iterable[Mapping[str, float]], arrival_rate: float, ramp_s: float,
                max_lag_s: float) -> dict[str, Any]:
    """The plan counts of every process, summed; rates are each process's count over its own window."""
    processes = list(processes)
    total = {key: int(sum(p[key] for p in processes)) for key in ("planned", "sent", "missed", "unsent")}
    return {"arrival_rate": arrival_rate, "ramp_s": ramp_s, "max_lag_s": max_lag_s, "processes": len(processes),
            **total, "window_s": max((p["window_s"] for p in processes), default=0.0),
            "planned_rps": sum(p["planned"] / p["window_s"] for p in processes if p["window_s"] > 0),
            "achieved_rps": sum(p["sent"] / p["window_s"] for p in processes if p["window_s"] > 0)}


def write_report(report_dir: Path, collector: Collector, plan: Mapping[str, Any] | None) -> dict[str, Any]:
    """``latency.json`` and ``latency.svg`` in ``report_dir``; returns the report.  ``plan``: the open
    model's plan counts, None in the closed model."""
    rows = collector.totals()
    report = {"model": "open" if plan is not None else "closed", "plan": dict(plan) if plan is not None else None,
              "latency_ms": summarize(rows, collector.kinds),
              "histograms_us": {name: {kind: encode(h) for kind, h in row.items()} for name, row in rows.items()},
              "files": {"hlog": str(report_dir / LATENCY_HLOG), "plot": str(report_dir / LATENCY_PLOT)}}
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / LATENCY_REPORT).write_text(json.dumps(report, indent=2) + "\n")
    title = plot.plan_title(plan) if plan is not None else "service time by percentile (closed model)"
    (report_dir / LATENCY_PLOT).write_text(plot.plot_svg(rows.get(TOTAL, {}), title=title))
    return report


def read_report(report_dir: Path) -> dict[str, Any] | None:
    path = report_dir / LATENCY_REPORT
    return json.loads(path.read_text()) if path.is_file() else None


def missed_warning(plan: Mapping[str, Any] | None) -> str | None:
    if not plan or not plan.get("missed"):
        return None
    return (f"{plan['missed']:,} of {plan['planned']:,} planned sends were missed: every user was busy and the plan "
            f"fell more than {plan['max_lag_s']:g} s behind, so the load generator, not the endpoint, set the rate "
            "then (raise -u or --processes). Missed sends are in the corrected latency at their lag when given up, "
            "a lower bound")


def render(report: Mapping[str, Any]) -> list[str]:
    """Terminal lines: the plan against what was achieved, and corrected vs uncorrected figures per name (in
    the closed model, the service-time figures per name)."""
    plan = report.get("plan")
    if plan is None:
        return ["closed model: latency (ms) = service time, from the actual send until the answer "
                "(HdrHistogram, 3 significant digits)", *_table(report["latency_ms"])]
    ramp = f", ramp {plan['ramp_s']:g} s" if plan["ramp_s"] else ""
    headline = (f"open model: {plan['arrival_rate']:,.6g} req/s planned{ramp}, over {plan['processes']} process(es): "
                f"achieved {plan['achieved_rps']:,.1f} req/s of {plan['planned_rps']:,.1f} planned in "
                f"{plan['window_s']:.1f} s; {plan['planned']:,} sends planned, {plan['sent']:,} sent, "
                f"{plan['missed']:,} missed, {plan['unsent']:,} still due at the stop")
    lines = [headline, "latency (ms): corrected = from the intended send time; uncorrected = service time",
             *_table(report["latency_ms"])]
    warning = missed_warning(plan)
    if warning:
        lines.append(f"WARNING: {warning}")
    return lines


_LABELS = (("corrected", "corr"), ("uncorrected", "uncorr"), (SERVICE, "service"))


def _table(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A header and, per name, a line per histogram: count and figures (the name on its first line only)."""
    keys = (*HDR_PERCENTILES, "max")
    lines = [f"{'name':<26}{'':<8}{'count':>9}" + "".join(f"{k:>9}" for k in keys)]
    for name, row in rows.items():
        shown = [(kind, label) for kind, label in _LABELS if row.get(kind) is not None]
        for kind, label in shown:
            count = row["requests"] + row.get("missed", 0) if kind == "corrected" else row["requests"]
            lines.append(f"{name if kind == shown[0][0] else '':<26}{label:<8}{count:>9,}"
                         + "".join(f"{row[kind][k]:>9.4g}" for k in keys))
    return lines
