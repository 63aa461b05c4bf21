"""The reference endpoint over real HTTP: routes, methods, CORS, answers, the store, inspection, faults."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.server import CaptureApp, Faults, Store
from harness.server.inspect import parse_since
from harness.server.runner import Running, running
from harness.wire import V0_PATHS
from tests.support import request

TOKEN = "phc_servertest"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"), seed=1)) as started:
        yield started


def call(server: Running, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return request(server.url, method, target, body, headers)


def post_json(server: Running, path: str, payload: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return call(server, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})


def faults(server: Running, body: bytes, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    return call(server, method, "/_harness/faults", body, {"Content-Type": "application/json"})


def event(**fields: Any) -> dict[str, Any]:
    return {"event": "signed_up", "distinct_id": "user-1", "api_key": TOKEN, **fields}


def stored(server: Running, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    status, _, body = call(server, "GET", f"/_harness/events?{query}")
    assert status == 200
    return json.loads(body)["events"]


@pytest.mark.parametrize("path", V0_PATHS)
def test_every_v0_path_accepts_post_and_get(server: Running, path: str) -> None:
    status, headers, body = post_json(server, path, event())
    assert (status, body) == (200, b'{"status":"Ok"}')
    assert headers["content-type"] == "application/json"
    status, _, _ = call(server, "GET", f"{path}?data=" + json.dumps(event()).replace(" ", ""))
    assert status == 200


def test_root_health_and_unknown_paths(server: Running) -> None:
    assert call(server, "GET", "/")[::2] == (200, b"capture")
    assert call(server, "GET", "/_liveness")[0] == 200
    assert call(server, "GET", "/nope") == (404, call(server, "GET", "/nope")[1], b"")
    assert call(server, "POST", "/i/v0/e/x")[0] == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(server: Running, method: str) -> None:
    status, headers, _ = call(server, method, "/batch/", b"{}")
    assert status == 405
    assert headers["allow"] == "GET, POST, OPTIONS"


def test_cors_is_permissive_and_on_errors_too(server: Running) -> None:
    status, headers, body = call(server, "OPTIONS", "/e/", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-odd-header"})
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-headers"] == "content-type,x-odd-header"
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, _ = post_json(server, "/e/", {"event": "x"}, Origin="https://a.example")
    assert status == 401 and headers["access-control-allow-origin"] == "https://a.example"


def test_plain_options_answers_ok(server: Running) -> None:
    assert call(server, "OPTIONS", "/batch")[::2] == (200, b'{"status":"Ok"}')


def test_beacon_answers_204(server: Running) -> None:
    status, _, body = post_json(server, "/e/?beacon=1", event())
    assert (status, body) == (204, b"")
    assert len(stored(server)) == 1


@pytest.mark.parametrize(
    ("payload", "status", "text"),
    [
        ({"event": "e", "distinct_id": "u"}, 401, b"event submitted without an api_key"),
        (event(api_key="phx_personal"), 401, b"API key is not valid: personal_api_key"),
        ([{"event": "e", "distinct_id": "u", "token": "a"}, {"event": "e", "distinct_id": "u", "token": "b"}], 401,
         b"batch submitted with inconsistent api_key values"),
        (event(event=""), 400, b"event submitted with an empty event name"),
        (event(distinct_id=""), 400, b"event submitted without a distinct_id"),
        ([], 400, b"request holds no event"),
        ({"api_key": TOKEN, "batch": []}, 400, b"request holds no event"),
        (event(properties={"$cookieless_mode": "yes"}), 400, b"event submitted with invalid cookieless mode"),
        (event(uuid="nope"), 400, b"failed to parse request"),
        (event(timestamp=12), 400, b"failed to parse request"),
    ],
)
def test_rejections_answer_capture_status_and_text(server: Running, payload: Any, status: int, text: bytes) -> None:
    got_status, headers, body = post_json(server, "/i/v0/e/", payload)
    assert got_status == status
    assert body.startswith(text)
    assert headers["content-type"].startswith("text/plain")
    assert stored(server) == []


def test_one_bad_event_rejects_the_whole_batch(server: Running) -> None:
    status, _, _ = post_json(server, "/batch/", {"api_key": TOKEN, "batch": [event(), event(distinct_id=None)]})
    assert status == 400
    assert stored(server) == []


def test_performance_events_are_dropped_silently(server: Running) -> None:
    assert post_json(server, "/batch/", [{"event": "$performance_event"}])[0] == 200
    assert post_json(server, "/batch/", {"api_key": TOKEN, "batch": [event(), {"event": "$performance_event"}]})[0] == 200
    assert [e["event"] for e in stored(server)] == ["signed_up"]


def test_stored_record_is_shaped_like_capture_kafka_message(server: Running) -> None:
    sent = event(uuid="0190B2C4-4C1A-7C3E-8D55-1B1E2F3A4B5C", distinct_id=42, type="capture",
                 properties={"$lib": "web", "capture_internal": True}, timestamp="2026-01-05T09:00:00Z")
    body = {"api_key": " " + TOKEN + " ", "batch": [sent], "sent_at": "2026-01-05T09:00:10Z",
            "historical_migration": True}
    assert post_json(server, "/batch/", body, **{"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})[0] == 200
    (record,) = stored(server)
    assert record["uuid"] == "0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5c"
    assert record["distinct_id"] == "42"
    assert record["token"] == TOKEN
    assert record["ip"] == "127.0.0.1"  # capture_internal redacts the IP
    assert record["historical_migration"] is True
    assert record["sent_at"].startswith("2026-01-05T09:00:10")
    data = json.loads(record["data"])
    assert "type" not in data and data["distinct_id"] == 42 and data["token"] == TOKEN
    assert data["properties"] == sent["properties"]


def test_generated_uuid_is_v7_and_ip_comes_from_forwarded_for(server: Running) -> None:
    assert post_json(server, "/i/v0/e/", event(), **{"X-Forwarded-For": "203.0.113.7"})[0] == 200
    (record,) = stored(server)
    assert record["uuid"][14] == "7"
    assert record["ip"] == "203.0.113.7"


def test_distinct_id_is_cut_to_200_characters_and_nul_replaced(server: Running) -> None:
    assert post_json(server, "/i/v0/e/", event(distinct_id="a\u0000" + "x" * 300))[0] == 200
    (record,) = stored(server)
    assert record["distinct_id"] == ("a\ufffd" + "x" * 300)[:200]


def test_engage_turns_a_nameless_body_into_identify(server: Running) -> None:
    nameless = {"api_key": TOKEN, "distinct_id": "u", "properties": {"$set": {"plan": "pro"}}}
    assert post_json(server, "/engage/", nameless)[0] == 200
    assert post_json(server, "/capture/", nameless)[0] == 400
    assert [e["event"] for e in stored(server)] == ["$identify"]


def test_gzip_body_without_hint(server: Running) -> None:
    status, _, _ = call(server, "POST", "/batch/", gzip.compress(json.dumps([event()]).encode()),
                        {"Content-Type": "text/plain"})
    assert status == 200


def test_legacy_success_body(tmp_path: Path) -> None:
    with running(CaptureApp(Store(":memory:"), legacy_success=True)) as legacy:
        assert post_json(legacy, "/e/", event())[::2] == (200, b'{"status":1}')


def test_body_over_the_wire_cap_is_413(server: Running) -> None:
    status, _, _ = call(server, "POST", "/batch/", b"x" * (20 * 1024 * 1024 + 1), {"Content-Type": "text/plain"})
    assert status == 413


def test_events_filters_and_pagination(server: Running) -> None:
    for index in range(5):
        post_json(server, "/i/v0/e/", event(distinct_id=f"u{index % 2}", event=f"e{index}"))
    assert [e["event"] for e in stored(server, distinct_id="u1")] == ["e1", "e3"]
    first = json.loads(call(server, "GET", "/_harness/events?limit=2")[2])
    assert [e["event"] for e in first["events"]] == ["e0", "e1"]
    rest = json.loads(call(server, "GET", f"/_harness/events?limit=10&after={first['next_after']}")[2])
    assert [e["event"] for e in rest["events"]] == ["e2", "e3", "e4"] and rest["next_after"] is None
    assert stored(server, since=str(int(time.time()) + 60)) == []
    assert call(server, "GET", "/_harness/events?colour=red")[0] == 400


def rfc3339(moment_ms: int, zone: timezone = UTC) -> str:
    """``moment_ms`` as an RFC 3339 date-time with milliseconds, in ``zone``, its ``+`` percent-encoded."""
    moment = datetime.fromtimestamp(moment_ms / 1000, zone).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z").replace("+", "%2B")


@pytest.mark.parametrize(
    ("form", "since"),
    [
        ("RFC 3339 with Z", rfc3339),
        ("RFC 3339 with a positive offset", lambda ms: rfc3339(ms, timezone(timedelta(hours=2)))),
        ("RFC 3339 with a negative offset", lambda ms: rfc3339(ms, timezone(-timedelta(hours=5, minutes=30)))),
        ("epoch seconds, decimal", lambda ms: f"{ms // 1000}.{ms % 1000:03d}"),
    ],
)
def test_events_since_bounds_the_receive_time_to_the_millisecond(server: Running, form: str, since: Any) -> None:
    post_json(server, "/e/", event())
    received_ms = stored(server)[0]["received_ms"]
    assert len(stored(server, since=since(received_ms))) == 1, form
    assert stored(server, since=since(received_ms + 1)) == [], form


def test_events_since_takes_integer_epoch_seconds(server: Running) -> None:
    post_json(server, "/e/", event())
    received_s = stored(server)[0]["received_ms"] // 1000
    assert len(stored(server, since=str(received_s))) == 1
    assert stored(server, since=str(received_s + 1)) == []


@pytest.mark.parametrize(
    ("since", "expected_ms"),
    [
        ("1672574400", 1_672_574_400_000),
        ("1672574400.5", 1_672_574_400_500),
        ("1672574400.0009", 1_672_574_400_000),  # cut to the millisecond
        ("0", 0),
        ("253402300799", 253_402_300_799_000),  # 9999-12-31T23:59:59Z, the latest
        ("2023-01-01T12:00:00Z", 1_672_574_400_000),
        ("2023-01-01T12:00:00.0009Z", 1_672_574_400_000),
        ("2023-01-01T14:00:00+02:00", 1_672_574_400_000),
        ("2023-01-01T07:00:00.25-05:00", 1_672_574_400_250),
        ("1969-12-31T23:59:59Z", -1000),
    ],
)
def test_since_forms(since: str, expected_ms: int) -> None:
    assert parse_since(since) == expected_ms


@pytest.mark.parametrize(
    "since",
    [
        "2023-13-45",  # no such date
        "2023-13-45T00:00:00Z",
        "abc",
        "2023-01-01",  # a date alone: which zone's midnight?
        "2023-01-01T12:00:00",  # no offset
        "2023-01-01T12:00:00+02:00",  # the + not percent-encoded: it arrives as a space
        "1672574400000",  # milliseconds, the old form: past the year 9999 as seconds
        "253402300800",
        "-1672574400",
        "1e9",
        ".5",
    ],
)
def test_since_in_any_other_form_is_400_naming_the_accepted_forms(server: Running, since: str) -> None:
    status, _, body = call(server, "GET", f"/_harness/events?since={since}")
    assert status == 400
    error = json.loads(body)["error"]
    assert "an RFC 3339 date-time with Z or an offset (since=2023-01-01T12:00:00Z" in error
    assert "epoch seconds (since=1672574400 or since=1672574400.5)" in error
    assert "a date alone or a time without an offset is refused" in error


def test_stats_and_reset(server: Running) -> None:
    post_json(server, "/batch/", [event(), event()])
    post_json(server, "/batch/", {"event": "x"})
    stats = json.loads(call(server, "GET", "/_harness/stats")[2])
    assert stats["requests"]["/batch/"] == {"200": 1, "401": 1}
    assert stats["accepted_events"] == 2 and stats["stored_events"] == 2
    assert stats["rejections"] == {"token-missing": 1}
    assert call(server, "POST", "/_harness/reset")[0] == 200
    assert json.loads(call(server, "GET", "/_harness/stats")[2])["stored_events"] == 0


def test_fault_injection_errors_and_drops(server: Running) -> None:
    status, _, body = faults(server, json.dumps({"error_rate": 1.0, "error_statuses": [429]}).encode())
    assert status == 200 and json.loads(body)["error_rate"] == 1.0
    status, headers, _ = post_json(server, "/e/", event())
    assert status == 429 and headers["retry-after"] == "1"
    faults(server, json.dumps({"error_rate": 0.0, "drop_rate": 1.0}).encode())
    assert post_json(server, "/e/", event())[0] == 200
    assert stored(server) == []
    assert json.loads(call(server, "GET", "/_harness/stats")[2])["dropped_events"] == 1
    assert call(server, "DELETE", "/_harness/faults")[0] == 200
    assert post_json(server, "/e/", event())[0] == 200 and len(stored(server)) == 1


def test_fault_settings_are_checked(server: Running) -> None:
    status, _, body = faults(server, b'{"error_rate": 2}')
    assert status == 400 and b"between 0 and 1" in body
    assert faults(server, b'{"colour": 1}')[0] == 400
    status, _, body = faults(server, b"[1]", "PUT")
    assert status == 400 and json.loads(body) == {"error": "send a JSON object of fault settings"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/_harness/faults", "GET, POST, PUT, DELETE"),
        ("POST", "/_harness/events", "GET"),
        ("GET", "/_harness/reset", "POST"),
        ("DELETE", "/_harness/stats", "GET"),
        ("POST", "/_liveness", "GET"),
    ],
)
def test_inspection_and_health_routes_answer_405_with_their_methods(server: Running, method: str, path: str,
                                                                     allow: str) -> None:
    status, headers, _ = call(server, method, path)
    assert (status, headers["allow"]) == (405, allow)
    assert call(server, "GET", "/_harness/nope")[0] == 404


def test_latency_and_stalls_delay_answers(tmp_path: Path) -> None:
    app = CaptureApp(Store(":memory:"), Faults(latency_ms=150))
    with running(app) as slow:
        started = time.monotonic()
        assert post_json(slow, "/e/", event())[0] == 200
        assert time.monotonic() - started >= 0.14
        started = time.monotonic()
        assert call(slow, "GET", "/_harness/stats")[0] == 200
        assert time.monotonic() - started < 0.1  # inspection is never delayed


# --- inspection parameters: 400 with the reason, never 500 ---------------------------------------------

PYTHON_INTERNALS = ("Traceback", "<class", "Error", "object is not", "not supported between", "repr")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=0", "limit="), ("limit=-1", "limit="), ("limit=1001", "limit="), ("limit=", "limit="),
        ("limit=99999999999999999999999999", "limit="), ("limit=1e3", "limit="), ("limit=%2B5", "limit="),
        ("limit=%205", "limit="), ("limit=1_0", "limit="), ("limit=%D9%A3", "limit="),  # an Arabic-Indic 3
        ("after=-1", "after="), ("after=9223372036854775808", "after="), ("after=99999999999999999999999", "after="),
        ("after=x", "after="), ("since=99999999999999999999999999", "since="), ("since=-5", "since="),
        ("since=", "since="), ("colour=red", "cannot filter on"), ("uuid=a&colour=red", "cannot filter on"),
    ],
)
def test_bad_inspection_parameters_are_400_with_the_reason(server: Running, query: str, reason: str) -> None:
    status, _, body = call(server, "GET", f"/_harness/events?{query}")
    assert status == 400, query
    error = json.loads(body)["error"]
    assert reason in error and not any(internal in error for internal in PYTHON_INTERNALS), error


@pytest.mark.parametrize("query", ["limit=1", "limit=1000", "after=0", "after=9223372036854775807", "since=0"])
def test_inspection_parameters_at_their_bounds_are_accepted(server: Running, query: str) -> None:
    assert call(server, "GET", f"/_harness/events?{query}")[0] == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"latency_ms": true}', "latency_ms must be a number"),
        (b'{"error_rate": false}', "error_rate is a fraction"),
        (b'{"drop_rate": true}', "drop_rate is a fraction"),
        (b'{"retry_after_s": 1.5}', "retry_after_s must be a whole number"),
        (b'{"retry_after_s": true}', "retry_after_s must be a whole number"),
        (b'{"retry_after_s": -1}', "retry_after_s must be a whole number"),
        (b'{"retry_after_s": "2"}', "retry_after_s must be a whole number"),
        (b'{"latency_ms": "100"}', "latency_ms must be a number"),
        (b'{"latency_ms": 1e300}', "latency_ms must be a number"),
        (b'{"stall_every_s": null}', "stall_every_s must be a number"),
        (b'{"jitter_ms": {}}', "jitter_ms must be a number"),
        (b'{"error_statuses": 503}', "error_statuses must be a list"),
        (b'{"error_statuses": []}', "error_statuses must be a list"),
        (b'{"error_statuses": [true]}', "error_statuses must be a list"),
        (b'{"error_statuses": [[503]]}', "error_statuses must be a list"),
        (b'{"error_statuses": ["503"]}', "error_statuses must be a list"),
        (b'{"error_statuses": [503.0]}', "error_statuses must be a list"),
        (b'{"error_statuses": [404]}', "error_statuses must be a list"),
        (b'{"colour": 1}', "unknown fault settings"),
        (b"{", "the body is not JSON"),
        (b'{"latency_ms": 99999999999999999999999}', "latency_ms must be a number"),
        (b"\xff", "the body is not JSON"),
        (b'"text"', "send a JSON object"),
    ],
)
def test_bad_fault_settings_are_400_with_the_reason(server: Running, body: bytes, reason: str) -> None:
    status, _, answer = faults(server, body)
    assert status == 400, body
    error = json.loads(answer)["error"]
    assert reason in error and not any(internal in error for internal in PYTHON_INTERNALS), error
    assert json.loads(call(server, "GET", "/_harness/faults")[2]) == Faults().to_json()  # nothing changed


def test_a_whole_float_retry_after_is_a_whole_header(server: Running) -> None:
    assert faults(server, b'{"error_rate": 1, "retry_after_s": 2.0}')[0] == 200
    status, headers, _ = post_json(server, "/e/", event())
    assert (status, headers["retry-after"]) == (503, "2")


def test_stats_count_answers_of_failures_too(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_store(**_: Any) -> list[dict[str, Any]]:
        raise sqlite3.OperationalError("disk I/O error")

    async def crashing(query: bytes, read_body: Any) -> tuple[int, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.app.store, "events", broken_store)
    status, headers, body = call(server, "GET", "/_harness/events")
    assert (status, headers["retry-after"]) == (503, "1") and b"disk" not in body
    monkeypatch.setitem(server.app.inspection.routes, ("/_harness/faults", "GET"), crashing)
    assert call(server, "GET", "/_harness/faults")[0] == 500
    requests = json.loads(call(server, "GET", "/_harness/stats")[2])["requests"]
    assert requests["/_harness/events"] == {"503": 1} and requests["/_harness/faults"] == {"500": 1}


# --- the inspection API belongs to whoever started the server --------------------------------------------

EVIL = "https://evil.example"


def no_cors(headers: dict[str, str]) -> bool:
    return not any(name.startswith("access-control-") for name in headers)


@pytest.mark.parametrize("path", ["/_harness/stats", "/_harness/events", "/_harness/faults", "/_harness/nope"])
def test_cross_origin_inspection_requests_are_refused_without_cors(server: Running, path: str) -> None:
    status, headers, _ = call(server, "GET", path, headers={"Origin": EVIL})
    assert status == 403 and no_cors(headers)
    status, headers, _ = call(server, "OPTIONS", path, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert status == 403 and no_cors(headers)
    status, headers, _ = call(server, "GET", path, headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and no_cors(headers)


def test_same_origin_inspection_gets_no_cors_and_capture_keeps_its_cors(server: Running) -> None:
    status, headers, _ = call(server, "GET", "/_harness/stats", headers={"Origin": server.url})
    assert status == 200 and no_cors(headers)
    status, headers, _ = post_json(server, "/e/", event(), Origin=EVIL)
    assert (status, headers["access-control-allow-origin"], headers["access-control-allow-credentials"]) == \
        (200, EVIL, "true")
    status, headers, _ = call(server, "OPTIONS", "/batch/", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert (status, headers["access-control-allow-origin"]) == (200, EVIL)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}",
                                  "localhost.evil.example", "", "[::2]:{port}"])
def test_a_rebinding_host_is_refused(server: Running, host: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    status, headers, body = call(server, "GET", "/_harness/events", headers={"Host": host.format(port=port)})
    assert status == 403 and b"does not name this server" in body and no_cors(headers)


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST", "[::1]:{port}", "127.0.0.1"])
def test_the_server_own_names_are_accepted(server: Running, host: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    assert call(server, "GET", "/_harness/stats", headers={"Host": host.format(port=port)})[0] == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_fault_changes_need_a_json_content_type(server: Running, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, _ = call(server, "POST", "/_harness/faults", b'{"drop_rate": 1}', headers)
    assert status == 415
    assert json.loads(call(server, "GET", "/_harness/faults")[2])["drop_rate"] == 0
    assert call(server, "POST", "/_harness/faults", b'{"drop_rate": 1}',
                {"Content-Type": "Application/JSON; charset=utf-8"})[0] == 200


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Running]:
    with running(CaptureApp(Store(":memory:"), inspect_token="s3cret-token")) as started:
        yield started


@pytest.mark.parametrize(("method", "path"), [("GET", "/_harness/events"), ("GET", "/_harness/stats"),
                                              ("POST", "/_harness/reset"), ("GET", "/_harness/faults"),
                                              ("DELETE", "/_harness/faults"), ("GET", "/_harness/nope")])
@pytest.mark.parametrize("credentials", [{}, {"Authorization": "Bearer wrong"}, {"X-Capture-Harness-Token": "wrong"},
                                         {"Authorization": "Basic s3cret-token"}, {"Authorization": "Bearer "}])
def test_without_the_token_every_inspection_route_is_401(guarded: Running, method: str, path: str,
                                                         credentials: dict[str, str]) -> None:
    status, headers, body = call(guarded, method, path, headers=credentials)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer") and no_cors(headers)
    assert b"token" in body and b"s3cret" not in body


@pytest.mark.parametrize("credentials", [{"Authorization": "Bearer s3cret-token"},
                                         {"Authorization": "bearer s3cret-token"},
                                         {"X-Capture-Harness-Token": "s3cret-token"}])
def test_with_the_token_inspection_answers_and_capture_never_needs_it(guarded: Running,
                                                                       credentials: dict[str, str]) -> None:
    assert post_json(guarded, "/e/", event())[0] == 200
    status, _, body = call(guarded, "GET", "/_harness/events", headers=credentials)
    assert status == 200 and len(json.loads(body)["events"]) == 1
