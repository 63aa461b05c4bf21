"""The reference capture endpoint: capture's v0 contract over real HTTP, storing events in SQLite.

``CaptureApp`` is the ASGI application, ``Store`` the SQLite store, ``Faults`` what can be injected;
``runner.start``/``runner.running`` run it in a thread, ``runner.serve`` in the foreground.  Inside:
``app`` routes (CORS, body reading), ``capture`` handles a capture request without I/O, ``records``
builds what capture keeps, ``store`` commits it, ``inspect`` serves the ``/_harness/`` API and its
counters, ``sdk_routes`` and ``remote_config`` answer what SDKs ask for besides capture (remote config,
flags, ``/decide``, ``/static/``), ``faults`` decides what to inject, ``process`` runs ``serve`` in a subprocess.

The three names are imported on first use (PEP 562): the load command and the tests start ``serve`` in a
subprocess through :mod:`harness.server.process` without loading the validator in their own process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness._lazy import exports as _exports

if TYPE_CHECKING:
    from harness.server.app import CaptureApp
    from harness.server.faults import Faults
    from harness.server.store import Store

_PUBLIC = {"CaptureApp": "harness.server.app", "Faults": "harness.server.faults", "Store": "harness.server.store"}

__all__ = ["CaptureApp", "Faults", "Store"]

__getattr__, __dir__ = _exports(__name__, _PUBLIC)
