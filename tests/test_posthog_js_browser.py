"""posthog-js from npm, in a real headless Chromium, against ``capture-harness serve``: every event arrives intact.

The page (``tests/js/page.html``) and posthog-js's browser bundle (``tests/js/node_modules/posthog-js/dist/
array.js``, the script the snippet loads, so that posthog-js fetches its lazily loaded parts from the endpoint
as it does in production) come from a static server on another 127.0.0.1 port than ``serve``: every request
posthog-js makes is cross-origin, as on a real site, so each answer must carry the CORS headers that let the
page read it.  The test runs twice: with posthog-js's gzip bodies (``text/plain``, no preflight) and with
plain JSON (``disable_compression``, behind a preflight).  It drives the SDK's public API (automatic
``$pageview``, ``capture``, ``identify``, ``alias``, ``group``, ``setPersonProperties``), clicks a button
(autocapture, which posthog-js only does once the remote config says so) and a link away (``$pageleave``,
sent by ``sendBeacon`` as the page unloads).  Then the inspection API must hold each event exactly as
posthog-js emitted it (its ``eventCaptured`` hook records them in the page), the page must have logged no
error, and no request may have failed or been answered 4xx/5xx: neither in what Playwright saw (each such
URL is named) nor in ``serve``'s own counters (which also count the beacon, a request Playwright does not
report from an unloading page).

posthog-js drops every event of a browser that looks automated (``navigator.webdriver``, ``HeadlessChrome`` in
the user agent), so Chromium runs with ``--disable-blink-features=AutomationControlled`` and a desktop Chrome
user agent given on its command line: Playwright's per-context ``user_agent`` is gone while the page unloads,
so posthog-js would take the leaving page for a bot and drop its ``$pageleave``.  Skipped, saying how to enable
it, without Chromium and Playwright or without the npm packages (``make test`` installs them with ``npm ci``
when npm is there); ``.ci/run`` refuses to run without them.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support import ARTIFACTS, REPO, ServeProcess, chromium, request, wait_for

pytestmark = pytest.mark.e2e  # a real browser and a real SDK

JS = REPO / "tests" / "js"
BUNDLE = JS / "node_modules" / "posthog-js" / "dist" / "array.js"
ENABLE_JS = ("install node and npm (`apt-get install nodejs npm`), then `make tests/js/node_modules/.installed` "
             "(`npm ci --prefix tests/js`); `make test` does it when npm is there")
SHOTS = ARTIFACTS / "posthog-js"
TOKEN = "phc_posthog_js_browser_test"
DESKTOP_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 "
                 "Safari/537.36")
USER, ALIAS = "user-ada@example.com", "ada-alias-42"
CUSTOM = {"plan": "ünïcode 計画 🚀", "quote": 'say "hi"\n\ttab', "count": 3, "ratio": 0.25, "on": True,
          "none": None, "nested": {"list": [1, "zwei", None, {"drei": 3}], "deeper": {"émoji": "✓"}}}
PERSON = {"email": "ada@example.com", "name": "Ada Lovelace ✨"}
PERSON_ONCE = {"first_seen_page": "page.html"}
GROUP = {"name": "Acme — Ünïcode Inc.", "employees": 42, "tags": ["b2b", "€"]}
LATER = {"plan_tier": "pro", "seats": {"used": 3, "total": 10}}
NAMES = ("$pageview", "custom", "$identify", "$create_alias", "$groupidentify", "$set", "$autocapture")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not BUNDLE.is_file():
        pytest.skip(f"the posthog-js browser test needs posthog-js from npm in tests/js/node_modules: {ENABLE_JS}")
    with chromium("--disable-blink-features=AutomationControlled", f"--user-agent={DESKTOP_AGENT}") as launched:
        yield launched


class _Quiet(SimpleHTTPRequestHandler):
    """Files from ``tests/js``, without a log line per request on the test's stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    """The test page and posthog-js, from a static server on its own 127.0.0.1 port (another origin than serve)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(JS)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path / "store.sqlite3", tmp_path / "serve.log") as server:
        yield server


