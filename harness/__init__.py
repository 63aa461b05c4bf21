"""capture-harness: contract tests, load tests, schemas and generators for PostHog-style capture endpoints.

The public surface: ``validate`` / ``is_acceptable`` judge a payload as capture would; the strategies
generate valid, edge-case and rule-breaking payloads for Hypothesis tests (``harness.generate.seeded`` is
the fast seeded bulk generator of the same traffic).

Every name is imported on first use (PEP 562), so ``import harness`` or ``import harness.wire`` loads
neither Hypothesis nor jsonschema: the pytest plugin and the CLI stay quick to start.
"""

from __future__ import annotations


from harness._lazy import exports as _exports

_PUBLIC = {
    "Finding": "harness.spec.validation",
    "Report": "harness.spec.validation",
    "is_acceptable": "harness.spec.validation",
    "validate": "harness.spec.validation",
    "detect_kind": "harness.spec.body",
    "alias_bodies": "harness.generate.strategies",
    "batches": "harness.generate.strategies",
    "capture_bodies": "harness.generate.strategies",
    "edge_cases": "harness.generate.strategies",
    "events": "harness.generate.strategies",
    "groupidentify_bodies": "harness.generate.strategies",
    "identify_bodies": "harness.generate.strategies",
    "invalid_payloads": "harness.generate.strategies",
    "payloads": "harness.generate.strategies",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = _exports(__name__, _PUBLIC)
