"""Real SDKs in capture v1 mode against the reference endpoint: what they send is stored intact, and they retry
as capture-v1.md §6 says: a 503 resent whole with ``PostHog-Attempt: 2``, a per-event ``retry`` resent alone.

posthog-python 7.91 (``capture_mode="v1"``) runs in this process; posthog-node 5.70 runs in node from
tests/js/node_modules, switched to v1 by ``POSTHOG_CAPTURE_MODE=v1``, the only switch it reads
(``dist/capture-v1/config.js``, ``resolveCaptureMode``).  Both post to a recording proxy in front of
``capture-harness serve``, because the store keeps events, not the attempts that carried them: the proxy
sees every request (path, headers, body) and its answer.  It also makes the faults deterministic without a
fault option the endpoint does not need: a fault set on the endpoint is cleared by the proxy once the first
v1 answer has come back and before the SDK reads it, so exactly the first request meets the fault, whatever
the SDK's backoff.  Which events of a batch ``event_retry_rate`` answers ``retry`` comes from ``serve --seed``,
so it is the same every run.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import posthog
import pytest

from harness.apptest import CaptureEndpoint, start_endpoint
from harness.spec.v1.validation import decode_body
from tests.support import REPO

pytestmark = pytest.mark.e2e  # real SDK clients, a serve subprocess, node

API_KEY = "phc_test_sdk_v1_0123456789abcdef"
V1_PATH = "/i/v1/analytics/events"
SEED = 1
"""``serve --seed``: with ``event_retry_rate`` 0.5 its first four draws answer a four-event batch ``retry``,
``ok``, ``ok``, ``retry``, a batch that is partly retried (the test reads the answer, not this list)."""
NODE_MODULES = REPO / "tests" / "js" / "node_modules"
RETRY_AFTER_S = 1
"""The endpoint's ``Retry-After`` on an injected 503 (``retry_after_s``'s default) and on a 200 holding a
``retry``: both SDKs wait at least that long."""
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
"""Headers of one connection, not of the request: the proxy's own connections write theirs."""
PROXY_WRITES = HOP_BY_HOP | {"date", "server"}
"""Headers of the endpoint's answer the proxy's own answer writes (``BaseHTTPRequestHandler.send_response``)."""

USER = "user-ü-1"
ALIAS = "anon-ü-1"
PROPERTIES = {"plan": "pro ✓", "emoji": "🚀",
              "nested": {"cart": [{"sku": "ß-1", "qty": 2}, {"sku": "日本", "qty": 1}], "total": 12.5, "empty": {},
                         "none": None, "yes": True}}
PERSON = {"email": "zoë@example.com", "name": "Zoë"}
GROUP = {"name": "Acmé", "seats": 12}
CALLS: list[dict[str, Any]] = [
    {"call": "capture", "event": "signed up ✓", "distinct_id": USER, "properties": PROPERTIES},
    {"call": "identify", "distinct_id": USER, "properties": PERSON},
    {"call": "alias", "distinct_id": USER, "alias": ALIAS},
    {"call": "group_identify", "distinct_id": USER, "group_type": "company", "group_key": "acme-ü",
     "properties": GROUP},
]
"""What each SDK is asked to send, in one language for both drivers."""
PROBES: list[dict[str, Any]] = [{"call": "capture", "event": f"probe {n}", "distinct_id": USER,
                                 "properties": {"n": n, "ü": [n]}} for n in range(4)]
"""The batch of the retry tests: four events, so that a partial retry has something to leave out."""
AI_CALLS: list[dict[str, Any]] = [
    {"call": "capture", "event": "$ai_generation", "distinct_id": USER, "properties": {"$ai_model": "mødel-1"}},
    {"call": "capture", "event": "llm answered", "distinct_id": USER, "properties": {"ok": True}},
]
AI_PATH = {"posthog-python": V1_PATH, "posthog-node": "/batch/"}
"""Where a plain ``capture()`` of an ``$ai_*`` event goes in v1 mode.  posthog-python puts every ``capture()``
on the analytics lane (``client.py`` ``_enqueue``: ``lane = self._analytics_lane``); only ``capture_ai()`` uses
the AI lane, pinned to v0 ``/i/v0/ai/batch/``.  posthog-node routes any ``$ai_`` name to its legacy ``/batch/``
transport (``dist/client.js`` ``isLegacyOnlyEvent``, ``dist/capture-v1/routing.js``)."""
COMPRESSION = {"posthog-python": None, "posthog-node": "gzip"}
"""The ``Content-Encoding`` each SDK sends by default (capture-v1.md §6): none (``capture_compression``), gzip."""
PERSON_EVENT = {"posthog-python": "$set", "posthog-node": "$identify"}
"""What ``identify`` becomes: posthog-python has ``set()`` (a ``$set`` event), posthog-node ``identify()``."""

