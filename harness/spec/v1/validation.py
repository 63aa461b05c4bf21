"""Judge a v1 request as capture would (capture-v1.md §3, §4): the headers in their order, then the body's
size and decoding, its shape (``schemas/v1/``), the batch, the uuids, and each event's result.

:func:`validate_request` takes the headers and either the raw body bytes (decoded here by their
``Content-Encoding``) or the body as a JSON value (already decoded: its encoding header is only checked).
Without headers (``None``) only the body is judged.  ``variants`` selects older revisions' answers by the
names in :data:`harness.spec.rules.V1_RULES` (capture-v1.md §8); ``profile="sdk"`` adds the warnings of
what an SDK should emit.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from harness.spec.jsontext import JSONDecodeError, strict_loads, to_json
from harness.spec.rules import EVENT_SIZE_LIMIT, V1_DECOMPRESSED_LIMIT, V1_RULES, V1_WIRE_BODY_LIMIT
from harness.spec.v1 import events, headers as header_checks, schemas
from harness.spec.v1.model import Finding, Report, finding
from harness.spec.v1.text import canonical_uuid, is_rfc3339

PROFILES = ("server", "sdk")
VARIANTS: tuple[str, ...] = tuple(v.name for r in V1_RULES for v in r.variants)
"""Every selectable older-revision answer (capture-v1.md §8)."""

_MISSING = object()


def validate_request(headers: Mapping[str, str] | None, body: Any = _MISSING, *, raw: bytes | None = None,
                     profile: str = "server", variants: frozenset[str] = frozenset(),
                     prefix: str = "$") -> Report:
    """The verdict on one request; ``prefix`` is the JSON path of the request document: with headers the
    paths are ``$.headers.NAME`` and ``$.body...``, without (``None``) the body's own ``$...``."""
    unknown = variants - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown v1 variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    body_path = f"{prefix}.body" if headers is not None else prefix
    h = header_checks.lowered(headers or {})
    if headers is not None:
        refused = header_checks.check(headers, variants, f"{prefix}.headers")
        if refused is not None:
            return _rejected("request", refused, body_path)
    if raw is not None:
        decoded = decode_body(raw, h.get("content-encoding"), body_path, variants)
        if isinstance(decoded, Finding):
            return _rejected("request", decoded, body_path)
        body = decoded
    elif body is _MISSING:
        raise ValueError("give the body as a JSON value or as raw bytes")
    else:
        size = len(to_json(body))
        if size > V1_WIRE_BODY_LIMIT and "content-encoding" not in h:
            return _rejected("request", finding("v1-body-too-large", body_path, f"{size:,} bytes", variants), body_path)
    report = validate_body(body, profile=profile, variants=variants, prefix=body_path,
                           kind="request" if headers is not None else "body",
                           sized=raw is not None or size > EVENT_SIZE_LIMIT)
    if headers is not None and report.accepted:
        extra = tuple(header_checks.warnings(headers, profile == "sdk", f"{prefix}.headers"))
        report = Report(report.kind, report.status, (), report.results, extra + report.warnings,
                        report.events_path)
    return report


def decode_body(raw: bytes, encoding: str | None, path: str, variants: frozenset[str]) -> Any:
    """The body's JSON value, or the :class:`Finding` that refuses it (size, emptiness, decoding, JSON):
    capture's ``util.rs`` steps, shared with the reference endpoint."""
    if len(raw) > V1_WIRE_BODY_LIMIT:
        return finding("v1-body-too-large", path, f"{len(raw):,} bytes on the wire", variants)
    if not raw:
        return finding("v1-body-empty", path, "", variants)
    name = (encoding or "").strip().lower()
    if name in ("gzip", "deflate", "br", "zstd"):
        try:
            raw = _unbrotli(raw) if name == "br" else _unzstd(raw) if name == "zstd" else _inflate(raw, name)
        except (zlib.error, EOFError) as error:
            return finding("v1-body-not-decodable", path, str(error), variants)
        if len(raw) >= V1_DECOMPRESSED_LIMIT:
            return finding("v1-body-too-large", path, f"{len(raw):,} bytes decompressed", variants)
    elif name:
        raise ValueError(f"cannot decode Content-Encoding {encoding!r} here: give the decoded body instead")
    try:
        return strict_loads(raw)
    except JSONDecodeError as error:
        return finding("v1-body-not-json", path, str(error), variants)


def _inflate(raw: bytes, name: str) -> bytes:
    """gzip, or deflate zlib-wrapped (first byte 0x78) or raw, stopping at the decompressed cap."""
    wbits = 16 + zlib.MAX_WBITS if name == "gzip" else (zlib.MAX_WBITS if raw[:1] == b"\x78" else -zlib.MAX_WBITS)
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(raw, V1_DECOMPRESSED_LIMIT)
    if not inflater.eof:
        if inflater.unconsumed_tail:
            return out  # at the cap: the caller refuses it
        raise EOFError("compressed data ends early")
    return out


ZSTD_SLICE = 256
"""Compressed bytes fed to the zstd decoder at a time: a slice can expand a thousandfold (RLE blocks), so
small slices keep the output of one step far below the decompressed cap."""


