"""The delivery ledger on its own: per-process ledger files, and their reconciliation with what an endpoint
stored (lost, duplicated, unexpected), without a load run."""

from __future__ import annotations

from pathlib import Path

import orjson

from harness.load import ledger


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
        writer.record(200 if i % 3 else 503, (f"e{i}", f"f{i}"))
    writer.close()
    assert writer.path.name.startswith("ledger-") and writer.path.suffix == ".jsonl"
    sent, acknowledged = ledger.read(tmp_path / "report")
    assert len(sent) == 900
    assert len(acknowledged) == 600
