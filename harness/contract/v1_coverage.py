"""Which v1 contract test fails when an endpoint breaks which rule of :data:`harness.spec.rules.V1_RULES`.

The v1 twin of :mod:`harness.contract.coverage` (same :class:`~harness.contract.coverage.Coverage` entries, node
ids within ``pytest --pyargs harness.contract --capture-protocol v1``): the request-level and per-event rules are
derived from the tables the tests run (:mod:`harness.contract.v1_requests`) and from the generators' breakers
(the property test), the rest is written out.
``capture-harness contract --coverage --protocol v1`` prints it (:func:`lines`); ``tests/test_contract_suite_v1.py``
checks that every rule is mapped, that every rule an endpoint decides has a test, and that every id is collected.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.contract.coverage import Coverage
from harness.contract.v1_requests import DROPPED, HEADER_ORDER, REFUSED, Row
from harness.generate.v1_mutations import GENERATED_RULES
from harness.spec.rules import V1_RULES, Verdict

REJECTION = "test_v1_rejection.py::"
ACCEPTANCE = "test_v1_acceptance.py::"
EDGE = "test_v1_edge_cases.py::"
RESPONSES = "test_v1_responses.py::"
LIMITS = "test_v1_limits.py::"
DELIVERY = "test_v1_delivery.py::"

SDK_ONLY = ("what an SDK should emit (`validate --protocol v1 --profile sdk`); capture accepts the request either way "
            "(capture-v1.md §10 (a)), so no endpoint can break it: the tests named send it and expect a 200")
"""Why the sdk profile's warnings have no test that fails: they bind clients, not endpoints."""

_IGNORED = "test_ignored_or_boundary_field_is_accepted"
_PROPERTIES = "test_v1_properties.py::test_generated_rule_breakers_get_the_judges_answer"
"""Hypothesis draws every rule the generators break (:data:`harness.generate.v1_mutations.GENERATED_RULES`)."""

_TABLES: tuple[tuple[dict[str, Row], str], ...] = (
    (REFUSED, f"{REJECTION}test_request_level_fault_is_refused"),
    (HEADER_ORDER, f"{REJECTION}test_the_first_failing_step_decides"),
    (DROPPED, f"{REJECTION}test_event_fault_is_dropped_with_its_tag"),
    (REFUSED, f"{RESPONSES}test_refusal_is_the_json_error_with_the_request_id"),
)


def _derived(name: str) -> tuple[str, ...]:
    tables = tuple(f"{test}[{row_id}]" for table, test in _TABLES for row_id, row in table.items() if row.rule == name)
    return (*tables, _PROPERTIES) if name in GENERATED_RULES else tables


