"""Your app's tests against the reference endpoint: assert what its tracking sent.

Point the app's PostHog SDK at ``capture-harness serve`` (as Snowplow users point theirs at Snowplow
Micro), then assert on what arrived::

    from harness.apptest import start_endpoint

    with start_endpoint() as endpoint:
        client = posthog.Posthog("phc_test", host=endpoint.url)
        client.capture("signed_up", distinct_id="user-1", properties={"plan": "pro"})
        client.flush()
        endpoint.expect_event("signed_up", distinct_id="user-1", properties={"plan": "pro"})

:class:`CaptureEndpoint` reads a running endpoint's ``/_harness/`` API (``events``, ``expect_event``,
``expect_no_event``, ``reset``, ``faults``, ``stats``); :func:`start_endpoint` starts a fresh one;
:class:`CapturedEvent` is one stored event; ``ANY`` (:data:`unittest.mock.ANY`) matches any present value.
The pytest fixtures (``capture_endpoint``, ``captured``) are in :mod:`harness.apptest.fixtures`, loaded by
the ``capture_harness_apptest`` pytest11 entry point.

Names are imported on first use (PEP 562), so loading the pytest plugin, which imports this package, costs
nothing until a test asks for an endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness._lazy import exports as _exports

if TYPE_CHECKING:
    from unittest.mock import ANY

    from harness.apptest.endpoint import CaptureEndpoint, EndpointError, start_endpoint
    from harness.apptest.events import CapturedEvent

_PUBLIC = {
    "ANY": "unittest.mock",
    "CaptureEndpoint": "harness.apptest.endpoint",
    "CapturedEvent": "harness.apptest.events",
    "EndpointError": "harness.apptest.endpoint",
    "start_endpoint": "harness.apptest.endpoint",
}

__all__ = ["ANY", "CaptureEndpoint", "CapturedEvent", "EndpointError", "start_endpoint"]
assert __all__ == sorted(_PUBLIC)

__getattr__, __dir__ = _exports(__name__, _PUBLIC)
