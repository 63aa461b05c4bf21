"""Delivery accounting: what was sent, what the endpoint acknowledged, what it stored, at a few bits an event.

Every load-corpus event's uuid encodes its place (run tag, stream, chunk, index: :mod:`harness.load.eventids`)
and a case carries its events' span (chunk, first index, count).  So a Locust process's ledger is, per chunk
of its stream, two bitmaps (sent, acknowledged) and a request count: recording an answer sets a range of
bits (a few slice operations, nothing allocated per event), and a 2xx marks the range acknowledged.  The
ranges are a convenience: :meth:`LedgerWriter.acknowledge` takes any single event, for v1's per-event results
(:mod:`harness.load.outcomes`: dropped and retrying bitmaps after those two, drop tags in the header).

**Memory.** Once the run is two chunks further on, a chunk is *sealed*: its bitmaps are compressed (a run that
acknowledges almost everything compresses to a few bytes a chunk) and only reopened if a straggling
answer arrives for it.  So a process holds a couple of open chunks plus a fraction of a bit per event sent
(``benchmarks/bench_ledger.py`` measures it against the old sets of uuid strings).

**On disk** each ledger is ``ledger-<pid>-<scenario>-<stream>.bin`` (:data:`harness.load.files.LEDGER_GLOB`): a JSON
header line (format, scenario, seed, tag, stream; never the API key) then records ``<chunk, requests,
bitmap bytes, compressed size>`` + zlib(sent + acknowledged bitmaps); a later record of a chunk replaces an
earlier one.  Every :data:`CHECKPOINT_S` the changed chunks are appended and flushed, so a killed process
loses at most its last seconds, and a torn last record is ignored on reading.  An append log rather than
rewriting the file each checkpoint keeps a checkpoint's cost independent of the run's length; the file is
compacted (rewritten to a temporary file, renamed over it) when superseded records outweigh live ones and
at close.  Each file is self-contained, so the files of many processes (shipped to the master, or in one
folder) are merged by ORing their bitmaps.

**Reconciliation** (:func:`reconcile`) reads every ledger file in the report directory, then takes what the
endpoint stored as a :class:`~harness.load.stored.StoredTally`: stored and duplicated bits per event, folded
during the run by the embedded endpoint's drain, or at the end from the stored uuids streamed page after
page of ``/_harness/events`` (a ``--url`` target): a few bits per event, not a set of strings.  The figures:

- **acknowledged**: its request was answered 2xx;
- **lost**: acknowledged but not stored, the one outcome that fails a run;
- **duplicated**: stored more than once (a retry the endpoint did not deduplicate);
- **unexpected**: stored rows (for this run's token since the run started) that are no event this run sent,
  counted per row, since a foreign uuid has no bit to mark.

Lost examples are real uuid texts: the chunk is regenerated from (scenario, seed, stream, chunk)
(:func:`harness.load.corpus.generate_chunk`) for at most :data:`LOST_SHOWN` of them.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from harness.load import eventids
from harness.load.files import LEDGER_GLOB

if TYPE_CHECKING:
    from harness.load.outcomes import PerEvent
    from harness.load.stored import StoredTally

LOST_SHOWN = 20
"""Lost uuids named in a report (the ledger files name them all, as bits)."""
CHECKPOINT_S = 2.0
"""How often a ledger appends its changed chunks to its file: what a killed process may lose."""
SEAL_BEHIND = 2
"""A chunk this many chunks behind the newest one recorded is compressed (reopened if an answer comes late)."""
FORMAT = 1
_RECORD = struct.Struct("<IIII")
"""A record's head: chunk, requests, bytes of each bitmap, bytes of the compressed bitmaps that follow."""
_ONES = memoryview(b"\xff" * ((eventids.MAX_INDEX + 1) // 8))
_ZEROS = memoryview(bytes((eventids.MAX_INDEX + 1) // 8))


def set_bits(bits: bytearray, first: int, count: int) -> None:
    """Set bits ``first .. first + count - 1`` of ``bits`` (grown as needed), a byte at a time, not a bit."""
    if count <= 0:
        return
    end = first + count
    need = (end + 7) >> 3
    if len(bits) < need:
        bits += _ZEROS[:need - len(bits)]
    lo, hi = first >> 3, end >> 3
    if lo == hi:
        bits[lo] |= ((1 << count) - 1) << (first & 7)
        return
    bits[lo] |= (0xFF << (first & 7)) & 0xFF
    if hi > lo + 1:
        bits[lo + 1:hi] = _ONES[:hi - lo - 1]
    if end & 7:
        bits[hi] |= (1 << (end & 7)) - 1


def count_bits(bits: bytes | bytearray) -> int:
    return int.from_bytes(bits, "little").bit_count()


@dataclass
class ChunkBits:
    """One chunk of a stream: how many requests were answered, and which events were sent and acknowledged."""

    requests: int = 0
    sent: bytearray = field(default_factory=bytearray)
    acked: bytearray = field(default_factory=bytearray)
    dropped: bytearray = field(default_factory=bytearray)
    retrying: bytearray = field(default_factory=bytearray)

    def pack(self, chunk: int) -> bytes:
        maps = (self.sent, self.acked) + ((self.dropped, self.retrying) if self.dropped or self.retrying else ())
        size = max(map(len, maps))
        blob = zlib.compress(b"".join(bytes(bits.ljust(size, b"\0")) for bits in maps))
        return _RECORD.pack(chunk, self.requests, size, len(blob)) + blob

    def merge(self, other: ChunkBits) -> None:
        """OR ``other`` in: the same events sent by two processes count once."""
        self.requests += other.requests
        for mine, theirs in ((self.sent, other.sent), (self.acked, other.acked), (self.dropped, other.dropped),
                             (self.retrying, other.retrying)):
            merged = int.from_bytes(mine, "little") | int.from_bytes(theirs, "little")
            mine[:] = merged.to_bytes(max(len(mine), len(theirs)), "little")


def _unpack(data: bytes | memoryview, offset: int) -> tuple[int, ChunkBits, int] | None:
    """The record at ``offset``: (chunk, bits, next offset), None at the end or at a torn last record."""
    if len(data) - offset < _RECORD.size:
        return None
    chunk, requests, size, compressed = _RECORD.unpack_from(data, offset)
    start = offset + _RECORD.size
    if len(data) - start < compressed:
        return None
    try:
        raw = zlib.decompress(data[start:start + compressed])
    except zlib.error:
        return None
    if len(raw) not in (2 * size, 4 * size):  # sent and acked, then dropped and retrying when per-event
        return None
    maps = (bytearray(raw[at:at + size]) for at in range(0, len(raw), size or 1))
    return chunk, ChunkBits(requests, *maps), start + compressed


class LedgerWriter:
    """This process's ledger of one scenario: bitmaps in memory, checkpointed to its own file."""

    def __init__(self, directory: Path, scenario: str, seed: int, stream: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LEDGER_GLOB.replace("*", f"{os.getpid()}-{scenario}-{stream}")
        self.header: dict[str, Any] = {"format": FORMAT, "scenario": scenario, "seed": seed,
                                       "tag": eventids.run_tag(scenario, seed), "stream": stream}
        self._open: dict[int, ChunkBits] = {}
        self._sealed: dict[int, bytes] = {}
        """Sealed chunks as their packed records, ready to write."""
        self._sealed_bytes = 0
        self._dirty: set[int] = set()
        self._newest = -1
        self._written = 0
        self._file: IO[bytes] | None = None
        self._compact()
        self._due = time.monotonic() + CHECKPOINT_S

    def record(self, status: int, span: tuple[int, int, int] | None, *, per_event: bool = False) -> None:
        """Note one answer (``status`` 0: none) to a request carrying the events ``span`` (chunk, first,
        count): sent, and acknowledged when 2xx unless ``per_event`` (then each event's result decides)."""
        if span is None:
            return
        chunk, first, count = span
        bits = self._bits(chunk)
        bits.requests += 1
        set_bits(bits.sent, first, count)
        if 200 <= status < 300 and not per_event:
            set_bits(bits.acked, first, count)
        if time.monotonic() >= self._due:
            self.checkpoint()

    def acknowledge(self, chunk: int, index: int, count: int = 1) -> None:
        """Mark events acknowledged one by one (a per-event answer), after :meth:`record` noted them sent."""
        set_bits(self._bits(chunk).acked, index, count)

    def _bits(self, chunk: int) -> ChunkBits:
        """The chunk's bits, to be changed: it goes in the next checkpoint."""
        self._dirty.add(chunk)
        return self._open.get(chunk) or self._reopen(chunk)

    def _reopen(self, chunk: int) -> ChunkBits:
        """The chunk's bits, opened for the first time or reopened from its sealed record; older chunks sealed."""
        sealed = self._sealed.pop(chunk, None)
        if sealed is not None:
            self._sealed_bytes -= len(sealed)
            unpacked = _unpack(sealed, 0)
            assert unpacked is not None
            bits = unpacked[1]
        else:
            bits = ChunkBits()
        self._open[chunk] = bits
        if chunk > self._newest:
            self._newest = chunk
            for old in [c for c in self._open if c <= chunk - SEAL_BEHIND]:
                self._seal(old)
        return bits

    def _seal(self, chunk: int) -> None:
        packed = self._open.pop(chunk).pack(chunk)
        self._sealed[chunk] = packed
        self._sealed_bytes += len(packed)

    def checkpoint(self) -> None:
        """Append the chunks changed since the last checkpoint (compacting the file when mostly superseded)."""
        self._due = time.monotonic() + CHECKPOINT_S
        if not self._dirty or self._file is None:
            return
        records = [self._sealed.get(chunk) or self._open[chunk].pack(chunk) for chunk in sorted(self._dirty)]
        self._dirty.clear()
        data = b"".join(records)
        self._file.write(data)
        self._file.flush()
        self._written += len(data)
        if self._written > 4 * self._sealed_bytes + (1 << 20):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the file with one record per chunk, atomically (temporary file, then rename)."""
        if self._file is not None:
            self._file.close()
        records = [*self._sealed.values(), *(bits.pack(chunk) for chunk, bits in self._open.items())]
        partial = self.path.with_suffix(".tmp")
        partial.write_bytes(orjson.dumps(self.header) + b"\n" + b"".join(records))
        partial.replace(self.path)
        self._written = sum(map(len, records))
        self._dirty.clear()
        self._file = self.path.open("ab")

    def close(self) -> None:
        """Write the whole ledger compactly (idempotent)."""
        if self._file is None:
            return
        self._compact()
        self._file.close()
        self._file = None


@dataclass
class LedgerFile:
    """One process's ledger as read back: who wrote it and its chunks."""

    scenario: str
    seed: int
    tag: int
    stream: int
    chunks: dict[int, ChunkBits]

    @property
    def requests(self) -> int:
        return sum(bits.requests for bits in self.chunks.values())

    @property
    def sent(self) -> int:
        return sum(count_bits(bits.sent) for bits in self.chunks.values())


def read_file(path: Path) -> LedgerFile:
    """A ledger file, up to its last whole record (a killed process may have torn the one after)."""
    data = path.read_bytes()
    head, newline, _ = data.partition(b"\n")
    if not newline:
        raise ValueError(f"{path}: not a ledger (no header line)")
    header = orjson.loads(head)
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: ledger format {header.get('format')!r}, expected {FORMAT}")
    chunks: dict[int, ChunkBits] = {}
    view, offset = memoryview(data), len(head) + 1
    while (unpacked := _unpack(view, offset)) is not None:
        chunk, chunks[chunk], offset = unpacked
    return LedgerFile(header["scenario"], header["seed"], header["tag"], header["stream"], chunks)


@dataclass(frozen=True)
class Reconciliation:
    sent: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    unexpected: int
    lost_examples: tuple[str, ...]
    checked: bool
    """False when the target has no inspection API: only ``sent`` and ``acknowledged`` are known."""
    unchecked: str = ""
    """Why the delivery was not checked (``checked`` False), e.g. a TLS certificate that did not verify."""
    per_event: PerEvent | None = None

    @property
    def ok(self) -> bool:
        return self.lost == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Tally:
    """A chunk of a run's stream during reconciliation: its ledger bits, and what the store holds of it."""

    ledger: LedgerFile
    bits: ChunkBits
    stored: bytearray
    duplicated: bytearray


def read(directory: Path) -> dict[tuple[int, int, int], Tally]:
    """Every ledger file in ``directory`` merged, by (tag, stream, chunk)."""
    tallies: dict[tuple[int, int, int], Tally] = {}
    for path in sorted(directory.glob(LEDGER_GLOB)):
        ledger = read_file(path)
        for chunk, bits in ledger.chunks.items():
            key = (ledger.tag, ledger.stream, chunk)
            if key in tallies:
                tallies[key].bits.merge(bits)
            else:
                tallies[key] = Tally(ledger, bits, bytearray(), bytearray())
    for tally in tallies.values():
        tally.stored = bytearray(len(tally.bits.sent))
        tally.duplicated = bytearray(len(tally.bits.sent))
    return tallies


NO_INSPECTION = "the target has no /_harness/ inspection API"


def reconcile(directory: Path, stored: Iterable[str] | StoredTally | None,
              unchecked: str = NO_INSPECTION) -> Reconciliation:
    """Compare the ledgers with what the endpoint stored: its uuids consumed as a stream, or already tallied
    (None: the endpoint cannot be inspected, for the reason ``unchecked``)."""
    from harness.load.outcomes import figures  # v1's per-event figures (that module imports this one)
    from harness.load.stored import StoredTally  # the drain (that module imports this one)
    tallies = read(directory)
    sent = sum(count_bits(tally.bits.sent) for tally in tallies.values())
    acknowledged = sum(count_bits(tally.bits.acked) for tally in tallies.values())
    if stored is None:
        return Reconciliation(sent, acknowledged, 0, 0, 0, 0, (), False, unchecked, figures(directory, tallies))
    if not isinstance(stored, StoredTally):
        stored = StoredTally({tag for tag, _, _ in tallies}).fold(stored)
    unexpected = stored.mark(tallies)
    lost = {key: _lost_bits(tally) for key, tally in tallies.items()}
    return Reconciliation(
        sent=sent, acknowledged=acknowledged,
        stored=sum(count_bits(tally.stored) for tally in tallies.values()), per_event=figures(directory, tallies),
        lost=sum(bits.bit_count() for bits in lost.values()),
        duplicated=sum(count_bits(tally.duplicated) for tally in tallies.values()),
        unexpected=unexpected, lost_examples=_lost_examples(tallies, lost), checked=True,
    )


def _lost_bits(tally: Tally) -> int:
    """The chunk's events acknowledged but not stored, as an integer's bits."""
    return int.from_bytes(tally.bits.acked, "little") & ~int.from_bytes(tally.stored, "little")


def _lost_examples(tallies: dict[tuple[int, int, int], Tally], lost: dict[tuple[int, int, int], int]) -> tuple[str, ...]:
    """The first :data:`LOST_SHOWN` lost events in the order they were sent, as their uuid texts."""
    examples: list[str] = []
    for key in sorted(key for key, bits in lost.items() if bits):
        indexes = list(_first_bits(lost[key], LOST_SHOWN - len(examples)))
        examples += _uuid_texts(tallies[key].ledger, key[2], indexes)
        if len(examples) >= LOST_SHOWN:
            break
    return tuple(examples)


def _first_bits(bits: int, most: int) -> Iterator[int]:
    while bits and most > 0:
        lowest = bits & -bits
        yield lowest.bit_length() - 1
        bits ^= lowest
        most -= 1


def _uuid_texts(ledger: LedgerFile, chunk: int, indexes: list[int]) -> list[str]:
    """The uuids of events ``indexes`` of ``chunk``, by regenerating the chunk (the uuids do not depend on the
    API key, which no ledger holds); named by place when the chunk cannot be regenerated."""
    from harness.load import corpus  # the traffic model: only when something was lost
    from harness.spec.body import DEFAULT_TOKEN

    try:
        cases = corpus.generate_chunk(ledger.scenario, ledger.seed, ledger.stream, chunk, DEFAULT_TOKEN)
        uuids = [uuid for case in cases for uuid in case.uuids]
        return [uuids[index] for index in indexes]
    except (ValueError, IndexError):
        return [f"stream {ledger.stream} chunk {chunk} event {index}" for index in indexes]
