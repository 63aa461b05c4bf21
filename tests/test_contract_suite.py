"""The contract suite itself: it passes against the reference endpoint and it catches departures.

- The whole suite (``pytest --pyargs harness.contract`` in a subprocess, as a user runs it) passes against
  the embedded reference endpoint, every category present (its wall time recorded as a junitxml property).
- Eleven deliberate defects, each a test-only wrapper or setting of the reference server (never an option a
  user sees), are each reported by the right tests, in the right category, under its catalogued title:
  (a) a missing token accepted, (b) gzip only when hinted, (c) a partial batch accepted, (d) a 5xx on
  emoji, (e) a wrong success body, (f) events acknowledged but not stored; and five §12 rules no test
  failed on before the coverage map named them: (g) events checked before the token (rule 15), (h) no
  payload acknowledged (rule 3), (i) a form content type ignored (rule 4), (j) a retry refused (rule 29),
  (k) a nameless object refused on ``/engage`` (rule 9).
- The machinery: production hosts refused before anything is sent (plugin and CLI), tagging never changes
  a verdict, payloads of exact sizes, the gzip bomb, findings that never print a user's key.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from harness import validate
from harness.checks import Case, Failure, Title, Variant
from harness.cli import main
from harness.contract import CATEGORIES, bodies, findings, reporting
from harness.contract.cases import PAYLOAD_KINDS, Cases
from harness.contract.tagging import DISTINCT_ID_PREFIX, RUN_PROPERTY, tag
from harness.contract.target import Target
from harness.generate.choices import SeededChoices
from harness.generate.mutations import GENERATED_RULES, invalid
from harness.generate.traffic import Traffic
from harness.safety import TargetError, check_url
from harness.server import CaptureApp, Faults, Store
from harness.server.runner import running
from harness.spec.body import DEFAULT_TOKEN, events_of
from harness.spec.jsontext import strict_loads, to_json
from harness.spec.rules import EVENT_SIZE_LIMIT
from harness.spec.validation import parse_rejection
from harness.wire import FORM_CONTENT_TYPE, GZIP_MAGIC, V0_PATHS, WireRequest, decode_payload

# --- running the suite as a user does -----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    category: str | None
    status: str  # passed, failed, skipped, error
    title: str | None  # the failure's message: the stable title


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    output: str
    seconds: float
    outcomes: dict[str, Outcome]
    """By test id: ``module::test_name[params]``, e.g. ``test_rejection::test_rule_breaking_body_is_refused[...]``."""

    def failed(self) -> dict[str, Outcome]:
        return {name: o for name, o in self.outcomes.items() if o.status in ("failed", "error")}


def run_suite(folder: Path, *args: str) -> SuiteRun:
    """``python -m pytest --pyargs harness.contract ARGS`` in ``folder``, its junitxml parsed."""
    junit = folder / "contract.xml"
    command = [sys.executable, "-m", "pytest", "--pyargs", "harness.contract", "-p", "no:cacheprovider", "-q",
               f"--junitxml={junit}", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    outcomes = _junit_outcomes(junit) if junit.exists() else {}
    return SuiteRun(done.returncode, done.stdout + done.stderr, seconds, outcomes)


def _junit_outcomes(path: Path) -> dict[str, Outcome]:
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        status, title = "passed", None
        for tag_name in ("failure", "error", "skipped"):
            element = case.find(tag_name)
            if element is not None:
                status, title = {"failure": "failed"}.get(tag_name, tag_name), element.get("message")
        module = case.get("classname", "").rsplit(".", 1)[-1]
        outcomes[f"{module}::{case.get('name')}"] = Outcome(properties.get("capture_category"), status, title)
    return outcomes


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return run_suite(tmp_path_factory.mktemp("reference-run"))


@pytest.mark.e2e
def test_the_whole_suite_passes_against_the_reference_endpoint(reference_run: SuiteRun,
                                                              record_property: Callable[[str, object], None]) -> None:
    record_property("contract_suite_wall_s", round(reference_run.seconds, 2))
    assert reference_run.returncode == 0, reference_run.output[-3000:]
    assert reference_run.failed() == {}
    by_category: dict[str, int] = {}
    for outcome in reference_run.outcomes.values():
        assert outcome.status == "passed", outcome  # delivery too: the embedded endpoint has /_harness/
        assert outcome.category is not None
        by_category[outcome.category] = by_category.get(outcome.category, 0) + 1
    assert set(by_category) == set(CATEGORIES), by_category
    assert "capture-harness contract summary" in reference_run.output
    summary_row = re.search(r"^acceptance\s+\d+\s+0\s+0\s+0$", reference_run.output, re.MULTILINE)
    assert summary_row, reference_run.output[-2000:]


@pytest.mark.e2e
def test_a_failure_reads_as_title_detail_and_curl(tmp_path: Path) -> None:
    with running(cast(CaptureApp, MissingTokenAccepted(CaptureApp(Store(":memory:"))))) as server:
        run = run_suite(tmp_path, f"--capture-url={server.url}", "-k", "token-missing-/i/v0/e/")
    assert run.returncode == 1, run.output[-3000:]
    assert f"{Title.ACCEPTED_INVALID}\n  category: rejection\n" in run.output
    assert "(breaks token-missing): expected 401, got 200, body '{\"status\":\"Ok\"}'" in run.output
    assert re.search(r"reproduce: curl -sS -i -X POST -H 'Content-Type: application/json' --data-binary "
                     r"'\{.*\}' http://127\.0\.0\.1:\d+/i/v0/e/\n", run.output), run.output[-3000:]
    assert "FAILED test_rejection.py::test_rule_breaking_body_is_refused[token-missing-/i/v0/e/]" in run.output


@pytest.mark.e2e
def test_a_users_key_is_never_printed(tmp_path: Path) -> None:
    secret = "phc_my_very_secret_project_key_123"
    with running(wrong_success_body(Store(":memory:"))) as server:
        run = run_suite(tmp_path, f"--capture-url={server.url}", "-k", "test_success_body_is_conformant_json",
                        f"--capture-api-key={secret}")
    assert run.returncode == 1, run.output[-3000:]
    assert secret not in run.output
    assert "api key phc_…_123" in run.output
    commands = re.findall(r"reproduce: curl .* --data-binary @(\S+/body-[0-9a-f]{16}\.json) http://\S+", run.output)
    assert len(commands) == 6, run.output[-3000:]
    assert all(secret.encode() in Path(path).read_bytes() for path in commands)  # the command still works


# --- deliberate defects: test-only wrappers around the reference endpoint ----------------------------------

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class Defect:
    """ASGI middleware over the reference app: buffers a capture request's body and lets ``handle`` depart
    from the contract; every other request (``/_harness/``, lifespan) goes through untouched."""

    paths: frozenset[str] | tuple[str, ...] = V0_PATHS
    """The capture paths (and ``methods``) whose requests ``handle`` sees; a v1 defect names v1's."""
    methods: tuple[str, ...] = ("GET", "POST")

    def __init__(self, app: CaptureApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] not in self.methods:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await self.handle(scope, b"".join(chunks), send)

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        await self.forward(scope, body, send)

    async def forward(self, scope: Scope, body: bytes, send: Send) -> None:
        messages = iter([{"type": "http.request", "body": body, "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})
        await self.app(scope, receive, send)

    async def call(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        sent: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            sent.append(message)
        await self.forward(scope, body, keep)
        return sent[0]["status"], sent[0]["headers"], b"".join(m.get("body", b"") for m in sent[1:])

    @staticmethod
    async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                      content_type: bytes = b"application/json") -> None:
        kept = [(k, v) for k, v in headers or [] if k not in (b"content-length", b"content-type")]
        await send({"type": "http.response.start", "status": status,
                    "headers": [*kept, (b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def payload_text(scope: Scope, body: bytes) -> str | None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            return decode_payload(scope["path"], scope["query_string"].decode("latin-1"), headers, body)
        except Exception:
            return None


class MissingTokenAccepted(Defect):
    """(a) A body without a token is acknowledged (200) instead of refused with 401."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        status, headers, answer = await self.call(scope, body)
        if status == 401 and answer.startswith(b"event submitted without an api_key"):
            await self.respond(send, 200, b'{"status":"Ok"}', headers)
        else:
            await self.respond(send, status, answer, headers, dict(headers).get(b"content-type", b"text/plain"))


class GzipOnlyWhenHinted(Defect):
    """(b) gzip is inflated only with a hint; gzip found by its magic bytes alone is refused with 400."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        headers = dict(scope["headers"])
        hinted = b"compression=" in scope["query_string"] or headers.get(b"content-encoding") == b"gzip"
        if body.startswith(GZIP_MAGIC) and not hinted:
            await self.respond(send, 400, b"failed to decode request: invalid UTF8 in request payload",
                               content_type=b"text/plain")
        else:
            await self.forward(scope, body, send)


class PartialBatchAccepted(Defect):
    """(c) A batch holding an invalid event is acknowledged, and its valid events are stored."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        status, headers, answer = await self.call(scope, body)
        good = self.good_part(scope, body) if status == 400 else None
        if good is None:
            await self.respond(send, status, answer, headers, dict(headers).get(b"content-type", b"text/plain"))
            return
        rewritten = {**scope, "method": "POST", "query_string": b"",
                     "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(good)).encode())]}
        await self.forward(rewritten, good, send)

    def good_part(self, scope: Scope, body: bytes) -> bytes | None:
        text = self.payload_text(scope, body)
        try:
            document = json.loads(text) if text is not None else None
        except ValueError:
            return None
        events = document if isinstance(document, list) else \
            document.get("batch") if isinstance(document, dict) and isinstance(document.get("batch"), list) else None
        if not events or len(events) < 2:
            return None

        def wrap(kept: list[Any]) -> Any:
            return kept if isinstance(document, list) else {**document, "batch": kept}
        good = [event for event in events if validate(wrap([event])).accepted]
        return json.dumps(wrap(good)).encode() if 0 < len(good) < len(events) else None


class ServerErrorOnEmoji(Defect):
    """(d) Any emoji in the payload crashes the endpoint: 500."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        text = self.payload_text(scope, body) or ""
        if any(0x1F300 <= ord(char) <= 0x1FAFF for char in text):
            await self.respond(send, 500, b"internal error", content_type=b"text/plain")
        else:
            await self.forward(scope, body, send)


def wrong_success_body(store: Store) -> Any:
    """(e) Success answered ``{"status":"success"}``, which no capture revision sends."""
    app = CaptureApp(store)
    app.success_body = b'{"status":"success"}'
    return app


def acknowledged_not_stored(store: Store) -> Any:
    """(f) Every valid request answered 200, nothing stored (the reference's own drop fault at 100%)."""
    return CaptureApp(store, Faults(drop_rate=1.0))


# (g) to (k): rules no test failed on before the coverage map (harness.contract.coverage) named them


class TokenCheckedAfterEvents(Defect):
    """(g) Events are checked before the token: a body with an empty event name gets 400 even without a token
    (§12 rule 15: the 401 wins)."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        document = self.document(scope, body)
        if any(isinstance(event, dict) and event.get("event") == "" for event in events_of(document)):
            await self.respond(send, 400, b"event submitted with an empty event name", content_type=b"text/plain")
        else:
            await self.forward(scope, body, send)

    def document(self, scope: Scope, body: bytes) -> Any:
        text = self.payload_text(scope, body)
        try:
            return json.loads(text) if text is not None else None
        except ValueError:
            return None


class EmptyPayloadAccepted(Defect):
    """(h) A request with neither a body nor ``?data=`` is acknowledged (§12 rule 3: 400)."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        if not body and b"data=" not in scope["query_string"]:
            await self.respond(send, 200, b'{"status":"Ok"}')
        else:
            await self.forward(scope, body, send)


class FormTypeIgnored(Defect):
    """(i) A JSON body under the form content type is read as JSON anyway (§12 rule 4: 400)."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        headers = dict(scope["headers"])
        if headers.get(b"content-type") == FORM_CONTENT_TYPE.encode() and body[:1] in (b"{", b"["):
            headers[b"content-type"] = b"application/json"
            scope = {**scope, "headers": list(headers.items())}
        await self.forward(scope, body, send)


class ResentRefused(TokenCheckedAfterEvents):
    """(j) A request resending an acknowledged uuid is refused with 400 (§12 rule 29: a retry is acknowledged)."""

    def __init__(self, app: CaptureApp) -> None:
        super().__init__(app)
        self.seen: set[str] = set()

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        uuids = {event["uuid"] for event in events_of(self.document(scope, body))
                 if isinstance(event, dict) and isinstance(event.get("uuid"), str) and event["uuid"]}
        if uuids & self.seen:
            await self.respond(send, 400, b"duplicate uuid", content_type=b"text/plain")
            return
        status, headers, answer = await self.call(scope, body)
        if status == 200:
            self.seen |= uuids
        await self.respond(send, status, answer, headers, dict(headers).get(b"content-type", b"text/plain"))


class NamelessRefusedOnEngage(TokenCheckedAfterEvents):
    """(k) ``/engage`` refuses an object without ``event`` like every other path (§12 rule 9: it is valid there)."""

    async def handle(self, scope: Scope, body: bytes, send: Send) -> None:
        document = self.document(scope, body)
        if scope["path"].startswith("/engage") and isinstance(document, dict) \
                and "event" not in document and "batch" not in document:
            await self.respond(send, 400, b"failed to hydrate events from request: non-engage request missing "
                                          b"event name attribute", content_type=b"text/plain")
        else:
            await self.forward(scope, body, send)



@dataclass(frozen=True)
class Expectation:
    """How a defect must show: which categories run, which tests fail under which title, and which
    categories may report it at all (any other failure is a false alarm)."""

    build: Callable[[Store], Any]
    markers: str
    failing: dict[str, Title]
    """Test id (or a prefix of ids, ending in ``*``) -> the title each must fail with."""
    allowed: dict[str, frozenset[Title]]
    """Category -> the titles failures in it may have."""
    passing: tuple[str, ...] = ()


def _wrapped(defect: type[Defect]) -> Callable[[Store], Any]:
    return lambda store: defect(CaptureApp(store))


ACCEPTED = Title.ACCEPTED_INVALID
DEFECTS: dict[str, Expectation] = {
    "a-missing-token-accepted": Expectation(
        _wrapped(MissingTokenAccepted), "rejection or responses or properties",
        failing={f"test_rejection::test_rule_breaking_body_is_refused[token-missing-{p}]": ACCEPTED
                 for p in ("/i/v0/e/", "/batch/", "/e")}
        | {"test_responses::test_error_body_matches_the_variant[token-missing]": ACCEPTED},
        allowed={"rejection": frozenset({ACCEPTED}), "responses": frozenset({ACCEPTED}),
                 "properties": frozenset({ACCEPTED})},
        passing=("test_rejection::test_rule_breaking_body_is_refused[token-empty-/i/v0/e/]",
                 "test_responses::test_error_body_matches_the_variant[event-name-empty]")),
    "b-gzip-only-when-hinted": Expectation(
        _wrapped(GzipOnlyWhenHinted), "acceptance or limits",
        failing={f"test_acceptance::test_valid_payload_gets_the_contracts_status[{path}-gzip-magic-*":
                 Title.REJECTED_VALID for path in V0_PATHS},
        allowed={"acceptance": frozenset({Title.REJECTED_VALID})},
        passing=("test_acceptance::test_valid_payload_gets_the_contracts_status[/batch/-gzip-query-identify]",
                 "test_limits::test_gzip_bomb_is_refused_promptly[magic-bytes]")),
    "c-partial-batch-accepted": Expectation(
        _wrapped(PartialBatchAccepted), "rejection or delivery",
        failing={"test_delivery::test_request_with_one_invalid_event_stores_nothing[*": Title.PARTIAL_BATCH_STORED}
        | {f"test_rejection::test_rule_breaking_body_is_refused[event-not-object-{p}]": ACCEPTED
           for p in ("/i/v0/e/", "/batch/", "/e")},
        allowed={"rejection": frozenset({ACCEPTED}), "delivery": frozenset({Title.PARTIAL_BATCH_STORED})},
        passing=("test_delivery::test_acknowledged_events_are_stored_as_sent[batch]",)),
    "d-server-error-on-emoji": Expectation(
        _wrapped(ServerErrorOnEmoji), "edge_cases or delivery or properties",
        failing={"test_edge_cases::test_unicode_text_is_accepted[emoji-zwj]": Title.SERVER_ERROR,
                 "test_delivery::test_events_survive_every_encoding[*": Title.SERVER_ERROR},
        allowed={c: frozenset({Title.SERVER_ERROR}) for c in ("edge_cases", "delivery", "properties")},
        passing=("test_edge_cases::test_unicode_text_is_accepted[arabic]",
                 "test_edge_cases::test_unicode_text_is_accepted[cjk]")),
    "e-wrong-success-body": Expectation(
        wrong_success_body, "responses or acceptance",
        failing={"test_responses::test_success_body_is_conformant_json[*": Title.SUCCESS_BODY_NOT_CONFORMANT,
                 "test_responses::test_success_carries_cors_headers": Title.SUCCESS_BODY_NOT_CONFORMANT},
        allowed={"responses": frozenset({Title.SUCCESS_BODY_NOT_CONFORMANT})},
        passing=("test_responses::test_beacon_success_is_an_empty_204",
                 "test_acceptance::test_valid_payload_gets_the_contracts_status[/batch/-json-batch]")),
    "f-acknowledged-not-stored": Expectation(
        acknowledged_not_stored, "delivery or acceptance",
        failing={"test_delivery::test_acknowledged_events_are_stored_as_sent[*": Title.NOT_STORED,
                 "test_delivery::test_events_survive_every_encoding[*": Title.NOT_STORED,
                 "test_delivery::test_distinct_id_is_stored_as_capture_stringifies_it[*":
                 Title.NOT_STORED},
        allowed={"delivery": frozenset({Title.NOT_STORED})},
        passing=("test_delivery::test_request_with_one_invalid_event_stores_nothing[event-name-empty-in-an-array]",)),
    "g-token-checked-after-events": Expectation(
        _wrapped(TokenCheckedAfterEvents), "rejection",
        failing={"test_rejection::test_token_error_wins_over_event_errors[event-name-empty]": Title.UNEXPECTED_STATUS},
        allowed={"rejection": frozenset({Title.UNEXPECTED_STATUS})},
        passing=("test_rejection::test_rule_breaking_body_is_refused[event-name-empty-/batch/]",
                 "test_rejection::test_token_error_wins_over_event_errors[distinct-id-missing]")),
    "h-empty-payload-accepted": Expectation(
        _wrapped(EmptyPayloadAccepted), "rejection or acceptance",
        failing={"test_rejection::test_request_without_payload_is_400[*": ACCEPTED},
        allowed={"rejection": frozenset({ACCEPTED})},
        passing=("test_acceptance::test_valid_payload_gets_the_contracts_status[/batch-get-data-groupidentify]",
                 "test_rejection::test_rule_breaking_body_is_refused[batch-empty-/batch/]")),
    "i-form-type-ignored": Expectation(
        _wrapped(FormTypeIgnored), "rejection or acceptance",
        failing={"test_rejection::test_form_content_type_on_a_non_form_body_is_400": ACCEPTED},
        allowed={"rejection": frozenset({ACCEPTED})},
        passing=("test_acceptance::test_valid_payload_gets_the_contracts_status[/capture-form-alias]",
                 "test_acceptance::test_valid_payload_gets_the_contracts_status[/capture-form-lz64-groupidentify]")),
    "j-resent-refused": Expectation(
        _wrapped(ResentRefused), "acceptance",
        failing={"test_acceptance::test_a_resent_request_is_acknowledged_again[*": Title.REJECTED_VALID},
        allowed={"acceptance": frozenset({Title.REJECTED_VALID})},
        passing=("test_acceptance::test_valid_payload_gets_the_contracts_status[/i/v0/e/-json-groupidentify]",)),
    "k-nameless-refused-on-engage": Expectation(
        _wrapped(NamelessRefusedOnEngage), "acceptance",
        failing={"test_acceptance::test_nameless_object_is_accepted_on_engage[*": Title.REJECTED_VALID},
        allowed={"acceptance": frozenset({Title.REJECTED_VALID})},
        passing=("test_acceptance::test_valid_payload_gets_the_contracts_status[/engage/-json-alias]",)),
}


@pytest.mark.e2e
@pytest.mark.parametrize("defect", list(DEFECTS))
def test_the_suite_reports_each_defect_in_the_right_place(tmp_path: Path, defect: str) -> None:
    expectation = DEFECTS[defect]
    with running(expectation.build(Store(tmp_path / "events.sqlite3"))) as server:
        run = run_suite(tmp_path, f"--capture-url={server.url}", "-m", expectation.markers)
    assert_reported(run, expectation)


def assert_reported(run: SuiteRun, expectation: Expectation) -> None:
    """The run failed, each of the expectation's tests under its title, and nothing else failed."""
    assert run.returncode == 1, run.output[-3000:]
    failed = run.failed()
    for wanted, title in expectation.failing.items():
        matching = {name: o for name, o in run.outcomes.items()
                    if name == wanted or (wanted.endswith("*") and name.startswith(wanted[:-1]))}
        assert matching, f"no test {wanted!r} ran"
        for name, outcome in matching.items():
            assert (outcome.status, outcome.title) == ("failed", title), (name, outcome)
    for name, outcome in failed.items():  # no false alarm: only the defect's categories and titles
        assert outcome.category in expectation.allowed, (name, outcome)
        assert outcome.title in expectation.allowed[outcome.category], (name, outcome)
    for name in expectation.passing:
        assert run.outcomes[name].status == "passed", (name, run.outcomes[name])


# --- safety: production refused before anything is sent ---------------------------------------------------


@pytest.mark.parametrize("url", ["https://us.i.posthog.com", "https://eu.i.posthog.com/",
                                 "https://app.posthog.com:443", "http://POSTHOG.COM.", "https://us.i.posthog.com/ingest"])
def test_posthog_cloud_hosts_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetError, match="PostHog Cloud host.*--capture-allow-production"):
        check_url(url)
    assert check_url(url, allow_production=True) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://capture.staging.example.com/", "https://notposthog.com",
                                 "https://posthog.com.example.org"])
def test_other_hosts_are_allowed(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://example.com", "127.0.0.1:8000", "http://example.com/?x=1"])
def test_malformed_urls_are_refused_with_an_example(url: str) -> None:
    with pytest.raises(TargetError, match="--capture-url"):
        check_url(url)


@pytest.mark.e2e
def test_the_plugin_refuses_production_as_a_usage_error(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--capture-url=https://us.i.posthog.com")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "us.i.posthog.com is a PostHog Cloud host" in run.output
    assert run.outcomes == {}  # nothing collected, nothing run


@pytest.mark.e2e
def test_the_embedded_endpoint_cannot_stand_in_for_another_variant(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--capture-variant=error-body")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "needs --capture-url" in run.output


def test_contract_command_refuses_production_without_sending_anything(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def forbidden(*args: object, **kwargs: object) -> Any:
        raise AssertionError("the refused run sent something")
    monkeypatch.setattr(pytest, "main", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    assert main(["contract", "--url", "https://us.i.posthog.com", "--api-key", "phc_my_real_key_0123456789"]) == 2
    error = capsys.readouterr().err
    assert "capture-harness contract: us.i.posthog.com is a PostHog Cloud host" in error
    assert "--allow-production" in error
    assert "phc_my_real_key_0123456789" not in error


def test_contract_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["contract", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--url", "--api-key", "--variant", "--profile", "--allow-production", "-- PYTEST_ARGS"):
        assert option in text
    assert "pytest --pyargs harness.contract" in text


@pytest.mark.e2e
def test_contract_command_runs_the_suite_and_prints_the_summary(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "contract", "--", "-m", "responses", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "capture-harness contract summary" in done.stdout
    assert re.search(r"^responses\s+\d+\s+0\s+0\s+0$", done.stdout, re.MULTILINE), done.stdout[-2000:]
    assert "(embedded reference endpoint)" in done.stdout


def test_contract_command_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["contract", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 all checks passed, 1 a check failed, 2 usage errors" in text


@pytest.mark.e2e
def test_contract_command_maps_pytest_usage_errors_to_2(tmp_path: Path) -> None:
    """Like every other command; plain pytest keeps its own 4 (the tests above)."""
    done = subprocess.run([sys.executable, "-m", "harness.cli", "contract", "--", "--no-such-pytest-option"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    assert "--no-such-pytest-option" in done.stderr


@pytest.mark.e2e
def test_capture_inspection_yields_the_inspection_api(tmp_path: Path) -> None:
    script = tmp_path / "test_inspection.py"
    script.write_text(
        "def test_stored(capture_target, capture_cases, capture_check, capture_inspection):\n"
        "    assert capture_inspection.url == capture_target.url + '/_harness'\n"
        "    assert capture_inspection.client.base_url == capture_target.url\n"
        "    body = capture_cases.valid('capture', 'inspection fixture')\n"
        "    assert capture_inspection.events(body['uuid']) == []\n"
        "    capture_check(capture_cases.case('one event', body, path='/i/v0/e/'))\n"
        "    [record] = capture_inspection.events(body['uuid'])\n"
        "    assert record['event'] == body['event']\n"
        "    assert capture_inspection.stats()['accepted_events'] >= 1\n")
    done = subprocess.run([sys.executable, "-m", "pytest", str(script), "-p", "no:cacheprovider", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


# --- the machinery ------------------------------------------------------------------------------------------


def test_the_plugin_and_the_suite_never_import_locust() -> None:
    code = ("import sys, pkgutil, importlib, harness.contract.plugin, harness.contract\n"
            "for m in pkgutil.iter_modules(harness.contract.__path__):\n"
            "    importlib.import_module('harness.contract.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('locust', 'gevent')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr[-2000:]

RUN = "capture-harness-test-run"


@pytest.mark.parametrize("rule", GENERATED_RULES)
def test_tagging_never_changes_which_rule_a_body_breaks(rule: str) -> None:
    for seed in range(8):
        choices = SeededChoices(seed)
        body, _ = invalid(choices, Traffic(choices), rule)
        tagged = tag(body, RUN)
        assert validate(tagged).rules == {rule}, (seed, tagged)


@pytest.mark.parametrize("kind", PAYLOAD_KINDS)
def test_tagging_marks_every_event_and_keeps_valid_bodies_valid(kind: str) -> None:
    for seed in range(8):
        body = Traffic(SeededChoices(seed)).body(kind, 4)
        uuids = [event["uuid"] for event in events_of(body)]
        tag(body, RUN)
        assert validate(body).accepted
        for event, old_uuid in zip(events_of(body), uuids, strict=True):
            assert event["properties"][RUN_PROPERTY] == RUN
            where = event if "distinct_id" in event else event["properties"]
            assert where["distinct_id"].startswith(DISTINCT_ID_PREFIX)
            assert event["uuid"] != old_uuid and event["uuid"][14] == old_uuid[14]  # fresh, same version


def test_tagging_keeps_blank_and_odd_distinct_ids_and_uuid_forms() -> None:
    body = [{"event": "e", "distinct_id": "  ", "uuid": "{0190B2C4-4C1A-7C3E-8D55-1B1E2F3A4B5C}"},
            {"event": "e", "distinct_id": 42, "properties": {"distinct_id": ""}}]
    tag(body, RUN)
    assert body[0]["distinct_id"] == "  " and body[0]["uuid"].startswith("{")
    assert body[1]["distinct_id"] == 42 and body[1]["properties"] == {"distinct_id": "", RUN_PROPERTY: RUN}


def test_cases_seed_their_bodies_by_label() -> None:
    cases = Cases(Target("http://127.0.0.1:1", DEFAULT_TOKEN, Variant.MAIN, RUN))
    first, second = cases.valid("batch", "same label"), cases.valid("batch", "same label")
    strip = lambda body: [{k: v for k, v in e.items() if k != "uuid"} for e in events_of(body)]  # noqa: E731
    assert strip(first) == strip(second)
    assert strip(first) != strip(cases.valid("batch", "another label"))


def test_error_body_variant_changes_the_expected_token_statuses() -> None:
    cases = Cases(Target("http://127.0.0.1:1", DEFAULT_TOKEN, Variant.ERROR_BODY, RUN))
    assert cases.invalid("token-personal-api-key", "x")[1] == 403
    assert cases.invalid("token-inconsistent", "x")[1] == 400
    assert cases.invalid("token-missing", "x")[1] == 401


def test_lone_surrogates_go_out_as_json_escapes() -> None:
    cases = Cases(Target("http://127.0.0.1:1", DEFAULT_TOKEN, Variant.MAIN, RUN))
    body, _ = cases.invalid("string-lone-surrogate", "x")
    text = to_json(body)
    assert re.search(rb"\\ud8[0-9a-f]{2}|\\ude[0-9a-f]{2}", text), text[-200:]
    with pytest.raises(orjson.JSONDecodeError) as refused:
        strict_loads(text)
    assert parse_rejection(str(refused.value)).name == "string-lone-surrogate"


def test_raw_bodies_break_the_rule_they_are_named_after() -> None:
    body = {"event": "e", "distinct_id": "u", "api_key": DEFAULT_TOKEN, "properties": {}}
    for build, rule in ((bodies.not_json, "body-not-json"), (bodies.too_deep, "json-too-deep"),
                        (bodies.number_out_of_range, "number-out-of-range")):
        with pytest.raises(orjson.JSONDecodeError) as refused:
            strict_loads(build(body))
        assert parse_rejection(str(refused.value)).name == rule


@pytest.mark.parametrize("size", [2_000_000, 20 * 1024 * 1024, 20 * 1024 * 1024 + 1])
def test_batches_of_an_exact_size_have_events_under_the_kafka_limit(size: int) -> None:
    template = {"event": "e", "distinct_id": "u", "properties": {"a": "é"}}
    data = bodies.batch_of_size(lambda index: {**template, "properties": dict(template["properties"])},
                                DEFAULT_TOKEN, size)
    assert len(data) == size
    document = orjson.loads(data)
    assert all(len(to_json(event)) < EVENT_SIZE_LIMIT for event in document["batch"])
    assert validate(document, encoded=data).accepted == (size <= 20 * 1024 * 1024)


def test_the_gzip_bomb_is_one_valid_member_of_zeros() -> None:
    small = bodies.gzip_bomb(8 << 20)
    assert gzip.decompress(small) == bytes(8 << 20)
    started = time.perf_counter()
    bomb = bodies.gzip_bomb()
    assert time.perf_counter() - started < 5
    assert 900_000 < len(bomb) < 1_200_000 and bomb.startswith(GZIP_MAGIC)


def _case(body: bytes) -> Case:
    return Case("a case", WireRequest("POST", "/i/v0/e/", {"Content-Type": "application/json"}, body), 401)


def test_findings_keep_a_secret_key_out_of_the_command(tmp_path: Path) -> None:
    secret = "phc_this_is_my_real_project_key_42"
    target = Target("http://127.0.0.1:9", secret, Variant.MAIN, RUN)
    body = json.dumps({"event": "e", "api_key": secret}).encode()
    failure = findings.attach(Failure(Title.ACCEPTED_INVALID, f"detail mentioning {secret}"), _case(body), target,
                              tmp_path)
    assert secret not in failure.reproduce
    path = re.search(r"--data-binary @(\S+)", failure.reproduce)
    assert path is not None and Path(path.group(1)).read_bytes() == body
    report = reporting.longrepr(failure, ("test_x.py", 1, "test_x"), "rejection", target)
    assert secret not in str(report) and "phc_…y_42" in str(report)
    assert report.reprcrash.message == Title.ACCEPTED_INVALID


def test_findings_show_a_placeholder_key_inline(tmp_path: Path) -> None:
    target = Target("http://127.0.0.1:9", DEFAULT_TOKEN, Variant.MAIN, RUN, embedded=True)
    body = json.dumps({"event": "e", "api_key": DEFAULT_TOKEN}).encode()
    failure = findings.attach(Failure(Title.ACCEPTED_INVALID, "detail"), _case(body), target, tmp_path)
    assert f"--data-binary '{body.decode()}' http://127.0.0.1:9/i/v0/e/" in failure.reproduce
    assert "capture-harness serve --port 9" in failure.hint


@pytest.mark.e2e
def test_no_answer_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    script = tmp_path / "test_no_answer.py"
    script.write_text(
        "from harness.checks import Case\n"
        "from harness.wire import WireRequest\n"
        "def test_gone(capture_check):\n"
        "    capture_check(Case('gone', WireRequest('POST', '/i/v0/e/', {}, b'{}'), 200))\n")
    # the probe fails first: an unreachable target stops the session with a clear message
    done = subprocess.run([sys.executable, "-m", "pytest", str(script), "-p", "no:cacheprovider", "-q",
                           f"--capture-url=http://127.0.0.1:{port}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f"cannot reach http://127.0.0.1:{port}" in done.stdout + done.stderr
