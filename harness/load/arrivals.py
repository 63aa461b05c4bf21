"""Open-model arrival plans: when each planned request is due, and which were missed.

A closed-loop generator (a Locust user waits for each answer before sending again) sends less when the
endpoint slows down, so its percentiles hide the slowdown ("coordinated omission").  In the open model the
requests are planned in advance: :class:`ArrivalPlan` fixes a rate (this process's share of the total),
optionally ramped linearly from 0 over ``ramp_s`` seconds, and slot ``k`` (k = 0, 1, 2, ...) is due when
the planned cumulative count reaches ``k``::

    N(t) = rate * t**2 / (2 * ramp_s)          during the ramp (t < ramp_s)
    N(t) = rate * ramp_s / 2 + rate * (t - ramp_s)   afterwards

:class:`Schedule` hands the slots out, in order, to whichever user asks next (users ask as soon as they are
free, then sleep until their slot is due).  When every user is busy as slots fall due, the next free user
gets a slot that is already late; its latency is measured from the slot's due time.  A slot more than
``max_lag_s`` (:data:`MAX_LAG_S`) behind when a user gets to it is **missed**: it is not sent, it is
counted, and its lag at that moment (a lower bound of the latency it would have had) is returned so it can
be recorded.  Nothing is dropped silently.

Pure arithmetic on a caller-supplied clock: no sleeping, no locust, no gevent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_LAG_S = 1.0
"""A planned send that is more than this many seconds late when a user becomes free is missed, not sent."""

USERS_PER_RATE = 1 / 20
"""Default open-model concurrency: one user per 20 requests/s (so the plan keeps up while answers take up
to 50 ms), and at least :data:`MIN_USERS`."""
MIN_USERS = 20


def default_users(rate: float) -> int:
    """Users for an arrival rate when none are given: ``max(20, ceil(rate / 20))``."""
    return max(MIN_USERS, math.ceil(rate * USERS_PER_RATE))


@dataclass(frozen=True)
class ArrivalPlan:
    """``rate`` requests/s (after the ramp), reached linearly from 0 over ``ramp_s`` seconds."""

    rate: float
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.rate > 0 or math.isinf(self.rate):
            raise ValueError(f"rate must be a positive number of requests/s, got {self.rate!r}")
        if not self.ramp_s >= 0 or math.isinf(self.ramp_s):
            raise ValueError(f"ramp_s must be zero or a positive number of seconds, got {self.ramp_s!r}")

    @property
    def _ramp_slots(self) -> float:
        return self.rate * self.ramp_s / 2

    def due(self, t: float) -> float:
        """Requests planned in the first ``t`` seconds (continuous)."""
        if t <= 0:
            return 0.0
        if t < self.ramp_s:
            return self.rate * t * t / (2 * self.ramp_s)
        return self._ramp_slots + self.rate * (t - self.ramp_s)

    def time_of(self, k: int) -> float:
        """Seconds after the start at which slot ``k`` is due."""
        if k < self._ramp_slots:
            return math.sqrt(2 * k * self.ramp_s / self.rate)
        return self.ramp_s + (k - self._ramp_slots) / self.rate

    def slots_before(self, t: float) -> int:
        """How many slots are due strictly before ``t`` seconds (the index of the first one due at or after)."""
        k = max(0, math.ceil(self.due(t) - 1e-9))
        # float rounding at slot boundaries: settle on the exact count
        while k > 0 and self.time_of(k - 1) >= t:
            k -= 1
        while self.time_of(k) < t:
            k += 1
        return k


@dataclass
class Claim:
    """The slot a user got: ``due`` on the schedule's clock, and the lags (s) of the slots it skipped."""

    due: float
    missed_lags: list[float] = field(default_factory=list)


class Schedule:
    """One process's slots, handed out in order; counts what was planned, sent and missed.

    ``start`` and every ``now`` are readings of the same monotonic clock (``time.perf_counter()``).
    """

    def __init__(self, plan: ArrivalPlan, start: float, max_lag_s: float = MAX_LAG_S) -> None:
        if not max_lag_s > 0:
            raise ValueError(f"max_lag_s must be positive, got {max_lag_s!r}")
        self.plan = plan
        self.start = start
        self.max_lag_s = max_lag_s
        self.sent = 0
        self.missed = 0
        self.stopped: float | None = None
        self._next = 0

    def claim(self, now: float) -> Claim:
        """The next slot (due now, later, or up to ``max_lag_s`` ago); slots further behind are skipped as
        missed.  The caller sleeps until ``due`` (never sends early) and then calls :meth:`sent_one`."""
        k = self._next
        due = self.start + self.plan.time_of(k)
        lags: list[float] = []
        oldest = now - self.max_lag_s
        if due < oldest:
            first_kept = self.plan.slots_before(oldest - self.start)
            lags = [now - (self.start + self.plan.time_of(j)) for j in range(k, first_kept)]
            self.missed += len(lags)
            k = first_kept
            due = self.start + self.plan.time_of(k)
        self._next = k + 1
        return Claim(due, lags)

    def sent_one(self) -> None:
        self.sent += 1

    def stop(self, now: float) -> None:
        """The test stopped: slots due after ``now`` are no longer planned."""
        if self.stopped is None:
            self.stopped = now

    def counts(self, now: float) -> dict[str, float]:
        """Planned (due before the stop, or before ``now`` while running), sent, missed (skipped, more than
        ``max_lag_s`` late), unsent (due, not yet sent nor missed: the backlog at the stop) and the window."""
        end = self.stopped if self.stopped is not None else now
        window = max(0.0, end - self.start)
        planned = self.plan.slots_before(window)
        return {"rate": self.plan.rate, "window_s": window, "planned": planned, "sent": self.sent,
                "missed": self.missed, "unsent": max(0, planned - self.sent - self.missed)}
