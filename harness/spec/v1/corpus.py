"""v1 documents in ``capture-harness validate``: which documents are v1, how each is judged, and how the
verdict is printed (text lines and the JSON report's items).  :mod:`harness.spec.corpus_check` calls it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.spec.v1.model import Report, finding
from harness.spec.v1.validation import detect, validate_body, validate_request, validate_response

LABEL_KEYS = frozenset({"rule", "tag", "expect_status", "headers", "body"})
"""A ``generate --protocol v1 --invalid`` line: the request and the rule (and tag) it breaks."""


@dataclass(frozen=True)
class Options:
    """How v1 documents are judged: the profile and the older revisions selected (capture-v1.md §8)."""

    profile: str = "server"
    variants: frozenset[str] = frozenset()


def is_label(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == LABEL_KEYS


def kind_of(value: Any, forced: bool) -> str | None:
    """The v1 kind of a document (``forced``: ``--protocol v1``, so anything else is a bare body)."""
    found = detect(value)
    return found or ("body" if forced else None)


def judge(value: Any, kind: str, options: Options) -> Report:
    if kind == "request":
        return validate_request(value["headers"], value["body"], profile=options.profile, variants=options.variants)
    if kind in ("response", "error"):
        return validate_response(value, kind, variants=options.variants)
    return validate_body(value, profile=options.profile, variants=options.variants)


def judge_raw(headers: Mapping[str, str], raw: bytes, options: Options) -> Report:
    """A body file sent with ``--header`` options: decoded by its Content-Encoding, then judged."""
    return validate_request(headers, raw=raw, profile=options.profile, variants=options.variants)


def unparseable(error: str, options: Options) -> Report:
    """A document strict JSON refuses (a lone surrogate, ``1e400``): capture's parser refuses the body."""
    found = finding("v1-body-not-json", "$", error, options.variants)
    return Report("body", found.status, (found,))


def label_holds(label: dict[str, Any], report: Report) -> bool:
    """The request is decided by exactly its rule, with its status and tag."""
    if report.rules != {label["rule"]} or report.status != label["expect_status"]:
        return False
    if report.rejections:
        return bool(report.error == label["tag"])
    return all(r.details == label["tag"] for r in report.results if r.finding is not None)


def text(where: str, report: Report) -> Iterator[str]:
    """Lines for a v1 verdict: the request-level rejection, or each event with a result to tell."""
    for found in report.rejections:
        answer = f"{found.status} {found.tag}" if found.status and found.tag else "not conformant"
        yield f"{where}: rejected ({answer}) {found.path} [{found.rule}] {found.message}{_variant(found.variant)}"
    told = [r for r in report.results if r.finding is not None]
    if told:
        counts: dict[str, int] = {}
        for r in report.results:
            counts[r.result] = counts.get(r.result, 0) + 1
        shown = ", ".join(f"{n:,} {name}" for name, n in counts.items())
        yield f"{where}: accepted (200): {len(report.results):,} events: {shown}"
    for r in told:
        assert r.finding is not None
        yield (f"{where}: {r.result}{f' ({r.details})' if r.details else ''} {r.finding.path} [{r.finding.rule}] "
               f"{r.finding.message}{_variant(r.finding.variant)} uuid {r.uuid}")
    for w in report.warnings:
        yield f"{where}: warning {w.path} [{w.rule}] {w.message}"


def _variant(name: str | None) -> str:
    return f" [variant {name}]" if name else ""


def as_json(source: str, line: int, report: Report) -> dict[str, Any]:
    return {"file": source, "line": line, "protocol": "v1", "kind": report.kind,
            "status": report.status, "error": report.error,
            "rejections": [f.as_json() for f in report.rejections],
            "results": [r.as_json(report.events_path) for r in report.results],
            "warnings": [w.as_json() for w in report.warnings],
            "headers_checked": report.kind == "request"}


def mislabel_text(where: str, label: dict[str, Any], report: Report) -> str:
    judged = ", ".join(sorted(report.rules)) or "accepted"
    return (f"{where}: labelled [{label['rule']}] ({label['expect_status']} {label['tag']}) "
            f"but judged [{judged}] ({report.status} {report.error or ''})").rstrip()
