"""Which contract test fails when an endpoint breaks which rule: the suite's coverage map.

Two maps, each complete (``tests/test_contract_coverage.py`` checks both against their sources, and that every
test id below is one the suite collects):

- :data:`CATALOGUE`: every rule of :data:`harness.spec.rules.RULES` by name;
- :data:`SECTION_12`: every numbered rule of ``capture-contract.md`` §12, by number.
- :data:`RECORDINGS`: every rule of :data:`harness.spec.rules.RECORDING_RULES` (``/s/``), checked by
  ``tests/test_recordings.py``.

A :class:`Coverage` names the tests by pytest node id within the suite (``test_rejection.py::test_name[params]``;
a trailing ``*`` matches every id that starts so) and, where part or all of a rule cannot be tested from
outside an endpoint, a ``reason`` saying why.  The rejection rules are derived: every rule the generators
break is a parameter of ``test_rule_breaking_body_is_refused`` (:data:`harness.generate.mutations.GENERATED_RULES`);
the rest is written out.  ``capture-harness contract --coverage`` prints both maps (:func:`lines`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from harness.generate.mutations import GENERATED_RULES
from harness.spec.rules import RULES, Verdict


@dataclass(frozen=True)
class Coverage:
    tests: tuple[str, ...] = ()
    """Node ids (or ``prefix*``) of tests that fail when an endpoint breaks the rule."""
    reason: str = ""
    """Why (the rest of) the rule cannot be tested from outside the endpoint; required when ``tests`` is empty."""


def matches(pattern: str, node_id: str) -> bool:
    """Whether ``node_id`` (``test_x.py::test_y[...]``) is one ``pattern`` names."""
    return node_id.startswith(pattern[:-1]) if pattern.endswith("*") else node_id == pattern


REJECTION = "test_rejection.py::"
ACCEPTANCE = "test_acceptance.py::"
EDGE = "test_edge_cases.py::"
RESPONSES = "test_responses.py::"
LIMITS = "test_limits.py::"
DELIVERY = "test_delivery.py::"

INGESTION = ("capture answers 200 to it (a warning, not a refusal): what it fails to do happens in ingestion, "
             "behind capture's Kafka topic, which no HTTP client of the endpoint can observe")
"""Why the catalogue's warnings have no test that fails: capture accepts them by design."""


def _rejected(name: str) -> Coverage:
    return Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[{name}-*",))


_WRITTEN_OUT: dict[str, Coverage] = {
    "body-too-large": Coverage((f"{LIMITS}test_body_one_byte_over_20_mib_is_413",
                                f"{LIMITS}test_gzip_bomb_is_refused_promptly[*")),
    "body-not-json": Coverage((f"{REJECTION}test_unparseable_body_is_refused[body-not-json-*",)),
    "json-too-deep": Coverage((f"{REJECTION}test_unparseable_body_is_refused[json-too-deep-*",)),
    "number-out-of-range": Coverage((f"{REJECTION}test_unparseable_body_is_refused[number-out-of-range-*",)),
    "response-not-conformant": Coverage((f"{RESPONSES}test_success_body_is_conformant_json[*",
                                         f"{RESPONSES}test_beacon_success_is_an_empty_204",
                                         f"{RESPONSES}test_plain_options_is_answered_ok[*",
                                         f"{RESPONSES}test_error_body_matches_the_variant[*")),
    "merge-illegal-id": Coverage((f"{EDGE}test_odd_distinct_id_is_accepted[*",),
                                 "capture must accept placeholder ids (tested); the refused merge is ingestion's, "
                                 "which no HTTP client can observe"),
    "kind-mismatch": Coverage(reason="a finding of `capture-harness validate --kind` about a document, not a rule "
                                     "capture applies: capture accepts the event whatever its kind"),
    "token-inconsistent": Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[token-inconsistent-*",
                                    f"{EDGE}test_batch_token_wins_over_event_tokens")),
}

CATALOGUE: dict[str, Coverage] = {
    rule.name: _WRITTEN_OUT.get(rule.name) or (_rejected(rule.name) if rule.name in GENERATED_RULES
                                                else Coverage(reason=INGESTION) if rule.verdict is Verdict.INEFFECTIVE
                                                else Coverage())
    for rule in RULES
}
"""Every catalogue rule by name (a rule missing from both the derivation and :data:`_WRITTEN_OUT` gets an empty
:class:`Coverage`, which the completeness test refuses)."""

NO_V1 = ("v1 (/i/v1/analytics/events) is a separate contract, judged by the v1 suite (--capture-protocol v1) and "
         "mapped by `capture-harness contract --coverage --protocol v1` (harness.contract.v1_coverage)")
SERVER_STATE = "needs a state of the endpoint a client cannot bring about"

