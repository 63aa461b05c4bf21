"""Load testing: every locustfile against the reference endpoint, thresholds, the delivery ledger, a
two-worker distributed run, safety, and the seeded corpus the runs replay.

The runs are real: ``capture-harness load`` as a subprocess (it runs Locust headless as its own
subprocess) against one reference endpoint started for the module on 127.0.0.1, each for 3-4 s.  Faults
are switched on and off at run time through ``/_harness/faults``.  Every subprocess runs in a scratch
directory, so the corpus cache (``.capture-harness/corpus``) lands there.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main
from harness.load import corpus, ledger
from harness.load.scenarios import SCENARIOS
from harness.safety import mask_token
from harness.spec.body import events_of
from harness.spec.validation import validate
from harness.wire import FORM_CONTENT_TYPE, decode_payload, expected_outcome

SECRET_KEY = "phc_SECRETKEY123456789"
LOCUSTFILES = Path(__file__).resolve().parent.parent / "locustfiles"


# --- the endpoint and the command -------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("load")


@pytest.fixture(scope="module")
def endpoint(workdir: Path) -> Iterator[Endpoint]:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--port", "0", "--db", str(workdir / "endpoint.sqlite3"),
         "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=workdir)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        process.kill()
        pytest.fail(f"the reference endpoint did not start: {line!r}")
    try:
        yield Endpoint(match.group(0))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def assert_delivered(delivery: dict[str, Any]) -> None:
    assert delivery["checked"], delivery
    assert delivery["sent"] > 0, delivery
    assert delivery["acknowledged"] == delivery["sent"] == delivery["stored"], delivery
    assert (delivery["lost"], delivery["duplicated"], delivery["unexpected"]) == (0, 0, 0), delivery


# --- 1. a headless smoke run of every locustfile -------------------------------------------------------


def test_every_scenario_has_a_locustfile() -> None:
    assert sorted(path.stem for path in LOCUSTFILES.glob("*.py")) == sorted(SCENARIOS)


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
    assert summary["broken_thresholds"] == []
    assert "all thresholds met" in run.stdout
    assert_delivered(summary["delivery"])
    names = set(summary["latency_ms"]) - {"Aggregated"}
    assert names and all(name.split()[0] in {"capture", "batch", "browser", "identify", "alias", "groupidentify"}
                         for name in names), names  # stats grouped by stable names, not by uuid or URL
    for name in ("report.html", "locust_stats.csv", "locust.log"):
        assert (run.report_dir / name).is_file(), name
    if scenario in ("batch", "browser", "mixed"):
        assert summary["events_per_s"] > summary["rps"]  # bodies of several events each


# --- 2. thresholds ----------------------------------------------------------------------------------------


def test_error_injection_breaks_max_error_rate(workdir: Path, endpoint: Endpoint) -> None:
    with endpoint.faults(error_rate=0.3, error_statuses=[503]):
        run = load(workdir, "errors", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
                   "--max-error-rate", "0.01")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert 0.2 < summary["error_rate"] < 0.4
    broken = summary["broken_thresholds"]
    assert len(broken) == 1 and broken[0].startswith("error rate "), broken
    assert "threshold 0.01" in broken[0]
    assert f"FAILED: {broken[0]}" in run.stdout
    # errors grouped by stable titles: a handful of rows, whatever the number of failed requests
    assert summary["errors"] and len(summary["errors"]) <= 4, summary["errors"]
    assert sum(error["occurrences"] for error in summary["errors"]) == summary["failures"]
    assert all(error["error"] == "server error (503)" for error in summary["errors"]), summary["errors"]
    # a 503 is not an acknowledgement: nothing lost, only fewer events acknowledged than sent
    delivery = summary["delivery"]
    assert delivery["lost"] == 0 and delivery["acknowledged"] == delivery["stored"] < delivery["sent"], delivery


def test_latency_injection_breaks_max_p95(workdir: Path, endpoint: Endpoint) -> None:
    with endpoint.faults(latency_ms=150):
        run = load(workdir, "latency", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
                   "--max-p95", "50", "--max-error-rate", "0.01")
    assert run.returncode == 1, run.output
    summary = run.summary
    assert summary["latency_ms"]["Aggregated"]["p95"] >= 150
    broken = summary["broken_thresholds"]
    assert len(broken) == 1 and "p95" in broken[0] and "threshold 50ms" in broken[0], broken
    assert f"FAILED: {broken[0]}" in run.stdout
    assert summary["failures"] == 0  # slow, not failing
    assert_delivered(summary["delivery"])


def test_min_rps_out_of_reach_fails(workdir: Path, endpoint: Endpoint) -> None:
    run = load(workdir, "min-rps", "--url", endpoint.url, "--scenario", "capture", "-t", "3s", "-u", "5",
               "--min-rps", "1000000")
    assert run.returncode == 1, run.output
    broken = run.summary["broken_thresholds"]
    assert len(broken) == 1 and broken[0].startswith("requests/s ") and "below the threshold" in broken[0], broken
    assert f"FAILED: {broken[0]}" in run.stdout


# --- 3. the delivery ledger -------------------------------------------------------------------------------


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
    assert delivery["sent"] == delivery["acknowledged"] == delivery["stored"] + delivery["lost"], delivery
    assert 0.1 < delivery["lost"] / delivery["acknowledged"] < 0.3
    assert delivery["lost_examples"] and len(delivery["lost_examples"]) <= ledger.LOST_SHOWN
    broken = summary["broken_thresholds"]
    assert any(f"{delivery['lost']} acknowledged events were not stored" in reason for reason in broken), broken
    assert "acknowledged events were not stored" in run.stdout
    assert f"{delivery['lost']:,} lost after acknowledgement" in run.stdout


def _write_ledger(directory: Path, name: str, entries: list[tuple[int, list[str]]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [orjson.dumps({"status": status, "uuids": uuids}) for status, uuids in entries]
    (directory / f"ledger-{name}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_reconcile_counts_lost_duplicated_and_unexpected(tmp_path: Path) -> None:
    _write_ledger(tmp_path, "1", [(200, ["a", "b"]), (503, ["d"])])
    _write_ledger(tmp_path, "2", [(200, ["c"]), (200, ["e"])])
    # stored: a, b twice (a retry not deduplicated), e; c acknowledged but missing; x never sent
    result = ledger.reconcile(tmp_path, iter(["a", "b", "b", "e", "x"]))
    assert result.checked
    assert (result.sent, result.acknowledged, result.stored) == (5, 4, 3)
    assert (result.lost, result.duplicated, result.unexpected) == (1, 1, 1)
    assert result.lost_examples == ("c",)
    assert not result.ok
    assert result.to_json()["lost"] == 1


def test_reconcile_all_delivered(tmp_path: Path) -> None:
    _write_ledger(tmp_path, "1", [(200, ["a", "b"]), (200, ["c"])])
    result = ledger.reconcile(tmp_path, iter(["c", "b", "a"]))
    assert (result.sent, result.acknowledged, result.stored, result.lost, result.duplicated, result.unexpected) \
        == (3, 3, 3, 0, 0, 0)
    assert result.ok


def test_reconcile_a_retried_event_counts_once(tmp_path: Path) -> None:
    """An event answered 503, then sent again and acknowledged: one event sent, acknowledged, stored."""
    _write_ledger(tmp_path, "1", [(503, ["a"]), (200, ["a"])])
    result = ledger.reconcile(tmp_path, iter(["a"]))
    assert (result.sent, result.acknowledged, result.stored, result.lost) == (1, 1, 1, 0)


def test_reconcile_unchecked_without_inspection_api(tmp_path: Path) -> None:
    _write_ledger(tmp_path, "1", [(200, ["a", "b"]), (0, ["c"])])
    result = ledger.reconcile(tmp_path, None)
    assert not result.checked
    assert (result.sent, result.acknowledged) == (3, 2)
    assert (result.stored, result.lost, result.duplicated, result.unexpected) == (0, 0, 0, 0)
    assert result.ok  # nothing can be proven lost


def test_reconcile_names_at_most_lost_shown(tmp_path: Path) -> None:
    uuids = [f"u{i:03d}" for i in range(ledger.LOST_SHOWN + 5)]
    _write_ledger(tmp_path, "1", [(200, uuids)])
    result = ledger.reconcile(tmp_path, iter([]))
    assert result.lost == len(uuids)
    assert result.lost_examples == tuple(sorted(uuids)[:ledger.LOST_SHOWN])


def test_ledger_writer_round_trip(tmp_path: Path) -> None:
    writer = ledger.LedgerWriter(tmp_path / "report")
    for i in range(450):  # more than one flush block
        writer.record(200 if i % 3 else 503, [f"e{i}", f"f{i}"])
    writer.close()
    assert writer.path.name.startswith("ledger-") and writer.path.suffix == ".jsonl"
    sent, acknowledged = ledger.read(tmp_path / "report")
    assert len(sent) == 900
    assert len(acknowledged) == 600


# --- 4. distributed: two Locust workers -------------------------------------------------------------------


def _locust_aggregated(log: str) -> int:
    """The request count of Locust's own final table (the first ``Aggregated`` row in the log)."""
    match = re.search(r"^\s+Aggregated\s+(\d+)\s+\d+\(", log, re.MULTILINE)
    assert match, log[-3000:]
    return int(match.group(1))


