"""Helpers shared by the test modules: the shared fixtures folder, one-off requests, a ``capture-harness serve``
subprocess, a real Chromium, and a ``capture-harness load`` run with the endpoint it ran against."""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from harness.server import process
from harness.wire import FORM_CONTENT_TYPE

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
"""The project's read-only recorded requests, beside the checkout (tests skip when it is absent)."""
DUMP = FIXTURES / "posthog-requests-dump.jsonl"
ARTIFACTS = REPO / "out" / "test-artifacts"
"""Where the browser tests leave their screenshots (git-ignored with ``out/``)."""

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
"""Without the background-networking flags Chromium's own connections (refused on a closed network) stall it."""
ENABLE_CHROMIUM = ("install Debian's chromium (`apt-get install chromium`, or `.ci/install-browser`) and Playwright "
                   "(`.venv/bin/pip install playwright`); `make test` installs both when apt-get is available")


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (``executable_path``: Playwright's own browser download is never
    used), with ``args`` beside :data:`CHROMIUM_ARGS`; skips the test, saying how to enable it, without it."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need {CHROMIUM}: {ENABLE_CHROMIUM}")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip(f"browser tests need the playwright package: {ENABLE_CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *args])
        try:
            yield browser
        finally:
            browser.close()


def request(url: str, method: str, target: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, headers (lower-case names) and body.  A dropped or reset
    connection raises, failing the test."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, {name.lower(): value for name, value in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def dump_records() -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(line number, section comment, record)`` for every request line of PostHog's recorded dump."""
    if not DUMP.is_file():
        return
    section = ""
    for number, line in enumerate(DUMP.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            section = line
        elif line.strip():
            yield number, section, json.loads(line)


@dataclass(frozen=True)
class Recorded:
    """One request line of the dump: its line number, the section comment above it, and the record."""

    line: int
    section: str
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return f"line{self.line}:{self.record['path'].split('?')[0]}"

    @property
    def is_hint_mismatch(self) -> bool:
        """The form body sent with ``?compression=gzip-js`` although it is not gzip (contract §9.1)."""
        query = dict(parse_qsl(urlsplit(self.record["path"]).query))
        return ("mismatch" in self.section and self.record["content_type"] == FORM_CONTENT_TYPE
                and query.get("compression") == "gzip-js")

    @property
    def headers(self) -> dict[str, str]:
        """The request's headers as recorded, the client IP as ``X-Forwarded-For``."""
        headers = {"Content-Type": self.record["content_type"], "X-Forwarded-For": self.record["ip"]}
        if self.record["content_encoding"]:
            headers["Content-Encoding"] = self.record["content_encoding"]
        return headers

    @property
    def body(self) -> bytes:
        return base64.b64decode(self.record["body"])


def recorded_requests() -> list[Recorded]:
    return [Recorded(number, section, record) for number, section, record in dump_records()]


class ServeProcess(process.ServeProcess):
    """The reference endpoint in a subprocess as the server tests use it: a store and a log they name, the
    checkout as its working directory, and its peak memory."""

    def __init__(self, db: Path, log: Path, *extra: str) -> None:
        super().__init__(db=db, args=extra, log=log, cwd=REPO)

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        assert found, status
        return int(found.group(1))


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = 60.0, interval_s: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something true (returned), or fail naming ``what`` after
    ``deadline_s``: a condition with a generous deadline, never a sleep, synchronises the tests."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval_s)
    raise AssertionError(f"not within {deadline_s:g} s: {what}")


# --- a load run and the endpoint it ran against --------------------------------------------------------


@dataclass
class Endpoint:
    url: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/_harness/stats")

    def reset(self) -> None:
        self.call("POST", "/_harness/reset")

    @contextmanager
    def faults(self, **settings: Any) -> Iterator[None]:
        self.call("POST", "/_harness/faults", settings)
        try:
            yield
        finally:
            self.call("DELETE", "/_harness/faults")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "summary.json").read_text())

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def load(workdir: Path, report: str, *args: str) -> Run:
    """``capture-harness load --report-dir <workdir>/<report> ARGS`` in ``workdir``."""
    report_dir = workdir / report
    result = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--report-dir", str(report_dir), *args],
                            cwd=workdir, capture_output=True, text=True, timeout=180, check=False)
    return Run(result.returncode, result.stdout, result.stderr, report_dir)


def capture_requests(stats: dict[str, Any]) -> int:
    """Requests the endpoint answered on capture routes (the inspection API left out)."""
    return sum(count for path, statuses in stats["requests"].items() if not path.startswith("/_harness")
               for count in statuses.values())
