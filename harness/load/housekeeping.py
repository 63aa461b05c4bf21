"""Housekeeping of what load runs leave on disk: the failed requests' bodies (``.capture-harness/failed-bodies/``,
read back by the failure details' curl commands) and the corpus folder (``.capture-harness/corpus/``: plain
``locust -f``'s supply spools, removed when it ends, and caches of whole corpora written by older versions).

Each folder has a size cap (:data:`BODIES_CAP`, :data:`CORPUS_CAP`); :func:`enforce_caps` evicts the oldest
files (by modification time) until the folder fits, at the start and the end of every run, so nothing grows
without bound.  ``capture-harness cache`` shows both folders and clears them (:mod:`harness.cli._cache`).
Oldest first spares the spool of a supply running meanwhile (its chunks are seconds old, and at most
:data:`harness.load.supply.WINDOW` of them), unless the newer files alone exceed the cap.  Standard library only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

BODIES_CAP = 200 * 2**20
"""Bytes the failed bodies may take; the oldest go first beyond it."""
CORPUS_CAP = 1024 * 2**20
"""Bytes the corpus folder may take (live spools are a few chunks each: tens of MB)."""


@dataclass(frozen=True)
class Usage:
    folder: Path
    files: int
    bytes: int
    cap: int


def _files(folder: Path) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every file below ``folder``, oldest first."""
    found = []
    for path in folder.rglob("*") if folder.is_dir() else ():
        try:
            if path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path))
        except OSError:  # removed meanwhile
            continue
    return sorted(found)


def usage(folder: Path, cap: int) -> Usage:
    files = _files(folder)
    return Usage(folder, len(files), sum(size for _, size, _ in files), cap)


def evict(folder: Path, cap: int) -> int:
    """Remove the oldest files below ``folder`` until the rest take at most ``cap`` bytes; the count removed."""
    files = _files(folder)
    total, removed = sum(size for _, size, _ in files), 0
    for _, size, path in files:
        if total <= cap:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    if removed:
        _remove_empty_folders(folder)
    return removed


def _remove_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            try:
                path.rmdir()
            except OSError:  # not empty
                pass


def clear(folder: Path) -> int:
    """Remove every file below ``folder`` (and the folder); the count removed."""
    count = len(_files(folder))
    shutil.rmtree(folder, ignore_errors=True)
    return count


def enforce_caps(corpus_dir: Path, bodies_dir: Path) -> None:
    evict(corpus_dir, CORPUS_CAP)
    evict(bodies_dir, BODIES_CAP)