NODE_SCRIPT = r"""
const { PostHog } = require('posthog-node');
const [key, host, text] = process.argv.slice(-3);  // node -e: the arguments follow argv[0]
const calls = JSON.parse(text);
const client = new PostHog(key, { host, flushAt: 100, flushInterval: 60000, fetchRetryDelay: 100 });
const errors = [];
client.on('error', (error) => errors.push(String(error)));
for (const c of calls) {
  if (c.call === 'capture') client.capture({ distinctId: c.distinct_id, event: c.event, properties: c.properties });
  else if (c.call === 'identify') client.identify({ distinctId: c.distinct_id, properties: c.properties });
  else if (c.call === 'alias') client.alias({ distinctId: c.distinct_id, alias: c.alias });
  else if (c.call === 'group_identify') client.groupIdentify({ groupType: c.group_type, groupKey: c.group_key,
                                                                properties: c.properties, distinctId: c.distinct_id });
  else throw new Error(`unknown call ${c.call}`);
}
// The v1 backoff sleeps on an unref()'d timer (capture-v1.md 6): keep the loop alive until shutdown is done.
const alive = setInterval(() => {}, 1000);
client.shutdown(30000).then(() => { clearInterval(alive); console.log(JSON.stringify({ errors })); });
"""


@dataclass(frozen=True)
class Exchange:
    """One request the SDK sent through the proxy and the endpoint's answer to it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    answer: Any
    received: float
    """When the request arrived and when its answer left for the SDK (``time.monotonic()``)."""
    answered: float

    @property
    def document(self) -> dict[str, Any]:
        """The body, decoded as the endpoint decodes it (posthog-node gzips)."""
        document = decode_body(self.body, self.headers.get("content-encoding"), "$.body", frozenset())
        assert isinstance(document, dict), document
        return document

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.document["batch"])

    @property
    def uuids(self) -> list[str]:
        return [event["uuid"] for event in self.events]


class RecordingProxy(ThreadingHTTPServer):
    """Forwards every request to ``upstream`` and records it with its answer; ``after_first_answer`` runs
    once, when the endpoint has answered the first v1 request and before the SDK reads that answer."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = urlsplit(upstream).netloc
        self.exchanges: list[Exchange] = []
        self.failures: list[str] = []
        self.after_first_answer: Callable[[], None] | None = None
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def v1(self) -> list[Exchange]:
        """What the SDK sent, checked to be v1 capture only (no v0 path, no flags call)."""
        with self.lock:
            exchanges = list(self.exchanges)
        assert [(e.method, e.path) for e in exchanges] == [("POST", V1_PATH)] * len(exchanges), exchanges
        return exchanges


class _Forward(BaseHTTPRequestHandler):
    server: RecordingProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' pools expect

    def _forward(self) -> None:
        received = time.monotonic()
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            upstream = http.client.HTTPConnection(self.server.upstream, timeout=30)
            try:
                upstream.request(self.command, self.path, body,
                                 {k: v for k, v in headers.items() if k not in HOP_BY_HOP})
                reply = upstream.getresponse()
                answer, reply_headers = reply.read(), reply.getheaders()
            finally:
                upstream.close()
            with self.server.lock:
                hook = self.server.after_first_answer if self.path == V1_PATH else None
                if hook is not None:
                    self.server.after_first_answer = None
            if hook is not None:
                hook()
            exchange = Exchange(self.command, self.path, headers, body, reply.status,
                                json.loads(answer) if answer else None, received, time.monotonic())
            with self.server.lock:
                self.server.exchanges.append(exchange)
        except Exception as error:  # the SDK only sees a 502; the test's teardown reports why
            self.server.failures.append(f"{self.command} {self.path}: {error!r}")
            reply_headers, answer = [], b""
            self.send_response(502)
        else:
            self.send_response(reply.status)
        for name, value in reply_headers:
            if name.lower() not in PROXY_WRITES:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest's output clean


@pytest.fixture(scope="module")
def endpoint() -> Iterator[CaptureEndpoint]:
    with start_endpoint(args=["--seed", str(SEED)]) as started:
        yield started