class Traffic:
    """What one browser context saw: every response with its status, failed requests, console and page errors."""

    def __init__(self, context: Any) -> None:
        self.responses: list[tuple[str, str, int]] = []
        self.content_types: dict[str, set[str]] = {}
        self.errors: list[str] = []
        context.on("request", self._request)
        context.on("response", lambda r: self.responses.append((r.request.method, r.url, r.status)))
        context.on("requestfailed", lambda r: self.errors.append(f"failed: {r.method} {r.url} ({r.failure})"))
        context.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        context.on("weberror", lambda e: self.errors.append(f"page error: {e.error}"))

    def _request(self, request: Any) -> None:
        path = request.url.partition("?")[0]
        self.content_types.setdefault(path, set()).add(request.headers.get("content-type", ""))

    def problems(self) -> list[str]:
        """Every error, failed request and answer of 400 or more, each with its URL."""
        return self.errors + [f"{status}: {method} {url}" for method, url, status in self.responses if status >= 400]


def _stored(server: ServeProcess) -> dict[str, list[dict[str, Any]]]:
    """The events the endpoint stored for :data:`TOKEN`, each as its stored JSON, by event name."""
    status, _, body = request(server.url, "GET", f"/_harness/events?token={TOKEN}&limit=1000")
    assert status == 200, body
    named: dict[str, list[dict[str, Any]]] = {}
    for row in json.loads(body)["events"]:
        named.setdefault(row["event"], []).append({**json.loads(row["data"]), "stored_distinct_id": row["distinct_id"]})
    return named


def _arrived(server: ServeProcess, names: tuple[str, ...]) -> dict[str, list[dict[str, Any]]] | None:
    stored = _stored(server)
    return stored if all(name in stored for name in names) else None


def _screenshot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _drive(page: Any) -> str:
    """Load the page, use posthog-js's API and click the button; the anonymous distinct id it started with."""
    page.wait_for_function("document.body.dataset.posthogLoaded === 'true'")
    assert page.evaluate("navigator.webdriver") is False  # posthog-js would drop every event
    # autocapture starts only once the remote config (fetched from serve) turned it on
    page.wait_for_function("window.posthog.autocapture && window.posthog.autocapture.isEnabled === true")
    anonymous: str = page.evaluate("window.posthog.get_distinct_id()")
    page.evaluate("""([custom, user, person, once, alias, group, later]) => {
        posthog.capture("custom", custom);
        posthog.identify(user, person, once);
        posthog.alias(alias);
        posthog.group("company", "acme-inc", group);
        posthog.setPersonProperties(later);
    }""", [CUSTOM, USER, PERSON, PERSON_ONCE, ALIAS, GROUP, LATER])
    page.click("#buy")
    return anonymous


@pytest.mark.parametrize("disable_compression, content_type", [
    ("false", "text/plain"),  # gzip, sent as text/plain without a compression hint: no preflight
    ("true", "application/json"),  # plain JSON: the browser asks serve first (a CORS preflight)
], ids=["gzip", "json"])
def test_posthog_js_in_chromium_stores_every_event_intact(browser: Any, site: str, serve: ServeProcess,
                                                          disable_compression: str, content_type: str) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    traffic = Traffic(context)
    page = context.new_page()
    query = {"api_host": serve.url, "token": TOKEN, "disable_compression": disable_compression}
    page.goto(f"{site}/page.html?{urlencode(query)}")
    anonymous = _drive(page)
    wait_for(lambda: _arrived(serve, NAMES), f"posthog-js's {', '.join(NAMES)} stored", 90)
    sent: list[dict[str, Any]] = page.evaluate("window.capturedEvents")
    _screenshot(page, f"page-{content_type.replace('/', '-')}.png")
    page.click("#away")  # a real link: autocaptured, then $pageleave by sendBeacon as the page unloads
    page.wait_for_url(f"{site}/away.html")
    stored = wait_for(lambda: _arrived(serve, (*NAMES, "$pageleave")), "posthog-js's $pageleave stored", 90)
    _screenshot(page, f"away-{content_type.replace('/', '-')}.png")
    context.close()

    assert traffic.problems() == [], "\n".join(traffic.problems())
    assert _refused(serve) == {}, "serve's answers of 400 or more, by path (a beacon is not seen by Playwright)"
    _assert_what_each_call_sent(stored, anonymous)
    _assert_stored_as_sent(stored, sent)
    counts = {name: len(events) for name, events in stored.items()}
    assert counts == {**dict.fromkeys(NAMES, 1), "$autocapture": 2, "$pageleave": 1}, "each stored once"
    assert {kind.split(";")[0] for kind in traffic.content_types[f"{serve.url}/e/"]} == {content_type}
    fetched = [url for _, url, _ in traffic.responses]
    assert any(url.startswith(f"{serve.url}/array/{TOKEN}/config") for url in fetched), "no remote config fetched"


