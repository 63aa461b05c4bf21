"""Run the reference endpoint on a real socket: in the foreground for ``capture-harness serve``, or in a
background thread for the test suites (``running``).

uvicorn serves a socket this module binds itself, so ``--port 0`` picks a free port and the base URL is
known before the first request.  SIGINT and SIGTERM stop it gracefully (uvicorn finishes the requests
in flight for at most ``Limits.graceful_timeout_s``, then cancels them), then the store checkpoints and
closes.  The connection limits are :mod:`harness.server.connections`'.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.server import HANDLED_SIGNALS

from harness.server.app import CaptureApp
from harness.server.connections import Limits, protocol_for

ASGIApp = Callable[..., Any]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _config(app: ASGIApp, limits: Limits | None = None) -> uvicorn.Config:
    """uvicorn's settings; ``limits`` (default :class:`~harness.server.connections.Limits`' defaults) bound
    the connections: header time and size, idle keep-alive, graceful shutdown."""
    limits = limits or Limits()
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                          http=protocol_for(limits), loop="uvloop" if sys.platform != "win32" else "asyncio",
                          timeout_keep_alive=limits.keep_alive_s,  # type: ignore[arg-type]  # a float works
                          timeout_graceful_shutdown=limits.graceful_timeout_whole_s,
                          server_header=False, date_header=True)


class _AnnouncingServer(uvicorn.Server):
    """Prints the base URL once the socket is being served (the line scripts wait for)."""

    def __init__(self, config: uvicorn.Config, url: str, announce: bool) -> None:
        super().__init__(config)
        self.url = url
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.announce:
            print(f"capture-harness reference endpoint listening on {self.url}", flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, minus its re-raise of the signal after the graceful shutdown: that re-raise killed
        the process inside ``run()``, so ``serve``'s cleanup (the store's WAL checkpoint) never ran and
        SIGTERM exited -15.  Here a signal only stops the server; ``serve`` then returns normally."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def serve(app: ASGIApp, host: str, port: int, *, cleanup: Callable[[], None] | None = None,
          limits: Limits | None = None, tls_files: tuple[str, str] | None = None) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then run ``cleanup`` (the CLI closes the store there); ``cleanup``
    runs too when the socket cannot be bound (the port in use).  ``limits``: the connection limits.
    ``tls_files``: (certificate file, key file), to serve https:// (``serve --ssl-certfile --ssl-keyfile``)."""
    try:
        sock = bind(host, port)
    except BaseException:
        if cleanup is not None:
            cleanup()
        raise
    config, url = _config(app, limits), base_url(sock)
    if tls_files is not None:
        config.ssl_certfile, config.ssl_keyfile = tls_files  # uvicorn loads them when it starts
        url = "https" + url.removeprefix("http")
    server = _AnnouncingServer(config, url, announce=True)
    try:
        server.run(sockets=[sock])
    finally:
        if cleanup is not None:
            cleanup()
        sock.close()


@dataclass
class Running:
    """A server running in a background thread."""

    url: str
    app: CaptureApp
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start(app: CaptureApp, host: str = "127.0.0.1", port: int = 0, *, limits: Limits | None = None) -> Running:
    """Start ``app`` in a daemon thread and return once it accepts connections."""
    sock = bind(host, port)
    url = base_url(sock)
    config = _config(app, limits)
    server = _AnnouncingServer(config, url, announce=False)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="capture-harness-server",
                              daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the reference endpoint failed to start on {url}")
        thread.join(timeout=0.01)
    return Running(url, app, server, thread)


@contextlib.contextmanager
def running(app: CaptureApp, host: str = "127.0.0.1", port: int = 0, *,
            limits: Limits | None = None) -> Iterator[Running]:
    """``with running(app) as server: ...server.url...``"""
    server = start(app, host, port, limits=limits)
    try:
        yield server
    finally:
        server.stop()
