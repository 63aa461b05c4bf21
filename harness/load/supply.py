"""The traffic supply of one Locust process: a generator process that keeps a bounded window of seeded
chunks (:mod:`harness.load.corpus`, which says why this design) ahead of the users, on disk.

A :class:`Supply` owns a spool folder ``<dir>/<scenario>-seed<S>-stream<N>-key<hash>.<pid>/`` and a
generator subprocess (``python -m harness.load.supply``).  The generator writes chunk ``n`` (atomically:
a temporary file renamed) only once chunk ``n - WINDOW`` is gone, so at most :data:`WINDOW` chunks are
ever on disk; the load process reads chunk after chunk, deleting each as it reads it.  If the generator
falls behind, the reader waits (a cooperative sleep under Locust's gevent), counts it, and says so once
through ``on_wait``; it never generates itself.

``capture-harness load`` makes the first :data:`PREPARED` chunks of each stream before Locust starts
(:func:`prepare`, into ``<dir>/<scenario>-seed<S>-stream<N>-key<hash>/``); the supply claims that folder
by renaming it, and its generator goes on from there.  Plain ``locust -f`` starts with an empty spool.

Nothing outlives the run: :meth:`Supply.close` stops the generator and removes the spool; the generator
also removes it and exits on SIGTERM, or when its parent is gone (it polls its parent pid), so a killed
Locust process leaves neither a process nor files.  It ignores SIGINT: a Ctrl-C at a terminal reaches the
whole process group, and Locust, not the generator, decides when the run stops.  Standard library and the
corpus only: the load process imports it under gevent, the generator without.

**What the supply costs, and what was tried** (CPU per request on this 2-core machine, busy; the budget
compares Locust + generator per request with a bare FastHttpUser, ``benchmarks/bench_locust.py``).  A bare
request costs Locust ~90-110 us.  The generator's share was ~30 us a ``capture`` request (~120 for
``mixed``), then ~27 with the same bytes per seed (weights summed once per table, times formatted by
arithmetic instead of ``datetime``, uuid texts by f-string, a fast path through the encoder), and is ~8-9
(~27-36) since a chunk is made of request shapes whose encoded bodies are stamped with each copy's uuids
(:mod:`harness.load.splice`, :func:`harness.load.corpus.generate_chunk`); ~12-13 in a run.  gzip itself
is zlib's own work (level 1, ``Z_FIXED``, ``Z_HUFFMAN_ONLY`` and a small window all cost 11-15 us for a
600-byte body), which the splicing pays once per shape instead of once per request.  On the Locust side a
case costs ~2.5 us to decode and the collector ~1 us (see :mod:`harness.load.user`); what is left between
the scenario and a bare user (~30 us a request) is Locust's own work for a checked answer (the response
context, streaming the body under a byte cap, the checks) and sharing its core with the generator (~15 us
in an experiment that moved the generator to the other CPU).

Rejected, measured: a lower priority for the generator (``os.nice``) takes no work off a saturated core, and
on a busy machine the users waited for it in 6 of 8 runs (never at normal priority); a deeper window or
more prepared chunks only hide the generator in short runs, while the start gets slower and the disk
larger (a ``mixed`` chunk is ~4 MB); one poller for all waiting users saves nothing here, since they never
waited in the ``capture`` runs, and 20 users polling every :data:`POLL_S` cost ~1% of a core when they do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.checks import Case
from harness.load import corpus

WINDOW = 6
"""Chunks a stream may have on disk at once: the bound of the supply (mixed: ~24 MB; batch: ~80 MB)."""
PREPARED = 2
"""Chunks of each stream ``capture-harness load`` makes before Locust starts, whatever the duration."""
POLL_S = 0.01
"""How often the reader looks for a chunk the generator has not written yet, and the generator for room."""
KEY_VARIABLE = "CAPTURE_HARNESS_SUPPLY_KEY"
"""How the API key reaches the generator: its environment, never its command line."""


def spool_name(scenario: str, seed: int, stream: int, api_key: str) -> str:
    key = hashlib.sha256(api_key.encode()).hexdigest()[:12]  # the key itself never appears in a file name
    return f"{scenario}-seed{seed}-stream{stream}-key{key}"


def chunk_path(spool: Path, chunk: int) -> Path:
    return spool / f"chunk-{chunk:09d}.chunk"


def write_chunk(spool: Path, scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> None:
    """Generate chunk ``chunk`` into ``spool``, atomically: a reader sees the whole chunk or none."""
    path = chunk_path(spool, chunk)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(corpus.encode(corpus.generate_chunk(scenario, seed, stream, chunk, api_key)))
    partial.replace(path)


def prepare(directory: Path, scenario: str, seed: int, stream: int, api_key: str, chunks: int = PREPARED) -> None:
    """The first ``chunks`` of a stream, ready for the :class:`Supply` that will claim them."""
    spool = directory / spool_name(scenario, seed, stream, api_key)
    spool.mkdir(parents=True, exist_ok=True)
    for chunk in range(chunks):
        write_chunk(spool, scenario, seed, stream, chunk, api_key)


class Supply:
    """An endless stream of ready cases for one (scenario, seed, stream), made by a generator process."""

    def __init__(self, directory: Path, scenario: str, seed: int, stream: int, api_key: str,
                 on_wait: Callable[[int], None] | None = None) -> None:
        name = spool_name(scenario, seed, stream, api_key)
        self.spool = directory / f"{name}.{os.getpid()}"
        self.waits = 0
        """Chunks the reader had to wait for: the generator was behind."""
        self._on_wait = on_wait
        self._ready: list[Case] = []
        self._index = self._chunk = 0
        self._waited_for = -1
        directory.mkdir(parents=True, exist_ok=True)
        try:
            (directory / name).rename(self.spool)  # claim the chunks prepared before the run
        except OSError:
            self.spool.mkdir(exist_ok=True)
        prepared = 0  # the generator starts after them: the reader may have taken them before it runs
        while chunk_path(self.spool, prepared).exists():
            prepared += 1
        self._command = [sys.executable, "-m", "harness.load.supply", str(self.spool), scenario, str(seed),
                         str(stream), str(os.getpid()), str(prepared)]
        self._api_key = api_key
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Supply:
        """Start the generator (apart from the constructor: under gevent, spawning a process yields to the
        other greenlets, which must find this supply already made and wait for its chunks)."""
        if self.process is None:
            self.process = subprocess.Popen(self._command, env={**os.environ, KEY_VARIABLE: self._api_key},
                                            stdin=subprocess.DEVNULL)
        return self

    def cases(self) -> Iterator[Case]:
        return self

    def __iter__(self) -> Iterator[Case]:
        return self

    def __next__(self) -> Case:
        """The next case; safe for many greenlets at once (no generator frame is suspended while a reader
        waits: a waiting greenlet sleeps, then looks again at the shared state)."""
        while self._index >= len(self._ready):
            self._refill()
        case = self._ready[self._index]
        self._index += 1
        return case

    def _refill(self) -> None:
        """Take the next chunk if it is there (reading, deleting and decoding a file never yields to another
        greenlet), else wait a moment."""
        chunk = self._chunk
        path = chunk_path(self.spool, chunk)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._wait(chunk)
            return
        path.unlink()  # room for the generator's next chunk
        self._ready, self._index, self._chunk = corpus.decode(data), 0, chunk + 1

    def _wait(self, chunk: int) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"capture-harness: the traffic generator exited ({self.process.returncode}) "
                               f"before writing chunk {chunk}")
        if chunk > 0 and self._waited_for != chunk:  # the first chunk: the generator is starting, not behind
            self._waited_for = chunk
            self.waits += 1
            if self._on_wait is not None:
                self._on_wait(chunk)
        time.sleep(POLL_S)  # gevent's sleep in a Locust process: the other users go on

    def close(self) -> None:
        """Stop the generator and remove the spool (idempotent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.spool, ignore_errors=True)


# --- the generator process --------------------------------------------------------------------------------


def generate(spool: Path, scenario: str, seed: int, stream: int, api_key: str, parent: int, start: int = 0) -> None:
    """Write chunk after chunk into ``spool`` from ``start`` (the chunks before were prepared), at most
    :data:`WINDOW` on disk, until ``parent`` is gone or the spool is removed."""
    chunk = start
    while spool.is_dir() and os.getppid() == parent:
        if chunk >= WINDOW and chunk_path(spool, chunk - WINDOW).exists():
            time.sleep(POLL_S)  # the window is full: wait for the reader
            continue
        try:
            write_chunk(spool, scenario, seed, stream, chunk, api_key)
        except FileNotFoundError:  # the spool was removed under us: the run is over
            return
        chunk += 1


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    spool, scenario, seed, stream, parent, start = Path(argv[0]), argv[1], *map(int, argv[2:6])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        generate(spool, scenario, seed, stream, os.environ.get(KEY_VARIABLE, ""), parent, start)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
