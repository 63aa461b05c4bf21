"""What the v1 judge reports: findings (a rule at a JSON path), each event's result, the request's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.spec.rules import Rule, Stage, rule


@dataclass(frozen=True)
class Finding:
    """One rule broken (or warned about) at ``path``; ``status``, ``tag`` and ``result`` are the rule's, or
    its selected variant's (capture-v1.md §8)."""

    rule: str
    path: str
    message: str
    status: int | None
    tag: str
    result: str | None
    variant: str | None = None

    @property
    def stage(self) -> Stage:
        found = rule(self.rule).stage
        if self.variant == "authorization-required-header":
            return Stage.V1_HEADERS
        if self.variant == "options-strict":
            return Stage.V1_PARSE
        return found if found is not None else Stage.V1_EVENT

    def as_json(self) -> dict[str, Any]:
        found = rule(self.rule)
        data: dict[str, Any] = {"rule": self.rule, "path": self.path, "message": self.message,
                                "status": self.status, "tag": self.tag or None, "section": found.section}
        if self.variant:
            data["variant"] = self.variant
        return data


def _variant(found: Rule, variants: frozenset[str]) -> tuple[int | None, str, str | None, str | None, str]:
    for variant in found.variants:
        if variant.name in variants:
            return variant.status, variant.tag, variant.result, variant.name, variant.summary
    return found.status, found.tag, found.result, None, found.summary


def finding(name: str, path: str, detail: str, variants: frozenset[str]) -> Finding:
    """The finding of rule ``name``, as the selected revision decides it."""
    status, tag, result, variant, summary = _variant(rule(name), variants)
    detail = detail if len(detail) <= 120 else detail[:117] + "..."
    return Finding(name, path, f"{summary} ({detail})" if detail else summary, status, tag, result, variant)


@dataclass(frozen=True)
class EventResult:
    """One event's entry of the ``results`` map: its canonical uuid, ``result`` and ``details``."""

    index: int
    uuid: str
    result: str
    details: str | None = None
    finding: Finding | None = None

    def as_json(self, prefix: str) -> dict[str, Any]:
        data: dict[str, Any] = {"path": f"{prefix}[{self.index}]", "uuid": self.uuid, "result": self.result}
        if self.details:
            data["details"] = self.details
        if self.finding is not None:
            data.update(rule=self.finding.rule, rule_path=self.finding.path, message=self.finding.message)
            if self.finding.variant:
                data["variant"] = self.finding.variant
        return data


@dataclass(frozen=True)
class Report:
    """The verdict on one v1 request (or body, response, error body)."""

    kind: str
    status: int | None = 200
    rejections: tuple[Finding, ...] = ()
    results: tuple[EventResult, ...] = ()
    warnings: tuple[Finding, ...] = ()
    events_path: str = "$.batch"

    @property
    def accepted(self) -> bool:
        return not self.rejections

    @property
    def error(self) -> str | None:
        """The ``error`` tag capture answers with (None when accepted)."""
        return self.rejections[0].tag or None if self.rejections else None

    @property
    def dropped(self) -> int:
        return sum(result.result == "drop" for result in self.results)

    @property
    def rules(self) -> frozenset[str]:
        """The rules that decided: the rejection's, or every event result's that carries one."""
        if self.rejections:
            return frozenset(f.rule for f in self.rejections)
        return frozenset(r.finding.rule for r in self.results if r.finding is not None)
