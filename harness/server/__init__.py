"""The reference capture endpoint: capture's v0 contract over real HTTP, storing events in SQLite.

``CaptureApp`` is the ASGI application, ``Store`` the SQLite store, ``Faults`` what can be injected;
``runner.start``/``runner.running`` run it in a thread, ``runner.serve`` in the foreground.
"""

from __future__ import annotations

from harness.server.app import CaptureApp
from harness.server.faults import Faults
from harness.server.store import Store

__all__ = ["CaptureApp", "Faults", "Store"]
