"""What a capture endpoint's answer must look like: small checks shared by the contract suite and Locust.

A :class:`Case` is one request on the wire and what the contract says capture answers to it; a
:class:`Reply` is what the endpoint said.  Each check is a plain function ``(case, reply) -> None`` that
raises :class:`Failure` when the reply departs from the contract.  A failure has a stable ``title`` from
the :class:`Title` catalogue (Locust groups errors by exact text and the contract summary counts findings
by title, so both name the same departures, and no uuid or timestamp goes in one), a ``detail`` with
expected vs actual and a body excerpt, and :func:`curl` rebuilds the request as a command a user can paste.

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
from typing import Any, Self

import orjson

from harness.spec import rules
from harness.spec.body import events_of
from harness.spec.jsontext import to_json
from harness.wire import WireRequest, encode

EXCERPT = 200
"""Bytes of a reply body quoted in a failure's detail."""

MAX_ANSWER_BYTES = 256 * 1024
"""The most of an answer's body the harness reads to check it (capture's answers are a few bytes; a few
hundred KB leaves room for any error text): a longer body is the finding "answer too large", its
connection dropped, so an endless or 1 GiB answer never grows the harness's memory."""


class Concern(enum.StrEnum):
    """What part of the contract a :class:`Title` is about.  Not the contract suite's categories (where
    a test lives): "server error" can fail a test of any of them."""

    TRANSPORT = "transport"
    """No HTTP answer at all."""
    STATUS = "status"
    """The status code of an answer."""
    BODY = "body"
    """The body of a success or an error (contract §7)."""
    CORS = "cors"
    """CORS headers, preflights and plain ``OPTIONS`` (contract §1.3)."""
    LIMITS = "limits"
    """The size limits and the decompression budget (contract §6)."""
    DELIVERY = "delivery"
    """What an endpoint stored, read back through the ``/_harness/`` inspection API."""
    SUITE = "suite"
    """Not a departure of the endpoint: the test itself broke."""


