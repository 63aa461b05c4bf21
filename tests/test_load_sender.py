"""The load users' send path (:mod:`harness.load.sender`) against a scripted HTTP server on a real socket: the
URL's path prefix and credentials, the headers sent, the answer decoded and capped, and every way an answer
can fail to arrive reported as an error rather than raised."""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from harness.checks import MAX_ANSWER_BYTES
from harness.load.sender import Sender
from harness.wire import WireRequest

BODY = b'{"event":"e","distinct_id":"d","api_key":"phc_x"}'


class _Scripted(socketserver.StreamRequestHandler):
    """Answers each request by its path: ``/echo`` with the request head it got, the others as scripted."""

    server: _Server

    def handle(self) -> None:
        try:
            self._serve()
        except ConnectionError:  # the client dropped the connection (an answer over the cap)
            pass

    def _serve(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            self.rfile.read(length)
            self.server.heads.append(head)
            self.server.connections.add(self.client_address)
            path = head.split(b" ")[1].decode()
            if not self._answer(path, head):
                return

    def _answer(self, path: str, head: bytes) -> bool:
        """Write the answer for ``path``; False when the connection is then closed."""
        body, headers, declared = b'{"status":1}', b"Content-Type: application/json\r\n", None
        if path.endswith("/gzip"):
            body, headers = gzip.compress(b'{"status":1}'), headers + b"Content-Encoding: gzip\r\n"
        elif path.endswith("/deflate"):
            body, headers = zlib.compress(b'{"status":1}'), headers + b"Content-Encoding: deflate\r\n"
        elif path.endswith("/large"):
            body = b"x" * (MAX_ANSWER_BYTES * 4)
        elif path.endswith("/bomb"):
            body, headers = gzip.compress(b"0" * (MAX_ANSWER_BYTES * 4)), headers + b"Content-Encoding: gzip\r\n"
        elif path.endswith("/cut"):
            declared = len(body) + 100  # promises more than it sends, then closes
        elif path.endswith("/garbage"):
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            return False
        elif path.endswith("/echo"):
            body = head
        length = len(body) if declared is None else declared
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: %d\r\n\r\n" % length + body)
            self.wfile.flush()
        except OSError:  # the client dropped the connection before the end of a long answer
            return False
        return declared is None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.heads: list[bytes] = []
        self.connections: set[Any] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    scripted = _Server()
    thread = threading.Thread(target=scripted.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield scripted
    scripted.shutdown()
    scripted.server_close()


def _sender(base_url: str, headers: dict[str, str] | None = None) -> Sender:
    return Sender(base_url, headers or {}, ssl_context_factory=lambda **kwargs: None, insecure=True,
                  connection_timeout=5, network_timeout=5)


def _post(path: str, headers: dict[str, str] | None = None) -> WireRequest:
    return WireRequest("POST", path, {"Content-Type": "application/json", **(headers or {})}, BODY)


def test_a_plain_answer_is_read_whole_on_one_kept_alive_connection(server: _Server) -> None:
    sender = _sender(server.url)
    answers = [sender.send(_post("/i/v0/e/")) for _ in range(3)]
    assert [(a.status, a.body, a.error) for a in answers] == [(200, b'{"status":1}', None)] * 3
    assert answers[0].headers.get("content-type") == "application/json" and answers[0].length == 12
    assert answers[0].elapsed_ms > 0 and not answers[0].too_large
    assert len(server.connections) == 1  # kept alive


def test_the_urls_path_prefix_and_credentials_and_the_run_headers_go_with_every_request(server: _Server) -> None:
    host = server.url.removeprefix("http://")
    sender = _sender(f"http://us%40r:p%3Ass@{host}/ingest/", {"X-Gateway-Key": "k1", "Content-Type": "text/plain"})
    answer = sender.send(_post("/echo", {"PostHog-Sdk-Info": "x"}))
    assert answer.body is not None
    head = answer.body.decode().split("\r\n")
    assert head[0] == "POST /ingest/echo HTTP/1.1"
    fields = {line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in head[1:] if line}
    assert fields["authorization"] == "Basic dXNAcjpwOnNz"  # "us@r:p:ss", percent-decoded
    assert fields["x-gateway-key"] == "k1" and fields["posthog-sdk-info"] == "x"
    assert fields["content-type"] == "application/json"  # the request's own header wins over a run header
    assert fields["accept-encoding"] == "gzip, deflate" and fields["content-length"] == str(len(BODY))
    assert fields["host"] == host


def test_a_requests_own_accept_encoding_is_kept(server: _Server) -> None:
    answer = _sender(server.url).send(_post("/echo", {"Accept-Encoding": "identity"}))
    assert answer.body is not None and b"Accept-Encoding: identity\r\n" in answer.body
    assert b"gzip, deflate" not in answer.body


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compressed_answer_is_decoded(server: _Server, coding: str) -> None:
    answer = _sender(server.url).send(_post(f"/{coding}"))
    assert (answer.status, answer.body, answer.error) == (200, b'{"status":1}', None)
    assert answer.length < 40  # the bytes on the wire, not the decoded ones


@pytest.mark.parametrize("path, connections", [("/large", 2), ("/bomb", 1)])
def test_an_answer_over_the_cap_is_too_large(server: _Server, path: str, connections: int) -> None:
    """Too large on the wire: read no further, and the connection is dropped (the rest is never read); too
    large once inflated: the body came whole, so the connection is kept."""
    sender = _sender(server.url)
    answer = sender.send(_post(path))
    assert (answer.status, answer.body, answer.error, answer.too_large) == (200, None, None, True)
    assert answer.length <= MAX_ANSWER_BYTES + 1  # never read past the cap
    assert sender.send(_post("/i/v0/e/")).body == b'{"status":1}'
    assert len(server.connections) == connections


def test_a_body_that_breaks_off_is_an_error_after_the_status(server: _Server) -> None:
    answer = _sender(server.url).send(_post("/cut"))
    assert answer.status == 200 and answer.body is None and answer.error is not None and not answer.too_large


def test_an_answer_that_is_not_http_is_an_error_without_a_status(server: _Server) -> None:
    answer = _sender(server.url).send(_post("/garbage"))
    assert (answer.status, answer.body) == (0, None) and answer.error is not None


def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    answer = _sender(f"http://127.0.0.1:{port}").send(_post("/i/v0/e/"))
    assert (answer.status, answer.body, answer.length) == (0, None, 0)
    assert isinstance(answer.error, ConnectionRefusedError)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8000", "http:///path"])
def test_a_url_that_is_not_an_http_target_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        _sender(url)
