"""A contract failure as the user reads it: the stable title, expected vs actual, and a ``curl`` command.

:class:`ContractFailure` is a :class:`harness.checks.Failure` that knows how to reproduce itself; the
plugin turns one into the test's failure report (:func:`longrepr`), so pytest prints a few actionable
lines instead of a traceback through the suite's machinery, the short summary (``-ra``) and junitxml's
``message`` carry the title, and a Hypothesis test adds its minimal example.

API keys: the user's key is never printed whole (``phc_…last4``).  A body that holds it is written to
a file that the ``curl`` command reads with ``--data-binary @FILE``, so the command still works as is.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from harness.checks import Case, Failure, curl
from harness.contract.target import Target
from harness.safety import mask_token

NOTE_LIMIT = 1500
"""Characters of a Hypothesis note (the falsifying example) kept in the report; the curl has the rest."""


class ContractFailure(Failure):
    """A :class:`Failure` of one request: ``reproduce`` is the command that sends it again."""

    def __init__(self, failure: Failure, case: Case, reproduce: str, hint: str = "") -> None:
        super().__init__(failure.title, failure.detail)
        self.case = case
        self.reproduce = reproduce
        self.hint = hint


def attach(failure: Failure, case: Case, target: Target, body_dir: Path) -> ContractFailure:
    """``failure`` with the command that reproduces ``case`` against ``target``."""
    hint = ""
    if target.embedded:
        port = target.url.rsplit(":", 1)[-1]
        hint = (f"the embedded endpoint stopped with the session: run `capture-harness serve --port {port}` "
                "to replay against the reference")
    return ContractFailure(failure, case, reproduce(case, target, body_dir), hint)


def reproduce(case: Case, target: Target, body_dir: Path) -> str:
    """``curl`` for ``case``; a body holding the user's own key goes to a file, and the key is masked
    anywhere else it would show."""
    request = case.request
    command = curl(request, target.url, body_dir)
    if target.secret_key and request.body and target.api_key.encode() in request.body:
        path = body_dir / f"body-{hashlib.sha256(request.body).hexdigest()[:16]}.json"
        body_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(request.body)
        command = command.replace(shlex.quote(request.body.decode("utf-8", "replace")), shlex.quote(f"@{path}"), 1)
    return mask(command, target)


def mask(text: str, target: Target | None) -> str:
    """``text`` with the user's key shown as ``phc_…last4``."""
    if target is None or not target.secret_key:
        return text
    return text.replace(target.api_key, mask_token(target.api_key))


@dataclass(frozen=True)
class _Crash:
    """What pytest's short summary, ``--tb=line`` and junitxml's ``message`` read: the stable title."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


@dataclass(frozen=True)
class FindingRepr:
    """A test report's ``longrepr`` for a contract failure (pytest calls ``toterminal`` and ``str``)."""

    title: str
    lines: tuple[str, ...]
    reprcrash: _Crash

    def toterminal(self, tw: object) -> None:
        tw.line(self.title, red=True, bold=True)  # type: ignore[attr-defined]
        for line in self.lines:
            tw.line(line)  # type: ignore[attr-defined]

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
    return FindingRepr(failure.title, tuple(lines), _Crash(path, (lineno or 0) + 1, failure.title))
