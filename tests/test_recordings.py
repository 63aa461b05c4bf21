"""Session recordings on ``/s/`` (docs/recordings-contract.md): the server's pipeline rule by rule, storage and
inspection per session, a real posthog-js gzip body, arbitrary bytes never a 5xx, the validator and its CLI,
the generator, the catalogue and schema, and the shipped contract module against the reference and a defect."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.contract import test_recordings as contract_module
from harness.contract.coverage import RECORDINGS, matches
from harness.generate.recordings import lines, snapshot_bodies
from harness.server import CaptureApp, Store
from harness.server.recordings import handle
from harness.server.runner import Running, running
from harness.spec import recordings, schemas
from harness.spec.jsontext import to_json
from harness.spec.rules import ALL_RULES, RECORDING_RULES, rule
from harness.wire import lzstring
from tests.support import request
from tests.test_schemas import resolve, unruled_keywords

TOKEN = "phc_recordingstest"
SESSION = "0198f0c2-1111-7000-8000-aaaaaaaaaaaa"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

Body = list[dict[str, Any]]


def body(seed: int = 0, *, session: str = SESSION) -> Body:
    """Two generated ``$snapshot`` events of one session (the generator's first two bodies, joined)."""
    events = [e for part in itertools.islice(snapshot_bodies(seed, TOKEN), 2) for e in part]
    for event in events:
        event["properties"]["$session_id"] = session
    return events


def changed(change: Callable[[Body], Any]) -> bytes:
    events = body()
    change(events)
    return to_json(events)


def props(index: int, **values: Any) -> Callable[[Body], Any]:
    """Set (or, for the value ``...``, remove) properties of event ``index``."""
    def change(events: Body) -> None:
        for key, value in values.items():
            if value is ...:
                events[index]["properties"].pop(key)
            else:
                events[index]["properties"][key] = value
    return change


# --- the pipeline: every rule, one row each (status and deciding rule) ------------------------------------

PADDED = to_json([{**body()[0], "properties": {**body()[0]["properties"], "$snapshot_data": [{"pad": "x" * 1_000_000}]}}])
QUOTES = to_json([{**body()[0], "properties": {**body()[0]["properties"], "$snapshot_data": ["q"] * 230_000}}])

ROWS: dict[str, tuple[bytes, dict[str, str], str, int, str | None]] = {
    # name: (body, headers, query, status, reason)
    "valid": (to_json(body()), {}, "", 200, None),
    "valid-single-object": (to_json(body()[0]), {}, "", 200, None),
    "session-id-missing": (changed(props(0, **{"$session_id": ...})), {}, "", 400, "recording-session-id-missing"),
    "session-id-missing-later-event-ignored": (changed(props(1, **{"$session_id": ...})), {}, "", 200, None),
    "session-id-null": (changed(props(0, **{"$session_id": None})), {}, "", 400, "recording-session-id-invalid"),
    "session-id-number": (changed(props(0, **{"$session_id": 7})), {}, "", 400, "recording-session-id-invalid"),
    "session-id-71-chars": (changed(props(0, **{"$session_id": "a" * 71})), {}, "", 400,
                            "recording-session-id-invalid"),
    "session-id-70-chars": (changed(props(0, **{"$session_id": "a" * 70})), {}, "", 200, None),
    "session-id-underscore": (changed(props(0, **{"$session_id": "a_b"})), {}, "", 400, "recording-session-id-invalid"),
    "distinct-id-missing": (changed(props(0, distinct_id=...)), {}, "", 400, "recording-distinct-id-missing"),
    "distinct-id-empty": (changed(props(0, distinct_id="")), {}, "", 400, "recording-distinct-id-missing"),
    "distinct-id-blank-accepted": (changed(props(0, distinct_id=" ")), {}, "", 200, None),
    "distinct-id-top-level": (changed(lambda e: (e[0].update(distinct_id="u"), e[0]["properties"].pop("distinct_id"))),
                              {}, "", 200, None),
    "snapshot-data-missing-later": (changed(props(1, **{"$snapshot_data": ...})), {}, "", 400,
                                    "recording-snapshot-data-missing"),
    "snapshot-data-string": (changed(props(0, **{"$snapshot_data": "x"})), {}, "", 400,
                             "recording-snapshot-data-missing"),
    "snapshot-data-object": (changed(props(0, **{"$snapshot_data": {"type": 4}})), {}, "", 200, None),
    "cookieless-not-boolean": (changed(props(0, **{"$cookieless_mode": 1})), {}, "", 400,
                               "cookieless-mode-not-boolean"),
    "token-missing-first": (changed(props(0, token=...)), {}, "", 401, "token-missing"),
    "token-later-differs": (changed(props(1, token="phx_ignored")), {}, "", 200, None),
    "token-personal": (changed(props(0, token="phx_key")), {}, "", 401, "token-personal-api-key"),
    "token-too-long": (changed(props(0, token="p" * 65)), {}, "", 401, "token-too-long"),
    "empty-array": (b"[]", {}, "", 400, "batch-empty"),
    "element-not-object": (changed(lambda e: e.append(3)), {}, "", 400, "event-not-object"),  # type: ignore[arg-type]
    "event-name-missing": (changed(lambda e: e[0].pop("event")), {}, "", 400, "event-name-missing"),
    "body-a-string": (b'"rrweb"', {}, "", 400, "body-not-json-container"),
    "truncated-json": (to_json(body())[:-1], {}, "", 400, "body-not-json"),
    "no-payload": (b"", {}, "", 400, "decode: MissingPayloadError"),
    "payload-too-large": (PADDED, {}, "", 413, "recording-payload-too-large"),
    "payload-too-large-gzip": (gzip.compress(PADDED), {}, "compression=gzip-js", 413, "recording-payload-too-large"),
    "message-too-large": (QUOTES, {}, "", 413, "recording-message-too-large"),
    "gzip-hint-on-plain-bytes": (to_json(body()), {}, "compression=gzip-js", 400, "decode: MalformedPayloadError"),
}


@pytest.mark.parametrize("name", ROWS)
def test_the_pipeline_answers_each_rule(name: str) -> None:
    payload, headers, query, status, reason = ROWS[name]
    answer = handle(query, headers, payload, "10.0.0.1", NOW)
    assert (answer.status, answer.reason) == (status, reason)
    assert (answer.row is not None) == (status == 200)
    if reason in ("body-not-json", "recording-payload-too-large"):  # the parser's or the decoder's own detail
        assert answer.text.split(": ")[0] == rule(reason).capture_text.split(": ")[0]
    elif reason in {r.name for r in ALL_RULES}:
        assert answer.text == rule(reason).capture_text


def test_every_recordings_rejection_has_a_row_and_a_contract_case() -> None:
    decided = {reason for *_, reason in ROWS.values()}
    assert set(recordings.REJECTIONS) <= decided
    cased = {name for name, _ in contract_module.BREAKERS.values()}
    assert set(recordings.REJECTIONS) - cased == {"recording-payload-too-large", "recording-message-too-large"}


@pytest.mark.parametrize("encoding", ["gzip-magic", "base64", "form-lz64", "get-data"])
def test_the_pipeline_decodes_every_v0_encoding(encoding: str) -> None:
    text = to_json(body())
    cases = {
        "gzip-magic": ("", {}, gzip.compress(text)),
        "base64": ("", {}, base64.b64encode(text)),
        "form-lz64": ("", {"content-type": "application/x-www-form-urlencoded"},
                      b"data=" + lzstring.compress_to_base64(text.decode()).replace("+", "%2B").encode()
                      + b"&compression=lz64"),
        "get-data": ("data=" + base64.b64encode(text).decode().replace("+", "%2B"), {}, b""),
    }
    query, headers, payload = cases[encoding]
    assert handle(query, headers, payload, "10.0.0.1", NOW).status == 200


def test_the_stored_row_is_capture_s_snapshot_items_message() -> None:
    events = body()
    events[0]["properties"].pop("$lib")
    answer = handle("_=1767225600000", {"user-agent": "posthog-js/1.449.2"}, to_json(events), "10.0.0.1", NOW)
    assert answer.row is not None
    uuid, session, window, who, token, ip, _, items, first_ms, last_ms, data = answer.row
    message = orjson.loads(data)
    assert message["event"] == "$snapshot_items"
    assert message["properties"]["$lib"] == "posthog-js"  # the User-Agent's product, $lib being absent
    assert message["properties"]["$snapshot_items"] == [i for e in events for i in e["properties"]["$snapshot_data"]]
    assert (uuid, session, orjson.loads(window), who, token, ip) == (
        events[0]["uuid"], SESSION, events[0]["properties"]["$window_id"], events[0]["properties"]["distinct_id"],
        TOKEN, "10.0.0.1")
    times = [i["timestamp"] for i in message["properties"]["$snapshot_items"]]
    assert (items, first_ms, last_ms) == (len(times), min(times), max(times))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["event", "properties", "$session_id", "$snapshot_data", "token",
                                      "distinct_id", "uuid", "$window_id", "x"]), inner, max_size=5),
                 max_leaves=20).map(lambda value: to_json(value)),
), query=st.sampled_from(["", "compression=gzip-js", "compression=lz64", "data=e30="]))
def test_arbitrary_bodies_never_get_a_5xx(payload: bytes, query: str) -> None:
    assert handle(query, {}, payload, "10.0.0.1", NOW).status < 500


