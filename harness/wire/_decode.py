"""Decoding, request -> payload text: capture's ``extract_payload_bytes`` and ``decompress_payload``.

The six steps of the package docstring, in capture's order; each helper names the steps it takes.
"""

from __future__ import annotations

import binascii
import enum
import zlib
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from harness.spec.rules import WIRE_BODY_LIMIT
from harness.wire import lzstring
from harness.wire._errors import MalformedPayloadError, MissingPayloadError, PayloadTooLargeError
from harness.wire._shapes import FORM_CONTENT_TYPE, is_legacy_path, looks_like_base64, looks_like_form

DECOMPRESSED_LIMIT = 5 * WIRE_BODY_LIMIT
"""Capture's decompressed-payload budget in events mode: ``BATCH_BODY_SIZE`` x 5 = 100 MiB (contract §6)."""

GZIP_MAGIC = b"\x1f\x8b\x08"
"""gzip's magic number plus the deflate method byte: capture gunzips such a payload even without a hint."""

_INFLATE_INPUT_CHUNK = 64 * 1024
_INFLATE_OUTPUT_CHUNK = 64 * 1024


class Compression(enum.Enum):
    """A compression hint as capture understands it.  ``NONE`` is capture's ``Unsupported``: no hint."""

    NONE = "none"
    GZIP = "gzip"
    LZ64 = "lz64"
    BASE64 = "base64"  # accepted as a hint, but selects no decoder: base64 is unwrapped by shape (steps 2, 6)

    @classmethod
    def from_hint(cls, value: str | None, *, case_sensitive: bool = False) -> Compression:
        """Read a hint value; anything unknown (or absent) means no hint.

        Query and form values are matched without regard to case; the ``Content-Encoding`` header is
        matched exactly (``case_sensitive=True``), as capture does.
        """
        if value is None:
            return cls.NONE
        return _HINTS.get(value if case_sensitive else value.lower(), cls.NONE)


_HINTS: dict[str, Compression] = {
    "gzip": Compression.GZIP,
    "gzip-js": Compression.GZIP,
    "lz64": Compression.LZ64,
    "lz-string": Compression.LZ64,
    "base64": Compression.BASE64,
    "b64": Compression.BASE64,
}


def decode_payload(
    path: str,
    query: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_decompressed: int = DECOMPRESSED_LIMIT,
) -> str:
    """The JSON text capture would parse from this request, or the :class:`DecodeError` it would answer.

    ``path`` is the route (a query string after ``?`` is ignored); ``query`` is the raw query string
    (a leading ``?`` is allowed); header names are matched without regard to case.
    ``max_decompressed`` is capture's decompressed-size cap in bytes; gzip output is counted while it
    is inflated, so a gzip bomb costs at most about that much memory.
    """
    raw_query = query.encode() if isinstance(query, str) else query
    fields = _first_values(parse_urlencoded(raw_query.removeprefix(b"?"))) if raw_query else {}
    named = {name.lower(): value for name, value in headers.items()}
    payload, compression = _extract(fields, named, body)
    text = _decompress(payload, compression, max_decompressed)
    return _unwrap_legacy(text, max_decompressed) if is_legacy_path(path) else text


def parse_urlencoded(raw: bytes) -> list[tuple[str, str]]:
    """Name/value pairs of a query string or form body, decoded the way Rust's ``form_urlencoded`` does.

    ``+`` means a space, ``%XX`` escapes are decoded (a malformed one is kept as it is), empty pieces
    are skipped, and invalid UTF-8 becomes U+FFFD instead of failing.
    """
    pairs = []
    for piece in raw.split(b"&"):
        if piece:
            name, _, value = piece.partition(b"=")
            pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "replace")


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _extract(query: dict[str, str], headers: dict[str, str], body: bytes) -> tuple[bytes, Compression]:
    """Steps 1 to 4: capture's ``extract_payload_bytes``, giving the payload bytes and the hint.

    ``headers`` has lower-case names.
    """
    if query.get("data"):
        payload = query["data"].encode()
    elif body:
        payload = body
    else:
        raise MissingPayloadError

    if not looks_like_form(payload) and looks_like_base64(payload):
        decoded = _b64decode(payload)
        if decoded is not None:  # capture keeps the original bytes when decoding fails
            payload = decoded

    form: dict[str, str] = {}
    if headers.get("content-type") == FORM_CONTENT_TYPE:
        if not looks_like_form(payload):
            raise MalformedPayloadError("expected form data in POST request payload")
        form = _form_fields(payload)
        data = form.get("data")
        if data is not None and looks_like_base64(data.encode(), loose=True):
            form["data"] = data.replace(" ", "+")

    compression = Compression.from_hint(query.get("compression"))
    if compression is Compression.NONE:
        compression = Compression.from_hint(form.get("compression"))
    if compression is Compression.NONE:
        compression = Compression.from_hint(headers.get("content-encoding"), case_sensitive=True)

    data = form.get("data")
    return (payload if data is None else data.encode()), compression


