"""Acceptance: valid payloads of every kind, on every v0 path, in every wire encoding capture accepts.

Each path x encoding cell sends one body, the kinds rotating through the cells, and every kind is also
sent as plain JSON to ``/batch/`` and gzipped (``Content-Encoding``) to ``/i/v0/e/``.  The expected status
of a cell is :func:`harness.wire.expected_outcome`, derived from the contract's text: the matrix has
holes (a base64 form body is unwrapped only on the legacy paths, §2.1), and there a 400 is conformant.
``?beacon=1`` turns a success into an empty 204 (§2.1, §7.1).  A nameless object is accepted on ``/engage``
(§12 rule 9), and a request sent again, as a client's retry does, is acknowledged again (rule 29).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import product

import pytest

from harness.checks import Reply
from harness.contract.cases import PAYLOAD_KINDS, Cases
from harness.contract.replies import STATUS_CHECKS
from harness.spec.body import events_of
from harness.wire import ENCODINGS, V0_PATHS, expected_outcome

pytestmark = pytest.mark.acceptance


def _matrix() -> list[tuple[str, str, str]]:
    cells = [(path, encoding, PAYLOAD_KINDS[index % len(PAYLOAD_KINDS)])
             for index, (path, encoding) in enumerate(product(V0_PATHS, ENCODINGS))]
    for kind in PAYLOAD_KINDS:
        cells += [("/batch/", "json", kind), ("/i/v0/e/", "gzip-header", kind)]
    return list(dict.fromkeys(cells))


MATRIX = _matrix()
BEACON_CELLS = (("/e/", "json"), ("/i/v0/e/", "gzip-query"), ("/batch/", "get-data"), ("/capture/", "form"),
                ("/batch", "form-lz64"), ("/track/", "base64"))


@pytest.mark.parametrize(("path", "encoding", "kind"), MATRIX, ids=[f"{p}-{e}-{k}" for p, e, k in MATRIX])
def test_valid_payload_gets_the_contracts_status(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                 path: str, encoding: str, kind: str) -> None:
    label = f"acceptance {kind} as {encoding} to {path}"
    body = capture_cases.valid(kind, label)
    expect = expected_outcome(encoding, path)
    assert expect is not None
    capture_check(capture_cases.case(label, body, encoding=encoding, path=path, expect=expect), STATUS_CHECKS)


@pytest.mark.parametrize(("path", "encoding"), BEACON_CELLS, ids=[f"{p}-{e}" for p, e in BEACON_CELLS])
def test_beacon_success_is_204(capture_cases: Cases, capture_check: Callable[..., Reply], path: str,
                               encoding: str) -> None:
    label = f"beacon capture as {encoding} to {path}?beacon=1"
    body = capture_cases.valid("capture", label)
    expect = expected_outcome(encoding, path)
    assert expect is not None
    capture_check(capture_cases.case(label, body, encoding=encoding, path=path, expect=204 if expect == 200 else expect,
                                     query={"beacon": "1"}), STATUS_CHECKS)


@pytest.mark.parametrize("path", ["/engage", "/engage/"])
def test_nameless_object_is_accepted_on_engage(capture_cases: Cases, capture_check: Callable[..., Reply],
                                               path: str) -> None:
    """Rule 9: the fourth shape, an object without ``event``, is valid on ``/engage`` (it becomes ``$identify``)."""
    label = f"acceptance nameless $set object to {path}"
    event = events_of(capture_cases.valid("identify", label))[0]
    body = {name: value for name, value in event.items() if name != "event"}
    body["$set"] = {"plan": "capture-harness"}
    capture_check(capture_cases.case(label, body, path=path), STATUS_CHECKS)


@pytest.mark.parametrize("path", ["/i/v0/e/", "/batch/"])
def test_a_resent_request_is_acknowledged_again(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                path: str) -> None:
    """Rule 29: clients retry with the same uuids and timestamps, so a request sent again, byte for byte, is
    acknowledged again (deduplicating on uuid is the endpoint's business, refusing the retry is not)."""
    label = f"acceptance the same {'batch' if path == '/batch/' else 'event'} sent twice to {path}"
    case = capture_cases.case(label, capture_cases.valid("batch" if path == "/batch/" else "capture", label), path=path)
    capture_check(case, STATUS_CHECKS)
    capture_check(dataclasses.replace(case, name=f"{label} (the retry)"), STATUS_CHECKS)