@enum.unique
class Title(enum.StrEnum):
    """The catalogue of failure titles: one stable text per way an answer departs from the contract.

    A title is the string itself (Locust and junitxml read it as text) and carries its ``concern`` and a
    ``meaning`` for the reader.  :class:`Failure` takes only a :class:`Title`, so a title cannot be
    invented at a ``raise`` (mypy refuses a plain string).
    """

    concern: Concern
    meaning: str

    def __new__(cls, text: str, concern: Concern, meaning: str) -> Self:
        member = str.__new__(cls, text)
        member._value_ = text
        member.concern = concern
        member.meaning = meaning
        return member

    NO_ANSWER = ("no answer", Concern.TRANSPORT,
                 "the contract suite got no HTTP answer: connection refused or reset, or none within --capture-timeout")
    CONNECTION_REFUSED = ("connection refused", Concern.TRANSPORT,
                          "a load test request got no HTTP answer: nothing accepted the connection (is --url right?)")
    CONNECTION_RESET = ("connection reset", Concern.TRANSPORT,
                        "a load test request got no HTTP answer: the endpoint or a proxy closed the connection")
    TIMED_OUT = ("timed out", Concern.TRANSPORT,
                 "a load test request got no HTTP answer within Locust's network timeout")
    UNANSWERED_AT_END = ("no answer before the run ended", Concern.TRANSPORT,
                         "a load test request had waited over a second, and was still waiting, when the run "
                         "ended: the endpoint accepted it and did not answer")
    CONNECTION_FAILED = ("connection failed", Concern.TRANSPORT,
                         "a load test request got no HTTP answer (Locust's status 0) for another network reason")
    TLS_FAILED = ("TLS verification failed", Concern.TRANSPORT,
                  "a load test request's TLS handshake failed: its certificate did not verify (--ca-bundle, --insecure)")
    SERVER_ERROR = ("server error", Concern.STATUS,
                    "a 5xx: nothing a client sends may get one, so the endpoint broke (injected faults aside)")
    ACCEPTED_INVALID = ("accepted an invalid request", Concern.STATUS,
                        "a 2xx to a request the contract refuses with a 4xx")
    REJECTED_VALID = ("rejected a valid request", Concern.STATUS,
                      "an error status to a request the contract acknowledges")
    UNEXPECTED_STATUS = ("unexpected status", Concern.STATUS,
                         "another status than the contract's, neither of the two above (e.g. 400 for a 401)")
    REDIRECTED = ("redirected", Concern.STATUS,
                  ("a 3xx to a capture request: capture answers itself, and the harness never follows a redirect "
                   "(a POST would be resent as a body-less GET); the detail names the Location"))
    ANSWER_TOO_LARGE = ("answer too large", Concern.BODY,
                        ("an answer's body was longer than the harness reads (MAX_ANSWER_BYTES, 256 KiB): "
                         "not checked further, its connection dropped"))
    TARGET_STOPPED = ("the target stopped answering", Concern.TRANSPORT,
                      ("the contract suite's circuit breaker: several consecutive requests got no answer, so the "
                       "remaining tests were not run"))
    UNKNOWN_PATH_NOT_404 = ("unknown path not answered 404", Concern.STATUS,
                            "a path capture does not route got another answer than 404 (§1.1)")
    METHOD_NOT_405 = ("unsupported method not refused with 405", Concern.STATUS,
                      "a method capture does not serve got another answer than 405 (§1.1)")
    NO_CONTENT_WITH_BODY = ("204 with a body", Concern.BODY,
                            "a beacon's success (204) carried a body (§7.1)")
    SUCCESS_NOT_JSON = ("success is not JSON", Concern.BODY,
                        "a 200 whose content type or body is not JSON (§7.1)")
    SUCCESS_BODY_NOT_CONFORMANT = ("success body not conformant", Concern.BODY,
                                   'a 200 whose JSON is neither {"status": "Ok"} nor the legacy {"status": 1} (§7.1)')
    ERROR_WITH_SUCCESS_BODY = ("error answered with a success body", Concern.BODY,
                               "a 4xx whose body claims success (§7.2)")
    ERROR_BODY_NOT_JSON = ("error body not the JSON ErrorBody", Concern.BODY,
                           "variant error-body: a 4xx without the {status, code, error} JSON of its status (§7.2)")
    ERROR_WITHOUT_REASON = ("error without a reason", Concern.BODY,
                            "main rule: a 4xx with an empty body instead of capture's error text (§7.2)")
    CORS_ORIGIN_NOT_MIRRORED = ("CORS origin not mirrored", Concern.CORS,
                                "an answer without the request's Origin in Access-Control-Allow-Origin")
    CORS_CREDENTIALS_NOT_ALLOWED = ("CORS credentials not allowed", Concern.CORS,
                                    "an answer without Access-Control-Allow-Credentials: true beside the origin")
    PREFLIGHT_NOT_200 = ("CORS preflight not answered 200", Concern.CORS,
                         "a CORS preflight got another status than 200")
    PREFLIGHT_METHODS_MISSING = ("CORS preflight methods missing", Concern.CORS,
                                 "a preflight's Access-Control-Allow-Methods lacks GET, POST or OPTIONS")
    PREFLIGHT_HEADERS_NOT_MIRRORED = ("CORS preflight headers not mirrored", Concern.CORS,
                                      "a preflight's Access-Control-Allow-Headers lacks a requested header")
    PLAIN_OPTIONS_NOT_200 = ("plain OPTIONS not answered 200", Concern.CORS,
                             "an OPTIONS that is not a preflight got another status than 200 (§7.1)")
    PLAIN_OPTIONS_BODY_NOT_CONFORMANT = ("plain OPTIONS body not conformant", Concern.CORS,
                                         'a plain OPTIONS answered without {"status": "Ok"} (§7.1)')
    GZIP_BOMB_NOT_REFUSED = ("gzip bomb not refused", Concern.LIMITS,
                             "a gzip member inflating to 1 GiB got another answer than 413 (or 400)")
    GZIP_BOMB_SLOW = ("gzip bomb answered slowly", Concern.LIMITS,
                      "a gzip bomb was refused, but only after inflating far past capture's 100 MiB budget")
    INSPECTION_FAILED = ("inspection API failed", Concern.DELIVERY,
                         "GET /_harness/events did not answer 200 with JSON: delivery cannot be checked")
    NOT_STORED = ("acknowledged event not stored", Concern.DELIVERY,
                  "an event acknowledged with a 2xx is not in the store")
    STORED_DIFFERS = ("stored event differs from the one sent", Concern.DELIVERY,
                      "a stored event's distinct_id, event or properties are not what was sent (§4.2)")
    PARTIAL_BATCH_STORED = ("partial batch stored", Concern.DELIVERY,
                            "events of a request refused for one invalid event were stored (rule 10)")
    PERFORMANCE_EVENT_STORED = ("$performance_event stored", Concern.DELIVERY,
                                "a $performance_event event was stored; capture drops them (rule 11)")
    RECORDING_NOT_STORED = ("acknowledged recording not stored", Concern.DELIVERY,
                            "a /s/ body acknowledged with a 2xx is not in /_harness/recordings under its session")
    RECORDING_STORED_DIFFERS = ("stored recording differs from the one sent", Concern.DELIVERY,
                                "a stored session's snapshots, windows or distinct id differ (recordings §6)")
    REFUSED_RECORDING_STORED = ("refused recording stored", Concern.DELIVERY,
                                "snapshots of a /s/ body refused with a 4xx were stored")
    V1_ERROR_TAG_DIFFERS = ("v1 error tag differs", Concern.STATUS,
                            ("a v1 refusal with the expected status but another `error` tag: another rule decided, "
                             "e.g. the header checks ran in another order (capture-v1.md §3, §9.5)"))
    V1_ERROR_BODY_NOT_CONFORMANT = ("v1 error body not the JSON error", Concern.BODY,
                                    "a v1 4xx whose body is not JSON {error, error_description, error_uri} (§5.2)")
    V1_SUCCESS_BODY_NOT_CONFORMANT = ("v1 success body not conformant", Concern.BODY,
                                      'a v1 200 that is not JSON {"results": {uuid: {"result", "details"?}}} (§5.1)')
    V1_RESULT_KEYS_MISMATCH = ("v1 result keys not the request's uuids", Concern.BODY,
                               ("a v1 200 whose results keys are not exactly one per request event, each its "
                                "canonical lower-case uuid (§5.1, §8 #12)"))
    V1_DROP_NOT_ANSWERED = ("v1 event to drop not answered drop", Concern.STATUS,
                            "an event capture drops (a §5.1 drop tag) answered ok, warning or retry")
    V1_VALID_EVENT_DROPPED = ("v1 valid event answered drop", Concern.STATUS,
                              "an event capture accepts answered drop (§4.2, §5.1)")
    V1_RESULT_DETAILS_DIFFER = ("v1 event details differ", Concern.STATUS,
                                ("an event answered with the expected result but other details: another drop tag, "
                                 "or person_processing_disabled missing (§5.1)"))
    V1_REQUEST_ID_NOT_ECHOED = ("PostHog-Request-Id not echoed", Concern.BODY,
                                "a v1 answer without the request's PostHog-Request-Id, byte for byte (§5.1)")
    V1_RETRY_AFTER_MISSING = ("Retry-After missing on a v1 retry", Concern.BODY,
                              "a v1 200 holding a retry result, or a 5xx, without Retry-After (§5.1, §5.2)")
    V1_RETRY_AFTER_UNEXPECTED = ("Retry-After on a v1 answer without retry", Concern.BODY,
                                 ("Retry-After on a v1 200 with no retry result, or on a 400, 401, 413 or 415, or "
                                  "(newest revision) a 429 (§5.2)"))
    V1_PREFLIGHT_METHODS = ("v1 CORS preflight methods not POST, OPTIONS", Concern.CORS,
                            "a v1 preflight's Access-Control-Allow-Methods lacks POST or OPTIONS, or allows GET (§1)")
    V1_UNACKNOWLEDGED_STORED = ("v1 event stored though not acknowledged", Concern.DELIVERY,
                                ("an event answered drop or retry, one capture-v1.md drops, or one of a refused v1 "
                                 "request, is in the store"))
    UNEXPECTED_EXCEPTION = ("unexpected exception (see its report)", Concern.SUITE,
                            "a contract test failed on something else than a Failure: the summary's label for it")


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


