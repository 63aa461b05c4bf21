"""Locust glue for a run spread over machines (``--master`` / ``--worker``): what each worker's process wrote
travels to the master over Locust's own messaging, so no machine needs a folder another one can see.

With :mod:`harness.load.user` (which imports it) and :mod:`harness.load.openmodel`, one of the modules that
import locust.  Stats travel in Locust's own worker reports and the HdrHistograms with them
(:mod:`harness.load.openmodel`); this module adds the rest:

- **One run, decided by the master.** Locust copies the master's custom options into every worker with
  each ``spawn`` message, so the master's ``--capture-seed`` (drawn here when none was given: every process
  replays one seeded corpus, on the stream of its worker index), API key, headers and ``--insecure`` reach
  every worker.  The options that name folders (report, corpus, bodies) are this machine's own: a worker
  keeps its values (:class:`_KeepLocal`), since the master's paths mean nothing on another machine.
- **Files shipped when a worker quits.** Once its users have stopped and its traffic is closed (Locust's
  ``quit`` event fires after every ``quitting`` listener, :func:`harness.load.user._close` among them), a
  worker (:func:`ship`, which :mod:`harness.load.user` registers) sends its own ledger files (:data:`harness.load.files.LEDGER_GLOB`) and failure file
  (:data:`harness.load.files.FAILURES_GLOB`) in messages of at most :data:`CHUNK_BYTES`, then
  ``capture_files_done``, and waits (at most :data:`SHIP_WAIT_S`) for the master's acknowledgement before
  it exits.  The master writes them into its report directory under the same names with the worker's
  index and host inserted (``ledger-w1.host-<pid>-...``: pids are not unique across machines), each file
  renamed into place when complete, so a reader never sees half a file.  A worker whose report directory
  *is* the master's (``--processes``, or a shared folder: it finds the master's marker file
  :data:`harness.load.files.MASTER_MARKER` with this run's token) ships nothing.
- **The master waits for them.** Locust's master stops listening to its workers half a second after it
  told them to quit; from its ``quitting`` listener this module reads the remaining messages itself (the
  workers' last stats reports, then their files) until every worker that connected is done, or
  :data:`SHIP_WAIT_S` passed (a warning names the workers missing).  So when Locust's master exits, its
  report directory is complete, and its final stats include every worker's last report.
- **Who took part**: the master keeps :data:`harness.load.files.WORKERS` up to date (each worker's index,
  host, requests and failures from its reports, files received), for ``capture-harness load`` to show
  while waiting and to report; each worker process writes its :data:`harness.load.files.WORKER_STATE` once
  connected and again after shipping.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import gevent
from locust import events
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from harness.load import files, transport
from harness.load.hooks import listener

logger = logging.getLogger("capture-harness")

CHUNK_BYTES = 256 * 1024
"""The most file bytes one message carries."""
SHIP_WAIT_S = 30.0
"""How long the master waits for its workers' files, and a worker for the master's acknowledgement."""
SHIPPED_GLOBS = (files.LEDGER_GLOB, files.FAILURES_GLOB)
LOCAL_OPTIONS = ("capture_report_dir", "capture_corpus_dir", "capture_bodies_dir")
"""Options naming folders of the machine a process runs on: a worker never takes the master's."""
LOCAL_IF_SET = ("capture_ca_bundle",)
"""Options a worker keeps when it was given one (a CA bundle path on the master may not exist here)."""


class _KeepLocal(dict[str, Any]):
    """A worker's option namespace: Locust's ``vars(parsed_options).update(master's)`` leaves this machine's
    folders alone.  (Locust offers no hook per ``spawn`` message, and sends one per ramp-up step.)"""

    def update(self, *others: Any, **kwargs: Any) -> None:
        incoming = dict(*others, **kwargs)
        for key in LOCAL_OPTIONS + tuple(key for key in LOCAL_IF_SET if self.get(key)):
            incoming.pop(key, None)
        super().update(incoming)


@dataclass
class _Worker:
    """One worker as the master sees it."""

    index: int
    host: str
    requests: int = 0
    failures: int = 0
    files: dict[str, int] = field(default_factory=dict)
    """Files received, as written here: name -> bytes."""
    done: bool = False
    shared_folder: bool = False
    """It wrote into this report directory itself (nothing to ship)."""


@dataclass
class _Distributed:
    environment: Environment | None = None
    token: str = ""
    expected: int = 0
    workers: dict[str, _Worker] = field(default_factory=dict)
    """By Locust client id (master only)."""
    receiving: dict[str, IO[bytes]] = field(default_factory=dict)
    """Files being received, by final name (master only)."""


_state = _Distributed()


def _report_dir(environment: Environment) -> Path:
    assert environment.parsed_options is not None
    return Path(environment.parsed_options.capture_report_dir)


