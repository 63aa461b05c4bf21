"""The harness as a client of odd or hostile targets (issue 14, point 5): it never crashes on an answer, never
holds more than a bounded amount of one, gives each request a total deadline, stops the contract suite when the
target stops answering, never follows a redirect, and the load command always writes its summary.

Every target is a stub written here (:class:`Stub`, a raw socket server on 127.0.0.1, one thread per
connection), so each failure is exactly the one under test.  The runs of ``capture-harness load`` are real
(Locust in a subprocess, 3 s each) and marked ``e2e``.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import MAX_ANSWER_BYTES, Title, case_for, first_failure
from harness.contract.client import INSPECT_MAX_BYTES, AnswerTooLargeError, Client, NoAnswerError, NotHTTPError
from harness.load import results
from harness.load.ledger import NO_INSPECTION
from harness.load.options import LoadOptions
from harness.spec.body import DEFAULT_TOKEN

Answer = Callable[["Stub", socket.socket, str, str], bool]
"""How a stub answers one request: ``(stub, connection, method, path) -> keep the connection open``."""


class Stub:
    """A raw HTTP-ish server on 127.0.0.1: reads each request (line, headers, Content-Length body) and lets
    ``answer`` write whatever it likes; ``die()`` closes it for good (refused from then on)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.dead = threading.Event()
        self.requests = 0
        self.sent = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            while not self.dead.is_set():
                line = reader.readline(65536)
                if not line.strip():
                    return
                method, path = line.decode("latin-1").split()[:2]
                length = 0
                while (header := reader.readline(65536)).strip():
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                reader.read(length)
                with self._lock:
                    self.requests += 1
                if self.dead.is_set() or not self.answer(self, connection, method, path):
                    return
        except (OSError, ValueError):
            return
        finally:
            connection.close()

    def write(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        with self._lock:
            self.sent += len(data)

    def die(self) -> None:
        self.dead.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> Iterator[Stub]:
    server = Stub(request.param)
    yield server
    server.die()


def http(status: str, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
            "\r\n").encode() + body


def endless_chunked(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    while not stub.dead.is_set():  # until the client drops the connection
        stub.write(connection, chunk)
    return False


def trickle(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, b"HTTP/1.1 200 OK\r\n")
    while not stub.dead.wait(0.05):  # a header byte every 50 ms, for ever: each read gets something
        stub.write(connection, b"X")
    return False


def redirect(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, http("301 Moved Permanently", b"", "text/plain", "Location: http://127.0.0.1:9/moved/\r\n"))
    return True


def not_http(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, b"SSH-2.0-OpenSSH_9.6\r\nthis is no HTTP\r\n\r\n")
    return False


def catch_all(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, http("200 OK", b"{}"))
    return True


def catch_all_text(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, http("200 OK", b"<html>hello</html>", "text/html"))
    return True


def stats_then_no_page(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, http("200 OK", b'{"requests": {}}' if path.startswith("/_harness/stats") else b"{}"))
    return True


def stats_then_endless_page(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    if path.startswith("/_harness/stats"):
        stub.write(connection, http("200 OK", b'{"requests": {}}'))
        return True
    return endless_chunked(stub, connection, method, path)


def wants_token(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    stub.write(connection, http("401 Unauthorized", b'{"error": "the /_harness/ API needs the inspection token"}'))
    return True


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _post() -> Any:
    return case_for("single event", {"api_key": DEFAULT_TOKEN, "event": "e", "distinct_id": "d"}, path="/i/v0/e/",
                    encoding="json", expect=200)


# --- the contract client --------------------------------------------------------------------------------


@pytest.mark.parametrize("stub", [endless_chunked], indirect=True)
def test_an_endless_body_is_read_no_further_than_the_cap(stub: Stub) -> None:
    before = _rss_kib()
    client = Client(stub.url, timeout=30)
    with pytest.raises(AnswerTooLargeError) as raised:
        client.send(_post().request)
    client.close()
    assert raised.value.status == 200 and raised.value.title is Title.ANSWER_TOO_LARGE
    assert f"longer than {MAX_ANSWER_BYTES:,} bytes" in str(raised.value)
    assert _rss_kib() - before < 100 * 1024  # the peak RSS of this process grew by less than 100 MB
    with pytest.raises(AnswerTooLargeError):  # the inspection API's cap is larger, and bounded too
        Client(stub.url, timeout=30).get_json("/_harness/events?limit=1000")
    assert MAX_ANSWER_BYTES < INSPECT_MAX_BYTES <= 16 * 1024 * 1024


@pytest.mark.parametrize("stub", [trickle], indirect=True)
def test_a_trickled_answer_meets_the_total_deadline(stub: Stub) -> None:
    client = Client(stub.url, timeout=0.5)  # every read gets a byte within 50 ms: only a total deadline ends it
    with pytest.raises(NoAnswerError) as raised:
        client.send(_post().request)
    assert raised.value.timed_out and "no answer within 0.5 s" in str(raised.value)


@pytest.mark.parametrize("stub", [redirect], indirect=True)
def test_a_redirect_is_not_followed_and_is_its_own_finding(stub: Stub) -> None:
    case = _post()
    reply = Client(stub.url, timeout=10).send(case.request)
    assert reply.status == 301 and stub.requests == 1  # nothing followed
    failure = first_failure(case, reply)
    assert failure is not None and failure.title is Title.REDIRECTED
    assert "http://127.0.0.1:9/moved/" in failure.detail and "rejected" not in str(failure)


@pytest.mark.parametrize("stub", [not_http], indirect=True)
def test_an_answer_that_is_not_http_is_named(stub: Stub) -> None:
    with pytest.raises(NotHTTPError, match="not HTTP"):
        Client(stub.url, timeout=10).send(_post().request)


# --- the load command's inspection lookups ---------------------------------------------------------------


def _delivery(tmp_path: Path, url: str, token: str | None = None) -> Any:
    options = LoadOptions(url=url, api_key=DEFAULT_TOKEN, scenario="capture", users=1, spawn_rate=1, duration_s=1,
                          processes=1, report_dir=tmp_path, seed=1, inspect_token=token)
    return results.delivery(tmp_path, url, options, since_ms=0)


@pytest.mark.parametrize("stub", [catch_all, catch_all_text], indirect=True)
def test_a_catch_all_proxy_has_no_inspection_api(tmp_path: Path, stub: Stub) -> None:
    delivery = _delivery(tmp_path, stub.url)
    assert not delivery.checked and delivery.unchecked == NO_INSPECTION


@pytest.mark.parametrize(("stub", "expected"), [
    (stats_then_no_page, "not a page of the reference server's inspection API"),
    (stats_then_endless_page, "answered more than a page of the inspection API holds"),
    (not_http, "the target's answer is not HTTP"),
    (wants_token, "needs an inspection token (401"),
], indirect=["stub"])
def test_an_inspection_api_that_cannot_be_read_leaves_delivery_unchecked(tmp_path: Path, stub: Stub,
                                                                         expected: str) -> None:
    delivery = _delivery(tmp_path, stub.url)
    assert not delivery.checked and expected in delivery.unchecked, delivery.unchecked


@pytest.mark.parametrize("stub", [wants_token], indirect=True)
def test_a_refused_inspection_token_is_named(tmp_path: Path, stub: Stub) -> None:
    delivery = _delivery(tmp_path, stub.url, token="wrong")
    assert "refused the inspection token (401" in delivery.unchecked and "--inspect-token" in delivery.unchecked


@pytest.mark.parametrize("stub", [catch_all], indirect=True)
def test_a_target_that_died_stopped_answering(tmp_path: Path, stub: Stub) -> None:
    stub.die()
    delivery = _delivery(tmp_path, stub.url)
    assert not delivery.checked and delivery.unchecked.startswith("the target stopped answering"), delivery.unchecked
    assert "no /_harness/ inspection API" not in delivery.unchecked


# --- the contract suite's circuit breaker ------------------------------------------------------------------


def stalls_on_capture(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    if path.startswith("/_harness/"):
        stub.write(connection, http("404 Not Found", b"not found", "text/plain"))
        return True
    stub.dead.wait()  # accepted, read, never answered
    return False


@pytest.mark.e2e
@pytest.mark.parametrize("stub", [stalls_on_capture], indirect=True)
def test_the_suite_stops_when_the_target_stops_answering(tmp_path: Path, stub: Stub) -> None:
    command = [sys.executable, "-m", "pytest", "--pyargs", "harness.contract", "-p", "no:cacheprovider", "-q",
               "--capture-url", stub.url, "--capture-timeout", "0.3", f"--junitxml={tmp_path / 'junit.xml'}"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          check=False)  # without a breaker: 369 x 0.3 s
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "the target stopped answering: 5 consecutive requests got no answer" in output, output[-3000:]
    assert "remaining tests not run" in output
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") < 40, "the suite went on after the breaker opened"  # 369 tests in all
    assert stub.requests < 40


# --- capture-harness load against odd targets ----------------------------------------------------------


def dies_after_some(stub: Stub, connection: socket.socket, method: str, path: str) -> bool:
    if stub.requests >= 30:
        stub.die()
        return False
    stub.write(connection, http("200 OK", b'{"status": 1}'))
    return True


def _load(tmp_path: Path, url: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--url", url, "--scenario", "capture",
                           "-t", "3s", "-u", "2", "--report-dir", str(report)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False)
    assert (report / "summary.json").is_file(), done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done, json.loads((report / "summary.json").read_text())


def _titles(summary: dict[str, Any]) -> set[str]:
    return {error["error"] for error in summary["errors"]}


@pytest.mark.e2e
@pytest.mark.parametrize(("stub", "title", "unchecked"), [
    (catch_all, "success body not conformant (200)", NO_INSPECTION),
    (not_http, "connection failed", "the target's answer is not HTTP"),
    (redirect, "redirected (301)", NO_INSPECTION),
    (endless_chunked, "answer too large (200)", "answered more than a page of the inspection API holds"),
    (dies_after_some, "", "the target stopped answering"),
], indirect=["stub"], ids=["catch-all-200", "not-http", "redirect", "endless-body", "dies-mid-run"])
def test_load_never_crashes_and_writes_its_summary(tmp_path: Path, stub: Stub, title: str, unchecked: str) -> None:
    done, summary = _load(tmp_path, stub.url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert summary["verdict"]["passed"] is False
    assert summary["delivery"]["checked"] is False and unchecked in summary["delivery"]["unchecked"], summary
    if title:
        assert title in _titles(summary), summary["errors"]
    assert not any("rejected a valid request" in t for t in _titles(summary)), summary["errors"]
    if stub.answer is redirect:
        assert stub.requests == summary["requests"] + 1, "a redirect was followed"  # + the inspection probe
