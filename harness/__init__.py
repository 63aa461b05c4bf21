"""capture-harness: contract tests, load tests, schemas and generators for PostHog-style capture endpoints.

The public surface: ``validate`` / ``is_acceptable`` judge a payload as capture would; the strategies
generate valid, edge-case and rule-breaking payloads for Hypothesis tests (``harness.generate.seeded`` is
the fast seeded bulk generator of the same traffic).

Every name is imported on first use (PEP 562), so ``import harness`` or ``import harness.wire`` loads
neither Hypothesis nor jsonschema: the pytest plugin and the CLI stay quick to start.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
