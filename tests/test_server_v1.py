"""The reference endpoint's capture v1 route over real HTTP (capture-v1.md): every request-level rule's
status and error body, the header order, every per-event tag, the result keys, ``Retry-After``, the
stored rows and their results, the faults, the older variants, and a fuzz that never gets a 5xx."""

from __future__ import annotations

import copy
import gzip
import http.client
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import zstandard
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.generate.choices import SeededChoices
from harness.generate.v1 import V1Traffic
from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from harness.server.v1_capture import PATHS
from harness.spec.rules import V1_WIRE_BODY_LIMIT
from harness.spec.v1.validation import validate_response
from tests.support import request

PATH = "/i/v1/analytics/events"
Request = dict[str, Any]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"), seed=1)) as started:
        yield started


def variant_server(tmp_path: Path, *names: str) -> Any:
    return running(CaptureApp(Store(tmp_path / "variant.sqlite3"), seed=1, v1_variants=names))


def valid(size: int = 2, seed: int = 7) -> Request:
    """A generated posthog-python request, sent uncompressed unless a test says otherwise."""
    generated = V1Traffic(SeededChoices(seed), sdk="python").request(size)
    generated["headers"].pop("Content-Encoding", None)
    return generated


def send(server: Running, req: Request, path: str = PATH, raw: bytes | None = None,
         method: str = "POST") -> tuple[int, dict[str, str], Any]:
    body = json.dumps(req["body"]).encode() if raw is None else raw
    status, headers, answer = request(server.url, method, path, body, req["headers"])
    return status, headers, json.loads(answer) if answer else None


def stored(server: Running, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    status, _, body = request(server.url, "GET", f"/_harness/events?limit=1000&{query}")
    assert status == 200, body
    events: list[dict[str, Any]] = json.loads(body)["events"]
    return events


def stats(server: Running) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(request(server.url, "GET", "/_harness/stats")[2])
    return result


def set_faults(server: Running, **settings_: Any) -> None:
    status, _, body = request(server.url, "POST", "/_harness/faults", json.dumps(settings_).encode(),
                              {"Content-Type": "application/json"})
    assert status == 200, body


def header(name: str, value: str | None) -> Callable[[Request], None]:
    def edit(req: Request) -> None:
        if value is None:
            del req["headers"][name]
        else:
            req["headers"][name] = value
    return edit


def body(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Request], None]:
    return lambda req: edit(req["body"])


def first(key: str, value: Any) -> Callable[[Request], None]:
    """Set (or delete, for ``...``) ``key`` of the first event."""
    def edit(req: Request) -> None:
        if value is ...:
            del req["body"]["batch"][0][key]
        else:
            req["body"]["batch"][0][key] = value
    return edit


def duplicate(req: Request) -> None:
    req["body"]["batch"][1]["uuid"] = req["body"]["batch"][0]["uuid"].upper()


