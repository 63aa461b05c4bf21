"""lz-string's base64 format (``compressToBase64`` / ``decompressFromBase64`` of lz-string 1.5.0).

posthog-js used to send payloads with ``compression=lz64``: the event JSON passed through lz-string's
``compressToBase64``.  Capture decodes it with the Rust ``lz_str`` crate (contract §2.1, step 5).

This module exists because the ``lzstring`` package on PyPI (1.0.4, the only release) is wrong for any
text with a character above U+FFFF: it walks Python code points, while lz-string walks JavaScript's UTF-16
code units, so an emoji is one dictionary symbol to it and two to every other implementation.  It fails
two of the reference vectors in ``shared/fixtures/lzstring-vectors.json`` both ways (decoding and
encoding).  Here the text is turned into UTF-16 code units first, and the algorithm follows the
JavaScript original step by step, so the output is byte-for-byte what posthog-js sent.

Errors: every failure raises :class:`LZStringError` (a ``ValueError``).  Two subclasses say why, because
capture answers them differently: :class:`UnpairedSurrogateError` (the stream decodes, but to UTF-16 that
is not text; capture's "failed UTF16 to UTF8 conversion") and :class:`OutputTooLargeError` (the output
passed the caller's cap; capture's 413).  Anything else (a character outside the base64 alphabet, a
truncated stream, a code that points past the dictionary) is a plain :class:`LZStringError`.
"""

from __future__ import annotations

from array import array

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
"""lz-string's ``keyStrBase64``: standard base64 digits, then ``=`` as value 64."""

_VALUES: dict[str, int] = {char: value for value, char in enumerate(ALPHABET)}
_BITS_PER_CHAR = 6
_RESET = 1 << (_BITS_PER_CHAR - 1)  # lz-string's resetValue (32): the top bit of a 6-bit digit
_END_OF_STREAM = 2


class LZStringError(ValueError):
    """The input is not lz-string ``compressToBase64`` output."""


class UnpairedSurrogateError(LZStringError):
    """The stream decodes to UTF-16 with an unpaired surrogate, which is not text."""


class OutputTooLargeError(LZStringError):
    """The decompressed output went past the caller's ``max_units``."""


def compress_to_base64(text: str) -> str:
    """``LZString.compressToBase64(text)``: the exact characters lz-string 1.5.0 produces."""
    units = _utf16_units(text)
    out = _BitWriter()
    dictionary: dict[str, int] = {}
    pending: set[str] = set()  # lz-string's context_dictionaryToCreate: single units not yet emitted
    dict_size = 3
    num_bits = 2
    enlarge_in = 2  # starts at 2 to compensate for the first entry, which does not count
    w = ""

    def emit(phrase: str) -> None:
        """Write the code of ``phrase`` (first sending its literal if it is a new single unit)."""
        nonlocal enlarge_in, num_bits
        if phrase in pending:
            unit = ord(phrase)
            if unit < 256:
                out.write(0, num_bits)
                out.write(unit, 8)
            else:
                out.write(1, num_bits)
                out.write(unit, 16)
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << num_bits
                num_bits += 1
            pending.discard(phrase)
        else:
            out.write(dictionary[phrase], num_bits)
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1

    for c in units:
        if c not in dictionary:
            dictionary[c] = dict_size
            dict_size += 1
            pending.add(c)
        wc = w + c
        if wc in dictionary:
            w = wc
            continue
        emit(w)
        dictionary[wc] = dict_size
        dict_size += 1
        w = c
    if w:
        emit(w)
    out.write(_END_OF_STREAM, num_bits)
    encoded = out.finish()
    return encoded + "=" * (-len(encoded) % 4)


