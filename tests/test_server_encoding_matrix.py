"""Every v0 path x every wire encoding x valid and invalid payloads, over real HTTP against the reference endpoint.

Requests are built with :func:`harness.wire.encode`; the status a valid payload must get comes from
:func:`harness.wire.expected_outcome`, which is derived from the contract text alone (§1.1, §2.1).
Invalid payloads are judged in capture's order (§2.1, §2.2, §3.3):

1. decoding and JSON parsing first: when the encoding itself fails on a path (a ``form`` body on
   ``/i/v0/e`` or ``/batch``, whose base64 text is never unwrapped there), every payload gets that same
   400, a payload without a token included, since the token is never even looked for;
2. deserialization next: a uuid that is not a UUID fails ``RawEvent`` parsing, 400, with or without a
   token (§4.1);
3. then the token: a payload without one gets 401, even when its event name is also empty (§3.3);
4. then the events: an empty event name, an empty array or batch, 400 (§2.2, §4.1).

For accepted payloads the stored records are checked too: how many, their uuids (canonical form, a
UUIDv7 where the event had none), and for the hand-built payloads the distinct id, token, name and the
``data`` the record carries.  ``?beacon=1`` turns each 200 into an empty 204 and changes no error.

One server serves the whole module; the store is reset before each case.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from harness.generate.seeded import valid_lines
from harness.server import CaptureApp, Store
from harness.server.runner import running
from harness.spec.body import PERFORMANCE_EVENT, events_of
from harness.wire import ENCODINGS, V0_PATHS, WireRequest, encode, expected_outcome

TOKEN = "phc_encoding_matrix_token"
OK = b'{"status":"Ok"}'


# --- payloads -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What one stored record must hold; ``uuid`` None means "a generated UUIDv7"."""

    uuid: str | None
    event: str
    distinct_id: str
    properties: dict[str, Any]
    data_keys: tuple[str, ...]


@dataclass(frozen=True)
class Payload:
    name: str
    document: Any
    valid: bool
    status: int = 200  # on a path where the encoding works
    text: bytes = b""  # how the error body starts
    expected: tuple[Expected, ...] = field(default=())

    @property
    def json(self) -> bytes:
        return orjson.dumps(self.document)


NESTED = {"plan": "pro", "nested": {"list": [1, 2.5, {"deep": None}], "flag": True}, "empty": {},
          "text": "é ü 中文 😀 \u2028", "base64-tricky": ">>>???"}
"""Properties whose base64 holds ``+`` and ``/`` (from ``>>>???``) and whose text needs UTF-8 throughout."""

