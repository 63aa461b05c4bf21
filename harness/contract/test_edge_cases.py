"""Edge cases: bodies that are awkward on purpose and that capture must still accept (200).

Every edit of :data:`harness.generate.mutations.EDGES` on every payload kind, then the values themselves, one test
each: unicode in property values and keys, numeric / array / object / placeholder distinct ids (§4.2,
§8), ``$performance_event``-only requests (§2.2), every uuid form ``Uuid::parse_str`` accepts (§4.1),
every timestamp form (§4.3), and the token in every place capture reads it (§3.1).
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from itertools import zip_longest
from typing import Any

import pytest

from harness.checks import Reply
from harness.contract.cases import PAYLOAD_KINDS, Cases, seed_of
from harness.contract.replies import STATUS_CHECKS
from harness.generate import model, mutations
from harness.generate.choices import SeededChoices
from harness.spec.body import events_of

pytestmark = pytest.mark.edge_cases


def _labelled(values: tuple[Any, ...], labels: tuple[str, ...], prefix: str) -> list[Any]:
    """``values`` as pytest params with readable ids (``prefix-N`` where no label was written)."""
    return [pytest.param(value, id=label or f"{prefix}-{index}")
            for index, (value, label) in enumerate(zip_longest(values, labels[:len(values)]))]


def _path_for(body: Any) -> str:
    return "/i/v0/e/" if isinstance(body, dict) and "event" in body else "/batch/"


# --- every edge edit on every kind ------------------------------------------------------------------------

EDIT_CELLS = [(edit, kind) for edit in mutations.EDGES for kind in PAYLOAD_KINDS
              if edit != "performance-events" or kind == "batch"]  # only lists can hold the extra events


@pytest.mark.parametrize(("edit", "kind"), EDIT_CELLS, ids=[f"{e}-{k}" for e, k in EDIT_CELLS])
def test_edge_edit_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply], edit: str,
                               kind: str) -> None:
    label = f"edge case {edit} on a {kind} body"
    body = capture_cases.valid(kind, label)  # tagged first: the edit's own values are sent as they are
    mutations.EDGES[edit](SeededChoices(seed_of(label)), body)
    capture_check(capture_cases.case(label, body, path=_path_for(body)), STATUS_CHECKS)


# --- unicode --------------------------------------------------------------------------------------------

TEXT_LABELS = ("emoji-zwj", "arabic", "hebrew", "combining", "zalgo", "cjk", "greek", "zero-width",
               "control-whitespace", "nul", "quotes-backslashes", "max-code-point", "math-letters")


@pytest.mark.parametrize("text", _labelled(mutations.AWKWARD_TEXT, TEXT_LABELS, "text"))
def test_unicode_text_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply], text: str) -> None:
    label = f"edge case unicode {text!a}"
    body = capture_cases.valid("capture", label)
    event = events_of(body)[0]
    event["properties"]["note"] = text
    event["properties"][f"key {text}"] = "value"
    event["properties"]["nested"] = {"list": [text, {"deep": text}]}
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


# --- distinct ids -----------------------------------------------------------------------------------------


def _id_label(value: Any) -> str:
    text = ascii(value)
    return text if len(text) <= 24 else f"{text[:16]}...{len(str(value))}-chars"


@pytest.mark.parametrize("distinct_id", [pytest.param(v, id=_id_label(v)) for v in mutations.ODD_DISTINCT_IDS])
def test_odd_distinct_id_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply],
                                     distinct_id: Any) -> None:
    label = f"edge case distinct_id {_id_label(distinct_id)}"
    body = capture_cases.valid("capture", label)
    mutations.set_distinct_id(events_of(body)[0], copy.deepcopy(distinct_id))
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


# --- $performance_event ----------------------------------------------------------------------------------


def _performance_event(run_id: str) -> dict[str, Any]:
    """Dropped before any check, so it needs neither token nor distinct id (§2.2, rule 11)."""
    return {"event": "$performance_event", "properties": {"entries": [1, 2], "$capture_harness_run": run_id}}


@pytest.mark.parametrize("shape", ["array", "batch-object", "single"])
def test_performance_event_only_request_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply],
                                                    shape: str) -> None:
    run_id = capture_cases.target.run_id
    body: Any = {"array": [_performance_event(run_id), _performance_event(run_id)],
                 "batch-object": {"api_key": capture_cases.target.api_key, "batch": [_performance_event(run_id)]},
                 "single": _performance_event(run_id)}[shape]
    label = f"edge case $performance_event only ({shape})"
    capture_check(capture_cases.case(label, body, path="/batch/"), STATUS_CHECKS)


# --- uuid forms -------------------------------------------------------------------------------------------

UUID_LABELS = ("hyphenated", "upper-case", "simple", "simple-upper-case", "braced", "urn", "empty-string", "null")
UUID_FORM_COUNT = len(mutations.uuid_forms(SeededChoices(0), model.START_MS))


@pytest.mark.parametrize("form", [*_labelled(tuple(range(UUID_FORM_COUNT)), UUID_LABELS, "uuid"),
                                  pytest.param(None, id="absent")])
def test_uuid_form_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply], form: int | None) -> None:
    label = f"edge case uuid form {UUID_LABELS[form] if form is not None and form < len(UUID_LABELS) else form}"
    body = capture_cases.valid("capture", label)
    event = events_of(body)[0]
    if form is None:
        event.pop("uuid", None)
    else:  # from a fresh uuid: the same forms every run, never the same uuid
        event["uuid"] = mutations.uuid_forms(SeededChoices(secrets.randbits(64)), int(time.time() * 1000))[form]
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


# --- timestamp forms --------------------------------------------------------------------------------------

TIMESTAMP_LABELS = ("rfc3339-ms-z", "python-microseconds", "offset-plus-0530", "offset-minus-0800", "no-zone",
                    "date-only", "space-separated", "epoch-digits", "unparseable", "null")
TIMESTAMPS: list[Any] = [
    *_labelled(tuple(form(model.START_MS + 123) for form in mutations.TIMESTAMP_FORMS), TIMESTAMP_LABELS, "form"),
    *(pytest.param(mutations.fractional_timestamp(model.START_MS + 456, digits), id=f"fraction-{digits}-digits")
      for digits in range(10)),
]


@pytest.mark.parametrize("timestamp", TIMESTAMPS)
def test_timestamp_form_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply],
                                    timestamp: str | None) -> None:
    label = f"edge case timestamp {timestamp!r}"
    body = capture_cases.valid("capture", label)
    events_of(body)[0]["timestamp"] = timestamp
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


@pytest.mark.parametrize("with_timestamp", [False, True], ids=["offset-only", "offset-and-timestamp"])
def test_offset_is_accepted(capture_cases: Cases, capture_check: Callable[..., Reply], with_timestamp: bool) -> None:
    label = f"edge case offset {'with' if with_timestamp else 'without'} timestamp"
    body = capture_cases.valid("capture", label)
    event = events_of(body)[0]
    event["offset"] = 308
    if not with_timestamp:
        event.pop("timestamp", None)
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


# --- token locations --------------------------------------------------------------------------------------

SINGLE_LOCATIONS = ("token", "$token", "api_key", "properties.token")


def _tokenless_event(capture_cases: Cases, label: str) -> dict[str, Any]:
    event: dict[str, Any] = events_of(capture_cases.valid("capture", label))[0]
    for name in ("token", "$token", "api_key"):
        event.pop(name, None)
    event["properties"].pop("token", None)
    return event


def _event_with_token(capture_cases: Cases, label: str, location: str, token: str) -> dict[str, Any]:
    event = _tokenless_event(capture_cases, label)
    if location == "properties.token":
        event["properties"]["token"] = token
    else:
        event[location] = token
    return event


@pytest.mark.parametrize("location", SINGLE_LOCATIONS)
def test_token_in_event_is_read(capture_cases: Cases, capture_check: Callable[..., Reply], location: str) -> None:
    label = f"edge case token in event {location}"
    body = _event_with_token(capture_cases, label, location, capture_cases.target.api_key)
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)


@pytest.mark.parametrize("field", ["api_key", "token"])
def test_token_on_batch_object_is_read(capture_cases: Cases, capture_check: Callable[..., Reply], field: str) -> None:
    label = f"edge case batch token in {field}"
    events = [_tokenless_event(capture_cases, f"{label} {i}") for i in range(2)]
    body = {field: capture_cases.target.api_key, "batch": events}
    capture_check(capture_cases.case(label, body, path="/batch/"), STATUS_CHECKS)


def test_batch_token_wins_over_event_tokens(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "edge case batch token wins over differing event tokens"
    events = [_event_with_token(capture_cases, f"{label} {i}", "token", f"phc_other_project_{i}") for i in range(2)]
    body = {"api_key": capture_cases.target.api_key, "batch": events}
    capture_check(capture_cases.case(label, body, path="/batch/"), STATUS_CHECKS)  # §3.1: event tokens are ignored


def test_array_token_from_some_events(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "edge case array token on some events only"
    events = [_event_with_token(capture_cases, f"{label} {i}", "properties.token", capture_cases.target.api_key)
              for i in range(3)]
    del events[1]["properties"]["token"]  # §3.1: events without a token are skipped when collecting
    capture_check(capture_cases.case(label, events, path="/e/"), STATUS_CHECKS)


def test_token_with_surrounding_whitespace(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "edge case token with surrounding whitespace"
    body = _event_with_token(capture_cases, label, "api_key", f" {capture_cases.target.api_key}\t")
    capture_check(capture_cases.case(label, body), STATUS_CHECKS)
