"""The run's own report, ``report.html`` (:mod:`harness.load.report`).

Unit tests write it from a synthetic report directory (summary.json, Locust's stats history, failure
details, the open model's histograms) and from broken or empty ones.  The end-to-end tests make real short
runs (closed and open model, against the reference endpoint on 127.0.0.1) and load both our page and
Locust's in a real browser: Debian's ``chromium`` driven by Playwright (``executable_path``; Playwright's
own browser download is never used).  They check for console and page errors, every section, rendered
plots, and that the page fetches nothing; the screenshots land in the test's tmp dir and in
``out/test-artifacts/``.  Without ``/usr/bin/chromium`` or the ``playwright`` package they are skipped, saying
how to enable them.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import _parser
from harness.load import files, latency
from harness.load.options import LoadOptions, Thresholds
from harness.load.report import read_history, write_report
from harness.load.summary import replay_command
from tests.support import ARTIFACTS, chromium

SECTIONS = ("verdict", "run", "over-time", "percentiles", "errors", "delivery", "replay", "files")
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
                  "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
                  "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                  "Total Average Content Size")


# --- a synthetic report directory -------------------------------------------------------------------------


def _summary(**extra: Any) -> dict[str, Any]:
    return {
        "target": "http://127.0.0.1:8000", "scenario": "mixed", "seed": 7, "api_key": "phc_…0000", "users": 20,
        "processes": 1, "duration_s": 4, "requests": 1000, "failures": 12, "error_rate": 0.012, "rps": 250.0,
        "events_per_s": 2500.0,
        "latency_ms": {"capture json": {"requests": 400, "failures": 12, "rps": 100.0, "p50": 3.0, "p95": 9.0,
                                        "p99": 15.0, "max": 40.0},
                       "Aggregated": {"requests": 1000, "failures": 12, "rps": 250.0, "p50": 4.0, "p95": 10.0,
                                      "p99": 20.0, "max": 55.0}},
        "errors": [{"name": "capture json", "error": "server error (503)", "occurrences": 10},
                   {"name": "batch posthog-node", "error": "server error (500)", "occurrences": 1},
                   {"name": "capture json", "error": "connection failed", "occurrences": 1}],
        "delivery": {"sent": 9000, "acknowledged": 8900, "stored": 8900, "lost": 0, "duplicated": 0, "unexpected": 0,
                     "lost_examples": [], "checked": True},
        "replay": "capture-harness load --seed 7 --scenario mixed -u 20 -r 20 -t 4s --report-dir out/r",
        "checks": [{"name": "answered", "limit": 1, "value": 999, "passed": True, "text": "answered 999 of 1,000 >= 1"},
                   {"name": "error rate", "limit": 0.0, "value": 0.012, "passed": False,
                    "text": "error rate 1.20% <= 0.00%", "reason": "12 of 1,000 requests failed (1.20%)"}],
        "verdict": {"passed": False, "reasons": ["12 of 1,000 requests failed (1.20%)"]},
        **extra,
    }


def _failure(title: str, index: int) -> dict[str, Any]:
    return {"time": 1.0 + index, "name": "capture json", "title": title,
            "detail": f"capture json: answered 503, body '<b>oops {index}</b>'",
            "curl": f"curl -sS -i -X POST --data-binary '{{\"n\": {index}}}' http://127.0.0.1:8000/i/v0/e/"}


def _report_dir(root: Path, summary: dict[str, Any] | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if summary is not None:
        (root / files.SUMMARY).write_text(json.dumps(summary))
    rows = [HISTORY_HEADER, "100,0,,Aggregated,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0"]
    for second in range(1, 5):
        rows.append(f"{100 + second},20,,Aggregated,250,3,4,5,6,7,8,10,12,20,30,40,55,{250 * second},{3 * second},"
                    "4,5,1,55,15")
    rows.append("105,20,,Aggregated,250")  # cut short when the run stopped
    (root / files.STATS_HISTORY_CSV).write_text("\n".join(rows) + "\n")
    lines = [json.dumps(_failure("server error", i)) for i in range(5)] + [
        json.dumps(_failure("connection failed", 9)), '{"title": "server err']  # the last line cut short
    (root / "failures-11.jsonl").write_text("\n".join(lines) + "\n")
    (root / files.LOCUST_HTML).write_text("<!DOCTYPE html><title>Locust</title><p>Locust's page</p>")
    return root


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.DOTALL))


def test_every_section_from_a_full_report_directory(tmp_path: Path) -> None:
    report_dir = _report_dir(tmp_path / "report", _summary())
    page = write_report(report_dir).read_text()
    sections = _sections(page)
    assert tuple(sections) == SECTIONS
    assert "not available" not in page
    assert "FAILED" in sections["verdict"] and "error rate 1.20% &lt;= 0.00%" in sections["verdict"]
    assert sections["verdict"].count('class="badge pass"') == 1 and sections["verdict"].count('class="badge fail"') == 1
    assert 'id="plot-throughput"' in sections["over-time"] and 'id="plot-latency"' in sections["over-time"]
    assert "Locust's percentiles per request name" in html.unescape(sections["percentiles"])
    # errors by title, with Locust's counts, the catalogue's meaning and at most three examples each
    errors = sections["errors"]
    assert errors.index("server error") < errors.index("connection failed")  # by occurrences
    assert "(11 in Locust's stats)" in html.unescape(errors) and "a 5xx: nothing a client sends may get one" in errors
    assert "3 of 5 recorded failure details" in errors and "1 of 1 recorded failure details" in errors
    assert errors.count('<pre class="curl">') == 4
    assert "&lt;b&gt;oops 0&lt;/b&gt;" in errors and "<b>oops" not in errors  # escaped
    assert "curl -sS -i -X POST --data-binary &#x27;{&quot;n&quot;: 0}&#x27;" in errors
    assert "8,900" in sections["delivery"] and "lost after acknowledgement" in sections["delivery"]
    assert "capture-harness load --seed 7 --scenario mixed" in sections["replay"]
    assert f'href="{files.LOCUST_HTML}"' in sections["files"] and 'href="failures-11.jsonl"' in sections["files"]
    # self-contained: nothing to fetch, no script
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "default-src 'none'" in page


def test_the_open_model_shows_hdrhistogram_percentiles_and_their_plot(tmp_path: Path) -> None:
    corrected, uncorrected = latency.new_histogram(), latency.new_histogram()
    for us in range(1000, 50_000, 100):
        corrected.record_value(us + 500)
        uncorrected.record_value(us)
    figures = latency.summarize({files.TOTAL: {"corrected": corrected, "uncorrected": uncorrected}})
    plan = {"arrival_rate": 50.0, "planned": 490, "sent": 490, "missed": 0, "unsent": 0, "planned_rps": 50.0,
            "achieved_rps": 49.9}
    report_dir = _report_dir(tmp_path / "report", _summary(open_model=plan, latency_hdr_ms=figures))
    (report_dir / files.LATENCY_REPORT).write_text(json.dumps({"plan": plan, "histograms_us": {files.TOTAL: {
        "corrected": latency.encode(corrected), "uncorrected": latency.encode(uncorrected)}}}))
    sections = _sections(write_report(report_dir).read_text())
    percentiles = sections["percentiles"]
    assert "HdrHistogram percentiles (open model)" in percentiles and 'id="plot-percentiles"' in percentiles
    assert percentiles.count("<svg") == 1 and "corrected (from intended send)" in percentiles
    assert "Locust's percentiles per request name" in html.unescape(percentiles)  # labelled so, beside them
    assert "Open-model plan" in sections["run"] and "achieved req/s" in sections["run"]


def test_an_empty_report_directory_gives_a_page_that_says_what_is_missing(tmp_path: Path) -> None:
    page = write_report(tmp_path).read_text()
    sections = _sections(page)
    assert tuple(sections) == SECTIONS
    assert all("not available" in body for body in sections.values()), sections
    assert "summary.json is not available" in page


def test_broken_files_do_not_break_the_page(tmp_path: Path) -> None:
    report_dir = _report_dir(tmp_path / "report", None)
    (report_dir / files.SUMMARY).write_text('{"verdict": {"pass')  # written when the run was killed
    (report_dir / files.LATENCY_REPORT).write_text('{"histograms_us": {"Aggregated": {"corrected": "HISTFAAA"}}}')
    sections = _sections(write_report(report_dir).read_text())
    assert "not available" in sections["verdict"] and "not available" in sections["replay"]
    assert 'id="plot-throughput"' in sections["over-time"]  # what the run left is still shown
    assert "3 of 5 recorded failure details" in sections["errors"]
    history = read_history(report_dir / files.STATS_HISTORY_CSV)
    assert [sample.requests for sample in history] == [0, 250, 500, 750, 1000]  # the cut-short row skipped


def test_a_cancelled_run_says_so(tmp_path: Path) -> None:
    cancel = {"signal": "SIGTERM", "phase": "run", "after_s": 2.5, "planned_s": 20}
    report_dir = _report_dir(tmp_path / "report", _summary(cancelled=True, cancel=cancel))
    verdict = _sections(write_report(report_dir).read_text())["verdict"]
    assert "CANCELLED" in verdict and "Cancelled by SIGTERM during run, after 2.5 s of 20 s planned" in verdict


def test_the_replay_command_is_accepted_by_the_command_line_and_holds_no_secret(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    options = LoadOptions(url="https://capture.example.com", api_key="phc_SECRET123456", scenario="batch", users=7,
                          spawn_rate=3.5, duration_s=90, processes=2, report_dir=tmp_path / "my report", seed=None,
                          thresholds=Thresholds(max_p95_ms=500, max_error_rate=0.01, min_rps=10, max_missed=3),
                          arrival_rate=100.0, ramp_s=5.0, ca_bundle=bundle, insecure=True,
                          headers=("X-Gateway-Key: s3cret",), locust_args=("--loglevel", "DEBUG"))
    command = replay_command(options, seed=42)
    assert "phc_SECRET123456" not in command and '--api-key "$CAPTURE_HARNESS_API_KEY"' in command
    assert "s3cret" not in command and "-H 'X-Gateway-Key: …'" in command
    words = shlex.split(command)
    assert words[:4] == ["capture-harness", "load", "--seed", "42"]
    args = _parser().parse_args(words[1:])
    assert (args.seed, args.scenario, args.users, args.spawn_rate, args.duration, args.processes) == \
        (42, "batch", 7, 3.5, 90, 2)
    assert (args.url, args.arrival_rate, args.ramp, args.max_p95, args.max_p99, args.max_error_rate, args.min_rps,
            args.max_missed, args.report_dir) == ("https://capture.example.com", 100.0, 5.0, 500, None, 0.01, 10, 3,
                                                  tmp_path / "my report")
    assert (args.ca_bundle, args.insecure, args.header, args.locust_args) == \
        (bundle, True, ["X-Gateway-Key: …"], ["--loglevel", "DEBUG"])
    plain = replay_command(LoadOptions(url=None, api_key="phc_" + "0" * 40, scenario="mixed", users=20, spawn_rate=20,
                                       duration_s=20, processes=1, report_dir=Path("out/load"), seed=1), seed=1)
    assert plain.startswith("capture-harness load --seed 1 --scenario mixed -u 20 -r 20 -t 20s")


# --- in a real browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Watched:
    """A page with its console errors, page errors and every request it made, recorded."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def unexpected_errors(self) -> list[str]:
        """The errors, without the failed loads of Locust's favicons (its page points them at ``../../assets/``,
        which no report directory has)."""
        favicons = [url for url in self.failed if re.search(r"/assets/favicon-(light|dark)\.png$", url)]
        errors = [error for error in self.errors if "Failed to load resource" not in error]
        loads = sum("Failed to load resource" in error for error in self.errors)
        others = [url for url in self.failed if url not in favicons]
        return errors + [f"failed to load {url}" for url in others] + (
            [f"{loads - len(favicons)} more failed loads"] if loads > len(favicons) else [])


