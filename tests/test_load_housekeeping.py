"""Housekeeping (:mod:`harness.load.housekeeping`): the size caps of what load runs keep, oldest-first eviction,
and ``capture-harness cache`` showing and clearing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.load import housekeeping


def make_files(folder: Path, sizes: list[int]) -> list[Path]:
    """Files of ``sizes`` bytes, the first the oldest (mtimes a minute apart)."""
    paths = []
    for index, size in enumerate(sizes):
        path = folder / f"sub{index % 2}" / f"file{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (1_000_000 + 60 * index, 1_000_000 + 60 * index))
        paths.append(path)
    return paths


def test_eviction_removes_the_oldest_files_until_the_folder_fits(tmp_path: Path) -> None:
    paths = make_files(tmp_path, [100, 100, 100, 100, 100])
    assert housekeeping.usage(tmp_path, 250) == housekeeping.Usage(tmp_path, 5, 500, 250)
    assert housekeeping.evict(tmp_path, 250) == 3
    assert [path.exists() for path in paths] == [False, False, False, True, True]
    assert housekeeping.usage(tmp_path, 250).bytes == 200
    assert housekeeping.evict(tmp_path, 250) == 0  # within the cap: nothing more goes


def test_eviction_removes_folders_it_emptied_and_tolerates_a_missing_folder(tmp_path: Path) -> None:
    make_files(tmp_path, [10, 10, 10])  # sub0: files 0 and 2, sub1: file 1
    assert housekeeping.evict(tmp_path, 10) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sub0"]
    assert housekeeping.evict(tmp_path / "missing", 0) == 0
    assert housekeeping.usage(tmp_path / "missing", 5).files == 0


def test_enforce_caps_caps_both_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "CORPUS_CAP", 150)
    monkeypatch.setattr(housekeeping, "BODIES_CAP", 50)
    make_files(tmp_path / "corpus", [100, 100])
    make_files(tmp_path / "bodies", [40, 40])
    housekeeping.enforce_caps(tmp_path / "corpus", tmp_path / "bodies")
    assert housekeeping.usage(tmp_path / "corpus", 0).bytes == 100
    assert housekeeping.usage(tmp_path / "bodies", 0).bytes == 40


def test_the_cache_command_shows_and_clears(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, bodies = tmp_path / "corpus", tmp_path / "bodies"
    make_files(corpus, [2**20, 2**20])
    make_files(bodies, [10, 10, 10])
    folders = ["--corpus-dir", str(corpus), "--bodies-dir", str(bodies)]
    assert main(["cache", *folders]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith(f"{corpus}: 2 files, 2.0 MB (cap 1,024.0 MB")
    assert shown[1].startswith(f"{bodies}: 3 files, 0.0 MB (cap 200.0 MB")
    assert main(["cache", "--clear", *folders]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{corpus}: removed 2 files", f"{bodies}: removed 3 files"]
    assert not corpus.exists() and not bodies.exists()
