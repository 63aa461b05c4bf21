"""The contract suite's coverage map (:mod:`harness.contract.coverage`) is complete and names real tests.

Every rule of the catalogue (:data:`harness.spec.rules.RULES`) and every numbered rule of
``capture-contract.md`` §12 has an entry; an entry names at least one test or says why the rule cannot be
tested from outside; every test id an entry names is one the suite collects (``pytest --co`` of
``harness.contract`` in a subprocess, as a user runs it).  ``capture-harness contract --coverage`` prints it.
"""

from __future__ import annotations

import re

import pytest

from harness.cli import main
from harness.contract.coverage import CATALOGUE, SECTION_12, Coverage, matches
from harness.spec.rules import RULES
from tests.support import REPO

CONTRACT = REPO.parent / "shared" / "capture-contract.md"


def _section_12_numbers() -> list[int]:
    text = CONTRACT.read_text(encoding="utf-8")
    section = text[text.index("\n## 12."):]
    section = section[:section.index("\n## ", 1)]
    return [int(number) for number in re.findall(r"^(\d+)\. ", section, re.MULTILINE)]


def _entries() -> dict[str, Coverage]:
    return {**{f"catalogue {name}": c for name, c in CATALOGUE.items()},
            **{f"§12 rule {number}": c for number, c in SECTION_12.items()}}


def test_every_catalogue_rule_is_mapped() -> None:
    assert list(CATALOGUE) == [rule.name for rule in RULES]


@pytest.mark.skipif(not CONTRACT.is_file(), reason=f"the contract is not at {CONTRACT} (../shared absent)")
def test_every_numbered_rule_of_section_12_is_mapped() -> None:
    numbers = _section_12_numbers()
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 30, numbers
    assert sorted(SECTION_12) == numbers


@pytest.mark.parametrize("name", list(_entries()))
def test_each_rule_has_a_test_or_says_why_not(name: str) -> None:
    coverage = _entries()[name]
    assert coverage.tests or coverage.reason, f"{name}: neither a test nor a reason"
    assert all(test.startswith("test_") and "::" in test for test in coverage.tests), coverage.tests


def test_every_mapped_test_is_collected(collected: list[str]) -> None:
    unknown = sorted({f"{name}: {test}" for name, coverage in _entries().items() for test in coverage.tests
                      if not any(matches(test, node) for node in collected)})
    assert not unknown, unknown


def test_every_rejection_rule_with_a_status_has_a_test() -> None:
    """A rule capture refuses can always be broken from outside: no reason alone will do for one."""
    untested = [rule.name for rule in RULES if rule.status is not None and not CATALOGUE[rule.name].tests]
    assert not untested


def test_matches_is_exact_or_a_prefix() -> None:
    assert matches("test_a.py::test_b[x-*", "test_a.py::test_b[x-/e/]")
    assert not matches("test_a.py::test_b", "test_a.py::test_b_other")
    assert matches("test_a.py::test_b", "test_a.py::test_b")


def test_contract_coverage_prints_the_map_without_running_the_suite(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def forbidden(*args: object, **kwargs: object) -> int:
        raise AssertionError("--coverage ran the suite")
    monkeypatch.setattr(pytest, "main", forbidden)
    assert main(["contract", "--coverage"]) == 0
    out = capsys.readouterr().out
    for rule in RULES:
        assert f"\n{rule.name}:\n" in out
    for number in SECTION_12:
        assert f"\nrule {number}:\n" in out
    assert "test_rejection.py::test_token_error_wins_over_event_errors[*" in out
    assert "rule 30:\n    not testable: v1" in out
