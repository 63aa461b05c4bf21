"""Judge a payload the way capture would: which status it gets, and which rules decide it.

The schemas decide almost everything.  The few rules JSON Schema cannot express live here, each in one
named function: tokens agreeing across an array (``token-inconsistent``), an ``offset`` written as a
float, strings with lone surrogates and numbers beyond float range (capture's JSON parser refuses both),
and the byte limits (``body-too-large``, ``event-too-large``).

A request can break several rules; capture stops at the first failing stage (:class:`harness.spec.rules.Stage`),
so a report lists the violations of that stage only, and its status is theirs.  Warnings ("accepted but
ineffective") are computed only for accepted payloads.

Explaining costs what is reported, not what is wrong (issue 14): the deciding stage is found by
jsonschema-rs yes/no passes per stage (:func:`harness.spec.schemas.failing_stage`), and Python's
``jsonschema`` then explains only that stage's failures, lazily.  ``validate(..., limit=N)`` stops after
the first N findings (``Report.truncated`` says more exist; counting them would cost the explanation this
avoids): the reference server asks for one, the ``validate`` command for :data:`CLI_FINDINGS`.  The
default, every finding of the deciding stage, is the library's and the golden cases'.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.safety import mask_token
from harness.spec import schemas
from harness.spec.body import (
    SPECIAL_EVENT_KINDS,
    detect_kind,
    event_token,
    events_of,
    kept_events,
)
from harness.spec.jsontext import JSON_DEPTH_LIMIT, to_json, too_deep
from harness.spec.rules import EVENT_SIZE_LIMIT, WIRE_BODY_LIMIT, Rule, Stage, rule

KINDS: tuple[str, ...] = tuple(schemas.KIND_FILES)
CLI_FINDINGS = 20
"""How many findings ``capture-harness validate`` lists per document; past it the report says more exist."""

@dataclass(frozen=True)
class Finding:
    """One broken rule at one place in a document."""

    rule: str
    path: str
    message: str

    @property
    def status(self) -> int | None:
        return rule(self.rule).status


@dataclass(frozen=True)
class Report:
    """The verdict on one document: the deciding rejections, or the warnings of an accepted payload."""

    kind: str
    rejections: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    status: int | None = field(default=200)
    truncated: bool = False
    """More findings of the deciding stage exist than ``rejections`` lists (``validate(..., limit=N)``)."""

    @property
    def accepted(self) -> bool:
        return not self.rejections

    @property
    def rules(self) -> frozenset[str]:
        """Names of the rules that decided the rejection (empty when accepted)."""
        return frozenset(f.rule for f in self.rejections)


def is_acceptable(document: Any, kind: str | None = None) -> bool:
    """Yes/no on the schema alone: the hot path for bulk checks (no code rules, no explanation)."""
    return schemas.fast_validator(schemas.uri(kind or detect_kind(document))).is_valid(document)


def validate(document: Any, kind: str | None = None, *, encoded: bytes | None = None,
             wire_size: int | None = None, warnings: bool = True, limit: int | None = None) -> Report:
    """Judge ``document`` as capture would.

    ``encoded`` is the payload's JSON bytes, when the caller has them (the CLI and the server do), so byte
    limits are measured on the real text; ``wire_size`` is the body's size on the wire when it differs
    (compressed), for the 20 MiB wire cap; ``warnings=False`` skips the "accepted but ineffective"
    checks, which capture itself never makes (the reference server's hot path); otherwise the document is serialized compactly to measure it, and
    checked for what that JSON text could not hold (lone surrogates, numbers beyond float range): with
    ``encoded``, the caller's strict parser already refused those (:func:`parse_rejection`).  ``limit``
    caps the findings explained (None: every finding of the deciding stage); the deciding stage, and so
    the status, is the same whatever the limit.
    """
    kind = kind or detect_kind(document)
    if kind not in schemas.KIND_FILES:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    target = schemas.uri(kind)
    findings = list(_code_findings(document, kind, encoded, wire_size))
    schema_stage = schemas.failing_stage(target, document)
    stages = [_stage(f) for f in findings] + ([schema_stage] if schema_stage is not None else [])
    if not stages:
        return Report(kind=kind, warnings=tuple(_warnings(document, kind)) if warnings else ())
    stage = min(stages)
    deciding = [f for f in findings if _stage(f) == stage]
    if schema_stage == stage and (limit is None or len(deciding) <= limit):
        wanted = None if limit is None else limit + 1 - len(deciding)
        deciding.extend(itertools.islice(schema_findings(target, document, stage), wanted))
    if not deciding:  # jsonschema-rs refused what jsonschema accepts at that stage (it cannot read a lone
        # surrogate): judge on every stage's explanations, as before stages were told apart
        findings.extend(schema_findings(target, document))
        if not findings:
            return Report(kind=kind, warnings=tuple(_warnings(document, kind)) if warnings else ())
        stage = min(_stage(f) for f in findings)
        deciding = [f for f in findings if _stage(f) == stage]
    shown = deciding if limit is None else deciding[:limit]
    return Report(kind=kind, rejections=tuple(shown), status=shown[0].status, truncated=len(shown) < len(deciding))


def parse_rejection(error_message: str) -> Rule:
    """The rule a payload breaks when capture's JSON parser (mirrored by orjson) refuses it."""
    message = error_message.lower()
    if "surrogate" in message:
        return rule("string-lone-surrogate")
    if "infinity" in message:
        return rule("number-out-of-range")
    if "recursion" in message or "depth" in message:
        return rule("json-too-deep")
    return rule("body-not-json")


def _stage(finding: Finding) -> Stage:
    stage = rule(finding.rule).stage
    assert stage is not None, f"{finding.rule} is a warning, not a rejection"
    return stage


def schema_findings(target: str, document: Any, stage: Stage | None = None,
                    most: int | None = None) -> Iterator[Finding]:
    """The schema's findings for ``document`` at ``stage``, one per rule and place (of the first ``most``
    schema errors, when given)."""
    seen: set[tuple[str, str]] = set()
    for failure in itertools.islice(schemas.explain(target, document, stage), most):
        key = (failure.rule, failure.json_path)
        if key not in seen:
            seen.add(key)
            yield Finding(failure.rule, failure.json_path, finding_message(failure.rule, failure.detail))


def finding_message(rule_name: str, detail: str) -> str:
    """The rule's summary, with ``detail`` (cut at 80 characters) in brackets."""
    if not detail:
        return rule(rule_name).summary
    detail = detail if len(detail) <= 80 else detail[:77] + "..."
    return f"{rule(rule_name).summary} ({detail})"


# --- rules checked in code ----------------------------------------------------------------------------


def _code_findings(document: Any, kind: str, encoded: bytes | None, wire_size: int | None) -> Iterator[Finding]:
    if kind == "response":
        return
    if encoded is None:  # built in memory: check what strict_loads refuses when callers parse text
        try:
            encoded = to_json(document, strict=True)
        except UnicodeEncodeError:
            yield from _lone_surrogates(document, "$")
            return
        if _has_out_of_range_number(document):
            yield from _out_of_range_numbers(document, "$")
        if too_deep(encoded):
            yield Finding("json-too-deep", "$", finding_message("json-too-deep", f"over {JSON_DEPTH_LIMIT} levels"))
    size = len(encoded) if wire_size is None else wire_size
    if size > WIRE_BODY_LIMIT:
        yield Finding("body-too-large", "$", finding_message("body-too-large", f"{size:,} bytes"))
    events = events_of(document)
    prefix = _events_path(document)
    yield from _float_offsets(events, prefix)
    if isinstance(document, list):
        yield from _inconsistent_tokens(kept_events(document))
    if len(encoded) > EVENT_SIZE_LIMIT:
        yield from _oversized_events(events, prefix)


def _events_path(document: Any) -> str:
    if isinstance(document, list):
        return "$"
    if isinstance(document, dict) and "event" not in document and isinstance(document.get("batch"), list):
        return "$.batch"
    return ""


def _event_path(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]" if prefix else "$"


def _float_offsets(events: list[Any], prefix: str) -> Iterator[Finding]:
    """``offset`` is an i64: capture's parser refuses ``3.0`` although JSON Schema calls it an integer."""
    for index, event in enumerate(events):
        if isinstance(event, dict) and isinstance(event.get("offset"), float):
            path = _event_path(prefix, index) + ".offset"
            yield Finding("offset-not-integer", path, finding_message("offset-not-integer", repr(event["offset"])))


def _inconsistent_tokens(kept: list[dict[str, Any]]) -> Iterator[Finding]:
    """Rule 13: the tokens of an array's kept events must all be the same string."""
    tokens = {event_token(event) for event in kept}
    tokens.discard(None)
    if len(tokens) > 1:
        shown = ", ".join(sorted(mask_token(t) for t in tokens if t is not None))
        yield Finding("token-inconsistent", "$", finding_message("token-inconsistent", shown))


def _oversized_events(events: list[Any], prefix: str) -> Iterator[Finding]:
    for index, event in enumerate(events):
        size = len(to_json(event))
        if size > EVENT_SIZE_LIMIT:
            yield Finding("event-too-large", _event_path(prefix, index), finding_message("event-too-large", f"{size:,} bytes"))


def _lone_surrogates(value: Any, path: str) -> Iterator[Finding]:
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            yield Finding("string-lone-surrogate", path, finding_message("string-lone-surrogate", ascii(value)[:40]))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _lone_surrogates(key, path)
            yield from _lone_surrogates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, f"{path}[{index}]")


