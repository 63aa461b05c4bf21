"""Capture's v0 wire encodings: how a request's bytes become the JSON text capture parses.

This module holds the *decoding* side, :func:`decode_payload`, which follows capture's
``extract_payload_bytes`` and ``decompress_payload`` step by step, in the order of contract §2.1:

1. the payload is a non-empty ``data`` query parameter, else the body;
2. it is base64-decoded optimistically when it is base64-shaped and does not look like a form;
3. it is read as a form only when ``Content-Type`` is exactly ``application/x-www-form-urlencoded``;
4. the compression hint comes from ``?compression``, then the form field, then ``Content-Encoding``;
5. gzip (hinted, or by its magic bytes) or lz64 (hinted only) is decompressed, under a size cap;
6. on the legacy paths the text is base64-unwrapped once more.

The order is the point: a reference server or a check that applies the same steps in another order
accepts requests capture refuses, and the other way round.  Two consequences an encoder must respect:
lz64 text is base64-shaped, so sent as a raw body it is base64-decoded by step 2 before the hint is
even read (send it as a form's ``data``); and a bare ``+`` in a ``?data=`` value becomes a space that
nothing repairs (percent-encode it).

The *encoding* side, :func:`encode`, puts a JSON payload on the wire in each of the ways capture
accepts (:data:`ENCODINGS`), and :func:`expected_outcome` says, from the contract text alone, which
status a valid payload gets for each encoding and route.  Both directions live here so they share the
constants and the shape predicates; the round-trip tests hold the two halves against each other.

Errors form one hierarchy rooted at :class:`DecodeError`.  Each carries ``status``, the HTTP status
capture answers, and its ``str()`` is the plain-text body capture sends (contract §7.2):

- :class:`MissingPayloadError` (400): neither ``?data`` nor a body;
- :class:`MalformedPayloadError` (400): capture's ``RequestDecodingError``, "failed to decode request: ...";
- :class:`PayloadTooLargeError` (413): capture's ``EventTooBig``, the decompressed-size cap.

Left to other layers, as in capture: the 20 MiB wire-body cap (the router's, before any decoding),
axum's rejection of a malformed query string (a non-integer ``_``, a repeated parameter; this module
reads the first occurrence) and JSON parsing.  The form fields ``lib_version`` / ``ver`` feed capture's
logs only, so they are tolerated and otherwise ignored here.
"""

from __future__ import annotations

import binascii
import enum
import gzip
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote, unquote_to_bytes, urlencode

from harness.spec.rules import WIRE_BODY_LIMIT
from harness.wire import lzstring

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
"""The only ``Content-Type`` capture reads as a form: compared exactly, so ``; charset=UTF-8`` is not one."""

DECOMPRESSED_LIMIT = 5 * WIRE_BODY_LIMIT
"""Capture's decompressed-payload budget in events mode: ``BATCH_BODY_SIZE`` x 5 = 100 MiB (contract §6)."""

GZIP_MAGIC = b"\x1f\x8b\x08"
"""gzip's magic number plus the deflate method byte: capture gunzips such a payload even without a hint."""

LEGACY_PATHS = frozenset({"/e", "/capture", "/engage", "/track"})
"""Routes (without their trailing slash) that get a second base64 unwrap after decompression (§1.1)."""

V0_PATHS: tuple[str, ...] = tuple(
    path for route in ("/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage") for path in (route, route + "/")
)
"""The v0 analytics paths: six routes, each registered with and without a trailing slash, no redirect (§1.1)."""

SNIFF_LENGTH = 128
"""Capture decides "looks like base64 / like a form" from the first 128 bytes only (``MAX_CHARS_TO_CHECK``)."""

FORM_MARKERS = (b"data=", b"_=", b"ip=", b"compression=")
"""Field names whose presence at the start, or after an ``&``, makes a payload look like a form."""

_FORM_SHAPE = re.compile(rb"(?:^|&)(?:" + b"|".join(re.escape(m) for m in FORM_MARKERS) + rb")")
_BASE64_SHAPE = re.compile(rb"[A-Za-z0-9+/=]*")
_LOOSE_BASE64_SHAPE = re.compile(rb"[A-Za-z0-9+/= ]*")
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


# --- shape predicates (shared by both directions) -----------------------------------------------------


