"""Accepted events in a SQLite file: committed before the server answers 200, queryable for inspection.

WAL mode: a commit has been written to the WAL file (the operating system's page cache) when ``add``
returns, so a server killed with SIGKILL right after answering loses nothing.  ``synchronous=OFF`` skips
the fsyncs, which only matter when the whole machine goes down: a test endpoint trades that for speed.
Every record is one row; a client retry that resends a uuid adds a row, as capture would forward a
duplicate to Kafka, and the ledger counts distinct uuids.  :meth:`Store.trim` deletes the rows a load run's
drain has already read (:mod:`harness.load.stored`), so that a long run's store stays at a few seconds of
events; it always keeps the newest row, because SQLite gives a new row the largest id plus one, and an
emptied table would hand out ids the drain has already read past.  :class:`GroupCommit` puts the records of
requests that arrive together into one transaction, in a thread of its own so that committing a large
batch never stalls the event loop.

A store is checked at open (``PRAGMA quick_check``): a damaged file raises :class:`CorruptStore`, naming
the file, instead of failing later on the pages it cannot read.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from harness.server.records import Record

COLUMNS = Record._fields

_TYPES = {"historical_migration": "INTEGER", "is_cookieless_mode": "INTEGER", "protocol": "TEXT NOT NULL DEFAULT 'v0'"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    {", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in COLUMNS)}
);
"""
ADDED_COLUMNS = ("protocol", "result")
"""Columns a store written before v1 lacks: added at open (old rows read as v0, with no result)."""

FILTERS = ("uuid", "event", "distinct_id", "token", "protocol", "result")
"""Columns ``events`` can be filtered on by equality; ``since`` filters on the receive time.  Each
column's index is built the first time a query filters on it (``protocol=v1``, ``result=ok``; v0 rows
have no result, so ``result`` matches v1 rows only): every index costs inserts about a
third more, and a load run that never filters should not pay for them."""


