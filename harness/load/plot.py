"""The open model's percentile plot: an SVG in the style of HdrHistogram's plotter, no plotting library.

x is the percentile on the 1/(1-p) log scale (0%, 90%, 99%, ... 99.999%), y the latency in milliseconds;
one line for the corrected latency (from the intended send time), one for the uncorrected (service time).
:func:`harness.load.latency.write_report` writes it as ``latency.svg``, and ``capture-harness load`` puts
it into Locust's HTML report.  Forty lines of SVG are not worth a matplotlib dependency.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
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
              (("corrected", "#d62728"), ("uncorrected", "#1f77b4")) if kind in row and row[kind].get_total_count()]
    max_nines = 5
    max_ms = max((ms for _, _, points in series for _, ms in points), default=1.0) or 1.0
    y_top = _nice_ceiling(max_ms * 1.05)

    def x(percentile: float) -> float:
        nines = min(max_nines, math.log10(100 / max(100 - percentile, 100 / 10 ** max_nines)))
        return left + (width - left - right) * nines / max_nines

    def y(ms: float) -> float:
        return top + (height - top - bottom) * (1 - ms / y_top)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="12">'),
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
        label = "corrected (from intended send)" if kind == "corrected" else "uncorrected (service time)"
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
