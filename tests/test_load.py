"""Load testing: every locustfile against the reference endpoint, thresholds, the delivery ledger, a
two-worker distributed run, and safety.  (The ledger's and the corpus's own tests, which need no run, are
in ``test_load_ledger.py`` and ``test_load_corpus.py``.)

The runs are real: ``capture-harness load`` as a subprocess (it runs Locust headless as its own
subprocess) against one reference endpoint started for the module on 127.0.0.1, each for 3-4 s.  Faults
are switched on and off at run time through ``/_harness/faults``.  Every subprocess runs in a scratch
directory, so the corpus cache (``.capture-harness/corpus``) lands there.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main
from harness.load import files, ledger
from harness.load.scenarios import PER_EVENT, SCENARIOS
from harness.safety import mask_token
from harness.server.process import ServeProcess
from tests.support import Endpoint, capture_requests, load

SECRET_KEY = "phc_SECRETKEY123456789"
LOCUSTFILES = Path(__file__).resolve().parent.parent / "locustfiles"


# --- the endpoint and the command -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("load")


@pytest.fixture(scope="module")
def endpoint(workdir: Path) -> Iterator[Endpoint]:
    with ServeProcess(db=workdir / "endpoint.sqlite3", args=("--seed", "1"), cwd=workdir) as server:
        yield Endpoint(server.url)


IN_FLIGHT_EVENTS = 20 * 200
"""Events a run's end may cut off unanswered: one request per user (at most 20 here), each of at most 200
events.  They were sent, so the ledger counts them, but never acknowledged; the endpoint may still store them."""


def assert_delivered(delivery: dict[str, Any]) -> None:
    assert delivery["checked"], delivery
    assert delivery["sent"] > 0, delivery
    assert delivery["acknowledged"] <= delivery["stored"] <= delivery["sent"], delivery
    assert delivery["sent"] - delivery["acknowledged"] <= IN_FLIGHT_EVENTS, delivery
    assert (delivery["lost"], delivery["duplicated"], delivery["unexpected"]) == (0, 0, 0), delivery


# --- 1. a headless smoke run of every locustfile -------------------------------------------------------


def test_every_scenario_has_a_locustfile() -> None:
    assert sorted(path.stem for path in LOCUSTFILES.glob("*.py")) == sorted(SCENARIOS)


@pytest.mark.e2e
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_smoke_run_of_every_locustfile(workdir: Path, endpoint: Endpoint, scenario: str) -> None:
    """Every locustfile sends traffic that the endpoint accepts and stores in full; generous thresholds
    are met, so the run exits 0 (a run within its thresholds)."""
    run = load(workdir, f"smoke-{scenario}", "--url", endpoint.url, "--scenario", scenario, "-t", "3s", "-u", "5",
               "--max-error-rate", "0.01", "--max-p95", "5000", "--min-rps", "5")
    assert run.returncode == 0, run.output
    summary = run.summary
    assert summary["scenario"] == scenario
    assert summary["requests"] > 0
    assert summary["failures"] == 0 and summary["errors"] == [], summary["errors"]
    assert summary["broken_thresholds"] == [] and summary["verdict"] == {"passed": True, "reasons": []}
    # the checks applied, with their figures: the three thresholds given and the default ones
    check_names = [check["name"] for check in summary["checks"]]
    per_event = ["retries given up"] if scenario in PER_EVENT else []
    assert check_names == ["answered", "error rate", "p95", "requests/s", "lost after ack", *per_event], \
        summary["checks"]
    assert all(check["passed"] for check in summary["checks"])
    assert {"name": "error rate", "limit": 0.01, "value": 0.0}.items() <= summary["checks"][1].items()
    checks_line = next(line for line in run.stdout.splitlines() if line.startswith("checks: "))
    assert "error rate 0.00% <= 1.00% ok" in checks_line and "lost after ack 0 ok" in checks_line, checks_line
    assert re.search(r"; p95 [\d.,]+ms <= 5000ms ok;", checks_line), checks_line
    assert "PASSED" in run.stdout.splitlines()
    assert "thresholds met" not in run.stdout
    assert_delivered(summary["delivery"])
    names = set(summary["latency_ms"]) - {"Aggregated"}
    assert names and all(name.split()[0] in {"capture", "batch", "browser", "identify", "alias", "groupidentify", "v1"}
                         for name in names), names  # stats grouped by stable names, not by uuid or URL
    for name in ("report.html", "locust_stats.csv", "locust.log"):
        assert (run.report_dir / name).is_file(), name
    if scenario in ("batch", "browser", "mixed"):
        assert summary["events_per_s"] > summary["rps"]  # bodies of several events each


# --- 2. thresholds ----------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_error_injection_breaks_max_error_rate(workdir: Path, endpoint: Endpoint) -> None:
    with endpoint.faults(error_rate=0.3, error_statuses=[503]):
        run = load(workdir, "errors", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
                   "--max-error-rate", "0.01")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert 0.2 < summary["error_rate"] < 0.4
    broken = summary["broken_thresholds"]
    assert len(broken) == 1 and re.match(r"[\d,]+ of [\d,]+ requests failed \(\d+\.\d\d%\)", broken[0]), broken
    assert "more than --max-error-rate 0.01" in broken[0]
    assert summary["verdict"] == {"passed": False, "reasons": broken}
    assert [check["name"] for check in summary["checks"] if not check["passed"]] == ["error rate"]
    assert f"FAILED: {broken[0]}" in run.stdout
    # errors grouped by stable titles: a handful of rows, whatever the number of failed requests
    assert summary["errors"] and len(summary["errors"]) <= 4, summary["errors"]
    assert sum(error["occurrences"] for error in summary["errors"]) == summary["failures"]
    assert all(error["error"] == "server error (503)" for error in summary["errors"]), summary["errors"]
    # a 503 is not an acknowledgement: nothing lost, only fewer events acknowledged than sent
    delivery = summary["delivery"]
    assert delivery["lost"] == 0 and delivery["acknowledged"] == delivery["stored"] < delivery["sent"], delivery


@pytest.mark.e2e
def test_latency_injection_breaks_max_p95(workdir: Path, endpoint: Endpoint) -> None:
    with endpoint.faults(latency_ms=150):
        run = load(workdir, "latency", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
                   "--max-p95", "50", "--max-error-rate", "0.01")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert summary["latency_ms"]["Aggregated"]["p95"] >= 150
    # judged on the HdrHistogram's service time (3 significant digits), not on Locust's rounded figure
    hdr_p95 = summary["latency_hdr_ms"]["Aggregated"]["service"]["p95"]
    check = next(check for check in summary["checks"] if check["name"] == "p95")
    assert check["value"] == hdr_p95 == summary["latency_ms"]["Aggregated"]["p95"] and not check["passed"], check
    assert summary["locust_latency_ms"]["Aggregated"]["p95"] >= 150  # Locust's own, kept for comparison
    broken = summary["broken_thresholds"]
    assert len(broken) == 1 and "p95" in broken[0] and "threshold 50ms" in broken[0], broken
    assert f"FAILED: {broken[0]}" in run.stdout
    assert summary["failures"] == 0  # slow, not failing
    assert_delivered(summary["delivery"])


@pytest.mark.e2e
def test_min_rps_out_of_reach_fails(workdir: Path, endpoint: Endpoint) -> None:
    run = load(workdir, "min-rps", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
               "--min-rps", "1000000")
    assert run.returncode == 1, run.output
    broken = run.summary["broken_thresholds"]
    assert len(broken) == 1 and broken[0].startswith("requests/s ") and "below the threshold" in broken[0], broken
    assert f"FAILED: {broken[0]}" in run.stdout


@pytest.mark.e2e
def test_any_failed_request_fails_the_run_by_default(workdir: Path, endpoint: Endpoint) -> None:
    with endpoint.faults(error_rate=0.3, error_statuses=[503]):
        failing = load(workdir, "default-errors", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "3")
        tolerated = load(workdir, "tolerated-errors", "--url", endpoint.url, "--scenario", "capture", "-t", "3s",
                         "-u", "3", "--max-error-rate", "1")
    assert failing.returncode == 1, failing.output
    summary = failing.summary
    assert summary["failures"] > 0 and summary["verdict"]["passed"] is False
    expected = (f"FAILED: {summary['failures']:,} of {summary['requests']:,} requests failed "
                f"({summary['error_rate']:.2%}); pass --max-error-rate R to tolerate a share of failures")
    assert expected in failing.stdout.splitlines(), failing.stdout
    assert tolerated.returncode == 0, tolerated.output
    assert tolerated.summary["failures"] > 0 and tolerated.summary["verdict"] == {"passed": True, "reasons": []}
    assert "error rate " in tolerated.stdout and "<= 100.00% ok" in tolerated.stdout


@pytest.mark.e2e
def test_nothing_listening_fails_the_run_even_when_errors_are_tolerated(workdir: Path) -> None:
    with socket.socket() as probe:  # a free port: bound, never listened on, closed before the run
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = load(workdir, "closed-port", "--url", f"http://127.0.0.1:{port}", "--scenario", "capture", "-t", "3s",
               "-u", "2", "--max-error-rate", "1")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert summary["requests"] > 0 and summary["failures"] == summary["requests"]
    assert summary["errors"] and all(error["error"] == "connection refused" for error in summary["errors"])
    assert summary["verdict"]["passed"] is False
    assert summary["checks"][0] == {"name": "answered", "limit": 1, "value": 0, "passed": False,
                                    "text": f"answered 0 of {summary['requests']:,} >= 1",
                                    "reason": summary["verdict"]["reasons"][0]}
    assert f"FAILED: none of the {summary['requests']:,} requests sent got an answer" in run.stdout
    assert "no request was sent" not in run.stdout and "thresholds met" not in run.stdout


@pytest.mark.e2e
def test_an_endpoint_that_never_answers_is_named_not_taken_for_silence(workdir: Path) -> None:
    with socket.socket() as silent:  # listens (the kernel completes the handshakes), never accepts or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1024)
        port = silent.getsockname()[1]
        run = load(workdir, "never-answers", "--url", f"http://127.0.0.1:{port}", "--scenario", "capture",
                   "-t", "3s", "-u", "2")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert summary["requests"] > 0 and summary["failures"] == summary["requests"], run.output
    assert all(error["error"] == "no answer before the run ended" for error in summary["errors"])
    assert f"none of the {summary['requests']:,} requests sent got an answer" in run.stdout
    assert "no request was" not in run.stdout


def test_an_error_rate_out_of_range_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["load", "--max-error-rate", "2", "-t", "3s", "--report-dir", str(tmp_path / "report")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--max-error-rate" in err and "'2'" in err and "between 0 and 1" in err
    assert not (tmp_path / "report").exists()


# --- 3. the delivery ledger -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_ledger_catches_acknowledged_but_not_stored(workdir: Path, endpoint: Endpoint) -> None:
    endpoint.reset()
    with endpoint.faults(drop_rate=0.2):
        run = load(workdir, "drops", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5")
    dropped = endpoint.stats()["dropped_events"]
    assert run.returncode == 1, run.output
    summary = run.summary
    delivery = summary["delivery"]
    assert summary["failures"] == 0  # every request was answered 200: only the ledger can tell
    assert delivery["checked"] and delivery["lost"] > 0, delivery
    assert delivery["lost"] == dropped  # exactly the events the endpoint dropped
    assert delivery["acknowledged"] == delivery["stored"] + delivery["lost"], delivery
    # sent but never acknowledged: only requests still in flight when the run ended, one per user at most
    assert 0 <= delivery["sent"] - delivery["acknowledged"] <= 5, delivery
    assert 0.1 < delivery["lost"] / delivery["acknowledged"] < 0.3
    assert delivery["lost_examples"] and len(delivery["lost_examples"]) <= ledger.LOST_SHOWN
    broken = summary["broken_thresholds"]
    assert any(f"{delivery['lost']} acknowledged events were not stored" in reason for reason in broken), broken
    assert "acknowledged events were not stored" in run.stdout
    assert f"{delivery['lost']:,} lost after acknowledgement" in run.stdout


# --- 4. distributed: two Locust workers -------------------------------------------------------------------


def _locust_aggregated(log: str) -> int:
    """The request count of Locust's own final table (the first ``Aggregated`` row in the log)."""
    match = re.search(r"^\s+Aggregated\s+(\d+)\s+\d+\(", log, re.MULTILINE)
    assert match, log[-3000:]
    return int(match.group(1))


