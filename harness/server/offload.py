"""Which capture requests run their pipeline off the event loop, and the bounded pool that runs them.

Decoding, parsing, validating and building the records of a large body takes time in proportion to it
(about 1 s for a 50,000-event batch); on the event loop that time would be every other client's latency,
``/_liveness`` included.  A request runs in a worker thread when its body (or ``data=`` query) is over
:data:`INLINE_BODY_BYTES`, or when it may expand on decoding (gzip bytes, base64 gzip, a ``compression``
hint, a ``Content-Encoding``): a 6 KB gzip can hold 2 million events.  Anything else stays inline, because
the hop to a thread (about 50 µs) costs more than the work on a few kilobytes.

At most :data:`PIPELINE_WORKERS` requests run at once; the others wait holding only their body.  Memory
per running request is the decoded text twice (``str`` and its UTF-8 bytes) plus the parsed document:
about 3-5 times the decoded size for real events, and up to about 25 times for the pathological body of
empty objects (a ``{}`` is 3 bytes of text and a 64-byte ``dict``), so 2 million empty objects (6 MB)
cost about 150 MB, once, in one worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

INLINE_BODY_BYTES = 8 * 1024
"""Bodies up to this size (and that cannot expand) run inline on the event loop."""

PIPELINE_WORKERS = 2
"""Requests whose pipeline runs in a worker thread at the same time (the others queue)."""

_EXPANDING = (b"\x1f\x8b", b"H4sI", b"compression")  # gzip, base64 of gzip, a form's compression field

T = TypeVar("T")


def runs_inline(query: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether the pipeline of this request is cheap enough for the event loop (see the module text)."""
    if len(body) + len(query) > INLINE_BODY_BYTES or "content-encoding" in headers or "compression" in query:
        return False
    return not any(marker in body for marker in _EXPANDING)


class Pipelines:
    """A bounded pool of worker threads for the pipelines of large requests (created on first use)."""

    def __init__(self, workers: int = PIPELINE_WORKERS) -> None:
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, function: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="capture-pipeline")
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
