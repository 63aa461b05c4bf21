"""capture-harness: contract tests, load tests, schemas and generators for PostHog-style capture endpoints."""

from __future__ import annotations

from harness.validation import Finding, Report, detect_kind, is_acceptable, validate

__all__ = ["Finding", "Report", "detect_kind", "is_acceptable", "validate"]