# --- over HTTP: routes, storage and inspection per session -------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"))) as started:
        yield started


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path_factory.mktemp("fuzz") / "events.sqlite3"))) as started:
        yield started


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST"]), path=st.sampled_from(["/s", "/s/"]),
       payload=st.binary(max_size=200) | st.sampled_from([gzip.compress(b"[{}]"), b"data=%%%", b"[" * 200]),
       headers=st.dictionaries(st.sampled_from(["Content-Type", "Content-Encoding", "Origin"]),
                               st.sampled_from(["application/x-www-form-urlencoded", "gzip", "lz64", "text/plain",
                                                "https://a.example", "br"]), max_size=3),
       query=st.sampled_from(["", "?compression=gzip-js", "?compression=lz64", "?data=W10%3D", "?_=x&ver=1"]))
def test_arbitrary_requests_to_s_never_get_a_5xx(shared_server: Running, method: str, path: str, payload: bytes,
                                                 headers: dict[str, str], query: str) -> None:
    status, _, _ = request(shared_server.url, method, path + query, payload if method == "POST" else None, headers)
    assert 200 <= status < 500


def get_json(server: Running, target: str) -> tuple[int, Any]:
    status, _, answer = request(server.url, "GET", target)
    return status, json.loads(answer)


POSTHOG_JS_QUERY = "compression=gzip-js&ip=0&_=1767225600000&ver=1.449.2"