def _form_fields(payload: bytes) -> dict[str, str]:
    """The form fields capture reads (``EventFormData``); repeating one is a deserialization error."""
    fields: dict[str, str] = {}
    for name, value in parse_urlencoded(payload):
        if name in ("data", "compression"):
            if name in fields:
                raise MalformedPayloadError("invalid urlencoded form data")
            fields[name] = value
    return fields


def _b64decode(payload: bytes) -> bytes | None:
    """Standard base64 as Rust's ``base64`` STANDARD engine decodes it, or None where it refuses.

    Python's strict mode checks the alphabet and the padding but, unlike Rust, accepts non-zero
    leftover bits in the last quantum (``QR==``); re-encoding the last quantum catches those.
    """
    try:
        decoded = binascii.a2b_base64(payload, strict_mode=True)
    except binascii.Error:
        return None
    tail = payload[-4:]
    if binascii.b2a_base64(binascii.a2b_base64(tail), newline=False) != tail:
        return None
    return decoded


def _decompress(payload: bytes, compression: Compression, limit: int) -> str:
    """Step 5: capture's ``decompress_payload`` up to (not including) the legacy unwrap."""
    if compression is Compression.GZIP or payload.startswith(GZIP_MAGIC):
        inflated = _gunzip(payload, limit)
        try:
            return inflated.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayloadError("invalid gzip data") from None
    if compression is Compression.LZ64:
        return _lz64(payload, limit)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayloadError("invalid UTF8 in request payload") from None
    if len(payload) > limit:
        raise PayloadTooLargeError(f"Uncompressed payload size limit {limit} exceeded: {len(payload)}")
    return text


def _gunzip(payload: bytes, limit: int) -> bytearray:
    """Inflate one gzip member, failing as soon as the output would pass ``limit`` bytes.

    Input and output both move in 64 KiB chunks, so neither a bomb's output nor copies of its
    unconsumed input are ever held beyond the cap.  Data after the first member is ignored, as
    flate2's ``GzDecoder`` does; a truncated stream or a bad CRC is invalid.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    output = bytearray()
    view = memoryview(payload)
    try:
        for start in range(0, len(payload), _INFLATE_INPUT_CHUNK):
            pending: bytes | memoryview = view[start:start + _INFLATE_INPUT_CHUNK]
            while not inflater.eof:
                piece = inflater.decompress(pending, _INFLATE_OUTPUT_CHUNK)
                if len(output) + len(piece) > limit:
                    raise PayloadTooLargeError(
                        f"Decompressed payload would exceed {limit} bytes (got {len(output) + len(piece)} bytes)"
                    )
                output += piece
                pending = inflater.unconsumed_tail
                if not pending and len(piece) < _INFLATE_OUTPUT_CHUNK:
                    break  # input used up and no output held back: feed the next chunk
            if inflater.eof:
                return output
    except zlib.error:
        raise MalformedPayloadError("invalid GZIP data") from None
    raise MalformedPayloadError("invalid GZIP data")  # the stream ended before the gzip trailer


def _lz64(payload: bytes, limit: int) -> str:
    """lz-string's ``compressToBase64`` format, capped like capture's ``decompress_lz64_to_string``.

    The cap counts UTF-16 code units against a byte limit while decoding (UTF-8 is never shorter than
    the UTF-16 it encodes, so nothing that fits is refused), then the UTF-8 length is checked too.
    Capture hands non-UTF-8 bytes to its decoder as the text ``INVALID_UTF8``, which decodes to a
    character of garbage that then fails JSON parsing; refusing them here gives the same 400 (its
    text names the lz64 step instead of the parser).
    """
    try:
        text = lzstring.decompress_from_base64(payload.decode("utf-8"), max_units=limit)
    except lzstring.OutputTooLargeError:
        raise PayloadTooLargeError(f"Decompressed LZ64 payload would exceed {limit} bytes") from None
    except lzstring.UnpairedSurrogateError:
        raise MalformedPayloadError("decompress_lz64: failed UTF16 to UTF8 conversion") from None
    except (UnicodeDecodeError, lzstring.LZStringError):
        raise MalformedPayloadError("decompress_lz64: failed decompress to UTF16") from None
    if len(text.encode("utf-8")) > limit:
        raise PayloadTooLargeError("lz64 request payload size limit exceeded")
    return text


def _unwrap_legacy(text: str, limit: int) -> str:
    """Step 6: on legacy paths, text that is still base64-shaped is decoded once more, if that works."""
    raw = text.encode("utf-8")
    if not looks_like_base64(raw):
        return text
    decoded = _b64decode(raw)
    if decoded is None:
        return text
    try:
        unwrapped = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return text
    if len(decoded) > limit:
        raise PayloadTooLargeError(
            f"decompress_payload: payload size limit {limit} exceeded after post-decode base64 unwrap: "
            f"{len(decoded)}"
        )
    return unwrapped