@pytest.mark.e2e
def test_two_workers_totals_equal_the_sum_of_their_work(workdir: Path, endpoint: Endpoint) -> None:
    endpoint.reset()
    run = load(workdir, "distributed", "--url", endpoint.url, "--scenario", "capture", "-t", "4s", "-u", "6",
               "--processes", "2")
    assert run.returncode == 0, run.output
    summary = run.summary
    assert summary["processes"] == 2
    # one ledger per worker process, each with its own work
    ledgers = sorted(run.report_dir.glob(files.LEDGER_GLOB))
    assert len(ledgers) == 2, ledgers
    per_worker = [ledger.read_file(path) for path in ledgers]
    # the workers' corpus streams differ (stream = worker index): no event sent by both
    assert len({worker.stream for worker in per_worker}) == 2
    assert all(worker.requests for worker in per_worker), per_worker
    requests_per_worker = [worker.requests for worker in per_worker]
    # the totals are the sum of the workers' work, seen from Locust, the ledger and the endpoint
    total = sum(requests_per_worker)
    assert summary["requests"] == total
    assert summary["requests"] == _locust_aggregated((run.report_dir / "locust.log").read_text())
    assert capture_requests(endpoint.stats()) == total
    delivery = summary["delivery"]
    assert_delivered(delivery)
    assert delivery["sent"] == sum(worker.sent for worker in per_worker)
    # the closed model's HdrHistograms, merged from both workers over Locust's reports: every request Locust
    # counted, per name and in total, with exact percentiles
    assert summary["latency_model"] == "closed" and "open_model" not in summary
    hdr = summary["latency_hdr_ms"]
    assert set(hdr) == set(summary["latency_ms"]), (set(hdr), set(summary["latency_ms"]))
    for name, row in hdr.items():
        assert row["requests"] == summary["latency_ms"][name]["requests"], (name, row)
        figures = row["service"]
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"], (name, figures)
        assert {key: summary["latency_ms"][name][key] for key in ("p50", "p95", "p99", "max")} == \
            {key: figures[key] for key in ("p50", "p95", "p99", "max")}
    assert hdr["Aggregated"]["requests"] == summary["requests"]
    hlog = (run.report_dir / "latency.hlog").read_text()
    assert "closed model" in hlog and "Tag=service:" in hlog
    assert "HdrHistogram percentiles (closed model: service time)" in (run.report_dir / "report.html").read_text()


