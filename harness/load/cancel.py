"""Cancelling a load run: SIGINT (Ctrl-C) and SIGTERM, caught for the whole run.

The first signal cancels the run; what happens then depends on the phase.  While the run prepares, starts
the endpoint or reads the endpoint's store, the work is interrupted at once (:meth:`Cancel.interruptible`
raises :class:`Cancelled` from the signal handler; the context managers unwind: the process pool's pending
chunks are dropped, the reference endpoint is stopped, temporary folders removed).  While Locust runs, the
signal is only noted: the loop that watches Locust stops it (:mod:`harness.load.locustproc`), and the
run goes on to read what ran, write its summary and exit ``128 + signal`` (130 SIGINT, 143 SIGTERM).  A
second signal hurries that along: Locust is killed without its grace period, and reconciliation is skipped.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any, Self

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(BaseException):
    """Raised in the main thread by a signal that arrived during an interruptible phase; a BaseException,
    like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Cancel:
    """The run's signal handlers, while entered (in the main thread only: elsewhere it never triggers)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.at: float | None = None
        """When the first signal arrived (``time.monotonic()``)."""
        self.hurry = False
        """A second signal arrived."""
        self.phase = "preparation"
        """What the run is doing (``preparation``, ``run``, ``reconciliation``), set by the run."""
        self.cancelled_in: str | None = None
        """The phase the first signal arrived in."""
        self._raising = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @property
    def cancelled(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_status(self) -> int:
        """``128 + signal``, the shell's convention: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + (self.signum or 0)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum, self.at, self.cancelled_in = signum, time.monotonic(), self.phase
        else:
            self.hurry = True
        if self._raising:
            self._raising = False  # once: the unwinding it starts must not be interrupted in turn
            raise Cancelled(signum)

    @contextlib.contextmanager
    def interruptible(self, *, even_after_cancel: bool = False) -> Iterator[None]:
        """Within: a signal raises :class:`Cancelled` at once.  On entry, a run cancelled already raises it at
        once too, unless ``even_after_cancel`` (work a cancelled run still does, which a second signal skips)."""
        if self.signum is not None and (self.hurry or not even_after_cancel):
            raise Cancelled(self.signum)
        self._raising = True
        try:
            yield
        finally:
            self._raising = False
