"""The ``browser`` load scenario sends what posthog-js 1.449 sends, ``browser_legacy`` what older posthog-js
sent; every request decodes and validates, and the reference endpoint stores all of its events."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

import orjson
import pytest

from harness.checks import Case
from harness.load import corpus
from harness.load.scenarios import POSTHOG_JS_VERSION
from harness.server import CaptureApp, Store
from harness.server.runner import running
from harness.spec.body import events_of
from harness.spec.validation import validate
from harness.wire import FORM_CONTENT_TYPE, GZIP_MAGIC, decode_payload
from tests.support import request

KEY = "phc_browser_scenario_key"


@pytest.fixture(scope="module")
def browser() -> list[Case]:
    return corpus.generate_chunk("browser", 7, 0, 0, KEY)


def _query(case: Case) -> dict[str, str]:
    return dict(parse_qsl(case.request.target.partition("?")[2]))


def _document(case: Case) -> object:
    path, _, query = case.request.target.partition("?")
    text = decode_payload(path, query, case.request.headers, case.request.body)
    report = validate(orjson.loads(text), encoded=text.encode())
    assert report.accepted, (case.name, report.rejections)
    return orjson.loads(text)


def test_browser_sends_posthog_js_1449_requests(browser: list[Case]) -> None:
    names = Counter(case.name for case in browser)
    assert set(names) == {"browser gzip", "browser json", "browser retry", "browser beacon"}
    assert names["browser gzip"] > names["browser beacon"] > names["browser json"]
    for case in browser:
        query = _query(case)
        assert case.request.target.startswith("/e/?_=") and query["ver"] == POSTHOG_JS_VERSION, case.request.target
        assert query["_"].isdigit() and case.request.method == "POST" and case.expect_status == 200
        body = _document(case)
        assert isinstance(body, dict) and set(body) == {"api_key", "batch", "sent_at"} and body["api_key"] == KEY
        assert case.uuids == tuple(event["uuid"] for event in events_of(body))
        content_type = case.request.headers["Content-Type"]
        if case.name in ("browser gzip", "browser retry"):
            assert content_type == "text/plain" and case.request.body.startswith(GZIP_MAGIC)
            assert "compression" not in query and "Content-Encoding" not in case.request.headers
            assert gzip.decompress(case.request.body).startswith(b"{")
        if case.name == "browser retry":
            assert query["retry_count"] in {"1", "2", "3"}
        else:
            assert "retry_count" not in query
        if case.name == "browser json":
            assert content_type == "application/json" and "compression" not in query
        if case.name == "browser beacon":
            assert content_type == FORM_CONTENT_TYPE and query["compression"] == "base64"
            assert case.request.body.startswith(b"data=")
            assert [event["event"] for event in events_of(body)] == ["$pageleave"]


def test_browser_legacy_keeps_the_gzip_js_style() -> None:
    legacy = corpus.generate_chunk("browser_legacy", 7, 0, 0, KEY)
    assert {case.name for case in legacy} == {"browser gzip-js", "browser form"}
    for case in legacy:
        body = _document(case)
        if case.name == "browser gzip-js":
            assert case.request.target == "/e/?compression=gzip-js" and isinstance(body, list)
        else:
            assert case.request.target == "/e/" and case.request.headers["Content-Type"] == FORM_CONTENT_TYPE


def test_the_reference_endpoint_stores_every_browser_event(browser: list[Case], tmp_path: Path) -> None:
    sample = [case for name in ("browser gzip", "browser json", "browser retry", "browser beacon")
              for case in [c for c in browser if c.name == name][:10]]
    store = Store(tmp_path / "events.sqlite3")
    with running(CaptureApp(store, seed=1)) as server:
        for case in sample:
            status, _, body = request(server.url, case.request.method, case.request.target, case.request.body,
                                      case.request.headers)
            assert (status, body) == (200, b'{"status":"Ok"}'), (case.name, body)
    expected = [uuid for case in sample for uuid in case.uuids]
    assert [event["uuid"] for event in store.events(limit=10_000)] == expected
