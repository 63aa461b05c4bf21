"""Payloads the contract tests build as bytes, because no JSON value serializes to them or because their
size is the point: malformed JSON, nesting past serde's limit, ``1e400``, a body of an exact size, and
a gzip bomb.
"""

from __future__ import annotations

import copy
import struct
import zlib
from collections.abc import Callable
from typing import Any

from harness.spec.body import events_of
from harness.spec.jsontext import JSON_DEPTH_LIMIT, to_json
from harness.spec.rules import EVENT_SIZE_LIMIT

BOMB_INFLATED = 1 << 30
"""What the gzip bomb inflates to: 1 GiB of zeros, ten times capture's 100 MiB decompressed budget."""

_PLACEHOLDER = "__capture_harness_placeholder__"


def not_json(body: Any) -> bytes:
    """``body``'s JSON text cut short by one byte: capture's parser fails on it (rule ``body-not-json``)."""
    return to_json(body)[:-1]


def too_deep(body: Any) -> bytes:
    """``body`` with a property nested one level past serde_json's limit (rule ``json-too-deep``)."""
    deep: Any = "leaf"
    for _ in range(JSON_DEPTH_LIMIT + 1):
        deep = [deep]
    return _with_property(body, "nested", deep)


def number_out_of_range(body: Any) -> bytes:
    """``body`` with a property ``1e400``, beyond f64, which capture's parser rejects (``number-out-of-range``)."""
    return _with_property(body, "huge", _PLACEHOLDER).replace(f'"{_PLACEHOLDER}"'.encode(), b"1e400", 1)


def _with_property(body: Any, name: str, value: Any) -> bytes:
    body = copy.deepcopy(body)
    events_of(body)[0].setdefault("properties", {})[name] = value
    return to_json(body)


def batch_of_size(make_event: Callable[[int], dict[str, Any]], api_key: str, size: int) -> bytes:
    """A batch body of exactly ``size`` bytes of compact JSON: events from ``make_event(index)`` padded
    with ``properties.padding``, each under Kafka's per-event limit, so that the body's size is the only
    thing a server can object to."""
    per_event = EVENT_SIZE_LIMIT - 10_000
    count = -(-size // per_event)
    events = [make_event(index) for index in range(count)]
    for event in events:
        event.setdefault("properties", {})["padding"] = ""
    missing = size - len(to_json({"api_key": api_key, "batch": events}))
    if missing < 0:
        raise ValueError(f"size={size} is smaller than {count} events without padding")
    for index, event in enumerate(events):
        event["properties"]["padding"] = "x" * (missing // count + (1 if index < missing % count else 0))
    data = to_json({"api_key": api_key, "batch": events})
    if len(data) != size:  # padding is ASCII, one byte a character: only a bug gets here
        raise AssertionError(f"built {len(data)} bytes, wanted {size}")
    return data


def gzip_bomb(inflated: int = BOMB_INFLATED) -> bytes:
    """One gzip member that inflates to ``inflated`` zero bytes (~1 MiB for 1 GiB), built in ~0.2 s.

    The 1 MiB deflate block of zeros is compressed once, ended with a full flush (byte-aligned, no
    back-references across it) and repeated, so the bomb is never held uncompressed; the trailer's
    CRC-32 and length are the true ones, so only the size can make a server refuse it.
    """
    chunk = bytes(1 << 20)
    if inflated % len(chunk):
        raise ValueError(f"inflated={inflated} must be a multiple of 1 MiB")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(inflated // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    # magic, deflate, no flags, mtime 0, maximum compression, unknown OS
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    return header + block * (inflated // len(chunk)) + tail + trailer
