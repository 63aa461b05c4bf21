"""The load reports' plots as SVG, no plotting library: the open model's percentile plot, and time series.

The percentile plot is in the style of HdrHistogram's plotter: x is the percentile on the 1/(1-p) log scale
(0%, 90%, 99%, ... 99.999%), y the latency in milliseconds; one line for the corrected latency (from the
intended send time), one for the uncorrected (service time); in the closed model one line, the service
time.  :func:`harness.load.latency.write_report`
writes it as ``latency.svg``, and the run's report (:mod:`harness.load.report`) shows it.  The time series
(:func:`timeseries_svg`) plot requests/s and latency over the run.  A few dozen lines of SVG are not worth
a matplotlib dependency.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram


def plan_title(plan: Mapping[str, Any]) -> str:
    """The plot's title: the plan's rate against what was achieved, and the missed sends."""
    return (f"latency by percentile, {plan.get('arrival_rate', 0):,.6g} req/s planned, "
            f"{plan.get('achieved_rps', 0):,.1f} achieved, {plan.get('missed', 0):,} missed")


def percentile_curve(histogram: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, milliseconds) points from the histogram's percentile iterator (5 ticks per half distance)."""
    points = []
    for item in histogram.get_percentile_iterator(5):
        points.append((item.percentile_level_iterated_to, item.value_iterated_to / 1000))
    return points


def plot_svg(row: Mapping[str, HdrHistogram], title: str = "latency by percentile") -> str:
    """An SVG percentile distribution plot (x: percentile on the 1/(1-p) log scale, y: milliseconds) of the
    corrected and uncorrected histograms, in the style of HdrHistogram's plotter."""
    width, height, left, right, top, bottom = 760, 420, 70, 20, 40, 50
    series = [(kind, colour, percentile_curve(row[kind])) for kind, colour in
              (("corrected", "#d62728"), ("uncorrected", "#1f77b4"), ("service", "#1f77b4"))
              if kind in row and row[kind].get_total_count()]
    max_nines = 5
    max_ms = max((ms for _, _, points in series for _, ms in points), default=1.0) or 1.0
    y_top = _nice_ceiling(max_ms * 1.05)

    def x(percentile: float) -> float:
        nines = min(max_nines, math.log10(100 / max(100 - percentile, 100 / 10 ** max_nines)))
        return left + (width - left - right) * nines / max_nines

    def y(ms: float) -> float:
        return top + (height - top - bottom) * (1 - ms / y_top)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'),
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    for nines, label in enumerate(("0%", "90%", "99%", "99.9%", "99.99%", "99.999%")):
        px = left + (width - left - right) * nines / max_nines
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{px:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
    for i in range(6):
        ms = y_top * i / 5
        py = y(ms)
        out.append(f'<line x1="{left}" y1="{py:.1f}" x2="{width - right}" y2="{py:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">{ms:.4g}</text>')
    out.append(f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">percentile</text>')
    out.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(top + height - bottom) / 2})">latency (ms)</text>')
    for i, (kind, colour, points) in enumerate(series):
        path = " ".join(f"{x(p):.1f},{y(ms):.1f}" for p, ms in points)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        label = {"corrected": "corrected (from intended send)", "uncorrected": "uncorrected (service time)",
                 "service": "service time (from the actual send)"}[kind]
        out.append(f'<line x1="{left + 10}" y1="{top + 12 + 16 * i}" x2="{left + 34}" y2="{top + 12 + 16 * i}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + 40}" y="{top + 16 + 16 * i}">{label}</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def _nice_ceiling(value: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


Series = tuple[str, str, Sequence[tuple[float, float | None]]]
"""A time series: its label, its colour, and its (x, y) points; a y of None breaks the line there."""


def timeseries_svg(series: Sequence[Series], title: str, y_label: str, x_label: str = "seconds since start",
                   x_max: float | None = None) -> str:
    """An SVG line plot of ``series`` over an x axis from 0 to ``x_max`` (default: the largest x), e.g.
    requests/s, or p50 and p95, over the run."""
    width, height, left, right, top, bottom = 1000, 300, 70, 20, 40, 50
    x_max = max((x for _, _, points in series for x, _ in points), default=1.0) if x_max is None else x_max
    x_min, x_top = 0.0, _nice_ceiling(x_max) if x_max > 0 else 1.0
    y_top = _nice_ceiling(max((y for _, _, points in series for _, y in points if y), default=1.0) * 1.05)

    def px(x: float) -> float:
        return left + (width - left - right) * (x - x_min) / x_top

    def py(y: float) -> float:
        return top + (height - top - bottom) * (1 - y / y_top)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img">'),
           f'<title>{html.escape(title)}</title>', f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    for i in range(6):
        gx, gy = px(x_min + x_top * i / 5), py(y_top * i / 5)
        out += [f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{height - bottom}" stroke="#eee"/>',
                f'<text x="{gx:.1f}" y="{height - bottom + 16}" text-anchor="middle">{x_top * i / 5:.4g}</text>',
                f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#eee"/>',
                f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{y_top * i / 5:.4g}</text>']
    out += [f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">{html.escape(x_label)}</text>',
            (f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{html.escape(y_label)}</text>')]
    for i, (label, colour, points) in enumerate(series):
        colour = html.escape(colour)
        for run in _unbroken(points):
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>' if len(run) > 1
                       else f'<circle cx="{px(run[0][0]):.1f}" cy="{py(run[0][1]):.1f}" r="3" fill="{colour}"/>')
        key_x = left + 10 + 220 * i
        out += [f'<line x1="{key_x}" y1="{top + 8}" x2="{key_x + 24}" y2="{top + 8}" stroke="{colour}" stroke-width="2"/>',
                f'<text x="{key_x + 30}" y="{top + 12}">{html.escape(label)}</text>']
    out.append("</svg>\n")
    return "\n".join(out)


def _unbroken(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The stretches of ``points`` without a missing value."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]
