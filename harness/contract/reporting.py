"""How the contract suite reports: a finding's failure report, junitxml properties, the summary per category.

A test failed by a :class:`harness.checks.Failure` gets a report of a few actionable lines (:func:`longrepr`:
title, category, detail, the ``curl`` command, Hypothesis' shrunk example) instead of a traceback through
the suite's machinery; the short summary (``-ra``) and junitxml's ``message`` carry the title, and junitxml
gets the properties ``capture_category`` and ``capture_finding``.  :class:`ContractSession` holds the run
id and the target and prints passed/failed per category, with the titles of the failures, at the end.

The plugin (:mod:`harness.contract.plugin`) registers a :class:`ContractSession` only in a session that
runs contract tests, so a plain pytest run never imports this module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import pytest
from _pytest._code.code import TerminalRepr  # the type pytest gives a report's longrepr; not re-exported

from harness.checks import Failure, Title
from harness.contract import CATEGORIES
from harness.contract.findings import ContractFailure, mask
from harness.contract.tagging import DISTINCT_ID_PREFIX, RUN_PROPERTY, new_run_id
from harness.contract.target import Target

NOTE_LIMIT = 1500
"""Characters of a Hypothesis note (the falsifying example) kept in the report; the curl has the rest."""


class _Writer(Protocol):
    """The part of pytest's terminal writer a report uses."""

    def line(self, s: str = "", **markup: bool) -> None: ...


@dataclass(frozen=True)
class _Crash:
    """What pytest's short summary, ``--tb=line`` and junitxml's ``message`` read: the stable title."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


@dataclass(eq=False)
class FindingRepr(TerminalRepr):
    """A test report's ``longrepr`` for a contract failure (pytest calls ``toterminal`` and ``str``)."""

    title: str
    lines: tuple[str, ...]
    reprcrash: _Crash

    def toterminal(self, tw: _Writer) -> None:
        tw.line(self.title, red=True, bold=True)
        for line in self.lines:
            tw.line(line)

    def __str__(self) -> str:
        return "\n".join((self.title, *self.lines))


def longrepr(failure: Failure, location: tuple[str, int | None, str], category: str | None,
             target: Target | None) -> FindingRepr:
    """The report of a failed contract test: title, detail, the curl command, Hypothesis' notes."""
    lines = [f"  {mask(failure.detail, target)}"]
    if category:
        lines.insert(0, f"  category: {category}")
    if isinstance(failure, ContractFailure):
        lines.append(f"  reproduce: {failure.reproduce}")
        if failure.hint:
            lines.append(f"  ({failure.hint})")
    for note in getattr(failure, "__notes__", ()):
        text = mask(str(note), target)
        if len(text) > NOTE_LIMIT:
            text = text[:NOTE_LIMIT] + " ... (cut; the curl command sends the whole example)"
        lines.extend(f"  {line}" for line in text.splitlines())
    path, lineno, _ = location
    title = str(failure.title)
    return FindingRepr(title, tuple(lines), _Crash(path, (lineno or 0) + 1, title))


class ContractSession:
    """Per-session state and the reporting hooks: the run id, the target, outcomes and titles per category."""

    def __init__(self) -> None:
        self.run_id = new_run_id()
        self.target: Target | None = None
        self.outcomes: dict[str, Counter[str]] = {}
        self.titles: dict[str, Counter[Title]] = {}
        self.notes: list[str] = []
        """Lines the summary prints under the target: the protocol judged, tests deselected and why."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        category = next((m.name for m in item.iter_markers() if m.name in CATEGORIES), None)
        if category is not None and call.when == "setup":
            item.user_properties.append(("capture_category", category))  # junitxml writes it as a property
        failure = _failure_in(call.excinfo.value) if call.excinfo is not None else None
        if report.failed and failure is not None:
            report.longrepr = longrepr(failure, report.location, category, self.target)
            item.user_properties.append(("capture_finding", str(failure.title)))
        elif report.failed and self.target is not None and self.target.secret_key \
                and self.target.api_key in str(report.longrepr):
            report.longrepr = mask(str(report.longrepr), self.target)  # never print the user's key
        if category is not None:
            self._count(category, report, failure)
        return report

    def _count(self, category: str, report: pytest.TestReport, failure: Failure | None) -> None:
        outcome: str
        if report.when == "call":
            outcome = report.outcome
        elif report.when == "setup" and not report.passed:
            outcome = "skipped" if report.skipped else "error"
        elif report.when == "teardown" and report.failed:
            outcome = "error"
        else:
            return
        self.outcomes.setdefault(category, Counter())[outcome] += 1
        if report.failed:
            title = failure.title if failure else Title.UNEXPECTED_EXCEPTION
            self.titles.setdefault(category, Counter())[title] += 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.outcomes:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "capture-harness contract summary")
        if self.target is not None:
            write(f"target: {self.target.describe()}")
        for note in self.notes:
            write(note)
        write(f"run id: {self.run_id} (every event: properties.{RUN_PROPERTY} = run id, "
              f"distinct_id prefixed {DISTINCT_ID_PREFIX!r})")
        write(f"{'category':<12} {'passed':>7} {'failed':>7} {'skipped':>8} {'errors':>7}")
        for category in CATEGORIES:
            counts = self.outcomes.get(category)
            if not counts:
                continue
            broken = bool(counts["failed"] or counts["error"])
            write(f"{category:<12} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8} "
                  f"{counts['error']:>7}", red=broken, green=not broken)
            for title, count in self.titles.get(category, Counter()).most_common():
                write(f"    {count:>4} x {title}")


def _failure_in(error: BaseException) -> Failure | None:
    """The contract failure that failed a test: raised directly, or inside an exception group."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _failure_in(inner)
            if found is not None:
                return found
    return None
