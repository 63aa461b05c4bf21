"""Golden cases: the contract's verdicts, written down as data and replayed through ``harness.validate``.

Each file in ``tests/cases/`` holds the cases of one theme.  A case names the single rule that decides its
rejection and the status capture answers, or says it is accepted (optionally with the exact warnings).
Near misses sit beside the failures so every boundary is pinned from both sides, and a rule added to the
catalogue without a case fails ``test_every_rejection_rule_has_a_case``.

Four rules cannot be written as JSON files: two need documents of megabytes (``body-too-large``,
``event-too-large``) and two need values JSON text does not carry through ``json.load`` the way capture's
parser sees them (``string-lone-surrogate``, ``number-out-of-range``).  Those are built in code below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

import harness
from harness.spec.jsontext import to_json
from harness.spec.rules import (
    EVENT_SIZE_LIMIT,
    REJECTION_RULES,
    RULES_BY_NAME,
    WARNING_RULES,
    WIRE_BODY_LIMIT,
)
from harness.spec.validation import KINDS, parse_rejection

CASES_DIR = Path(__file__).parent / "cases"
CODE_BUILT_RULES = frozenset({"body-too-large", "event-too-large", "string-lone-surrogate", "number-out-of-range",
                              "json-too-deep", "body-not-json"})
CASE_KEYS = frozenset({"description", "kind", "data", "valid", "rule", "status", "warnings"})
TOKEN = "phc_testtoken123"


@dataclass(frozen=True)
class Case:
    """One golden case; ``status`` is what capture answers (200 when valid, None for a rule without one)."""

    file: str
    description: str
    kind: str | None
    data: Any
    valid: bool
    rule: str | None
    status: int | None
    warnings: frozenset[str] | None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.description}"


def load_case(file: str, raw: dict[str, Any]) -> Case:
    """Read one case, refusing malformed ones with the reason (a typo must not silently skip a check)."""
    where = f"{file}::{raw.get('description')!r}"
    assert set(raw) <= CASE_KEYS, f"{where}: unknown keys {sorted(set(raw) - CASE_KEYS)}"
    assert {"description", "data", "valid"} <= set(raw), f"{where}: needs description, data and valid"
    assert raw.get("kind") in (None, *KINDS), f"{where}: kind must be one of {KINDS}"
    warnings = raw.get("warnings")
    if raw["valid"]:
        assert "rule" not in raw and "status" not in raw, f"{where}: a valid case has no rule or status"
        status: int | None = 200
    else:
        assert warnings is None, f"{where}: warnings are only computed for accepted documents"
        rule = RULES_BY_NAME.get(raw.get("rule", ""))
        assert rule is not None and rule in REJECTION_RULES, f"{where}: rule must name a rejection rule"
        assert raw.get("status") == rule.status, f"{where}: status must be {rule.status} ({rule.name})"
        assert (rule.status is None) == ("status" not in raw), f"{where}: give status exactly when the rule has one"
        status = rule.status
    if warnings is not None:
        unknown = set(warnings) - {r.name for r in WARNING_RULES}
        assert not unknown, f"{where}: not warning rules: {sorted(unknown)}"
    return Case(
        file=file,
        description=raw["description"],
        kind=raw.get("kind"),
        data=raw["data"],
        valid=raw["valid"],
        rule=raw.get("rule"),
        status=status,
        warnings=None if warnings is None else frozenset(warnings),
    )


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        raws = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(raws, list), f"{path.name} must hold a JSON list of cases"
        cases.extend(load_case(path.stem, raw) for raw in raws)
    return cases


CASES = load_cases()


def describe(report: harness.Report) -> str:
    return f"got status {report.status}, rejections {report.rejections}, warnings {report.warnings}"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_golden_case(case: Case) -> None:
    report = harness.validate(case.data, case.kind)
    assert report.status == case.status, describe(report)
    if case.valid:
        assert report.rejections == (), describe(report)
        if case.warnings is not None:
            assert {w.rule for w in report.warnings} == case.warnings, describe(report)
    else:
        assert report.rules == {case.rule}, describe(report)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_rejection_rule_has_a_case() -> None:
    covered = {case.rule for case in CASES if not case.valid}
    missing = {r.name for r in REJECTION_RULES} - CODE_BUILT_RULES - covered
    assert not missing, f"rejection rules without an invalid case: {sorted(missing)}"


def test_every_warning_rule_has_a_case() -> None:
    covered = set().union(*(case.warnings for case in CASES if case.warnings))
    missing = {r.name for r in WARNING_RULES} - covered
    assert not missing, f"warning rules without a case: {sorted(missing)}"


def test_enough_invalid_cases() -> None:
    assert sum(not case.valid for case in CASES) >= 30


# --- cases built in code --------------------------------------------------------------------------------


def event(**fields: Any) -> dict[str, Any]:
    return {"event": "$pageview", "distinct_id": "user-1", "token": TOKEN, **fields}


def padded_event(size: int) -> dict[str, Any]:
    """An event whose compact JSON is exactly ``size`` bytes (an ASCII ``pad`` property takes up the rest)."""
    base = event(properties={"pad": ""})
    pad = size - len(to_json(base))
    assert pad >= 0, f"cannot pad an event to {size} bytes"
    doc = event(properties={"pad": "x" * pad})
    assert len(to_json(doc)) == size
    return doc


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def batch_of_size(size: int) -> dict[str, Any]:
    """A batch whose compact JSON is exactly ``size`` bytes, every event under the Kafka limit."""
    doc: dict[str, Any] = {"api_key": TOKEN, "batch": []}
    per_event = EVENT_SIZE_LIMIT - 1000
    while len(to_json(doc)) + per_event < size:
        doc["batch"].append(padded_event(per_event))
    rest = size - len(to_json(doc)) - 1  # one byte for the comma before the last event
    doc["batch"].append(padded_event(rest))
    assert len(to_json(doc)) == size
    return doc


CODE_CASES: dict[str, tuple[Any, int, str | None]] = {
    "event of exactly 1,000,000 bytes": (padded_event(EVENT_SIZE_LIMIT), 200, None),
    "event of 1,000,001 bytes": (padded_event(EVENT_SIZE_LIMIT + 1), 413, "event-too-large"),
    "event of 1,000,001 bytes in a batch": ({"api_key": TOKEN, "batch": [padded_event(EVENT_SIZE_LIMIT + 1)]}, 413,
                                           "event-too-large"),
    "body of ~21 MiB in one string property": (event(properties={"blob": "x" * (21 * 1024 * 1024)}), 413,
                                              "body-too-large"),
    "lone surrogate in a property": (event(properties={"s": "a\ud800b"}), 400, "string-lone-surrogate"),
    "lone surrogate in a property name": (event(properties={"\udc00": 1}), 400, "string-lone-surrogate"),
    "lone surrogate beats a missing token": ({"event": "e", "distinct_id": "\ud83c"}, 400, "string-lone-surrogate"),
    "surrogate pair (a valid emoji) is fine": (event(properties={"s": "\U0001f600"}), 200, None),
    "1e400 (read as infinity) in a property": (event(properties={"n": float("inf")}), 400, "number-out-of-range"),
    "-1e400 as distinct_id": (event(distinct_id=float("-inf")), 400, "number-out-of-range"),
    "integer literal beyond float range": (event(properties={"n": 10**400}), 400, "number-out-of-range"),
    "largest finite float is fine": (event(properties={"n": 1.7976931348623157e308}), 200, None),
    "125 nested lists in a property (127 levels in all) are fine": (event(properties={"n": nested(125)}), 200, None),
    "126 nested lists in a property (128 levels) are too deep": (event(properties={"n": nested(126)}), 400,
                                                                 "json-too-deep"),
}


@pytest.mark.parametrize("description", list(CODE_CASES))
def test_code_built_case(description: str) -> None:
    document, status, rule = CODE_CASES[description]
    report = harness.validate(document)
    assert report.status == status, describe(report)
    assert report.rules == (set() if rule is None else {rule}), describe(report)


@pytest.mark.parametrize(("size", "status"), [(WIRE_BODY_LIMIT, 200), (WIRE_BODY_LIMIT + 1, 413)])
def test_wire_body_limit_boundary(size: int, status: int) -> None:
    report = harness.validate(batch_of_size(size))
    assert report.status == status, describe(report)
    assert report.rules == (set() if status == 200 else {"body-too-large"}), describe(report)


@pytest.mark.parametrize(
    ("text", "rule"),
    [(b'{"event": NaN}', "body-not-json"), (b"[" * 2000 + b"]" * 2000, "json-too-deep"),
     (b'{"a": "\\ud800"}', "string-lone-surrogate"), (b'{"a": 1e400}', "number-out-of-range")],
)
def test_text_capture_cannot_parse(text: bytes, rule: str) -> None:
    with pytest.raises(orjson.JSONDecodeError) as refused:
        orjson.loads(text)
    assert parse_rejection(str(refused.value)).name == rule


def test_code_built_cases_cover_their_rules() -> None:
    covered = {rule for _, _, rule in CODE_CASES.values()} | {"body-not-json"}
    assert CODE_BUILT_RULES <= covered
