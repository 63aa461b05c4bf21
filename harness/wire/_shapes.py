"""What capture recognises by shape alone: a form, base64 text, a legacy route, a v0 path.

Decoding, encoding and :func:`~harness.wire.expected_outcome` all read these, so the two directions and
the contract table cannot disagree on what "looks like a form" or "is a legacy path" means.
"""

from __future__ import annotations

import re

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
"""The only ``Content-Type`` capture reads as a form: compared exactly, so ``; charset=UTF-8`` is not one."""

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
    return route.removesuffix("/") in LEGACY_PATHS