REQUEST_RULES = [  # (id, edit, status, error): capture-v1.md §9.5 and §3 / §4
    ("no-authorization", header("Authorization", None), 401, "missing_authorization"),
    ("basic-scheme", header("Authorization", "Basic abc"), 400, "invalid_header_value"),
    ("bare-bearer", header("Authorization", "Bearer"), 400, "invalid_header_value"),
    ("personal-key", header("Authorization", "Bearer phx_abc"), 401, "invalid_api_token"),
    ("long-token", header("Authorization", "Bearer " + "t" * 65), 401, "invalid_api_token"),
    ("no-sdk-info", header("PostHog-Sdk-Info", None), 400, "missing_required_headers"),
    ("no-attempt", header("PostHog-Attempt", None), 400, "missing_required_headers"),
    ("no-request-id", header("PostHog-Request-Id", None), 400, "missing_required_headers"),
    ("no-request-timestamp", header("PostHog-Request-Timestamp", None), 400, "missing_required_headers"),
    ("no-user-agent", header("User-Agent", None), 400, "missing_required_headers"),
    ("text-plain", header("Content-Type", "text/plain"), 415, "unsupported_content_type"),
    ("lz4", header("Content-Encoding", "lz4"), 415, "unsupported_encoding"),
    ("identity", header("Content-Encoding", "identity"), 415, "unsupported_encoding"),
    ("zstd-on-plain", header("Content-Encoding", "zstd"), 400, "request_decoding_error"),
    ("request-id-not-uuid", header("PostHog-Request-Id", "nope"), 400, "invalid_header_value"),
    ("attempt-zero", header("PostHog-Attempt", "0"), 400, "invalid_header_value"),
    ("request-timestamp-not-rfc3339", header("PostHog-Request-Timestamp", "now"), 400, "invalid_header_value"),
    ("user-agent-not-ascii", header("User-Agent", "caf\xe9"), 400, "invalid_header_value"),
    ("gzip-on-plain", header("Content-Encoding", "gzip"), 400, "request_decoding_error"),
    ("empty-batch", body(lambda b: b.__setitem__("batch", [])), 400, "empty_batch"),
    ("created-at-now", body(lambda b: b.__setitem__("created_at", "now")), 400, "invalid_batch"),
    ("created-at-missing", body(lambda b: b.pop("created_at")), 400, "request_parsing_error"),
    ("historical-not-bool", body(lambda b: b.__setitem__("historical_migration", "yes")), 400,
     "request_parsing_error"),
    ("duplicate-uuid", duplicate, 400, "duplicate_event_uuid"),
    ("uuid-not-uuid", first("uuid", "not-a-uuid"), 400, "invalid_event_uuid"),
    ("uuid-empty", first("uuid", "  "), 400, "missing_event_uuid"),
    ("uuid-missing", first("uuid", ...), 400, "request_parsing_error"),
    ("distinct-id-number", first("distinct_id", 42), 400, "request_parsing_error"),
    ("timestamp-missing", first("timestamp", ...), 400, "request_parsing_error"),
    ("event-missing", first("event", ...), 400, "request_parsing_error"),
    ("session-id-number", first("session_id", 5), 400, "request_parsing_error"),
]


@pytest.mark.parametrize(("edit", "status", "error"), [r[1:] for r in REQUEST_RULES], ids=[r[0] for r in REQUEST_RULES])
def test_request_level_rules_answer_their_status_and_json_error(server: Running, edit: Callable[[Request], None],
                                                                status: int, error: str) -> None:
    req = valid()
    edit(req)
    got, headers, answer = send(server, req)
    assert (got, answer["error"]) == (status, error), answer
    assert validate_response(answer, "error").accepted and isinstance(answer["error_description"], str)
    assert headers["content-type"] == "application/json" and "retry-after" not in headers
    if "PostHog-Request-Id" in req["headers"]:
        assert headers["posthog-request-id"] == req["headers"]["PostHog-Request-Id"]
    assert stored(server) == [] and stats(server)["accepted_events"] == 0


RAW_BODIES = [  # (id, raw body, content-encoding, status, error)
    ("empty", b"", None, 400, "empty_body"),
    ("not-json", b"{nope", None, 400, "request_parsing_error"),
    ("array", b"[]", None, 400, "request_parsing_error"),
    ("gzip-without-header", gzip.compress(b'{"created_at":"2026-01-01T00:00:00Z","batch":[]}'), None, 400,
     "request_parsing_error"),
    ("corrupt-gzip", b"\x1f\x8b\x08\x00garbage", "gzip", 400, "request_decoding_error"),
    ("corrupt-br", b"\xff\xff\xff", "br", 400, "request_decoding_error"),
    ("corrupt-zstd", b"\x28\xb5\x2f\xfd\xff\xff", "zstd", 400, "request_decoding_error"),
    ("cut-zstd", zstandard.ZstdCompressor().compress(b'{"batch": []}' * 50)[:-4], "zstd", 400,
     "request_decoding_error"),
    ("gzip-bomb", gzip.compress(b" " * (50 * 1024 * 1024)), "gzip", 413, "payload_too_large"),
    ("zstd-bomb", zstandard.ZstdCompressor(write_content_size=False).compress(b" " * (50 * 1024 * 1024)), "zstd",
     413, "payload_too_large"),
    ("over-wire-limit", b" " * (V1_WIRE_BODY_LIMIT + 1), None, 413, "payload_too_large"),
]


