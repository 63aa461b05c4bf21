"""capture-harness: contract tests, load tests, schemas and generators for PostHog-style capture endpoints.

The public surface: ``validate`` / ``is_acceptable`` judge a payload as capture would; the strategies
generate valid, edge-case and rule-breaking payloads for Hypothesis tests (``harness.fixtures`` is the
fast seeded bulk generator of the same traffic).
"""

from __future__ import annotations

from harness.strategies import (
    alias_bodies,
    batches,
    capture_bodies,
    edge_cases,
    events,
    groupidentify_bodies,
    identify_bodies,
    invalid_payloads,
    payloads,
)
from harness.validation import Finding, Report, detect_kind, is_acceptable, validate

__all__ = [
    "Finding", "Report", "alias_bodies", "batches", "capture_bodies", "detect_kind", "edge_cases", "events",
    "groupidentify_bodies", "identify_bodies", "invalid_payloads", "is_acceptable", "payloads", "validate",
]
