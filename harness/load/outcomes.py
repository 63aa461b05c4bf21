"""Per-event outcomes in the delivery ledger: what a v1 answer said of each event, beside sent and acknowledged.

A v1 200 says per event what became of it (capture-v1.md §5.1), so :mod:`harness.load.ledger`'s "a 2xx
acknowledges the request's events" does not hold: the v1 user records the request with ``per_event=True``
(sent, nothing acknowledged) and then each event's result in an :class:`OutcomeLedger`:

- ``ok`` and ``warning`` acknowledge the event (it must then be stored, else it is lost);
- ``drop`` sets its bit in the chunk's *dropped* bitmap and counts its ``details`` tag: it must not be
  stored (reconciliation counts those stored anyway, :attr:`PerEvent.stored_after_drop`, which fails a run);
- ``retry`` (or a retryable whole-request status) sets its bit in the *retrying* bitmap; the answer to a
  resend settles it (acknowledged or dropped: *resolved*), or the resends run out (*given up*, as the SDKs
  lose such events).  Bits still set when the run ends are the *unresolved* retries: never acknowledged,
  so never counted lost.

The two bitmaps live in the ledger's own records (after sent and acknowledged, only for chunks that have
them), so they are checkpointed, sealed, shipped to a master and merged like the others.  The tag counts
and retry tallies go in the ledger file's header, rewritten at each compaction and at close.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from harness.load.files import LEDGER_GLOB
from harness.load.ledger import LedgerWriter, Tally, count_bits, set_bits


@dataclass(frozen=True)
class PerEvent:
    """A run's per-event figures (:attr:`harness.load.ledger.Reconciliation.per_event`)."""

    dropped: int = 0
    drops_by_tag: dict[str, int] = field(default_factory=dict)
    stored_after_drop: int = 0
    """Events answered ``drop`` that are in the store (0 when the store could not be read)."""
    retried: int = 0
    """``retry`` answers, per event and answer (an event answered retry twice counts twice)."""
    resolved_retries: int = 0
    unresolved_retries: int = 0
    """Events still waiting for a resend when the run ended."""
    retries_given_up: int = 0


class OutcomeLedger(LedgerWriter):
    """A :class:`LedgerWriter` that also takes each event's result."""

    def __init__(self, directory: Path, scenario: str, seed: int, stream: int) -> None:
        super().__init__(directory, scenario, seed, stream)
        self.drops: Counter[str] = Counter()
        """Events answered ``drop``, by ``details`` tag."""
        self.retries: Counter[str] = Counter()
        """``answered`` (retry answers), ``resolved`` and ``given_up``."""
        self.header["outcomes"] = {"drops": self.drops, "retries": self.retries}  # written as they are then

    def acknowledge(self, chunk: int, index: int, count: int = 1) -> None:
        """``ok`` or ``warning``: acknowledged, and a pending retry of theirs resolved."""
        super().acknowledge(chunk, index, count)
        self.retries["resolved"] += clear_bits(self._bits(chunk).retrying, index, count)

    def drop(self, chunk: int, index: int, tag: str) -> None:
        """``drop`` with ``tag`` (its ``details``): must not be stored; a pending retry of its resolved."""
        bits = self._bits(chunk)
        set_bits(bits.dropped, index, 1)
        self.drops[tag] += 1
        self.retries["resolved"] += clear_bits(bits.retrying, index, 1)

    def retry(self, chunk: int, index: int) -> None:
        """``retry``, or a retryable answer to the whole request: pending until a resend's answer settles it."""
        set_bits(self._bits(chunk).retrying, index, 1)
        self.retries["answered"] += 1

    def give_up(self, chunk: int, index: int) -> None:
        """No resend left: no longer pending, never acknowledged."""
        self.retries["given_up"] += clear_bits(self._bits(chunk).retrying, index, 1)


def clear_bits(bits: bytearray, first: int, count: int) -> int:
    """Clear bits ``first .. first + count - 1`` of ``bits`` (those past its end are clear); how many were set."""
    end = min(first + count, len(bits) * 8)
    if first >= end:
        return 0
    lo, hi = first >> 3, (end + 7) >> 3
    window = int.from_bytes(bits[lo:hi], "little")
    mask = ((1 << (end - first)) - 1) << (first - lo * 8)
    settled = (window & mask).bit_count()
    if settled:
        bits[lo:hi] = (window & ~mask).to_bytes(hi - lo, "little")
    return settled


def figures(directory: Path, tallies: dict[tuple[int, int, int], Tally]) -> PerEvent | None:
    """The per-event figures of the ledgers in ``directory`` (``tallies``, read and marked stored by
    :func:`harness.load.ledger.reconcile`); None when no answer was per-event."""
    drops: Counter[str] = Counter()
    retries: Counter[str] = Counter()
    per_event = False
    for path in sorted(directory.glob(LEDGER_GLOB)):
        with path.open("rb") as file:
            outcomes = orjson.loads(file.readline()).get("outcomes")
        if outcomes is not None:
            per_event = True
            drops.update(outcomes["drops"])
            retries.update(outcomes["retries"])
    if not per_event:
        return None
    bits = [tally.bits for tally in tallies.values()]
    stored_after_drop = sum((int.from_bytes(tally.bits.dropped, "little") & int.from_bytes(tally.stored, "little"))
                            .bit_count() for tally in tallies.values())
    return PerEvent(dropped=sum(count_bits(b.dropped) for b in bits), drops_by_tag=dict(sorted(drops.items())),
                    stored_after_drop=stored_after_drop, retried=retries["answered"],
                    resolved_retries=retries["resolved"], unresolved_retries=sum(count_bits(b.retrying) for b in bits),
                    retries_given_up=retries["given_up"])
