"""Session recordings on ``/s/`` (docs/recordings-contract.md): bodies posthog-js sends are accepted in
every encoding, each recordings rule is refused with its status, the size caps hold, the answers carry
CORS, and (with an inspection API) an accepted body is stored under its session and a refused one is not.

Capture serves ``/s/`` only in its recordings mode, a deployment of its own: a target that answers 404 on
``/s/`` has no recordings route, and every test here is skipped with that reason.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from harness.checks import REPLY_CHECKS, Case, Failure, Reply, Title, expected_status, no_server_error
from harness.contract.cases import Cases, seed_of
from harness.contract.delivery import InspectionClient
from harness.contract.replies import (
    ORIGIN,
    REQUESTED_HEADERS,
    STATUS_CHECKS,
    plain_options_answered,
    preflight_answered,
    status_in,
)
from harness.generate.recordings import snapshot_bodies
from harness.spec import recordings
from harness.spec.jsontext import to_json
from harness.wire import ENCODINGS, WireRequest

PATH = "/s/"

Body = list[dict[str, Any]]


def recording(cases: Cases, label: str) -> Body:
    """A valid body of two or more ``$snapshot`` events of one session, tagged for the run, its session id
    unique to the run and the label (letters, digits and ``-``, as capture requires)."""
    generated = snapshot_bodies(seed_of(label), cases.target.api_key)
    body: Body = cases.tag([event for part in itertools.islice(generated, 2) for event in part])
    session = f"{cases.target.run_id}-{zlib.crc32(label.encode()):08x}"[-70:]
    for event in body:
        event["properties"]["$session_id"] = session
    return body


@pytest.fixture(scope="module")
def recordings_route(capture_cases: Cases, capture_send: Callable[[Case], Reply]) -> None:
    """Skips every test of the module when the target answers 404 on ``/s/`` (no recordings route)."""
    label = "recordings probe"
    reply = capture_send(capture_cases.case(label, recording(capture_cases, label), path=PATH))
    if reply.status == 404:
        pytest.skip(f"{capture_cases.target.url} answers 404 on {PATH}: it serves no session recordings "
                    "(capture's recordings mode is a deployment of its own)")


pytestmark = pytest.mark.usefixtures("recordings_route")

ACCEPTED = [(encoding, PATH) for encoding in ENCODINGS] + [("json", "/s")]


@pytest.mark.acceptance
@pytest.mark.parametrize(("encoding", "path"), ACCEPTED, ids=[f"{e}-{p}" for e, p in ACCEPTED])
def test_recording_is_answered_in_every_encoding(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                 encoding: str, path: str) -> None:
    """200 in every encoding but a plain ``form``: ``/s/`` is no legacy path, so the base64 text of its
    ``data`` field is never unwrapped and fails JSON parsing (400), as on ``/batch/`` (§2)."""
    label = f"recordings accepted as {encoding} to {path}"
    expect, rule = (400, "body-not-json") if encoding == "form" else (200, None)
    case = capture_cases.case(label, recording(capture_cases, label), encoding=encoding, path=path, expect=expect,
                              rule=rule)
    capture_check(case, STATUS_CHECKS)


def _later_token_differs(body: Body) -> None:
    body[1]["properties"]["token"] = "phx_only_the_first_event_counts"


def _second_session(body: Body) -> None:
    body[1]["properties"]["$session_id"] = "another-session"
    body[1]["properties"].pop("$window_id")


def _no_window(body: Body) -> None:
    for event in body:
        event["properties"].pop("$window_id")


FIRST_EVENT_DECIDES: dict[str, Callable[[Body], None]] = {
    "later-token-ignored": _later_token_differs,
    "second-session-filed-under-the-first": _second_session,
    "window-id-optional": _no_window,
}
"""Bodies capture accepts because only the first event's token, session and window count (§5)."""


@pytest.mark.acceptance
@pytest.mark.parametrize("name", FIRST_EVENT_DECIDES)
def test_only_the_first_event_decides(capture_cases: Cases, capture_check: Callable[..., Reply], name: str) -> None:
    label = f"recordings accepted: {name}"
    body = recording(capture_cases, label)
    FIRST_EVENT_DECIDES[name](body)
    capture_check(capture_cases.case(label, body, path=PATH), STATUS_CHECKS)


