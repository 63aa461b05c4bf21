"""Property tests of the generators: valid output passes, invalid output fails on exactly its rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.generate import mutations, strategies
from harness.generate.traffic import BODY_KINDS
from harness.spec.body import events_of
from harness.spec.validation import validate

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.sampled_from(BODY_KINDS).flatmap(strategies.payloads))
def test_realistic_payloads_are_accepted_without_warnings(body: Any) -> None:
    report = validate(body)
    assert report.accepted, report.rejections
    assert report.status == 200
    assert not report.warnings, report.warnings


@FAST
@given(strategies.batches(min_size=3, max_size=7))
def test_batches_hold_the_requested_number_of_events(body: Any) -> None:
    assert 3 <= len(events_of(body)) <= 7
    assert validate(body, "batch").accepted


@FAST
@given(strategies.batches(1, 40))
def test_batches_take_their_sizes_positionally_as_the_readme_writes_them(body: Any) -> None:
    assert 1 <= len(events_of(body)) <= 40
    assert validate(body, "batch").accepted


@FAST
@given(st.sampled_from(BODY_KINDS).flatmap(strategies.edge_cases))
def test_edge_cases_are_accepted(body: Any) -> None:
    report = validate(body)
    assert report.accepted, (report.rejections, body if len(str(body)) < 2000 else "...")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(strategies.invalid_payloads())
def test_invalid_payloads_fail_on_exactly_their_rule(labelled: tuple[str, int, Any]) -> None:
    rule_name, status, body = labelled
    report = validate(body)
    assert report.rules == {rule_name}
    assert report.status == status


@pytest.mark.parametrize("rule_name", mutations.GENERATED_RULES)
def test_every_generated_rule_can_be_asked_for_by_name(rule_name: str) -> None:
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategies.invalid_payloads(rule_name))
    def check(labelled: tuple[str, int, Any]) -> None:
        assert validate(labelled[2]).rules == {rule_name}

    check()


@FAST
@given(strategies.identify_bodies())
def test_identify_bodies_merge_an_anonymous_id(body: dict[str, Any]) -> None:
    assert body["event"] == "$identify"
    assert body["properties"]["$anon_distinct_id"]


@FAST
@given(strategies.alias_bodies())
def test_alias_bodies_name_old_and_new_ids(body: dict[str, Any]) -> None:
    assert body["event"] == "$create_alias"
    assert body["properties"]["alias"] != body["properties"]["distinct_id"]


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: strategies.payloads("pageviews"), "kind"),
        (lambda: strategies.batches(min_size=0), "min_size"),
        (lambda: strategies.batches(min_size=5, max_size=2), "max_size"),
        (lambda: strategies.invalid_payloads("no-such-rule"), "rule"),
    ],
)
def test_bad_arguments_name_the_argument(make: Any, argument: str) -> None:
    with pytest.raises(InvalidArgument, match=argument):
        make().validate()
