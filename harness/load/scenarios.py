"""Load scenarios: which bodies go to which path in which encoding, as each kind of client sends them.

A scenario turns the traffic model into requests.  Its weights are the documented blend of that kind of
traffic; the encodings follow what the SDKs put on the wire (capture-contract.md §11 and §13):

- ``capture``: single events to ``/i/v0/e/``, plain JSON or gzip by header;
- ``batch``: posthog-python (plain JSON, up to 100 events a batch) and posthog-node (gzip by header,
  flushing at 20) posting to ``/batch/``;
- ``browser``: posthog-js 1.449 to ``/e/?_=<ms>&ver=1.449.2``: ``{api_key, batch, sent_at}`` gzipped as
  ``text/plain`` with no compression hint (capture finds the gzip magic bytes), as plain JSON (what it
  sends once remote config failed, or with ``disable_compression``), again with ``&retry_count=N`` (its
  retry queue), and by ``sendBeacon`` on unload as a form ``data=<base64>`` with ``?compression=base64``;
- ``browser_legacy``: older posthog-js (1.78-era, the recorded fixtures of §9.1): bare arrays gzipped
  with ``?compression=gzip-js``, and single events as a form ``data=`` of base64;
- ``identify_alias``: visitors logging in (``$identify``), being aliased and group-identified;
- ``v1``: posthog-python (up to 100 events, mostly identity, some gzip or deflate) and posthog-node (up to 20,
  mostly gzip) posting to ``/i/v1/analytics/events`` with their v1 headers (:mod:`harness.generate.v1`);
  their answers' per-event results drive the SDKs' retries (:mod:`harness.load.v1_answers`);
- ``mixed``: all of the above in :data:`MIXED`'s proportions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.generate.choices import weighted
from harness.generate.traffic import Traffic
from harness.generate.v1 import SDKS, V1Traffic

SCENARIOS: tuple[str, ...] = ("capture", "batch", "browser", "browser_legacy", "identify_alias", "mixed", "v1")
PER_EVENT = frozenset({"v1"})
"""Scenarios whose answers say per event what became of each (their ledger: :class:`harness.load.outcomes.OutcomeLedger`)."""
POSTHOG_JS_VERSION = "1.449.2"
"""The posthog-js release whose requests ``browser`` reproduces (its ``ver`` query parameter)."""


@dataclass(frozen=True)
class Planned:
    """One request to make: a body, where it goes and how it is encoded; ``name`` groups its stats.

    Exactly the input of :func:`harness.checks.case_for`, which the corpus calls with the status
    :func:`harness.wire.expected_outcome` gives the encoding and path."""

    name: str
    path: str
    encoding: str
    body: Any
    query: tuple[tuple[str, str], ...] = ()
    """Query parameters after the encoding's own, in order (see :func:`harness.wire.encode`)."""
    headers: tuple[tuple[str, str], ...] = ()
    """A v1 request's headers, as its SDK sends them (``Content-Encoding`` says how ``body`` goes on the wire;
    ``encoding`` is then ``v1``): no v0 encoding applies (:func:`harness.load.corpus.generate_chunk`)."""


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


def _js_query(traffic: Traffic, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """posthog-js's own parameters: the cache buster ``_`` (the send time in ms) and ``ver``, then ``extra``."""
    return (("_", str(traffic.clock.ms)), ("ver", POSTHOG_JS_VERSION), *extra)


def _browser_gzip(traffic: Traffic) -> Planned:
    body = traffic.browser_request()
    return Planned("browser gzip", "/e/", "gzip-magic", body, _js_query(traffic))


def _browser_json(traffic: Traffic) -> Planned:
    body = traffic.browser_request()
    return Planned("browser json", "/e/", "json", body, _js_query(traffic))


def _browser_retry(traffic: Traffic) -> Planned:
    """A flush sent again by the retry queue: the first attempt never reached the endpoint (a network
    error), so the events are new to it; ``retry_count`` says which attempt this is."""
    body = traffic.browser_request()
    attempt = str(traffic.c.integer(1, 3))
    return Planned("browser retry", "/e/", "gzip-magic", body, _js_query(traffic, ("retry_count", attempt)))


def _browser_beacon(traffic: Traffic) -> Planned:
    body = traffic.browser_unload()
    return Planned("browser beacon", "/e/", "form", body, _js_query(traffic, ("compression", "base64")))


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


V1_PATH = "/i/v1/analytics/events"


def _v1(traffic: Traffic, sdk: str, most: int) -> Planned:
    """A v1 batch of 1 to ``most`` events, named by SDK and wire encoding (``identity``: uncompressed)."""
    request = V1Traffic(traffic.c, traffic.token, sdk, traffic).request(traffic.c.integer(1, most))
    headers = request["headers"]
    name = f"v1 {SDKS[sdk][0]} {headers.get('Content-Encoding', 'identity')}"
    return Planned(name, V1_PATH, "v1", request["body"], headers=tuple(headers.items()))


def _v1_python(traffic: Traffic) -> Planned:
    return _v1(traffic, "python", 100)  # flush_at 100


def _v1_node(traffic: Traffic) -> Planned:
    return _v1(traffic, "node", 20)  # flushAt 20 (maxBatchSize 100), as in the batch scenario


WEIGHTS: dict[str, tuple[tuple[Step, int], ...]] = {
    "capture": ((_single, 1),),
    "batch": ((_python_batch, 1), (_node_batch, 1)),
    "browser": ((_browser_gzip, 6), (_browser_json, 1), (_browser_retry, 1), (_browser_beacon, 2)),
    "browser_legacy": ((_browser_flush, 3), (_browser_form, 1)),
    "identify_alias": ((_identify, 6), (_alias, 3), (_groupidentify, 2)),
    "v1": ((_v1_python, 1), (_v1_node, 1)),
    "mixed": ((_browser_gzip, 32), (_browser_json, 4), (_browser_retry, 4), (_browser_beacon, 10), (_python_batch, 12),
              (_node_batch, 12), (_single, 14),
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
