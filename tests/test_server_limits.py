"""Connection limits of the reference endpoint, on real sockets (127.0.0.1): a silent connection and a head that
never ends are closed, body bytes in flight are capped (503 with Retry-After), and SIGTERM exits within the
graceful bound while an upload is stalled or a request is delayed.  Every wait polls with a generous deadline."""

from __future__ import annotations

import json
import select
import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.server import CaptureApp, Store
from harness.server.connections import Limits
from harness.server.runner import Running, running
from tests.support import ServeProcess, wait_for

DEADLINE_S = 20.0
"""Far above every bound the tests set (0.5 s to 1 s): only a server that never acts misses it."""


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE_S)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a timeout here fails the test: the server held on)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_reply(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body, read by its Content-Length (the connection stays open: a close with the
    request's body unread would reset it and lose the answer)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without a whole answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[Running]:
    app = CaptureApp(Store(tmp_path / "events.sqlite3"), body_bytes_limit=1_000_000)
    with running(app, limits=Limits(header_timeout_s=0.5, header_bytes=4096)) as started:
        yield started


def test_a_silent_connection_is_closed_after_the_header_timeout(bounded: Running) -> None:
    with connect(bounded.url) as sock:
        assert read_all(sock) == b""  # closed by the server, nothing answered


def test_half_a_header_is_answered_408_and_closed(bounded: Running) -> None:
    with connect(bounded.url) as sock:
        sock.sendall(b"POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: a")
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")


def test_a_later_request_on_a_kept_alive_connection_has_the_header_timeout_too(bounded: Running) -> None:
    with connect(bounded.url) as sock:
        sock.sendall(b"GET /_liveness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /_liveness HTTP/1.1\r\nHost: 1")
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in reply


def test_a_header_that_never_ends_is_refused_431(bounded: Running) -> None:
    with connect(bounded.url) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
        answered = b""
        try:
            for _ in range(64 * 1024):  # at most 64 MiB: the server must stop it long before
                sock.sendall(b"a" * 1024)
                if select.select([sock], [], [], 0)[0]:
                    break
            answered = read_all(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we sent: refused too
        assert answered == b"" or answered.startswith(b"HTTP/1.1 431 ")
        assert bounded.app.stats.requests == {}  # it never became a request


def test_past_the_body_bytes_in_flight_a_request_gets_503_with_retry_after(bounded: Running) -> None:
    with connect(bounded.url) as holder:
        holder.sendall(b"POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 800000\r\n\r\n[")
        wait_for(lambda: bounded.app.bodies.held >= 800_000, "the first upload to hold its declared length",
                 DEADLINE_S, 0.01)
        for framing in (b"Content-Length: 300000\r\n\r\n" + b" " * 300_000,
                        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 300_000 + b" " * 300_000 + b"\r\n0\r\n\r\n"):
            with connect(bounded.url) as late:
                late.sendall(b"POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing)
                head, body = read_reply(late)
            assert head.startswith(b"HTTP/1.1 503 ") and b"\r\nretry-after: 1" in head.lower()
            assert body == b"transient error, please retry"
    wait_for(lambda: bounded.app.bodies.held == 0, "the bytes to be given back", DEADLINE_S, 0.01)
    with connect(bounded.url) as sock:
        event = b'{"api_key":"phc_limits","event":"e","distinct_id":"u"}'
        sock.sendall(b"POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                     % len(event) + event)
        assert read_all(sock).startswith(b"HTTP/1.1 200 ")
    assert bounded.app.stats.requests[("/batch/", 503)] == 2


def in_flight_body_bytes(server: ServeProcess) -> int:
    with urllib.request.urlopen(f"{server.url}/_harness/stats", timeout=DEADLINE_S) as reply:
        return int(json.loads(reply.read())["in_flight"]["body_bytes"])


@pytest.mark.e2e
@pytest.mark.parametrize(("extra", "request_bytes"), [
    ((), b"POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n[{"),  # a stalled upload
    (("--latency-ms", "600000"),  # a request delayed ten minutes, its client gone
     b'POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}'),
], ids=["stalled-upload", "delayed-request"])
def test_sigterm_exits_within_the_graceful_bound(tmp_path: Path, extra: tuple[str, ...], request_bytes: bytes) -> None:
    server = ServeProcess(tmp_path / "events.sqlite3", tmp_path / "serve.log", "--graceful-timeout", "1", *extra)
    with server, connect(server.url) as sock:
        sock.sendall(request_bytes)
        wait_for(lambda: in_flight_body_bytes(server) > 0, "the request to be in flight", DEADLINE_S, 0.01)
        if extra:
            sock.close()
        server.process.send_signal(signal.SIGTERM)
        # without the bound: 30 s (the stalled upload's 408) or ten minutes (the delay)
        assert server.process.wait(timeout=DEADLINE_S) == 0, server.stderr()
