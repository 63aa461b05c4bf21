"""The most recent requests capture refused, kept in memory for the live inspector (``GET /_harness/rejections``).

A counter says how many requests broke a rule; someone debugging an SDK wants to see the request itself:
its path, query and headers, the rule, the status and capture's text, and a ``curl`` that sends it again.
:class:`Rejections` keeps the last :data:`CAPACITY` of them in a ring, so a load run of bad traffic never
grows the server's memory: each entry holds at most :data:`BODY_KEPT` bytes of body.

Recording is one call, cheap enough for the hot path (a tuple appended; the ``curl`` is built only when
the ring is read): every route that answers a capture request with an error calls
:meth:`Rejections.add` with what it knows, ``body=None`` when the body was never read (a 413 on the
declared length, a 408).  Credentials are masked as :func:`harness.safety.mask_token` shows a key, in
what is shown and in the ``curl`` (whose ``note`` then says so): ``Authorization``, ``Cookie``, the
inspection token header, and a personal API key (``phx_``) in a text body, masked so that it still
breaks the rule it broke.  A project key (``phc_``) is kept as sent, as ``/_harness/events`` answers it.

How a body is reproduced: printable UTF-8 text up to 4 KiB goes inline (``--data-binary TEXT``, as the
contract suite's findings do, :func:`harness.checks.curl`); a binary or longer body kept whole is piped
in as base64 (``printf %s BASE64 | base64 -d | curl ... --data-binary @-``); a body over
:data:`BODY_KEPT` is not kept, and the entry's ``note`` says the ``curl`` sends none.
"""

from __future__ import annotations

import base64
import itertools
import re
import shlex
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

from harness.safety import mask_token

CAPACITY = 200
"""Rejected requests kept; older ones are forgotten."""
BODY_KEPT = 16 * 1024
"""The largest body kept whole (200 of them: about 3.2 MiB of memory at most)."""
EXCERPT = 512
"""Characters of the body shown as ``body_excerpt``."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-capture-harness-token"})
"""Headers whose value is masked: they hold credentials, not the capture payload."""
UNSENT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "expect", "keep-alive"})
"""Headers curl sets itself, left out of the reproducing command."""
PERSONAL_KEY = re.compile(rb"phx_[A-Za-z0-9_-]+")
"""A personal API key (a secret, unlike a project's ``phc_`` key) in a text body: masked, still ``phx_``, so
the ``curl`` breaks the same rule."""


class Rejection(NamedTuple):
    """One refused request as the router saw it (headers with lower-case names, the body or None)."""

    id: int
    time_ms: int
    origin: str
    """Where the request arrived (scheme, address, port): what the ``curl`` sends to."""
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes | None
    body_size: int
    status: int
    rule: str
    text: str


class Rejections:
    """A bounded ring of :class:`Rejection`, newest last; ids increase, so a poller asks for ``after=ID``."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._ring: deque[Rejection] = deque(maxlen=capacity)
        self._ids = itertools.count(1)

    def add(self, scope: Mapping[str, Any], headers: Mapping[str, str], body: bytes | None, status: int, rule: str,
            text: str) -> None:
        """Remember one refused request: its ASGI ``scope`` (method, path, query, scheme), its headers
        (lower-case names), ``body`` (None when it was never read), the answer's ``status`` and ``text``,
        and ``rule``, what refused it (a rule name, ``decode: ...``, ``body: 413``)."""
        kept = body if body is None or len(body) <= BODY_KEPT else None
        declared = headers.get("content-length", "")
        size = len(body) if body is not None else int(declared) if declared.isdigit() else 0
        self._ring.append(Rejection(
            next(self._ids), int(time.time() * 1000), _origin(scope), scope["method"], scope["path"],
            scope["query_string"].decode("latin-1"), headers, kept, size, status, rule, text))

    def clear(self) -> None:
        """Forget every rejection (``/_harness/reset``); ids keep increasing, so pollers see no repeat."""
        self._ring.clear()

    def after(self, after: int) -> list[dict[str, Any]]:
        """The rejections newer than the id ``after``, oldest first, as JSON values."""
        return [to_json(rejection) for rejection in self._ring if rejection.id > after]


def to_json(rejection: Rejection) -> dict[str, Any]:
    """What the inspector shows of one rejection."""
    headers = {name: _masked(value) if name in SECRET_HEADERS else value for name, value in rejection.headers.items()}
    body = _scrubbed(rejection.body)
    return {
        "id": rejection.id, "time_ms": rejection.time_ms, "method": rejection.method, "path": rejection.path,
        "query": rejection.query, "headers": headers, "status": rejection.status, "rule": rejection.rule,
        "text": rejection.text, "body_size": rejection.body_size,
        "body_excerpt": _excerpt(body),
        "curl": curl(rejection, headers, body), "note": _note(rejection, body),
    }


def curl(rejection: Rejection, headers: Mapping[str, str], body: bytes | None) -> str:
    """The command that sends ``rejection`` again with ``headers`` and ``body`` (masked where they hold a
    secret; see the module docstring for how the body travels)."""
    from harness.checks import _printable  # the same test the contract suite's curl applies
    from harness.checks import curl as wire_curl
    from harness.wire import WireRequest

    sent = {name: value for name, value in headers.items() if name not in UNSENT_HEADERS}
    target = rejection.path + (f"?{rejection.query}" if rejection.query else "")
    body = body or b""
    inline = _printable(body)
    command = wire_curl(WireRequest(rejection.method, target, sent, body if inline else b""), rejection.origin)
    if inline:
        return command
    return f"printf %s {shlex.quote(base64.b64encode(body).decode())} | base64 -d | {command} --data-binary @-"


def _masked(value: str) -> str:
    """A credential header's value with the secret masked and its scheme kept (``Bearer phx_…abcd``)."""
    scheme, _, secret = value.partition(" ")
    return f"{scheme} {mask_token(secret.strip())}" if secret.strip() else mask_token(value)


def _origin(scope: Mapping[str, Any]) -> str:
    """``scheme://address:port`` the connection arrived on: never the ``Host`` header, which the client chose
    (a copied ``curl`` must not send the body to a name a hostile client put there)."""
    address, port = scope.get("server") or ("127.0.0.1", 80)
    host = f"[{address}]" if ":" in str(address) else str(address)
    return f"{scope.get('scheme', 'http')}://{host}:{port}"


def _scrubbed(body: bytes | None) -> bytes | None:
    """``body`` with every personal API key masked (a compressed body is left as it is)."""
    if not body or b"phx_" not in body:
        return body
    return PERSONAL_KEY.sub(lambda key: mask_token(key.group().decode()).encode(), body)


def _excerpt(body: bytes | None) -> str:
    """The start of a text body, or what a binary one is (its bytes are in the ``curl``)."""
    if not body:
        return ""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(body)} bytes, not UTF-8 text: the curl sends them)"
    return body[:EXCERPT].decode("utf-8", "replace")


def _note(rejection: Rejection, body: bytes | None) -> str:
    """Where the ``curl`` differs from the request, or ''."""
    notes = []
    if rejection.body is None and rejection.body_size:
        notes.append(f"the body ({rejection.body_size} bytes) was not kept, so the curl sends none")
    masked = sorted(SECRET_HEADERS & set(rejection.headers))
    if masked:
        notes.append(f"{', '.join(masked)} masked: put the real value back")
    if body != rejection.body:
        notes.append("a personal API key (phx_) in the body is masked")
    return "; ".join(notes)
