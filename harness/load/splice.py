"""A request body with holes, encoded once and filled many times: the load corpus's cheap requests.

The load corpus (:mod:`harness.load.corpus`) sends each planned request several times, each time with fresh
event uuids.  Serializing and gzipping the body again for every copy cost the generator most of its time
(gzip alone ~13 us for a 600-byte body, whatever the level or strategy), so a :class:`Template` splits the
body's JSON text at the holes the uuids fill, once, and :meth:`Template.text` and :meth:`Template.gzip` put
the values in with a join.

The gzip member is spliced from raw deflate segments, each piece of the text compressed once, and the
values between them in *stored* (uncompressed) deflate blocks.  Every segment but the last ends in a sync
flush, so it ends on a byte boundary and a stored block may follow it; the last ends the stream.  Each
piece is compressed with the text before it as its preset dictionary, the holes in that dictionary filled
with NUL bytes: JSON text holds no NUL, so no match the compressor finds can cover a hole, every match
lies in the pieces (the same bytes in every copy), and a piece compresses about as well as inside the
whole text.  The trailer's CRC-32 and length are computed over the filled text (a C loop over a few
hundred bytes).  A spliced body decompresses to the filled text exactly; it is a few bytes larger per
hole than gzip of the same text (a stored block's 5-byte header, a sync flush's 5 bytes, and the 36 bytes
of a uuid uncompressed).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Sequence

_HEADER = gzip.compress(b"", mtime=0)[:10]
"""The gzip header :func:`gzip.compress` writes with a zero mtime at level 9: the same as the wire's."""
_WINDOW = 32 * 1024
"""deflate's window: how far back a match may reach, so how much preset dictionary is of use."""


class Template:
    """``text`` with each of ``holes`` (equal-width byte strings, each found exactly once, in order) cut out.

    ``gzip=True`` also compresses its pieces for :meth:`gzip` (the cost of a template: it is paid once per
    request shape, not per request)."""

    __slots__ = ("_deflated", "_pieces", "_stored", "holes", "width")

    def __init__(self, text: bytes, holes: Sequence[bytes], *, gzip: bool = False) -> None:
        if b"\x00" in text:
            raise ValueError("text holds a NUL byte: the spliced gzip's dictionaries need text without one")
        widths = {len(hole) for hole in holes}
        if len(widths) > 1:
            raise ValueError(f"holes must have one width, got widths {sorted(widths)}")
        self.holes = len(holes)
        self.width = widths.pop() if widths else 0
        pieces, start = [], 0
        for hole in holes:
            at = text.find(hole, start)
            if at < 0 or text.find(hole, at + 1) >= 0:
                raise ValueError(f"hole {hole!r} must occur exactly once in the text after the one before it")
            pieces.append(text[start:at])
            start = at + len(hole)
        pieces.append(text[start:])
        self._pieces = pieces
        self._deflated = _deflate_pieces(pieces, self.width) if gzip else []
        self._stored = b"\x00" + struct.pack("<HH", self.width, self.width ^ 0xFFFF)

    def text(self, values: Sequence[bytes]) -> bytes:
        """The text with ``values`` in its holes (each of the holes' width: no check, this is the hot path)."""
        out: list[bytes] = [b""] * (2 * self.holes + 1)
        out[0::2] = self._pieces
        out[1::2] = values
        return b"".join(out)

    def gzip(self, values: Sequence[bytes]) -> bytes:
        """gzip of :meth:`text` of ``values``, spliced (the template must have been made with ``gzip=True``)."""
        text = self.text(values)
        out: list[bytes] = [b""] * (3 * self.holes + 1)
        out[0::3] = self._deflated
        out[1::3] = [self._stored] * self.holes
        out[2::3] = values
        trailer = struct.pack("<LL", zlib.crc32(text), len(text) & 0xFFFFFFFF)
        return b"".join((_HEADER, *out, trailer))


def _deflate_pieces(pieces: list[bytes], width: int) -> list[bytes]:
    """Each piece as a raw deflate segment whose matches may reach back into the pieces before it."""
    segments, seen = [], b""
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=seen) if seen else \
            zlib.compressobj(9, zlib.DEFLATED, -15)
        segments.append(compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
        seen = (seen + piece + b"\x00" * width)[-_WINDOW:]
    return segments