def looks_like_form(payload: bytes) -> bool:
    """Capture's ``is_likely_urlencoded_form``: a form marker at the start or after ``&``, in 128 bytes."""
    return _FORM_SHAPE.search(payload, 0, SNIFF_LENGTH) is not None


def looks_like_base64(payload: bytes, *, loose: bool = False) -> bool:
    """Capture's ``is_likely_base64``: the first 128 bytes are base64 digits and the length is a multiple of 4.

    ``loose`` also allows spaces, for a form value whose ``+`` signs urldecoding turned into spaces.
    """
    shape = _LOOSE_BASE64_SHAPE if loose else _BASE64_SHAPE
    return bool(payload) and len(payload) % 4 == 0 and shape.fullmatch(payload, 0, SNIFF_LENGTH) is not None


def is_legacy_path(path: str) -> bool:
    """Whether capture unwraps base64 once more on this route (``/e``, ``/capture``, ``/engage``, ``/track``)."""
    route = path.split("?", 1)[0]
    return (route[:-1] if route.endswith("/") else route) in LEGACY_PATHS


# --- decoding: request -> payload text ----------------------------------------------------------------


class DecodeError(Exception):
    """Capture refuses the request while turning its bytes into payload text.

    ``status`` is the HTTP status capture answers; ``str(error)`` is the plain-text body it sends.
    """

    status: ClassVar[int] = 400


class MissingPayloadError(DecodeError):
    """Neither a non-empty ``data`` query parameter nor a body (capture's ``EmptyPayload``)."""

    def __init__(self) -> None:
        super().__init__("request missing data payload")