def test_two_workers_totals_equal_the_sum_of_their_work(workdir: Path, endpoint: Endpoint) -> None:
    endpoint.reset()
    run = load(workdir, "distributed", "--url", endpoint.url, "--scenario", "capture", "-t", "4s", "-u", "6",
               "--processes", "2")
    assert run.returncode == 0, run.output
    summary = run.summary
    assert summary["processes"] == 2
    # one ledger per worker process, each with its own work
    ledgers = sorted(run.report_dir.glob("ledger-*.jsonl"))
    assert len(ledgers) == 2, ledgers
    pids = {int(path.stem.removeprefix("ledger-")) for path in ledgers}
    assert len(pids) == 2
    per_worker = []
    for path in ledgers:
        entries = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert entries, path
        per_worker.append(entries)
    requests_per_worker = [len(entries) for entries in per_worker]
    uuids_per_worker = [{uuid for entry in entries for uuid in entry["uuids"]} for entries in per_worker]
    # the workers' corpus streams differ (stream = worker index): no event sent by both
    assert not uuids_per_worker[0] & uuids_per_worker[1]
    # the totals are the sum of the workers' work, seen from Locust, the ledger and the endpoint
    total = sum(requests_per_worker)
    assert summary["requests"] == total
    assert summary["requests"] == _locust_aggregated((run.report_dir / "locust.log").read_text())
    assert capture_requests(endpoint.stats()) == total
    delivery = summary["delivery"]
    assert_delivered(delivery)
    assert delivery["sent"] == sum(len(uuids) for uuids in uuids_per_worker)


