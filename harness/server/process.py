"""The reference endpoint in a subprocess: ``python -m harness.cli serve --port 0``, its base URL, its end.

``capture-harness load`` starts one when it is given no URL, and the tests and benchmarks start their own;
all of them need the same three steps, done once here: start ``serve`` on 127.0.0.1 with a free port,
read the address it prints (with a deadline, so a server that hangs or dies before listening is an error,
not a hung caller), and stop it on the way out whatever happened (SIGTERM, which lets it finish the
requests in flight and checkpoint its store, then SIGKILL if it does not go).
"""

from __future__ import annotations

import os
import re
import secrets
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Self
from urllib.parse import urlsplit

HOST = "127.0.0.1"
"""Where the subprocess listens: this machine only."""

_ANNOUNCEMENT = re.compile(rb"listening on (http://\S+)")
"""The line ``serve`` prints once its socket is served (``harness.server.runner``)."""

_LOG_TAIL = 2000
"""Characters of the server's log quoted when it fails to start."""


TOKEN_ENV = "CAPTURE_HARNESS_INSPECT_TOKEN"
"""How the inspection token reaches ``serve`` (never on its command line, where ``ps`` shows it)."""


def new_token() -> str:
    """A fresh inspection token."""
    return secrets.token_urlsafe(24)


def inspect_headers(token: str | None) -> dict[str, str]:
    """The headers that present ``token`` to the ``/_harness/`` API (none without one)."""
    return {"X-Capture-Harness-Token": token} if token else {}


class ServeError(RuntimeError):
    """The reference endpoint did not start; the message says why, with the end of its log if it has one."""


class ServeProcess:
    """``python -m harness.cli serve --host 127.0.0.1 --port 0 [--db DB] [ARGS]`` in a subprocess.

    Construction returns once the server printed its address (``url``, ``host``, ``port``), or raises
    :class:`ServeError` within ``start_timeout`` seconds; as a context manager it is stopped on exit.
    ``log`` receives the server's stderr (appended, so successive servers can share one file; None
    discards it), ``cwd`` is its working directory, and ``prefix`` a command to run it under (a
    benchmark's ``taskset -c 0``, which execs it, so ``process.pid`` is still the server's).
    ``inspect_token``: the token its ``/_harness/`` API requires (None: none; :func:`new_token` makes one),
    kept as ``inspect_token`` with ``inspect_headers`` to send it.
    """

    def __init__(self, *, db: Path | None = None, args: Sequence[str] = (), log: Path | None = None,
                 cwd: Path | None = None, prefix: Sequence[str] = (), start_timeout: float = 30.0,
                 stop_timeout: float = 30.0, inspect_token: str | None = None) -> None:
        self.log_path = log
        self.inspect_token = inspect_token
        self.inspect_headers = inspect_headers(inspect_token)
        environment = {name: value for name, value in os.environ.items() if name != TOKEN_ENV}
        if inspect_token:
            environment[TOKEN_ENV] = inspect_token
        self._stop_timeout = stop_timeout
        self._log: IO[bytes] | None = log.open("ab") if log is not None else None
        store = ["--db", str(db)] if db is not None else []
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "harness.cli", "serve", "--host", HOST, "--port", "0", *store, *args],
            stdout=subprocess.PIPE, stderr=self._log if self._log is not None else subprocess.DEVNULL, cwd=cwd,
            env=environment)
        try:
            self.url = self._read_url(start_timeout)
        except BaseException:
            self.close()
            raise
        parts = urlsplit(self.url)
        assert parts.hostname is not None and parts.port is not None
        self.host, self.port = parts.hostname, parts.port

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_url(self, timeout: float) -> str:
        """The base URL from the first line ``serve`` prints, read straight off the pipe's descriptor so
        the deadline holds even when the line arrives in pieces."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(descriptor, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise ServeError(f"serve printed no address within {timeout:g} s{self._log_excerpt()}")
                chunk = os.read(descriptor, 256)
                if not chunk:
                    raise ServeError(f"serve {self._ended(deadline)} before listening{self._log_excerpt()}")
                line += chunk
        found = _ANNOUNCEMENT.search(line)
        if found is None:
            raise ServeError(f"serve printed {line!r}, not its address{self._log_excerpt()}")
        return found.group(1).decode()

    def _ended(self, deadline: float) -> str:
        """How a server whose output ended has ended: its exit status, once it is known."""
        try:
            return f"exited ({self.process.wait(timeout=max(0.0, deadline - time.monotonic()))})"
        except subprocess.TimeoutExpired:
            return "closed its output without exiting"

    def stderr(self) -> str:
        """The end of the server's log so far ('' when it is discarded)."""
        if self._log is None or self.log_path is None:
            return ""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-_LOG_TAIL:]

    def _log_excerpt(self) -> str:
        tail = self.stderr()
        return f"; its log ends: {tail}" if tail else ""

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``stop_timeout``) unless it has exited already."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
