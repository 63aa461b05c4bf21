"""A contract failure that can reproduce itself: the stable title, expected vs actual, and a ``curl`` command.

:class:`ContractFailure` is a :class:`harness.checks.Failure` with the command that sends its request
again; :func:`harness.contract.reporting.longrepr` turns one into the test's failure report.

API keys: the user's key is never printed whole (``phc_…last4``).  A body that holds it is written to
a file that the ``curl`` command reads with ``--data-binary @FILE``, so the command still works as is.
"""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

from harness.checks import Case, Failure, curl
from harness.contract.target import Target
from harness.safety import mask_token


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
