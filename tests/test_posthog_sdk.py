"""The real ``posthog`` Python SDK against a local recording endpoint: what it sends must decode and validate.

The SDK posts to a ``ThreadingHTTPServer`` on 127.0.0.1 that records each request and answers capture's
``200 {"status":"Ok"}``.  Every socket connection to anything but loopback is refused and recorded,
so the test fails rather than reach the network (the SDK has no flag polling without a secret key, but
a future version might try something new).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson
import posthog
import pytest

import harness
from harness.spec.body import events_of
from harness.wire import decode_payload

pytestmark = pytest.mark.e2e  # real SDK clients

API_KEY = "phc_test_sdk_0123456789abcdef"
EXPECTED_EVENTS = {
    "signed_up",
    "anonymous_visit",
    "$set",
    "$set_once",
    "$create_alias",
    "$groupidentify",
    "$exception",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingEndpoint(ThreadingHTTPServer):
    """Records every request; answers like capture on success."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RecordingEndpoint

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
        with self.server.lock:
            self.server.requests.append(request)
        reply = b'{"status":"Ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest's output clean


@pytest.fixture
def endpoint() -> Iterator[RecordingEndpoint]:
    server = RecordingEndpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def send_everything(client: Any) -> None:
    """One call of each kind the contract lists for posthog-python (§11, §13)."""
    client.capture("signed_up", distinct_id="user-1", properties={"plan": "pro"}, groups={"company": "acme"})
    client.capture("anonymous_visit", properties={"path": "/pricing"})  # no distinct id: personless
    client.set(distinct_id="user-1", properties={"email": "user-1@example.com"})
    client.set_once(distinct_id="user-1", properties={"first_seen": "2024-01-02"})
    client.alias(previous_id="anon-1", distinct_id="user-1")
    client.group_identify("company", "acme", {"name": "Acme", "employees": 12})
    try:
        raise ValueError("boom")
    except ValueError as error:
        client.capture_exception(error, distinct_id="user-1")


@pytest.mark.parametrize(
    ("sync_mode", "gzip"),
    [(True, False), (True, True), (False, False), (False, True)],
    ids=["sync", "sync-gzip", "batched", "batched-gzip"],
)
def test_sdk_requests_decode_and_validate(
    endpoint: RecordingEndpoint, refused_connections: list[Any], sync_mode: bool, gzip: bool
) -> None:
    client = posthog.Posthog(
        API_KEY,
        host=endpoint.url,
        sync_mode=sync_mode,
        gzip=gzip,
        flush_at=100,
        max_retries=0,
        enable_local_evaluation=False,
    )
    try:
        send_everything(client)
        client.flush()
    finally:
        client.shutdown()

    assert refused_connections == []
    assert endpoint.requests, "the SDK sent nothing"
    names = []
    for request in endpoint.requests:
        url = urlsplit(request.path)
        assert (request.method, url.path) == ("POST", "/batch/")
        assert (request.headers.get("Content-Encoding") == "gzip") is gzip
        document = orjson.loads(decode_payload(url.path, url.query, request.headers, request.body))
        report = harness.validate(document)
        assert report.accepted, report.rejections
        assert report.status == 200
        assert report.kind == "batch"
        assert report.warnings == (), report.warnings  # every call here is meant to take effect
        names.extend(event["event"] for event in events_of(document))

    assert set(names) == EXPECTED_EVENTS
    assert len(names) == len(EXPECTED_EVENTS), names  # each call sent once, nothing retried
    if not sync_mode:
        assert len(endpoint.requests) == 1  # flush_at=100: one batch holds every event
