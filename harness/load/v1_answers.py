"""The v1 scenario's answers, read as posthog-python 7.91.1 and posthog-node 5.70.0 read them (capture-v1.md §6),
and the resends they call for.  Plain functions: no Locust, no waiting; the Locust user
(:mod:`harness.load.user`) sends, keeps the due resends and records the outcomes in the ledger.

A v1 request is an :class:`Attempt`: what goes on the wire this time, the corpus case it came from (whose
``event_span`` places its events in the ledger) and which of that case's events it carries.  :func:`judge`
turns the answer into an :class:`Outcome`, event by event:

- a 2xx's ``results`` must hold every request uuid, keyed by its canonical form, and be the §5.1 JSON
  (else a failure titled from :class:`harness.checks.Title`); ``ok``, ``warning`` (and the older ``limited``)
  acknowledge their event, ``drop`` counts it under its ``details`` tag, ``retry`` resends it; an event
  without a result settles nothing (the SDKs take it for a success: the ledger only has the answer's word);
- a whole-request 404, 408, 429, 500, 502, 503 or 504, or no answer at all, resends every event; any other
  status is terminal (400, 401, 402, 413, 415, 501, ...).

:func:`resend` builds the next attempt: the same ``PostHog-Request-Id``, ``created_at`` and event uuids and
timestamps, ``PostHog-Attempt`` + 1, a ``PostHog-Request-Timestamp`` advanced by the time since attempt 1
(the SDKs regenerate it; advancing the seeded one keeps the endpoint's skew correction, which only shifts
stored times, the same as for attempt 1), and only the retried events, re-encoded as the original was (the
original bytes when every event is resent).  It is due after :func:`delay_s`: the SDK's backoff, or
``Retry-After`` when longer, both clamped to 30 s.  After :data:`MAX_ATTEMPTS` the events are given up,
as the SDKs lose them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from harness.checks import (
    Case,
    Failure,
    Reply,
    Title,
    excerpt,
    expected_status_answered,
    first_failure,
    no_server_error,
)
from harness.load.outcomes import OutcomeLedger
from harness.spec.jsontext import to_json

RETRYABLE = frozenset({0, 404, 408, 429, 500, 502, 503, 504})
"""Whole-request answers both SDKs resend (§6; 0: no answer, a transport error).  429 is the newer reading
(§8 #3): PY 7.42.0, JS 5.50.0 and posthog-rs give up on it."""
MAX_ATTEMPTS = 4
"""Requests per batch: ``max_retries + 1`` (Python) and ``fetchRetryCount + 1`` (Node), 3 + 1 by default."""
MAX_DELAY_S = 30.0
"""Both the backoff and ``Retry-After`` are clamped to 30 s (§6)."""
ACKNOWLEDGING = frozenset({"ok", "warning", "limited"})
"""Results the endpoint stored the event under (``limited``: older revisions' ``warning``, §8 #4)."""
ANSWER_HEADERS = ("content-type", "retry-after", "posthog-request-id")
"""The answer headers :func:`judge` reads (lower case)."""
_STATUS_CHECKS = (no_server_error, expected_status_answered)
_OLDER = frozenset({"result-limited"})


@dataclass(frozen=True)
class Attempt:
    """One send of some of a v1 corpus case's events."""

    case: Case
    """What goes on the wire this time (for attempt 1, the corpus case itself)."""
    origin: Case
    """Attempt 1's case: its ``event_span`` places the events in the ledger."""
    positions: tuple[int, ...]
    """Each event of ``case``, by its index among ``origin``'s events."""
    number: int = 1
    first_sent: float = 0.0
    """When attempt 1 was sent (``time.monotonic()``): how far the resend's request timestamp moves on."""
    document: Mapping[str, Any] | None = None
    """``origin``'s body decoded, once a partial resend needed it (kept for the next one)."""

    @property
    def places(self) -> tuple[int, int]:
        """(chunk, first index) of ``origin``'s events in its stream: position ``p`` is event ``first + p``."""
        assert self.origin.event_span is not None  # a corpus case
        return self.origin.event_span[0], self.origin.event_span[1]


def first(case: Case, now: float) -> Attempt:
    """Attempt 1 of a corpus case, sent at ``now``."""
    return Attempt(case, case, tuple(range(len(case.uuids))), 1, now)


@dataclass(frozen=True)
class Outcome:
    """What an answer says of each event of an attempt, by position (see :attr:`Attempt.positions`)."""

    failure: Failure | None
    acknowledged: tuple[int, ...] = ()
    dropped: tuple[tuple[int, str], ...] = ()
    """(position, ``details`` tag; ``""`` when the drop carried none)."""
    retry: tuple[int, ...] = ()
    retry_after_s: float | None = None
    """The answer's ``Retry-After`` in seconds (None: absent or unreadable)."""


def judge(attempt: Attempt, reply: Reply) -> Outcome:
    """The outcome of ``attempt``'s answer (``reply.status`` 0: none came; the caller names that failure)."""
    retry_after = retry_after_s(reply.headers.get("retry-after"))
    case, status = attempt.case, reply.status
    if not 200 <= status < 300:
        failure = first_failure(case, reply, _STATUS_CHECKS) if status else None
        return Outcome(failure, retry=attempt.positions if status in RETRYABLE else (), retry_after_s=retry_after)
    results = _results(reply)
    keys = _keys_failure(case, results) if results is not None else None
    if results is None or not _conformant(results if keys is None else
                                          {uuid: results[uuid] for uuid in case.uuids if uuid in results}):
        return Outcome(Failure(Title.V1_SUCCESS_BODY_NOT_CONFORMANT,
                               f"{case.name}: answered {status} with {excerpt(reply.body)}"))
    acknowledged: list[int] = []
    dropped: list[tuple[int, str]] = []
    retry: list[int] = []
    for position, uuid in zip(attempt.positions, case.uuids):
        entry = results.get(uuid)
        if entry is None:
            continue
        result = entry["result"]
        if result == "retry":
            retry.append(position)
        elif result == "drop":
            dropped.append((position, entry.get("details", "")))
        elif result in ACKNOWLEDGING:
            acknowledged.append(position)
    failure = first_failure(case, reply, _STATUS_CHECKS) or keys or _header_failure(case, reply, bool(retry))
    return Outcome(failure, tuple(acknowledged), tuple(dropped), tuple(retry), retry_after)


def unanswered(attempt: Attempt, failure: Failure) -> Outcome:
    """No answer (refused, reset, timed out, the body broken off): every event resent, as the SDKs do."""
    return Outcome(failure, retry=attempt.positions)


def _results(reply: Reply) -> dict[str, Any] | None:
    """The 2xx's ``results`` object, None when the answer is no JSON object holding one."""
    if not reply.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        document = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return None
    results = document.get("results") if isinstance(document, dict) and document.keys() == {"results"} else None
    return results if isinstance(results, dict) else None


def _conformant(results: dict[str, Any]) -> bool:
    """The entries are the §5.1 JSON (the judge's schema, jsonschema-rs), or an older revision's, whose
    ``limited`` is the newer ``warning`` (§8 #4: read only when the newest schema refused them)."""
    from harness.spec.v1.validation import validate_response  # jsonschema-rs: once a 2xx came

    document = {"results": results}
    return validate_response(document).accepted or validate_response(document, variants=_OLDER).accepted


def _keys_failure(case: Case, results: Mapping[str, Any]) -> Failure | None:
    """Keys other than exactly the request's uuids (the corpus sends them canonical: lower-case, hyphenated);
    the entries under the request's uuids still count."""
    if results.keys() == set(case.uuids):
        return None
    missing = len(set(case.uuids) - results.keys())
    extra = len(results.keys() - set(case.uuids))
    return Failure(Title.V1_RESULT_KEYS_MISMATCH, f"{case.name}: {len(case.uuids)} events sent, {len(results)} "
                                                  f"results: {missing} uuids without a result, {extra} other keys")


def _header_failure(case: Case, reply: Reply, retried: bool) -> Failure | None:
    """``Retry-After`` exactly when a result is ``retry``; ``PostHog-Request-Id`` echoed byte for byte (§5.1)."""
    if retried != ("retry-after" in reply.headers):
        title = Title.V1_RETRY_AFTER_MISSING if retried else Title.V1_RETRY_AFTER_UNEXPECTED
        return Failure(title, f"{case.name}: answered {reply.status}, Retry-After "
                              f"{reply.headers.get('retry-after', 'absent')!r}")
    sent = case.request.headers.get("PostHog-Request-Id")
    if reply.headers.get("posthog-request-id") != sent:
        return Failure(Title.V1_REQUEST_ID_NOT_ECHOED, f"{case.name}: sent {sent!r}, answered "
                                                       f"{reply.headers.get('posthog-request-id')!r}")
    return None


class Resends:
    """One user's resends, each waiting for its time (a heap by due time): the user takes a due one before a new
    case, so nothing waits or sleeps; :meth:`settle` records an answer's outcomes and queues its retries.  The
    queue holds what the last ~30 s of answers asked to resend, at most :data:`MAX_ATTEMPTS` - 1 per request."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Attempt, tuple[int, ...]]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def due(self, now: float) -> Attempt | None:
        """The earliest resend due by ``now`` (``time.monotonic()``), built now (its request timestamp fresh)."""
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, attempt, positions = heapq.heappop(self._heap)
        return resend(attempt, positions, now)

    def settle(self, ledger: OutcomeLedger, attempt: Attempt, outcome: Outcome, now: float) -> None:
        """Record ``outcome`` in ``ledger`` and queue its retries (given up after :data:`MAX_ATTEMPTS`)."""
        chunk, first = attempt.places
        for start, count in runs(outcome.acknowledged):
            ledger.acknowledge(chunk, first + start, count)
        for position, tag in outcome.dropped:
            ledger.drop(chunk, first + position, tag)
        for position in outcome.retry:
            ledger.retry(chunk, first + position)
        if attempt.number >= MAX_ATTEMPTS:
            for position in outcome.retry:
                ledger.give_up(chunk, first + position)
        elif outcome.retry:
            due = now + delay_s(attempt, outcome.retry_after_s)
            heapq.heappush(self._heap, (due, next(self._order), attempt, outcome.retry))


def runs(positions: tuple[int, ...]) -> list[tuple[int, int]]:
    """Ascending ``positions`` as (first, count) runs of consecutive ones: an all-ok answer is one range."""
    if not positions or positions[-1] - positions[0] == len(positions) - 1:  # one run (or none): most answers
        return [(positions[0], len(positions))] if positions else []
    found: list[tuple[int, int]] = []
    for position in positions:
        if found and found[-1][0] + found[-1][1] == position:
            found[-1] = (found[-1][0], found[-1][1] + 1)
        else:
            found.append((position, 1))
    return found


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds()) if when.tzinfo else None


def delay_s(attempt: Attempt, retry_after: float | None) -> float:
    """How long after ``attempt`` failed its resend is due: the SDK's backoff (Python 1, 2, 4 s; Node 3, 6,
    12 s), or ``Retry-After`` when that is longer, each clamped to :data:`MAX_DELAY_S`."""
    node = attempt.origin.request.headers.get("PostHog-Sdk-Info", "").startswith("posthog-node")
    backoff = 3.0 * 2 ** (attempt.number - 1) if node else 2.0 ** (attempt.number - 1)
    return max(min(backoff, MAX_DELAY_S), min(retry_after or 0.0, MAX_DELAY_S))


def resend(attempt: Attempt, positions: tuple[int, ...], now: float) -> Attempt:
    """The next attempt of ``attempt``'s request, carrying the events at ``positions`` (see the module text)."""
    origin = attempt.origin
    headers = {**origin.request.headers, "PostHog-Attempt": str(attempt.number + 1),
               "PostHog-Request-Timestamp": _advanced(origin.request.headers["PostHog-Request-Timestamp"],
                                                      now - attempt.first_sent)}
    document = attempt.document
    if positions == attempt.positions:  # the same events: the same bytes
        body, uuids = attempt.case.request.body, attempt.case.uuids
    else:
        if document is None:
            document = _decoded(origin)
        events = document["batch"]
        body = wire_body({**document, "batch": [events[p] for p in positions]}, headers.get("Content-Encoding"))
        uuids = tuple(origin.uuids[p] for p in positions)
    request = replace(origin.request, headers=headers, body=body)
    case = Case(f"{origin.name} retry", request, 200, uuids=uuids)
    return Attempt(case, origin, positions, attempt.number + 1, attempt.first_sent, document)


def _decoded(case: Case) -> Mapping[str, Any]:
    from harness.spec.v1.model import Finding
    from harness.spec.v1.validation import decode_body  # the judge's decoding: gzip, deflate, ...

    document = decode_body(case.request.body, case.request.headers.get("Content-Encoding"), "$", frozenset())
    if not isinstance(document, Finding):
        return dict(document)
    raise ValueError(f"{case.name}: the corpus body does not decode ({document.message})")  # it always does


def _advanced(timestamp: str, seconds: float) -> str:
    """``timestamp`` (RFC 3339, UTC) ``seconds`` later, in the same SDK's format: Node's milliseconds and ``Z``,
    Python's ``isoformat()`` (microseconds and ``+00:00``)."""
    when = datetime.fromisoformat(timestamp) + timedelta(seconds=seconds)
    if timestamp.endswith("Z"):
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.isoformat()


def wire_body(document: Any, encoding: str | None) -> bytes:
    """A v1 body as its SDK puts it on the wire under ``Content-Encoding: encoding`` (None: as JSON text)."""
    from harness.contract.v1_cases import compress  # the contract suite's: one way to compress a v1 body

    return compress(to_json(document), encoding)

