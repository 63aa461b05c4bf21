"""The ring of rejected requests behind the live inspector (:mod:`harness.server.rejections`), alone and through
the reference endpoint (``GET /_harness/rejections``, the ``/_harness/`` page's answers and protections)."""

from __future__ import annotations

import base64
import gzip
import json
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from harness.server import CaptureApp, Store
from harness.server.rejections import BODY_KEPT, Rejections
from harness.server.runner import Running, running
from tests.support import request

SCOPE = {"method": "POST", "path": "/batch/", "query_string": b"compression=gzip", "scheme": "http",
         "server": ("127.0.0.1", 8123)}
SECRET = "phx_personal0123456789abcdef"


def add(ring: Rejections, body: bytes | None = b"{}", headers: dict[str, str] | None = None, **scope: Any) -> None:
    ring.add({**SCOPE, **scope}, headers or {"content-type": "application/json"}, body, 400, "json-invalid",
             "failed to parse request")


def test_the_ring_keeps_the_newest_and_never_grows() -> None:
    ring = Rejections(capacity=5)
    for number in range(12):
        add(ring, f'{{"n": {number}}}'.encode())
    kept = ring.after(0)
    assert [entry["id"] for entry in kept] == [8, 9, 10, 11, 12]
    assert kept[-1]["body_excerpt"] == '{"n": 11}'
    assert [entry["id"] for entry in ring.after(10)] == [11, 12]


def test_reset_forgets_but_ids_keep_increasing() -> None:
    ring = Rejections()
    add(ring)
    ring.clear()
    assert ring.after(0) == []
    add(ring)
    assert [entry["id"] for entry in ring.after(0)] == [2]


def test_credentials_are_masked_in_the_headers_the_body_and_the_curl() -> None:
    ring = Rejections()
    add(ring, f'{{"api_key": "{SECRET}"}}'.encode(), headers={"authorization": f"Bearer {SECRET}", "cookie": f"ph_session={SECRET}",
                       "x-capture-harness-token": SECRET, "content-type": "application/json"})
    entry = ring.after(0)[0]
    assert SECRET not in json.dumps(entry)
    assert entry["headers"]["authorization"] == "Bearer phx_…cdef"
    assert entry["headers"]["x-capture-harness-token"] == "phx_…cdef"
    assert "-H 'authorization: Bearer phx_…cdef'" in entry["curl"]
    assert "masked" in entry["note"] and "authorization" in entry["note"] and "phx_" in entry["note"]
    assert entry["body_excerpt"] == '{"api_key": "phx_…cdef"}'  # still a personal key: the same rule refuses it


def test_a_text_body_is_inline_and_the_curl_goes_to_the_bound_address() -> None:
    ring = Rejections()
    add(ring, b'{"event": "x"}', headers={"host": "evil.example", "content-length": "14",
                                          "content-type": "application/json"})
    entry = ring.after(0)[0]
    words = shlex.split(entry["curl"])
    assert words[-1] == "http://127.0.0.1:8123/batch/?compression=gzip"  # never the Host the client chose
    assert words[words.index("--data-binary") + 1] == '{"event": "x"}'
    assert "host: evil.example" not in entry["curl"] and "content-length" not in entry["curl"]
    assert (entry["rule"], entry["status"], entry["text"], entry["note"]) == \
        ("json-invalid", 400, "failed to parse request", "")


def test_a_binary_body_is_piped_in_as_base64() -> None:
    body = gzip.compress(b'{"event": "x"}', mtime=0)
    ring = Rejections()
    add(ring, body)
    entry = ring.after(0)[0]
    assert entry["body_excerpt"] == f"({len(body)} bytes, not UTF-8 text: the curl sends them)"
    command = entry["curl"]
    assert command.startswith("printf %s ") and command.endswith(" --data-binary @-")
    encoded = shlex.split(command)[2]
    assert base64.b64decode(encoded) == body


def test_a_large_or_unread_body_is_not_kept_and_the_note_says_so() -> None:
    ring = Rejections()
    add(ring, b"x" * (BODY_KEPT + 1))
    add(ring, None, headers={"content-length": "30000000"})
    large, unread = ring.after(0)
    assert (large["body_size"], large["body_excerpt"]) == (BODY_KEPT + 1, "")
    assert "not kept" in large["note"] and "--data-binary" not in large["curl"]
    assert unread["body_size"] == 30_000_000 and "30000000 bytes" in unread["note"]


# --- through the endpoint ---------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[Running]:
    with running(CaptureApp(Store(":memory:"))) as started:
        yield started


def rejections(server: Running, query: str = "") -> list[dict[str, Any]]:
    status, headers, body = request(server.url, "GET", f"/_harness/rejections{query}")
    assert (status, headers["content-type"]) == (200, "application/json")
    return list(json.loads(body)["rejections"])


def test_capture_refusals_are_recorded_and_reset_clears_them(server: Running) -> None:
    assert request(server.url, "POST", "/e/", b"{not json", {"Content-Type": "application/json"})[0] == 400
    assert request(server.url, "POST", "/batch/", b"", {"Content-Length": str(30 << 20)})[0] == 413
    assert request(server.url, "POST", "/e/", json.dumps({"event": "ok", "distinct_id": "a", "api_key": "phc_x"})
                   .encode(), {"Content-Type": "application/json"})[0] == 200  # an accepted one is not recorded
    invalid, too_large = rejections(server)
    assert (invalid["status"], invalid["path"], invalid["rule"]) == (400, "/e/", "body-not-json")
    assert invalid["text"].startswith("failed to parse request")
    assert (too_large["status"], too_large["rule"], too_large["body_size"]) == (413, "body: 413", 30 << 20)
    assert rejections(server, f"?after={too_large['id']}") == []
    assert request(server.url, "GET", "/_harness/rejections?after=-1")[0] == 400
    assert request(server.url, "POST", "/_harness/reset")[0] == 200
    assert rejections(server) == []


def test_the_page_is_html_with_a_strict_policy(server: Running) -> None:
    for path in ("/_harness/", "/_harness"):
        status, headers, body = request(server.url, "GET", path)
        assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        nonce = policy.split("'nonce-")[1].split("'")[0]
        assert f'<script nonce="{nonce}">' in body.decode()
        assert "access-control-allow-origin" not in headers
        assert b"http://" not in body and b"https://" not in body  # nothing fetched from elsewhere
    assert request(server.url, "POST", "/_harness/", b"")[0] == 405
    assert request(server.url, "GET", "/_harness/", headers={"Host": "rebound.example"})[0] == 403
    assert request(server.url, "GET", "/_harness/", headers={"Origin": "https://elsewhere.example"})[0] == 403


def test_with_a_token_the_page_loads_and_says_so_but_the_api_needs_it() -> None:
    with running(CaptureApp(Store(":memory:"), inspect_token="s3cret-token")) as server:
        status, _, body = request(server.url, "GET", "/_harness/")
        assert status == 200 and b'"tokenRequired":true' in body and b"s3cret-token" not in body
        assert request(server.url, "GET", "/_harness/rejections")[0] == 401
        authorized = {"Authorization": "Bearer s3cret-token"}
        assert request(server.url, "GET", "/_harness/rejections", headers=authorized)[0] == 200
