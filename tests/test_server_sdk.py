"""The real ``posthog`` Python SDK pointed at the reference endpoint: everything it sends must be stored intact.

The reference server runs in-process behind a tiny ASGI middleware that records every request it
receives (method, path, query, headers, body, status), so the test knows exactly what the SDK put on
the wire.  Each recorded body is decoded with :func:`harness.wire.decode_payload` and every event in it
must be in the store with the same uuid, distinct id, event name and ``data`` (the known fields the
SDK sent: properties, timestamp, ``$set``/``$set_once``...), the SDK's token and the batch's
``sent_at``.  Both with ``gzip=True`` (``Content-Encoding: gzip``) and without, in sync and batched
mode.

Nothing may leave the machine: every socket connection to a non-loopback address is refused and
recorded (the test fails on any), proxies are unset, v0 capture is pinned, local flag evaluation is
off and no personal API key is given, so the SDK has no reason to call anything but ``/batch/``.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from harness.spec.body import events_of
from harness.spec.records import KNOWN_FIELDS
from harness.wire import decode_payload

pytestmark = pytest.mark.e2e  # real SDK clients

posthog = pytest.importorskip("posthog", reason="the posthog SDK is not installed (pip install .[test])")

API_KEY = "phc_test_server_sdk_0123456789abcdef"
CUSTOM_PROPERTIES = {
    "plan": "pro",
    "seats": 12,
    "ratio": 0.25,
    "trial": False,
    "nothing": None,
    "nested": {"list": [1, "two", {"three": [3.0, None, True]}], "empty": {}, "deeper": {"a": {"b": {"c": "d"}}}},
    "unicode": "é ü ß 中文 日本語 😀🚀 \u2028 עברית",
    "ключ 🔑": "значение",
    "quotes": "she said \"hi\" \\ bye",
}
EXPECTED_EVENTS = {"custom event ✓", "anonymous_visit", "$set", "$set_once", "$create_alias", "$groupidentify",
                   "$exception"}


# --- recording the wire -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int


class Recorder:
    """ASGI middleware: passes every request to ``app`` and records it with the status it got."""

    def __init__(self, app: CaptureApp) -> None:
        self.app = app
        self.requests: list[Request] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_harness/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                # recorded before the client can see the answer (the app has read the whole body by now)
                self.requests.append(Request(scope["method"], scope["path"], scope["query_string"].decode("latin-1"),
                                             headers, b"".join(chunks), message["status"]))
            await send(message)

        await self.app(scope, recording_receive, recording_send)

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Recorder]]:
    store = Store(tmp_path_factory.mktemp("sdk") / "events.sqlite3")
    recorder = Recorder(CaptureApp(store, seed=1))
    with running(recorder) as started:  # type: ignore[arg-type]  # any ASGI app serves
        yield started, recorder
    store.close()


@pytest.fixture
def served(server: tuple[Running, Recorder]) -> tuple[str, Recorder]:
    """The module's server URL and its recorder, with an empty store and no recorded request."""
    started, recorder = server
    assert inspect(started.url, "POST", "/_harness/reset")["status"] == "reset"
    recorder.requests.clear()
    return started.url, recorder


def inspect(url: str, method: str, target: str) -> Any:
    """A call to the inspection API (not recorded by :class:`Recorder`)."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
    try:
        connection.request(method, target)
        reply = connection.getresponse()
        assert reply.status == 200
        return orjson.loads(reply.read())
    finally:
        connection.close()


# --- the SDK calls ------------------------------------------------------------------------------------


def send_everything(client: Any) -> None:
    client.capture("custom event ✓", distinct_id="user-ü-1", properties=CUSTOM_PROPERTIES,
                   groups={"company": "acme"})
    client.capture("anonymous_visit", properties={"path": "/pricing?q=a+b&x=ü"})  # no distinct id: personless
    client.set(distinct_id="user-ü-1", properties={"email": "user-1@example.com", "name": "Zoë 中"})
    client.set_once(distinct_id="user-ü-1", properties={"first_seen": "2024-01-02", "tags": ["a", "b"]})
    client.alias(previous_id="anon-1", distinct_id="user-ü-1")
    client.group_identify("company", "acme", {"name": "Acmé", "employees": 12, "meta": {"tier": [1, 2]}})
    try:
        raise ValueError("boom ✗")
    except ValueError as error:
        client.capture_exception(error, distinct_id="user-ü-1")


def stored_events(url: str) -> list[dict[str, Any]]:
    answer = inspect(url, "GET", "/_harness/events?limit=1000")
    assert answer["next_after"] is None
    return answer["events"]


def wire_events(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The decoded body of one SDK request and its events, exactly as the server received them."""
    document = orjson.loads(decode_payload(request.path, request.query, request.headers, request.body))
    assert isinstance(document, dict)
    return document, events_of(document)


# --- the test -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sync_mode", "gzip"),
    [(True, False), (True, True), (False, False), (False, True)],
    ids=["sync", "sync-gzip", "batched", "batched-gzip"],
)
def test_every_sdk_event_is_stored_intact(
    served: tuple[str, Recorder], refused_connections: list[Any], sync_mode: bool, gzip: bool
) -> None:
    server_url, recorder = served
    client = posthog.Posthog(API_KEY, host=server_url, sync_mode=sync_mode, gzip=gzip, flush_at=100,
                             max_retries=0, enable_local_evaluation=False, capture_mode="v0")
    try:
        send_everything(client)
        client.flush()
    finally:
        client.shutdown()

    assert refused_connections == []
    assert recorder.requests, "the SDK sent nothing"
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (batch document, event)
    for request in recorder.requests:
        assert (request.method, request.path, request.status) == ("POST", "/batch/", 200)
        assert (request.headers.get("content-encoding") == "gzip") is gzip
        document, events = wire_events(request)
        assert document["api_key"] == API_KEY
        sent.extend((document, event) for event in events)
    if not sync_mode:
        assert len(recorder.requests) == 1  # flush_at=100: one batch holds every event

    names = [event["event"] for _, event in sent]
    assert sorted(names) == sorted(EXPECTED_EVENTS)  # each call sent once, nothing retried

    records = stored_events(server_url)
    assert len(records) == len(sent)
    by_uuid = {record["uuid"]: record for record in records}
    assert len(by_uuid) == len(records)
    for document, event in sent:
        record = by_uuid[str(uuid.UUID(event["uuid"]))]
        assert record["uuid"] == event["uuid"]  # the SDK already sends the canonical form
        assert record["distinct_id"] == event["distinct_id"]  # python sends distinct ids as strings
        assert record["event"] == event["event"]
        assert record["token"] == API_KEY
        assert record["ip"] == "127.0.0.1"
        assert datetime.fromisoformat(record["sent_at"]) == datetime.fromisoformat(document["sent_at"])
        assert record["historical_migration"] is False
        data = orjson.loads(record["data"])
        assert data["properties"] == event["properties"]
        # capture keeps the known fields (rule 22); the SDK sends nothing else at the top level
        assert set(event) <= set(KNOWN_FIELDS), set(event) - set(KNOWN_FIELDS)
        assert data == {key: value for key, value in event.items() if value is not None}

    custom = next(event for _, event in sent if event["event"] == "custom event ✓")
    assert {k: custom["properties"][k] for k in CUSTOM_PROPERTIES} == CUSTOM_PROPERTIES
    assert next(event for _, event in sent if event["event"] == "$set")["$set"]["name"] == "Zoë 中"

