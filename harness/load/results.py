"""What a load run measured, read back after Locust has quit: its stats and errors, and what the endpoint stored.

The stats come from the final stats :mod:`harness.load.user` writes when Locust quits
(:data:`harness.load.files.FINAL_STATS`): Locust's own ``--csv`` files are rewritten once a second (and
flushed every few), so they can miss the run's last second, and are read only when Locust died before
quitting.  The stored uuids come from the endpoint's ``/_harness/events`` inspection API, for the ledger
(:mod:`harness.load.ledger`) to reconcile with what was sent, over the run's TLS settings and with its extra
headers (:mod:`harness.tls`); a certificate that does not verify is reported as such, not as a missing API.

Those lookups use the contract suite's client (:class:`harness.contract.client.Client`: no redirect followed, a
total deadline per request, at most :data:`harness.contract.client.INSPECT_MAX_BYTES` read per page), and
whatever the target answers, they never raise past :func:`delivery`: a target that stopped answering, answers
something that is not HTTP, wants an inspection token, or answers 200 without being the reference server (a
catch-all proxy) leaves the delivery unchecked, with that reason in the summary.
"""

from __future__ import annotations

import csv
import json
import re
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from harness import tls
from harness.checks import excerpt
from harness.contract.client import (
    AnswerTooLargeError,
    Client,
    NoAnswerError,
    NotHTTPError,
    TLSError,
    inspection_refused,
)
from harness.load import files, ledger
from harness.load.options import LoadOptions
from harness.server.process import inspect_headers

T = TypeVar("T")

TOKEN_OPTION = "--inspect-token"
"""How ``capture-harness load`` takes the inspection token, named in a refusal."""


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


class InspectionError(Exception):
    """The inspection API could not be read (to the end): the message says why, for the summary."""


PROBE_TIMEOUT_S, PAGE_TIMEOUT_S = 10.0, 30.0
"""Deadlines of the inspection probe and of each page (the whole answer, not each read)."""


def delivery(report_dir: Path, url: str, options: LoadOptions, since_ms: int,
             on_page: Callable[[int], None] | None = None) -> ledger.Reconciliation:
    """The run's ledgers reconciled with what ``url`` stored (not checked without an inspection API, or when it
    cannot be read: the reconciliation then says why); ``on_page(events)`` after each page read."""
    context = tls.ssl_context(options.ca_bundle, options.insecure)
    try:
        headers = {**tls.parse_headers(options.headers), **inspect_headers(options.inspect_token)}
        stored = stored_uuids(url, options.api_key, since_ms, context=context, headers=headers, on_page=on_page)
        return ledger.reconcile(report_dir, stored)
    except (InspectionTLSError, InspectionError) as error:
        return ledger.reconcile(report_dir, None, unchecked=str(error))


def stored_uuids(url: str, api_key: str, since_ms: int, *, context: ssl.SSLContext | None = None,
                 headers: dict[str, str] | None = None,
                 on_page: Callable[[int], None] | None = None) -> Iterator[str] | None:
    """Every uuid the endpoint stored for this token since the run started, via ``/_harness/events``
    (None when the target has no inspection API; :class:`InspectionTLSError` when its certificate does not
    verify; :class:`InspectionError`, also while iterating, when it cannot be read)."""
    token_given = any(name.lower() == "x-capture-harness-token" for name in headers or {})
    client = Client(url, PROBE_TIMEOUT_S, context=context, headers=headers)
    status, document = get_json(client, "/_harness/stats")
    refused = inspection_refused(status, document, token_given, token_option=TOKEN_OPTION)
    if refused:
        client.close()
        raise InspectionError(refused)
    if not (status == 200 and isinstance(document, dict) and "requests" in document):
        client.close()
        return None  # a catch-all proxy's 200 {} or not JSON, a 404: not the reference server's API
    client.timeout = PAGE_TIMEOUT_S
    since = since_param(since_ms)

    def pages() -> Iterator[str]:
        after: int | None = 0
        try:
            while True:
                query = urlencode({"token": api_key, "since": since, "after": after, "limit": 1000})
                events, after = read_page(*get_json(client, f"/_harness/events?{query}"), token_given)
                if on_page is not None:
                    on_page(len(events))
                yield from events
                if after is None:
                    return
        finally:
            client.close()

    return pages()


def since_param(since_ms: int) -> str:
    """``since=`` of ``/_harness/events`` for a time in ms since the epoch: epoch seconds, to the millisecond."""
    return f"{since_ms // 1000}.{since_ms % 1000:03d}"


def get_json(client: Client, target: str) -> tuple[int, Any]:
    """``GET target``: its status and JSON (None when not JSON); what went wrong as an :class:`InspectionError`."""
    return ask(lambda: client.get_json(target))


def ask(call: Callable[[], T]) -> T:
    """``call()``, an inspection request: what went wrong as an :class:`InspectionError` (or
    :class:`InspectionTLSError`)."""
    try:
        return call()
    except TLSError as error:
        raise InspectionTLSError(str(error)) from None
    except NotHTTPError as error:
        raise InspectionError(f"the target's answer is not HTTP ({error})") from None
    except NoAnswerError as error:
        why = "answered more than a page of the inspection API holds" if isinstance(error, AnswerTooLargeError) \
            else "stopped answering"
        raise InspectionError(f"the target {why} ({error})") from None


def read_page(status: int, page: Any, token_given: bool) -> tuple[list[str], int | None]:
    """One page's uuids and where the next starts (None: the last); anything else is an :class:`InspectionError`."""
    refused = inspection_refused(status, page, token_given, token_option=TOKEN_OPTION)
    if refused:
        raise InspectionError(refused)
    events = page.get("events") if status == 200 and isinstance(page, dict) else None
    after = page.get("next_after") if isinstance(page, dict) else None
    uuids = [event.get("uuid") for event in events if isinstance(event, dict)] if isinstance(events, list) else []
    if (not isinstance(events, list) or len(uuids) != len(events) or not all(isinstance(u, str) for u in uuids)
            or not (after is None or (isinstance(after, int) and not isinstance(after, bool)))):
        shown = excerpt(json.dumps(page, default=str).encode()) if page is not None else "a body that is not JSON"
        raise InspectionError(f"GET /_harness/events answered {status} with {shown}, not a page of the reference "
                              "server's inspection API")
    return [u for u in uuids if isinstance(u, str)], after
