"""The contract suite: pytest tests that verify any capture endpoint against ``capture-contract.md``.

Run it with ``pytest --pyargs harness.contract --capture-url URL`` or ``capture-harness contract --url URL``;
without a URL the reference endpoint is started for the session.  The fixtures and options come from the
``capture_harness`` pytest plugin (:mod:`harness.contract.plugin`).

The ``test_*`` modules hold the tests, one module per category (a pytest marker of the same name, so
``-m rejection`` selects one); the other modules are the suite's machinery, importable by users who
build their own tests on it:

- :mod:`harness.contract.target`: the endpoint under test, and the refusal of production hosts;
- :mod:`harness.contract.client`: one keep-alive HTTP connection (the standard library's ``http.client``);
- :mod:`harness.contract.tagging`: the run id and distinct_id prefix every event carries;
- :mod:`harness.contract.cases`: valid and rule-breaking bodies turned into :class:`harness.checks.Case`;
- :mod:`harness.contract.bodies`: payloads built as bytes (size limits, a gzip bomb, malformed JSON);
- :mod:`harness.contract.replies`: checks of CORS and error bodies, beside the shared ones in
  :mod:`harness.checks`;
- :mod:`harness.contract.delivery`: acknowledged events against what the ``/_harness/`` API stored;
- :mod:`harness.contract.findings`: a failure with the ``curl`` command that reproduces it, the key masked;
- :mod:`harness.contract.reporting`: a finding's report, junitxml properties, the summary per category.
- :mod:`harness.contract.coverage`: which test fails when an endpoint breaks each rule, or why none can.

This module holds only the two tables below: the plugin, which every pytest run loads, imports it, so it
must stay free of the suite's dependencies.
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "acceptance": "valid payloads of every kind, on every v0 path, in every encoding: the contract's status",
    "rejection": "every rule the generators can break: the contract's 4xx, never 200, never 5xx",
    "edge_cases": "awkward but valid payloads (unicode, odd distinct ids, every uuid, timestamp and token form)",
    "properties": "Hypothesis: generated valid payloads get 2xx, invalid ones their labelled 4xx (shrinking)",
    "responses": "success body schema, JSON content type, CORS preflight, plain OPTIONS, error bodies",
    "limits": "the 20 MiB wire cap from both sides, a gzip bomb refused promptly",
    "delivery": "acknowledged events stored with the uuid, distinct_id, event and properties sent",
}
"""The suite's categories (each a pytest marker), in the order the summary lists them."""

PROFILE_NAMES: tuple[str, ...] = ("quick", "thorough")
"""``--capture-profile`` values: the Hypothesis settings of the property tests (see the plugin)."""
