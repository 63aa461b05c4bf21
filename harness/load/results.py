"""What a load run measured, read back after Locust has quit: its stats and errors, and what the endpoint stored.

The stats come from the final stats :mod:`harness.load.user` writes when Locust quits
(:data:`harness.load.files.FINAL_STATS`): Locust's own ``--csv`` files are rewritten once a second (and
flushed every few), so they can miss the run's last second, and are read only when Locust died before
quitting.  The stored uuids come from the endpoint's ``/_harness/events`` inspection API, for the ledger
(:mod:`harness.load.ledger`) to reconcile with what was sent, over the run's TLS settings and with its extra
headers (:mod:`harness.tls`); a certificate that does not verify is reported as such, not as a missing API.
"""

from __future__ import annotations

import csv
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from harness import tls
from harness.load import files, ledger
from harness.load.options import LoadOptions
from harness.server.process import inspect_headers


def read_results(report_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's stats rows (the last one :data:`harness.load.files.TOTAL`) and errors."""
    final = report_dir / files.FINAL_STATS
    if final.is_file():
        data = json.loads(final.read_text())
        stats = [{k: row[k] for k in ("name", *files.STATS_FIGURES)} for row in [*data["entries"], data["aggregated"]]]
        failures = [{"name": e["name"], "error": _title(e["error"]), "occurrences": e["occurrences"]}
                    for e in data["errors"]]
        return stats, failures
    return read_stats(report_dir / files.STATS_CSV), read_failures(report_dir / files.FAILURES_CSV)


def read_stats(path: Path) -> list[dict[str, Any]]:
    """Locust's per-name stats CSV as numbers (milliseconds, counts, rates)."""
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({
                "name": row["Name"], "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]), "p50": _ms(row["50%"]), "p95": _ms(row["95%"]),
                "p99": _ms(row["99%"]), "max": _ms(row["Max Response Time"]),
            })
    return rows


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)


def read_failures(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{"name": row["Name"], "error": _title(row["Error"]), "occurrences": int(row["Occurrences"])}
                for row in csv.DictReader(handle)]


def _title(error: str) -> str:
    """The failure's own title, without the ``CatchResponseError('...')`` wrapper Locust puts around it."""
    wrapped = re.fullmatch(r"CatchResponseError\((['\"])(.*)\1\)", error)
    return wrapped.group(2) if wrapped else error


class InspectionTLSError(Exception):
    """The inspection API's certificate did not verify; the message says so and what to pass."""


def delivery(report_dir: Path, url: str, options: LoadOptions, since_ms: int,
             on_page: Callable[[int], None] | None = None) -> ledger.Reconciliation:
    """The run's ledgers reconciled with what ``url`` stored (not checked without an inspection API, or when its
    certificate does not verify: the reconciliation then says why); ``on_page(events)`` after each page read."""
    context = tls.ssl_context(options.ca_bundle, options.insecure)
    try:
        headers = {**tls.parse_headers(options.headers), **inspect_headers(options.inspect_token)}
        stored = stored_uuids(url, options.api_key, since_ms, context=context, headers=headers, on_page=on_page)
    except InspectionTLSError as error:
        return ledger.reconcile(report_dir, None, unchecked=str(error))
    return ledger.reconcile(report_dir, stored)


def stored_uuids(url: str, api_key: str, since_ms: int, *, context: ssl.SSLContext | None = None,
                 headers: dict[str, str] | None = None,
                 on_page: Callable[[int], None] | None = None) -> Iterator[str] | None:
    """Every uuid the endpoint stored for this token since the run started, via ``/_harness/events``
    (None when the target has no inspection API; :class:`InspectionTLSError` when its certificate does not
    verify)."""
    def get(target: str, timeout: float) -> bytes:
        request = urllib.request.Request(f"{url}{target}", headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:
            return bytes(reply.read())

    try:
        get("/_harness/stats", 10)
    except (urllib.error.URLError, OSError) as error:
        if tls.is_verification_error(error):
            raise InspectionTLSError(tls.verification_failed(url, error)) from None
        return None

    since = f"{since_ms // 1000}.{since_ms % 1000:03d}"  # epoch seconds, to the millisecond

    def pages() -> Iterator[str]:
        after = 0
        while True:
            query = urlencode({"token": api_key, "since": since, "after": after, "limit": 1000})
            page = json.loads(get(f"/_harness/events?{query}", 30))
            if on_page is not None:
                on_page(len(page["events"]))
            for event in page["events"]:
                yield event["uuid"]
            if page["next_after"] is None:
                return
            after = page["next_after"]

    return pages()
