"""Seeded ``/s/`` bodies: the arrays of ``$snapshot`` events posthog-js sends while it records a session.

posthog-js (``packages/browser/src/extensions/replay/``) captures ``$snapshot`` with ``$snapshot_data``
(a buffer of rrweb events), ``$snapshot_bytes``, ``$session_id`` and ``$window_id``; its request queue
adds the usual ``token``, ``distinct_id``, ``$lib`` and ``$lib_version`` and batches the events of one
flush into a JSON array (``_batchKey: 'recordings'``), gzipped with ``?compression=gzip-js``.  A session
opens with a Meta (type 4) and a FullSnapshot (type 2) event, then IncrementalSnapshot (type 3) mouse
moves and clicks, timestamps rising by a few hundred milliseconds.

The same seed gives the same bodies, byte for byte; every body is accepted by
:func:`harness.spec.recordings.judge` (a test holds them to it).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from harness.generate import ids, model
from harness.generate.seeded import Line
from harness.spec.body import DEFAULT_TOKEN
from harness.spec.jsontext import to_json

LIB_VERSION = "1.449.2"
"""The posthog-js release whose recordings these bodies follow."""

START_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z: where generated sessions start (seeded bodies must not depend on the clock)."""

EVENTS_PER_SESSION = 6
"""``$snapshot`` events in a session before the generator starts another."""


def rrweb_meta(ms: int, href: str) -> dict[str, Any]:
    return {"type": 4, "timestamp": ms, "data": {"href": href, "width": 1280, "height": 720}}


def rrweb_full_snapshot(ms: int, title: str) -> dict[str, Any]:
    """A small page: ``<html><head><title>title</title></head><body><button>Sign up</button></body></html>``."""
    text = {"type": 3, "textContent": title, "id": 5}
    button = {"type": 2, "tagName": "button", "attributes": {"id": "signup"}, "childNodes": [
        {"type": 3, "textContent": "Sign up", "id": 8}], "id": 7}
    html = {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [
        {"type": 2, "tagName": "head", "attributes": {}, "id": 3, "childNodes": [
            {"type": 2, "tagName": "title", "attributes": {}, "childNodes": [text], "id": 4}]},
        {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [button], "id": 6}]}
    return {"type": 2, "timestamp": ms, "data": {
        "node": {"type": 0, "childNodes": [{"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 1},
                                           html], "id": 0},
        "initialOffset": {"top": 0, "left": 0}}}


def rrweb_incremental(ms: int, rng: random.Random) -> dict[str, Any]:
    """A mouse move (source 1) or a click on the button (source 2, type 2)."""
    if rng.random() < 0.25:
        return {"type": 3, "timestamp": ms, "data": {"source": 2, "type": 2, "id": 7, "x": rng.randrange(1280),
                                                     "y": rng.randrange(720)}}
    positions = [{"x": rng.randrange(1280), "y": rng.randrange(720), "id": 6, "timeOffset": -50 * k}
                 for k in range(rng.randint(1, 3))]
    return {"type": 3, "timestamp": ms, "data": {"source": 1, "positions": positions}}


def snapshot_bodies(seed: int = 0, token: str = DEFAULT_TOKEN) -> Iterator[list[dict[str, Any]]]:
    """An endless run of ``/s/`` bodies (JSON arrays of ``$snapshot`` events), session after session."""
    rng = random.Random(seed)
    ms = START_MS
    while True:
        session, window, person = (ids.uuid7_text(ms, rng.getrandbits(74)) for _ in range(3))
        href = f"https://shop.example/{rng.choice(('', 'pricing', 'signup', 'docs'))}"
        for index in range(EVENTS_PER_SESSION):
            events: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 2)):
                data = [rrweb_meta(ms, href), rrweb_full_snapshot(ms + 1, "Shop")] if index == 0 and not events \
                    else [rrweb_incremental(ms + 40 * k, rng) for k in range(rng.randint(1, 4))]
                ms += rng.randint(200, 2000)
                events.append(snapshot_event(data, session, window, person, token, ms, rng))
            yield events


def snapshot_event(data: list[dict[str, Any]], session: str, window: str, person: str, token: str, ms: int,
                   rng: random.Random) -> dict[str, Any]:
    """One ``$snapshot`` event as posthog-js's request queue sends it."""
    return {
        "uuid": ids.uuid7_text(ms, rng.getrandbits(74)),
        "event": "$snapshot",
        "properties": {
            "$snapshot_bytes": len(to_json(data)), "$snapshot_data": data, "$session_id": session,
            "$window_id": window, "token": token, "distinct_id": person, "$lib": "web",
            "$lib_version": LIB_VERSION,
        },
        "timestamp": model.iso_ms_z(ms),
    }


def lines(count: int, seed: int = 0, token: str = DEFAULT_TOKEN) -> Iterator[Line]:
    """``generate --kind recording``: bodies as JSON lines until ``count`` events are written."""
    written = 0
    for body in snapshot_bodies(seed, token):
        if written >= count:
            return
        body = body[:count - written]
        written += len(body)
        yield Line(to_json(body), len(body))