def post(server: Running, events: Any, path: str = "/s/") -> tuple[int, dict[str, str], bytes]:
    """As posthog-js 1.449 sends recordings: gzip, ``text/plain``, ``?compression=gzip-js&ip=0&_=..&ver=..``."""
    return request(server.url, "POST", f"{path}?{POSTHOG_JS_QUERY}", gzip.compress(to_json(events)),
                   {"Content-Type": "text/plain", "Origin": "https://shop.example"})


def test_a_posthog_js_gzip_body_is_stored_per_session(server: Running) -> None:
    first, other = body(1), body(2, session="second-session")
    assert post(server, first)[::2] == (200, b'{"status":"Ok"}')
    assert post(server, first[:1], "/s")[0] == 200
    assert post(server, other)[0] == 200
    status, listed = get_json(server, "/_harness/recordings")
    assert status == 200
    sessions = {s["session_id"]: s for s in listed["sessions"]}
    assert list(sessions) == [SESSION, "second-session"]  # in the order they began
    items = [i for e in first for i in e["properties"]["$snapshot_data"]]
    extra = first[0]["properties"]["$snapshot_data"]
    assert sessions[SESSION] == {
        "session_id": SESSION, "distinct_id": first[0]["properties"]["distinct_id"], "token": TOKEN,
        "snapshots": len(items) + len(extra), "first_ms": min(i["timestamp"] for i in items),
        "last_ms": max(i["timestamp"] for i in items), "window_ids": [first[0]["properties"]["$window_id"]]}
    status, detail = get_json(server, f"/_harness/recordings/{SESSION}")
    assert status == 200 and [row["items"] for row in detail["snapshots"]] == [len(items), len(extra)]
    assert orjson.loads(detail["snapshots"][0]["data"])["properties"]["$snapshot_items"] == items


