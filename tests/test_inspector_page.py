"""The live inspector at ``/_harness/`` in a real headless Chromium (Debian's, driven by Playwright: see
:func:`tests.support.chromium`), against the reference endpoint on 127.0.0.1.

Each test watches the page for console errors, page errors, failed loads and any answer of 400 or more,
sends real HTTP requests from the test, and waits (Playwright's ``expect``, generous timeouts) for the page
to show them.  Screenshots are kept in ``out/test-artifacts/inspector/``.
"""

from __future__ import annotations

import gzip
import json
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from tests.support import ARTIFACTS, chromium, request

pytestmark = pytest.mark.e2e

WAIT_MS = 20_000
SHOTS = ARTIFACTS / "inspector"
TOKEN = "s3cret-inspection-token"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"))) as started:
        yield started


class Watched:
    """A page with everything that went wrong on it recorded: console and page errors, failed loads, and
    answers of 400 or more (the page must never make a call that is refused)."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.problems: list[str] = []
        self.calls: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda failed: self.problems.append(f"failed: {failed.url}"))
        self.page.on("request", lambda sent: self.calls.append(sent.url))
        self.page.on("response", lambda answer: self.problems.append(f"{answer.status}: {answer.url}")
                     if answer.status >= 400 else None)

    def screenshot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def send(server: Running, body: Any, path: str = "/e/", **headers: str) -> int:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request(server.url, "POST", path, payload, {"Content-Type": "application/json", **headers})[0]


def event(name: str, distinct_id: str, token: str = "phc_inspector", **properties: Any) -> dict[str, Any]:
    return {"event": name, "distinct_id": distinct_id, "api_key": token, "uuid": str(uuid.uuid4()),
            "properties": properties}


def live(watched: Watched, url: str) -> None:
    watched.page.goto(url)
    expect(watched.page.locator("#status")).to_contain_text("live", timeout=WAIT_MS)


def test_events_appear_as_they_arrive_and_the_filters_narrow_them(browser: Any, server: Running) -> None:
    watched = Watched(browser)
    live(watched, f"{server.url}/_harness/")
    signup = event("signed_up", "user-1", **{"$capture_harness_run": "capture-harness-run-a", "plan": "pro"})
    pageview = event("$pageview", "user-2", token="phc_other")
    assert send(server, signup) == send(server, pageview) == 200
    rows = watched.page.locator("#events-body tr.item")
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    first = watched.page.locator(f'tr[data-uuid="{signup["uuid"]}"]')
    expect(first.locator("td.distinct-id")).to_have_text("user-1")
    expect(first.locator("td.token")).to_have_text("phc_inspector")
    expect(first.locator("td.run")).to_have_text("capture-harness-run-a")
    first.click()
    expect(watched.page.locator("pre.stored")).to_contain_text('"plan": "pro"', timeout=WAIT_MS)
    watched.screenshot("events")

    for selector, value, kept in (("#filter-event", "$pageview", pageview), ("#filter-distinct-id", "user-1", signup),
                                  ("#filter-token", "phc_other", pageview)):
        watched.page.fill(selector, value)
        watched.page.press(selector, "Enter")
        expect(rows).to_have_count(1, timeout=WAIT_MS)
        expect(rows.first).to_have_attribute("data-uuid", kept["uuid"], timeout=WAIT_MS)
        watched.page.fill(selector, "")
        watched.page.press(selector, "Enter")
        expect(rows).to_have_count(2, timeout=WAIT_MS)
    watched.page.fill("#filter-run", "capture-harness-run-a")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first).to_have_attribute("data-uuid", signup["uuid"])
    watched.screenshot("events-filtered-by-run")
    later = event("signed_up", "user-3", **{"$capture_harness_run": "capture-harness-run-a"})
    assert send(server, later) == 200  # still live while filtered
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    assert request(server.url, "POST", "/_harness/reset")[0] == 200  # row ids start again from 1
    after_reset = event("signed_up", "user-4", **{"$capture_harness_run": "capture-harness-run-a"})
    assert send(server, after_reset) == 200
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first).to_have_attribute("data-uuid", after_reset["uuid"], timeout=WAIT_MS)
    assert watched.problems == []
    assert all(call.startswith(server.url) for call in watched.calls)  # self-contained: nothing from elsewhere
    watched.page.close()


def run_curl(command: str) -> int:
    """The status a copied ``curl`` command gets (``bash -c``: a binary body's command is a pipeline)."""
    assert shlex.split(command)[0] in ("curl", "printf")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.split()[1])  # `curl -i`: the status line comes first


