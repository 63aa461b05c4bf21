"""What the endpoint stored, as a compact tally: so that a run against the embedded endpoint can empty its store.

The embedded reference endpoint keeps every event with its JSON data (about 900 bytes a row in SQLite): 8
million events in a 10-minute run, 7 GB of disk.  The delivery ledger (:mod:`harness.load.ledger`) needs only
which events were stored, and how often, so while the run goes the ``load`` command's :class:`Drain` (a
thread of the CLI process, never a Locust process) reads what the endpoint stored every :data:`DRAIN_S`,
page by page (``/_harness/events?fields=uuid``: ids and uuids only), folds the uuids into a
:class:`StoredTally` and trims the rows it has folded (``POST /_harness/events/trim``).  SQLite reuses the
freed pages, so the store stays at its high-water mark: a few seconds of events, whatever ``-t``.  Only the
embedded endpoint is drained: nothing is ever deleted from a ``--url`` target, whose stored uuids are
streamed into a tally at the end instead (:func:`harness.load.ledger.reconcile`).

A :class:`StoredTally` is, per (tag, stream, chunk) of the run's uuids (:mod:`harness.load.eventids`), two
bitmaps grown as indexes appear: stored (seen once) and duplicated (seen again); the rare third sighting of
an event is counted apart, by its place, since a row of an event the run never sent is unexpected however
often it comes.  Uuids that are not the run's (another tag, no uuid at all) are only counted, so a flood of
foreign rows costs nothing.  Which stored events were sent is only known at the end, from the ledger files,
so :meth:`StoredTally.mark` does the comparison then.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlencode

import orjson

from harness.contract.client import Client
from harness.load import eventids, ledger, results
from harness.load.eventids import MAX_TAG, TAG_SHIFT
from harness.server.inspect import MAX_LIMIT, TRIM_PATH
from harness.wire import WireRequest

DRAIN_S = 2.0
"""How often the drain reads and trims the embedded endpoint's store: its size is about this many seconds of events."""
PAGE_ROWS = MAX_LIMIT
"""Rows a drain page asks for: the inspection API's most."""


class StoredTally:
    """Which events of the runs tagged ``tags`` were stored once and more than once, and a count of the rest."""

    def __init__(self, tags: Iterable[int]) -> None:
        self.tags = frozenset(tags)
        self.chunks: dict[int, tuple[bytearray, bytearray]] = {}
        """Stored and duplicated bitmaps by :func:`eventids.chunk_key`."""
        self.again: Counter[int] = Counter()
        """Sightings beyond the second, by :func:`eventids.place` value: unexpected rows if never sent."""
        self.foreign = 0
        """Rows that are no event of these runs: unexpected whatever the ledgers say."""
        self.rows = 0

    def fold(self, uuids: Iterable[str]) -> StoredTally:
        """Count the stored rows ``uuids`` in (a stream: nothing is kept per row but its bits); returns self."""
        place, shift, most, tags = eventids.place, eventids.INDEX_BITS, eventids.MAX_INDEX, self.tags  # a hot loop
        chunks, rows, foreign = self.chunks, 0, 0
        for uuid in uuids:
            rows += 1
            value = place(uuid)
            if value is None or (value >> 62) & 0x3 != 0x2 or (value >> TAG_SHIFT) & MAX_TAG not in tags:
                foreign += 1
                continue
            maps = chunks.get(value >> shift)
            if maps is None:
                maps = chunks[value >> shift] = (bytearray(), bytearray())
            stored, duplicated = maps
            byte, bit = (value & most) >> 3, 1 << (value & 7)
            if byte >= len(stored):
                stored.extend(bytes(byte + 1 - len(stored)))
                duplicated.extend(bytes(byte + 1 - len(duplicated)))
            if not stored[byte] & bit:
                stored[byte] |= bit
            elif not duplicated[byte] & bit:
                duplicated[byte] |= bit
            else:
                self.again[value] += 1
        self.rows += rows
        self.foreign += foreign
        return self

    def mark(self, tallies: dict[tuple[int, int, int], ledger.Tally]) -> int:
        """Set the stored and duplicated bits of the ledgers' chunks ``tallies`` (by tag, stream, chunk) from
        this tally; returns the unexpected rows: stored, but no event the ledgers sent."""
        by_key = {eventids.chunk_key(*key): tally for key, tally in tallies.items()}
        unexpected = self.foreign
        for key, (stored, duplicated) in self.chunks.items():
            tally = by_key.get(key)
            sent = int.from_bytes(tally.bits.sent, "little") if tally is not None else 0
            once, twice = int.from_bytes(stored, "little"), int.from_bytes(duplicated, "little")
            unexpected += (once & ~sent).bit_count() + (twice & ~sent).bit_count()
            if tally is not None:
                tally.stored[:] = (once & sent).to_bytes(len(tally.bits.sent), "little")
                tally.duplicated[:] = (twice & sent).to_bytes(len(tally.bits.sent), "little")
        for value, extra in self.again.items():
            tally = by_key.get(value >> eventids.INDEX_BITS)
            byte, bit = (value & eventids.MAX_INDEX) >> 3, 1 << (value & 7)
            if tally is None or byte >= len(tally.bits.sent) or not tally.bits.sent[byte] & bit:
                unexpected += extra
        return unexpected


