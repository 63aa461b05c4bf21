"""JSON text as capture reads and writes it: one strict parser, one serializer.

capture parses with serde_json, which refuses lone surrogates, numbers beyond float range and nesting
deeper than its recursion budget; orjson refuses the same, so :func:`strict_loads` is orjson plus the
depth limit.  :func:`to_json` is the one way the harness turns a value into request text.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

JSON_DEPTH_LIMIT = 127
"""Nested arrays and objects serde_json reads: its recursion budget of 128 runs out on the 128th level."""

_ORJSON_DEPTH_LIMIT = 1024
_DEPTH_PAD = _ORJSON_DEPTH_LIMIT - JSON_DEPTH_LIMIT

JSONDecodeError = orjson.JSONDecodeError


def strict_loads(data: bytes) -> Any:
    """Parse JSON exactly as strictly as capture's serde_json: lone surrogates, numbers beyond float
    range and nesting deeper than :data:`JSON_DEPTH_LIMIT` raise ``orjson.JSONDecodeError`` (see
    :func:`harness.spec.validation.parse_rejection`).  orjson's own depth limit is 1024, so text that
    could be too deep is parsed inside 897 extra arrays: it fails exactly when the payload nests deeper
    than 127 levels."""
    if data.count(b"[") + data.count(b"{") <= JSON_DEPTH_LIMIT:
        return orjson.loads(data)
    try:
        value = orjson.loads(b"[" * _DEPTH_PAD + data + b"]" * _DEPTH_PAD)
    except orjson.JSONDecodeError as error:
        if "depth" in str(error):
            raise orjson.JSONDecodeError(f"depth limit exceeded: nested deeper than {JSON_DEPTH_LIMIT} levels",
                                         "", 0) from None
        return orjson.loads(data)  # raises again, with positions in the caller's text
    for _ in range(_DEPTH_PAD):
        value = value[0]
    return value


def too_deep(data: bytes) -> bool:
    """Whether capture's parser would refuse ``data`` for nesting alone."""
    try:
        strict_loads(data)
    except orjson.JSONDecodeError as error:
        return "depth" in str(error)
    return False


def to_json(value: Any, *, strict: bool = False) -> bytes:
    """``value`` as compact UTF-8 JSON, the way it goes on the wire.

    orjson is fast but refuses integers beyond 64 bits, which capture accepts (it reads them as floats):
    those fall back to the standard library.  Lone surrogates cannot be UTF-8: they are written as
    ``\\ud800`` escapes (capture must be sent exactly those), or, with ``strict=True``, raise
    ``UnicodeEncodeError`` so a judge can report them.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:
            if strict:
                raise
            return json.dumps(value, separators=(",", ":")).encode()
