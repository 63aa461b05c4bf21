"""``harness.apptest``: an app's tests against the reference endpoint, with real SDKs pointed at ``serve``.

The matching rules and failure messages are checked on records built here; everything else against a real
``capture-harness serve`` subprocess (one per module, emptied before each test), fed by the real
posthog-python SDK and, when tests/js/ has them, by posthog-node (in node) and posthog-js (in Debian's
Chromium: README's page, from a browser that does and one that does not look automated).  The pytest
fixtures run in pytester sessions (subprocesses) that load only this plugin (``-p``, entry points off), so
what they show does not depend on what else is installed.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from harness.apptest import ANY, CapturedEvent, CaptureEndpoint, EndpointError, start_endpoint
from harness.apptest.events import Expected, mismatch_report
from tests.support import chromium

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "phc_apptest_0123456789abcdef"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"


def record(event: str, distinct_id: str = "user-1", **properties: Any) -> dict[str, Any]:
    """A ``/_harness/events`` record as the server answers it (``data`` is JSON text)."""
    event_uuid = str(uuid.uuid4())
    data = {"uuid": event_uuid, "event": event, "distinct_id": distinct_id, "properties": properties}
    return {"id": 1, "uuid": event_uuid, "distinct_id": distinct_id, "event": event, "token": API_KEY,
            "timestamp": "2026-01-01T00:00:00.000Z", "data": json.dumps(data)}


# --- matching and its messages, without a server ---------------------------------------------------------


def test_properties_are_a_subset_match_with_exact_values() -> None:
    captured = CapturedEvent.from_record(record("signed_up", plan="pro", seats=12, cart={"items": [1, 2]}))
    assert captured.properties == {"plan": "pro", "seats": 12, "cart": {"items": [1, 2]}}
    assert Expected("signed_up", "user-1", {"plan": "pro"}).matches(captured)
    assert Expected("signed_up", properties={"seats": ANY, "plan": str, "cart": {"items": ANY}}).matches(captured)
    assert Expected(properties={"seats": lambda n: n > 10}).matches(captured)
    assert not Expected(properties={"seats": lambda n: n > 20}).matches(captured)
    assert not Expected(properties={"plan": lambda n: n > 20}).matches(captured)  # a predicate that raises
    assert not Expected(properties={"cart": {"items": [1]}}).matches(captured)  # nested values are exact
    assert not Expected(properties={"cart": {}}).matches(captured)
    assert not Expected(properties={"absent": ANY}).matches(captured)  # ANY means present
    assert not Expected("signed_up", "user-2").matches(captured)


def test_differences_name_the_innermost_key() -> None:
    captured = CapturedEvent.from_record(record("signed_up", plan="free", address={"city": "Lyon", "zip": "69"}))
    differences = Expected("signed_up", "user-2", {"plan": "pro", "address": {"city": "Paris"}, "seats": 3,
                                                   "trial": bool}).differences(captured)
    assert differences == [
        "distinct_id: expected 'user-2', got 'user-1'",
        "properties['plan']: expected 'pro', got 'free'",
        "properties['address']: unexpected key 'zip' (= '69')",
        "properties['address']['city']: expected 'Paris', got 'Lyon'",
        "properties['seats']: missing, expected 3",
        "properties['trial']: missing, expected <class 'bool'>",
    ]


def test_the_report_ranks_the_expected_name_first_and_never_shows_a_whole_key() -> None:
    arrived = [CapturedEvent.from_record(r) for r in
               (record("$pageview", plan="pro"), record("signed_up", "user-1", plan="free"), record("sign_up"))]
    report = mismatch_report(Expected("signed_up", "user-1", {"plan": "pro"}, token="phc_other_key_9999"),
                             arrived, "waited 1 s")
    lines = report.splitlines()
    assert lines[0] == ("no stored event matches event 'signed_up', distinct_id 'user-1', token phc_…9999, "
                        "properties {'plan': 'pro'} (waited 1 s)")
    assert lines[1] == "3 events arrived: '$pageview' x1, 'signed_up' x1, 'sign_up' x1"
    assert lines[3].startswith("  1. 'signed_up' for distinct_id 'user-1'")
    assert lines[4:6] == ["       token: expected phc_…9999, got phc_…cdef",
                          "       properties['plan']: expected 'pro', got 'free'"]
    assert len(lines) == 6  # only the events of the expected name, when some arrived
    assert API_KEY not in report and API_KEY not in repr(arrived)

    renamed = mismatch_report(Expected("signed_up", properties={"plan": "pro"}), [arrived[0], arrived[2]], "waited 1 s")
    assert renamed.splitlines()[2:] == [
        "closest (none is named 'signed_up'):",
        f"  1. {arrived[2].summary()}",  # a name alike (a typo) comes before a better match of another name
        "       event: expected 'signed_up', got 'sign_up'",
        "       properties['plan']: missing, expected 'pro'",
        f"  2. {arrived[0].summary()}",
        "       event: expected 'signed_up', got '$pageview'",
    ]
    assert "no event arrived at all" in mismatch_report(Expected("signed_up"), [], "waited 1 s")


# --- against serve ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[CaptureEndpoint]:
    with start_endpoint() as started:
        yield started


@pytest.fixture
def fresh(endpoint: CaptureEndpoint, refused_connections: list[Any]) -> Iterator[CaptureEndpoint]:
    """The module's endpoint, emptied, with every connection beyond loopback refused."""
    endpoint.reset()
    yield endpoint
    endpoint.clear_faults()
    assert refused_connections == []


