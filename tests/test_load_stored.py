"""The stored tally, the trim route and a drained run: a run's disk must not grow with its length.

The tally is checked against a model with sets of uuid strings (what the ledger kept before bitmaps): for
random ledgers and random stored rows (sent events once or more, unsent events of the run, another run's
events, text that is no uuid), reconciling the rows as one stream and as drained pages must give the
model's figures.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load import eventids, ledger, run
from harness.load.options import LoadOptions
from harness.load.stored import Drain, StoredTally
from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from tests.support import request

SCENARIO, SEED = "batch", 7
TAG = eventids.run_tag(SCENARIO, SEED)
MODEL_UUID = "01890a5d-ac96-774b-bcce-b302099a8057"


def uuid(tag: int, stream: int, chunk: int, index: int) -> str:
    return eventids.derive(MODEL_UUID, tag, stream, chunk, index)


spans = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.integers(0, 40), st.integers(1, 30),
                           st.sampled_from([200, 200, 503, 0])), max_size=12)
"""Requests: (stream, chunk, first event, events, answer status)."""
rows = st.lists(st.one_of(
    st.tuples(st.just(TAG), st.integers(0, 1), st.integers(0, 3), st.integers(0, 80)),  # this run, sent or not
    st.tuples(st.just(TAG ^ 1), st.integers(0, 1), st.integers(0, 3), st.integers(0, 80)),  # another run
    st.sampled_from(["not-a-uuid", "", MODEL_UUID]),
), max_size=120)


def _text(row: tuple[int, int, int, int] | str) -> str:
    return row if isinstance(row, str) else uuid(*row)


def _model(requests: list[tuple[int, int, int, int, int]], stored: list[str]) -> dict[str, int]:
    """The figures by sets of uuid strings."""
    sent = {uuid(TAG, s, c, first + i) for s, c, first, count, _ in requests for i in range(count)}
    acked = {uuid(TAG, s, c, first + i) for s, c, first, count, status in requests if status == 200
             for i in range(count)}
    seen = Counter(stored)
    return {"sent": len(sent), "acknowledged": len(acked), "stored": len(sent & set(seen)),
            "lost": len(acked - set(seen)), "duplicated": sum(1 for u in sent if seen[u] > 1),
            "unexpected": sum(n for u, n in seen.items() if u not in sent)}


@settings(max_examples=60, deadline=None)
@given(requests=spans, stored=rows, page=st.integers(1, 50))
def test_the_tally_gives_the_set_models_figures_streamed_or_drained_in_pages(
        requests: list[tuple[int, int, int, int, int]], stored: list[tuple[int, int, int, int] | str],
        page: int) -> None:
    texts = [_text(row) for row in stored]
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        writers = {stream: ledger.LedgerWriter(directory, SCENARIO, SEED, stream) for stream in (0, 1)}
        for stream, chunk, first, count, status in requests:
            writers[stream].record(status, (chunk, first, count))
        for writer in writers.values():
            writer.close()
        streamed = ledger.reconcile(directory, iter(texts))
        tally = StoredTally([TAG])
        for at in range(0, len(texts), page):
            tally.fold(texts[at:at + page])
        drained = ledger.reconcile(directory, tally)
    figures = {name: getattr(streamed, name) for name in ("sent", "acknowledged", "stored", "lost", "duplicated",
                                                          "unexpected")}
    assert figures == _model(requests, texts)
    assert drained == streamed
    assert tally.rows == len(texts)


def test_a_tally_keeps_bits_not_uuids() -> None:
    tally = StoredTally([TAG]).fold(uuid(TAG, 0, 5, index) for index in range(80_000))
    tally.fold(["not-a-uuid", uuid(TAG ^ 1, 0, 0, 0)])
    assert [len(bits) for bits in tally.chunks[eventids.chunk_key(TAG, 0, 5)]] == [10_000, 10_000]
    assert len(tally.chunks) == 1 and tally.foreign == 2 and tally.rows == 80_002


# --- the trim route --------------------------------------------------------------------------------------

TOKEN = "s3cret-token"
AUTH = {"X-Capture-Harness-Token": TOKEN}
JSON = {"Content-Type": "application/json", **AUTH}


@pytest.fixture
def server() -> Iterator[Running]:
    with running(CaptureApp(Store(":memory:"), inspect_token=TOKEN)) as started:
        yield started


def _capture(server: Running, events: int) -> None:
    batch = [{"event": "e", "distinct_id": "u", "uuid": uuid(TAG, 0, 0, i), "properties": {}}
             for i in range(events)]
    body = json.dumps({"api_key": "phc_trim", "batch": batch}).encode()
    assert request(server.url, "POST", "/batch/", body, {"Content-Type": "application/json"})[0] == 200


def _get(server: Running, target: str) -> Any:
    status, _, body = request(server.url, "GET", target, headers=AUTH)
    assert status == 200, body
    return json.loads(body)


def _trim(server: Running, body: bytes, headers: dict[str, str] = JSON) -> tuple[int, Any]:
    status, _, answer = request(server.url, "POST", "/_harness/events/trim", body, headers)
    return status, json.loads(answer)


def test_trim_deletes_through_the_id_and_keeps_the_counts(server: Running) -> None:
    _capture(server, 10)
    page = _get(server, "/_harness/events?fields=uuid&limit=4")
    assert page["events"] == [{"id": i + 1, "uuid": uuid(TAG, 0, 0, i)} for i in range(4)]
    assert _trim(server, b'{"through_id": 4}') == (200, {"trimmed": 4, "through_id": 4})
    assert [e["id"] for e in _get(server, "/_harness/events?limit=100")["events"]] == list(range(5, 11))
    stats = _get(server, "/_harness/stats")
    assert (stats["stored_events"], stats["trimmed_events"]) == (10, 4)


def test_trim_keeps_the_newest_row_so_that_ids_keep_growing(server: Running) -> None:
    _capture(server, 3)
    assert _trim(server, b'{"through_id": 99}')[1]["trimmed"] == 2
    _capture(server, 2)
    assert [e["id"] for e in _get(server, "/_harness/events?after=3&fields=uuid")["events"]] == [4, 5]
    assert _get(server, "/_harness/stats")["stored_events"] == 5


@pytest.mark.parametrize("body", [b"", b"nope", b"[]", b"{}", b'{"through_id": -1}', b'{"through_id": true}',
                                  b'{"through_id": "4"}', b'{"through_id": 1.5}', b'{"through_id": 1e30}',
                                  b'{"through_id": 9223372036854775808}', b'{"through_id": 1, "more": 2}'])
def test_trim_refuses_a_bad_body_with_400(server: Running, body: bytes) -> None:
    _capture(server, 3)
    status, answer = _trim(server, body)
    assert status == 400 and ("through_id" in answer["error"] or "JSON" in answer["error"])
    assert status == 400 and _get(server, "/_harness/stats")["trimmed_events"] == 0


def test_trim_needs_the_token_and_json(server: Running) -> None:
    _capture(server, 3)
    assert _trim(server, b'{"through_id": 2}', {"Content-Type": "application/json"})[0] == 401
    assert _trim(server, b'{"through_id": 2}', AUTH)[0] == 415
    assert request(server.url, "GET", "/_harness/events/trim", headers=AUTH)[0] == 405
    assert _get(server, "/_harness/stats")["trimmed_events"] == 0


def test_fields_takes_uuid_only(server: Running) -> None:
    status, _, body = request(server.url, "GET", "/_harness/events?fields=data", headers=AUTH)
    assert status == 400 and b"fields=uuid" in body


# --- the drain ---------------------------------------------------------------------------------------------


def test_the_drain_folds_and_trims_page_by_page(server: Running) -> None:
    for _ in range(5):
        _capture(server, 500)
    drain = Drain(server.url, "phc_trim", TAG, 0, AUTH)
    try:
        drain.drain()
        assert (drain.tally.rows, drain.pages, drain.most, drain.held(), drain.error) == (2500, 3, 2500, 1, None)
        _capture(server, 10)
        drain.drain()
        assert (drain.tally.rows, drain.pages, drain.held()) == (2510, 4, 1)
    finally:
        drain.close()
    # the same 500 uuids five times, then 10 of them again: sightings beyond the second are counted apart
    assert (len(drain.tally.again), sum(drain.tally.again.values())) == (500, 2510 - 2 * 500)


def test_a_drain_that_fails_leaves_the_delivery_unchecked(server: Running, tmp_path: Path) -> None:
    _capture(server, 3)
    drain = Drain(server.url, "phc_trim", TAG, 0, {"X-Capture-Harness-Token": "wrong"})
    try:
        delivery = drain.reconcile(tmp_path)
    finally:
        drain.close()
    assert not delivery.checked and "could not be drained" in delivery.unchecked
    assert _get(server, "/_harness/stats")["trimmed_events"] == 0


def test_a_url_target_is_never_drained(server: Running, tmp_path: Path) -> None:
    options = LoadOptions(url=server.url, api_key="phc_trim", scenario=SCENARIO, users=1, spawn_rate=1,
                          duration_s=1, processes=1, report_dir=tmp_path, seed=SEED)
    with run._drain(options, server.url, SEED, 0) as drain:
        assert drain is None


# --- a drained run -----------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_run_against_the_embedded_endpoint_drains_its_store(tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "harness.cli", "load", "-t", "8s", "--report-dir", str(report)],
                            check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    drained = re.search(r"reconciled: ([\d,]+) stored events drained .* at most ([\d,]+) at once\); "
                        r"rows left in its store: (\d+)", result.stderr)
    assert drained, result.stderr
    total, most, left = (int(group.replace(",", "")) for group in drained.groups())
    delivery = json.loads((report / "summary.json").read_text())["delivery"]
    assert delivery["checked"] and delivery["lost"] == 0 and delivery["unexpected"] == 0
    assert delivery["acknowledged"] == delivery["stored"] == delivery["sent"] == total > 0
    assert left <= 1  # the newest row stays (ids must keep growing)
    assert most < total / 2  # never most of the run at once: a few seconds of it
