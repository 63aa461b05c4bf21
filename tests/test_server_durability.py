"""Killing the reference endpoint loses no event it answered 200 for; stopping it cleanly leaves a tidy file.

``capture-harness serve`` runs in a subprocess on 127.0.0.1 while a few client threads send batches of
events with unique uuids over keep-alive connections, noting every uuid whose request was answered 200.

- **SIGKILL mid-load**, twice on the same database file (the second server opens the file the first one
  left behind): every acknowledged uuid is in the file afterwards, the file passes SQLite's integrity
  check, nothing is stored that was not sent, and a batch in flight at the kill is stored whole or not at
  all (one transaction per request).
- **SIGTERM mid-load**: the process finishes the requests in flight and exits 0 within seconds, every
  acknowledged uuid is stored, and the WAL has been checkpointed into the database (no ``-wal`` left, or
  an empty one).

Every subprocess is killed in a ``finally`` whatever happens to the test.
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support import ServeProcess

TOKEN = "phc_durability"
CLIENTS = 4
BATCH_SIZE = 20
LOAD_S = 1.0  # per round; the kill lands while the clients are still sending

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


@contextlib.contextmanager
def serving(db: Path, log: Path) -> Iterator[ServeProcess]:
    with ServeProcess(db, log) as server:
        yield server


@dataclass
class Client:
    """One client thread's record: what it sent, what was acknowledged, and how it stopped."""

    index: int
    sent: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    in_flight: list[str] = field(default_factory=list)  # the batch without an answer when the thread stopped
    refusals: list[tuple[int, bytes]] = field(default_factory=list)
    error: BaseException | None = None
    error_at: float = 0.0  # time.monotonic() of the error


