"""Where the harness may send traffic: never to PostHog Cloud unless the user says so explicitly.

The contract suite sends hundreds of invalid and tagged test events, and a load test sends as many as it
can, into the project whose key it is given; pointing either at production by accident is the mistake
this module exists to stop.
"""

from __future__ import annotations

PRODUCTION_DOMAIN = "posthog.com"
"""PostHog Cloud (``us.i.posthog.com``, ``eu.i.posthog.com``, ``app.posthog.com``, ...)."""


def is_production_host(host: str) -> bool:
    """Whether ``host`` is PostHog Cloud (the domain itself or any name under it)."""
    host = host.lower().rstrip(".")
    return host == PRODUCTION_DOMAIN or host.endswith("." + PRODUCTION_DOMAIN)