class CorruptStore(Exception):
    """The store file is not a sound SQLite database (``PRAGMA quick_check`` failed, or it cannot be read)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"the store {path} is corrupt ({detail}); move it away (or pass another --db) and "
                         "start again: a new store is created in its place")
        self.path = path


class Store:
    """One SQLite database; safe to share between the server thread and inspection callers."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        try:
            self._check()
        except BaseException:
            self._db.close()
            raise
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._db.executescript(_RECORDINGS_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        for name in ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE events ADD COLUMN {name} {_TYPES.get(name, 'TEXT')}")
        self._indexed: set[str] = set()
        self._trimmed = 0
        self._insert = (f"INSERT INTO events (received_ms, {', '.join(COLUMNS)}) "
                        f"VALUES (?, {', '.join('?' for _ in COLUMNS)})")

    def _check(self) -> None:
        """Refuse a damaged file now, with its name, rather than answer 500 on the pages it cannot read."""
        try:
            verdict = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as error:  # "file is not a database", a header it cannot read
            raise CorruptStore(self.path, str(error)) from None
        if verdict != ["ok"]:
            raise CorruptStore(self.path, "; ".join(str(line) for line in verdict[:3]))

    def add(self, batch: Sequence[Record]) -> None:
        """Insert and commit ``batch`` in one transaction."""
        self._insert_all(self._insert, batch)

    def _insert_all(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """``sql`` for each of ``rows``, each row after its receive time (now), in one transaction."""
        received = int(time.time() * 1000)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, [(received, *row) for row in rows])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def events(self, *, after: int = 0, limit: int = 100, since_ms: int | None = None, uuids_only: bool = False,
               **equal: str) -> list[dict[str, Any]]:
        """Stored events in insertion order, after the row id ``after``, filtered by equality on
        :data:`FILTERS` and by ``since_ms`` (receive time, ms since the epoch); ``uuids_only``: each row as
        ``{"id", "uuid"}``, all a load run's drain needs, without reading or decoding the rest."""
        unknown = set(equal) - set(FILTERS)
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}; filters: {', '.join(FILTERS)}, since")
        clauses: list[str] = ["id > ?"]
        params: list[int | str] = [after]
        for name, value in equal.items():
            clauses.append(f"{name} = ?")
            params.append(value)
            self._index(name)
        if since_ms is not None:
            clauses.append("received_ms >= ?")
            params.append(since_ms)
        columns = "id, uuid" if uuids_only else f"id, received_ms, {', '.join(COLUMNS)}"
        query = f"SELECT {columns} FROM events WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit)).fetchall()
        return [{"id": row[0], "uuid": row[1]} for row in rows] if uuids_only else [_row(row) for row in rows]

    def _index(self, column: str) -> None:
        if column not in self._indexed:
            with self._lock:
                self._db.execute(f"CREATE INDEX IF NOT EXISTS events_{column} ON events ({column})")
            self._indexed.add(column)

    def count(self) -> int:
        """Events stored since the last reset, trimmed ones included (so row ids still run 1..count)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]) + self._trimmed

    @property
    def trimmed(self) -> int:
        """Rows :meth:`trim` deleted since the last reset."""
        return self._trimmed

    def trim(self, through_id: int) -> int:
        """Delete the rows whose id is at most ``through_id``, except the newest row (see the module text);
        how many were deleted."""
        with self._lock:
            deleted = self._db.execute("DELETE FROM events WHERE id <= ? AND id < (SELECT MAX(id) FROM events)",
                                       (through_id,)).rowcount
            self._trimmed += deleted
        return int(deleted)

    def reset(self) -> None:
        with self._lock:
            self._trimmed = 0
            self._db.execute("DELETE FROM events")
            self._db.execute("DELETE FROM recordings")

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close."""
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    # --- session recordings (``/s/``): one row per accepted request, see RECORDING_COLUMNS ------------

    def add_recordings(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert and commit recording ``rows`` (values in :data:`RECORDING_COLUMNS` order) in one transaction."""
        self._insert_all(_RECORDING_INSERT, rows)

    def recordings(self, *, after: int = 0, limit: int = 100, **equal: str) -> list[dict[str, Any]]:
        """Sessions in the order they began, after the one whose first row id is ``after``, filtered by
        equality on :data:`RECORDING_FILTERS`: each with its first row's distinct id and token, the
        snapshot items stored, the first and last item time (ms; the receive time for items without one)
        and its window ids in order of appearance."""
        unknown = set(equal) - set(RECORDING_FILTERS)
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}; filters: {', '.join(RECORDING_FILTERS)}")
        where = " AND ".join(["1", *(f"{name} = ?" for name in equal)])
        page = (f"FROM recordings WHERE {where} GROUP BY session_id HAVING MIN(id) > ? ORDER BY MIN(id) LIMIT ?")
        groups = (f"SELECT g.*, r.distinct_id, r.token FROM (SELECT MIN(id) AS first_id, session_id, SUM(items), "
                  f"MIN(COALESCE(first_ms, received_ms)), MAX(COALESCE(last_ms, received_ms)) {page}) AS g "
                  "JOIN recordings AS r ON r.id = g.first_id ORDER BY g.first_id")
        windows = (f"SELECT session_id, window_id FROM recordings WHERE {where} AND session_id IN "
                   f"(SELECT session_id {page}) GROUP BY session_id, window_id ORDER BY MIN(id)")
        values = (*equal.values(), after, limit)
        with self._lock:  # two queries whatever the page's length: the live inspector asks once a second
            rows = self._db.execute(groups, values).fetchall()
            window_rows = self._db.execute(windows, (*equal.values(), *values)).fetchall()
        window_ids: dict[str, list[Any]] = {}
        for session_id, window_id in window_rows:
            window_ids.setdefault(session_id, []).append(orjson.loads(window_id))
        return [{"id": first_id, "session_id": session_id, "distinct_id": who, "token": token, "snapshots": items,
                 "first_ms": first_ms, "last_ms": last_ms, "window_ids": window_ids.get(session_id, [])}
                for first_id, session_id, items, first_ms, last_ms, who, token in rows]

    def recording(self, session_id: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """One session's stored rows in insertion order, after the row id ``after``."""
        query = (f"SELECT id, received_ms, {', '.join(RECORDING_COLUMNS)} FROM recordings "
                 "WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?")
        with self._lock:
            rows = self._db.execute(query, (session_id, after, limit)).fetchall()
        found = [dict(zip(("id", "received_ms", *RECORDING_COLUMNS), row)) for row in rows]
        for row in found:
            row["window_id"] = orjson.loads(row["window_id"])
        return found

    def recording_count(self) -> int:
        """Stored recording rows (one per accepted ``/s/`` request)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0])


class GroupCommit:
    """Commits the records of requests that are ready together in one transaction.

    A request hands its records over and waits; one commit at a time runs in the store's own thread,
    and the records handed over meanwhile make the next one, then all of their requests are answered.
    Each answer still comes after its own events are committed, a busy server pays for one commit per
    round instead of one per request, and a 50,000-event commit never holds up the event loop.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._records: list[Record] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._draining = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capture-store")

    async def add(self, records: Sequence[Record]) -> None:
        """Return once ``records`` are committed; raise what the commit raised (nothing is then stored)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._records.extend(records)
        self._waiters.append(waiter)
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        await waiter

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiters:
                records, waiters = self._records, self._waiters
                self._records, self._waiters = [], []
                try:
                    await loop.run_in_executor(self._thread, self.store.add, records)
                except Exception as error:  # noqa: BLE001  # every waiting request answers the failure
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(error)
                    continue
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._draining = False


def _row(row: Iterable[Any]) -> dict[str, Any]:
    values = list(row)
    record = dict(zip(("id", "received_ms", *COLUMNS), values))
    record["historical_migration"] = bool(record["historical_migration"])
    record["is_cookieless_mode"] = bool(record["is_cookieless_mode"])
    return record


# --- session recordings: the table ----------------------------------------------------------------------

RECORDING_COLUMNS = ("uuid", "session_id", "window_id", "distinct_id", "token", "ip", "timestamp", "items",
                     "first_ms", "last_ms", "data")
"""A stored recording: the ``$snapshot_items`` message capture forwards for one request (``data``), its
ids (``window_id`` as JSON text: capture passes any JSON value through), the number of snapshot items
and their first and last rrweb timestamps (ms, NULL when none has one)."""

RECORDING_FILTERS = ("session_id", "distinct_id", "token")
"""Columns ``recordings`` can be filtered on by equality."""

_RECORDINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, uuid TEXT NOT NULL, session_id TEXT NOT NULL,
    window_id TEXT NOT NULL, distinct_id TEXT NOT NULL, token TEXT NOT NULL, ip TEXT NOT NULL,
    timestamp TEXT NOT NULL, items INTEGER NOT NULL, first_ms INTEGER, last_ms INTEGER, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_session ON recordings (session_id, id);
"""
_RECORDING_INSERT = (f"INSERT INTO recordings (received_ms, {', '.join(RECORDING_COLUMNS)}) "
                     f"VALUES (?, {', '.join('?' for _ in RECORDING_COLUMNS)})")
