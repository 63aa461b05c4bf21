"""A request body with holes, encoded once and filled many times: the load corpus's cheap requests.

The load corpus (:mod:`harness.load.corpus`) sends each planned request several times, each time with fresh
event uuids.  Serializing and gzipping the body again for every copy cost the generator most of its time
(gzip alone ~13 us for a 600-byte body, whatever the level or strategy), so a :class:`Template` splits the
body's JSON text at the holes the uuids fill, once, and :meth:`Template.text`, :meth:`Template.gzip` and
:meth:`Template.zlib` put the values in with a join.

The compressed bodies are spliced from raw deflate segments, each piece of the text compressed once, and the
values between them in *stored* (uncompressed) deflate blocks.  Every segment but the last ends in a sync
flush, so it ends on a byte boundary and a stored block may follow it; the last ends the stream.  Each
piece is compressed with the text before it as its preset dictionary, the holes in that dictionary filled
with NUL bytes: JSON text holds no NUL, so no match the compressor finds can cover a hole, every match
lies in the pieces (the same bytes in every copy), and a piece compresses about as well as inside the
whole text.  That deflate stream is the same in both containers, so one splice (:meth:`Template._deflate`)
serves both: gzip (RFC 1952: v0's gzip encodings, v1's ``Content-Encoding: gzip``) puts its 10-byte header
before it and the CRC-32 and length of the filled text after it; zlib (RFC 1950: v1's ``deflate``, which
posthog-python sends as ``zlib.compress`` does) its 2-byte header before it and the Adler-32 of the filled
text after it (each checksum a C loop over the text).  A spliced body decompresses to the filled text
exactly; it is a few bytes larger per hole than the same container of the same text: the 4 lengths of the
stored block (which reuses the header bits of the empty stored block a sync flush ends in), about a byte of
padding, and the value uncompressed, which is why only what varies between copies is a hole (``vary``: the
last 5 hex digits of a load-corpus uuid, 9-10 bytes a hole, where a whole uuid cost 46).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Sequence

_HEADER = gzip.compress(b"", mtime=0)[:10]
"""The gzip header :func:`gzip.compress` writes with a zero mtime at level 9: the same as the wire's."""
_ZLIB_HEADER = zlib.compress(b"", 9)[:2]
"""The zlib header of a 32 KiB window at level 9 (``78 da``; the level bits are only informative)."""
_WINDOW = 32 * 1024
"""deflate's window: how far back a match may reach, so how much preset dictionary is of use."""


class Template:
    """``text`` with each of ``holes`` (equal-width byte strings, each found exactly once, in order) cut out.

    ``compress=True`` also compresses its pieces for :meth:`gzip` and :meth:`zlib` (the cost of a template: it
    is paid once per request shape, not per request)."""

    __slots__ = ("_deflated", "_pieces", "_stored", "holes", "width")

    def __init__(self, text: bytes, holes: Sequence[bytes], *, compress: bool = False, vary: int | None = None) -> None:
        """``vary``: only the last ``vary`` bytes of each hole change from copy to copy (the values are that
        wide), the rest stays in the text: a uuid of the load corpus differs from its chunk's others only in its
        last 5 hex digits, and what a copy stores uncompressed is what makes it larger than plain compression."""
        if b"\x00" in text:
            raise ValueError("text holds a NUL byte: the spliced deflate's dictionaries need text without one")
        widths = {len(hole) for hole in holes}
        if len(widths) > 1:
            raise ValueError(f"holes must have one width, got widths {sorted(widths)}")
        self.holes = len(holes)
        whole = widths.pop() if widths else 0
        self.width = whole if vary is None else vary
        if holes and not 0 <= self.width <= whole:
            raise ValueError(f"vary={vary} must be between 0 and the holes' width {whole}")
        pieces, start = [], 0
        for hole in holes:
            at = text.find(hole, start)
            if at < 0 or text.find(hole, at + 1) >= 0:
                raise ValueError(f"hole {hole!r} must occur exactly once in the text after the one before it")
            pieces.append(text[start:at + whole - self.width])
            start = at + whole
        pieces.append(text[start:])
        self._pieces = pieces
        self._deflated = _deflate_pieces(pieces, self.width) if compress else []
        self._stored = struct.pack("<HH", self.width, self.width ^ 0xFFFF)

    def text(self, values: Sequence[bytes]) -> bytes:
        """The text with ``values`` in its holes (each of the holes' width: no check, this is the hot path)."""
        out: list[bytes] = [b""] * (2 * self.holes + 1)
        out[0::2] = self._pieces
        out[1::2] = values
        return b"".join(out)

    def gzip(self, values: Sequence[bytes]) -> bytes:
        """gzip of :meth:`text` of ``values``, spliced (the template must have been made with ``compress=True``)."""
        text = self.text(values)
        trailer = struct.pack("<LL", zlib.crc32(text), len(text) & 0xFFFFFFFF)
        return b"".join((_HEADER, *self._deflate(values), trailer))

    def zlib(self, values: Sequence[bytes]) -> bytes:
        """zlib (RFC 1950) of :meth:`text` of ``values``, spliced (made with ``compress=True``)."""
        return b"".join((_ZLIB_HEADER, *self._deflate(values), struct.pack(">L", zlib.adler32(self.text(values)))))

    def _deflate(self, values: Sequence[bytes]) -> list[bytes]:
        """The raw deflate stream of :meth:`text` of ``values``, in pieces: segment, stored lengths, value, ..."""
        out: list[bytes] = [b""] * (3 * self.holes + 1)
        out[0::3] = self._deflated
        out[1::3] = [self._stored] * self.holes
        out[2::3] = values
        return out


_EMPTY_STORED_LENGTHS = b"\x00\x00\xff\xff"
"""How a sync flush ends: the LEN and NLEN of the empty stored block it emits (its 3 header bits are in the
byte before, padded to the byte boundary)."""


def _deflate_pieces(pieces: list[bytes], width: int) -> list[bytes]:
    """Each piece as a raw deflate segment whose matches may reach back into the pieces before it.  A segment
    but the last ends in a sync flush's empty stored block without its LEN and NLEN: the value's stored block
    reuses that block's header, its own lengths put in their place (4 bytes a hole instead of 9)."""
    segments, seen = [], b""
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=seen) if seen else \
            zlib.compressobj(9, zlib.DEFLATED, -15)
        segment = compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        if not last:
            if not segment.endswith(_EMPTY_STORED_LENGTHS):  # zlib's documented sync flush: never seen otherwise
                raise AssertionError("a sync flush did not end in an empty stored block")
            segment = segment[:-len(_EMPTY_STORED_LENGTHS)]
        segments.append(segment)
        seen = (seen + piece + b"\x00" * width)[-_WINDOW:]
    return segments
