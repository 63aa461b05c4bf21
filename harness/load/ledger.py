"""Delivery accounting by event uuid: what was sent, what the endpoint acknowledged, what it stored.

During a load run every Locust process appends one line per request to its own ledger file
(``ledger-<pid>.jsonl``: the answer's status and the uuids the request carried), so several workers never
write the same file and nothing has to travel through Locust's messaging.  Afterwards
:func:`reconcile` merges the files and compares them with what the endpoint stored (read through the
``/_harness/events`` inspection API):

- **acknowledged**: the request was answered 2xx;
- **lost**: acknowledged but not stored, the one outcome that fails a run;
- **duplicated**: stored more than once (a retry the endpoint did not deduplicate);
- **unexpected**: stored for this run's token since the run started, but never sent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from harness.load.files import LEDGER_GLOB, of_process

LOST_SHOWN = 20
"""Lost uuids named in a report (the full list is in the ledger files)."""


class LedgerWriter:
    """Appends this process's requests to ``<directory>/ledger-<pid>.jsonl``, flushed in blocks."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / of_process(LEDGER_GLOB, os.getpid())
        self._file: IO[bytes] = self.path.open("ab")
        self._pending: list[tuple[int, tuple[str, ...]]] = []

    def record(self, status: int, uuids: tuple[str, ...]) -> None:
        """Note one answer; serialized later in blocks, off the request path."""
        self._pending.append((status, uuids))
        if len(self._pending) >= 500:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            lines = [orjson.dumps({"status": status, "uuids": uuids}) for status, uuids in self._pending]
            self._file.write(b"\n".join(lines) + b"\n")
            self._file.flush()
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._file.close()


@dataclass(frozen=True)
class Reconciliation:
    sent: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    unexpected: int
    lost_examples: tuple[str, ...]
    checked: bool
    """False when the target has no inspection API: only ``sent`` and ``acknowledged`` are known."""
    unchecked: str = ""
    """Why the delivery was not checked (``checked`` False), e.g. a TLS certificate that did not verify."""

    @property
    def ok(self) -> bool:
        return self.lost == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read(directory: Path) -> tuple[set[str], set[str]]:
    """Every uuid sent, and every uuid acknowledged, across all ledger files in ``directory``."""
    sent: set[str] = set()
    acknowledged: set[str] = set()
    for path in sorted(directory.glob(LEDGER_GLOB)):
        for line in path.read_bytes().splitlines():
            entry = orjson.loads(line)
            sent.update(entry["uuids"])
            if 200 <= entry["status"] < 300:
                acknowledged.update(entry["uuids"])
    return sent, acknowledged


NO_INSPECTION = "the target has no /_harness/ inspection API"


def reconcile(directory: Path, stored_uuids: Iterator[str] | None, unchecked: str = NO_INSPECTION) -> Reconciliation:
    """Compare the ledgers with the uuids the endpoint stored (None: the endpoint cannot be inspected, for the
    reason ``unchecked``)."""
    sent, acknowledged = read(directory)
    if stored_uuids is None:
        return Reconciliation(len(sent), len(acknowledged), 0, 0, 0, 0, (), checked=False, unchecked=unchecked)
    stored = Counter(stored_uuids)
    lost = sorted(acknowledged - stored.keys())
    return Reconciliation(
        sent=len(sent), acknowledged=len(acknowledged), stored=sum(1 for uuid in stored if uuid in sent),
        lost=len(lost), duplicated=sum(1 for uuid, count in stored.items() if count > 1 and uuid in sent),
        unexpected=sum(1 for uuid in stored if uuid not in sent), lost_examples=tuple(lost[:LOST_SHOWN]),
        checked=True,
    )