_FLOAT_MAX_INT = int(sys.float_info.max)


def _has_out_of_range_number(value: Any) -> bool:
    """Whether ``value`` holds a number capture's parser refuses (§8): a float that is not finite (Python's
    ``json`` reads ``1e400`` as ``inf``), or an integer beyond float range.  Only for documents built in
    memory: orjson writes ``inf`` as ``null``, so the serialized bytes cannot show it.  A flat scan; the
    paths are found only when it hits."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            if item - item != 0.0:  # inf - inf and nan - nan are nan
                return True
        elif isinstance(item, int) and not -_FLOAT_MAX_INT <= item <= _FLOAT_MAX_INT:
            return True
    return False


def _out_of_range_numbers(value: Any, path: str) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _out_of_range_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _out_of_range_numbers(item, f"{path}[{index}]")
    elif not isinstance(value, str) and _has_out_of_range_number(value):
        yield Finding("number-out-of-range", path, finding_message("number-out-of-range", repr(value)[:40]))


# --- warnings: accepted but ineffective ---------------------------------------------------------------


def _warnings(document: Any, kind: str) -> Iterator[Finding]:
    if kind == "response":
        return
    if kind in ("identify", "alias", "groupidentify"):
        yield from _effect_findings(kind, document, "$")
        return
    prefix = _events_path(document)
    for index, event in enumerate(events_of(document)):
        name = event.get("event") if isinstance(event, dict) else None
        effect_kind = SPECIAL_EVENT_KINDS.get(name) if isinstance(name, str) else None
        if effect_kind:
            yield from _effect_findings(effect_kind, event, _event_path(prefix, index))


def _effect_findings(kind: str, event: Any, path: str) -> Iterator[Finding]:
    target = schemas.uri(kind, "/$defs/effective")
    if schemas.fast_validator(target).is_valid(event):
        return
    for finding in schema_findings(target, event):
        yield Finding(finding.rule, path + finding.path[1:], finding.message)