def expected_status(rule_name: str, variant: Variant = Variant.MAIN) -> int:
    """The status an endpoint of ``variant`` answers for a request breaking ``rule_name``."""
    status = _VARIANT_STATUSES[variant].get(rule_name, rules.rule(rule_name).status)
    if status is None:
        raise ValueError(f"rule {rule_name!r} is no request capture refuses: it has no status")
    return status


@dataclass(frozen=True)
class Case:
    """One request and the contract's answer to it.  ``name`` is stable: it groups stats and findings."""

    name: str
    request: WireRequest
    expect_status: int
    rule: str | None = None
    uuids: tuple[str, ...] = ()
    """The uuids of the events the request carries, for delivery checks."""
    event_span: tuple[int, int, int] | None = None
    """A load-corpus case's events as (chunk, first index, count) in its stream (:mod:`harness.load.eventids`):
    what the load ledger records per request instead of the uuid texts."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case."""


class Failure(Exception):
    """A departure from the contract: a stable ``title`` and a ``detail`` to act on."""

    def __init__(self, title: Title, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail


def excerpt(body: bytes) -> str:
    text = body[:EXCERPT].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > EXCERPT else "")


def short(value: Any, most: int = 160) -> str:
    """``repr(value)`` cut at ``most`` characters: a stored or answered value quoted in a failure's detail."""
    text = repr(value)
    return text if len(text) <= most else text[:most] + "..."