@pytest.mark.parametrize(("raw", "encoding", "status", "error"), [r[1:] for r in RAW_BODIES],
                         ids=[r[0] for r in RAW_BODIES])
def test_raw_bodies_answer_their_status_and_json_error(server: Running, raw: bytes, encoding: str | None,
                                                       status: int, error: str) -> None:
    req = valid()
    if encoding:
        req["headers"]["Content-Encoding"] = encoding
    got, headers, answer = send(server, req, raw=raw)
    assert (got, answer["error"]) == (status, error), answer
    assert headers["posthog-request-id"] == req["headers"]["PostHog-Request-Id"] and "retry-after" not in headers


HEADER_ORDER = [  # several faults at once: the first step of §3 decides
    ("auth-before-required", {"Authorization": None, "PostHog-Attempt": None}, 401, "missing_authorization"),
    ("required-before-scheme", {"Authorization": "Basic x", "User-Agent": None}, 400, "missing_required_headers"),
    ("token-before-content-type", {"Authorization": "Bearer phx_x", "Content-Type": "text/plain"}, 401,
     "invalid_api_token"),
    ("content-type-before-encoding", {"Content-Type": "text/plain", "Content-Encoding": "lz4"}, 415,
     "unsupported_content_type"),
    ("encoding-before-request-id", {"Content-Encoding": "lz4", "PostHog-Request-Id": "x"}, 415,
     "unsupported_encoding"),
    ("headers-before-body", {"Content-Type": "text/plain", "PostHog-Attempt": "1"}, 415, "unsupported_content_type"),
]


@pytest.mark.parametrize(("changes", "status", "error"), [r[1:] for r in HEADER_ORDER], ids=[r[0] for r in HEADER_ORDER])
def test_the_first_failing_header_step_decides(server: Running, changes: dict[str, str | None], status: int,
                                              error: str) -> None:
    req = valid()
    for name, value in changes.items():
        header(name, value)(req)
    got, _, answer = send(server, req, raw=b"")  # an empty body too: the headers are checked first
    assert (got, answer["error"]) == (status, error)


EVENT_TAGS = [  # (rule, key, value, result, details, stored): capture-v1.md §4.2, §5.1
    ("v1-performance-event", "event", "$performance_event", "drop", "dropped_performance_event", False),
    ("v1-event-name-empty", "event", "", "drop", "missing_event_name", False),
    ("v1-event-name-too-long", "event", "é" * 101, "drop", "event_name_too_long", False),
    ("v1-distinct-id-empty", "distinct_id", "   ", "drop", "missing_distinct_id", False),
    ("v1-distinct-id-too-long", "distinct_id", "d" * 201, "drop", "distinct_id_too_large", False),
    ("v1-timestamp-invalid", "timestamp", "yesterday", "drop", "invalid_event_timestamp", False),
    ("v1-properties-not-object", "properties", [1], "drop", "malformed_event_properties", False),
    ("v1-options-invalid", "options", {"process_person_profile": "maybe"}, "drop", "invalid_options", False),
    ("v1-options-invalid", "options", [], "drop", "invalid_options", False),
    ("v1-event-too-large", "properties", {"blob": "x" * 1_000_001}, "drop", "event_too_big", False),
    ("v1-distinct-id-illegal", "distinct_id", "Anonymous", "ok", "person_processing_disabled", True),
    ("no-rule-options-coerced", "options", {"cookieless_mode": "TRUE", "process_person_profile": 0}, "ok", None, True),
]


