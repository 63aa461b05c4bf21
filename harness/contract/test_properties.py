"""Properties: Hypothesis generates payloads and shrinks any failure to a minimal one.

Valid payloads (the ``mixed`` blend of every kind) on any v0 path in any encoding get the status of
:func:`harness.wire.expected_outcome`; awkward but valid ones get 200; rule-breaking ones get their
labelled status.  ``--capture-profile`` picks the Hypothesis settings (``quick``: 25 derandomized examples
a test; ``thorough``: 500).  The ``@given`` function is built inside the test so that it takes the
session's settings and fixtures; the failure report shows the shrunk example and its curl command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checks import Reply, expected_status
from harness.contract.cases import Cases
from harness.contract.replies import STATUS_CHECKS
from harness.generate.strategies import edge_cases, invalid_payloads, payloads
from harness.wire import ENCODINGS, V0_PATHS, expected_outcome

pytestmark = pytest.mark.properties

NAMED_PATHS = tuple(path for path in V0_PATHS if not path.startswith("/engage"))
"""Paths where a body without ``event`` is refused (on ``/engage`` it becomes ``$identify``)."""


def test_valid_payloads_get_the_contracts_status(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                capture_settings: settings) -> None:
    @capture_settings
    @given(body=payloads("mixed", batch_size=3, token=capture_cases.target.api_key),
           path=st.sampled_from(V0_PATHS), encoding=st.sampled_from(ENCODINGS))
    def valid_payload(body: Any, path: str, encoding: str) -> None:
        expect = expected_outcome(encoding, path)
        assert expect is not None
        capture_check(capture_cases.case(f"generated valid payload as {encoding} to {path}",
                                         capture_cases.tag(copy.deepcopy(body)), encoding=encoding, path=path,
                                         expect=expect), STATUS_CHECKS)

    valid_payload()


def test_edge_case_payloads_are_accepted(capture_cases: Cases, capture_check: Callable[..., Reply],
                                         capture_settings: settings) -> None:
    @capture_settings
    @given(body=edge_cases("mixed", token=capture_cases.target.api_key), path=st.sampled_from(V0_PATHS))
    def edge_case(body: Any, path: str) -> None:
        # distinct ids left as drawn: the odd ones are the point here (non-canonical uuid forms are kept anyway)
        tagged = capture_cases.tag(copy.deepcopy(body), prefix_ids=False)
        capture_check(capture_cases.case(f"generated edge case as json to {path}", tagged, path=path), STATUS_CHECKS)

    edge_case()


def test_invalid_payloads_get_their_labelled_status(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                    capture_settings: settings) -> None:
    variant = capture_cases.target.variant

    @capture_settings
    @given(labelled=invalid_payloads(token=capture_cases.target.api_key), path=st.sampled_from(NAMED_PATHS))
    def invalid_payload(labelled: tuple[str, int, Any], path: str) -> None:
        rule, _, body = labelled
        tagged = capture_cases.tag(copy.deepcopy(body))
        case = capture_cases.case(f"generated {rule} as json to {path}", tagged, path=path,
                                  expect=expected_status(rule, variant), rule=rule)
        capture_check(case, STATUS_CHECKS)

    invalid_payload()
