"""The report directory's file names, and the keys of the files both sides of a run read.

Locust runs as a subprocess of ``capture-harness load``, and the CLI's process must not import Locust (it
monkey-patches the interpreter with gevent), so the two sides meet only through files in the report
directory.  Both import the names from here: :mod:`harness.load.user` and :mod:`harness.load.openmodel`
write the ledgers, failure details, final stats and latency report; :mod:`harness.load.run`,
:mod:`harness.load.results` and :mod:`harness.load.summary` find and read them (:func:`read_json`;
:func:`remove_stale` clears an earlier run's).  Standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FINAL_STATS = "locust-final.json"
"""The run's final stats, per request name and aggregated, and its errors; written when Locust quits."""

LEDGER_GLOB = "ledger-*.bin"
"""Each Locust process's delivery ledger of each scenario (``*``: its pid, scenario and stream)."""

FAILURES_GLOB = "failures-*.jsonl"
"""Each Locust process's failure details and curl commands (``*``: its pid)."""

LATENCY_REPORT = "latency.json"
"""Both models' HdrHistogram percentiles (and the open model's plan counts) and merged histograms."""
LATENCY_HLOG = "latency.hlog"
"""The HdrHistogram interval log (both models)."""
LATENCY_PLOT = "latency.svg"
"""The HdrHistogram percentile plot (both models)."""
LATENCY_GLOB = "latency.*"

WORKERS = "workers.json"
"""A master's workers (index, host, requests, files received), kept up to date by :mod:`harness.load.distributed`."""
WORKER_STATE = "worker-*.json"
"""Each worker process's own record (``*``: its pid): its master, the files it shipped, whether confirmed."""
MASTER_MARKER = ".capture-harness-master"
"""A master's token while it runs: a worker that finds it in its own report directory shares the folder."""

SUMMARY = "summary.json"
HTML_REPORT = "report.html"
"""Our own report of the run (:mod:`harness.load.report`): one self-contained page."""
LOCUST_HTML = "locust-report.html"
"""Locust's own HTML report (its ``--html``), kept beside ours and linked from it."""
CSV_PREFIX = "locust"
"""Locust's ``--csv`` prefix: it writes ``locust_stats.csv``, ``locust_failures.csv``, ..."""
STATS_CSV = f"{CSV_PREFIX}_stats.csv"
FAILURES_CSV = f"{CSV_PREFIX}_failures.csv"
STATS_HISTORY_CSV = f"{CSV_PREFIX}_stats_history.csv"
"""Locust's aggregated stats once a second: the report's throughput and latency over time."""
LOCUST_LOG = "locust.log"
SERVER_LOG = "server.log"
"""The embedded reference endpoint's stderr (a run without ``--url``)."""

TOTAL = "Aggregated"
"""The name of the total row, in Locust's stats and in the latency report (Locust's own name for it)."""

STATS_PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
"""The percentiles of each row of the final stats: key, and the fraction Locust is asked for."""

STATS_FIGURES = ("requests", "failures", "rps", *STATS_PERCENTILES, "max")
"""The figures of a stats row (besides its ``name``), as the summary reports them; latencies in ms."""

HDR_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}
"""The percentiles of each row of the latency report: key, and the percentile asked of the histogram."""


def of_process(glob: str, pid: int) -> str:
    """The file of process ``pid`` among ``glob``'s (``ledger-*.jsonl`` -> ``ledger-123.jsonl``)."""
    return glob.replace("*", str(pid))


READ_BACK = (LEDGER_GLOB, FAILURES_GLOB, FINAL_STATS, LATENCY_GLOB)
"""The files a run's conclusion reads back: an earlier run's must be gone before the next one writes its own."""


def remove_stale(report_dir: Path, globs: tuple[str, ...]) -> None:
    """Remove an earlier run's files matching ``globs`` from ``report_dir``."""
    for glob in globs:
        for stale in report_dir.glob(glob):
            stale.unlink()


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
