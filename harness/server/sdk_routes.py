"""The routes an SDK calls besides capture: remote config, feature flags, ``/decide`` and lazy extensions.

posthog-js 1.449 asks, on every page: ``GET /array/<token>/config.js`` (a script), then
``GET /array/<token>/config`` (JSON), then ``POST /flags/?v=2&config=true&compression=base64`` with a form
``data=<base64 JSON>`` (``application/json`` with ``disable_compression``, behind a preflight); and,
when the remote config turns a feature on, a script under ``/static/`` (``lazy-recorder.js``,
``<version>/surveys.js`` ...).  Older SDKs still ``POST /decide/?v=3`` (or ``v=4``).  The answers are
:mod:`harness.server.remote_config`'s; this module matches the paths, decodes a flags request and picks
the answer.  :func:`answer` does no I/O: :mod:`harness.server.app` reads the body and adds CORS.

``/static/`` answers any ``.js`` name with a small **no-op** script (a comment): the reference endpoint
ships no posthog-js code, so a lazily loaded feature stays inactive, but posthog-js logs no 404.
``array.js`` (the snippet's loader, posthog-js itself) is the exception: a 404 that says to load
posthog-js from npm or a CDN, since a no-op there would silently drop every event of the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from harness.server.remote_config import (
    SdkConfig,
    decide_config,
    flags_legacy,
    flags_v2,
    remote_config,
    remote_config_js,
)

JSON = b"application/json"
JAVASCRIPT = b"application/javascript"
TEXT = b"text/plain; charset=utf-8"
FLAG_PATHS = frozenset({"/flags", "/flags/", "/decide", "/decide/"})
_CONFIG_PATH = re.compile(r"/array/(?P<token>[^/]+)/config(?P<js>\.js)?/?")
_STATIC_PATH = re.compile(r"/static/(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?(?P<name>[A-Za-z0-9_-][A-Za-z0-9._-]*)\.js")
_POSTHOG_ITSELF = frozenset({"array", "array.full", "array.no-external", "array.full.no-external", "main"})
FLAGS_BODY_LIMIT = 1024 * 1024
"""Decompressed bytes a flags request may hold (PostHog's flags service also caps its bodies at 1 MiB)."""
GZIP_MAGIC = b"\x1f\x8b"
INVALID_KEY = {"type": "authentication_error", "code": "invalid_api_key",
               "detail": "Project API key invalid. You can find your project API key in PostHog project settings.",
               "attr": None}
"""PostHog's 401 body for a flags request without a usable project token."""


@dataclass(frozen=True)
class Answer:
    """What to answer: the status, the body, its content type and any further headers."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def handles(path: str) -> bool:
    """Whether ``path`` is one of the SDK-support routes."""
    return (path in FLAG_PATHS or (path.startswith("/array/") and _CONFIG_PATH.fullmatch(path) is not None)
            or (path.startswith("/static/") and _STATIC_PATH.fullmatch(path) is not None))


def methods(path: str) -> str:
    """The methods ``path`` answers (besides OPTIONS), for ``Allow`` and preflights."""
    return "POST, OPTIONS" if path in FLAG_PATHS else "GET, OPTIONS"


def answer(config: SdkConfig, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
    """The answer to ``method path?query`` with ``body`` (header names in lower case); never OPTIONS."""
    allowed = methods(path)
    if method not in allowed.split(", "):
        return Answer(405, b"", TEXT, [(b"allow", allowed.encode())])
    if path in FLAG_PATHS:
        return _flags(config, path, parse_qs(query), headers, body)
    static = _STATIC_PATH.fullmatch(path)
    if static is not None:
        return _static(static["name"])
    match = _CONFIG_PATH.fullmatch(path)
    assert match is not None, path
    token = unquote(match["token"])
    if match["js"]:
        return Answer(200, remote_config_js(config, token), JAVASCRIPT)
    return Answer(200, _json(remote_config(config, token)))


def _static(name: str) -> Answer:
    if name in _POSTHOG_ITSELF:
        return Answer(404, b"capture-harness serve does not serve posthog-js itself; load it from npm or a CDN\n",
                      TEXT)
    script = (f"/* capture-harness: a no-op stand-in for posthog-js's lazily loaded {name}.js. The reference "
              f"endpoint ships no posthog-js code, so this feature stays inactive. */\n")
    return Answer(200, script.encode("ascii"), JAVASCRIPT)


def _flags(config: SdkConfig, path: str, query: dict[str, list[str]], headers: dict[str, str],
           body: bytes) -> Answer:
    """``/flags`` (``?v=2``: flag details; otherwise the legacy maps) and ``/decide`` (flags and config)."""
    try:
        request = decode_flags_request(query, headers, body)
    except ValueError as error:
        return Answer(400, _json({"type": "validation_error", "code": "invalid_request", "detail": str(error),
                                  "attr": None}))
    token = request.get("token") or request.get("api_key")
    if not isinstance(token, str) or not token.strip() or token.startswith("phx_"):
        return Answer(401, _json(INVALID_KEY))
    distinct_id = request.get("distinct_id")
    if distinct_id is None or distinct_id == "":
        return Answer(400, _json({"type": "validation_error", "code": "invalid_request",
                                  "detail": "distinct_id is required", "attr": "distinct_id"}))
    version = _int(query.get("v", ["1"])[0])
    decide = path.startswith("/decide")
    flags = flags_v2(config) if version >= (4 if decide else 2) else flags_legacy(config)
    if decide or query.get("config", [""])[0] == "true":
        flags.update(decide_config(config, token))
    return Answer(200, _json(flags))


def decode_flags_request(query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The JSON object of a flags request, as PostHog's flags service decodes it: a form ``data=``
    (base64, as posthog-js sends with ``compression=base64``), raw base64, gzip (hinted by
    ``compression=gzip``/``gzip-js`` or ``Content-Encoding``, or found by its magic bytes), or plain
    JSON.  A ``ValueError`` says why it cannot be read."""
    compression = query.get("compression", [""])[0]
    data = body
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") or body.startswith(b"data="):
        fields = parse_qs(body.decode("latin-1"))
        data = fields.get("data", [""])[0].replace(" ", "+").encode("latin-1")
        compression = compression or fields.get("compression", [""])[0]
    gzipped = compression in ("gzip", "gzip-js") or headers.get("content-encoding", "") == "gzip"
    if not gzipped and (compression == "base64" or not data.lstrip().startswith((b"{", GZIP_MAGIC))):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            if compression == "base64":
                raise ValueError("the body is not valid base64") from None
    if gzipped or data.startswith(GZIP_MAGIC):
        data = _gunzip(data)
    if len(data) > FLAGS_BODY_LIMIT:
        raise ValueError("the request body is too large")
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the request body is not JSON") from None
    if isinstance(parsed, dict):
        return parsed
    raise ValueError("the request body must be a JSON object")


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data, FLAGS_BODY_LIMIT + 1)
    except zlib.error:
        raise ValueError("the body is not valid gzip") from None
    if len(out) > FLAGS_BODY_LIMIT:
        raise ValueError("the request body is too large")
    return out


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 1


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["Answer", "SdkConfig", "answer", "decode_flags_request", "handles", "methods"]