def load(host: str, port: int, client: Client, stopping: threading.Event) -> None:
    """Send batches over one keep-alive connection until the server goes away (or ``stopping`` is set)."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    sequence = 0
    try:
        while not stopping.is_set():
            uuids = [str(uuid.uuid4()) for _ in range(BATCH_SIZE)]
            body = orjson.dumps({"api_key": TOKEN, "batch": [
                {"event": "durability_probe", "distinct_id": f"client-{client.index}", "uuid": value,
                 "properties": {"sequence": sequence}} for value in uuids]})
            client.in_flight = uuids
            client.sent.update(uuids)
            try:
                connection.request("POST", "/batch/", body, {"Content-Type": "application/json"})
                reply = connection.getresponse()
                answer = reply.read()
            except (OSError, http.client.HTTPException) as error:  # the server died or stopped
                client.error, client.error_at = error, time.monotonic()
                return
            client.in_flight = []
            if reply.status == 200:
                client.acknowledged.update(uuids)
            else:
                client.refusals.append((reply.status, answer[:200]))
            sequence += 1
    finally:
        connection.close()


def run_load_then(server: ServeProcess, stop_signal: signal.Signals) -> tuple[list[Client], float]:
    """Load ``server`` for :data:`LOAD_S`, send it ``stop_signal`` while the clients keep sending, and
    return the clients' records and how long the process took to exit after the signal.  No client may
    fail before the signal."""
    clients = [Client(index) for index in range(CLIENTS)]
    stopping = threading.Event()
    threads = [threading.Thread(target=load, args=(server.host, server.port, client, stopping),
                                name=f"durability-client-{client.index}", daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + LOAD_S
        while time.monotonic() < deadline:
            assert all(thread.is_alive() for thread in threads), [c.error for c in clients]
            time.sleep(0.02)
        assert sum(len(c.acknowledged) for c in clients) > 0, f"no request was acknowledged: {server.stderr()}"
        signalled = time.monotonic()
        server.process.send_signal(stop_signal)
        server.process.wait(timeout=15)
        exit_s = time.monotonic() - signalled
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=15)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung after the server stopped"
    early = [c.error for c in clients if c.error is not None and c.error_at < signalled]
    assert not early, f"requests failed before the signal: {early}"
    return clients, exit_s


def stored_uuids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0] for row in connection.execute("SELECT uuid FROM events")}


def assert_nothing_acknowledged_is_lost(clients: list[Client], stored: set[str]) -> None:
    acknowledged = set().union(*(c.acknowledged for c in clients))
    sent = set().union(*(c.sent for c in clients))
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged events are not stored, e.g. {sorted(lost)[:3]}"
    assert stored <= sent, "the database holds events nobody sent"
    for client in clients:
        assert not client.refusals, client.refusals[:3]
        in_flight = set(client.in_flight)
        # one transaction per request: a batch without an answer is stored whole or not at all
        assert not in_flight & stored or in_flight <= stored, f"client {client.index}: a batch was stored in part"
        unanswered = (client.sent - client.acknowledged) & stored
        assert unanswered <= in_flight, f"client {client.index}: stored events whose request was answered otherwise"


def test_sigkill_mid_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    db, log = tmp_path / "events.sqlite3", tmp_path / "serve.log"
    everyone: list[Client] = []
    for round_ in range(2):  # the second server recovers the file the first one was killed over
        before = stored_uuids(db) if db.exists() else set()
        with serving(db, log) as server:
            clients, _ = run_load_then(server, signal.SIGKILL)
            assert server.process.returncode == -signal.SIGKILL
        # the kill landed while the clients were sending: their current (or next) request failed
        assert any(c.error is not None for c in clients), f"round {round_}: no client noticed the kill"
        assert_nothing_acknowledged_is_lost(clients, stored_uuids(db) - before)
        everyone.extend(clients)
    assert_nothing_acknowledged_is_lost(everyone, stored_uuids(db))
    assert sum(len(c.acknowledged) for c in everyone) >= 2 * BATCH_SIZE


def test_sigterm_mid_load_exits_0_and_checkpoints_the_wal(tmp_path: Path) -> None:
    db, log = tmp_path / "events.sqlite3", tmp_path / "serve.log"
    with serving(db, log) as server:
        clients, exit_s = run_load_then(server, signal.SIGTERM)
        assert server.process.returncode == 0, server.stderr()
    assert exit_s < 5, f"SIGTERM took {exit_s:.1f} s to stop the server"
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"the WAL was not checkpointed ({wal.stat().st_size} bytes)"
    assert db.stat().st_size > 4096, "the events never reached the database file"
    stored = stored_uuids(db)
    assert_nothing_acknowledged_is_lost(clients, stored)
    assert len(stored) >= BATCH_SIZE


# --- a damaged store is refused at start; a failing one answers 503 -------------------------------------


def damaged_store(db: Path) -> None:
    """A real store with events whose table pages are then overwritten (the header page is kept)."""
    from harness.server import Store, records

    store = Store(db)
    context = records.Context("phc_durability", "127.0.0.1", datetime.now(UTC), None, False)
    store.add(records.build_all([{"event": "e", "distinct_id": f"user-{i}", "properties": {"pad": "x" * 200}}
                                 for i in range(2000)], context))
    store.close()
    with db.open("r+b") as file:
        file.seek(3 * 4096)
        file.write(bytes(range(256)) * 64)  # four pages of nonsense


def test_a_damaged_store_is_refused_at_start(tmp_path: Path) -> None:
    from harness.server.store import CorruptStore, Store

    db = tmp_path / "events.sqlite3"
    damaged_store(db)
    with pytest.raises(CorruptStore, match="move it away"):
        Store(db)
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--db", str(db), "--port", "0"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert str(db) in result.stderr and "corrupt" in result.stderr and "move it away" in result.stderr, result.stderr


def test_a_failing_store_answers_503_with_retry_after_and_counts_after_the_commit(tmp_path: Path) -> None:
    from harness.server import CaptureApp, Store
    from harness.server.runner import running
    from tests.support import request

    class FailingStore(Store):
        failing = True

        def add(self, batch: Any) -> None:
            if self.failing:
                raise sqlite3.OperationalError("database or disk is full")
            super().add(batch)

    store = FailingStore(tmp_path / "events.sqlite3")
    body = orjson.dumps({"event": "e", "distinct_id": "user-1", "token": TOKEN})
    with running(CaptureApp(store)) as server:
        status, headers, reply = request(server.url, "POST", "/e/", body, {"Content-Type": "application/json"})
        assert status == 503, reply
        assert dict((k.lower(), v) for k, v in headers.items()).get("retry-after") == "1"
        stats = orjson.loads(request(server.url, "GET", "/_harness/stats")[2])
        assert stats["accepted_events"] == 0 and stats["stored_events"] == 0, stats
        assert stats["requests"]["/e/"] == {"503": 1}, stats
        assert stats["rejections"].get("store: 503") == 1, stats
        store.failing = False
        status, _, reply = request(server.url, "POST", "/e/", body, {"Content-Type": "application/json"})
        assert status == 200, reply
        stats = orjson.loads(request(server.url, "GET", "/_harness/stats")[2])
        assert stats["accepted_events"] == 1 and stats["stored_events"] == 1, stats
