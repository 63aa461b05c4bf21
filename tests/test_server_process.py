"""The one helper that starts ``capture-harness serve`` in a subprocess: its address, its log, its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.server.process import HOST, ServeError, ServeProcess
from tests.support import request

pytestmark = pytest.mark.e2e  # real processes or real SDK clients


def test_it_serves_on_a_free_local_port_and_stops_gracefully_on_exit(tmp_path: Path) -> None:
    with ServeProcess(db=tmp_path / "store.sqlite3", log=tmp_path / "serve.log") as server:
        assert (server.host, server.url) == (HOST, f"http://{HOST}:{server.port}")
        status, _, body = request(server.url, "GET", "/_harness/stats")
        assert status == 200 and body.startswith(b"{"), body[:200]
        assert server.process.poll() is None
    assert server.process.returncode == 0  # SIGTERM: a clean exit, the store closed


def test_a_server_that_cannot_start_is_an_error_quoting_its_log(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with pytest.raises(ServeError, match=r"(?s)serve exited \(2\) before listening; its log ends: .*--no-such-option"):
        ServeProcess(args=("--no-such-option",), log=log)
    assert "--no-such-option" in log.read_text()


def test_without_a_log_its_stderr_is_discarded(tmp_path: Path) -> None:
    with pytest.raises(ServeError) as failed:
        ServeProcess(args=("--no-such-option",), cwd=tmp_path)
    assert str(failed.value) == "serve exited (2) before listening"
