"""Capture's v0 wire encodings: how a request's bytes become the JSON text capture parses, and back.

The *decoding* side, :func:`decode_payload`, follows capture's ``extract_payload_bytes`` and
``decompress_payload`` step by step, in the order of contract §2.1:

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
status a valid payload gets for each encoding and route.  Both directions read the same constants and
shape predicates (``_shapes``); the round-trip tests hold the two halves against each other.  The
private modules: ``_shapes`` (forms, base64, routes), ``_errors``, ``_decode``, ``_encode``, ``_outcome``;
``lzstring`` is lz-string's base64 format.

Errors form one hierarchy rooted at :class:`DecodeError`.  Each carries ``status``, the HTTP status
capture answers, and its ``str()`` is the plain-text body capture sends (contract §7.2):

- :class:`MissingPayloadError` (400): neither ``?data`` nor a body;
- :class:`MalformedPayloadError` (400): capture's ``RequestDecodingError``, "failed to decode request: ...";
- :class:`PayloadTooLargeError` (413): capture's ``EventTooBig``, the decompressed-size cap.

Left to other layers, as in capture: the 20 MiB wire-body cap (the router's, before any decoding),
axum's rejection of a malformed query string (a non-integer ``_``, a repeated parameter; this package
reads the first occurrence) and JSON parsing.  The form fields ``lib_version`` / ``ver`` feed capture's
logs only, so they are tolerated and otherwise ignored here.
"""

from __future__ import annotations

from harness.wire import lzstring
from harness.wire._decode import DECOMPRESSED_LIMIT, GZIP_MAGIC, Compression, decode_payload, parse_urlencoded
from harness.wire._encode import ENCODINGS, WireRequest, encode
from harness.wire._errors import DecodeError, MalformedPayloadError, MissingPayloadError, PayloadTooLargeError
from harness.wire._outcome import expected_outcome
from harness.wire._shapes import (
    FORM_CONTENT_TYPE,
    FORM_MARKERS,
    LEGACY_PATHS,
    SNIFF_LENGTH,
    V0_PATHS,
    is_legacy_path,
    looks_like_base64,
    looks_like_form,
)

__all__ = [
    "DECOMPRESSED_LIMIT",
    "ENCODINGS",
    "FORM_CONTENT_TYPE",
    "FORM_MARKERS",
    "GZIP_MAGIC",
    "LEGACY_PATHS",
    "SNIFF_LENGTH",
    "V0_PATHS",
    "Compression",
    "DecodeError",
    "MalformedPayloadError",
    "MissingPayloadError",
    "PayloadTooLargeError",
    "WireRequest",
    "decode_payload",
    "encode",
    "expected_outcome",
    "is_legacy_path",
    "looks_like_base64",
    "looks_like_form",
    "lzstring",
    "parse_urlencoded",
]