def test_inspection_filters_pages_and_resets(server: Running) -> None:
    for seed, session in enumerate(("s-1", "s-2", "s-3")):
        assert post(server, body(seed, session=session))[0] == 200
    assert [s["session_id"] for s in get_json(server, "/_harness/recordings?session_id=s-2")[1]["sessions"]] == ["s-2"]
    who = body(2)[0]["properties"]["distinct_id"]
    assert [s["session_id"] for s in get_json(server, f"/_harness/recordings?distinct_id={who}")[1]["sessions"]] \
        == ["s-3"]
    page = get_json(server, "/_harness/recordings?limit=2")[1]
    rest = get_json(server, f"/_harness/recordings?limit=2&after={page['next_after']}")[1]
    assert [s["session_id"] for s in page["sessions"] + rest["sessions"]] == ["s-1", "s-2", "s-3"]
    assert rest["next_after"] is None
    assert post(server, body(0, session="s-1"))[0] == 200
    first = get_json(server, "/_harness/recordings/s-1?limit=1")[1]
    second = get_json(server, f"/_harness/recordings/s-1?limit=1&after={first['next_after']}")[1]
    assert len(first["snapshots"]) == len(second["snapshots"]) == 1
    assert get_json(server, "/_harness/recordings?colour=red")[0] == 400
    assert get_json(server, "/_harness/recordings?limit=0")[0] == 400
    assert get_json(server, "/_harness/recordings/nope")[0] == 404
    assert get_json(server, "/_harness/stats")[1]["stored_recordings"] == 4
    assert request(server.url, "POST", "/_harness/reset")[0] == 200
    assert get_json(server, "/_harness/recordings")[1]["sessions"] == []


def test_answers_carry_cors_and_methods_are_capture_s(server: Running) -> None:
    events = body()
    events[0]["properties"].pop("$session_id")
    status, headers, text = post(server, events)
    assert (status, text) == (400, b"replay event submitted without session id")
    assert headers["access-control-allow-origin"] == "https://shop.example"
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    status, headers, _ = request(server.url, "OPTIONS", "/s/", None, preflight)
    assert status == 200 and "POST" in headers["access-control-allow-methods"]
    assert request(server.url, "OPTIONS", "/s")[::2] == (200, b'{"status":"Ok"}')
    assert request(server.url, "PUT", "/s/", b"[]")[0] == 405
    assert get_json(server, "/_harness/recordings")[1]["sessions"] == []
    stats = get_json(server, "/_harness/stats")[1]
    assert stats["requests"]["/s/"] == {"200": 1, "400": 1, "405": 1}
    assert stats["rejections"]["recordings: recording-session-id-missing"] == 1


# --- the validator, the catalogue, the schema, the generator ------------------------------------------------


JUDGED = [name for name, (_, _, query, _, reason) in ROWS.items()
          if not query and reason not in ("body-not-json", "decode: MissingPayloadError")]
"""The rows whose payload is plain JSON text: what the validator judges (parse errors are corpus_check's)."""


@pytest.mark.parametrize("name", JUDGED)
def test_the_validator_agrees_with_the_pipeline(name: str) -> None:
    payload, _, _, status, reason = ROWS[name]
    report = recordings.judge(orjson.loads(payload), encoded=payload)
    assert report.status == status
    assert [f.rule for f in report.rejections[:1]] == ([reason] if reason else [])


def test_the_validator_names_the_json_path() -> None:
    events = body()
    events[1]["properties"].pop("$snapshot_data")
    assert [(f.rule, f.path) for f in recordings.judge(events).rejections] == [
        ("recording-snapshot-data-missing", "$[1].properties")]
    events = body()
    events[1]["properties"]["$session_id"] = "another"
    report = recordings.judge(events)
    assert report.accepted and [(f.rule, f.path) for f in report.warnings] == [
        ("recording-sessions-merged", "$[1].properties['$session_id']")]