_WRITTEN_OUT: dict[str, Coverage] = {
    "v1-body-too-large": Coverage((f"{LIMITS}test_body_one_byte_over_10_mib_is_413",
                                   f"{LIMITS}test_body_of_exactly_10_mib_is_accepted",
                                   f"{LIMITS}test_gzip_bomb_past_the_decompressed_cap_is_413")),
    "v1-event-too-large": Coverage((f"{LIMITS}test_one_event_over_the_producer_limit_is_dropped_alone",)),
    "v1-distinct-id-illegal": Coverage((f"{EDGE}test_illegal_distinct_id_is_accepted_without_person_processing[*",
                                        f"{REJECTION}test_mixed_outcome_is_a_200_with_a_result_per_event",
                                        f"{DELIVERY}test_mixed_outcome_stores_the_acknowledged_events_only")),
    "v1-response-not-conformant": Coverage((f"{RESPONSES}test_success_body_is_conformant[*",
                                            f"{RESPONSES}test_an_odd_request_id_is_echoed_as_sent",
                                            f"{RESPONSES}test_a_retry_result_carries_retry_after",
                                            f"{RESPONSES}test_an_error_carries_retry_after_as_the_revision_says[*",
                                            f"{RESPONSES}test_cors_preflight_allows_post_and_options_only",
                                            f"{RESPONSES}test_answers_carry_cors_headers[*",
                                            f"{RESPONSES}test_get_is_405", f"{RESPONSES}test_unknown_path_is_404")),
    "v1-response-keys-mismatch": Coverage((f"{RESPONSES}test_results_are_keyed_by_canonical_uuids[*",
                                           f"{RESPONSES}test_mixed_outcome_has_exactly_one_result_per_event")),
    "v1-error-not-conformant": Coverage((f"{RESPONSES}test_refusal_is_the_json_error_with_the_request_id[*",)),
    "v1-event-field-ignored": Coverage((f"{EDGE}{_IGNORED}[top-level-set-and-offset]",),
                                       "that the ignored keys are lost shows only in the Kafka record"),
    "v1-body-field-ignored": Coverage((f"{EDGE}{_IGNORED}[body-api-key-token-sent-at]",
                                       f"{EDGE}{_IGNORED}[capture-internal-null]")),
    "v1-header-obsolete": Coverage((f"{EDGE}{_IGNORED}[obsolete-header-names]",)),
    "v1-sdk-timestamp-not-utc": Coverage((f"{EDGE}test_lenient_header_form_is_accepted[request-timestamp-with-an-offset]",),
                                         SDK_ONLY),
    "v1-sdk-options-missing": Coverage((f"{EDGE}test_coercible_options_are_accepted[absent]",), SDK_ONLY),
    "v1-sdk-top-level-set": Coverage((f"{EDGE}{_IGNORED}[top-level-set-and-offset]",),
                                     SDK_ONLY),
    "v1-sdk-body-token": Coverage((f"{EDGE}{_IGNORED}[body-api-key-token-sent-at]",),
                                  SDK_ONLY),
    "v1-sdk-uuid-not-lowercase": Coverage((f"{RESPONSES}test_results_are_keyed_by_canonical_uuids[upper-case]",),
                                          SDK_ONLY),
    "v1-sdk-lib-in-properties": Coverage((f"{EDGE}{_IGNORED}[lib-in-properties]",), SDK_ONLY),
    "v1-sdk-historical-migration-false": Coverage((f"{EDGE}{_IGNORED}[historical-migration-false]",), SDK_ONLY),
    "v1-sdk-distinct-id-in-properties": Coverage((f"{EDGE}{_IGNORED}[distinct-id-in-properties]",), SDK_ONLY),
    "v1-sdk-skew-option-old-name": Coverage((f"{EDGE}{_IGNORED}[skew-option-old-name]",), SDK_ONLY),
}

V1: dict[str, Coverage] = {
    rule.name: _WRITTEN_OUT.get(rule.name) or Coverage(_derived(rule.name)) for rule in V1_RULES
}
"""Every v1 rule by name (a rule neither derived nor written out gets an empty :class:`Coverage`, which the
completeness test refuses)."""

DECIDED_BY_THE_ENDPOINT: tuple[str, ...] = tuple(r.name for r in V1_RULES if r.verdict is not Verdict.SDK)
"""The rules an endpoint can break (all but the SDK profile's): each needs a test, not a reason alone."""


def lines() -> Iterator[str]:
    """The map as text, in the shape of :func:`harness.contract.coverage.lines`."""
    yield "capture-harness contract coverage (capture v1): the tests that fail when an endpoint breaks each rule"
    yield ("(test ids within `pytest --pyargs harness.contract --capture-protocol v1`; a trailing * matches every "
           "parameter)")
    yield ""
    yield f"== capture-v1.md (harness.spec.rules.V1_RULES): {len(V1)} rules, {sum(1 for c in V1.values() if c.tests)} " \
          "with a test =="
    for name, coverage in V1.items():
        yield f"{name}:"
        yield from (f"    {test}" for test in coverage.tests)
        if coverage.reason:
            yield f"    {'not testable' if not coverage.tests else 'not tested'}: {coverage.reason}"
