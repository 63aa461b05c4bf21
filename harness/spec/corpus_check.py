"""The contract's judge applied to a stream of located documents: what ``capture-harness validate`` reports.

A plain document gets the validator's report (rejections, and warnings for what ingestion will not act
on). A line written by ``generate --invalid`` (``{"rule", "expect_status", "body"}``) is checked against its
label instead: its body must be rejected with exactly that rule and status. The totals and the text and
JSON renderings live here too, so the command only reads its inputs and prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.spec import recordings
from harness.spec.rules import rule
from harness.spec.v1 import corpus as v1
from harness.spec.v1.model import Report as V1Report
from harness.spec.validation import CLI_FINDINGS, Finding, Report, parse_rejection, validate

_LABEL_KEYS = frozenset({"rule", "expect_status", "body"})


@dataclass(frozen=True)
class Document:
    """One JSON document and where it came from."""

    source: str
    line: int
    raw: bytes
    value: Any = None
    strict_error: str | None = None
    """Why a strict JSON parser refuses ``raw`` although it is JSON (``value`` then holds the lenient parse)."""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class Judgement:
    """A plain document the validator rejected or warned about."""

    document: Document
    report: Report

    def text(self) -> Iterator[str]:
        """One line per finding: where, the verdict and status, the JSON path, the rule and what is wrong."""
        for finding in self.report.rejections:
            status = rule(finding.rule).status
            verdict = f"rejected ({status})" if status else "not conformant"
            yield f"{self.document.where}: {verdict} {finding.path} [{finding.rule}] {finding.message}"
        if self.report.truncated:
            yield f"{self.document.where}: ... more findings not listed (the first {len(self.report.rejections)} are)"
        for finding in self.report.warnings:
            yield (f"{self.document.where}: warning (accepted, ineffective) {finding.path} [{finding.rule}] "
                   f"{finding.message}")

    def as_json(self) -> dict[str, Any]:
        return {"file": self.document.source, "line": self.document.line, "kind": self.report.kind,
                "status": self.report.status if self.report.rejections else 200,
                "rejections": [_finding_json(f) for f in self.report.rejections],
                "more_rejections": self.report.truncated,
                "warnings": [_finding_json(f) for f in self.report.warnings]}


@dataclass(frozen=True)
class Mislabel:
    """A labelled invalid document whose body was not rejected with exactly its rule and status."""

    document: Document
    label: dict[str, Any]
    report: Report

    def text(self) -> Iterator[str]:
        judged = ", ".join(sorted(self.report.rules)) or "accepted"
        yield (f"{self.document.where}: labelled [{self.label['rule']}] ({self.label['expect_status']}) "
               f"but judged [{judged}] ({self.report.status})")

    def as_json(self) -> dict[str, Any]:
        return {"file": self.document.source, "line": self.document.line, "labelled": self.label["rule"],
                "expect_status": self.label["expect_status"], "judged": sorted(self.report.rules),
                "status": self.report.status}


@dataclass(frozen=True)
class V1Judgement:
    """A v1 document's verdict (capture-v1.md): the request-level rejection, or each event's result."""

    document: Document
    report: V1Report

    def text(self) -> Iterator[str]:
        return v1.text(self.document.where, self.report)

    def as_json(self) -> dict[str, Any]:
        return v1.as_json(self.document.source, self.document.line, self.report)


@dataclass(frozen=True)
class V1Mislabel:
    """A labelled invalid v1 request not decided by exactly its rule, status and tag."""

    document: Document
    label: dict[str, Any]
    report: V1Report

    def text(self) -> Iterator[str]:
        yield v1.mislabel_text(self.document.where, self.label, self.report)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.document.source, "line": self.document.line, "protocol": "v1",
                "labelled": self.label["rule"], "tag": self.label["tag"], "expect_status": self.label["expect_status"],
                "judged": sorted(self.report.rules), "status": self.report.status, "error": self.report.error}


@dataclass
class Totals:
    """Counts over the whole stream; the JSON report carries them as they are."""

    documents: int = 0
    accepted: int = 0
    rejected: int = 0
    warned: int = 0
    input_errors: int = 0
    labelled: int = 0
    mislabelled: int = 0
    v1_documents: int = 0
    v1_accepted: int = 0
    v1_rejected: int = 0
    v1_warned: int = 0
    v1_events: int = 0
    v1_dropped: int = 0
    v1_labelled: int = 0
    v1_mislabelled: int = 0

    @property
    def failed(self) -> bool:
        """Something was rejected (a v1 event dropped), or a labelled body was not rejected as labelled."""
        return bool(self.rejected or self.mislabelled or self.v1_rejected or self.v1_dropped or self.v1_mislabelled)

    @property
    def saw_v1(self) -> bool:
        return bool(self.v1_documents or self.v1_labelled)

    def summary(self) -> str:
        """One line; plain documents are counted even when there were none, unless the input was all labelled."""
        parts = []
        if self.documents or not (self.labelled or self.saw_v1):
            parts.append(f"{self.documents:,} documents: {self.accepted:,} accepted, {self.rejected:,} rejected, "
                         f"{self.warned:,} with warnings")
        if self.labelled:
            parts.append(f"{self.labelled:,} labelled invalid documents: "
                         f"{self.labelled - self.mislabelled:,} rejected as labelled, {self.mislabelled:,} not")
        parts.extend(self._v1_summary())
        if self.input_errors:
            parts.append(f"{self.input_errors:,} input errors")
        return "; ".join(parts)

    def _v1_summary(self) -> list[str]:
        parts = []
        if self.v1_documents:
            parts.append(f"{self.v1_documents:,} v1 documents: {self.v1_accepted:,} accepted, {self.v1_rejected:,} "
                         f"rejected, {self.v1_warned:,} with warnings; {self.v1_events:,} events judged, "
                         f"{self.v1_dropped:,} dropped")
        if self.v1_labelled:
            parts.append(f"{self.v1_labelled:,} labelled invalid v1 requests: "
                         f"{self.v1_labelled - self.v1_mislabelled:,} decided as labelled, {self.v1_mislabelled:,} not")
        return parts

    def as_json(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        counts = dataclasses.asdict(self)
        if not self.saw_v1:  # a v0-only report stays as it was
            counts = {key: value for key, value in counts.items() if not key.startswith("v1_")}
        return {**counts, "results": results}


class CorpusCheck:
    """Judges documents one at a time, in the order read, and keeps the totals."""

    def __init__(self, kind: str | None = None, protocol: str | None = None, v1_options: v1.Options | None = None) -> None:
        self.kind = kind
        """The schema kind plain documents are judged against; None detects it per document."""
        self.protocol = protocol
        """``v0``, ``v1`` or None (a document that looks like v1 is judged as v1, capture-v1.md)."""
        self.v1_options = v1_options or v1.Options()
        self.totals = Totals()

    def input_error(self) -> None:
        """Count a document that could not be read at all (the caller says why)."""
        self.totals.input_errors += 1

    def check(self, document: Document) -> Judgement | Mislabel | V1Judgement | V1Mislabel | None:
        """Judge and count ``document``: what there is to report about it, or None when nothing."""
        if self.protocol == "v1" and document.strict_error is not None:
            return self.check_v1(document, v1.unparseable(document.strict_error, self.v1_options))
        if self.protocol != "v0" and document.strict_error is None:
            if v1.is_label(document.value):
                return self._check_v1_label(document)
            v1_kind = None if self.kind else v1.kind_of(document.value, self.protocol == "v1")
            if v1_kind is not None:
                return self.check_v1(document, v1.judge(document.value, v1_kind, self.v1_options))
        label = _label(document)
        if label is not None:
            return self._check_label(document, label)
        report = _judge(document, self.kind)
        self.totals.documents += 1
        if report.accepted:
            self.totals.accepted += 1
        else:
            self.totals.rejected += 1
        self.totals.warned += bool(report.warnings)
        return Judgement(document, report) if report.rejections or report.warnings else None

    def _check_label(self, document: Document, label: dict[str, Any]) -> Mislabel | None:
        """The body is judged as data, so what its JSON text could not carry (a lone surrogate) still counts."""
        report = validate(label["body"])
        self.totals.labelled += 1
        if report.rules == {label["rule"]} and report.status == label["expect_status"]:
            return None
        self.totals.mislabelled += 1
        return Mislabel(document, label, report)


    def check_v1(self, document: Document, report: V1Report) -> V1Judgement:
        """Count a v1 verdict; every v1 document is reported (its events' results are the point)."""
        totals = self.totals
        totals.v1_documents += 1
        totals.v1_accepted += report.accepted
        totals.v1_rejected += not report.accepted
        totals.v1_warned += bool(report.warnings)
        totals.v1_events += len(report.results)
        totals.v1_dropped += report.dropped
        return V1Judgement(document, report)

    def _check_v1_label(self, document: Document) -> V1Mislabel | None:
        label = document.value
        report = v1.judge(label, "request", v1.Options())
        self.totals.v1_labelled += 1
        if v1.label_holds(label, report):
            return None
        self.totals.v1_mislabelled += 1
        return V1Mislabel(document, label, report)


def _label(document: Document) -> dict[str, Any] | None:
    """A ``generate --invalid`` line: ``{"rule", "expect_status", "body"}``; its body is what is judged."""
    value = document.value
    if isinstance(value, dict) and value.keys() == _LABEL_KEYS:
        return value
    return None


def _judge(document: Document, kind: str | None) -> Report:
    """A document strict JSON refuses is rejected by capture's parser, before any schema applies."""
    if document.strict_error is not None:
        broken = parse_rejection(document.strict_error)
        finding = Finding(broken.name, "$", f"{broken.summary} ({document.strict_error})")
        return Report(kind=kind or "capture", rejections=(finding,), status=broken.status)
    if kind == recordings.KIND or (kind is None and recordings.is_recording(document.value)):
        return recordings.judge(document.value, encoded=document.raw, limit=CLI_FINDINGS)
    return validate(document.value, kind, encoded=document.raw, limit=CLI_FINDINGS)


def _finding_json(finding: Finding) -> dict[str, Any]:
    found = rule(finding.rule)
    return {"rule": finding.rule, "path": finding.path, "message": finding.message, "status": found.status,
            "section": found.section}
