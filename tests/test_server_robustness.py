"""Nothing a client can send makes the reference endpoint answer 5xx, crash, hang or drop the connection.

Four layers, all on 127.0.0.1 with bounded sizes and times:

- a table of hostile bodies (random bytes, broken gzip, invalid UTF-8, lone surrogates, nesting 100,000
  deep, numbers beyond float range, NaN, empty bodies, garbage forms, ...): each gets a 4xx, and the
  server still accepts and stores a valid event right after;
- raw sockets for what ``http.client`` will not send: a body cut short by a disconnect, lying or broken
  framing, a stalled upload (408), a declared length over the wire cap (413 before any body);
- a Hypothesis fuzz at the HTTP level: random methods, paths, headers, queries and bodies, among them
  valid requests built by :func:`harness.wire.encode` and then mutated byte by byte; never a 5xx, and a
  2xx only for a request whose decoded payload the validator accepts;
- a gzip bomb (1 GiB of zeros, ~1 MiB on the wire) against ``capture-harness serve`` in a subprocess:
  413 within seconds, and the process's peak RSS stays far below the bomb's size.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import random
import socket
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness import validate, wire
from harness.contract import bodies
from harness.generate import seeded
from harness.generate.traffic import BODY_KINDS
from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from harness.wire import ENCODINGS, FORM_CONTENT_TYPE, V0_PATHS
from tests.support import ServeProcess, request

TOKEN = "phc_robustness"
ENGAGE_PATHS = ("/engage", "/engage/")


# --- helpers -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One endpoint for the table and the fuzz: they only add rows, and each check finds its own by uuid."""
    with running(CaptureApp(Store(tmp_path_factory.mktemp("robustness") / "events.sqlite3"), seed=7)) as started:
        yield started