@listener(events.init)
def _on_init(environment: Environment, **kwargs: Any) -> None:
    _state.environment = environment
    runner, options = environment.runner, environment.parsed_options
    if options is None:
        return
    if isinstance(runner, WorkerRunner):
        options.__dict__ = _KeepLocal(vars(options))
        _record(environment, runner)
    elif isinstance(runner, MasterRunner):
        if options.capture_seed is None:  # one corpus for every worker, replayable with this seed
            options.capture_seed = int.from_bytes(os.urandom(4), "big")
            logger.info("capture-harness: seed %d (chosen by the master, used by every worker)", options.capture_seed)
        _carry_transport(options)
        options.capture_users = sorted(user.__name__ for user in environment.user_classes)
        _state.token = options.capture_master_token = os.urandom(8).hex()
        _state.expected = int(getattr(options, "expect_workers", 1) or 1)
        report_dir = _report_dir(environment)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / files.MASTER_MARKER).write_text(_state.token)
        runner.register_message("capture_file", _on_file)
        runner.register_message("capture_files_done", _on_done)
        _write_workers()


def _carry_transport(options: Any) -> None:
    """The headers and ``--insecure`` that ``capture-harness load`` hands this master in its environment
    (:func:`harness.load.transport.locust_environment`), put into its options, which travel to the workers."""
    settings = transport.user_transport(options)
    options.capture_header = [f"{name}: {value}" for name, value in settings.headers.items()]
    options.capture_insecure = settings.insecure


# --- the master's side ------------------------------------------------------------------------------------


@listener(events.worker_connect)
def _on_worker_connect(client_id: str, **kwargs: Any) -> None:
    runner = _state.environment.runner if _state.environment is not None else None
    if isinstance(runner, MasterRunner) and client_id not in _state.workers:
        _state.workers[client_id] = _Worker(runner.worker_indexes.get(client_id, -1),
                                             client_id.rpartition("_")[0])
        _write_workers()


