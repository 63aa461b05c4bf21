"""Status lines while a load run works: one every few seconds on stderr, plain text (no terminal control
codes, no progress bar), so a terminal and a CI log show the same thing.

Each phase has its own line, all starting with ``[load]``:

- preparation: ``[load] preparing: 5 / 12 chunks (42%)``;
- the run, read from Locust's ``--csv`` stats history (``locust_stats_history.csv``, a row per second,
  flushed by Locust about every 5 s; with ``--csv-full-history`` the percentiles are those of the last
  10 s): ``[load] 00:15 / 01:00  1,234 req/s  errors 0 (0.00%)  p95 12 ms``;
- reconciliation: ``[load] reconciling: 12 pages of /_harness/events read (12,000 stored events)``.

A :class:`Ticker` prints its phase's line from a thread every ``interval`` seconds; the phase's work goes on
in the main thread (which receives the signals) and only updates what the line reads.
"""

from __future__ import annotations

import csv
import io
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.load import files

RATE_WINDOW_S = 10.0
"""The window of the request rate a status line shows."""

DEFAULT_INTERVAL_S = 5.0
"""Seconds between two status lines (``--progress-interval``)."""

PREFIX = "[load]"


def say(text: str, stream: IO[str] | None = None) -> None:
    """One status line, flushed at once (stderr is block-buffered when it is a file or a pipe)."""
    out = stream if stream is not None else sys.stderr
    print(f"{PREFIX} {text}", file=out, flush=True)


class Ticker:
    """While it is entered, prints ``line()`` every ``interval`` seconds (0: never) from a daemon thread;
    ``line`` returning None skips that tick."""

    def __init__(self, interval: float, line: Callable[[], str | None]) -> None:
        self._interval, self._line = interval, line
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="capture-harness-progress", daemon=True)

    def __enter__(self) -> Self:
        if self._interval > 0:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                text = self._line()
            except Exception as error:  # noqa: BLE001 - a status line must never end the run
                text = f"(no status: {error})"
            if text is not None and not self._stop.is_set():
                say(text)


def clock(seconds: float) -> str:
    """``75`` -> ``01:15``; ``3725`` -> ``1:02:05``."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def chunks_line(done: int, total: int) -> str:
    return f"preparing: {done:,} / {total:,} chunks ({done / total if total else 1:.0%})"


class StatsHistory:
    """The latest ``Aggregated`` row of Locust's stats history CSV, read incrementally (only what was
    appended since the last read, whole lines only)."""

    def __init__(self, report_dir: Path) -> None:
        self.path = report_dir / f"{files.CSV_PREFIX}_stats_history.csv"
        self._offset = 0
        self._pending = b""
        self._header: list[str] | None = None
        self.first: dict[str, str] | None = None
        self.latest: dict[str, str] | None = None
        self._recent: deque[tuple[float, int]] = deque()
        """(timestamp, total requests) of the rows of the last :data:`RATE_WINDOW_S` seconds."""

    def read(self) -> dict[str, str] | None:
        """The latest total row so far (None before Locust wrote one)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return self.latest
        self._offset += len(data)
        complete, _, self._pending = (self._pending + data).rpartition(b"\n")
        for row in csv.reader(io.StringIO(complete.decode(errors="replace"))):
            if self._header is None:
                self._header = row
            elif len(row) == len(self._header):
                fields = dict(zip(self._header, row, strict=True))
                if fields.get("Name") == files.TOTAL:
                    self.first = self.first or fields
                    self.latest = fields
                    self._note(fields)
        return self.latest

    def _note(self, row: dict[str, str]) -> None:
        now = float(row["Timestamp"])
        self._recent.append((now, int(row["Total Request Count"])))
        while self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()

    def rps(self) -> float:
        """Requests/s over the last rows read (up to :data:`RATE_WINDOW_S`), from the total count: Locust's own
        current rate leaves out the last 2 s and so shows 0 for the first seconds."""
        if len(self._recent) < 2 or self._recent[-1][0] <= self._recent[0][0]:
            return float(self.latest["Requests/s"]) if self.latest else 0.0
        (start, before), (end, after) = self._recent[0], self._recent[-1]
        return (after - before) / (end - start)


def run_line(history: StatsHistory, planned_s: float, started: float) -> str:
    """``00:15 / 01:00  1,234 req/s  errors 0 (0.00%)  p95 12 ms``: elapsed since the first stats row (or
    since ``started``, a ``time.time()``, before Locust wrote one), then the latest figures."""
    row = history.read()
    since = float(history.first["Timestamp"]) if history.first else started
    elapsed = f"{clock(min(planned_s, time.time() - since))} / {clock(planned_s)}"
    if row is None:
        return f"{elapsed}  starting Locust"
    requests, failures = int(row["Total Request Count"]), int(row["Total Failure Count"])
    p95 = row.get("95%", "N/A")
    return (f"{elapsed}  {history.rps():,.0f} req/s  errors {failures:,} "
            f"({failures / requests if requests else 0:.2%})  p95 {p95 if p95 != 'N/A' else '-'} ms  "
            f"({requests:,} requests)")


def pages_line(pages: int, events: int) -> str:
    return f"reconciling: {pages:,} pages of /_harness/events read ({events:,} stored events)"