def netloc(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    return parts.hostname, parts.port


def call(url: str, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """One request on a fresh connection; a dropped or reset connection raises (and fails the test)."""
    status, _, reply = request(url, method, target, body, headers, timeout)
    return status, reply


def capture_event(**fields: Any) -> dict[str, Any]:
    return {"event": "robustness_probe", "distinct_id": "user-1", "api_key": TOKEN,
            "uuid": str(uuid.uuid4()), **fields}


def assert_still_serves(running_server: Running) -> None:
    """A valid event right after the hostile request is answered 200 and stored."""
    probe = capture_event()
    status, body = call(running_server.url, "POST", "/i/v0/e/", orjson.dumps(probe),
                        {"Content-Type": "application/json"})
    assert (status, body) == (200, b'{"status":"Ok"}')
    assert [row["uuid"] for row in running_server.app.store.events(uuid=probe["uuid"])] == [probe["uuid"]]


def raw_socket(url: str, timeout: float = 10) -> socket.socket:
    return socket.create_connection(netloc(url), timeout=timeout)


def read_reply(reader: BinaryIO) -> tuple[int, bytes]:
    """The next response from ``sock.makefile("rb")``, read by its framing (the server may keep the
    connection open, so reading to EOF would wait).  One reader per socket: ``http.client.HTTPResponse``
    buffers ahead and would swallow the start of a pipelined second reply."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- table: hostile bodies -------------------------------------------------------------------------------

_RANDOM = random.Random(20260105)
RANDOM_BYTES = _RANDOM.randbytes(4096)
RANDOM_BASE64 = base64.b64encode(_RANDOM.randbytes(300))
VALID = body_of([capture_event(uuid=None)])
VALID_GZIP = gzip.compress(VALID, mtime=0)


def event_with(value: str) -> bytes:
    """A valid event's JSON text with ``value`` (raw JSON text) as a property."""
    return f'{{"event":"e","distinct_id":"u","api_key":"{TOKEN}","properties":{{"value":{value}}}}}'.encode()


JSON_CT = {"Content-Type": "application/json"}
TEXT_CT = {"Content-Type": "text/plain"}
FORM_CT = {"Content-Type": FORM_CONTENT_TYPE}


@dataclass(frozen=True)
class Hostile:
    name: str
    body: bytes | None
    headers: dict[str, str]
    target: str = "/batch/"
    status: int = 400
    text: bytes = b""  # the start of the plain-text answer, when it says something worth pinning


HOSTILE = [
    Hostile("random-bytes-json", RANDOM_BYTES, JSON_CT, text=b"failed to decode request"),
    Hostile("random-bytes-text", RANDOM_BYTES, TEXT_CT, target="/e/"),
    Hostile("random-bytes-form", RANDOM_BYTES, FORM_CT, text=b"failed to decode request"),
    Hostile("random-bytes-gzip-header", RANDOM_BYTES, {"Content-Encoding": "gzip"}, text=b"failed to decode request"),
    Hostile("random-bytes-after-gzip-magic", wire.GZIP_MAGIC + RANDOM_BYTES, TEXT_CT),
    Hostile("nul-bytes", b"\x00" * 1000, JSON_CT),
    Hostile("truncated-gzip-with-header-hint", VALID_GZIP[:-10], {"Content-Encoding": "gzip"},
            text=b"failed to decode request: invalid GZIP data"),
    Hostile("truncated-gzip-with-query-hint", VALID_GZIP[: len(VALID_GZIP) // 2], TEXT_CT,
            target="/batch/?compression=gzip-js", text=b"failed to decode request: invalid GZIP data"),
    Hostile("truncated-gzip-without-hint", VALID_GZIP[:20], TEXT_CT,
            text=b"failed to decode request: invalid GZIP data"),
    Hostile("gzip-hint-on-plain-json", VALID, {"Content-Encoding": "gzip"}, text=b"failed to decode request"),
    Hostile("gzip-of-invalid-utf8", gzip.compress(b"\xff\xfe\xfd" * 100), TEXT_CT,
            text=b"failed to decode request: invalid gzip data"),
    Hostile("base64-of-truncated-gzip", base64.b64encode(VALID_GZIP[:-8]), TEXT_CT),
    Hostile("deflate-is-not-v0", zlib.compress(VALID), {"Content-Encoding": "deflate"}),
    Hostile("invalid-utf8", b'[{"event":"\xff\xfe","distinct_id":"u","api_key":"' + TOKEN.encode() + b'"}]', JSON_CT,
            text=b"failed to decode request: invalid UTF8 in request payload"),
    Hostile("overlong-utf8", b'[{"event":"\xc0\xaf"}]', JSON_CT, text=b"failed to decode request"),
    Hostile("lone-high-surrogate", event_with('"\\ud800"'), JSON_CT, text=b"failed to parse request"),
    Hostile("lone-low-surrogate", event_with('"\\udc00x"'), JSON_CT, text=b"failed to parse request"),
    Hostile("reversed-surrogates", event_with('"\\udc00\\ud800"'), JSON_CT),
    Hostile("surrogate-in-key", b'{"event":"e","distinct_id":"u","api_key":"t","properties":{"\\ud800":1}}', JSON_CT),
    Hostile("surrogate-in-token", b'{"event":"e","distinct_id":"u","api_key":"\\ud800"}', JSON_CT),
    Hostile("surrogate-in-distinct-id", b'{"event":"e","distinct_id":"\\udbff","api_key":"t"}', JSON_CT),
    Hostile("open-brackets-100000", b"[" * 100_000, JSON_CT, text=b"failed to parse request"),
    Hostile("balanced-brackets-100000", nested(100_000).encode(), JSON_CT, text=b"failed to parse request"),
    Hostile("objects-100000", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, JSON_CT),
    Hostile("brackets-1000", nested(1000).encode(), JSON_CT, text=b"failed to parse request"),
    Hostile("objects-1000", b'{"a":' * 1000 + b"1" + b"}" * 1000, JSON_CT),
    Hostile("property-nested-1000", event_with(nested(1000)), JSON_CT),
    Hostile("event-name-nested-1000",
            f'{{"event":{nested(1000)},"distinct_id":"u","api_key":"{TOKEN}"}}'.encode(), JSON_CT),
    Hostile("property-nested-200", event_with(nested(200)), JSON_CT),
    Hostile("number-1e400", event_with("1e400"), JSON_CT, text=b"failed to parse request"),
    Hostile("number-minus-1e400", event_with("-1e400"), JSON_CT),
    Hostile("integer-400-digits", event_with("9" * 400), JSON_CT),
    Hostile("offset-1e400", b'{"event":"e","distinct_id":"u","api_key":"t","offset":1e400}', JSON_CT),
    Hostile("nan-literal", event_with("NaN"), JSON_CT, text=b"failed to parse request"),
    Hostile("infinity-literal", event_with("Infinity"), JSON_CT),
    Hostile("empty-body-post", b"", JSON_CT, text=b"request missing data payload"),
    Hostile("get-without-data", None, {}, target="/e/", text=b"request missing data payload"),
    Hostile("get-with-empty-data", None, {}, target="/e/?data=", text=b"request missing data payload"),
    Hostile("get-with-garbage-data", None, {}, target="/e/?data=%FF%FE%00%C0", text=b"failed to parse request"),
    Hostile("whitespace-body", b" \n\t\r ", JSON_CT),
    Hostile("json-scalar", b'"just a string"', JSON_CT),
    Hostile("json-trailing-garbage", VALID + b" trailing", JSON_CT),
    Hostile("form-garbage-escapes", b"data=%ZZ%%%\xff\xfe&&&==", FORM_CT),
    Hostile("form-empty-data", b"data=", FORM_CT, target="/e/"),
    Hostile("form-random-bytes-data", b"data=" + RANDOM_BYTES[:500], FORM_CT, target="/e/"),
    Hostile("form-random-base64-data", b"data=" + RANDOM_BASE64.replace(b"+", b"%2B"), FORM_CT, target="/e/"),
    Hostile("form-lz64-garbage", b"data=!!!!&compression=lz64", FORM_CT, target="/e/",
            text=b"failed to decode request: decompress_lz64"),
    Hostile("form-lz64-random-base64", b"data=" + RANDOM_BASE64.replace(b"+", b"%2B") + b"&compression=lz64",
            FORM_CT, target="/e/"),
    Hostile("form-gzip-hint-random", b"data=" + RANDOM_BASE64.replace(b"+", b"%2B") + b"&compression=gzip",
            FORM_CT, target="/e/", text=b"failed to decode request"),
    Hostile("form-repeated-data", b"data=a&data=b", FORM_CT, text=b"failed to decode request"),
    Hostile("form-content-type-on-json", VALID, FORM_CT,
            text=b"failed to decode request: expected form data in POST request payload"),
    Hostile("form-content-type-on-gzip", VALID_GZIP, FORM_CT, text=b"failed to decode request"),
    Hostile("lz64-header-on-random-bytes", RANDOM_BYTES[:64], {"Content-Encoding": "lz64"}),
    Hostile("lz64-query-on-random-text", b"!" + RANDOM_BASE64, TEXT_CT, target="/batch/?compression=lz-string"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[case.name for case in HOSTILE])
def test_hostile_body_gets_a_4xx_and_the_server_keeps_serving(server: Running, case: Hostile) -> None:
    method = "GET" if case.body is None else "POST"
    status, body = call(server.url, method, case.target, case.body, case.headers)
    assert status == case.status, body[:200]
    assert body.startswith(case.text), body[:200]
    assert_still_serves(server)


@pytest.mark.e2e
def test_a_50000_event_batch_is_accepted_and_stored_whole(server: Running) -> None:
    sent = [capture_event(properties={"index": index}) for index in range(50_000)]
    payload = orjson.dumps({"api_key": TOKEN, "batch": sent})
    started = time.monotonic()
    status, body = call(server.url, "POST", "/batch/", payload, {"Content-Type": "application/json"}, timeout=60)
    elapsed = time.monotonic() - started
    assert (status, body) == (200, b'{"status":"Ok"}')
    assert elapsed < 60, f"a 50,000-event batch ({len(payload):,} bytes) took {elapsed:.1f} s"
    stored = {row["uuid"] for row in server.app.store.events(limit=server.app.store.count())}
    missing = [e["uuid"] for e in sent if e["uuid"] not in stored]
    assert not missing, f"{len(missing)} of 50,000 acknowledged events are not stored, e.g. {missing[:3]}"
    assert_still_serves(server)


# --- raw sockets: framing a client can break -------------------------------------------------------------


def wait_for_status_count(running_server: Running, path: str, status: int, at_least: int) -> None:
    deadline = time.monotonic() + 5
    while running_server.app.stats.requests[(path, status)] < at_least:
        assert time.monotonic() < deadline, f"the server never finished the {path} request ({status} not counted)"
        time.sleep(0.01)


def test_client_disconnecting_mid_body_is_survived(server: Running) -> None:
    before = server.app.stats.requests[("/e/", 499)]
    with raw_socket(server.url) as sock:
        sock.sendall(b"POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b'[{"event":')
    # the handler notices the disconnect and finishes (counted as 499), rather than waiting for the body
    wait_for_status_count(server, "/e/", 499, before + 1)
    assert_still_serves(server)


@pytest.mark.parametrize(
    ("name", "request_bytes", "status"),
    [
        ("content-length-shorter-than-body",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n" + VALID, 400),
        ("content-length-not-a-number", b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n[]", 400),
        ("content-length-negative", b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n[]", 400),
        ("content-length-twice",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]]", 400),
        ("content-length-over-the-wire-cap",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 413),
        ("chunked-with-a-bad-chunk-size",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("not-http-at-all", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)), 400),
        ("header-with-control-bytes",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nX-Odd: \xff\x00\r\nContent-Length: 2\r\n\r\n[]", 400),
        ("latin-1-origin-mirrored",
         b"POST /batch/ HTTP/1.1\r\nHost: h\r\nOrigin: \xe9\xff\r\nContent-Length: 2\r\n\r\n[]", 400),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_broken_framing_gets_a_4xx(server: Running, name: str, request_bytes: bytes, status: int) -> None:
    with raw_socket(server.url) as sock:
        sock.sendall(request_bytes)
        got, body = read_reply(sock.makefile("rb"))  # answered (no reset, no hang past the socket timeout)
    assert got == status, (name, body[:200])
    assert_still_serves(server)


def test_keep_alive_connection_survives_a_rejected_request(server: Running) -> None:
    """A 4xx on a keep-alive connection leaves it usable: the next request on it is answered normally."""
    probe = orjson.dumps(capture_event())
    with raw_socket(server.url) as sock:
        rejected = b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(RANDOM_BYTES) + RANDOM_BYTES
        accepted = b"POST /e/ HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(probe) + probe
        sock.sendall(rejected + accepted)  # pipelined: the second request waits behind the first
        replies = sock.makefile("rb")
        assert read_reply(replies)[0] == 400
        assert read_reply(replies) == (200, b'{"status":"Ok"}')


def test_a_stalled_upload_is_answered_408(tmp_path: Path) -> None:
    app = CaptureApp(Store(tmp_path / "events.sqlite3"), body_chunk_timeout_s=0.5)
    with running(app) as slow:
        with raw_socket(slow.url) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /batch/ HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n" + VALID[:10])
            time.sleep(1.0)
            status, body = read_reply(sock.makefile("rb"))
            elapsed = time.monotonic() - started
        assert (status, body) == (408, b"client stopped sending data")
        assert elapsed < 5
        assert app.store.count() == 0
        assert_still_serves(slow)


# --- Hypothesis: fuzz at the HTTP level ------------------------------------------------------------------

VALID_BODIES: tuple[bytes, ...] = tuple(
    line.data for kind in BODY_KINDS for line in seeded.valid_lines(kind, 6, seed=11, batch_size=3, api_key=TOKEN)
)
HINTS = ("gzip", "gzip-js", "GZIP", "lz64", "lz-string", "base64", "b64", "deflate", "br", "zstd", "identity", "")
CONTENT_TYPES = ("application/json", "text/plain", FORM_CONTENT_TYPE, FORM_CONTENT_TYPE + "; charset=UTF-8",
                 "application/octet-stream", "multipart/form-data; boundary=x", "application/json; charset=utf-8")
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
QUERY_TEXT = st.text(max_size=60) | st.binary(max_size=60)


@dataclass(frozen=True)
class Fuzzed:
    method: str
    path: str
    query: str  # without the "?"
    headers: dict[str, str]
    body: bytes
    expected: int | None = None  # the exact status, for a valid request sent untouched

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def _query(pairs: list[tuple[str, str | bytes]]) -> str:
    return urlencode(pairs, quote_via=quote)


@st.composite
def query_pairs(draw: st.DrawFn) -> list[tuple[str, str | bytes]]:
    pairs: list[tuple[str, str | bytes]] = []
    if draw(st.booleans()):
        pairs.append(("compression", draw(st.sampled_from(HINTS) | st.text(max_size=10))))
    if draw(st.integers(0, 4)) == 0:
        data = draw(st.sampled_from(VALID_BODIES).map(lambda body: base64.b64encode(body)) | QUERY_TEXT)
        pairs.append(("data", data))
    if draw(st.booleans()):
        pairs.append(("beacon", draw(st.sampled_from(["1", "0", "true", ""]))))
    if draw(st.booleans()):
        pairs.append(("_", draw(st.sampled_from([str(int(time.time() * 1000)), "1600000000", "-1", "abc"])
                                | st.integers().map(str))))
    if draw(st.integers(0, 3)) == 0:
        pairs.append((draw(st.text(min_size=1, max_size=8)), draw(QUERY_TEXT)))
    return draw(st.permutations(pairs))


@st.composite
def random_headers(draw: st.DrawFn) -> dict[str, str]:
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES) | HEADER_TEXT)
    if draw(st.booleans()):
        headers["Content-Encoding"] = draw(st.sampled_from(HINTS) | HEADER_TEXT)
    for _ in range(draw(st.integers(0, 2))):
        name = "X-" + draw(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12))
        headers[name] = draw(HEADER_TEXT)
    if draw(st.integers(0, 5)) == 0:
        headers["Origin"] = draw(HEADER_TEXT)
    if draw(st.integers(0, 5)) == 0:
        headers["X-Forwarded-For"] = draw(HEADER_TEXT)
    return headers


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few byte-level edits: flips, cuts, insertions, duplicated or deleted runs."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        size = len(buffer)
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate", "set"]))
        at = draw(st.integers(0, size)) if size else 0
        if kind == "flip" and size:
            at = min(at, size - 1)
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and size:
            at = min(at, size - 1)
            buffer[at] = draw(st.sampled_from([0, 0x22, 0x5C, 0x7B, 0x5B, 0x1F, 0x8B, 0xFF, 0x25, 0x2B, 0x3D, 0x26]))
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del buffer[at:at + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            buffer[at:at] = buffer[at:at + draw(st.integers(1, 64))]
    return bytes(buffer)


@st.composite
def valid_requests(draw: st.DrawFn) -> Fuzzed:
    """A valid payload put on the wire by :func:`harness.wire.encode`, untouched or mutated."""
    payload = draw(st.sampled_from(VALID_BODIES))
    encoding = draw(st.sampled_from(ENCODINGS))
    path = draw(st.sampled_from(V0_PATHS))
    beacon = draw(st.booleans())
    request = wire.encode(payload, encoding, path, query={"beacon": "1"} if beacon else None)
    route, _, query = request.target.partition("?")
    method, headers, body = request.method, dict(request.headers), request.body
    touch = draw(st.sampled_from(["none", "body", "body", "headers", "query", "method"]))
    if touch == "none":
        expected = wire.expected_outcome(encoding, path)
        if expected == 200 and beacon:
            expected = 204
        return Fuzzed(method, route, query, headers, body, expected)
    if touch == "body":
        if body:
            body = draw(mutated(body))
        else:  # a GET carries its payload in ?data=
            query = draw(mutated(query.encode())).decode("latin-1")
            query = quote(query, safe="=&%+")
    elif touch == "headers":
        headers.update(draw(random_headers()))
        if headers and draw(st.booleans()):
            del headers[draw(st.sampled_from(sorted(headers)))]
    elif touch == "query":
        query = "&".join(piece for piece in (query, _query(draw(query_pairs()))) if piece)
    else:
        method = "POST" if method == "GET" else "GET"
    return Fuzzed(method, route, query, headers, body)


@st.composite
def random_requests(draw: st.DrawFn) -> Fuzzed:
    body = draw(st.binary(max_size=2048) | st.sampled_from(VALID_BODIES).flatmap(mutated)
                | st.sampled_from(VALID_BODIES).map(lambda b: gzip.compress(b, mtime=0)).flatmap(mutated))
    return Fuzzed(draw(st.sampled_from(["GET", "POST"])), draw(st.sampled_from(V0_PATHS)),
                  _query(draw(query_pairs())), draw(random_headers()), body)


def accepted_by_the_validator(request: Fuzzed) -> bool:
    """Whether the request's payload, decoded as the contract says, is one the validator accepts."""
    headers = {name: value.strip(" \t") for name, value in request.headers.items()}  # HTTP drops the padding
    try:
        text = wire.decode_payload(request.path, request.query, headers, request.body)
        document = orjson.loads(text)
    except (wire.DecodeError, orjson.JSONDecodeError):
        return False
    readings = [document]
    if request.path in ENGAGE_PATHS and isinstance(document, dict) and "event" not in document:
        readings.append({**document, "event": "$identify"})  # a nameless body on /engage is an $identify
    return any(validate(reading).accepted for reading in readings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(request=valid_requests() | random_requests())
def test_fuzzed_requests_never_get_a_5xx(server: Running, request: Fuzzed) -> None:
    try:
        status, body = call(server.url, request.method, request.target, request.body or None, request.headers,
                            timeout=10)
    except (ConnectionError, http.client.HTTPException) as error:
        pytest.fail(f"the server dropped the connection: {error!r}")
    event(f"answered {status}" + (" (untouched valid request)" if request.expected is not None else ""))
    assert status < 500, body[:300]
    if request.expected is not None:
        assert status == request.expected, body[:300]
    if status in (200, 204):
        assert accepted_by_the_validator(request), f"answered {status} to a payload the validator refuses"


# --- a gzip bomb against the real command ----------------------------------------------------------------

BOMB_SIZE = 1 << 30
PEAK_RSS_LIMIT_KIB = 400 * 1024


def gzip_bomb() -> bytes:
    """1 GiB of zeros as one gzip member of about 1 MiB (never held uncompressed)."""
    return bodies.gzip_bomb(BOMB_SIZE)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path / "events.sqlite3", tmp_path / "serve.log") as started:
        yield started


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_a_gzip_bomb_is_refused_413_without_inflating_it(serve_process: ServeProcess) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 2 * 1024 * 1024
    for headers in ({"Content-Encoding": "gzip", "Content-Type": "application/json"},  # hinted by the header
                    {"Content-Type": "text/plain"}):  # found by its magic bytes
        started = time.monotonic()
        status, body = call(serve_process.url, "POST", "/batch/", bomb, headers, timeout=30)
        elapsed = time.monotonic() - started
        assert status == 413, body[:200]
        assert body.startswith(b"maximum event size exceeded"), body[:200]
        assert elapsed < 5, f"refusing the bomb took {elapsed:.1f} s"
    peak = serve_process.peak_rss_kib()
    assert peak < PEAK_RSS_LIMIT_KIB, f"peak RSS {peak / 1024:.0f} MiB while refusing a 1 GiB gzip bomb"
    status, _ = call(serve_process.url, "POST", "/e/", orjson.dumps(capture_event()), JSON_CT)
    assert status == 200, serve_process.stderr()