def sdk_client(url: str, **options: Any) -> Any:
    posthog = pytest.importorskip("posthog", reason="the posthog SDK is not installed (pip install .[test])")
    return posthog.Posthog(API_KEY, host=url, max_retries=0, enable_local_evaluation=False, capture_mode="v0",
                           **options)


def send_and_flush(url: str, **options: Any) -> None:
    client = sdk_client(url, **options)
    try:
        client.capture("signed_up", distinct_id="user-1", properties={"plan": "pro", "seats": 12,
                                                                       "cart": {"items": ["a", "b"]}})
        client.set(distinct_id="user-1", properties={"email": "user-1@example.com"})
        client.alias(previous_id="anon-1", distinct_id="user-1")
        client.group_identify("company", "acme", {"name": "Acme", "employees": 12}, distinct_id="user-1")
        client.flush()
    finally:
        client.shutdown()


@pytest.mark.e2e
def test_expect_event_finds_what_posthog_python_sent(fresh: CaptureEndpoint) -> None:
    send_and_flush(fresh.url)
    signed_up = fresh.expect_event("signed_up", distinct_id="user-1",
                                   properties={"plan": "pro", "cart": {"items": ["a", "b"]}, "$lib": "posthog-python"})
    assert (signed_up.token, signed_up.raw["token"]) == (API_KEY, API_KEY)
    assert uuid.UUID(signed_up.uuid) and signed_up.timestamp and signed_up.data["event"] == "signed_up"
    fresh.expect_event("$set", distinct_id="user-1", properties={"$set": {"email": "user-1@example.com"}})
    # posthog-python sends an alias from the previous id, naming the new one
    fresh.expect_event("$create_alias", distinct_id="anon-1", properties={"alias": "user-1"})
    fresh.expect_event("$groupidentify", properties={"$group_type": "company", "$group_key": "acme",
                                                     "$group_set": {"name": "Acme", "employees": 12}})
    assert [e.event for e in fresh.events(distinct_id="user-1", event="signed_up")] == ["signed_up"]
    assert len(fresh.events(token=API_KEY)) == 4 and fresh.events(token="phc_other") == []


@pytest.mark.e2e
def test_expect_event_waits_for_a_batch_that_is_still_on_its_way(fresh: CaptureEndpoint) -> None:
    client = sdk_client(fresh.url, flush_interval=0.5, flush_at=100)  # sent by the SDK's thread, later
    try:
        client.capture("checked_out", distinct_id="user-2", properties={"total": 42})
        assert fresh.expect_event("checked_out", properties={"total": 42}, timeout=30).distinct_id == "user-2"
    finally:
        client.shutdown()