def test_validate_cli_judges_recordings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = body()
    events[0]["properties"]["$session_id"] = "not valid"
    path = tmp_path / "recordings.jsonl"
    path.write_bytes(to_json(body()) + b"\n" + to_json(events) + b"\n")
    assert main(["validate", str(path)]) == 1  # detected: every event is a $snapshot
    out = capsys.readouterr().out
    assert f"{path}:2: rejected (400) $[0].properties['$session_id'] [recording-session-id-invalid]" in out
    assert main(["validate", "--kind", "recording", "--format", "json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["accepted"], report["rejected"], report["results"][0]["kind"]) == (1, 1, "recording")


def test_generate_cli_writes_seeded_accepted_bodies(tmp_path: Path) -> None:
    out = tmp_path / "recordings.jsonl"
    assert main(["generate", "--kind", "recording", "--count", "40", "--seed", "7", "--out", str(out)]) == 0
    written = out.read_bytes()
    assert written == b"".join(line.data + b"\n" for line in lines(40, 7))
    bodies = [json.loads(line) for line in written.splitlines()]
    assert sum(len(b) for b in bodies) == 40
    assert all(recordings.judge(b).accepted for b in bodies)
    assert main(["generate", "--kind", "recording", "--invalid", "--out", str(out)]) == 2
    assert main(["generate", "--kind", "recording", "--sdk", "node", "--out", str(out)]) == 2  # a v1 option


def test_the_coverage_map_names_collected_tests_for_every_recordings_rule(collected: list[str]) -> None:
    assert list(RECORDINGS) == [r.name for r in RECORDING_RULES]
    for name, coverage in RECORDINGS.items():
        assert coverage.tests, name
        for test in coverage.tests:
            assert any(matches(test, node) for node in collected), (name, test)


def test_the_rules_command_lists_the_recordings_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "json"]) == 0
    listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    for recording_rule in RECORDING_RULES:
        assert listed[recording_rule.name]["section"].startswith("recordings-contract.md §")


def test_every_failing_keyword_of_the_schema_has_an_x_rule() -> None:
    target = schemas.uri("recording.json")
    base, node = resolve(target, target)
    assert list(unruled_keywords(base, node, target, set())) == []


# --- the shipped contract module, against the reference and against defects ----------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class SessionIdNotChecked:
    """The reference endpoint, but ``/s/`` acknowledges a body whose first event has no ``$session_id``."""

    def __init__(self, app: CaptureApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ("/s", "/s/") and scope["method"] == "POST":
            message = await receive()
            text = message.get("body", b"")
            if not message.get("more_body") and _first_event_has_no_session(text):
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"status":"Ok"}'})
                return
            replay = iter([message])
            await self.app(scope, lambda: _next(replay, receive), send)
            return
        await self.app(scope, receive, send)


def _first_event_has_no_session(text: bytes) -> bool:
    try:
        events = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    first = events[0] if isinstance(events, list) and events else None
    return isinstance(first, dict) and "$session_id" not in first.get("properties", {})


async def _next(replay: Iterator[dict[str, Any]], receive: Receive) -> dict[str, Any]:
    for message in replay:
        return message
    return await receive()


class NoRecordings(SessionIdNotChecked):
    """An endpoint without recordings: ``/s/`` answers 404, as capture in events mode does."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ("/s", "/s/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def run_module(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "--pyargs", "harness.contract", "-p", "no:cacheprovider", "-q", "-rfs",
               "-k", "test_recordings", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.e2e
def test_the_contract_module_passes_against_the_reference(tmp_path: Path) -> None:
    done = run_module(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]


@pytest.mark.e2e
def test_the_contract_module_catches_an_unchecked_session_id(tmp_path: Path) -> None:
    with running(cast(CaptureApp, SessionIdNotChecked(CaptureApp(Store(":memory:"))))) as server:
        done = run_module(tmp_path, f"--capture-url={server.url}")
    assert done.returncode == 1, done.stdout[-3000:]
    failed = {line.split("::")[1].split(" ")[0] for line in done.stdout.splitlines() if line.startswith("FAILED")}
    assert failed == {"test_rule_breaking_recording_is_refused[session-id-missing]"}, done.stdout[-3000:]
    assert "accepted an invalid request" in done.stdout


@pytest.mark.e2e
def test_the_contract_module_skips_an_endpoint_without_recordings(tmp_path: Path) -> None:
    with running(cast(CaptureApp, NoRecordings(CaptureApp(Store(":memory:"))))) as server:
        done = run_module(tmp_path, f"--capture-url={server.url}")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "answers 404 on /s/: it serves no session recordings" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]


def test_seeded_bodies_repeat_and_are_accepted() -> None:
    first = list(itertools.islice(snapshot_bodies(5), 30))
    assert first == list(itertools.islice(snapshot_bodies(5), 30))
    assert first != list(itertools.islice(snapshot_bodies(6), 30))
    assert all(recordings.judge(b).accepted for b in first)
    assert {b[0]["properties"]["$snapshot_data"][0]["type"] for b in first[::6]} == {4}  # a session opens with Meta