def _unzstd(raw: bytes) -> bytes:
    """zstd (one frame), stopping at the decompressed cap; a corrupt or cut stream raises ``EOFError``.  (The
    frame's declared content size is not trusted: it is the client's word.)"""
    import zstandard  # only for a zstd body

    decoder = zstandard.ZstdDecompressor().decompressobj()
    out = bytearray()
    try:
        for start in range(0, len(raw), ZSTD_SLICE):
            out += decoder.decompress(raw[start:start + ZSTD_SLICE])
            if len(out) >= V1_DECOMPRESSED_LIMIT:
                return bytes(out)  # at the cap: the caller refuses it
    except zstandard.ZstdError as error:
        raise EOFError(str(error)) from None
    if not decoder.eof:
        raise EOFError("compressed data ends early")
    return bytes(out)


def _unbrotli(raw: bytes) -> bytes:
    """Brotli (``br``), stopping at the decompressed cap; a corrupt stream raises ``EOFError``."""
    import brotli  # a dependency of Locust's geventhttpclient: always installed with the harness

    decoder = brotli.Decompressor()
    try:
        out: bytes = decoder.process(raw, output_buffer_limit=V1_DECOMPRESSED_LIMIT)
    except brotli.error as error:
        raise EOFError(str(error) or "corrupt brotli data") from None
    if len(out) < V1_DECOMPRESSED_LIMIT and not decoder.is_finished():
        raise EOFError("compressed data ends early")
    return out


def _rejected(kind: str, found: Finding, body_path: str) -> Report:
    return Report(kind, found.status, (found,), events_path=f"{body_path}.batch")


def validate_body(body: Any, *, profile: str = "server", variants: frozenset[str] = frozenset(),
                  prefix: str = "$", kind: str = "body", sized: bool = True) -> Report:
    """The body's verdict, headers left aside: shape, batch, uuids, then each event's result."""
    events_path = f"{prefix}.batch"
    if not schemas.is_valid("body", body):
        parse = tuple(finding(name, prefix + path[1:], detail, variants)
                      for name, path, detail in schemas.explain("body", body))
        if not parse:  # jsonschema-rs could not read it (a lone surrogate)
            parse = (finding("v1-body-not-json", prefix, "a lone surrogate", variants),)
        return Report(kind, parse[0].status, parse, events_path=events_path)
    batch: list[dict[str, Any]] = body["batch"]
    if "options-strict" in variants:
        strict = tuple(events.strict_options(batch, events_path, variants))
        if strict:
            return Report(kind, strict[0].status, strict, events_path=events_path)
    if not batch:
        return _rejected(kind, finding("v1-batch-empty", events_path, "", variants), prefix)
    if not is_rfc3339(body["created_at"]):
        return _rejected(kind, finding("v1-created-at-invalid", f"{prefix}.created_at",
                                       repr(body["created_at"])[:60], variants), prefix)
    refused = events.uuid_rejection(batch, events_path, variants)
    if refused is not None:
        return _rejected(kind, refused, prefix)
    return Report(kind, 200, (), events.results(batch, events_path, variants, sized),
                  tuple(events.warnings(body, prefix, profile == "sdk")), events_path)


def is_acceptable(body: Any) -> bool:
    """Yes/no on the schema alone (jsonschema-rs): the hot path for bulk checks."""
    return schemas.is_valid("body", body)


def validate_response(document: Any, kind: str = "response", request_uuids: list[str] | None = None,
                      variants: frozenset[str] = frozenset()) -> Report:
    """A success body (``response``) or an error body (``error``); with ``request_uuids``, the result keys
    must be exactly their canonical forms."""
    checked = document
    if kind == "response" and "result-limited" in variants and isinstance(document, dict) \
            and isinstance(document.get("results"), dict):
        checked = {**document, "results": {k: ({**v, "result": "warning"} if isinstance(v, dict)
                                               and v.get("result") == "limited" else v)
                                           for k, v in document["results"].items()}}
    found = [] if schemas.is_valid(kind, checked) else \
        [finding(name, path, detail, variants) for name, path, detail in schemas.explain(kind, checked)]
    if not found and kind == "response" and request_uuids is not None:
        wanted = [canonical_uuid(u.strip()) or u for u in request_uuids]
        if list(document["results"]) != wanted and set(document["results"]) != set(wanted):
            found.append(finding("v1-response-keys-mismatch", "$.results", f"expected {len(wanted)} keys", variants))
    return Report(kind, None if found else 200, tuple(found), events_path="$.results")


def detect(document: Any) -> str | None:
    """The v1 kind of a document, or None when it does not look like v1: a request ``{"headers", "body"}``,
    a bare body ``{created_at, batch}`` (without v0's ``api_key`` / ``token``), a success body
    ``{"results": {...}}`` or an error body ``{"error", "error_description"}``."""
    if not isinstance(document, dict):
        return None
    if document.keys() == {"headers", "body"} and isinstance(document["headers"], dict):
        return "request"
    if "created_at" in document and "batch" in document and not {"api_key", "token"} & document.keys():
        return "body"
    if document.keys() == {"results"}:
        return "response"
    if "error" in document and "error_description" in document:
        return "error"
    return None