SECTION_12: dict[int, Coverage] = {
    1: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[*",  # every path, with and without /
                 f"{RESPONSES}test_cors_preflight_is_answered[*", f"{RESPONSES}test_plain_options_is_answered_ok[*",
                 f"{RESPONSES}test_unknown_path_is_404", f"{RESPONSES}test_unsupported_method_is_405")),
    2: Coverage((f"{RESPONSES}test_cors_preflight_is_answered[*", f"{RESPONSES}test_success_carries_cors_headers",
                 f"{RESPONSES}test_error_carries_cors_headers[*", f"{RESPONSES}test_plain_options_is_answered_ok[*")),
    3: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/batch-get-data-*",
                 f"{REJECTION}test_request_without_payload_is_400[*")),
    4: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/e-form-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/capture-form-lz64-*",
                 f"{REJECTION}test_form_content_type_on_a_non_form_body_is_400")),
    5: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/i/v0/e/-base64-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/e/-form-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/i/v0/e/-form-*")),
    6: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/e/-gzip-query-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/e/-form-lz64-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/e/-gzip-header-*"),
                "an unknown hint's effect (none) shows only with a body no client sends"),
    7: Coverage((f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/batch/-gzip-magic-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[/batch/-form-lz64-*",
                 f"{LIMITS}test_gzip_bomb_is_refused_promptly[magic-bytes]")),
    8: Coverage((f"{REJECTION}test_unparseable_body_is_refused[*", f"{RESPONSES}test_error_body_matches_the_variant[*",
                 f"{REJECTION}test_rule_breaking_body_is_refused[string-lone-surrogate-*")),
    9: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[body-not-json-container-*",
                 f"{REJECTION}test_rule_breaking_body_is_refused[event-name-missing-*",
                 f"{ACCEPTANCE}test_valid_payload_gets_the_contracts_status[*",
                 f"{ACCEPTANCE}test_nameless_object_is_accepted_on_engage[*")),
    10: Coverage((f"{DELIVERY}test_request_with_one_invalid_event_stores_nothing[*",
                  f"{REJECTION}test_rule_breaking_body_is_refused[event-not-object-*")),
    11: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[batch-empty-*",
                  f"{EDGE}test_performance_event_only_request_is_accepted[*",
                  f"{DELIVERY}test_performance_events_are_not_stored")),
    12: Coverage((f"{EDGE}test_token_in_event_is_read[*", f"{EDGE}test_token_on_batch_object_is_read[*",
                  f"{EDGE}test_batch_token_wins_over_event_tokens", f"{EDGE}test_array_token_from_some_events",
                  f"{REJECTION}test_rule_breaking_body_is_refused[token-inconsistent-*")),
    13: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[token-missing-*",
                  f"{REJECTION}test_rule_breaking_body_is_refused[token-inconsistent-*",
                  f"{RESPONSES}test_error_body_matches_the_variant[token-missing]"),
                 "the exact error text is not checked: it differs between capture revisions (§7.2)"),
    14: Coverage((*(f"{REJECTION}test_rule_breaking_body_is_refused[token-{reason}-*"
                    for reason in ("empty", "too-long", "not-ascii", "personal-api-key", "null-byte")),
                  f"{EDGE}test_token_with_surrounding_whitespace", f"{EDGE}test_edge_edit_is_accepted[token-form-*")),
    15: Coverage((f"{REJECTION}test_token_error_wins_over_event_errors[*",)),
    16: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[event-name-empty-*",
                  f"{REJECTION}test_rule_breaking_body_is_refused[event-name-not-string-*",
                  f"{EDGE}test_edge_edit_is_accepted[long-string-*")),
    17: Coverage((f"{DELIVERY}test_distinct_id_is_stored_as_capture_stringifies_it[*",
                  f"{EDGE}test_odd_distinct_id_is_accepted[*",
                  f"{REJECTION}test_rule_breaking_body_is_refused[distinct-id-missing-*")),
    18: Coverage((f"{EDGE}test_uuid_form_is_accepted[*", f"{REJECTION}test_rule_breaking_body_is_refused[uuid-invalid-*")),
    19: Coverage(tuple(f"{REJECTION}test_rule_breaking_body_is_refused[{name}-*" for name in (
        "timestamp-not-string", "offset-not-integer", "set-not-object", "set-once-not-object", "properties-not-object"))),
    20: Coverage((f"{EDGE}test_timestamp_form_is_accepted[*",),
                 "the computed event time goes to Kafka; a client sees it only through an inspection API, which "
                 "capture has not, and it depends on the endpoint's clock"),
    21: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[batch-sent-at-not-string-*",),
                 "which sent_at is used shows only in the computed event time (see rule 20)"),
    22: Coverage((f"{EDGE}test_edge_edit_is_accepted[unknown-top-level-keys-*",
                  f"{DELIVERY}test_acknowledged_events_are_stored_as_sent[*"),
                 "that unknown top-level keys are dropped shows only in the Kafka record"),
    23: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[cookieless-mode-not-boolean-*",),
                 "the recorded IP of capture_internal events is in the Kafka record, and from loopback it is "
                 "127.0.0.1 anyway"),
    24: Coverage((f"{REJECTION}test_rule_breaking_body_is_refused[batch-historical-migration-not-boolean-*",),
                 "the destination (historical, exceptions, heatmaps) is a Kafka topic no client sees"),
    25: Coverage((f"{EDGE}test_odd_distinct_id_is_accepted[*",), "v1's per-event drop: " + NO_V1),
    26: Coverage((f"{LIMITS}test_body_of_exactly_20_mib_is_accepted", f"{LIMITS}test_body_one_byte_over_20_mib_is_413",
                  f"{LIMITS}test_gzip_bomb_is_refused_promptly[*",
                  f"{REJECTION}test_rule_breaking_body_is_refused[event-too-large-*"),
                 "the 25 MiB /s wire cap itself: a body past 20 MiB decodes past the recordings cap anyway "
                 "(test_recordings.py::test_payload_over_the_recordings_cap_is_413)"),
    27: Coverage((f"{RESPONSES}test_success_body_is_conformant_json[*", f"{RESPONSES}test_beacon_success_is_an_empty_204",
                  f"{ACCEPTANCE}test_beacon_success_is_204[*", f"{RESPONSES}test_error_body_matches_the_variant[*"),
                 "408, 429, 500 and 503 " + SERVER_STATE + " (a timeout, a rate limit, a failing Kafka)"),
    28: Coverage(reason="over the billing quota " + SERVER_STATE + ": a project over its quota; a hot distinct id's "
                        "rate limit is a load test's matter (capture-harness load)"),
    29: Coverage((f"{ACCEPTANCE}test_a_resent_request_is_acknowledged_again[*",),
                 "Retry-After on 429/503 " + SERVER_STATE + " (see rule 27)"),
    30: Coverage(reason=NO_V1),
}
"""Every numbered rule of ``capture-contract.md`` §12 (the contract's own "30 most important rules")."""