# --- 5. safety ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://us.i.posthog.com", "https://eu.i.posthog.com/", "https://posthog.com"])
def test_production_hosts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    report_dir = tmp_path / "report"
    assert main(["load", "--url", url, "--report-dir", str(report_dir), "-t", "3s"]) == 2
    err = capsys.readouterr().err
    assert "--allow-production" in err
    assert not report_dir.exists()  # refused before anything was started or sent


@pytest.mark.e2e
def test_production_refusal_from_the_command_line(workdir: Path) -> None:
    run = load(workdir, "production", "--url", "https://us.i.posthog.com", "-t", "3s")
    assert run.returncode == 2
    assert "--allow-production" in run.stderr
    assert not run.report_dir.exists()


@pytest.mark.parametrize("duration", ["0", "0s"])
def test_zero_duration_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], duration: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["load", "-t", duration, "--report-dir", str(tmp_path / "report")])
    assert exit_info.value.code == 2
    assert "at least 1 s" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_absurd_duration_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "-t", "100h", "--report-dir", str(tmp_path / "report")]) == 2
    assert "-t must be between 1 s and 24 h" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_report_dir_holding_the_corpus_cache_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["load", "-t", "3s", "--report-dir", "."]) == 2
    assert "corpus cache" in capsys.readouterr().err
    assert not (tmp_path / ".capture-harness").exists()


