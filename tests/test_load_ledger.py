"""The delivery ledger on its own: derived event uuids, per-process bitmap ledgers and their files (checkpoints,
a kill, merging), and their reconciliation with what an endpoint stored (lost, duplicated, unexpected),
checked against a plain set model, without a load run."""

from __future__ import annotations

import shutil
import tempfile
import tracemalloc
import uuid as uuid_module
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.generate import ids
from harness.load import corpus, eventids, ledger

SCENARIO, SEED = "capture", 7
TAG = eventids.run_tag(SCENARIO, SEED)
UNKNOWN = "no-such-scenario"
"""The property test's scenario: its lost events are named by place (no chunk to regenerate, which is slow)."""
UNKNOWN_TAG = eventids.run_tag(UNKNOWN, SEED)
MODEL_UUID = ids.uuid7_text(1_700_000_000_000, 12345)

Event = tuple[int, int, int]
"""(stream, chunk, index)"""


def _uuid(stream: int, chunk: int, index: int, tag: int = TAG) -> str:
    return eventids.derive(MODEL_UUID, tag, stream, chunk, index)


# --- derived uuids ----------------------------------------------------------------------------------------


model_uuids = st.one_of(
    st.builds(ids.uuid4_text, st.integers(0, (1 << 128) - 1)),
    st.builds(ids.uuid7_text, st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 74) - 1)))


@given(model=model_uuids, tag=st.integers(0, eventids.MAX_TAG), stream=st.integers(0, eventids.MAX_STREAM),
       chunk=st.integers(0, eventids.MAX_CHUNK), index=st.integers(0, eventids.MAX_INDEX))
def test_a_derived_uuid_says_where_its_event_came_from(model: str, tag: int, stream: int, chunk: int,
                                                       index: int) -> None:
    derived = eventids.derive(model, tag, stream, chunk, index)
    assert eventids.parse(derived) == (tag, stream, chunk, index)
    assert eventids.parse(derived.upper()) == (tag, stream, chunk, index)
    parsed, original = uuid_module.UUID(derived), uuid_module.UUID(model)
    assert str(parsed) == derived  # canonical text, as the reference server stores it
    assert parsed.variant == uuid_module.RFC_4122 and parsed.version == original.version
    assert parsed.int >> 76 == original.int >> 76  # a v7 keeps its millisecond time (and version)


def test_derivation_refuses_numbers_out_of_range() -> None:
    with pytest.raises(ValueError, match="chunk must be between 0 and 1,048,575"):
        eventids.derive(MODEL_UUID, TAG, 0, eventids.MAX_CHUNK + 1, 0)
    for place in ((-1, 0, 0), (eventids.MAX_STREAM + 1, 0, 0), (0, 0, eventids.MAX_INDEX + 1)):
        with pytest.raises(ValueError):
            eventids.derive(MODEL_UUID, TAG, *place)
    with pytest.raises(ValueError, match="tag"):
        eventids.derive(MODEL_UUID, eventids.MAX_TAG + 1, 0, 0, 0)


def test_text_that_is_no_derived_uuid_parses_to_nothing() -> None:
    for text in ("", "not-a-uuid", "x" * 36, "019b8d63-1bfc-7003-099e-064000140000",  # not the RFC variant
                 "019b8d63-1bfc-7003-899e-06400014000", "019b8d631bfc7003899e064000140000"):
        assert eventids.parse(text) is None, text


# --- the ledger against a set model -----------------------------------------------------------------------


requests = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 300), st.integers(1, 100),
                              st.sampled_from((200, 200, 200, 503, 0))), max_size=60)
"""(stream, chunk, first index, count, status) of each request."""


def _model(sent: list[tuple[int, int, int, int, int]], stored: list[str]) -> ledger.Reconciliation:
    """The figures as sets of uuid texts give them (the ledger's old representation)."""
    texts = {(s, c, i): _uuid(s, c, i, UNKNOWN_TAG) for s, c, first, n, _ in sent for i in range(first, first + n)}
    acked = {texts[s, c, i] for s, c, first, n, status in sent if 200 <= status < 300
             for i in range(first, first + n)}
    every = set(texts.values())
    seen: dict[str, int] = {}
    for uuid in stored:
        seen[uuid] = seen.get(uuid, 0) + 1
    lost = [f"stream {s} chunk {c} event {i}" for (s, c, i), text in sorted(texts.items())
            if text in acked and text not in seen]
    return ledger.Reconciliation(
        sent=len(every), acknowledged=len(acked), stored=sum(1 for u in seen if u in every),
        lost=len(lost), duplicated=sum(1 for u, n in seen.items() if n > 1 and u in every),
        unexpected=sum(n for u, n in seen.items() if u not in every), lost_examples=tuple(lost[:ledger.LOST_SHOWN]),
        checked=True)


