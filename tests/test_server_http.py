"""The reference endpoint over real HTTP: routes, methods, CORS, answers, the store, inspection, faults."""

from __future__ import annotations

import gzip
import json
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
    status, _, body = call(server, "POST", "/_harness/faults", json.dumps({"error_rate": 1.0,
                                                                           "error_statuses": [429]}).encode())
    assert status == 200 and json.loads(body)["error_rate"] == 1.0
    status, headers, _ = post_json(server, "/e/", event())
    assert status == 429 and headers["retry-after"] == "1"
    call(server, "POST", "/_harness/faults", json.dumps({"error_rate": 0.0, "drop_rate": 1.0}).encode())
    assert post_json(server, "/e/", event())[0] == 200
    assert stored(server) == []
    assert json.loads(call(server, "GET", "/_harness/stats")[2])["dropped_events"] == 1
    assert call(server, "DELETE", "/_harness/faults")[0] == 200
    assert post_json(server, "/e/", event())[0] == 200 and len(stored(server)) == 1


def test_fault_settings_are_checked(server: Running) -> None:
    status, _, body = call(server, "POST", "/_harness/faults", b'{"error_rate": 2}')
    assert status == 400 and b"between 0 and 1" in body
    assert call(server, "POST", "/_harness/faults", b'{"colour": 1}')[0] == 400
    status, _, body = call(server, "PUT", "/_harness/faults", b"[1]")
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
