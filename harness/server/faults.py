"""Faults the reference server can inject, to exercise clients, retries and the delivery ledger.

- **latency**: every capture request waits ``latency_ms`` plus or minus up to ``jitter_ms``;
- **errors**: a fraction ``error_rate`` of requests is answered with one of ``error_statuses``
  (503, 500 or 429) and a ``Retry-After`` header, before anything is stored;
- **stalls**: every ``stall_every_s`` seconds the server stops answering for ``stall_for_s`` seconds;
- **drops**: a fraction ``drop_rate`` of valid requests is answered 200 but *not stored*, the loss an
  acknowledged-delivery check (the ledger) must catch;
- **per-event retries** (v1 only): a fraction ``event_retry_rate`` of the events v1 would store is
  answered ``{"result": "retry", "details": "not_persisted"}`` inside the 200 (with ``Retry-After: 1``)
  and not stored, capture's retriable sink error (capture-v1.md §4.6 step 9), to drive partial retries;
- **hot distinct ids** (v1 only): past ``distinct_id_limit_per_s`` events in one second for one
  ``token:distinct_id``, v1 answers ``warning`` / ``person_processing_disabled`` and stores the event with
  person processing off, capture's per-distinct-id limiter (§4.6 step 8); 0 turns it off.

The request-level faults apply to v0 and v1 alike (v1 answers them with its JSON error body).  Only capture routes are affected; ``/_harness/`` and the health checks never are.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

ERROR_TEXTS = {500: "internal error", 503: "transient error, please retry", 429: "rate limited"}
"""Capture's texts for the statuses the error fault answers (contract §7.2)."""

MAX_RETRY_AFTER_S = 86_400
MAX_DISTINCT_ID_LIMIT = 1_000_000_000
_MAXIMA = {"latency_ms": 3_600_000.0, "jitter_ms": 3_600_000.0, "stall_every_s": 86_400.0, "stall_for_s": 86_400.0}
"""The largest value of each duration setting: an hour of latency, a day between or of stalls."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shown(value: object) -> str:
    """``value`` as JSON text, for an error message (never Python's repr); cut to 80 characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = json.dumps(str(value), ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503,)
    retry_after_s: int = 1
    stall_every_s: float = 0.0
    stall_for_s: float = 0.0
    drop_rate: float = 0.0
    event_retry_rate: float = 0.0
    distinct_id_limit_per_s: int = 0

    def __post_init__(self) -> None:
        for name, most in _MAXIMA.items():
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= most:  # also refuses NaN
                raise ValueError(f"{name} must be a number from 0 to {int(most)}, got {shown(value)}")
        if not _is_number(self.retry_after_s) or not float(self.retry_after_s).is_integer() \
                or not 0 <= self.retry_after_s <= MAX_RETRY_AFTER_S:
            raise ValueError(f"retry_after_s must be a whole number of seconds from 0 to {MAX_RETRY_AFTER_S}, "
                             f"got {shown(self.retry_after_s)}")
        object.__setattr__(self, "retry_after_s", int(self.retry_after_s))
        for name in ("error_rate", "drop_rate", "event_retry_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a fraction between 0 and 1, got {shown(value)}")
        limit = self.distinct_id_limit_per_s
        if not _is_number(limit) or not float(limit).is_integer() or not 0 <= limit <= MAX_DISTINCT_ID_LIMIT:
            raise ValueError(f"distinct_id_limit_per_s must be a whole number of events from 0 to "
                             f"{MAX_DISTINCT_ID_LIMIT}, got {shown(limit)}")
        object.__setattr__(self, "distinct_id_limit_per_s", int(limit))
        statuses = self.error_statuses
        if not statuses or any(not _is_number(s) or not isinstance(s, int) or s not in ERROR_TEXTS for s in statuses):
            raise ValueError(f"error_statuses must be a list of statuses among {', '.join(map(str, ERROR_TEXTS))}, "
                             f"got {shown(list(statuses))}")
        if self.stall_for_s and self.stall_for_s >= self.stall_every_s:
            raise ValueError("stall_for_s must be shorter than stall_every_s, or the server never answers")

    @classmethod
    def from_json(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        """Faults from a JSON object (the ``/_harness/faults`` body): named fields replace ``base``'s."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings {', '.join(map(shown, sorted(unknown)))}; "
                             f"known: {', '.join(sorted(known))}")
        if "error_statuses" in data:
            if not isinstance(data["error_statuses"], list):
                raise ValueError(f"error_statuses must be a list of statuses, got {shown(data['error_statuses'])}")
            data = {**data, "error_statuses": tuple(data["error_statuses"])}
        return replace(base or cls(), **data)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "error_statuses": list(self.error_statuses)}

    @property
    def active(self) -> bool:
        return self != Faults()


class FaultPlan:
    """Decides, request by request, which fault applies; seeded so a run can be repeated."""

    def __init__(self, faults: Faults, seed: int | None = None) -> None:
        self._seed = seed
        self._lock = threading.Lock()  # the distinct-id counts are shared with the pipeline threads
        self.use(faults)

    def use(self, faults: Faults) -> None:
        """Switch to ``faults`` and start over, as a fresh plan would: the random draws from the seed
        again, the stall cycle from now (so a run that sets its faults is repeatable)."""
        self.faults = faults
        self._random = random.Random(self._seed)
        self._started = time.monotonic()
        self._window, self._seen = -1, Counter[str]()

    def delay_s(self) -> float:
        """How long this request waits: the stall left at this moment, plus latency with jitter."""
        f = self.faults
        wait = 0.0
        if f.stall_every_s and f.stall_for_s:
            phase = (time.monotonic() - self._started) % f.stall_every_s
            if phase < f.stall_for_s:
                wait += f.stall_for_s - phase
        if f.latency_ms or f.jitter_ms:
            wait += max(0.0, f.latency_ms + self._random.uniform(-f.jitter_ms, f.jitter_ms)) / 1000
        return wait

    def error_status(self) -> int | None:
        f = self.faults
        if f.error_rate and self._random.random() < f.error_rate:
            return self._random.choice(f.error_statuses)
        return None

    def drops(self) -> bool:
        return bool(self.faults.drop_rate) and self._random.random() < self.faults.drop_rate

    def over_distinct_id_limit(self, key: str, second: int) -> bool:
        """Whether this event of ``key`` (``token:distinct_id``) is past ``distinct_id_limit_per_s`` in the
        wall-clock ``second`` it arrived in; the counts start over every second (memory: one second's keys)."""
        limit = self.faults.distinct_id_limit_per_s
        if not limit:
            return False
        with self._lock:
            if second != self._window:
                self._window, self._seen = second, Counter()
            self._seen[key] += 1
            return self._seen[key] > limit

    def retries_event(self) -> bool:
        """Whether this v1 event is answered ``retry`` instead of being stored (one draw per event)."""
        return bool(self.faults.event_retry_rate) and self._random.random() < self.faults.event_retry_rate