def test_rejected_requests_show_rule_status_reason_and_a_curl_that_reproduces_them(browser: Any,
                                                                                   server: Running) -> None:
    watched = Watched(browser)
    live(watched, f"{server.url}/_harness/")
    no_key = gzip.compress(json.dumps({"event": "x", "distinct_id": "d"}).encode(), mtime=0)
    sent = [send(server, b'{"event": "broken'), send(server, no_key, "/batch/", **{"Content-Encoding": "gzip"}),
            send(server, event("x", "d", token="phx_personal_key_0123456789"))]
    rows = watched.page.locator("#rejections-body tr.rejection")
    expect(rows).to_have_count(3, timeout=WAIT_MS)
    shown = [(int(row.locator("td.status").inner_text()), row.locator("td.rule").inner_text(),
              row.locator("td.reason").inner_text()) for row in rows.all()][::-1]  # the newest is on top
    assert [status for status, _, _ in shown] == sent
    assert all(rule and reason for _, rule, reason in shown), shown
    assert shown[0][1] == "body-not-json" and shown[0][2].startswith("failed to parse request")
    rows.first.click()
    expect(watched.page.locator("#rejections-body tr.detail:not([hidden]) pre.curl")).to_be_visible(timeout=WAIT_MS)
    watched.screenshot("rejections")
    commands = [curl.text_content() for curl in watched.page.locator("pre.curl").all()][::-1]
    assert commands[1].startswith("printf %s ")  # the gzip body travels as base64
    assert [run_curl(command) for command in commands] == sent

    count = watched.page.locator('#counts-body tr.count[data-path="/e/"][data-status="400"] td.n')
    expect(count).to_have_text("1", timeout=WAIT_MS)
    expect(watched.page.locator('#counts-body tr.count[data-path="/batch/"][data-status="401"]')).to_have_count(1)
    watched.screenshot("counts")
    assert watched.problems == []
    watched.page.close()


def test_with_an_inspection_token_the_page_asks_for_it_or_takes_it_from_the_fragment(browser: Any,
                                                                                      tmp_path: Path) -> None:
    with running(CaptureApp(Store(tmp_path / "events.sqlite3"), inspect_token=TOKEN)) as server:
        asked = Watched(browser)
        asked.page.goto(f"{server.url}/_harness/")
        expect(asked.page.locator("#token-form")).to_be_visible(timeout=WAIT_MS)
        assert [call for call in asked.calls if "/_harness/" in call and not call.endswith("/_harness/")] == []
        asked.screenshot("token-asked")
        asked.page.fill("#token-input", TOKEN)
        asked.page.press("#token-input", "Enter")
        expect(asked.page.locator("#status")).to_contain_text("live", timeout=WAIT_MS)
        expect(asked.page.locator("#token-form")).to_be_hidden()
        assert asked.problems == []
        asked.page.close()

        linked = Watched(browser)
        live(linked, f"{server.url}/_harness/#token={TOKEN}")
        assert "#" not in linked.page.url  # the token leaves the address bar (and the history) at once
        marked = event("signed_up", "user-token")
        assert send(server, marked) == 200
        expect(linked.page.locator(f'tr[data-uuid="{marked["uuid"]}"]')).to_be_visible(timeout=WAIT_MS)
        linked.screenshot("token-mode")
        assert linked.problems == []
        linked.page.close()


def test_recordings_are_listed_by_session(browser: Any, server: Running) -> None:
    session = str(uuid.uuid4())
    snapshot = {"event": "$snapshot", "properties": {
        "$session_id": session, "$window_id": session, "distinct_id": "user-rec", "token": "phc_inspector",
        "$snapshot_data": [{"type": 2, "data": {}, "timestamp": 1_700_000_000_000}]}}
    assert send(server, [snapshot, snapshot], "/s/") == 200
    watched = Watched(browser)
    live(watched, f"{server.url}/_harness/")
    row = watched.page.locator("#recordings-body tr.session")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.locator("td")).to_have_text([session, "user-rec", "phc_inspector", "2", "2023-11-14 22:13:20.000",
                                            "2023-11-14 22:13:20.000"])
    watched.screenshot("recordings")
    assert watched.problems == []
    watched.page.close()


def test_without_a_recordings_route_the_panel_says_so_without_an_error(browser: Any, server: Running) -> None:
    server.app.inspection.routes.pop(("/_harness/recordings", "GET"), None)  # a server from before /s/
    watched = Watched(browser)
    live(watched, f"{server.url}/_harness/")
    expect(watched.page.locator("#recordings-body")).to_have_text("no recordings route on this server")
    assert watched.problems == []
    assert not any("/_harness/recordings" in call for call in watched.calls)
    watched.page.close()