# --- 5. safety ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://us.i.posthog.com", "https://eu.i.posthog.com/", "https://posthog.com"])
def test_production_hosts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    report_dir = tmp_path / "report"
    assert main(["load", "--url", url, "--report-dir", str(report_dir), "-t", "3s"]) == 2
    err = capsys.readouterr().err
    assert "--allow-production" in err
    assert not report_dir.exists()  # refused before anything was started or sent


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


def test_a_run_without_a_seed_leaves_no_corpus_behind(workdir: Path, endpoint: Endpoint) -> None:
    run = load(workdir, "unseeded", "--url", endpoint.url, "--scenario", "capture", "-t", "2s", "-u", "2")
    assert run.returncode == 0, run.output
    assert not list((workdir / ".capture-harness" / "corpus").glob("*")), "an unseeded corpus was kept"


def test_api_key_never_in_full_in_reports_or_output(workdir: Path, endpoint: Endpoint) -> None:
    """With failures (so failure details and curl commands are written) the key appears only masked; the
    bodies of failed requests, which hold it, go to .capture-harness/failed-bodies, outside the report directory."""
    with endpoint.faults(error_rate=0.3):
        run = load(workdir, "secret", "--url", endpoint.url, "--scenario", "batch", "-t", "3s", "-u", "5",
                   "--api-key", SECRET_KEY)
    assert run.returncode == 0, run.output  # errors, but no threshold set and nothing lost
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


# --- 6. the corpus ------------------------------------------------------------------------------------------


def _encoding(ready: corpus.ReadyRequest) -> str:
    """The wire encoding a ready request was built with, read off the request."""
    request = ready.request
    if request.headers.get("Content-Encoding") == "gzip":
        return "gzip-header"
    if "compression=gzip-js" in request.target:
        return "gzip-query"
    if request.headers.get("Content-Type") == FORM_CONTENT_TYPE:
        return "form"
    return "json"


