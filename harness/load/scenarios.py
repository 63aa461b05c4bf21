"""Load scenarios: which bodies go to which path in which encoding, as each kind of client sends them.

A scenario turns the traffic model into requests.  Its weights are the documented blend of that kind of
traffic; the encodings follow what the SDKs put on the wire (capture-contract.md §11 and §13):

- ``capture``: single events to ``/i/v0/e/``, plain JSON or gzip by header;
- ``batch``: posthog-python (plain JSON, up to 100 events a batch) and posthog-node (gzip by header,
  flushing at 20) posting to ``/batch/``;
- ``browser``: posthog-js to ``/e/``: arrays gzipped with ``?compression=gzip-js``, and single events as
  a form ``data=`` of base64;
- ``identify_alias``: visitors logging in (``$identify``), being aliased and group-identified;
- ``mixed``: all of the above in :data:`MIXED`'s proportions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.generate.choices import weighted
from harness.generate.traffic import Traffic

SCENARIOS: tuple[str, ...] = ("capture", "batch", "browser", "identify_alias", "mixed")


@dataclass(frozen=True)
class Planned:
    """One request to make: a body, where it goes and how it is encoded; ``name`` groups its stats.

    Exactly the input of :func:`harness.checks.case_for`, which the corpus calls with the status
    :func:`harness.wire.expected_outcome` gives the encoding and path."""

    name: str
    path: str
    encoding: str
    body: Any


Step = Callable[[Traffic], Planned]


def _single(traffic: Traffic) -> Planned:
    encoding = traffic.c.pick(("json", "gzip-header"))
    return Planned(f"capture {encoding}", "/i/v0/e/", encoding, traffic.capture())


def _python_batch(traffic: Traffic) -> Planned:
    body = traffic.server_batch(traffic.c.integer(1, 100), "posthog-python")
    return Planned("batch posthog-python", "/batch/", "json", body)


def _node_batch(traffic: Traffic) -> Planned:
    body = traffic.server_batch(traffic.c.integer(1, 20), "posthog-node")
    return Planned("batch posthog-node", "/batch/", "gzip-header", body)


def _browser_flush(traffic: Traffic) -> Planned:
    return Planned("browser gzip-js", "/e/", "gzip-query", traffic.browser_flush())


def _browser_form(traffic: Traffic) -> Planned:
    return Planned("browser form", "/e/", "form", traffic.browser_single())


def _identify(traffic: Traffic) -> Planned:
    return Planned("identify json", "/i/v0/e/", "json", traffic.identify())


def _alias(traffic: Traffic) -> Planned:
    return Planned("alias json", "/i/v0/e/", "json", traffic.alias())


def _groupidentify(traffic: Traffic) -> Planned:
    return Planned("groupidentify json", "/i/v0/e/", "json", traffic.groupidentify())


WEIGHTS: dict[str, tuple[tuple[Step, int], ...]] = {
    "capture": ((_single, 1),),
    "batch": ((_python_batch, 1), (_node_batch, 1)),
    "browser": ((_browser_flush, 3), (_browser_form, 1)),
    "identify_alias": ((_identify, 6), (_alias, 3), (_groupidentify, 2)),
    "mixed": ((_browser_flush, 40), (_browser_form, 10), (_python_batch, 12), (_node_batch, 12), (_single, 14),
              (_identify, 6), (_alias, 3), (_groupidentify, 3)),
}
"""Each scenario's steps and their relative weights (for ``mixed``: percent of requests)."""


def plan(traffic: Traffic, scenario: str) -> Planned:
    """The next request of ``scenario``."""
    try:
        steps = WEIGHTS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}") from None
    return weighted(traffic.c, steps)(traffic)