@settings(max_examples=60, deadline=None)
@given(sent=requests, picks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 420)),
                                     max_size=200),
       foreign=st.lists(st.sampled_from(("not-a-uuid", MODEL_UUID, _uuid(0, 0, 0, TAG))), max_size=5))
def test_the_ledger_gives_the_figures_of_sets_of_uuids(sent: list[tuple[int, int, int, int, int]],
                                                      picks: list[Event], foreign: list[str]) -> None:
    stored = [_uuid(*pick, UNKNOWN_TAG) for pick in picks] + foreign  # sent or not, some twice, foreign rows
    with tempfile.TemporaryDirectory() as directory:
        writers = {stream: ledger.LedgerWriter(Path(directory), UNKNOWN, SEED, stream) for stream in range(3)}
        for stream, chunk, first, count, status in sent:
            writers[stream].record(status, (chunk, first, count))
        for writer in writers.values():
            writer.close()
        result = ledger.reconcile(Path(directory), iter(stored))
    assert result == _model(sent, stored)


def test_reconcile_unchecked_without_inspection_api(tmp_path: Path) -> None:
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    writer.record(200, (0, 0, 2))
    writer.record(0, (0, 2, 1))
    writer.close()
    result = ledger.reconcile(tmp_path, None, unchecked="no API")
    assert (result.checked, result.unchecked, result.sent, result.acknowledged) == (False, "no API", 3, 2)
    assert (result.stored, result.lost, result.duplicated, result.unexpected) == (0, 0, 0, 0)
    assert result.ok  # nothing can be proven lost


def test_a_retried_event_counts_once(tmp_path: Path) -> None:
    """An event answered 503, then sent again and acknowledged: one event sent, acknowledged, stored."""
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    writer.record(503, (0, 0, 1))
    writer.record(200, (0, 0, 1))
    writer.close()
    result = ledger.reconcile(tmp_path, iter([_uuid(0, 0, 0)]))
    assert (result.sent, result.acknowledged, result.stored, result.lost) == (1, 1, 1, 0)


def test_per_event_acknowledgement(tmp_path: Path) -> None:
    """A per-event answer (v1) acknowledges single events of a request that was not acknowledged whole."""
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    writer.record(0, (0, 0, 10))
    writer.acknowledge(0, 3)
    writer.acknowledge(0, 7, 2)
    writer.close()
    result = ledger.reconcile(tmp_path, iter([_uuid(0, 0, 3), _uuid(0, 0, 8)]))
    assert (result.sent, result.acknowledged, result.stored, result.lost) == (10, 3, 2, 1)
    [example] = result.lost_examples  # a real uuid text, regenerated from the chunk
    assert eventids.parse(example) == (TAG, 0, 0, 7)
    assert example in [u for case in corpus.generate_chunk(SCENARIO, SEED, 0, 0, "") for u in case.uuids]


# --- lost examples are the uuids that were sent -----------------------------------------------------------


def test_lost_examples_are_the_uuid_texts_sent(tmp_path: Path) -> None:
    cases = corpus.generate_chunk(SCENARIO, SEED, 1, 0, "phc_SOMEKEY") + \
        corpus.generate_chunk(SCENARIO, SEED, 1, 1, "phc_SOMEKEY")
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 1)
    for case in cases:
        writer.record(200, case.event_span)
    writer.close()
    uuids = [uuid for case in cases for uuid in case.uuids]
    missing = uuids[5:30]
    result = ledger.reconcile(tmp_path, iter(uuids[:5] + uuids[30:]))
    assert (result.sent, result.acknowledged, result.lost) == (len(uuids), len(uuids), len(missing))
    assert result.lost_examples == tuple(missing[:ledger.LOST_SHOWN])  # the first lost, in the order sent
    assert not result.ok


def test_lost_examples_are_named_by_place_when_the_chunk_cannot_be_regenerated(tmp_path: Path) -> None:
    writer = ledger.LedgerWriter(tmp_path, "retired-scenario", SEED, 2)
    writer.record(200, (4, 0, 2))
    writer.close()
    result = ledger.reconcile(tmp_path, iter([]))
    assert result.lost_examples == ("stream 2 chunk 4 event 0", "stream 2 chunk 4 event 1")