@listener(events.worker_report)
def _on_worker_report(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    worker = _state.workers.get(client_id)
    total = data.get("stats_total")
    if worker is not None and isinstance(total, dict):
        worker.requests += int(total.get("num_requests", 0))
        worker.failures += int(total.get("num_failures", 0))


def _on_file(environment: Environment, msg: Message, **kwargs: Any) -> None:
    """A piece of one of a worker's files: appended to ``.part-<name>``, renamed to ``<name>`` when last."""
    worker = _state.workers.get(msg.node_id)
    name = str(msg.data["name"])
    if worker is None or "/" in name or not any(fnmatch.fnmatch(name, glob) for glob in SHIPPED_GLOBS):
        logger.warning("capture-harness: ignored a file %r from %s (not a worker's ledger or failure file)",
                       name, msg.node_id)
        return
    target = _renamed(name, worker)
    report_dir = _report_dir(environment)
    handle = _state.receiving.get(target)
    if handle is None or msg.data["offset"] == 0:
        handle = _state.receiving[target] = (report_dir / f".part-{target}").open("wb")
    handle.write(msg.data["data"])
    if msg.data["last"]:
        handle.close()
        del _state.receiving[target]
        os.replace(report_dir / f".part-{target}", report_dir / target)
        worker.files[target] = (report_dir / target).stat().st_size


def _renamed(name: str, worker: _Worker) -> str:
    """``ledger-123-capture-1.bin`` from worker 1 on ``host`` -> ``ledger-w1.host-123-capture-1.bin``."""
    tag = f"w{worker.index}." + re.sub(r"[^A-Za-z0-9.]", "_", worker.host or "worker")
    for glob in SHIPPED_GLOBS:
        prefix = glob.split("*")[0]
        if fnmatch.fnmatch(name, glob):
            return f"{prefix}{tag}-{name[len(prefix):]}"
    return name


def _on_done(environment: Environment, msg: Message, **kwargs: Any) -> None:
    worker = _state.workers.get(msg.node_id)
    if worker is None:
        return
    worker.done, worker.shared_folder = True, bool(msg.data.get("shared_folder"))
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.server.send_to_client(Message("capture_files_ack", None, msg.node_id))  # type: ignore[no-untyped-call]
    _write_workers()


@listener(events.quitting)
def _collect(environment: Environment, **kwargs: Any) -> None:
    """On the master, after Locust stopped listening: read its workers' messages until all are done."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    deadline = time.monotonic() + SHIP_WAIT_S
    while any(not worker.done for worker in _state.workers.values()) and time.monotonic() < deadline:
        received = None
        with gevent.Timeout(max(0.0, deadline - time.monotonic()), False):
            try:
                received = runner.server.recv_from_client()  # type: ignore[no-untyped-call]  # Locust's rpc is unannotated
            except RPCError as error:  # the connection is broken: nothing more will come
                logger.warning("capture-harness: while waiting for the workers' files: %s", error)
                break
        if received is not None and (received[1].type == "stats" or received[1].type in runner.custom_messages):
            runner.handle_message(*received)
    for worker in [worker for worker in _state.workers.values() if not worker.done]:
        logger.warning("capture-harness: worker %d on %s sent no files within %g s: its requests are in the stats "
                       "but its ledger and failure details are missing, so the delivery check leaves them out",
                       worker.index, worker.host, SHIP_WAIT_S)
    report_dir = _report_dir(environment)
    for target, handle in _state.receiving.items():  # cut short: never a half file in the report
        handle.close()
        (report_dir / f".part-{target}").unlink(missing_ok=True)
    _state.receiving.clear()
    (report_dir / files.MASTER_MARKER).unlink(missing_ok=True)
    _write_workers()


def _write_workers() -> None:
    environment = _state.environment
    if environment is None or environment.parsed_options is None:
        return
    workers = sorted(_state.workers.values(), key=lambda worker: worker.index)
    _write_json(_report_dir(environment) / files.WORKERS,
                {"expected": _state.expected, "connected": len(workers), "workers": [asdict(w) for w in workers]})


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".part-{path.name}")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(partial, path)


# --- the worker's side ------------------------------------------------------------------------------------


@listener(events.test_start)
def _check_users(environment: Environment, **kwargs: Any) -> None:
    """On a worker: Locust sends users by class name, so a worker started with another scenario than the
    master's cannot run them; say so plainly before Locust's ``KeyError``."""
    theirs = getattr(environment.parsed_options, "capture_users", None)
    ours = sorted(user.__name__ for user in environment.user_classes)
    if isinstance(environment.runner, WorkerRunner) and theirs is not None and not set(theirs) <= set(ours):
        logger.error("capture-harness: the master runs users %s, this worker's locustfile has %s: start the worker "
                     "with the master's scenario (--scenario, or the same locustfile)", theirs, ours)


def ship(**kwargs: Any) -> None:
    """On a worker, after its traffic is closed: send its own files to the master, wait for the receipt."""
    environment = _state.environment
    runner = environment.runner if environment is not None else None
    if environment is None or not isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    report_dir = _report_dir(environment)
    marker = report_dir / files.MASTER_MARKER
    token = getattr(environment.parsed_options, "capture_master_token", None)
    shared = bool(token) and marker.is_file() and marker.read_text() == token
    paths = [] if shared else _own_files(report_dir, os.getpid())
    sent = 0
    runner.greenlet.kill(block=True)  # Locust's reader (stopped already after a quit from the master) would eat the receipt
    try:
        for path in paths:
            sent += _send_file(runner, path)
        runner.send_message("capture_files_done", {"files": len(paths), "shared_folder": shared})
        acknowledged = _wait_for_ack(runner)
    except RPCError as error:
        logger.error("capture-harness: could not send this worker's files to the master: %s", error)
        acknowledged = False
    if not acknowledged:
        logger.error("capture-harness: the master did not confirm this worker's files within %g s: its report may "
                     "lack this worker's ledger and failure details (they are in %s)", SHIP_WAIT_S, report_dir)
    _record(environment, runner, shared_folder=shared, files=[path.name for path in paths], bytes=sent,
            acknowledged=acknowledged)


def _record(environment: Environment, runner: WorkerRunner, **details: Any) -> None:
    """This worker process's :data:`harness.load.files.WORKER_STATE`: connected (it exists), to which master."""
    _write_json(_report_dir(environment) / files.of_process(files.WORKER_STATE, os.getpid()),
                {"connected": True, "index": runner.worker_index,
                 "master": f"{runner.master_host}:{runner.master_port}", **details})


def _own_files(report_dir: Path, pid: int) -> list[Path]:
    """The ledger and failure files process ``pid`` wrote into ``report_dir`` (``*`` is its pid, or starts
    with it and ``-`` or ``.``), not those of other processes sharing the folder."""
    mine = [glob.replace("*", pattern) for glob in SHIPPED_GLOBS for pattern in (str(pid), f"{pid}-*", f"{pid}.*")]
    return sorted({path for pattern in mine for path in report_dir.glob(pattern) if path.is_file()})


def _send_file(runner: WorkerRunner, path: Path) -> int:
    """Send ``path`` (closed: it no longer grows) a chunk at a time; its size."""
    size = path.stat().st_size
    offsets = range(0, max(1, size), CHUNK_BYTES)
    with path.open("rb") as handle:
        for offset in offsets:
            runner.send_message("capture_file", {"name": path.name, "offset": offset,
                                                 "data": handle.read(CHUNK_BYTES), "last": offset == offsets[-1]})
    return size


def _wait_for_ack(runner: WorkerRunner) -> bool:
    """Read the master's messages (Locust's own reader has stopped) until its receipt, or time out."""
    deadline = time.monotonic() + SHIP_WAIT_S
    while time.monotonic() < deadline:
        message = None
        with gevent.Timeout(max(0.0, deadline - time.monotonic()), False):
            message = runner.client.recv()  # type: ignore[no-untyped-call]
        if message is not None and message.type == "capture_files_ack":
            return True
    return False
