"""Load-corpus event uuids that say where they came from: (run tag, stream, chunk, index) in the uuid itself.

The delivery ledger (:mod:`harness.load.ledger`) must account for every event a run sends at a few bits an
event, which a set of uuid strings (~100 bytes each) cannot do.  So the load corpus
(:func:`harness.load.corpus.generate_chunk`) gives each event the uuid of its place (:func:`stamp`, written
into the encoded body), and the ledger keeps bitmaps indexed by the event's place in its stream; a stored
uuid read back from the endpoint is turned into that place with a few integer operations, no table.

Layout (bit 127 is the most significant), chosen so the uuid keeps the shape the model gave it:

======== ====== ========================================================================================
bits     width  what
======== ====== ========================================================================================
76..127  52     the model's own uuid: a v7's 48-bit millisecond time and version nibble, or a v4's random
                bits and version, untouched (so a v7 still sorts and reads as the event time)
64..75   12     the stream (the Locust worker index): :data:`MAX_STREAM`
62..63   2      the RFC 9562 variant ``0b10``
38..61   24     the run tag: 24 bits of sha256(scenario, seed) (:func:`run_tag`)
18..37   20     the chunk of the stream: :data:`MAX_CHUNK` (1,000 requests a chunk: 10^9 requests a stream)
0..17    18     the event's index within the chunk: :data:`MAX_INDEX` (a chunk of 100-event batches holds 10^5)
======== ====== ========================================================================================

The tag separates this run's events from another run's on the same endpoint (events with another tag are
``unexpected``); two runs share a tag only by a 1-in-16-million collision of their (scenario, seed).
Numbers out of range raise :class:`ValueError` rather than wrap into another event's uuid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from harness.generate.ids import hyphenate

STREAM_BITS, TAG_BITS, CHUNK_BITS, INDEX_BITS = 12, 24, 20, 18
MAX_STREAM = (1 << STREAM_BITS) - 1
MAX_TAG = (1 << TAG_BITS) - 1
MAX_CHUNK = (1 << CHUNK_BITS) - 1
MAX_INDEX = (1 << INDEX_BITS) - 1

_KEPT = ((1 << 52) - 1) << 76
"""The model's bits the restamp keeps: time (or randomness) and version."""
_VARIANT = 0x2 << 62
_LOW_48 = (1 << 48) - 1
_INDEX_SHIFT, _CHUNK_SHIFT, TAG_SHIFT, _STREAM_SHIFT = 0, INDEX_BITS, INDEX_BITS + CHUNK_BITS, 64
"""Where index, chunk, run tag and stream sit in :func:`place`'s value (the tag's place is public: the drain
filters on it)."""


class EventId(NamedTuple):
    """Where a load-corpus event came from."""

    tag: int
    stream: int
    chunk: int
    event: int
    """The event's index within its chunk."""


def run_tag(scenario: str, seed: int) -> int:
    """The 24-bit tag of a run's events: the same for every stream and chunk of (scenario, seed)."""
    return int.from_bytes(hashlib.sha256(f"{scenario}:{seed}".encode()).digest()[:3], "big")


def _check(name: str, value: int, most: int) -> None:
    if not 0 <= value <= most:
        raise ValueError(f"{name} must be between 0 and {most:,} to fit an event uuid, got {value!r}")


def derive(model_uuid: str, tag: int, stream: int, chunk: int, index: int) -> str:
    """``model_uuid`` (hyphenated v4 or v7) restamped with the event's place: its top 52 bits kept."""
    return stamp((prefix(model_uuid),), chunk_stamp(tag, stream, chunk), index)[0]


class ChunkStamp(NamedTuple):
    """What the uuid texts of one chunk's events share besides their :func:`prefix`: checked and formatted once a
    chunk, so that a uuid text costs the load corpus one small format (:func:`stamp`)."""

    middle: str
    """Characters 15-23 of the text (hex digits 13-19: stream, variant, top of the tag, and two hyphens)."""
    low: int
    """The low 48 bits (the rest of the tag, the chunk) before the index is added."""


def chunk_stamp(tag: int, stream: int, chunk: int) -> ChunkStamp:
    _check("tag", tag, MAX_TAG)
    _check("stream", stream, MAX_STREAM)
    _check("chunk", chunk, MAX_CHUNK)
    base = _base(tag, stream, chunk)
    return ChunkStamp(hyphenate(base)[15:24], base & _LOW_48)


def _base(tag: int, stream: int, chunk: int) -> int:
    """The low 76 bits of the chunk's uuids with index 0: stream, variant, tag and chunk in their places."""
    return (stream << _STREAM_SHIFT) | _VARIANT | (tag << TAG_SHIFT) | (chunk << _CHUNK_SHIFT)


def prefix(model_uuid: str) -> str:
    """The first 15 characters of every uuid derived from ``model_uuid``: its kept bits (hex digits 0-12)."""
    return hyphenate(int(model_uuid.replace("-", ""), 16) & _KEPT)[:15]


def stamp(prefixes: Sequence[str], chunk: ChunkStamp, index: int) -> list[str]:
    """The uuid texts of events ``index``, ``index + 1``, ... of ``chunk``, each keeping its entry of
    ``prefixes``: the load corpus's per-request work, one range check."""
    _check("index", index, MAX_INDEX)
    _check("last index", index + max(len(prefixes) - 1, 0), MAX_INDEX)
    middle, low = chunk
    return [f"{start}{middle}{low | n:012x}" for n, start in enumerate(prefixes, index)]


def place(uuid: str) -> int | None:
    """The low 76 bits of a uuid text (stream, variant, tag, chunk, index) as one integer, None for text that is
    no hyphenated uuid: reconciliation's per-row work, so one ``int`` parse and no object made."""
    if len(uuid) != 36 or uuid[8] != "-" or uuid[13] != "-" or uuid[18] != "-" or uuid[23] != "-":
        return None
    digits = uuid[15:].replace("-", "")
    if len(digits) != 19:
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return None


def chunk_key(tag: int, stream: int, chunk: int) -> int:
    """What :func:`place` of each uuid of that chunk gives, shifted right by :data:`INDEX_BITS` (a uuid without
    the RFC variant never has a chunk's key)."""
    return _base(tag, stream, chunk) >> INDEX_BITS


def parse(uuid: str) -> EventId | None:
    """The place a derived uuid encodes; None for text that is no uuid or lacks the RFC variant (another
    uuid may still parse: the ledger then finds no such event sent, or one with another tag)."""
    value = place(uuid)
    if value is None or (value >> 62) & 0x3 != 0x2:
        return None
    return EventId((value >> TAG_SHIFT) & MAX_TAG, value >> _STREAM_SHIFT, (value >> _CHUNK_SHIFT) & MAX_CHUNK,
                   value & MAX_INDEX)
