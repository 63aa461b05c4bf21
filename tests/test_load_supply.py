"""The traffic supply (:mod:`harness.load.supply`): a generator process a bounded window of seeded chunks ahead
of the reader, deterministic per seed, chunks deleted once read, nothing left when the reader goes."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

from harness.checks import Case
from harness.generate import model, seeded
from harness.generate.choices import SeededChoices, weighted
from harness.generate.traffic import BODY_KINDS, Traffic
from harness.load import corpus, scenarios, supply
from harness.load.supply import Supply
from harness.spec.jsontext import to_json
from harness.wire import encode
from tests.support import wait_for

KEY = "phc_SUPPLYKEY123456789"


def chunk_files(spool: Path) -> list[int]:
    return sorted(int(path.stem.split("-")[1]) for path in spool.glob("*.chunk"))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def test_a_seeded_supply_replays_the_same_chunks(tmp_path: Path) -> None:
    taken = []
    for run in ("a", "b"):
        source = Supply(tmp_path / run, "capture", 7, 1, KEY).start()
        try:
            taken.append(list(itertools.islice(source.cases(), 2 * corpus.CHUNK_SIZE + 5)))
        finally:
            source.close()
    expected = corpus.generate_chunk("capture", 7, 1, 0, KEY) + corpus.generate_chunk("capture", 7, 1, 1, KEY)
    assert taken[0] == taken[1] and taken[0][:2 * corpus.CHUNK_SIZE] == expected
    assert taken[0][-5:] == corpus.generate_chunk("capture", 7, 1, 2, KEY)[:5]
    other = Supply(tmp_path / "c", "capture", 8, 1, KEY).start()
    try:
        assert next(other.cases()) != taken[0][0]
    finally:
        other.close()


def test_uuids_are_unique_across_chunks_and_files_stay_within_the_window(tmp_path: Path) -> None:
    source = Supply(tmp_path, "mixed", 3, 0, KEY).start()
    uuids: list[str] = []
    try:
        cases = source.cases()
        for chunk in range(3 * supply.WINDOW):
            batch: list[Case] = list(itertools.islice(cases, corpus.CHUNK_SIZE))
            uuids += [uuid for case in batch for uuid in case.uuids]
            on_disk = chunk_files(source.spool)
            assert len(on_disk) <= supply.WINDOW, on_disk
            assert all(chunk < n <= chunk + supply.WINDOW for n in on_disk), (chunk, on_disk)  # read ones are gone
        assert len(uuids) == len(set(uuids))
        # the reader stops reading: the generator fills the window and no more
        full = wait_for(lambda: len(chunk_files(source.spool)) == supply.WINDOW, "a full window")
        assert full and chunk_files(source.spool) == list(range(3 * supply.WINDOW, 4 * supply.WINDOW))
    finally:
        source.close()
    assert not source.spool.exists() and source.process is not None and source.process.poll() is not None


def test_prepared_chunks_are_claimed_by_the_supply(tmp_path: Path) -> None:
    supply.prepare(tmp_path, "capture", 5, 0, KEY)
    [prepared] = tmp_path.iterdir()
    assert chunk_files(prepared) == list(range(supply.PREPARED)) and "SUPPLYKEY" not in prepared.name
    source = Supply(tmp_path, "capture", 5, 0, KEY).start()
    try:
        assert not prepared.exists() and source.spool.is_dir()  # renamed: the prepared chunks are its own
        first = next(source.cases())
        assert first == corpus.generate_chunk("capture", 5, 0, 0, KEY)[0]
        assert source.waits == 0
    finally:
        source.close()


def test_prepared_chunks_read_before_the_generator_starts_are_not_made_again(tmp_path: Path) -> None:
    """Under Locust the users may take every prepared chunk before the generator process runs: it must go on
    after them (a chunk made again would never be read, and would hold the window shut)."""
    supply.prepare(tmp_path, "capture", 6, 0, KEY)
    source = Supply(tmp_path, "capture", 6, 0, KEY)
    try:
        early = list(itertools.islice(source, supply.PREPARED * corpus.CHUNK_SIZE))  # no generator yet
        source.start()
        later = list(itertools.islice(source, 2 * supply.WINDOW * corpus.CHUNK_SIZE))
        assert later[-1] == corpus.generate_chunk("capture", 6, 0, supply.PREPARED + 2 * supply.WINDOW - 1, KEY)[-1]
        uuids = [uuid for case in early + later for uuid in case.uuids]
        assert len(uuids) == len(set(uuids))
    finally:
        source.close()


def test_the_generator_stops_and_cleans_up_when_its_reader_is_killed(tmp_path: Path) -> None:
    script = ("import sys, time; from pathlib import Path; from harness.load.supply import Supply; "
              f"s = Supply(Path({str(tmp_path)!r}), 'capture', 9, 0, {KEY!r}).start(); next(s.cases()); "
              "print(s.process.pid, s.spool, flush=True); time.sleep(600)")
    reader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        pid, spool = reader.stdout.readline().split()
        assert alive(int(pid)) and Path(spool).is_dir()
        reader.kill()
        reader.wait()
        wait_for(lambda: not alive(int(pid)), "the generator to exit after its reader was killed")
        wait_for(lambda: not Path(spool).exists(), "the spool to be removed")
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert list(tmp_path.iterdir()) == []
    assert os.environ.get(supply.KEY_VARIABLE) is None  # the key went to the child's environment only


GOLDEN_LINES = {"capture": "a64c59269df595b4", "batch": "6997457d79e829da", "identify": "ad3681ee6fb5cf62",
                "alias": "8d843060d22b65fb", "groupidentify": "2bc5a1ce293f2c45", "mixed": "9f8251748b7e1efd"}
GOLDEN_WIRE = {"capture": "299720b8433be1f1", "batch": "6b67b569abe181fb", "browser": "a175f46b151fa514",
               "browser_legacy": "ca25949d2bcadef2", "identify_alias": "7909a6083c28f9ad", "mixed": "66fe57f5a86cf012"}


def test_the_generators_output_per_seed_is_unchanged() -> None:
    """The supply's generator was made faster (weights summed once, times and uuid texts formatted more
    cheaply, a fast path through the encoder) on the promise that a seed still gives the same bytes: the
    bodies of every kind (what ``capture-harness generate`` writes) and the requests every v0 scenario plans,
    as before those changes.
    A change of the model that is meant to change the traffic updates these digests."""
    lines = {kind: hashlib.sha256(b"\n".join(line.data for line in seeded.valid_lines(kind, 500, seed=7)))
             for kind in BODY_KINDS}
    assert {kind: digest.hexdigest()[:16] for kind, digest in lines.items()} == GOLDEN_LINES
    wire = {}
    for scenario in GOLDEN_WIRE:  # the v0 scenarios: a v1 request is not encoded by harness.wire.encode
        digest, traffic = hashlib.sha256(), Traffic(SeededChoices(7), token="phc_x")
        for _ in range(200):
            planned = scenarios.plan(traffic, scenario)
            request = encode(to_json(planned.body), planned.encoding, planned.path, query=dict(planned.query))
            digest.update(f"{planned.name} {request.method} {request.target} {sorted(request.headers.items())}\n"
                          .encode() + request.body)
        wire[scenario] = digest.hexdigest()[:16]
    assert wire == GOLDEN_WIRE


def test_the_generators_fast_paths_agree_with_the_slow_ones() -> None:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    rng = random.Random(3)
    edges = [0, 999, 1000, -1, model.START_MS, 253_402_300_799_999]  # the epoch, a day's end, 9999-12-31
    for ms in edges + [rng.randint(-10**12, 10**14) for _ in range(2000)]:
        micros, moment = rng.randint(0, 999), epoch + dt.timedelta(milliseconds=ms)
        assert model.iso_ms_z(ms) == moment.isoformat(timespec="milliseconds")[:-6] + "Z"
        assert model.iso_python(ms, micros) == (moment + dt.timedelta(microseconds=micros)).isoformat()
        assert model.iso_python(ms) == moment.isoformat()
    table = [("a", 1), ("b", 0)]
    assert weighted(SeededChoices(1), table) == "a"
    table[:] = [("a", 0), ("b", 1)]  # a list may change between draws: its weights are read again
    assert weighted(SeededChoices(1), table) == "b"
