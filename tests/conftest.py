"""Fixtures shared by the test modules."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

LOOPBACK = ("127.0.0.1", "::1")


@pytest.fixture
def refused_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and list) every connection to a non-loopback address, and keep proxies out of the way."""
    refused: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            refused.append(address)
            raise ConnectionRefusedError(f"test refuses a connection to {address!r}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("POSTHOG_CAPTURE_MODE", raising=False)  # v1 would post elsewhere
    return refused


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The node ids of the shipped contract suite, collected once a session for every coverage test."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "--pyargs", "harness.contract",
                           "-p", "no:cacheprovider"], cwd=tmp_path_factory.mktemp("collect"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]