class Drain:
    """Empties the embedded endpoint's store into a :class:`StoredTally` while the run goes (see the module text).

    Pages are read after the last row id folded, with the filters the end-of-run reading uses (this run's
    token, since it started), and each page is trimmed once folded; the newest row always stays (SQLite would
    otherwise reuse its id).  A failure stops the drain and is kept in :attr:`error`: rows may be gone by then,
    so the delivery is reported unchecked rather than reconciled with what is left."""

    def __init__(self, url: str, api_key: str, tag: int, since_ms: int, headers: dict[str, str]) -> None:
        """Drain ``url``'s rows of ``api_key`` received since ``since_ms`` into a tally of the run tagged ``tag``;
        ``headers`` present the inspection token (:func:`harness.server.process.inspect_headers`), if any."""
        self.tally = StoredTally([tag])
        self.error: str | None = None
        self.pages = 0
        self.most = 0
        """The most rows one pass drained: about the most the store held at once."""
        self._client = Client(url, results.PAGE_TIMEOUT_S, headers=headers)
        self._token_given = bool(headers)
        self._query = {"token": api_key, "since": results.since_param(since_ms), "fields": "uuid",
                       "limit": PAGE_ROWS}
        self._after = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-harness-drain", daemon=True)

    def start(self) -> Drain:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (its current pass ends first); idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(DRAIN_S) and self.error is None:
            self.drain()

    def drain(self, on_page: Callable[[int], None] | None = None) -> None:
        """Fold and trim every page stored so far (``on_page(rows)`` after each); a failure goes to :attr:`error`."""
        rows = 0
        try:
            while self.error is None:
                query = urlencode({**self._query, "after": self._after})
                status, page = results.get_json(self._client, f"/_harness/events?{query}")
                uuids, more = results.read_page(status, page, self._token_given)
                if not uuids:
                    return
                last = page["events"][-1].get("id")
                if not isinstance(last, int) or last <= self._after:
                    raise results.InspectionError(f"GET /_harness/events answered row id {last!r} after {self._after}")
                self.tally.fold(uuids)
                self._trim(last)
                self._after, self.pages, rows = last, self.pages + 1, rows + len(uuids)
                self.most = max(self.most, rows)
                if on_page is not None:
                    on_page(len(uuids))
                if more is None:
                    return
        except (results.InspectionError, results.InspectionTLSError) as error:
            self.error = f"the store could not be drained during the run: {error}"

    def _trim(self, through_id: int) -> None:
        body = orjson.dumps({"through_id": through_id})
        request = WireRequest("POST", TRIM_PATH, {"Content-Type": "application/json"}, body)
        reply = results.ask(lambda: self._client.send(request))
        if reply.status != 200:
            raise results.InspectionError(f"POST {TRIM_PATH} answered {reply.status}: {reply.body[:200]!r}")

    def reconcile(self, directory: Path, on_page: Callable[[int], None] | None = None) -> ledger.Reconciliation:
        """Once the run's requests are all answered: stop the thread, drain the rest and reconcile the ledgers in
        ``directory`` with the tally (unchecked, saying why, when draining failed)."""
        self.stop()
        self.drain(on_page)
        if self.error is not None:
            return ledger.reconcile(directory, None, unchecked=self.error)
        return ledger.reconcile(directory, self.tally)

    def held(self) -> int | None:
        """Rows the endpoint's store holds now (stored minus trimmed), None when its stats cannot be read."""
        try:
            status, stats = results.get_json(self._client, "/_harness/stats")
        except (results.InspectionError, results.InspectionTLSError):
            return None
        if status != 200 or not isinstance(stats, dict):
            return None
        return int(stats.get("stored_events", 0)) - int(stats.get("trimmed_events", 0))

    def close(self) -> None:
        """Stop the thread and close the connection."""
        self.stop()
        self._client.close()
