"""The bulk generator: reproducible, exact counts, and in agreement with the validator."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.generate import seeded
from harness.generate.mutations import GENERATED_RULES
from harness.generate.traffic import BODY_KINDS
from harness.spec.body import events_of
from harness.spec.validation import validate


def _corpus(kind: str, count: int, seed: int, batch_size: int = 50) -> bytes:
    return b"\n".join(line.data for line in seeded.valid_lines(kind, count, seed, batch_size))


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_same_seed_gives_byte_identical_output(kind: str) -> None:
    assert _corpus(kind, 500, seed=7) == _corpus(kind, 500, seed=7)
    assert _corpus(kind, 500, seed=7) != _corpus(kind, 500, seed=8)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(BODY_KINDS), count=st.integers(1, 400), batch_size=st.integers(1, 60))
def test_event_count_is_exact(kind: str, count: int, batch_size: int) -> None:
    lines = list(seeded.valid_lines(kind, count, seed=1, batch_size=batch_size))
    assert sum(line.events for line in lines) == count
    assert sum(len(events_of(orjson.loads(line.data))) for line in lines) == count
    if kind == "batch":
        assert all(line.events <= batch_size for line in lines)


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_generated_bodies_validate(kind: str) -> None:
    for line in seeded.valid_lines(kind, 2000, seed=3, batch_size=20):
        report = validate(orjson.loads(line.data), encoded=line.data)
        assert report.accepted and not report.warnings, (report, line.data[:300])


def test_invalid_corpus_agrees_with_validate() -> None:
    lines = list(seeded.invalid_lines(3 * len(GENERATED_RULES), seed=5))
    seen = set()
    for line in lines:
        record = json.loads(line.data)  # json, not orjson: lone-surrogate bodies are escaped on purpose
        report = validate(record["body"])
        assert report.rules == {record["rule"]}, record["rule"]
        assert report.status == record["expect_status"]
        seen.add(record["rule"])
    assert seen == set(GENERATED_RULES)


def test_api_key_is_used_everywhere() -> None:
    for line in seeded.valid_lines("mixed", 300, seed=2, api_key="phc_mine"):
        assert b"phc_captureharness" not in line.data
        assert b"phc_mine" in line.data
