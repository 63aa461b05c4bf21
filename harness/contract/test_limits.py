"""Limits: capture's 20 MiB wire cap from both sides, and a gzip bomb (§6, rule 26).

A batch of exactly 20 MiB (events under Kafka's 1 MB each) is accepted; one byte more is refused with
413.  A gzip member of ~1 MiB that inflates to 1 GiB of zeros, hinted by ``Content-Encoding`` or found
by its magic bytes, must be refused (413 from a server that caps decompression at 100 MiB as capture
does, or 400 from one that inflates it all and finds no JSON) within :data:`PROMPT_S`, never with a 5xx.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.checks import Case, Check, Failure, Reply, Title, no_server_error
from harness.contract import bodies
from harness.contract.cases import Cases
from harness.contract.replies import STATUS_CHECKS, status_in
from harness.spec.body import events_of
from harness.spec.rules import WIRE_BODY_LIMIT
from harness.wire import WireRequest

pytestmark = pytest.mark.limits

PROMPT_S = 10.0
"""Longest acceptable time to refuse a gzip bomb (the reference takes well under a second)."""


def _sized_batch(capture_cases: Cases, label: str, size: int) -> bytes:
    template = events_of(capture_cases.valid("capture", label))[0]
    template.pop("api_key", None)  # the batch carries the token

    def event(index: int) -> dict[str, Any]:
        tagged: dict[str, Any] = capture_cases.tag(copy.deepcopy(template))  # a fresh uuid each
        return tagged
    return bodies.batch_of_size(event, capture_cases.target.api_key, size)


def test_body_of_exactly_20_mib_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = f"limits batch body of exactly {WIRE_BODY_LIMIT} bytes"
    payload = _sized_batch(capture_cases, label, WIRE_BODY_LIMIT)
    capture_check(capture_cases.case(label, payload, path="/batch/"), STATUS_CHECKS)


def test_body_one_byte_over_20_mib_is_413(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = f"limits batch body of {WIRE_BODY_LIMIT + 1} bytes"
    payload = _sized_batch(capture_cases, label, WIRE_BODY_LIMIT + 1)
    capture_check(capture_cases.case(label, payload, path="/batch/", expect=413, rule="body-too-large"), STATUS_CHECKS)


@functools.cache
def _bomb() -> bytes:
    return bodies.gzip_bomb()


def _answered_within(seconds: float) -> Check:
    """A check that the answer came within ``seconds`` of building it (build it just before sending)."""
    started = time.perf_counter()

    def check(case: Case, reply: Reply) -> None:
        elapsed = time.perf_counter() - started
        if elapsed > seconds:
            raise Failure(Title.GZIP_BOMB_SLOW,
                          f"{case.name}: answered {reply.status} after {elapsed:.1f} s (limit {seconds:g} s): the "
                          f"endpoint inflated far past capture's 100 MiB budget")
    return check


BOMBS = {
    "content-encoding": ("/batch/", {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    "magic-bytes": ("/i/v0/e/", {"Content-Type": "text/plain"}),
}


@pytest.mark.parametrize("hint", list(BOMBS))
def test_gzip_bomb_is_refused_promptly(capture_check: Callable[..., Reply], hint: str) -> None:
    path, headers = BOMBS[hint]
    bomb = _bomb()
    case = Case(f"limits gzip bomb ({len(bomb):,} bytes inflating to 1 GiB, {hint}) to {path}",
                WireRequest("POST", path, dict(headers), bomb), 413, "body-too-large")
    capture_check(case, checks=(no_server_error, status_in((413, 400), Title.GZIP_BOMB_NOT_REFUSED),
                                _answered_within(PROMPT_S)))