@pytest.mark.parametrize(("rule", "key", "value", "result", "details", "kept"), EVENT_TAGS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(EVENT_TAGS)])
def test_per_event_results_in_a_200_and_only_kept_events_stored(server: Running, rule: str, key: str, value: Any,
                                                               result: str, details: str | None, kept: bool) -> None:
    req = valid(3)
    req["body"]["batch"][1][key] = value
    status, headers, answer = send(server, req)
    uuids = [event["uuid"] for event in req["body"]["batch"]]
    expected = {"result": result, "details": details} if details else {"result": result}
    assert status == 200 and answer["results"] == {uuids[0]: {"result": "ok"}, uuids[1]: expected,
                                                    uuids[2]: {"result": "ok"}}
    assert list(answer["results"]) == uuids and "retry-after" not in headers
    assert validate_response(answer, request_uuids=uuids).accepted
    rows = {row["uuid"]: row for row in stored(server)}
    assert set(rows) == ({*uuids} if kept else {uuids[0], uuids[2]})
    assert {row["protocol"] for row in rows.values()} == {"v1"}
    if kept:
        assert rows[uuids[1]]["result"] == (f"{result}:{details}" if details else result)
        properties = json.loads(rows[uuids[1]]["data"])["properties"]
        assert properties.get("$process_person_profile") is (False if details or key == "options" else None)
    assert stats(server)["rejections"] == ({rule: 1} if result == "drop" else {})  # drops by rule name


def test_results_are_keyed_by_canonical_uuids_in_request_order(server: Running) -> None:
    req = valid(3)
    spellings = ["{" + req["body"]["batch"][0]["uuid"].upper() + "}",
                 "  " + req["body"]["batch"][1]["uuid"].replace("-", "") + " ",
                 "urn:uuid:" + req["body"]["batch"][2]["uuid"]]
    canonical = [event["uuid"] for event in req["body"]["batch"]]
    for event, spelling in zip(req["body"]["batch"], spellings):
        event["uuid"] = spelling
    status, _, answer = send(server, req)
    assert status == 200 and list(answer["results"]) == canonical
    assert [row["uuid"] for row in stored(server)] == canonical


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("encoding", [None, "gzip", "deflate", "br", "zstd"])
def test_both_paths_and_every_decodable_encoding_store_the_events(server: Running, path: str,
                                                                 encoding: str | None) -> None:
    req = valid(4)
    text = json.dumps(req["body"]).encode()
    raw = {None: text, "gzip": gzip.compress(text), "deflate": zlib.compress(text),
           "br": brotli.compress(text), "zstd": zstandard.ZstdCompressor().compress(text)}[encoding]
    if encoding:
        req["headers"]["Content-Encoding"] = encoding
    status, headers, answer = send(server, req, path=path, raw=raw)
    assert status == 200 and set(answer["results"]) == {e["uuid"] for e in req["body"]["batch"]}
    assert headers["posthog-request-id"] == req["headers"]["PostHog-Request-Id"]
    assert len(stored(server, protocol="v1", result="ok")) == 4 and stats(server)["accepted_events"] == 4


def test_stored_rows_carry_what_v1_injects(server: Running) -> None:
    req = valid(1)
    event = req["body"]["batch"][0]
    event.update(session_id="s-1", window_id="w-1", distinct_id=" user-9 ",
                 options={"cookieless_mode": 1, "product_tour_id": 7})
    req["headers"]["PostHog-Sdk-Info"] = "posthog/sub-sdk/2.3.4"
    req["body"]["historical_migration"] = True
    assert send(server, req)[0] == 200
    (row,) = stored(server)
    assert row["historical_migration"] is True
    data = json.loads(row["data"])
    assert (row["distinct_id"], row["token"], row["is_cookieless_mode"]) == ("user-9", req["headers"]["Authorization"][7:], True)
    assert {k: data["properties"][k] for k in ("$session_id", "$window_id", "$cookieless_mode", "$product_tour_id",
                                                "$lib", "$lib_version")} == {
        "$session_id": "s-1", "$window_id": "w-1", "$cookieless_mode": True, "$product_tour_id": "7",
        "$lib": "posthog/sub-sdk", "$lib_version": "2.3.4"}
    assert row["sent_at"] is not None and row["timestamp"].endswith("Z")


