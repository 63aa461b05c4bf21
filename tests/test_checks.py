"""The reply checks one by one against canned answers, the title catalogue, and the ``curl`` of a finding.

Each check of :mod:`harness.checks` and :mod:`harness.contract.replies` is a table of rows: a case, a canned
:class:`Reply` and the :class:`Title` it must raise (None: the reply passes).  The whole-suite runs of
``test_contract_suite.py`` show the same checks end to end; these rows pin each branch on its own, so a
regression names the check instead of a category three layers away.  The catalogue tests keep every
title raised anywhere in it, because Locust and the contract summary both group findings by that text.
"""

from __future__ import annotations

import ast
import gzip
import re
import shlex
from pathlib import Path

import pytest

from harness.checks import (
    REPLY_CHECKS,
    Case,
    Check,
    Concern,
    Failure,
    Reply,
    Title,
    Variant,
    curl,
    expected_status,
    expected_status_answered,
    first_failure,
    no_server_error,
    success_body_conformant,
)
from harness.contract import findings
from harness.contract.replies import (
    ORIGIN,
    REQUESTED_HEADERS,
    error_body_of,
    origin_mirrored,
    plain_options_answered,
    preflight_answered,
    status_in,
)
from harness.contract.target import Target
from harness.spec.body import DEFAULT_TOKEN
from harness.wire import WireRequest, encode

ROOT = Path(__file__).resolve().parent.parent
JSON = {"content-type": "application/json"}
OK = b'{"status":"Ok"}'
CORS = {"access-control-allow-origin": ORIGIN, "access-control-allow-credentials": "true"}
PREFLIGHT = {**CORS, "access-control-allow-methods": "GET, POST, OPTIONS",
             "access-control-allow-headers": REQUESTED_HEADERS}
MAIN_ERRORS = error_body_of(Variant.MAIN)
JSON_ERRORS = error_body_of(Variant.ERROR_BODY)


def _case(expect: int = 200, rule: str | None = None) -> Case:
    return Case("a case", WireRequest("POST", "/i/v0/e/", {"Content-Type": "application/json"}, b"{}"), expect, rule)


def _raised(check: Check, case: Case, reply: Reply) -> Title | None:
    try:
        check(case, reply)
    except Failure as failure:
        assert failure.detail.startswith(case.name), failure.detail  # the detail names the request
        return failure.title
    return None


# --- the checks, row by row -------------------------------------------------------------------------------

Row = tuple[Check, Case, Reply, Title | None]