def _run(workdir: Path, name: str, *args: str) -> Path:
    report_dir = workdir / name
    result = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--report-dir", str(report_dir), "-t", "4s",
                             *args], cwd=workdir, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return report_dir


def _screenshot(watched: Watched, path: Path) -> None:
    watched.page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


@pytest.mark.e2e
@pytest.mark.parametrize("model, args", [("closed", ()), ("open", ("--arrival-rate", "50"))])
def test_the_report_of_a_real_run_in_chromium(tmp_path: Path, browser: Any, model: str, args: tuple[str, ...]) -> None:
    report_dir = _run(tmp_path, f"report-{model}", *args)
    ours = Watched(browser)
    ours.page.goto((report_dir / files.HTML_REPORT).as_uri())
    _screenshot(ours, tmp_path / f"report-{model}.png")
    assert ours.unexpected_errors() == []
    assert ours.requests == [(report_dir / files.HTML_REPORT).as_uri()]  # self-contained: fetched nothing else
    for section in SECTIONS:
        assert ours.page.locator(f"section#{section} > h2").is_visible(), section
    assert "not available" not in ours.page.inner_text("main")
    assert ours.page.inner_text(".verdict") == "PASSED"
    plots = ["#plot-throughput svg", "#plot-latency svg"] + (["#plot-percentiles svg"] if model == "open" else [])
    for plot in plots:
        box = ours.page.locator(plot).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, (plot, box)
    assert ours.page.locator("#hdr").count() == 1  # HdrHistogram percentiles in both models
    assert ours.page.locator("#locust-percentiles").is_visible()
    assert "capture-harness load --seed" in ours.page.inner_text("#replay-command")
    # Locust's own page, linked from ours, renders (its script runs: the open model's page was blank once)
    ours.page.locator(f'header a[href="{files.LOCUST_HTML}"]').click()
    ours.page.wait_for_load_state("load")
    assert ours.page.url == (report_dir / files.LOCUST_HTML).as_uri()
    ours.page.get_by_text("Request Statistics").first.wait_for(timeout=10_000)
    _screenshot(ours, tmp_path / f"locust-report-{model}.png")
    assert ours.unexpected_errors() == []
    ours.page.close()