# --- the ledger's files -----------------------------------------------------------------------------------


def test_a_checkpoint_survives_a_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a killed process left: its file as of the last checkpoint, maybe with a torn record after it."""
    monkeypatch.setattr(ledger, "CHECKPOINT_S", 3600.0)
    writer = ledger.LedgerWriter(tmp_path / "run", SCENARIO, SEED, 0)
    for chunk in range(4):
        for first in range(0, 1000, 10):
            writer.record(200, (chunk, first, 10))
    writer.checkpoint()
    writer.record(200, (4, 0, 10))  # after the last checkpoint: lost with the process
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(writer.path, killed / writer.path.name)
    with (killed / writer.path.name).open("ab") as torn:  # a record cut short by the kill
        torn.write(ledger.ChunkBits(1, bytearray(b"\xff"), bytearray(b"\xff")).pack(5)[:-3])
    result = ledger.reconcile(killed, iter([]))
    assert (result.sent, result.acknowledged, result.lost) == (4000, 4000, 4000)
    on_disk = ledger.read_file(killed / writer.path.name)
    assert (on_disk.scenario, on_disk.seed, on_disk.stream, on_disk.tag) == (SCENARIO, SEED, 0, TAG)
    assert on_disk.requests == 400 and on_disk.sent == 4000
    writer.close()


def test_checkpoints_come_every_checkpoint_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "CHECKPOINT_S", 0.0)
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    writer.record(200, (0, 0, 3))
    assert ledger.read_file(writer.path).sent == 3  # not closed: checkpointed already
    writer.close()


def test_old_chunks_are_sealed_and_a_late_answer_still_counts(tmp_path: Path) -> None:
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    for chunk in range(50):
        writer.record(200, (chunk, 0, 1000))
        assert len(writer._open) <= ledger.SEAL_BEHIND
    writer.record(503, (3, 1000, 5))  # a straggler of a sealed chunk
    writer.close()
    result = ledger.reconcile(tmp_path, iter([]))
    assert (result.sent, result.acknowledged) == (50 * 1000 + 5, 50 * 1000)
    assert writer.path.stat().st_size < 50 * 1000 // 8  # a few bits an event at most: here far less


def test_a_ledger_holds_under_a_bit_per_event_sent(tmp_path: Path) -> None:
    """A million events sent in 50-event requests, 1 in 1,000 unacknowledged: the ledger holds far less than a
    bit an event (sealed chunks are compressed), not a string per event."""
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    tracemalloc.start()
    try:
        for chunk in range(20):
            for request in range(1000):
                writer.record(503 if request == 500 else 200, (chunk, request * 50, 50))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 20 * 1000 * 50 // 8, held
    writer.close()
    assert ledger.reconcile(tmp_path, None).acknowledged == 20 * 999 * 50


def test_a_long_run_compacts_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "CHECKPOINT_S", 0.0)  # a checkpoint per request: the log grows fastest
    writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, 0)
    for first in range(0, 200_000, 2):
        writer.record(200, (0, first, 1))
    assert writer.path.stat().st_size < 2 << 20
    writer.close()
    assert ledger.reconcile(tmp_path, None).sent == 100_000


def test_files_of_several_processes_merge(tmp_path: Path) -> None:
    """Workers' files side by side in one folder (as shipped to the master); the same events in two files
    (a stream sent twice) count once."""
    for stream in (0, 1):
        writer = ledger.LedgerWriter(tmp_path, SCENARIO, SEED, stream)
        writer.record(200, (0, 0, 10))
        writer.close()
    elsewhere = ledger.LedgerWriter(tmp_path / "other-process", SCENARIO, SEED, 1)
    elsewhere.record(200, (0, 5, 10))
    elsewhere.record(0, (1, 0, 1))
    elsewhere.close()
    shutil.copy(elsewhere.path, tmp_path / "ledger-999-capture-1.bin")
    stored = [_uuid(0, 0, i) for i in range(10)] + [_uuid(1, 0, i) for i in range(14)]
    result = ledger.reconcile(tmp_path, iter(stored))
    assert (result.sent, result.acknowledged, result.stored, result.lost) == (26, 25, 24, 1)
    assert [eventids.parse(example) for example in result.lost_examples] == [(TAG, 1, 0, 14)]
    assert len(list(tmp_path.glob("ledger-*.bin"))) == 3
