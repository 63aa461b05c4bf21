"""Golden cases of the v1 protocol (capture-v1.md), replayed through :mod:`harness.spec.v1.validation`.

Each file in ``tests/cases/v1/`` holds cases of one theme.  A case is a request built from valid defaults
(the headers Node 5.70.0 sends, capture-v1.md §9.1; one valid event per ``batch`` item, with its own uuid)
and overrides: ``headers`` (a null value removes the header), ``envelope`` (keys of the body; null
removes), ``batch`` (per-event overrides; ``"$delete": [keys]`` removes keys), or the whole ``body``, or
``raw`` body text.  It expects either a request-level ``rule`` with its ``status`` and ``error`` tag, or
``events`` (the rule of each event, null for a plain ``ok``), and optionally the exact ``warnings``.
``kind`` ``response`` / ``error`` cases judge a response ``document`` instead.  Every v1 rule needs a case
(``test_every_v1_rule_has_a_case``); the two of megabytes are built in code below.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from harness.spec.rules import V1_RULES, V1_WIRE_BODY_LIMIT, rule
from harness.spec.v1.validation import validate_request, validate_response

CASES_DIR = Path(__file__).parent / "cases" / "v1"
CODE_BUILT = frozenset({"v1-body-too-large", "v1-event-too-large"})
HEADERS = {
    "Content-Type": "application/json", "Authorization": "Bearer phc_test_key", "User-Agent": "posthog-node/5.70.0",
    "PostHog-Sdk-Info": "posthog-node/5.70.0", "PostHog-Attempt": "1",
    "PostHog-Request-Id": "01a2171c-ebe4-7d5e-9df2-08ae9cc11bac",
    "PostHog-Request-Timestamp": "2026-11-26T09:08:21.092Z",
}
KEYS = frozenset({"description", "headers", "no_headers", "envelope", "batch", "body", "raw", "gzip", "variants",
                  "profile", "rule", "status", "error", "events", "warnings", "kind", "document", "request_uuids"})


def uuid_for(index: int) -> str:
    return f"01a2171c-ebe4-7d5e-9df2-{index:012x}"


def event(index: int, overrides: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {"event": "v1_plain_event", "uuid": uuid_for(index), "distinct_id": "user-1",
                            "timestamp": "2026-11-26T09:08:21.092Z", "options": {},
                            "properties": {"$is_server": True, "$geoip_disable": True}}
    overrides = dict(overrides)
    for key in overrides.pop("$delete", []):
        base.pop(key)
    return {**base, **overrides}


def build(case: dict[str, Any]) -> tuple[dict[str, str] | None, Any, bytes | None]:
    headers = None if case.get("no_headers") else \
        {k: v for k, v in {**HEADERS, **case.get("headers", {})}.items() if v is not None}
    if "raw" in case:
        raw = case["raw"].encode("utf-8")
        return headers, None, gzip.compress(raw, mtime=0) if case.get("gzip") else raw
    if "body" in case:
        return headers, copy.deepcopy(case["body"]), None
    body = {"created_at": "2026-11-26T09:08:21.092Z",
            "batch": [event(i, o) for i, o in enumerate(case.get("batch", [{}]))]}
    body = {k: v for k, v in {**body, **case.get("envelope", {})}.items() if v is not None}
    return headers, body, None


def load() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            assert set(raw) <= KEYS, f"{path.name}::{raw.get('description')}: unknown keys {set(raw) - KEYS}"
            cases.append((f"{path.stem}::{raw['description']}", raw))
    return cases


CASES = load()


def judge(case: dict[str, Any]) -> Any:
    variants = frozenset(case.get("variants", ()))
    if case.get("kind") in ("response", "error"):
        return validate_response(case["document"], case["kind"], case.get("request_uuids"), variants)
    headers, body, raw = build(case)
    if raw is not None:
        return validate_request(headers, raw=raw, profile=case.get("profile", "server"), variants=variants)
    return validate_request(headers, body, profile=case.get("profile", "server"), variants=variants)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_v1_golden_case(case: dict[str, Any]) -> None:
    report = judge(case)
    seen = f"status {report.status}, rejections {report.rejections}, results {report.results}, " \
           f"warnings {report.warnings}"
    if "rule" in case:
        assert report.rules == {case["rule"]}, seen
        assert report.status == case.get("status"), seen
        if "error" in case:
            assert report.error == case["error"], seen
    else:
        assert report.rejections == () and report.status == 200, seen
        if "events" in case:
            assert [r.finding.rule if r.finding else None for r in report.results] == case["events"], seen
    if "warnings" in case:
        assert sorted({w.rule for w in report.warnings}) == sorted(case["warnings"]), seen


def test_case_expectations_match_the_catalogue() -> None:
    for where, case in CASES:
        if "rule" in case and rule(case["rule"]).status is not None and not case.get("variants"):
            assert case["status"] == rule(case["rule"]).status, where
            assert case.get("error", rule(case["rule"]).tag) == rule(case["rule"]).tag, where


def test_every_v1_rule_has_a_case() -> None:
    covered = set()
    for _, case in CASES:
        covered.add(case.get("rule"))
        covered.update(case.get("events") or ())
        covered.update(case.get("warnings") or ())
    missing = {r.name for r in V1_RULES} - CODE_BUILT - covered
    assert not missing, f"v1 rules without a golden case: {sorted(missing)}"


def test_every_variant_has_a_case() -> None:
    covered = {v for _, case in CASES for v in case.get("variants", ())}
    assert covered == {v.name for r in V1_RULES for v in r.variants}


def _padded_body(size: int) -> dict[str, Any]:
    body = {"created_at": "2026-11-26T09:08:21.092Z", "batch": [event(0, {"properties": {"pad": ""}})]}
    pad = size - len(json.dumps(body, separators=(",", ":")))
    body["batch"][0]["properties"]["pad"] = "x" * pad
    return body


@pytest.mark.parametrize(("size", "status"), [(V1_WIRE_BODY_LIMIT, 200), (V1_WIRE_BODY_LIMIT + 1, 413)])
def test_wire_limit_boundary(size: int, status: int) -> None:
    body = _padded_body(size)
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) == size
    report = validate_request(HEADERS, raw=raw)
    assert report.status == status
    if status == 413:
        assert report.rules == {"v1-body-too-large"} and report.error == "payload_too_large"
        assert validate_request(HEADERS, body).rules == {"v1-body-too-large"}
    else:
        assert [r.finding.rule for r in report.results] == ["v1-event-too-large"]  # one event of 10 MiB


def test_decompressed_limit() -> None:
    raw = gzip.compress(b" " * (50 * 1024 * 1024), mtime=0)
    report = validate_request({**HEADERS, "Content-Encoding": "gzip"}, raw=raw)
    assert report.rules == {"v1-body-too-large"}


@pytest.mark.parametrize(("size", "result"), [(1_000_000, "ok"), (1_000_001, "drop")])
def test_event_size_boundary(size: int, result: str) -> None:
    one = event(0, {"properties": {"pad": ""}})
    one["properties"]["pad"] = "x" * (size - len(json.dumps(one, separators=(",", ":"))))
    report = validate_request(HEADERS, {"created_at": "2026-11-26T09:08:21.092Z", "batch": [one]})
    assert [(r.result, r.details) for r in report.results] == \
        [("ok", None)] if result == "ok" else [("drop", "event_too_big")]