@pytest.fixture(scope="module")
def chunks() -> dict[str, list[corpus.ReadyRequest]]:
    return {scenario: corpus.generate_chunk(scenario, 7, 0, 0, SECRET_KEY) for scenario in SCENARIOS}


def test_same_seed_gives_identical_chunks(chunks: dict[str, list[corpus.ReadyRequest]]) -> None:
    for scenario in ("capture", "mixed"):
        again = corpus.generate_chunk(scenario, 7, 0, 0, SECRET_KEY)
        assert again == chunks[scenario]
    assert corpus.generate_chunk("capture", 8, 0, 0, SECRET_KEY) != chunks["capture"]


def test_streams_and_chunks_have_disjoint_uuids(chunks: dict[str, list[corpus.ReadyRequest]]) -> None:
    def uuids(ready: list[corpus.ReadyRequest]) -> list[str]:
        return [uuid for request in ready for uuid in request.uuids]

    first = uuids(chunks["mixed"])
    assert len(first) == len(set(first))  # unique within a chunk
    other_stream = uuids(corpus.generate_chunk("mixed", 7, 1, 0, SECRET_KEY))
    next_chunk = uuids(corpus.generate_chunk("mixed", 7, 0, 1, SECRET_KEY))
    other_scenario = uuids(chunks["browser"])
    groups = [set(first), set(other_stream), set(next_chunk), set(other_scenario)]
    assert sum(len(group) for group in groups) == len(set().union(*groups))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_request_decodes_validates_and_expects_its_outcome(
        chunks: dict[str, list[corpus.ReadyRequest]], scenario: str) -> None:
    ready = chunks[scenario]
    assert len(ready) == corpus.CHUNK_SIZE
    for request in ready:
        path, _, query = request.request.target.partition("?")
        text = decode_payload(path, query, request.request.headers, request.request.body)
        document = orjson.loads(text)
        report = validate(document, encoded=text.encode())
        assert report.accepted, (request.name, report.rejections)
        assert request.expect_status == expected_outcome(_encoding(request), path) == 200, request.name
        assert request.uuids == tuple(event["uuid"] for event in events_of(document))
        assert all(event.get("uuid") for event in events_of(document))  # every event carries a uuid
        assert SECRET_KEY in text  # the run's key is the payloads' token


def test_cache_hit_returns_equal_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      chunks: dict[str, list[corpus.ReadyRequest]]) -> None:
    assert not corpus.cached("browser", 7, 0, 0, SECRET_KEY, tmp_path)
    assert corpus.load_chunk("browser", 7, 0, 0, SECRET_KEY, tmp_path) == chunks["browser"]
    assert corpus.cached("browser", 7, 0, 0, SECRET_KEY, tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and "SECRETKEY" not in files[0].name  # the key never appears in a file name

    def no_generation(*args: Any) -> None:
        raise AssertionError("a cached chunk was generated again")

    monkeypatch.setattr(corpus, "generate_chunk", no_generation)
    assert corpus.load_chunk("browser", 7, 0, 0, SECRET_KEY, tmp_path) == chunks["browser"]


def test_truncated_cache_file_is_regenerated(tmp_path: Path, chunks: dict[str, list[corpus.ReadyRequest]]) -> None:
    corpus.load_chunk("capture", 7, 0, 0, SECRET_KEY, tmp_path)
    [path] = tmp_path.iterdir()
    whole = path.read_bytes()
    for cut in (len(whole) - 10, len(whole) // 2, 5):  # in the bodies, in the metadata line
        path.write_bytes(whole[:cut])
        assert corpus.load_chunk("capture", 7, 0, 0, SECRET_KEY, tmp_path) == chunks["capture"]
        assert path.read_bytes() == whole  # rewritten whole
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial files left behind


def test_stream_requests_continues_across_chunks(tmp_path: Path, chunks: dict[str, list[corpus.ReadyRequest]]) -> None:
    generated: list[int] = []
    stream = corpus.stream_requests("capture", 7, 0, SECRET_KEY, tmp_path, on_generate=generated.append)
    taken = [next(stream) for _ in range(corpus.CHUNK_SIZE + 3)]
    assert taken[:corpus.CHUNK_SIZE] == chunks["capture"]
    assert taken[corpus.CHUNK_SIZE:] == corpus.generate_chunk("capture", 7, 0, 1, SECRET_KEY)[:3]
    assert generated == [0, 1]  # neither chunk was pre-generated, and the stream said so
