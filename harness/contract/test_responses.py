"""Responses: what capture's answers look like, beyond their status.

A success is ``{"status":"Ok"}`` or the legacy ``{"status": 1}`` as ``application/json``, a beacon's an
empty 204 (§7.1); the other categories judge statuses only, so a wrong body is reported here.  CORS is
permissive, the ``Origin`` mirrored with credentials on every answer, errors included, and a preflight
answered 200 with the methods and the requested headers (§1.3); a plain OPTIONS gets
``200 {"status":"Ok"}``; an error body is capture's text (main rule) or the ``{status, code, error}``
JSON of the ``error-body`` variant (§7.2); unknown paths get 404 and other methods 405 (§1.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from harness.checks import REPLY_CHECKS, Case, Reply, Title, no_server_error
from harness.contract.cases import Cases
from harness.contract.replies import (
    ORIGIN,
    REQUESTED_HEADERS,
    error_body_of,
    origin_mirrored,
    plain_options_answered,
    preflight_answered,
    status_in,
)
from harness.wire import WireRequest

pytestmark = pytest.mark.responses

PATHS = ("/i/v0/e/", "/batch/", "/e/", "/capture", "/engage/", "/track")


def _with_origin(case: Case) -> Case:
    request = dataclasses.replace(case.request, headers={**case.request.headers, "Origin": ORIGIN})
    return dataclasses.replace(case, request=request)


@pytest.mark.parametrize("path", PATHS)
def test_success_body_is_conformant_json(capture_cases: Cases, capture_check: Callable[..., Reply], path: str) -> None:
    label = f"responses success body of a batch to {path}"
    capture_check(capture_cases.case(label, capture_cases.valid("batch", label), path=path))


def test_beacon_success_is_an_empty_204(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "responses beacon success body"
    case = capture_cases.case(label, capture_cases.valid("capture", label), expect=204, query={"beacon": "1"})
    capture_check(case)


@pytest.mark.parametrize("path", ["/i/v0/e/", "/batch/", "/e/"])
def test_cors_preflight_is_answered(capture_check: Callable[..., Reply], path: str) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": REQUESTED_HEADERS}
    case = Case(f"CORS preflight OPTIONS {path}", WireRequest("OPTIONS", path, headers, b""), 200)
    capture_check(case, checks=(no_server_error, preflight_answered))


@pytest.mark.parametrize("path", ["/i/v0/e/", "/batch/"])
def test_plain_options_is_answered_ok(capture_check: Callable[..., Reply], path: str) -> None:
    case = Case(f"plain OPTIONS {path}", WireRequest("OPTIONS", path, {}, b""), 200)
    capture_check(case, checks=(no_server_error, plain_options_answered))


def test_success_carries_cors_headers(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "responses CORS headers on a success"
    case = _with_origin(capture_cases.case(label, capture_cases.valid("capture", label)))
    capture_check(case, checks=(*REPLY_CHECKS, origin_mirrored))


@pytest.mark.parametrize("rule", ["event-name-empty", "token-missing", "token-personal-api-key"])
def test_error_carries_cors_headers(capture_cases: Cases, capture_check: Callable[..., Reply], rule: str) -> None:
    label = f"responses CORS headers on the refusal of {rule}"
    body, expect = capture_cases.invalid(rule, label)
    case = _with_origin(capture_cases.case(label, body, expect=expect, rule=rule))
    capture_check(case, checks=(*REPLY_CHECKS, origin_mirrored))


@pytest.mark.parametrize("rule", ["event-name-empty", "uuid-invalid", "token-missing", "token-personal-api-key"])
def test_error_body_matches_the_variant(capture_cases: Cases, capture_check: Callable[..., Reply], rule: str) -> None:
    label = f"responses error body of {rule}"
    body, expect = capture_cases.invalid(rule, label)
    case = capture_cases.case(label, body, expect=expect, rule=rule)
    capture_check(case, checks=(*REPLY_CHECKS, error_body_of(capture_cases.target.variant)))


def test_unknown_path_is_404(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "responses POST to an unknown path"
    case = capture_cases.case(label, capture_cases.valid("capture", label), path="/capture-harness-no-such-path/",
                              expect=404)
    capture_check(case, checks=(no_server_error, status_in((404,), Title.UNKNOWN_PATH_NOT_404)))


def test_unsupported_method_is_405(capture_cases: Cases, capture_check: Callable[..., Reply]) -> None:
    label = "responses PUT to /i/v0/e/"
    case = capture_cases.case(label, capture_cases.valid("capture", label), expect=405)
    case = dataclasses.replace(case, request=dataclasses.replace(case.request, method="PUT"))
    capture_check(case, checks=(no_server_error, status_in((405,), Title.METHOD_NOT_405)))