@pytest.mark.e2e
def test_a_mismatch_names_the_nearest_event_and_the_differing_property(fresh: CaptureEndpoint) -> None:
    send_and_flush(fresh.url)
    fresh.expect_event("signed_up")  # everything is stored: the expectation below fails on content alone
    with pytest.raises(AssertionError) as raised:
        fresh.expect_event("signed_up", distinct_id="user-1", properties={"plan": "enterprise"}, timeout=0.2)
    message = str(raised.value)
    assert message.startswith("no stored event matches event 'signed_up', distinct_id 'user-1', properties "
                              "{'plan': 'enterprise'} (waited 0.2 s at http://127.0.0.1:")
    assert "4 events arrived: 'signed_up' x1, '$set' x1, '$create_alias' x1, '$groupidentify' x1" in message
    nearest = message.splitlines()[3:5]
    assert nearest[0].startswith("  1. 'signed_up' for distinct_id 'user-1' (uuid ")
    assert nearest[1] == "       properties['plan']: expected 'enterprise', got 'pro'"


@pytest.mark.e2e
def test_an_event_that_never_comes_fails_at_its_deadline(fresh: CaptureEndpoint) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="no event arrived at all: is the SDK's host this endpoint"):
        fresh.expect_event("signed_up", timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 10


@pytest.mark.e2e
def test_expect_no_event(fresh: CaptureEndpoint) -> None:
    send_and_flush(fresh.url)
    fresh.expect_no_event("signed_up", distinct_id="user-2", timeout=0.2)
    fresh.expect_no_event("signed_up", properties={"plan": "free"}, timeout=0)
    with pytest.raises(AssertionError) as raised:
        fresh.expect_no_event("signed_up", properties={"seats": ANY}, timeout=5)
    assert str(raised.value).startswith("expected no event matching event 'signed_up', properties {'seats': <ANY>}, "
                                        "but 1 arrived (watching 5 s at http://127.0.0.1:")
    assert "'signed_up' for distinct_id 'user-1'" in str(raised.value)


@pytest.mark.e2e
def test_events_reads_every_page_and_reset_empties_the_store(fresh: CaptureEndpoint) -> None:
    batch = [{"event": "e", "distinct_id": f"user-{n}", "properties": {"n": n}} for n in range(1001)]
    body = json.dumps({"api_key": API_KEY, "batch": batch}).encode()
    request = urllib.request.Request(f"{fresh.url}/batch/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    assert [e.properties["n"] for e in fresh.events()] == list(range(1001))  # two pages of the API
    assert fresh.events(distinct_id="user-1000")[0].properties == {"n": 1000}
    assert fresh.stats()["stored_events"] == 1001
    fresh.reset()
    assert fresh.events() == [] and fresh.stats()["stored_events"] == 0


@pytest.mark.e2e
def test_faults_change_what_the_endpoint_does(fresh: CaptureEndpoint) -> None:
    assert fresh.faults(drop_rate=1.0)["drop_rate"] == 1.0
    send_and_flush(fresh.url)  # answered 200, never stored: what an app's retry logic cannot see
    fresh.expect_no_event(timeout=0)
    assert fresh.faults()["drop_rate"] == 1.0 and fresh.clear_faults()["drop_rate"] == 0
    with pytest.raises(EndpointError, match="answered 400 with .*drop_rate"):
        fresh.faults(drop_rate=2)


@pytest.mark.e2e
def test_a_missing_token_or_a_wrong_url_is_an_endpoint_error(endpoint: CaptureEndpoint) -> None:
    with CaptureEndpoint(endpoint.url) as tokenless, pytest.raises(EndpointError, match="needs an inspection token"):
        tokenless.events()
    with CaptureEndpoint(endpoint.url, "wrong") as wrong, pytest.raises(EndpointError, match="refused the inspection"):
        wrong.reset()
    with CaptureEndpoint(f"{endpoint.url}/nowhere", endpoint.inspect_token) as elsewhere, \
            pytest.raises(EndpointError, match="answered 404 .*is it capture-harness serve"):
        elsewhere.stats()


@pytest.mark.e2e
def test_posthog_node_events_arrive(fresh: CaptureEndpoint, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "posthog-node" / "package.json").is_file():
        pytest.skip("needs node and posthog-node in tests/js/node_modules (npm ci --prefix tests/js)")
    script = tmp_path / "send.cjs"
    script.write_text(
        "const { PostHog } = require('posthog-node');\n"
        "const client = new PostHog(process.argv[2], { host: process.argv[3], flushAt: 1 });\n"
        "client.capture({ distinctId: 'user-1', event: 'signed_up', properties: { plan: 'pro' } });\n"
        "client.shutdown().then(() => console.log('flushed'));\n")
    done = subprocess.run([node, str(script), API_KEY, fresh.url], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "flushed"), done.stderr[-2000:]
    sent = fresh.expect_event("signed_up", distinct_id="user-1", properties={"plan": "pro", "$lib": "posthog-node"})
    assert sent.token == API_KEY


SIGNUP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><script src="posthog.js"></script></head>
<body><button id="signup" type="button">Sign up</button><script>
  const query = new URLSearchParams(location.search);
  posthog.init(query.get("token"), { api_host: query.get("posthog_host") });
  document.querySelector("#signup").addEventListener("click", () => posthog.capture("signed_up", { plan: "pro" }));
</script></body></html>
"""


@pytest.fixture
def signup_site(tmp_path: Path) -> Iterator[str]:
    """README's posthog-js page (posthog-js's browser bundle from tests/js/) from a static 127.0.0.1 server."""
    bundle = NODE_MODULES / "posthog-js" / "dist" / "array.js"
    if not bundle.is_file():
        pytest.skip("needs posthog-js in tests/js/node_modules (npm ci --prefix tests/js)")
    (tmp_path / "signup.html").write_text(SIGNUP_PAGE)
    (tmp_path / "posthog.js").symlink_to(bundle)
    site = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(tmp_path)))
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}/signup.html"
    site.shutdown()
    site.server_close()
    thread.join()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.e2e
def test_posthog_js_events_arrive_from_a_browser_that_does_not_look_automated(fresh: CaptureEndpoint,
                                                                              signup_site: str) -> None:
    with chromium("--disable-blink-features=AutomationControlled") as browser:
        page = browser.new_page()  # headless Chromium's own user agent names HeadlessChrome: a bot
        warnings: list[str] = []
        page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
        page.goto(f"{signup_site}?{urlencode({'token': API_KEY, 'posthog_host': fresh.url})}")
        page.click("#signup")
        page.wait_for_function("!!window.posthog.__loaded")
        assert any("the user agent looks like a bot" in text for text in warnings), warnings
        fresh.expect_no_event(timeout=5)  # a browser that does not look automated is stored well within 1 s
        page.close()
        agent = (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 f"Chrome/{browser.version} Safari/537.36")
        page = browser.new_page(user_agent=agent)
        assert page.evaluate("navigator.webdriver") is False
        page.goto(f"{signup_site}?{urlencode({'token': API_KEY, 'posthog_host': fresh.url})}")
        page.click("#signup")
        fresh.expect_event("$pageview", properties={"$lib": "web"}, timeout=60)  # stored well within a second
        clicked = fresh.expect_event("signed_up", properties={"plan": "pro", "$lib": "web"}, timeout=60)
        page.close()
    assert clicked.token == API_KEY


# --- the pytest plugin -----------------------------------------------------------------------------------

APP_TESTS = """
import posthog

def send(url, plan):
    client = posthog.Posthog("phc_app_0123456789abcdef", host=url, sync_mode=True, max_retries=0,
                             enable_local_evaluation=False, capture_mode="v0")
    client.capture("signed_up", distinct_id="user-1", properties={"plan": plan})
    client.shutdown()

def test_signup_is_tracked(captured):
    send(captured.url, "pro")
    captured.expect_event("signed_up", distinct_id="user-1", properties={"plan": "pro"})

def test_each_test_sees_only_its_own_events(captured):
    assert captured.events() == []

def test_the_session_shares_one_endpoint(capture_endpoint, captured):
    assert capture_endpoint is captured
    captured.faults(drop_rate=1.0)

def test_no_test_inherits_the_faults_of_another(captured):
    assert captured.faults()["drop_rate"] == 0
"""

FAILING_APP_TEST = """
def test_the_wrong_plan(captured):
    send(captured.url, "free")
    captured.expect_event("signed_up", properties={"plan": "pro"}, timeout=0.2)
"""


@pytest.fixture
def app_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester folder whose sessions (subprocesses: the SDK keeps state in its process) load only this
    plugin, with no endpoint named by the environment and no proxy in the way."""
    pytest.importorskip("posthog", reason="the posthog SDK is not installed (pip install .[test])")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    for name in ("CAPTURE_HARNESS_ENDPOINT", "CAPTURE_HARNESS_INSPECT_TOKEN", "POSTHOG_CAPTURE_MODE", "HTTP_PROXY",
                 "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return pytester


@pytest.mark.e2e
def test_the_fixtures_start_serve_for_the_session(app_session: pytest.Pytester) -> None:
    app_session.makepyfile(test_app=APP_TESTS + FAILING_APP_TEST)
    result = app_session.runpytest_subprocess("-p", "harness.apptest.fixtures", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: no stored event matches event 'signed_up', properties {'plan': 'pro'} (waited 0.2 s at*",
        "*1 events arrived: 'signed_up' x1",
        "*1. 'signed_up' for distinct_id 'user-1' (uuid *",
    ])
    assert "properties['plan']: expected 'pro', got 'free'" in result.stdout.str()  # [ is special to fnmatch


@pytest.mark.e2e
def test_the_fixtures_use_the_endpoint_they_are_given(app_session: pytest.Pytester, endpoint: CaptureEndpoint,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app_session.makepyfile(test_app=APP_TESTS)
    monkeypatch.setenv("CAPTURE_HARNESS_ENDPOINT", endpoint.url)
    assert endpoint.inspect_token is not None
    result = app_session.runpytest_subprocess("-p", "harness.apptest.fixtures", "-p", "no:cacheprovider",
                                   "--capture-endpoint-token", endpoint.inspect_token)
    result.assert_outcomes(passed=4)
    alone = app_session.runpytest_subprocess("-p", "harness.apptest.fixtures", "-p", "no:cacheprovider",
                                  "--capture-endpoint-token", endpoint.inspect_token, "-k", "signup")
    alone.assert_outcomes(passed=1)
    assert [e.event for e in endpoint.events()] == ["signed_up"]  # sent into this endpoint

    wrong = app_session.runpytest_subprocess("-p", "harness.apptest.fixtures", "-p", "no:cacheprovider",
                                  "--capture-endpoint", endpoint.url, "--capture-endpoint-token", "wrong")
    wrong.assert_outcomes(errors=4)
    refused = "*capture-harness: http://127.0.0.1:*: the /_harness/ inspection API refused the inspection token*"
    wrong.stdout.fnmatch_lines([refused])


@pytest.mark.e2e
def test_the_plugin_sits_beside_the_contract_plugin(app_session: pytest.Pytester) -> None:
    result = app_session.runpytest_subprocess("-p", "harness.contract.plugin", "-p", "harness.apptest.fixtures",
                                              "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["capture-harness app tests*", "*--capture-endpoint=URL*",
                                 "*--capture-endpoint-token=TOKEN*"])
    result.stdout.fnmatch_lines(["*--capture-url=URL*"])


CONFTEST = """
import json, sys

def pytest_sessionfinish(session):
    loaded = sorted(name for name in sys.modules if name.startswith(("harness", "uvicorn", "posthog")))
    (session.config.rootpath / "loaded.json").write_text(json.dumps(loaded))
"""


@pytest.mark.e2e
def test_a_session_that_asks_for_no_endpoint_starts_none(app_session: pytest.Pytester) -> None:
    app_session.makeconftest(CONFTEST)
    app_session.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = app_session.runpytest_subprocess("-p", "harness.apptest.fixtures", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    loaded = json.loads((app_session.path / "loaded.json").read_text())
    assert loaded == ["harness", "harness._lazy", "harness.apptest", "harness.apptest.fixtures"]


def test_the_plugin_is_a_pytest11_entry_point() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert declared["capture_harness_apptest"] == "harness.apptest.fixtures"
    installed = {point.name: point.value for point in metadata.entry_points(group="pytest11")}
    if "capture_harness_apptest" not in installed:
        pytest.skip("the installed package predates the entry point: pip install -e . registers it")
    assert installed["capture_harness_apptest"] == "harness.apptest.fixtures"