@pytest.mark.e2e
def test_a_run_without_a_seed_leaves_no_corpus_behind(workdir: Path, endpoint: Endpoint) -> None:
    run = load(workdir, "unseeded", "--url", endpoint.url, "--scenario", "capture", "-t", "2s", "-u", "2")
    assert run.returncode == 0, run.output
    assert not list((workdir / ".capture-harness" / "corpus").glob("*")), "an unseeded corpus was kept"


@pytest.mark.e2e
def test_api_key_never_in_full_in_reports_or_output(workdir: Path, endpoint: Endpoint) -> None:
    """With failures (so failure details and curl commands are written) the key appears only masked; the
    bodies of failed requests, which hold it, go to .capture-harness/failed-bodies, outside the report directory."""
    with endpoint.faults(error_rate=0.3):
        run = load(workdir, "secret", "--url", endpoint.url, "--scenario", "batch", "-t", "3s", "-u", "5",
                   "--api-key", SECRET_KEY, "--max-error-rate", "1")
    assert run.returncode == 0, run.output  # errors, but tolerated and nothing lost
    assert run.summary["failures"] > 0
    assert SECRET_KEY not in run.output
    assert mask_token(SECRET_KEY) in run.stderr
    assert run.summary["api_key"] == mask_token(SECRET_KEY) == "phc_…6789"
    files = [path for path in run.report_dir.rglob("*") if path.is_file()]
    assert {"summary.json", "report.html", "locust.log", "locust_stats.csv"} <= {path.name for path in files}
    for path in files:
        assert SECRET_KEY.encode() not in path.read_bytes(), path
    failures = [orjson.loads(line) for path in run.report_dir.glob("failures-*.jsonl")
                for line in path.read_bytes().splitlines()]
    assert failures and all(record["curl"].startswith("curl ") for record in failures)
    # JSON batches over 4 KiB go to body files: outside the report directory, with the key in full by design
    bodies = workdir / ".capture-harness" / "failed-bodies"
    referenced = {Path(match) for record in failures for match in re.findall(r"@(\S+\.bin)", record["curl"])}
    assert referenced, "expected some failed request bodies written to files"
    assert all(path.is_absolute() and path.parent == bodies.resolve() and path.is_file() for path in referenced), \
        referenced  # absolute, so the curl command works from any directory