def decompress_from_base64(data: str, *, max_units: int | None = None) -> str:
    """``LZString.decompressFromBase64(data)`` as text, raising where lz-string would return garbage.

    ``max_units`` caps the output in UTF-16 code units while it is produced (capture caps lz64 output
    the same way): a small crafted input that expands without end stops at the cap, having held the
    output and a dictionary of about the same size, never more.
    """
    if not data:
        raise LZStringError("empty input (lz-string returns null for it)")
    reader = _BitReader(data)
    dictionary: list[str] = ["", "", ""]  # codes 0, 1 and 2 are the literal and end markers
    num_bits = 3
    enlarge_in = 4
    result: list[str] = []

    first = reader.read(2)
    if first == _END_OF_STREAM:
        return ""
    if first > _END_OF_STREAM:
        raise LZStringError(f"stream starts with code {first}, not a literal")
    w = chr(reader.read(8 if first == 0 else 16))
    dictionary.append(w)
    result.append(w)
    produced = 1

    while True:
        code = reader.read(num_bits)
        if code == _END_OF_STREAM:
            return _utf16_text("".join(result))
        if code < _END_OF_STREAM:
            dictionary.append(chr(reader.read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << num_bits
                num_bits += 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = w + w[0]
        else:
            raise LZStringError(f"code {code} points past the dictionary ({len(dictionary)} entries)")
        produced += len(entry)
        if max_units is not None and produced > max_units:
            raise OutputTooLargeError(f"decompressed output exceeds {max_units} UTF-16 code units")
        result.append(entry)
        dictionary.append(w + entry[0])
        enlarge_in -= 1
        w = entry
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1


def _utf16_units(text: str) -> str:
    """``text`` as one character per UTF-16 code unit (astral characters become surrogate pairs)."""
    raw = array("H", text.encode("utf-16-le", "surrogatepass"))
    return "".join(map(chr, raw))


def _utf16_text(units: str) -> str:
    """The inverse of :func:`_utf16_units`; an unpaired surrogate raises."""
    try:
        return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError as error:
        raise UnpairedSurrogateError(f"decompressed UTF-16 is not text: {error.reason}") from None


class _BitWriter:
    """lz-string's bit packing: each value least-significant bit first, into 6-bit base64 digits."""

    def __init__(self) -> None:
        self._digits: list[str] = []
        self._value = 0
        self._position = 0

    def write(self, value: int, width: int) -> None:
        for _ in range(width):
            self._value = (self._value << 1) | (value & 1)
            value >>= 1
            if self._position == _BITS_PER_CHAR - 1:
                self._digits.append(ALPHABET[self._value])
                self._position = 0
                self._value = 0
            else:
                self._position += 1

    def finish(self) -> str:
        # lz-string always shifts in at least one zero bit, so a stream that ends on a digit boundary
        # still gets one more (all-zero) digit; the reference vectors depend on it.
        while True:
            self._value <<= 1
            if self._position == _BITS_PER_CHAR - 1:
                self._digits.append(ALPHABET[self._value])
                return "".join(self._digits)
            self._position += 1


class _BitReader:
    """Reads the bits :class:`_BitWriter` wrote, one base64 digit at a time, only as far as needed.

    JavaScript's lz-string reads past the end of its input as zero bits and maps characters outside
    its alphabet to zero; both mean the input was not lz-string output, so here they raise.
    """

    def __init__(self, data: str) -> None:
        self._data = data
        self._index = 0
        self._value = 0
        self._mask = 0

    def read(self, width: int) -> int:
        bits = 0
        for power in range(width):
            if self._mask == 0:
                self._value = self._next_digit()
                self._mask = _RESET
            if self._value & self._mask:
                bits |= 1 << power
            self._mask >>= 1
        return bits

    def _next_digit(self) -> int:
        if self._index >= len(self._data):
            raise LZStringError("input ends before the end-of-stream marker")
        char = self._data[self._index]
        self._index += 1
        try:
            return _VALUES[char]
        except KeyError:
            raise LZStringError(
                f"{char!r} at offset {self._index - 1} is not in lz-string's base64 alphabet"
            ) from None
