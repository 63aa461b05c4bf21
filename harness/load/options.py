"""What a ``capture-harness load`` run is asked to do, as plain data: the run reads it, its summary reports
and judges it, and the command line builds it (:class:`LoadOptions`; a worker for a master on another
machine, :class:`WorkerOptions`).  A setting the run cannot start with raises :class:`UsageError` (exit
status 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.load import corpus
from harness.load.progress import DEFAULT_INTERVAL_S


class UsageError(Exception):
    """A setting the run cannot start with; the message says what to change."""


@dataclass(frozen=True)
class Thresholds:
    """Limits the run must stay within (None: not checked); a broken one makes the run exit 1.  The error
    rate and the open model's missed sends are always checked: by default none may fail or be missed."""

    max_p95_ms: float | None = None
    max_p99_ms: float | None = None
    max_error_rate: float = 0.0
    """The share of requests that may fail, in [0, 1]."""
    min_rps: float | None = None
    max_missed: int | float = 0
    """Open model: planned sends that may be missed, a count (an int) or a fraction in (0, 1) of those planned."""
    max_given_up: int | float = 0
    """Per-event (v1) answers: events still answered ``retry`` after the last resend, which an SDK then drops, a
    count (an int) or a fraction in (0, 1) of the events sent."""

    def __post_init__(self) -> None:
        if not 0 <= self.max_error_rate <= 1:  # also refuses NaN
            raise UsageError(f"--max-error-rate must be a fraction between 0 and 1, got {self.max_error_rate!r}")
        for flag, limit in (("--max-missed", self.max_missed), ("--max-given-up", self.max_given_up)):
            if not (isinstance(limit, int) and limit >= 0) and not 0 < limit < 1:
                raise UsageError(f"{flag} must be a count (0, 1, 2, ...) or a fraction between 0 and 1, got {limit!r}")


LOCUST_MASTER_PORT = 5557
"""Locust's default ``--master-bind-port`` / ``--master-port``."""


@dataclass(frozen=True)
class Master:
    """``--master``: this machine runs Locust's master (and the endpoint check), no users; workers on other
    machines connect to it (:mod:`harness.load.cluster`)."""

    expect_workers: int
    bind_host: str = "*"
    bind_port: int = LOCUST_MASTER_PORT
    max_wait_s: float = 60.0
    """How long the master waits for ``expect_workers`` to connect before it gives up (exit 1)."""


@dataclass(frozen=True)
class WorkerOptions:
    """``--worker``: Locust workers on this machine for a master elsewhere, which sends them the run's
    scenario settings (seed, API key, target, users, duration); their files travel back to it."""

    master_host: str
    master_port: int
    scenario: str
    report_dir: Path
    """Where this machine's worker files go (ledgers, failures, ``locust.log``) before they are shipped."""
    processes: int = 1
    max_duration_s: int = 24 * 3600
    """The most this worker runs, whatever the master says (``-t``; the master normally ends it sooner)."""
    connect_s: float = 60.0
    """How long to try to reach the master before giving up (exit 1)."""
    bodies_dir: Path = corpus.FAILED_BODIES_DIR
    ca_bundle: Path | None = None
    """The CAs this machine trusts for an https:// target (a path on the master's machine means nothing here)."""
    locust_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadOptions:
    url: str | None
    """The endpoint under test; None starts the reference endpoint for the run."""
    api_key: str
    scenario: str
    users: int
    spawn_rate: float
    duration_s: int
    processes: int
    report_dir: Path
    seed: int | None
    """None: a random seed, and the corpus is not kept."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    allow_production: bool = False
    corpus_dir: Path = corpus.DEFAULT_CACHE_DIR
    bodies_dir: Path = corpus.FAILED_BODIES_DIR
    arrival_rate: float | None = None
    """Open model: requests/s in total, on a plan (:mod:`harness.load.openmodel`); None for the closed loop."""
    ramp_s: float = 0.0
    progress_s: float = DEFAULT_INTERVAL_S
    """Seconds between two status lines on stderr (:mod:`harness.load.progress`); 0: none."""
    ca_bundle: Path | None = None
    """The CAs to trust for an https:// target (None: ``$SSL_CERT_FILE``, ``$REQUESTS_CA_BUNDLE``, the system's)."""
    insecure: bool = False
    """Do not verify TLS certificates."""
    headers: tuple[str, ...] = ()
    """Extra ``'Name: value'`` headers sent with every request, capture and inspection alike."""
    locust_args: tuple[str, ...] = ()
    """Arguments passed on to Locust unchanged (``capture-harness load ... -- ARGS``)."""
    inspect_token: str | None = None
    """The token of the target's ``/_harness/`` API, sent on inspection requests only; without ``url`` the
    reference endpoint started for the run requires it."""
    master: Master | None = None
    """``--master``: Locust's master for workers elsewhere, instead of users on this machine (``processes`` is
    then the number of workers: the streams they replay, as ``--processes`` would on one machine)."""
    serve_host: str = "127.0.0.1"
    """Where the reference endpoint started for the run listens (and how the workers are told to reach it)."""