def _set(index: int, key: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body[index if index >= 0 else len(body) + index]["properties"][key] = value
    return change


def _drop(index: int, key: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body[index if index >= 0 else len(body) + index]["properties"].pop(key)
    return change


BREAKERS: dict[str, tuple[str, Callable[[Body], None]]] = {
    "session-id-missing": ("recording-session-id-missing", _drop(0, "$session_id")),
    "session-id-null": ("recording-session-id-invalid", _set(0, "$session_id", None)),
    "session-id-with-a-space": ("recording-session-id-invalid", _set(0, "$session_id", "not a session")),
    "session-id-of-71-characters": ("recording-session-id-invalid", _set(0, "$session_id", "a" * 71)),
    "distinct-id-missing": ("recording-distinct-id-missing", _drop(0, "distinct_id")),
    "distinct-id-empty": ("recording-distinct-id-missing", _set(0, "distinct_id", "")),
    "snapshot-data-missing-in-a-later-event": ("recording-snapshot-data-missing", _drop(-1, "$snapshot_data")),
    "snapshot-data-a-string": ("recording-snapshot-data-missing", _set(0, "$snapshot_data", "rrweb")),
    "cookieless-mode-a-string": ("cookieless-mode-not-boolean", _set(0, "$cookieless_mode", "yes")),
    "token-missing-in-the-first-event": ("token-missing", _drop(0, "token")),
    "token-personal-api-key": ("token-personal-api-key", _set(0, "token", "phx_personal_api_key")),
    "empty-array": ("batch-empty", lambda body: body.clear()),
    "element-not-an-object": ("event-not-object", lambda body: body.append(5)),  # type: ignore[arg-type]
    "event-name-missing": ("event-name-missing", lambda body: body[0].pop("event")),
}
"""One way each to break a rule ``/s/`` checks: the case id, the rule and the change to a valid body."""


@pytest.mark.rejection
@pytest.mark.parametrize("name", BREAKERS)
def test_rule_breaking_recording_is_refused(capture_cases: Cases, capture_check: Callable[..., Reply],
                                            name: str) -> None:
    rule, change = BREAKERS[name]
    label = f"recordings refused: {name}"
    body = recording(capture_cases, label)
    change(body)
    expect = expected_status(rule, capture_cases.target.variant)
    capture_check(capture_cases.case(label, body, path=PATH, expect=expect, rule=rule), STATUS_CHECKS)


@pytest.mark.rejection
def test_unparseable_recording_is_refused(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "recordings refused: truncated JSON"
    payload = to_json(recording(capture_cases, label))[:-1]
    capture_check(capture_cases.case(label, payload, path=PATH, expect=400, rule="body-not-json"), STATUS_CHECKS)


def _padded(cases: Cases, label: str, item: Any, count: int) -> Body:
    body = recording(cases, label)[:1]
    body[0]["properties"]["$snapshot_data"] = [item] * count
    return body


@pytest.mark.limits
@pytest.mark.parametrize("encoding", ["json", "gzip-query"])
def test_payload_over_the_recordings_cap_is_413(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                encoding: str) -> None:
    label = f"recordings payload over {recordings.PAYLOAD_LIMIT} bytes as {encoding}"
    body = _padded(capture_cases, label, {"type": 3, "timestamp": 1, "data": {"source": 0, "texts": []}},
                   recordings.PAYLOAD_LIMIT // 50)
    assert len(to_json(body)) > recordings.PAYLOAD_LIMIT
    case = capture_cases.case(label, body, encoding=encoding, path=PATH, expect=413,
                              rule="recording-payload-too-large")
    capture_check(case, STATUS_CHECKS)


@pytest.mark.limits
def test_message_over_kafkas_limit_is_413(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "recordings message over Kafka's limit, payload under the cap"
    body = _padded(capture_cases, label, "q", 230_000)  # 4 bytes each, 6 once escaped in the message
    assert len(to_json(body)) <= recordings.PAYLOAD_LIMIT < recordings.message_size(recordings.snapshot_message(body))
    case = capture_cases.case(label, body, path=PATH, expect=413, rule="recording-message-too-large")
    capture_check(case, STATUS_CHECKS)


@pytest.mark.responses
@pytest.mark.parametrize("path", [PATH, "/s"])
def test_recording_success_body_is_conformant_json(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                   path: str) -> None:
    """The other categories judge statuses only (as v0's do): a wrong success body is reported here."""
    label = f"recordings success body to {path}"
    capture_check(capture_cases.case(label, recording(capture_cases, label), path=path), REPLY_CHECKS)


@pytest.mark.responses
def test_preflight_and_plain_options_are_answered(capture_check: Callable[..., Reply]) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": REQUESTED_HEADERS}
    capture_check(Case(f"CORS preflight OPTIONS {PATH}", WireRequest("OPTIONS", PATH, headers, b""), 200),
                  checks=(no_server_error, preflight_answered))
    capture_check(Case(f"plain OPTIONS {PATH}", WireRequest("OPTIONS", PATH, {}, b""), 200),
                  checks=(no_server_error, plain_options_answered))


@pytest.mark.responses
def test_unsupported_method_is_405(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = f"recordings PUT to {PATH}"
    case = capture_cases.case(label, recording(capture_cases, label), path=PATH, expect=405)
    case = dataclasses.replace(case, request=dataclasses.replace(case.request, method="PUT"))
    capture_check(case, checks=(no_server_error, status_in((405,), Title.METHOD_NOT_405)))


def _sessions(inspection: InspectionClient, session_id: str) -> list[dict[str, Any]]:
    status, document = inspection.client.get_json(f"/_harness/recordings?session_id={quote(session_id)}")
    if status == 404:
        pytest.skip("the target's inspection API has no /_harness/recordings: recordings cannot be checked")
    if status != 200 or not isinstance(document, dict):
        raise Failure(Title.INSPECTION_FAILED, f"GET /_harness/recordings?session_id={session_id} answered {status}")
    return list(document.get("sessions", []))


@pytest.mark.delivery
def test_accepted_recording_is_stored_under_its_session(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                        capture_inspection: InspectionClient) -> None:
    label = "recordings delivery of two requests of one session"
    first = recording(capture_cases, label)
    second = copy.deepcopy(first)
    capture_cases.tag(second)  # fresh uuids, the same session
    for body in (first, second):
        capture_check(capture_cases.case(label, body, path=PATH), STATUS_CHECKS)
    session = first[0]["properties"]["$session_id"]
    found = _sessions(capture_inspection, session)
    if not found:
        raise Failure(Title.RECORDING_NOT_STORED, f"{label}: session {session} acknowledged twice, not stored")
    expected = recordings.snapshot_message(first)["properties"]
    items = 2 * len(expected["$snapshot_items"])
    stored = found[0]
    wanted = {"distinct_id": expected["distinct_id"], "snapshots": items, "window_ids": [expected["$window_id"]]}
    got = {key: stored.get(key) for key in wanted}
    if len(found) != 1 or got != wanted:
        raise Failure(Title.RECORDING_STORED_DIFFERS, f"{label}: expected {wanted}, stored {got} "
                                                      f"({len(found)} sessions)")


@pytest.mark.delivery
def test_refused_recording_is_not_stored(capture_cases: Cases, capture_check: Callable[..., Reply],
                                         capture_inspection: InspectionClient) -> None:
    label = "recordings delivery of a refused request"
    body = recording(capture_cases, label)
    body[-1]["properties"].pop("$snapshot_data")
    case = capture_cases.case(label, body, path=PATH, expect=400, rule="recording-snapshot-data-missing")
    capture_check(case, STATUS_CHECKS)
    session = body[0]["properties"]["$session_id"]
    if _sessions(capture_inspection, session):
        raise Failure(Title.REFUSED_RECORDING_STORED, f"{label}: session {session} refused with 400 but stored")

