"""Encoding, payload -> request: every way capture accepts a JSON payload, each named for who sends it so.

Each encoder decides the method, its own query parameters, the headers and the body; :func:`encode` adds
the path and the caller's parameters.  The bytes are canonical (padded base64, gzip with a zero mtime,
every reserved character percent-encoded), so a payload always gives the same request.
"""

from __future__ import annotations

import binascii
import gzip
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlencode

from harness.wire import lzstring
from harness.wire._shapes import FORM_CONTENT_TYPE

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


class _Encoded(NamedTuple):
    """What an encoding decides: the whole request except the path and the caller's query parameters.  (A
    named tuple: the load corpus builds one per request, and a frozen dataclass costs four times as much.)"""

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


def encoder(encoding: str) -> Callable[[bytes], _Encoded]:
    """The encoder named ``encoding``; an unknown name is a ``ValueError`` that lists the known ones."""
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
    encode_payload = encoder(encoding)
    if "?" in path:
        raise ValueError(f"path={path!r} holds a query string; pass its parameters as query= instead")
    encoded = encode_payload(payload_json)
    if not query and not encoded.query:  # most load requests: nothing to check or join
        return WireRequest(encoded.method, path, encoded.headers, encoded.body)
    extra = dict(query or {})
    repeated = sorted(extra.keys() & {name for name, _ in encoded.query})
    if repeated:
        raise ValueError(f"query={extra!r} repeats {repeated}, which the {encoding!r} encoding sets itself")
    pairs = [*encoded.query, *extra.items()]
    return WireRequest(encoded.method, f"{path}?{_urlencode(pairs)}", encoded.headers, encoded.body)
