"""The v1 contract suite (``--capture-protocol v1``) passes against the reference endpoint and catches departures.

- The v1 suite passes against the embedded reference endpoint, every v1 category present, and with every older
  revision selected at once (the embedded endpoint then answers by them too); the v0 suite leaves the v1 tests
  out (deselected, said in the summary), the v1 suite the v0 ones.
- Deliberate v1 defects, test-only ASGI wrappers around the reference (the v0 machinery of
  ``tests/test_contract_suite.py``), each fail the right tests, in the right category, under a catalogued title,
  and nothing else: the request id not echoed, results keyed by upper-case uuids, one result left out, an error
  body in text, ``Retry-After`` on every answer, ``Retry-After`` on a 429, the content type checked before the token, the body parsed
  before the token, a drop answered ``ok`` and stored, a dropped event stored anyway, acknowledged events not
  stored, a per-event fault refusing the whole request (v0's rule), and the newest reference judged as an older
  revision.
- The coverage map names a test for every v1 rule an endpoint decides, and only tests the suite collects.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Title
from harness.cli import main
from harness.contract import CATEGORIES
from harness.contract.coverage import matches
from harness.contract.v1_coverage import DECIDED_BY_THE_ENDPOINT
from harness.contract.v1_coverage import V1 as COVERAGE
from harness.server import CaptureApp, Faults, Store, v1_capture
from harness.server.runner import running
from harness.spec.rules import V1_RULES
from tests.test_contract_suite import Defect, Expectation, Scope, Send, SuiteRun, assert_reported, run_suite

V1_CATEGORIES = frozenset(CATEGORIES)
"""The v1 suite has tests in every category."""

V1 = "--capture-protocol=v1"
"""What makes a run of the suite judge v1."""


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return run_suite(tmp_path_factory.mktemp("v1-reference-run"), V1)


@pytest.mark.e2e
def test_the_v1_suite_passes_against_the_reference_endpoint(reference_run: SuiteRun) -> None:
    assert reference_run.returncode == 0, reference_run.output[-3000:]
    categories = {o.category for o in reference_run.outcomes.values()}
    assert categories == V1_CATEGORIES
    assert all(o.status == "passed" for o in reference_run.outcomes.values()), reference_run.failed()
    assert all(name.startswith("test_v1_") for name in reference_run.outcomes)
    assert "protocol v1 (POST /i/v1/analytics/events), v1 variants: none (newest)" in reference_run.output
    assert re.search(r"protocol v1: \d+ contract tests of the other protocol deselected", reference_run.output)
    assert re.search(r"^rejection\s+\d+\s+0\s+0\s+0$", reference_run.output, re.MULTILINE)


@pytest.mark.e2e
def test_the_v0_suite_deselects_the_v1_tests(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-m", "responses")
    assert run.returncode == 0, run.output[-3000:]
    assert run.outcomes and not any(name.startswith("test_v1_") for name in run.outcomes)
    assert re.search(r"protocol v0: \d+ contract tests of the other protocol deselected \(--capture-protocol v1",
                     run.output)


@pytest.mark.e2e
def test_every_older_revision_at_once_passes_against_the_reference_answering_by_them(tmp_path: Path) -> None:
    run = run_suite(tmp_path, V1, *(f"--capture-v1-variant={name}" for name in v1_capture.VARIANTS))
    assert run.returncode == 0, run.output[-3000:]
    assert f"v1 variants: {', '.join(v1_capture.VARIANTS)}" in run.output


@pytest.mark.e2e
@pytest.mark.parametrize("args", [["--capture-v1-variant=result-limited"], [V1, "--capture-v1-variant=no-such"]])
def test_v1_variants_need_protocol_v1_and_a_known_name(tmp_path: Path, args: list[str]) -> None:
    run = run_suite(tmp_path, *args)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR and run.outcomes == {}, run.output[-2000:]
    assert "--capture-v1-variant" in run.output


# --- deliberate v1 defects -------------------------------------------------------------------------------


class V1Defect(Defect):
    """:class:`tests.test_contract_suite.Defect` on the v1 route: ``reply`` may rewrite the reference's answer."""

    paths = tuple(v1_capture.PATHS)
    methods = ("POST",)

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        status, headers, answer = await self.call(scope, body)
        status, headers, answer = self.reply(scope, body, status, headers, answer)
        await self.respond(send, status, answer, headers, dict(headers).get(b"content-type", b"application/json"))

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return status, headers, answer

    async def refuse(self, scope: Scope, send: Send, status: int, tag: str) -> None:
        """A JSON error as the reference writes it, the request id echoed, the origin mirrored."""
        body = json.dumps({"error": tag, "error_description": tag, "error_uri": "https://posthog.com/docs/api"})
        echo, origin = _header(scope, b"posthog-request-id"), _header(scope, b"origin")
        headers = [(b"posthog-request-id", echo)] if echo is not None else []
        if origin is not None:
            headers += [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true")]
        await self.respond(send, status, body.encode(), headers)

    @staticmethod
    def results(answer: bytes) -> dict[str, Any]:
        results: dict[str, Any] = json.loads(answer)["results"]
        return results


class RequestIdNotEchoed(V1Defect):
    """(a) No ``PostHog-Request-Id`` on any answer."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return status, [h for h in headers if h[0] != b"posthog-request-id"], answer


class UpperCaseKeys(V1Defect):
    """(b) Results keyed by the upper-case uuid, not the canonical lower-case one."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if status != 200:
            return status, headers, answer
        results = {key.upper(): value for key, value in self.results(answer).items()}
        return status, headers, json.dumps({"results": results}).encode()


class OneResultMissing(V1Defect):
    """(c) The last event's result left out (the event is still stored)."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if status != 200:
            return status, headers, answer
        results = self.results(answer)
        results.pop(list(results)[-1])
        return status, headers, json.dumps({"results": results}).encode()


class TextErrorBody(V1Defect):
    """(d) Refusals answered with a text body (v0's habit), not the JSON error."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if not 400 <= status < 500 or not answer:
            return status, headers, answer
        text = f"error: {json.loads(answer)['error']}".encode()
        return status, [*[h for h in headers if h[0] != b"content-type"], (b"content-type", b"text/plain")], text


class RetryAfterEverywhere(V1Defect):
    """(e) ``Retry-After: 1`` on every answer: on 200s without a retry, on 400, 401, 413 and 415."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return status, [*[h for h in headers if h[0] != b"retry-after"], (b"retry-after", b"1")], answer


class RetryAfterOn429(V1Defect):
    """(f) ``Retry-After`` on a 429 (an older revision's habit; the newest puts it on 408 and 5xx only)."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return status, [*headers, (b"retry-after", b"60")] if status == 429 else headers, answer


def _header(scope: Scope, name: bytes) -> bytes | None:
    return dict(scope["headers"]).get(name)


class ContentTypeBeforeToken(V1Defect):
    """(g) The header order swapped: ``Content-Type`` checked before ``Authorization``'s scheme and token."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if content_type and content_type != b"application/json":
            await self.refuse(scope, send, 415, "unsupported_content_type")
        else:
            await super().handle(scope, body, send)


class BodyBeforeToken(V1Defect):
    """(h) The body parsed before the token is checked: a body that is not JSON gets 400 whatever the token."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        try:
            json.loads(body) if body and _header(scope, b"content-encoding") is None else None
        except ValueError:
            await self.refuse(scope, send, 400, "request_parsing_error")
            return
        await super().handle(scope, body, send)


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class NamelessAcceptedAndStored(V1Defect):
    """(i) An event with an empty name answered ``ok`` and stored (named ``unnamed``) instead of dropped."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        document = _document(body)
        batch = document.get("batch") if isinstance(document, dict) else None
        if isinstance(batch, list) and any(isinstance(e, dict) and e.get("event") == "" for e in batch):
            for event in batch:
                if isinstance(event, dict) and event.get("event") == "":
                    event["event"] = "unnamed"
            body = json.dumps(document).encode()
            scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != b"content-length"]
                     + [(b"content-length", str(len(body)).encode())]}
        await super().handle(scope, body, send)


class DroppedEventStored(V1Defect):
    """(j) Events answered ``drop`` are stored anyway: a repaired copy of each goes to the store."""

    def __init__(self, app: CaptureApp) -> None:
        super().__init__(app)
        self.dropped: list[dict[str, Any]] = []

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        status, headers, answer = await self.call(scope, body)
        document = _document(body)
        if status == 200 and isinstance(document, dict):
            drops = {k for k, v in self.results(answer).items() if v["result"] == "drop"}
            repaired = [{"event": "repaired", "uuid": e["uuid"], "distinct_id": "repaired",
                         "timestamp": "2026-11-26T09:08:21Z"} for e in document["batch"] if e["uuid"] in drops]
            if repaired:
                again = json.dumps({**document, "batch": repaired}).encode()
                await self.call({**scope, "headers": [h for h in scope["headers"] if h[0] != b"content-length"]
                                 + [(b"content-length", str(len(again)).encode())]}, again)
        await self.respond(send, status, answer, headers, dict(headers).get(b"content-type", b"application/json"))


class EventFaultRefusesTheRequest(V1Defect):
    """(l) v0's atomic rule on v1: a request holding an event to drop is refused whole with 400."""

    def reply(self, scope: Scope, body: bytes, status: int, headers: list[tuple[bytes, bytes]],
              answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if status == 200 and any(v["result"] == "drop" for v in self.results(answer).values()):
            body = {"error": "invalid_event", "error_description": "x", "error_uri": "https://posthog.com/docs/api"}
            return 400, headers, json.dumps(body).encode()
        return status, headers, answer


def _wrapped(defect: type[V1Defect]) -> Callable[[Store], Any]:
    return lambda store: defect(CaptureApp(store))


RESPONSES = "test_v1_responses::"
REJECTION = "test_v1_rejection::"
DELIVERY = "test_v1_delivery::"
ALL = " or ".join(CATEGORIES)
"""Every v1 category: each defect runs the whole v1 suite, so a false alarm anywhere shows."""

DEFECTS: dict[str, Expectation] = {
    "a-request-id-not-echoed": Expectation(
        _wrapped(RequestIdNotEchoed), ALL,
        failing={f"{RESPONSES}test_success_body_is_conformant[*": Title.V1_REQUEST_ID_NOT_ECHOED,
                 **{f"{RESPONSES}test_refusal_is_the_json_error_with_the_request_id[{row}]": Title.V1_REQUEST_ID_NOT_ECHOED
                    for row in ("no-authorization", "content-type-text-plain", "empty-body", "uuid-duplicate")},
                 f"{RESPONSES}test_an_odd_request_id_is_echoed_as_sent": Title.V1_REQUEST_ID_NOT_ECHOED},
        allowed={"responses": frozenset({Title.V1_REQUEST_ID_NOT_ECHOED})},
        passing=(f"{RESPONSES}test_cors_preflight_allows_post_and_options_only",)),
    "b-upper-case-keys": Expectation(
        _wrapped(UpperCaseKeys), ALL,
        failing={f"{RESPONSES}test_success_body_is_conformant[*": Title.V1_RESULT_KEYS_MISMATCH,
                 f"{RESPONSES}test_results_are_keyed_by_canonical_uuids[*": Title.V1_RESULT_KEYS_MISMATCH},
        allowed={"responses": frozenset({Title.V1_RESULT_KEYS_MISMATCH})},
        passing=(f"{DELIVERY}test_acknowledged_events_are_stored_as_sent[node-gzip]",)),
    "c-one-result-missing": Expectation(
        _wrapped(OneResultMissing), ALL,
        failing={f"{RESPONSES}test_mixed_outcome_has_exactly_one_result_per_event": Title.V1_RESULT_KEYS_MISMATCH,
                 f"{RESPONSES}test_results_are_keyed_by_canonical_uuids[*": Title.V1_RESULT_KEYS_MISMATCH},
        allowed={"responses": frozenset({Title.V1_RESULT_KEYS_MISMATCH})},
        passing=(f"{DELIVERY}test_acknowledged_events_are_stored_as_sent[python-plain]",)),
    "d-text-error-body": Expectation(
        _wrapped(TextErrorBody), ALL,
        failing={f"{RESPONSES}test_refusal_is_the_json_error_with_the_request_id[*": Title.V1_ERROR_BODY_NOT_CONFORMANT},
        allowed={"responses": frozenset({Title.V1_ERROR_BODY_NOT_CONFORMANT})},
        passing=(f"{REJECTION}test_request_level_fault_is_refused[uuid-duplicate]",)),
    "e-retry-after-everywhere": Expectation(
        _wrapped(RetryAfterEverywhere), ALL,
        failing={f"{RESPONSES}test_success_body_is_conformant[*": Title.V1_RETRY_AFTER_UNEXPECTED,
                 f"{RESPONSES}test_an_error_carries_retry_after_as_the_revision_says[429]":
                 Title.V1_RETRY_AFTER_UNEXPECTED,
                 f"{RESPONSES}test_refusal_is_the_json_error_with_the_request_id[no-authorization]":
                 Title.V1_RETRY_AFTER_UNEXPECTED},
        allowed={"responses": frozenset({Title.V1_RETRY_AFTER_UNEXPECTED})},
        passing=(f"{RESPONSES}test_a_retry_result_carries_retry_after",)),
    "f-retry-after-on-a-429": Expectation(
        _wrapped(RetryAfterOn429), ALL,
        failing={f"{RESPONSES}test_an_error_carries_retry_after_as_the_revision_says[429]":
                 Title.V1_RETRY_AFTER_UNEXPECTED},
        allowed={"responses": frozenset({Title.V1_RETRY_AFTER_UNEXPECTED})},
        passing=(f"{RESPONSES}test_an_error_carries_retry_after_as_the_revision_says[503]",)),
    "g-content-type-before-token": Expectation(
        _wrapped(ContentTypeBeforeToken), ALL,
        failing={f"{REJECTION}test_the_first_failing_step_decides[token-before-content-type]": Title.UNEXPECTED_STATUS,
                 f"{REJECTION}test_the_first_failing_step_decides[scheme-before-content-type]": Title.UNEXPECTED_STATUS},
        allowed={"rejection": frozenset({Title.UNEXPECTED_STATUS})},
        passing=(f"{REJECTION}test_the_first_failing_step_decides[content-type-before-encoding]",)),
    "h-body-before-token": Expectation(
        _wrapped(BodyBeforeToken), ALL,
        failing={f"{REJECTION}test_the_first_failing_step_decides[token-before-the-body]": Title.UNEXPECTED_STATUS},
        allowed={"rejection": frozenset({Title.UNEXPECTED_STATUS})},
        passing=(f"{REJECTION}test_request_level_fault_is_refused[body-not-json]",)),
    "i-nameless-answered-ok-and-stored": Expectation(
        _wrapped(NamelessAcceptedAndStored), ALL,
        failing={f"{REJECTION}test_event_fault_is_dropped_with_its_tag[event-name-empty]": Title.V1_DROP_NOT_ANSWERED,
                 f"{DELIVERY}test_dropped_event_is_not_stored[event-name-empty]": Title.V1_DROP_NOT_ANSWERED},
        allowed={"rejection": frozenset({Title.V1_DROP_NOT_ANSWERED, Title.V1_RESULT_DETAILS_DIFFER}),
                 **{c: frozenset({Title.V1_DROP_NOT_ANSWERED}) for c in ("delivery", "properties")}},
        passing=(f"{REJECTION}test_event_fault_is_dropped_with_its_tag[distinct-id-empty]",)),
    "j-dropped-event-stored": Expectation(
        _wrapped(DroppedEventStored), ALL,
        failing={f"{DELIVERY}test_dropped_event_is_not_stored[*": Title.V1_UNACKNOWLEDGED_STORED,
                 f"{DELIVERY}test_mixed_outcome_stores_the_acknowledged_events_only": Title.V1_UNACKNOWLEDGED_STORED},
        allowed={"delivery": frozenset({Title.V1_UNACKNOWLEDGED_STORED})},
        passing=(f"{DELIVERY}test_refused_request_stores_nothing[uuid-duplicate]",)),
    "k-acknowledged-not-stored": Expectation(
        lambda store: CaptureApp(store, Faults(drop_rate=1.0)), ALL,
        failing={f"{DELIVERY}test_acknowledged_events_are_stored_as_sent[*": Title.NOT_STORED,
                 f"{DELIVERY}test_mixed_outcome_stores_the_acknowledged_events_only": Title.NOT_STORED},
        allowed={"delivery": frozenset({Title.NOT_STORED})},
        passing=(f"{DELIVERY}test_refused_request_stores_nothing[created-at-now]",)),
    "l-event-fault-refuses-the-request": Expectation(
        _wrapped(EventFaultRefusesTheRequest), ALL,
        failing={f"{REJECTION}test_event_fault_is_dropped_with_its_tag[*": Title.REJECTED_VALID,
                 f"{REJECTION}test_mixed_outcome_is_a_200_with_a_result_per_event": Title.REJECTED_VALID},
        allowed={c: frozenset({Title.REJECTED_VALID}) for c in ("rejection", "delivery", "responses", "limits",
                                                                 "properties")},
        passing=("test_v1_acceptance::test_sdk_request_is_acknowledged_every_event_ok[python-plain-events]",)),
}


@pytest.mark.e2e
@pytest.mark.parametrize("defect", list(DEFECTS))
def test_the_v1_suite_reports_each_defect_in_the_right_place(tmp_path: Path, defect: str) -> None:
    expectation = DEFECTS[defect]
    with running(expectation.build(Store(tmp_path / "events.sqlite3"))) as server:
        run = run_suite(tmp_path, f"--capture-url={server.url}", V1, "-m", expectation.markers)
    assert_reported(run, expectation)


@pytest.mark.e2e
def test_the_newest_reference_judged_as_an_older_revision_fails_only_where_they_differ(tmp_path: Path) -> None:
    """``--capture-v1-variant illegal-distinct-id-drop`` against the newest endpoint: illegal ids are ``ok``, not
    ``drop`` (capture-v1.md §8 #5), and only the tests that send one fail."""
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"))) as server:
        run = run_suite(tmp_path, f"--capture-url={server.url}", V1, "--capture-v1-variant=illegal-distinct-id-drop")
    assert_reported(run, Expectation(
        lambda store: None, ALL,
        failing={"test_v1_edge_cases::test_illegal_distinct_id_is_accepted_without_person_processing[*":
                 Title.V1_DROP_NOT_ANSWERED},
        allowed={c: frozenset({Title.V1_DROP_NOT_ANSWERED}) for c in ("edge_cases", "rejection", "delivery",
                                                                       "properties")}))


# --- coverage ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "--pyargs", "harness.contract", V1,
                           "-p", "no:cacheprovider"], check=False, cwd=tmp_path_factory.mktemp("collect-v1"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return [line.rsplit("/", 1)[-1] for line in done.stdout.splitlines() if "::" in line]


def test_every_v1_rule_is_mapped_and_each_the_endpoint_decides_has_a_test() -> None:
    assert list(COVERAGE) == [rule.name for rule in V1_RULES]
    assert all(coverage.tests or coverage.reason for coverage in COVERAGE.values())
    assert [name for name in DECIDED_BY_THE_ENDPOINT if not COVERAGE[name].tests] == []


@pytest.mark.e2e
def test_every_mapped_v1_test_is_collected(collected: list[str]) -> None:
    assert all(node.startswith("test_v1_") for node in collected), collected[:5]
    unknown = sorted({f"{name}: {test}" for name, coverage in COVERAGE.items() for test in coverage.tests
                      if not any(matches(test, node) for node in collected)})
    assert not unknown, unknown


def test_contract_coverage_prints_the_v1_map(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def forbidden(*args: object, **kwargs: object) -> int:
        raise AssertionError("--coverage ran the suite")
    monkeypatch.setattr(pytest, "main", forbidden)
    assert main(["contract", "--coverage", "--protocol", "v1"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{rule.name}:\n" in out for rule in V1_RULES)
    assert "test_v1_rejection.py::test_request_level_fault_is_refused[no-authorization]" in out


@pytest.mark.parametrize("args", [["--protocol", "v1", "--variant", "no-such"], ["--variant", "result-limited"]])
def test_contract_refuses_a_variant_the_protocol_does_not_know(args: list[str], monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pytest, "main", lambda *a, **k: 0)
    assert main(["contract", *args]) == 2
    assert "--variant" in capsys.readouterr().err


@pytest.mark.e2e
def test_contract_command_passes_protocol_and_variants_through(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "contract", "--protocol", "v1", "--variant",
                           "result-limited", "--", "-m", "responses", "-q"],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "v1 variants: result-limited" in done.stdout
    assert re.search(r"^responses\s+\d+\s+0\s+0\s+0$", done.stdout, re.MULTILINE), done.stdout[-2000:]