SINGLE = {
    "event": "matrix single", "distinct_id": "user-ü", "api_key": TOKEN,
    "uuid": "0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5c", "timestamp": "2026-01-05T09:00:00Z", "properties": NESTED,
}
ARRAY = [  # posthog-js style: token and distinct id inside properties, offset instead of timestamp
    {"event": "$pageview", "uuid": "0190B2C4-4C1A-7C3E-8D55-1B1E2F3A4B5D", "offset": 12,
     "properties": {"token": TOKEN, "distinct_id": "anon-1", "$current_url": "https://example.com/?q=a+b"}},
    {"event": "$identify", "distinct_id": "user-2", "timestamp": "2026-01-05T09:00:01.123Z",
     "$set": {"email": "user-2@example.com"}, "$set_once": {"first": "é"},
     "properties": {"token": TOKEN, "$anon_distinct_id": "anon-1"}},  # no uuid: capture generates a v7
]
BATCH = {  # server SDK style: batch-level api_key, extra per-event keys capture drops from data
    "api_key": TOKEN, "sent_at": "2026-01-05T09:00:10Z", "historical_migration": False,
    "batch": [
        {"event": "signed up", "distinct_id": 42, "uuid": "{0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5e}",
         "type": "capture", "library": "posthog-node", "properties": {"$lib": "posthog-node", **NESTED}},
        {"event": "$groupidentify", "distinct_id": "$company_acme", "uuid": "0190b2c44c1a7c3e8d551b1e2f3a4b5f",
         "properties": {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acmé"}}},
        {"event": "$performance_event", "distinct_id": "x", "properties": {}},  # dropped silently
    ],
}


def _generated(kind: str, count: int, seed: int) -> Any:
    (line,) = valid_lines(kind, count, seed, batch_size=count, api_key=TOKEN)
    return orjson.loads(line.data)


VALID = (
    Payload("single", SINGLE, True, expected=(
        Expected("0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5c", "matrix single", "user-ü", NESTED,
                 ("token", "distinct_id", "uuid", "event", "properties", "timestamp")),
    )),
    Payload("array", ARRAY, True, expected=(
        Expected("0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5d", "$pageview", "anon-1", ARRAY[0]["properties"],
                 ("uuid", "event", "properties", "offset")),
        Expected(None, "$identify", "user-2", ARRAY[1]["properties"],
                 ("distinct_id", "uuid", "event", "properties", "timestamp", "$set", "$set_once")),
    )),
    Payload("batch", BATCH, True, expected=(
        Expected("0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5e", "signed up", "42", BATCH["batch"][0]["properties"],
                 ("distinct_id", "uuid", "event", "properties")),
        Expected("0190b2c4-4c1a-7c3e-8d55-1b1e2f3a4b5f", "$groupidentify", "$company_acme",
                 BATCH["batch"][1]["properties"], ("distinct_id", "uuid", "event", "properties")),
    )),
    Payload("generated-capture", _generated("capture", 1, 7), True),
    Payload("generated-batch", _generated("batch", 4, 7), True),
    Payload("generated-mixed", _generated("mixed", 6, 11), True),
)

NO_TOKEN = {"event": "matrix", "distinct_id": "u"}
INVALID = (
    Payload("missing-token", NO_TOKEN, False, 401, b"event submitted without an api_key"),
    Payload("missing-token-array", [NO_TOKEN, NO_TOKEN], False, 401, b"event submitted without an api_key"),
    # token before event validation: the empty name would be 400, the missing token wins (§3.3)
    Payload("missing-token-empty-event", {**NO_TOKEN, "event": ""}, False, 401,
            b"event submitted without an api_key"),
    Payload("empty-event", {**NO_TOKEN, "api_key": TOKEN, "event": ""}, False, 400,
            b"event submitted with an empty event name"),
    Payload("empty-event-in-batch", {"api_key": TOKEN, "batch": [SINGLE, {**NO_TOKEN, "event": ""}]}, False, 400,
            b"event submitted with an empty event name"),
    Payload("bad-uuid", {**SINGLE, "uuid": "not-a-uuid"}, False, 400, b"failed to parse request"),
    # parsing before the token: a uuid that does not deserialize is 400 even without a token (§4.1)
    Payload("bad-uuid-missing-token", {**NO_TOKEN, "uuid": "0190b2c4-4c1a-7c3e-8d55"}, False, 400,
            b"failed to parse request"),
    Payload("batch-empty", {"api_key": TOKEN, "batch": []}, False, 400, b"request holds no event"),
    Payload("array-empty", [], False, 400, b"request holds no event"),
)

CELLS = [(path, encoding) for path in V0_PATHS for encoding in ENCODINGS]


def expected_records(payload: Payload) -> list[dict[str, Any]]:
    """The events a valid payload must leave in the store, in order ($performance_event removed)."""
    return [event for event in events_of(payload.document) if event.get("event") != PERFORMANCE_EVENT]


# --- HTTP plumbing ------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server, reopened if the server closes it."""

    def __init__(self, url: str) -> None:
        self.netloc = urlsplit(url).netloc
        self.connection = http.client.HTTPConnection(self.netloc, timeout=10)

    def call(self, method: str, target: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request(method, target, body=body or None, headers=headers or {})
                reply = self.connection.getresponse()
                return reply.status, reply.read()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.netloc, timeout=10)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def send(self, request: WireRequest) -> tuple[int, bytes]:
        return self.call(request.method, request.target, request.body, request.headers)

    def stored(self) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/_harness/events?limit=1000")
        assert status == 200
        return json.loads(body)["events"]

    def reset(self) -> None:
        assert self.call("POST", "/_harness/reset")[0] == 200

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def module_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    store = Store(tmp_path_factory.mktemp("matrix") / "events.sqlite3")
    with running(CaptureApp(store, seed=1)) as server:
        client = Client(server.url)
        yield client
        client.close()
    store.close()


@pytest.fixture
def client(module_client: Client) -> Client:
    module_client.reset()
    return module_client


# --- checks -------------------------------------------------------------------------------------------


def assert_stored(records: list[dict[str, Any]], payload: Payload) -> None:
    sent = expected_records(payload)
    assert len(records) == len(sent)
    for record, event in zip(records, sent):
        if event.get("uuid"):
            assert record["uuid"] == str(uuid.UUID(event["uuid"]))
        else:
            assert uuid.UUID(record["uuid"]).version == 7
        assert record["event"] == event["event"]
        assert record["token"] == TOKEN
        plain_id = event.get("distinct_id")
        if isinstance(plain_id, str) and plain_id and "\x00" not in plain_id and len(plain_id.encode()) <= 200:
            assert record["distinct_id"] == plain_id
        data = json.loads(record["data"])
        # a uuid the event carried is in data, canonical; a generated one may be (the contract is silent)
        assert data.get("uuid", record["uuid"]) == record["uuid"]
        assert ("uuid" in data) or not event.get("uuid")
        assert data["event"] == event["event"]
        assert data["properties"] == event.get("properties", {})
    for record, expected in zip(records, payload.expected, strict=False):
        if expected.uuid is not None:
            assert record["uuid"] == expected.uuid
        assert (record["event"], record["distinct_id"], record["token"]) == (
            expected.event, expected.distinct_id, TOKEN)
        data = json.loads(record["data"])
        # known fields only, under their canonical names (rule 22); the order of keys is not compared
        assert set(data) - {"uuid"} == set(expected.data_keys) - {"uuid"}
        assert data["properties"] == expected.properties
    if payload.expected:
        assert len(payload.expected) == len(records)


# --- tests --------------------------------------------------------------------------------------------


def test_the_matrix_covers_every_path_and_encoding() -> None:
    assert len(V0_PATHS) == 12 and len(ENCODINGS) == 8
    assert {expected_outcome(encoding, path) for path, encoding in CELLS} == {200, 400}
    assert all(expected_records(p) for p in VALID)


@pytest.mark.parametrize("payload", VALID, ids=lambda p: p.name)
@pytest.mark.parametrize(("path", "encoding"), CELLS, ids=[f"{p}-{e}" for p, e in CELLS])
def test_valid_payload(client: Client, path: str, encoding: str, payload: Payload) -> None:
    expected = expected_outcome(encoding, path)
    status, body = client.send(encode(payload.json, encoding, path))
    records = client.stored()
    if expected == 200:
        assert (status, body) == (200, OK)
        assert_stored(records, payload)
    else:  # the encoding fails on this path: the JSON parser sees base64 text (§2.1 step 8)
        assert status == expected
        assert body.startswith(b"failed to parse request"), body
        assert records == []


@pytest.mark.parametrize("payload", INVALID, ids=lambda p: p.name)
@pytest.mark.parametrize(("path", "encoding"), CELLS, ids=[f"{p}-{e}" for p, e in CELLS])
def test_invalid_payload(client: Client, path: str, encoding: str, payload: Payload) -> None:
    status, body = client.send(encode(payload.json, encoding, path))
    if expected_outcome(encoding, path) == 200:
        assert status == payload.status
        assert body.startswith(payload.text), body
    else:  # decoding/parsing fails before the token or the events are looked at
        assert status == 400
        assert body.startswith(b"failed to parse request"), body
    assert client.stored() == []


@pytest.mark.parametrize(("path", "encoding"), CELLS, ids=[f"{p}-{e}" for p, e in CELLS])
def test_beacon(client: Client, path: str, encoding: str) -> None:
    expected = expected_outcome(encoding, path)
    valid = VALID[0]
    status, body = client.send(encode(valid.json, encoding, path, query={"beacon": "1"}))
    if expected == 200:
        assert (status, body) == (204, b"")
        assert_stored(client.stored(), valid)
    else:
        assert status == expected
        assert client.stored() == []
    client.reset()
    # beacon=1 changes only a success: an error keeps its status and text
    status, body = client.send(encode(INVALID[0].json, encoding, path, query={"beacon": "1"}))
    assert status == (401 if expected == 200 else 400)
    assert body != b""
    assert client.stored() == []