def test_a_v1_run_shows_its_per_event_outcomes(tmp_path: Path) -> None:
    summary = _summary()
    summary["delivery"]["per_event"] = {"dropped": 12, "drops_by_tag": {"invalid_event_name": 9, "<x>": 3},
                                        "stored_after_drop": 1, "retried": 40, "resolved_retries": 38,
                                        "unresolved_retries": 2, "retries_given_up": 0}
    delivery = _sections(write_report(_report_dir(tmp_path / "report", summary)).read_text())["delivery"]
    assert "Per event (v1)" in delivery
    assert "12 (9 invalid_event_name, 3 &lt;x&gt;)" in delivery  # tags escaped once
    for label, value in (("stored after drop", "1"), ("retry answers", "40"), ("retries resolved", "38"),
                         ("unresolved at the end", "2"), ("given up", "0")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in delivery, label
    summary["delivery"].update(checked=False, unchecked="cancelled")
    unchecked = _sections(write_report(_report_dir(tmp_path / "unchecked", summary)).read_text())["delivery"]
    assert "<dt>stored after drop</dt><dd>-</dd>" in unchecked and "<dt>dropped</dt><dd>12" in unchecked


def test_a_v0_run_has_no_per_event_outcomes(tmp_path: Path) -> None:
    delivery = _sections(write_report(_report_dir(tmp_path / "report", _summary())).read_text())["delivery"]
    assert "Per event" not in delivery