ROWS: dict[str, Row] = {
    # no_server_error: any 5xx, whatever was expected
    "5xx is a server error": (no_server_error, _case(), Reply(500, b"boom"), Title.SERVER_ERROR),
    "503 is a server error": (no_server_error, _case(503), Reply(503), Title.SERVER_ERROR),
    "4xx is no server error": (no_server_error, _case(), Reply(499), None),
    # expected_status_answered: which way the status departs
    "the expected status": (expected_status_answered, _case(401, "token-missing"), Reply(401), None),
    "2xx for a 4xx": (expected_status_answered, _case(401, "token-missing"), Reply(200, OK), Title.ACCEPTED_INVALID),
    "4xx for a 2xx": (expected_status_answered, _case(), Reply(400), Title.REJECTED_VALID),
    "5xx for a 2xx": (expected_status_answered, _case(), Reply(500), Title.REJECTED_VALID),
    "another 4xx": (expected_status_answered, _case(401, "token-missing"), Reply(400), Title.UNEXPECTED_STATUS),
    "another 2xx": (expected_status_answered, _case(), Reply(204), Title.UNEXPECTED_STATUS),
    # success_body_conformant: the body of a 200 or a 204, nothing else
    "200 Ok": (success_body_conformant, _case(), Reply(200, OK, JSON), None),
    "200 legacy 1": (success_body_conformant, _case(), Reply(200, b'{"status": 1}', JSON), None),
    "200 with a charset": (success_body_conformant, _case(),
                           Reply(200, OK, {"content-type": "application/json; charset=utf-8"}), None),
    "200 as text": (success_body_conformant, _case(), Reply(200, OK, {"content-type": "text/plain"}),
                    Title.SUCCESS_NOT_JSON),
    "200 without a type": (success_body_conformant, _case(), Reply(200, OK), Title.SUCCESS_NOT_JSON),
    "200 not JSON": (success_body_conformant, _case(), Reply(200, b"Ok", JSON), Title.SUCCESS_NOT_JSON),
    "200 another status": (success_body_conformant, _case(), Reply(200, b'{"status":"success"}', JSON),
                           Title.SUCCESS_BODY_NOT_CONFORMANT),
    "200 no status": (success_body_conformant, _case(), Reply(200, b"{}", JSON), Title.SUCCESS_BODY_NOT_CONFORMANT),
    "204 empty": (success_body_conformant, _case(204), Reply(204), None),
    "204 with a body": (success_body_conformant, _case(204), Reply(204, OK, JSON), Title.NO_CONTENT_WITH_BODY),
    "an error is not judged": (success_body_conformant, _case(400), Reply(400, b"", {"content-type": "text/plain"}),
                               None),
    # status_in: refusals the contract allows two ways
    "one of the statuses": (status_in((413, 400)), _case(413), Reply(400), None),
    "2xx for a refusal": (status_in((413, 400)), _case(413), Reply(200, OK), Title.ACCEPTED_INVALID),
    "another refusal": (status_in((413, 400)), _case(413), Reply(401), Title.UNEXPECTED_STATUS),
    "a named departure": (status_in((404,), Title.UNKNOWN_PATH_NOT_404), _case(404), Reply(200, OK),
                          Title.UNKNOWN_PATH_NOT_404),
    # origin_mirrored: on every answer, errors included
    "origin and credentials": (origin_mirrored, _case(), Reply(400, b"x", CORS), None),
    "credentials in any case": (origin_mirrored, _case(),
                                Reply(200, OK, {**CORS, "access-control-allow-credentials": "True"}), None),
    "no origin": (origin_mirrored, _case(), Reply(200, OK), Title.CORS_ORIGIN_NOT_MIRRORED),
    "another origin": (origin_mirrored, _case(),
                       Reply(200, OK, {**CORS, "access-control-allow-origin": "https://x.example"}),
                       Title.CORS_ORIGIN_NOT_MIRRORED),
    "a wildcard origin": (origin_mirrored, _case(), Reply(200, OK, {**CORS, "access-control-allow-origin": "*"}),
                          Title.CORS_CREDENTIALS_NOT_ALLOWED),
    "no credentials": (origin_mirrored, _case(), Reply(200, OK, {"access-control-allow-origin": ORIGIN}),
                       Title.CORS_CREDENTIALS_NOT_ALLOWED),
    # preflight_answered: 200, the origin, the methods, the requested headers
    "a full preflight": (preflight_answered, _case(), Reply(200, b"", PREFLIGHT), None),
    "wildcard methods and headers": (preflight_answered, _case(), Reply(200, b"", {
        **CORS, "access-control-allow-methods": "*", "access-control-allow-headers": "*"}), None),
    "headers in another case": (preflight_answered, _case(), Reply(200, b"", {
        **PREFLIGHT, "access-control-allow-headers": "Content-Type, X-Capture-Harness-Probe"}), None),
    "a preflight 204": (preflight_answered, _case(), Reply(204, b"", PREFLIGHT), Title.PREFLIGHT_NOT_200),
    "a preflight without origin": (preflight_answered, _case(), Reply(200, b"", {
        **PREFLIGHT, "access-control-allow-origin": ""}), Title.CORS_ORIGIN_NOT_MIRRORED),
    "no OPTIONS allowed": (preflight_answered, _case(), Reply(200, b"", {
        **PREFLIGHT, "access-control-allow-methods": "GET, POST"}), Title.PREFLIGHT_METHODS_MISSING),
    "a requested header missing": (preflight_answered, _case(), Reply(200, b"", {
        **PREFLIGHT, "access-control-allow-headers": "content-type"}), Title.PREFLIGHT_HEADERS_NOT_MIRRORED),
    # plain_options_answered: capture's handler, 200 {"status":"Ok"}
    "plain OPTIONS Ok": (plain_options_answered, _case(), Reply(200, OK, JSON), None),
    "plain OPTIONS legacy 1": (plain_options_answered, _case(), Reply(200, b'{"status":1}'), None),
    "plain OPTIONS 204": (plain_options_answered, _case(), Reply(204), Title.PLAIN_OPTIONS_NOT_200),
    "plain OPTIONS empty": (plain_options_answered, _case(), Reply(200), Title.PLAIN_OPTIONS_BODY_NOT_CONFORMANT),
    "plain OPTIONS text": (plain_options_answered, _case(), Reply(200, b"ok"), Title.PLAIN_OPTIONS_BODY_NOT_CONFORMANT),
    # error_body_of: capture's text (main), the JSON ErrorBody (error-body), never a success body
    "main: the error text": (MAIN_ERRORS, _case(401), Reply(401, b"event submitted without an api_key"), None),
    "main: an empty error": (MAIN_ERRORS, _case(400), Reply(400), Title.ERROR_WITHOUT_REASON),
    "main: a blank error": (MAIN_ERRORS, _case(400), Reply(400, b" \n"), Title.ERROR_WITHOUT_REASON),
    "main: a success body": (MAIN_ERRORS, _case(400), Reply(400, OK, JSON), Title.ERROR_WITH_SUCCESS_BODY),
    "main: a success is not judged": (MAIN_ERRORS, _case(), Reply(200), None),
    "error-body: the JSON body": (JSON_ERRORS, _case(403), Reply(403, (
        b'{"status":403,"code":"invalid_token","error":"API key is not valid"}'), JSON), None),
    "error-body: another status": (JSON_ERRORS, _case(403), Reply(403, (
        b'{"status":400,"code":"invalid_token","error":"API key is not valid"}'), JSON), Title.ERROR_BODY_NOT_JSON),
    "error-body: no code": (JSON_ERRORS, _case(403), Reply(403, b'{"status":403,"error":"x"}'),
                            Title.ERROR_BODY_NOT_JSON),
    "error-body: text": (JSON_ERRORS, _case(401), Reply(401, b"event submitted without an api_key"),
                         Title.ERROR_BODY_NOT_JSON),
    "error-body: an array": (JSON_ERRORS, _case(400), Reply(400, b"[1]"), Title.ERROR_BODY_NOT_JSON),
    "error-body: a success body": (JSON_ERRORS, _case(400), Reply(400, OK, JSON), Title.ERROR_WITH_SUCCESS_BODY),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_each_check_raises_its_title(row: str) -> None:
    check, case, reply, title = ROWS[row]
    assert _raised(check, case, reply) is title


def test_the_reply_checks_report_the_first_departure() -> None:
    # a 500 where 200 was expected is a server error first, not a rejected valid request
    failure = first_failure(_case(), Reply(500, b"boom"))
    assert failure is not None and failure.title is Title.SERVER_ERROR
    assert "answered 500, body 'boom'" in failure.detail
    failure = first_failure(_case(), Reply(200, b'{"status":"success"}', JSON), REPLY_CHECKS)
    assert failure is not None and failure.title is Title.SUCCESS_BODY_NOT_CONFORMANT
    assert first_failure(_case(), Reply(200, OK, JSON)) is None


def test_a_detail_quotes_the_rule_and_the_start_of_the_body() -> None:
    failure = first_failure(_case(401, "token-missing"), Reply(200, b"x" * 300, JSON))
    assert failure is not None and str(failure).startswith(f"{Title.ACCEPTED_INVALID}: a case (breaks token-missing)")
    assert failure.detail.endswith("'" + "x" * 200 + "'...")


@pytest.mark.parametrize(("rule", "variant", "status"), [
    ("token-missing", Variant.MAIN, 401), ("token-missing", Variant.ERROR_BODY, 401),
    ("token-empty", Variant.MAIN, 401), ("token-empty", Variant.ERROR_BODY, 403),
    ("token-inconsistent", Variant.ERROR_BODY, 400), ("body-too-large", Variant.ERROR_BODY, 413),
    ("event-name-empty", Variant.MAIN, 400),
])
def test_expected_status_follows_the_rule_and_the_variant(rule: str, variant: Variant, status: int) -> None:
    assert expected_status(rule, variant) == status


def test_expected_status_refuses_a_rule_without_a_status() -> None:
    with pytest.raises(ValueError, match="response-not-conformant"):
        expected_status("response-not-conformant")
    with pytest.raises(KeyError, match="unknown rule"):
        expected_status("no-such-rule")


# --- the catalogue -----------------------------------------------------------------------------------------


def test_every_title_is_unique_and_explained() -> None:
    assert len({title.name for title in Title}) == len({str(title) for title in Title}) == len(Title)
    for title in Title:
        assert isinstance(title.concern, Concern), title
        assert title.meaning.strip(), title
        assert title == title.strip() and "{" not in title, title  # a fixed text: nothing formatted into it
    assert {title.concern for title in Title} == set(Concern)  # no concern without a title


def test_a_title_is_its_text() -> None:
    # Locust groups by the text and junitxml writes it: the str, never the enum's repr
    assert str(Title.SERVER_ERROR) == "server error" and f"{Title.SERVER_ERROR} (503)" == "server error (503)"
    assert repr(Exception(str(Title.SERVER_ERROR))) == "Exception('server error')"


TITLE_PARAMETERS: dict[str, int | None] = {"Failure": 0, "status_in": 1, "none_stored": None}
"""The calls that take a title, and its position (None: only as ``title=``)."""


def _title_arguments(tree: ast.AST) -> list[tuple[int, ast.expr]]:
    """Every expression passed as a title to one of :data:`TITLE_PARAMETERS`."""
    found: list[tuple[int, ast.expr]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in TITLE_PARAMETERS:
            continue
        position = TITLE_PARAMETERS[name]
        if position is not None and len(node.args) > position:
            found.append((node.lineno, node.args[position]))
        found += [(node.lineno, keyword.value) for keyword in node.keywords if keyword.arg == "title"]
    return found


SOURCES = sorted([*ROOT.glob("harness/**/*.py"), *ROOT.glob("tests/*.py")])


def test_every_raised_title_is_in_the_catalogue() -> None:
    literals = []
    for path in SOURCES:
        for lineno, argument in _title_arguments(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{lineno}"
            if isinstance(argument, ast.Constant):
                literals.append(where)
            elif isinstance(argument, ast.Attribute) and isinstance(argument.value, ast.Name) \
                    and argument.value.id == "Title":
                assert argument.attr in Title.__members__, where
    assert literals == [], "titles written as strings instead of Title members"


# --- curl ----------------------------------------------------------------------------------------------------

BASE = "http://127.0.0.1:8000/"


def _request(body: bytes, target: str = "/i/v0/e/") -> WireRequest:
    return WireRequest("POST", target, {"Content-Type": "application/json"}, body)


def test_a_printable_body_goes_inline(tmp_path: Path) -> None:
    command = curl(_request('{"event":"é","n":1}'.encode()), BASE, tmp_path)
    assert command == ("curl -sS -i -X POST -H 'Content-Type: application/json' --data-binary "
                       "'{\"event\":\"é\",\"n\":1}' http://127.0.0.1:8000/i/v0/e/")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body", [gzip.compress(b'{"event":"e"}'), b'{"event":"a\nb"}', b"@/etc/passwd",
                                  b'{"pad":"' + b"x" * 4096 + b'"}', b"\xff\xfe"],
                         ids=["gzip", "newline", "at-sign", "over-4096-bytes", "not-utf-8"])
def test_any_other_body_goes_to_a_file_named_by_its_content(tmp_path: Path, body: bytes) -> None:
    command = curl(_request(body), BASE, tmp_path / "bodies")
    argv = shlex.split(command)
    data = argv[argv.index("--data-binary") + 1]
    assert re.fullmatch(r"@.*/bodies/body-[0-9a-f]{16}\.bin", data), command
    assert Path(data[1:]).read_bytes() == body
    assert curl(_request(body), BASE, tmp_path / "bodies") == command  # the same body, the same file


def test_without_a_folder_every_body_goes_inline() -> None:
    argv = shlex.split(curl(_request(b"\xff{}"), BASE))
    assert argv[argv.index("--data-binary") + 1] == "\ufffd{}"


def test_an_encoded_request_is_sent_as_built() -> None:
    request = encode(b'{"event":"e"}', "get-data", "/e/", query={"ver": "1.0"})
    argv = shlex.split(curl(request, BASE))
    assert "--data-binary" not in argv and argv[:5] == ["curl", "-sS", "-i", "-X", request.method]
    assert argv[-1] == "http://127.0.0.1:8000" + request.target
    headers = [argv[index + 1] for index, part in enumerate(argv) if part == "-H"]
    assert headers == [f"{name}: {value}" for name, value in request.headers.items()]


SECRET = "phc_this_is_my_real_project_key_42"


@pytest.mark.parametrize(("key", "encoding", "inline"), [(DEFAULT_TOKEN, "json", True), (SECRET, "json", False),
                                                       (SECRET, "gzip-header", False), (SECRET, "get-data", True)])
def test_a_users_key_never_shows_in_the_command(tmp_path: Path, key: str, encoding: str, inline: bool) -> None:
    payload = f'{{"event":"e","distinct_id":"u","api_key":"{key}"}}'.encode()
    target = Target(BASE.rstrip("/"), key, Variant.MAIN, "run")
    request = encode(payload, encoding, "/e/", query={"token": key})
    command = findings.reproduce(Case("a case", request, 200), target, tmp_path)
    argv = shlex.split(command)
    if inline:
        assert not any(part.startswith("@") for part in argv), command
    else:  # the body as sent, in a file: the command still works
        data = argv[argv.index("--data-binary") + 1]
        assert data.startswith("@") and Path(data[1:]).read_bytes() == request.body, command
    if key == SECRET:
        assert SECRET not in command and f"token={target.masked_key}" in command  # the query's token, masked
    else:
        assert f"token={DEFAULT_TOKEN}" in command  # the public placeholder is shown as sent
