"""The load job: scenarios, the traffic supply, the delivery ledger, arrival plans, HdrHistogram latency,
the Locust user, the run, its results and its summary, and the report files they share.

Only :mod:`harness.load.user` and :mod:`harness.load.openmodel` import Locust (which monkey-patches the
standard library with gevent); ``CaptureUser`` is reached through this package lazily so that
``from harness.load import CaptureUser`` works in a locustfile while the CLI's process imports the rest
of the package without Locust.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CaptureUser"]


def __getattr__(name: str) -> Any:
    if name == "CaptureUser":
        from harness.load.user import CaptureUser

        return CaptureUser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