def test_v0_rows_are_protocol_v0_without_a_result_and_filters_tell_them_apart(server: Running) -> None:
    v0 = {"api_key": "phc_x", "event": "e", "distinct_id": "d"}
    assert request(server.url, "POST", "/e/", json.dumps(v0).encode(), {"Content-Type": "application/json"})[0] == 200
    assert send(server, valid(2))[0] == 200
    assert [(r["protocol"], r["result"]) for r in stored(server)] == [("v0", None), ("v1", "ok"), ("v1", "ok")]
    assert len(stored(server, protocol="v0")) == 1 and len(stored(server, protocol="v1")) == 2


def test_a_store_from_before_v1_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, uuid TEXT, "
                "distinct_id TEXT, ip TEXT, data TEXT, now TEXT, sent_at TEXT, token TEXT, event TEXT, "
                "timestamp TEXT, historical_migration INTEGER, is_cookieless_mode INTEGER)")
    old.execute("INSERT INTO events VALUES (1, 0, 'u', 'd', 'ip', '{}', 'n', NULL, 't', 'e', 'ts', 0, 0)")
    old.commit()
    old.close()
    store = Store(path)
    assert [(r["protocol"], r["result"]) for r in store.events()] == [("v0", None)]
    store.close()


def test_methods_preflight_and_cors_on_errors(server: Running) -> None:
    assert request(server.url, "GET", PATH)[0] == 405
    assert request(server.url, "OPTIONS", PATH)[0] == 405  # not a preflight (inferred, §1)
    status, headers, _ = request(server.url, "OPTIONS", PATH + "/", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "posthog-attempt"})
    assert status == 200 and headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert headers["access-control-allow-headers"] == "posthog-attempt"
    req = valid()
    req["headers"].update(Origin="https://app.example", Authorization="Basic x")
    status, headers, _ = send(server, req)
    assert status == 400 and headers["access-control-allow-origin"] == "https://app.example"


@pytest.mark.parametrize(("status", "error", "retry_after"), [(500, "internal_error", "3"),
                                                              (503, "service_unavailable", "3"),
                                                              (429, "rate_limited", None)])
def test_whole_request_faults_answer_json_and_retry_after_on_5xx_only(server: Running, status: int, error: str,
                                                                      retry_after: str | None) -> None:
    set_faults(server, error_rate=1, error_statuses=[status], retry_after_s=3)
    req = valid()
    got, headers, answer = send(server, req)
    assert (got, answer["error"], headers.get("retry-after")) == (status, error, retry_after)
    assert headers["posthog-request-id"] == req["headers"]["PostHog-Request-Id"]
    assert stored(server) == [] and stats(server)["rejections"] == {f"fault: {status}": 1}


def test_the_event_retry_fault_answers_retry_for_a_seeded_fraction_not_stored(server: Running) -> None:
    set_faults(server, event_retry_rate=0.3)
    answers = [send(server, valid(50, seed=seed)) for seed in range(4)]
    retried = {uuid for _, _, a in answers for uuid, r in a["results"].items() if r["result"] == "retry"}
    assert all(r == {"result": "retry", "details": "not_persisted"} for _, _, a in answers
               for r in a["results"].values() if r["result"] != "ok")
    assert 30 <= len(retried) <= 90
    assert all(h.get("retry-after") == "1" for _, h, a in answers if "retry" in json.dumps(a))
    rows = {row["uuid"] for row in stored(server)}
    assert len(rows) == 200 - len(retried) and not rows & retried
    set_faults(server, event_retry_rate=0.3)  # the plan starts over from its seed: the same events again
    again = {u for s in range(4) for u, r in send(server, valid(50, seed=s))[2]["results"].items()
             if r["result"] == "retry"}
    assert again == retried