def _refused(server: ServeProcess) -> dict[str, dict[str, int]]:
    """Requests ``serve`` answered with 400 or more, by path and status, from its own counters."""
    status, _, body = request(server.url, "GET", "/_harness/stats")
    assert status == 200, body
    return {path: bad for path, statuses in json.loads(body)["requests"].items()
            if (bad := {code: count for code, count in statuses.items() if int(code) >= 400})}


def _assert_what_each_call_sent(stored: dict[str, list[dict[str, Any]]], anonymous: str) -> None:
    """Each API call's event as the endpoint stored it: its distinct id and the properties the test passed."""
    (pageview,), (custom,), (identify,) = stored["$pageview"], stored["custom"], stored["$identify"]
    (alias,), (group,), (person,) = stored["$create_alias"], stored["$groupidentify"], stored["$set"]
    (click, link), (leave,) = stored["$autocapture"], stored["$pageleave"]
    assert pageview["stored_distinct_id"] == custom["stored_distinct_id"] == anonymous
    assert pageview["properties"]["$current_url"].split("?")[0].endswith("/page.html")
    installed = json.loads((BUNDLE.parents[1] / "package.json").read_text(encoding="utf-8"))["version"]
    assert pageview["properties"]["$lib"] == "web" and pageview["properties"]["$lib_version"] == installed
    assert {key: custom["properties"].get(key) for key in CUSTOM} == CUSTOM
    assert identify["stored_distinct_id"] == USER and identify["properties"]["$anon_distinct_id"] == anonymous
    assert {key: identify["$set"].get(key) for key in PERSON} == PERSON
    assert {key: identify["$set_once"].get(key) for key in PERSON_ONCE} == PERSON_ONCE
    assert alias["stored_distinct_id"] == USER and alias["properties"]["alias"] == ALIAS
    properties = group["properties"]
    assert (properties["$group_type"], properties["$group_key"], properties["$group_set"]) == \
        ("company", "acme-inc", GROUP)
    assert person["stored_distinct_id"] == USER and person["properties"]["$set"] == LATER
    assert click["stored_distinct_id"] == USER and click["properties"]["$event_type"] == "click"
    assert "buy-button" in click["properties"]["$elements_chain"], click["properties"]["$elements_chain"]
    assert click["properties"]["$groups"] == {"company": "acme-inc"}
    assert link["properties"]["$event_type"] == "click" and 'attr__id="away"' in link["properties"]["$elements_chain"]
    assert leave["stored_distinct_id"] == USER and leave["properties"]["$current_url"].split("?")[0].endswith(
        "/page.html")


def _assert_stored_as_sent(stored: dict[str, list[dict[str, Any]]], sent: list[dict[str, Any]]) -> None:
    """Every event posthog-js emitted before the page was left is stored with the same uuid, name, timestamp,
    properties and person updates."""
    assert [event["event"] for event in sent] == list(NAMES)
    by_uuid = {event["uuid"]: event for events in stored.values() for event in events}
    for event in sent:
        assert event["uuid"] in by_uuid, f"{event['event']} {event['uuid']} was not stored"
        kept = by_uuid[event["uuid"]]
        for key in ("event", "timestamp", "properties", "$set", "$set_once"):
            assert kept.get(key) == event.get(key), (event["event"], key, kept.get(key), event.get(key))