@pytest.fixture
def fresh(endpoint: CaptureEndpoint) -> Iterator[CaptureEndpoint]:
    endpoint.reset()
    endpoint.clear_faults()
    yield endpoint
    endpoint.clear_faults()


@pytest.fixture
def proxy(fresh: CaptureEndpoint) -> Iterator[RecordingProxy]:
    server = RecordingProxy(fresh.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert server.failures == []


def send_python(url: str, calls: list[dict[str, Any]]) -> None:
    """posthog-python in v1 mode: one batch (``flush()`` drains the queue at once), then ``shutdown()``."""
    errors: list[Exception] = []
    client = posthog.Posthog(API_KEY, host=url, capture_mode="v1", flush_at=100, flush_interval=60, max_retries=3,
                             on_error=lambda error, batch: errors.append(error))
    for c in calls:
        if c["call"] == "capture":
            client.capture(c["event"], distinct_id=c["distinct_id"], properties=c["properties"])
        elif c["call"] == "identify":
            client.set(distinct_id=c["distinct_id"], properties=c["properties"])
        elif c["call"] == "alias":  # the event posthog-node's alias() sends: distinct_id, properties.alias
            client.alias(previous_id=c["distinct_id"], distinct_id=c["alias"])
        else:
            client.group_identify(c["group_type"], c["group_key"], c["properties"], distinct_id=c["distinct_id"])
    client.flush(timeout_seconds=30)
    client.shutdown()
    assert errors == []


def send_node(url: str, calls: list[dict[str, Any]]) -> None:
    """posthog-node in v1 mode (``POSTHOG_CAPTURE_MODE=v1``): the calls, then ``shutdown()``."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "posthog-node" / "package.json").is_file():
        pytest.skip("needs node and posthog-node in tests/js/node_modules (make tests/js/node_modules/.installed)")
    done = subprocess.run([node, "-e", NODE_SCRIPT, API_KEY, url, json.dumps(calls)], capture_output=True,
                          text=True, timeout=90, check=False,
                          env={**os.environ, "NODE_PATH": str(NODE_MODULES), "POSTHOG_CAPTURE_MODE": "v1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"errors": []}, done.stdout


SENDERS: dict[str, Callable[[str, list[dict[str, Any]]], None]] = {"posthog-python": send_python,
                                                                    "posthog-node": send_node}


@pytest.fixture(params=list(SENDERS))
def sdk(request: pytest.FixtureRequest, refused_connections: list[Any]) -> str:
    """The SDK under test, by its ``$lib`` name; posthog-python's process refuses non-loopback connections."""
    return str(request.param)


def assert_stored_once_intact(endpoint: CaptureEndpoint, sent: list[dict[str, Any]], sdk: str) -> None:
    """Every event in ``sent`` stored exactly once, as v1 and ``ok``, with its uuid, name, distinct id,
    timestamp and every property as sent (the endpoint adds ``$lib`` from ``PostHog-Sdk-Info``); nothing else
    stored."""
    stored = endpoint.events()
    assert sorted(e.uuid for e in stored) == sorted(event["uuid"] for event in sent)
    by_uuid = {e.uuid: e for e in stored}
    for event in sent:
        got = by_uuid[event["uuid"]]
        assert (got.raw["protocol"], got.raw["result"]) == ("v1", "ok")
        assert (got.event, got.distinct_id, got.data["timestamp"]) == \
            (event["event"], event["distinct_id"], event["timestamp"])
        assert "$lib" not in event["properties"]  # the SDKs strip it on v1; the endpoint injects it (§6, §3)
        kept = got.data["properties"]
        assert {name: kept.get(name, "<missing>") for name in event["properties"]} == event["properties"]
        assert kept["$lib"] == sdk


def test_every_event_is_stored_intact(sdk: str, proxy: RecordingProxy, fresh: CaptureEndpoint) -> None:
    SENDERS[sdk](proxy.url, CALLS)
    exchanges = proxy.v1()
    assert [e.status for e in exchanges] == [200] * len(exchanges)
    for exchange in exchanges:
        assert exchange.headers["posthog-attempt"] == "1"
        assert exchange.headers["posthog-sdk-info"].startswith(f"{sdk}/")
        assert exchange.headers["user-agent"].startswith(f"{sdk}/")  # v1 requires one (§3)
        assert exchange.headers.get("content-encoding") == COMPRESSION[sdk]
        assert exchange.headers["authorization"] == f"Bearer {API_KEY}"
        assert exchange.headers["content-type"].startswith("application/json")
        assert exchange.answer == {"results": {uuid: {"result": "ok"} for uuid in exchange.uuids}}
    assert len({e.headers["posthog-request-id"] for e in exchanges}) == len(exchanges)
    sent = [event for exchange in exchanges for event in exchange.events]
    assert len(sent) == len(CALLS)
    assert_stored_once_intact(fresh, sent, sdk)
    fresh.expect_event("signed up ✓", distinct_id=USER, properties=PROPERTIES, timeout=0)
    fresh.expect_event(PERSON_EVENT[sdk], distinct_id=USER, properties={"$set": PERSON}, timeout=0)
    fresh.expect_event("$create_alias", distinct_id=USER, properties={"alias": ALIAS}, timeout=0)
    fresh.expect_event("$groupidentify", properties={"$group_type": "company", "$group_key": "acme-ü",
                                                     "$group_set": GROUP}, timeout=0)


def test_a_503_is_retried_whole_with_attempt_2(sdk: str, proxy: RecordingProxy, fresh: CaptureEndpoint) -> None:
    fresh.faults(error_rate=1.0, error_statuses=[503])
    proxy.after_first_answer = clearing(fresh)
    SENDERS[sdk](proxy.url, PROBES)
    first, second = proxy.v1()
    assert (first.status, first.answer["error"], second.status) == (503, "service_unavailable", 200)
    assert [first.headers["posthog-attempt"], second.headers["posthog-attempt"]] == ["1", "2"]
    assert first.headers["posthog-request-id"] == second.headers["posthog-request-id"]
    assert first.headers["posthog-request-timestamp"] != second.headers["posthog-request-timestamp"]
    assert second.document == first.document  # same created_at, uuids, timestamps
    assert second.received - first.answered >= float(RETRY_AFTER_S)  # Retry-After is a minimum (§6)
    assert len(first.uuids) == len(PROBES)
    assert_stored_once_intact(fresh, second.events, sdk)


def test_a_per_event_retry_is_resent_alone(sdk: str, proxy: RecordingProxy, fresh: CaptureEndpoint) -> None:
    fresh.faults(event_retry_rate=0.5)
    proxy.after_first_answer = clearing(fresh)
    SENDERS[sdk](proxy.url, PROBES)
    first, second = proxy.v1()
    assert (first.status, second.status) == (200, 200)
    results = {uuid: entry["result"] for uuid, entry in first.answer["results"].items()}
    retried = [uuid for uuid in first.uuids if results[uuid] == "retry"]
    assert 0 < len(retried) < len(PROBES), results  # the seed's draws: a batch partly answered retry
    assert [second.headers["posthog-attempt"], second.headers["posthog-request-id"]] == \
        ["2", first.headers["posthog-request-id"]]
    assert second.document["created_at"] == first.document["created_at"]
    assert second.events == [event for event in first.events if event["uuid"] in retried]
    assert second.received - first.answered >= float(RETRY_AFTER_S)  # the 200's Retry-After: 1 (§6)
    assert second.answer == {"results": {uuid: {"result": "ok"} for uuid in retried}}
    assert_stored_once_intact(fresh, first.events, sdk)


def test_ai_events_take_the_route_each_sdk_gives_them(sdk: str, proxy: RecordingProxy,
                                                      fresh: CaptureEndpoint) -> None:
    SENDERS[sdk](proxy.url, AI_CALLS)
    routes = {(e.path, event["event"]) for e in proxy.exchanges for event in e.events}
    assert routes == {(AI_PATH[sdk], "$ai_generation"), (V1_PATH, "llm answered")}
    assert [e.status for e in proxy.exchanges] == [200] * len(proxy.exchanges)
    stored = sorted((e.event, e.raw["protocol"]) for e in fresh.events())
    assert stored == [("$ai_generation", "v1" if AI_PATH[sdk] == V1_PATH else "v0"), ("llm answered", "v1")]


def clearing(endpoint: CaptureEndpoint) -> Callable[[], None]:
    """Turns ``endpoint``'s faults off on a connection of its own: it runs in the proxy's thread, and one
    :class:`CaptureEndpoint` is one connection."""
    def clear() -> None:
        with CaptureEndpoint(endpoint.url, endpoint.inspect_token) as api:
            api.clear_faults()
    return clear