@pytest.mark.parametrize(("variants", "answered"), [((), "warning"), (("result-limited",), "limited")])
def test_a_hot_distinct_id_gets_warning_and_is_stored_without_person_processing(
        tmp_path: Path, variants: tuple[str, ...], answered: str) -> None:
    req = valid(5)
    for event in req["body"]["batch"]:
        event["distinct_id"] = "hot-user"
    req["body"]["batch"][4]["distinct_id"] = "cold-user"
    with variant_server(tmp_path, *variants) as server:
        set_faults(server, distinct_id_limit_per_s=2)
        status, headers, answer = send(server, req)
        assert status == 200 and "retry-after" not in headers
        assert [r.get("result") for r in answer["results"].values()] == ["ok", "ok", answered, answered, "ok"]
        assert {r.get("details") for r in answer["results"].values()} == {None, "person_processing_disabled"}
        rows = stored(server)
        assert [row["result"] for row in rows] == ["ok", "ok", *["warning:person_processing_disabled"] * 2, "ok"]
        assert json.loads(rows[2]["data"])["properties"]["$process_person_profile"] is False


@pytest.mark.parametrize("settings_", [{"event_retry_rate": 1.5}, {"event_retry_rate": True},
                                       {"distinct_id_limit_per_s": -1}, {"distinct_id_limit_per_s": 1.5}])
def test_bad_v1_fault_settings_are_400(server: Running, settings_: dict[str, Any]) -> None:
    status, _, body = request(server.url, "POST", "/_harness/faults", json.dumps(settings_).encode(),
                              {"Content-Type": "application/json"})
    assert status == 400 and next(iter(settings_)) in json.loads(body)["error"]


def test_a_body_past_the_in_flight_budget_is_503_with_one_retry_after(tmp_path: Path) -> None:
    with running(CaptureApp(Store(tmp_path / "small.sqlite3"), body_bytes_limit=1000)) as small:
        req = valid(20)
        connection = http.client.HTTPConnection(urlsplit(small.url).netloc, timeout=10)
        connection.request("POST", PATH, json.dumps(req["body"]).encode(), req["headers"])
        reply = connection.getresponse()
        assert (reply.status, reply.msg.get_all("retry-after")) == (503, ["1"])
        assert json.loads(reply.read())["error"] == "service_unavailable"
        connection.close()


def test_refused_requests_are_kept_for_the_inspector(server: Running) -> None:
    req = valid()
    req["body"]["batch"] = []
    send(server, req)
    (kept,) = json.loads(request(server.url, "GET", "/_harness/rejections")[2])["rejections"]
    assert (kept["path"], kept["status"], kept["rule"]) == (PATH, 400, "v1-batch-empty")


def test_the_drop_fault_acknowledges_but_stores_nothing(server: Running) -> None:
    set_faults(server, drop_rate=1)
    status, _, answer = send(server, valid(3))
    assert status == 200 and {r["result"] for r in answer["results"].values()} == {"ok"}
    assert stored(server) == [] and stats(server)["dropped_events"] == 3


def test_rejections_are_counted_by_rule_name(server: Running) -> None:
    req = valid()
    del req["headers"]["Authorization"]
    send(server, req)
    req = valid(2)
    req["body"]["batch"][0]["event"] = ""
    send(server, req)
    counted = stats(server)
    assert counted["rejections"] == {"v1-authorization-missing": 1, "v1-event-name-empty": 1}
    assert counted["requests"][PATH] == {"200": 1, "401": 1} and counted["accepted_events"] == 1


VARIANT_CASES = [  # (variant, edit, status, error or (result, details) of the first event)
    ("authorization-required-header", header("Authorization", None), 400, "missing_required_headers"),
    ("uuid-invalid-as-missing", first("uuid", "not-a-uuid"), 400, "missing_event_uuid"),
    ("options-strict", first("options", ...), 400, "request_parsing_error"),
    ("options-strict", first("options", {"cookieless_mode": "true"}), 400, "request_parsing_error"),
    ("illegal-distinct-id-drop", first("distinct_id", "null"), 200, ("drop", "invalid_distinct_id")),
]


