"""Checks of answers that :data:`harness.checks.REPLY_CHECKS` does not cover: CORS, plain OPTIONS, the
shape of error bodies per variant, and refusals that may take one of two statuses.

Same style as :mod:`harness.checks`: a function ``(case, reply) -> None`` raising
:class:`harness.checks.Failure` with a title of the catalogue :class:`harness.checks.Title` and a detail.
They live here, not in ``harness.checks``, because only the contract suite sends such requests;
Locust never does.
"""

from __future__ import annotations

import orjson

from harness.checks import (
    Case,
    Check,
    Failure,
    Reply,
    Title,
    Variant,
    excerpt,
    expected_status_answered,
    is_success_body,
    no_server_error,
)
from harness.spec import schemas

STATUS_CHECKS: tuple[Check, ...] = (no_server_error, expected_status_answered)
"""What the status-matrix categories check (acceptance, rejection, edge cases, properties, limits,
delivery): the status alone.  The shape of a success body is the responses category's, so one departure
is reported once, by the category that names it, instead of by every test that got a 200."""

ORIGIN = "https://app.capture-harness.example"
"""The ``Origin`` the CORS checks send; capture mirrors any origin (contract §1.3)."""

REQUESTED_HEADERS = "content-type,x-capture-harness-probe"
"""``Access-Control-Request-Headers`` of the preflight; capture mirrors what is asked."""


def status_in(statuses: tuple[int, ...], title: Title | None = None) -> Check:
    """The answer is one of ``statuses``, for refusals the contract allows two ways (a gzip bomb: 413, or
    400 from a server that inflates it all).  ``title`` names the departure; by default it says whether
    the endpoint accepted what it had to refuse."""
    def check(case: Case, reply: Reply) -> None:
        if reply.status not in statuses:
            found = title or (Title.ACCEPTED_INVALID if 200 <= reply.status < 300 else Title.UNEXPECTED_STATUS)
            raise Failure(found, f"{case.name}: expected {' or '.join(map(str, statuses))}, got {reply.status}, "
                                 f"body {excerpt(reply.body)}")
    return check


def origin_mirrored(case: Case, reply: Reply) -> None:
    """Every answer, errors included, carries the request's ``Origin`` and allows credentials (§1.3)."""
    allowed = reply.headers.get("access-control-allow-origin")
    if allowed not in (ORIGIN, "*"):
        raise Failure(Title.CORS_ORIGIN_NOT_MIRRORED,
                      f"{case.name} (answered {reply.status}): Access-Control-Allow-Origin is {allowed!r}, "
                      f"expected the request's Origin {ORIGIN!r}")
    if allowed == "*" or reply.headers.get("access-control-allow-credentials", "").lower() != "true":
        raise Failure(Title.CORS_CREDENTIALS_NOT_ALLOWED,
                      f"{case.name} (answered {reply.status}): expected Access-Control-Allow-Credentials: true "
                      f"with the mirrored origin, got origin {allowed!r}, credentials "
                      f"{reply.headers.get('access-control-allow-credentials')!r}")


def preflight_answered(case: Case, reply: Reply) -> None:
    """A preflight gets 200, the methods capture serves, and the requested headers allowed (§1.3)."""
    if reply.status != 200:
        raise Failure(Title.PREFLIGHT_NOT_200,
                      f"{case.name}: expected 200, got {reply.status}, body {excerpt(reply.body)}")
    origin_mirrored(case, reply)
    methods = {m.strip().upper() for m in reply.headers.get("access-control-allow-methods", "").split(",")}
    if not {"GET", "POST", "OPTIONS"} <= methods and "*" not in methods:
        raise Failure(Title.PREFLIGHT_METHODS_MISSING,
                      f"{case.name}: Access-Control-Allow-Methods is "
                      f"{reply.headers.get('access-control-allow-methods')!r}, expected GET, POST, OPTIONS")
    allowed = {h.strip().lower() for h in reply.headers.get("access-control-allow-headers", "").split(",")}
    wanted = set(REQUESTED_HEADERS.split(","))
    if not wanted <= allowed and "*" not in allowed:
        raise Failure(Title.PREFLIGHT_HEADERS_NOT_MIRRORED,
                      f"{case.name}: asked for {REQUESTED_HEADERS!r}, Access-Control-Allow-Headers is "
                      f"{reply.headers.get('access-control-allow-headers')!r}")


def plain_options_answered(case: Case, reply: Reply) -> None:
    """An OPTIONS that is not a preflight reaches capture's handler: ``200 {"status":"Ok"}`` (§1.3, §7.1)."""
    if reply.status != 200:
        raise Failure(Title.PLAIN_OPTIONS_NOT_200,
                      f'{case.name}: expected 200 {{"status":"Ok"}}, got {reply.status}, '
                      f"body {excerpt(reply.body)}")
    try:
        document = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        document = None
    if not is_success_body(document):
        raise Failure(Title.PLAIN_OPTIONS_BODY_NOT_CONFORMANT,
                      f'{case.name}: expected {{"status": "Ok"}} or {{"status": 1}}, got {excerpt(reply.body)}')


def error_body_of(variant: Variant) -> Check:
    """The body of a 4xx: capture's plain-text error (main rule), or ``{status, code, error}`` JSON whose
    ``status`` is the answer's ([variant] ``ErrorBody``, §7.2).  Either way it must not claim success."""
    def check(case: Case, reply: Reply) -> None:
        if not 400 <= reply.status < 500:
            return
        try:
            document = orjson.loads(reply.body) if reply.body else None
        except orjson.JSONDecodeError:
            document = None
        if document is not None and is_success_body(document):
            raise Failure(Title.ERROR_WITH_SUCCESS_BODY,
                          f"{case.name}: {reply.status} with {excerpt(reply.body)}")
        if variant is Variant.ERROR_BODY:
            error_schema = schemas.fast_validator(schemas.uri("response", "/$defs/error"))
            if not (isinstance(document, dict) and error_schema.is_valid(document)
                    and document.get("status") == reply.status):
                raise Failure(Title.ERROR_BODY_NOT_JSON,
                              f"{case.name}: expected {{\"status\": {reply.status}, \"code\": ..., \"error\": ...}} "
                              f"(variant error-body), got {excerpt(reply.body)}")
        elif not reply.body.strip():
            raise Failure(Title.ERROR_WITHOUT_REASON,
                          f"{case.name}: {reply.status} with an empty body; capture answers its error text "
                          f"(e.g. \"event submitted without an api_key\")")
    return check