class MalformedPayloadError(DecodeError):
    """The payload cannot be decoded (capture's ``RequestDecodingError``); ``detail`` names the step."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"failed to decode request: {detail}")
        self.detail = detail


class PayloadTooLargeError(DecodeError):
    """The decoded payload passed the decompressed-size cap (capture's ``EventTooBig``)."""

    status: ClassVar[int] = 413

    def __init__(self, detail: str) -> None:
        super().__init__(f"maximum event size exceeded: {detail}")
        self.detail = detail


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
    payload, compression = _extract(fields, headers, body)
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


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if name in headers:  # the server passes names already lower-cased
        return headers[name]
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _extract(query: dict[str, str], headers: Mapping[str, str], body: bytes) -> tuple[bytes, Compression]:
    """Steps 1 to 4: capture's ``extract_payload_bytes``, giving the payload bytes and the hint."""
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
    if _header(headers, "content-type") == FORM_CONTENT_TYPE:
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
        compression = Compression.from_hint(_header(headers, "content-encoding"), case_sensitive=True)

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


# --- encoding: payload -> request ---------------------------------------------------------------------

_JSON_CONTENT_TYPE = "application/json"
_TEXT_CONTENT_TYPE = "text/plain"


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request as capture receives it: what :func:`encode` builds and :func:`decode_payload` reads.

    ``target`` is the request target, the path plus its query string, so it can be appended to a base
    URL as it is; ``body`` is empty for a GET.
    """

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class _Encoded:
    """What an encoding decides: the whole request except the path and the caller's query parameters."""

    method: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes


def _gzip(payload: bytes) -> bytes:
    """gzip with a zero mtime, so a payload always gives the same bytes (posthog-js passes fflate ``mtime: 0``)."""
    return gzip.compress(payload, mtime=0)


def _base64(payload: bytes) -> str:
    """Canonical, padded, standard-alphabet base64.

    Step 2 decodes only a length that is a multiple of 4, and Rust refuses non-zero leftover bits, so
    anything else would reach the JSON parser still encoded.  Base64 of any bytes uses only the strict
    alphabet, so, unlike lz64, the check on the first 128 bytes never fails on its content.
    """
    return binascii.b2a_base64(payload, newline=False).decode("ascii")


def _urlencode(pairs: list[tuple[str, str]]) -> str:
    """A query string or form body with every reserved character percent-encoded, as ``encodeURIComponent`` does.

    Base64's ``+`` must go as ``%2B``: urldecoding turns a bare ``+`` into a space, and capture repairs
    that only inside a form, never in ``?data=`` (§2.1 caveat).  ``/`` and ``=`` are encoded too.
    """
    return urlencode(pairs, quote_via=quote)


def _as_json(payload: bytes) -> _Encoded:
    """Plain JSON, as posthog-python sends by default and posthog-node with ``disableCompression`` (§11, §13)."""
    return _Encoded("POST", (), {"Content-Type": _JSON_CONTENT_TYPE}, payload)


def _as_gzip_header(payload: bytes) -> _Encoded:
    """gzip named by ``Content-Encoding: gzip``: posthog-node by default, posthog-python with ``gzip=True`` (§13)."""
    return _Encoded("POST", (), {"Content-Type": _JSON_CONTENT_TYPE, "Content-Encoding": "gzip"}, _gzip(payload))


def _as_gzip_query(payload: bytes) -> _Encoded:
    """gzip named by ``?compression=gzip-js`` and sent as ``text/plain``: posthog-js (§11, the records of §9.1)."""
    return _Encoded("POST", (("compression", "gzip-js"),), {"Content-Type": _TEXT_CONTENT_TYPE}, _gzip(payload))


def _as_gzip_magic(payload: bytes) -> _Encoded:
    """gzip with no hint at all, found by its magic bytes (§2.1 step 5; the hint-less record of §9.1)."""
    return _Encoded("POST", (), {"Content-Type": _TEXT_CONTENT_TYPE}, _gzip(payload))


def _as_base64(payload: bytes) -> _Encoded:
    """The base64 text of the JSON as the whole body, ``text/plain``, no hint.

    No SDK on record sends this (posthog-js put its base64 inside a form, see ``form``); capture's own
    tests do, as ``text/plain`` without a hint (the ``*-base64-no-hint-*`` cases of §9.2).  ``text/plain``
    says what the body is, and a ``compression=base64`` hint would change nothing (§2.1 step 5).
    """
    return _Encoded("POST", (), {"Content-Type": _TEXT_CONTENT_TYPE}, _base64(payload).encode("ascii"))


def _as_form(payload: bytes) -> _Encoded:
    """A form ``data=<base64 of the JSON>``, byte for byte what posthog-js 1.78.5 sent (the form records of §9.1).

    Those records carry no ``compression`` parameter.  Newer posthog-js adds ``?compression=base64``
    (§11); pass it in ``query`` to reproduce that: the base64 hint selects no decoder (§2.1 step 5), so
    it changes nothing.
    """
    body = _urlencode([("data", _base64(payload))])
    return _Encoded("POST", (), {"Content-Type": FORM_CONTENT_TYPE}, body.encode("ascii"))


def _as_form_lz64(payload: bytes) -> _Encoded:
    """A form ``data=<lz-string compressToBase64>&compression=lz64``: old posthog-js, capture's form-lz64 tests.

    The hint is a form field (§2.1 step 4); lz64 text is base64-shaped, so it only survives step 2
    inside a form.  ``payload`` must be UTF-8, since lz-string compresses text.
    """
    body = _urlencode([("data", lzstring.compress_to_base64(payload.decode("utf-8"))), ("compression", "lz64")])
    return _Encoded("POST", (), {"Content-Type": FORM_CONTENT_TYPE}, body.encode("ascii"))


def _as_get_data(payload: bytes) -> _Encoded:
    """A GET with ``?data=<base64 of the JSON>``, percent-encoded, and no body (§2.1 step 1 and its caveat)."""
    return _Encoded("GET", (("data", _base64(payload)),), {}, b"")


_ENCODERS: dict[str, Callable[[bytes], _Encoded]] = {
    "json": _as_json,
    "gzip-header": _as_gzip_header,
    "gzip-query": _as_gzip_query,
    "gzip-magic": _as_gzip_magic,
    "base64": _as_base64,
    "form": _as_form,
    "form-lz64": _as_form_lz64,
    "get-data": _as_get_data,
}

ENCODINGS: tuple[str, ...] = tuple(_ENCODERS)
"""Every way :func:`encode` puts a payload on the wire; each encoder's docstring names who sends it so."""


def _encoder(encoding: str) -> Callable[[bytes], _Encoded]:
    try:
        return _ENCODERS[encoding]
    except KeyError:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of: {', '.join(ENCODINGS)}") from None


def encode(payload_json: bytes, encoding: str, path: str, *, query: Mapping[str, str] | None = None) -> WireRequest:
    """The request that sends ``payload_json`` (UTF-8 JSON text) to ``path`` the way ``encoding`` names.

    ``query`` adds parameters after the encoding's own, the way posthog-js appends ``_``, ``ver`` and
    ``beacon=1``.  It may not repeat one the encoding sets (``compression`` for ``gzip-query``, ``data``
    for ``get-data``): capture answers a repeated query parameter with 400, so such a request could
    not test the encoding.  ``path`` takes no query string of its own, for the same reason.
    :func:`expected_outcome` says what capture answers.
    """
    encoder = _encoder(encoding)
    if "?" in path:
        raise ValueError(f"path={path!r} holds a query string; pass its parameters as query= instead")
    encoded = encoder(payload_json)
    extra = dict(query or {})
    repeated = sorted(extra.keys() & {name for name, _ in encoded.query})
    if repeated:
        raise ValueError(f"query={extra!r} repeats {repeated}, which the {encoding!r} encoding sets itself")
    pairs = [*encoded.query, *extra.items()]
    target = f"{path}?{_urlencode(pairs)}" if pairs else path
    return WireRequest(encoded.method, target, encoded.headers, encoded.body)


def expected_outcome(encoding: str, path: str) -> int | None:
    """The status capture answers when a valid payload is sent with ``encoding`` to ``path``.

    200 where the encoding works (or 204 if the caller adds ``beacon=1``, §2.1), the 4xx where the
    contract leaves a hole, and None when ``path`` is not one of :data:`V0_PATHS`, where this table says
    nothing.  Derived from the contract's text, not from :func:`decode_payload`, so the round-trip tests
    can hold one against the other.  A valid payload is a JSON array or object (§2.2): its text starts
    with ``[`` or ``{``, so step 2 never takes it for base64 and step 6 never unwraps it.

    =============  ==================  ================  =====================================================
    encoding       /e /capture         /batch /i/v0/e    why (capture-contract.md §2.1 steps unless noted)
                   /engage /track
    =============  ==================  ================  =====================================================
    json           200                 200               5: read as UTF-8
    gzip-header    200                 200               4: ``Content-Encoding`` matched exactly; 5: gunzip
    gzip-query     200                 200               4: query hint first; 5: gunzip
    gzip-magic     200                 200               5: ``1f 8b 08`` is gunzipped without a hint
    base64         200                 200               2: base64-decoded on every path (canonical, padded)
    form           200                 **400**           2 skipped (looks like a form); 3 takes ``data``, base64
                                                         text; no hint, 5 keeps it as UTF-8; 6 unwraps it on
                                                         legacy paths only (§1.1); elsewhere 8 fails on it
    form-lz64      200                 200               3 takes ``data``; 4 the form's ``compression=lz64``
    get-data       200                 200               1 ``?data=``; ``+`` as ``%2B`` (caveat); 2 decodes it
    =============  ==================  ================  =====================================================

    Variants a caller can make with ``query`` or by editing the request, and what they change:

    - ``form`` with ``?compression=base64`` (newer posthog-js, §11): nothing; the base64 hint selects
      no decoder (step 5).
    - ``form`` with ``?compression=gzip-js`` (the "mismatch" record of §9.1): 400; an explicit gzip hint
      on bytes that are not gzip is invalid (step 5), although Django accepted it.
    - lz64 as the raw body, hinted: 400 for about three payloads in four; its text is base64-shaped, so
      step 2 decodes it before the hint is read.  Only when lz-string pads with ``===`` (invalid base64,
      the other quarter) does it reach the lz64 decoder intact.  Hence ``form-lz64``.
    - ``form`` or ``form-lz64`` with ``Content-Type: ...; charset=UTF-8``: 400; step 3 compares exactly.
    - ``get-data`` with a bare ``+``: 400 once the base64 holds one; it becomes a space (caveat).
    """
    _encoder(encoding)  # an unknown name is refused here as in encode()
    route = path.split("?", 1)[0]
    if route not in V0_PATHS:
        return None
    if encoding == "form" and not is_legacy_path(route):
        # §2.1 steps 2, 3, 5, 6 and §1.1: the base64 text in ``data`` is unwrapped on legacy paths only;
        # anywhere else it reaches JSON parsing (step 8) still encoded.
        return 400
    return 200