@pytest.mark.parametrize(("variant", "edit", "status", "expected"), VARIANT_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VARIANT_CASES)])
def test_older_variants_answer_as_their_revision(tmp_path: Path, variant: str, edit: Callable[[Request], None],
                                                 status: int, expected: Any) -> None:
    req = valid()
    edit(req)
    with variant_server(tmp_path, variant) as old:
        got, _, answer = send(old, req)
        assert got == status
        if status == 200:
            first_uuid = req["body"]["batch"][0]["uuid"]
            assert answer["results"][first_uuid] == dict(zip(("result", "details"), expected))
            assert first_uuid not in {row["uuid"] for row in stored(old)}
        else:
            assert answer["error"] == expected


def test_server_only_variants(tmp_path: Path) -> None:
    with variant_server(tmp_path, "retry-after-rate-limited-only", "lib-not-injected", "accept-on-errors") as old:
        assert send(old, valid(1))[0] == 200
        assert "$lib" not in json.loads(stored(old)[0]["data"])["properties"]
        set_faults(old, error_rate=1, error_statuses=[429])
        status, headers, _ = send(old, valid())
        assert (status, headers.get("retry-after"), headers["accept"]) == (429, "1", "application/json")
        set_faults(old, error_rate=1, error_statuses=[503])
        assert "retry-after" not in send(old, valid())[1]


def test_an_unknown_variant_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown v1 variant nope; known: authorization-required-header"):
        CaptureApp(Store(":memory:"), v1_variants=["nope"])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path_factory.mktemp("fuzz") / "events.sqlite3"), seed=1)) as started:
        yield started


HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=("Cc",)),
                        max_size=40)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=6)


@st.composite
def fuzz_requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    req = copy.deepcopy(valid(2, seed=draw(st.integers(0, 3))))
    for name in draw(st.lists(st.sampled_from([*req["headers"], "Content-Encoding"]), max_size=3)):
        req["headers"][name] = draw(HEADER_VALUES)
    target = draw(st.sampled_from(["body", "event", "raw"]))
    if target == "raw":
        return req["headers"], draw(st.binary(max_size=200))
    where = req["body"] if target == "body" else req["body"]["batch"][0]
    where[draw(st.sampled_from([*where, "options", "x"]))] = draw(JSON_VALUES)
    return req["headers"], json.dumps(req["body"]).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=fuzz_requests())
def test_arbitrary_headers_and_bodies_never_get_a_5xx(fuzzed: Running, case: tuple[dict[str, str], bytes]) -> None:
    headers, raw = case
    assert request(fuzzed.url, "POST", "/_harness/reset")[0] == 200  # examples reuse uuids
    status, _, answer = request(fuzzed.url, "POST", PATH, raw, headers)
    assert status < 500, answer
    document = json.loads(answer)
    assert validate_response(document, "response" if status == 200 else "error").accepted, document
    for uuid, result in (document.get("results") or {}).items():  # acknowledged ok / warning: stored
        assert (result["result"] in ("ok", "warning")) == bool(stored(fuzzed, uuid=uuid)), (uuid, result)


@pytest.mark.e2e
def test_serve_takes_the_v1_variant_and_the_event_retry_rate(tmp_path: Path) -> None:
    from tests.support import ServeProcess

    with ServeProcess(tmp_path / "serve.sqlite3", tmp_path / "serve.log", "--v1-variant", "illegal-distinct-id-drop",
                      "--event-retry-rate", "1", "--seed", "1") as served:
        req = valid(2)
        req["body"]["batch"][0]["distinct_id"] = "guest"
        status, headers, answer = request(served.url, "POST", PATH, json.dumps(req["body"]).encode(), req["headers"])
        results = json.loads(answer)["results"]
        assert (status, headers["retry-after"]) == (200, "1")
        assert [r["result"] for r in results.values()] == ["drop", "retry"]