RECORDINGS_TESTS = "test_recordings.py::"
_REFUSED = f"{RECORDINGS_TESTS}test_rule_breaking_recording_is_refused"

RECORDINGS: dict[str, Coverage] = {
    "recording-payload-too-large": Coverage((f"{RECORDINGS_TESTS}test_payload_over_the_recordings_cap_is_413[*",)),
    "recording-session-id-missing": Coverage((f"{_REFUSED}[session-id-missing]",)),
    "recording-session-id-invalid": Coverage((f"{_REFUSED}[session-id-null]", f"{_REFUSED}[session-id-with-a-space]",
                                              f"{_REFUSED}[session-id-of-71-characters]")),
    "recording-distinct-id-missing": Coverage((f"{_REFUSED}[distinct-id-*",)),
    "recording-snapshot-data-missing": Coverage((f"{_REFUSED}[snapshot-data-*",
                                                 f"{RECORDINGS_TESTS}test_refused_recording_is_not_stored")),
    "recording-message-too-large": Coverage((f"{RECORDINGS_TESTS}test_message_over_kafkas_limit_is_413",)),
    "recording-sessions-merged": Coverage(
        (f"{RECORDINGS_TESTS}test_only_the_first_event_decides[second-session-filed-under-the-first]",),
        "capture must accept it (tested); under which session the snapshots are filed shows only in the Kafka record"),
}
"""Every rule of :data:`harness.spec.rules.RECORDING_RULES` (docs/recordings-contract.md); the v0 rules ``/s/``
shares are tested there too (``test_rule_breaking_recording_is_refused``) but mapped above, on their v0 tests."""


def lines() -> Iterator[str]:
    """The two maps as text: one rule a paragraph, its tests, and what cannot be tested and why."""
    yield "capture-harness contract coverage: the tests that fail when an endpoint breaks each rule"
    yield "(test ids within `pytest --pyargs harness.contract`; a trailing * matches every parameter)"
    sections = (("rules catalogue (harness.spec.rules)", {name: CATALOGUE[name] for name in CATALOGUE}),
                ("capture-contract.md §12", {f"rule {number}": SECTION_12[number] for number in SECTION_12}),
                ("recordings-contract.md", RECORDINGS))
    for title, entries in sections:
        yield ""
        yield f"== {title}: {len(entries)} rules, {sum(1 for c in entries.values() if c.tests)} with a test =="
        for name, coverage in entries.items():
            yield f"{name}:"
            yield from (f"    {test}" for test in coverage.tests)
            if coverage.reason:
                yield f"    {'not testable' if not coverage.tests else 'not tested'}: {coverage.reason}"
