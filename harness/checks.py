"""What a capture endpoint's answer must look like: small checks shared by the contract suite and Locust.

A :class:`Case` is one request on the wire and what the contract says capture answers to it; a
:class:`Reply` is what the endpoint said.  Each check is a plain function ``(case, reply) -> None`` that
raises :class:`Failure` when the reply departs from the contract.  A failure has a stable ``title``
(Locust groups errors by exact text, so no uuid or timestamp goes in it), a ``detail`` with expected vs
actual and a body excerpt, and :func:`curl` rebuilds the request as a command a user can paste.

Known variants of capture (contract §3.3, §7.2) answer a few cases differently; :class:`Variant` picks
which answers count as conformant.
"""

from __future__ import annotations

import enum
import hashlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from harness.spec import schemas
from harness.wire import WireRequest

EXCERPT = 200
"""Bytes of a reply body quoted in a failure's detail."""


class Variant(enum.Enum):
    """Which revision of capture's answers counts as conformant."""

    MAIN = "main"
    """Most revisions: token errors 401, plain-text error bodies (the contract's main rule)."""
    ERROR_BODY = "error-body"
    """The newer ``ErrorBody`` API: a malformed token 403, inconsistent tokens 400, JSON error bodies."""


_VARIANT_STATUSES: dict[Variant, dict[str, int]] = {
    Variant.MAIN: {},
    Variant.ERROR_BODY: {
        "token-empty": 403, "token-too-long": 403, "token-not-ascii": 403, "token-personal-api-key": 403,
        "token-null-byte": 403, "token-inconsistent": 400,
    },
}


def expected_status(rule_status: int, rule_name: str | None, variant: Variant = Variant.MAIN) -> int:
    """The status an endpoint of ``variant`` answers for a request breaking ``rule_name``."""
    if rule_name is None:
        return rule_status
    return _VARIANT_STATUSES[variant].get(rule_name, rule_status)


@dataclass(frozen=True)
class Case:
    """One request and the contract's answer to it.  ``name`` is stable: it groups stats and findings."""

    name: str
    request: WireRequest
    expect_status: int
    rule: str | None = None
    uuids: tuple[str, ...] = ()
    """The uuids of the events the request carries, for delivery checks."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case."""


class Failure(Exception):
    """A departure from the contract: a stable ``title`` and a ``detail`` to act on."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail


def excerpt(body: bytes) -> str:
    text = body[:EXCERPT].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > EXCERPT else "")


# --- the checks ---------------------------------------------------------------------------------------


def no_server_error(case: Case, reply: Reply) -> None:
    """Nothing a client sends may get a 5xx (injected faults aside, a 5xx means the endpoint broke)."""
    if reply.status >= 500:
        raise Failure("server error", f"{case.name}: answered {reply.status}, body {excerpt(reply.body)}")


def expected_status_answered(case: Case, reply: Reply) -> None:
    """The status the contract gives this request."""
    if reply.status != case.expect_status:
        title = "accepted an invalid request" if 200 <= reply.status < 300 and case.expect_status >= 400 \
            else "rejected a valid request" if case.expect_status < 300 <= reply.status \
            else "unexpected status"
        broken = f" (breaks {case.rule})" if case.rule else ""
        raise Failure(title, f"{case.name}{broken}: expected {case.expect_status}, got {reply.status}, "
                             f"body {excerpt(reply.body)}")


def success_body_conformant(case: Case, reply: Reply) -> None:
    """A 200 carries ``{"status": "Ok"}`` or the legacy ``{"status": 1}`` as JSON; a 204 carries nothing."""
    if reply.status == 204:
        if reply.body:
            raise Failure("204 with a body", f"{case.name}: {excerpt(reply.body)}")
        return
    if reply.status != 200:
        return
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise Failure("success is not JSON", f"{case.name}: content-type {content_type!r}")
    try:
        document = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise Failure("success is not JSON", f"{case.name}: body {excerpt(reply.body)}") from None
    if not is_success_body(document):
        raise Failure("success body not conformant",
                      f'{case.name}: expected {{"status": "Ok"}} or {{"status": 1}}, got {excerpt(reply.body)}')


def is_success_body(document: object) -> bool:
    """``{"status": "Ok"}`` or the legacy ``{"status": 1}`` (the response schema's ``success``)."""
    return schemas.fast_validator(schemas.uri("response", "/$defs/success")).is_valid(document)


Check = Callable[[Case, Reply], None]

REPLY_CHECKS: tuple[Check, ...] = (no_server_error, expected_status_answered, success_body_conformant)
"""The checks every reply goes through, in order (the first failure is the finding)."""


def first_failure(case: Case, reply: Reply, checks: tuple[Check, ...] = REPLY_CHECKS) -> Failure | None:
    for check in checks:
        try:
            check(case, reply)
        except Failure as failure:
            return failure
    return None


# --- reproducing a finding ------------------------------------------------------------------------------


def curl(request: WireRequest, base_url: str, body_dir: Path | None = None) -> str:
    """A ``curl`` command that sends ``request`` again.  Bodies that are not printable text are written
    to a file in ``body_dir`` (named by content) and read back with ``--data-binary @FILE``."""
    parts = ["curl", "-sS", "-i", "-X", request.method]
    for name, value in request.headers.items():
        parts += ["-H", f"{name}: {value}"]
    if request.body:
        if _printable(request.body) or body_dir is None:
            parts += ["--data-binary", request.body.decode("utf-8", "replace")]
        else:
            body_dir.mkdir(parents=True, exist_ok=True)
            path = body_dir / f"body-{_digest(request.body)}.bin"
            path.write_bytes(request.body)
            parts += ["--data-binary", f"@{path}"]
    parts.append(base_url.rstrip("/") + request.target)
    return shlex.join(parts)


def _printable(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(body) <= 4096 and text.isprintable() and not text.startswith("@")


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]