# --- the checks ---------------------------------------------------------------------------------------


def no_server_error(case: Case, reply: Reply) -> None:
    """Nothing a client sends may get a 5xx (injected faults aside, a 5xx means the endpoint broke)."""
    if reply.status >= 500:
        raise Failure(Title.SERVER_ERROR, f"{case.name}: answered {reply.status}, body {excerpt(reply.body)}")


def expected_status_answered(case: Case, reply: Reply) -> None:
    """The status the contract gives this request."""
    if reply.status != case.expect_status and 300 <= reply.status < 400 and not 300 <= case.expect_status < 400:
        location = reply.headers.get("location")
        where = f"to Location {location!r}" if location else "without a Location"
        raise Failure(Title.REDIRECTED, f"{case.name}: expected {case.expect_status}, got {reply.status} {where} "
                                        "(not followed)")
    if reply.status != case.expect_status:
        title = Title.ACCEPTED_INVALID if 200 <= reply.status < 300 and case.expect_status >= 400 \
            else Title.REJECTED_VALID if case.expect_status < 300 <= reply.status \
            else Title.UNEXPECTED_STATUS
        broken = f" (breaks {case.rule})" if case.rule else ""
        raise Failure(title, f"{case.name}{broken}: expected {case.expect_status}, got {reply.status}, "
                             f"body {excerpt(reply.body)}")


def success_body_conformant(case: Case, reply: Reply) -> None:
    """A 200 carries ``{"status": "Ok"}`` or the legacy ``{"status": 1}`` as JSON; a 204 carries nothing."""
    if reply.status == 204:
        if reply.body:
            raise Failure(Title.NO_CONTENT_WITH_BODY, f"{case.name}: {excerpt(reply.body)}")
        return
    if reply.status != 200:
        return
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise Failure(Title.SUCCESS_NOT_JSON, f"{case.name}: content-type {content_type!r}")
    try:
        document = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise Failure(Title.SUCCESS_NOT_JSON, f"{case.name}: body {excerpt(reply.body)}") from None
    if not is_success_body(document):
        raise Failure(Title.SUCCESS_BODY_NOT_CONFORMANT,
                      f'{case.name}: expected {{"status": "Ok"}} or {{"status": 1}}, got {excerpt(reply.body)}')


def is_success_body(document: object) -> bool:
    """``{"status": "Ok"}`` or the legacy ``{"status": 1}`` (the response schema's ``success``)."""
    from harness.spec import schemas  # jsonschema-rs once an answer is judged: the plugin and the CLI start without it

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


# --- building a case ------------------------------------------------------------------------------------


def case_for(name: str, body: Any, *, path: str, encoding: str, expect: int, rule: str | None = None,
             query: Mapping[str, str] | None = None) -> Case:
    """``body`` (a JSON value, or bytes sent as they are) on the wire as ``encoding`` to ``path``, expecting
    ``expect``.  The one way from a body to a request: the load corpus and the contract suite both build
    their cases here, so a body is serialized (:func:`harness.spec.jsontext.to_json`) and encoded
    (:func:`harness.wire.encode`) the same way whichever job sends it."""
    payload = body if isinstance(body, bytes) else to_json(body)
    return Case(name, encode(payload, encoding, path, query=query), expect, rule, _uuids_of(body))


def _uuids_of(body: Any) -> tuple[str, ...]:
    """The string uuids of the events in ``body``, for the delivery checks (none for raw bytes)."""
    if isinstance(body, bytes):
        return ()
    return tuple(event["uuid"] for event in events_of(body)
                 if isinstance(event, dict) and isinstance(event.get("uuid"), str) and event["uuid"])
