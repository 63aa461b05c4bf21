"""Connection limits of the reference endpoint, like a production server's: how long and how large a request
head may be, how long an idle keep-alive connection is kept, how long a graceful shutdown waits.

uvicorn's httptools protocol has the idle keep-alive timeout (``timeout_keep_alive``, armed after each
answer) and the bounded graceful shutdown (``timeout_graceful_shutdown``: the requests still in flight are
cancelled after it), but nothing bounds a request head: a connection that sends nothing, or half a header,
was held for ever, and one header that never ends grew memory without limit (``h11_max_incomplete_event_size``
is h11's only; ``limit_concurrency`` counts connections, not bytes).  :func:`protocol_for` adds both to the
httptools protocol:

- **header time**: from the connection's start, or from the first byte of a later request on it, the head
  must be complete within ``header_timeout_s``; otherwise a connection that sent part of a head is answered
  408 and closed, a silent one closed;
- **header size**: a head still incomplete after ``header_bytes`` bytes is answered 431 and closed.  Bytes
  are counted per chunk read, so a head may exceed the limit by at most the chunk that completes it.

The cap on body bytes in flight is the application's (``CaptureApp(body_bytes_limit=...)``): it knows each
request's ``Content-Length`` and chunk sizes.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
HEADER_BYTES = 64 * 1024
KEEP_ALIVE_S = 30.0
GRACEFUL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Limits:
    """The connection limits one server applies (see the module docstring)."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    header_bytes: int = HEADER_BYTES
    keep_alive_s: float = KEEP_ALIVE_S
    graceful_timeout_s: float = GRACEFUL_TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "keep_alive_s"):
            if not 0 < getattr(self, name) <= 86_400:
                raise ValueError(f"{name} must be above 0 and at most 86400 seconds, got {getattr(self, name)}")
        if not 0 <= self.graceful_timeout_s <= 86_400:
            raise ValueError(f"graceful_timeout_s must be between 0 and 86400 seconds, got {self.graceful_timeout_s}")
        if not 1024 <= self.header_bytes <= 1 << 30:
            raise ValueError(f"header_bytes must be between 1024 and 1 GiB, got {self.header_bytes}")

    @property
    def graceful_timeout_whole_s(self) -> int:
        """The graceful-shutdown bound as uvicorn takes it (whole seconds, rounded up)."""
        return math.ceil(self.graceful_timeout_s)


def protocol_for(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits``' header time and size (pass it as ``Config(http=...)``)."""
    return type("BoundedHttpToolsProtocol", (_BoundedHead,), {"limits": limits})


def _refusal(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\n\r\n" + text)


_TOO_LARGE = _refusal(b"431 Request Header Fields Too Large", b"request header too large")
_TOO_SLOW = _refusal(b"408 Request Timeout", b"request header not received in time")


class _BoundedHead(HttpToolsProtocol):
    limits: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = True  # waiting for (the rest of) a request head
        self._head_begun = False
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.header_bytes:
                self._refuse(_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_begun, self._head_bytes = True, True, 0
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = self._head_begun = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:  # a pipelined head waits its turn
            self._arm_head_timer()
        elif self._in_head and not self.transport.is_closing():
            if self._head_begun:
                self._refuse(_TOO_SLOW)
            else:
                self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        self._disarm_head_timer()
        self.transport.write(answer)
        self.transport.close()


BODY_BYTES_IN_FLIGHT = 256 * 1024 * 1024
"""Default cap on the body bytes all requests being read or handled hold together (256 MiB)."""


class BodyBudget:
    """Body bytes held by the requests in flight, capped at ``limit``: a request claims its declared
    ``Content-Length`` when it starts reading, and a chunked body its bytes as they arrive; it gives them
    back when it is answered.  :meth:`Claim.grow_to` says False when the cap would be passed (the request
    is then answered 503 with ``Retry-After``)."""

    def __init__(self, limit: int = BODY_BYTES_IN_FLIGHT) -> None:
        if limit < 1:
            raise ValueError(f"the body bytes limit must be positive, got {limit}")
        self.limit = limit
        self.held = 0

    def claim(self) -> Claim:
        return Claim(self)


class Claim:
    """One request's share of a :class:`BodyBudget`."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.held = 0

    def grow_to(self, size: int) -> bool:
        """Hold ``size`` bytes in all (no change when it holds that many already); False past the cap."""
        more = size - self.held
        if more <= 0:
            return True
        if self._budget.held + more > self._budget.limit:
            return False
        self._budget.held += more
        self.held = size
        return True

    def release(self) -> None:
        self._budget.held -= self.held
        self.held = 0
