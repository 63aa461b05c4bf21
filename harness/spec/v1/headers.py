"""v1's header checks, in the server's order (capture-v1.md §3): the first failing step decides."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from harness.spec.v1.model import Finding, finding
from harness.spec.v1.text import attempt_ok, canonical_uuid, is_rfc3339, is_utc, visible_ascii

REQUIRED = ("Content-Type", "User-Agent", "PostHog-Sdk-Info", "PostHog-Attempt", "PostHog-Request-Id",
            "PostHog-Request-Timestamp")
"""``REQUIRED_HEADERS`` of ``v1/constants.rs`` (newest), in the spelling the SDKs send."""

ENCODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
OBSOLETE = ("PostHog-Api-Token", "PostHog-Client-Timestamp", "PostHog-Attempt-Timestamp")
TOKEN_MAX_BYTES = 64


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: one lower-case map (the last spelling wins)."""
    return {name.lower(): value for name, value in headers.items()}


def check(headers: Mapping[str, str], variants: frozenset[str], prefix: str = "$.headers") -> Finding | None:
    """The finding of the first failing step, or None when every header passes."""
    h = lowered(headers)
    old_auth = "authorization-required-header" in variants
    if "authorization" not in h and not old_auth:
        return finding("v1-authorization-missing", f"{prefix}.Authorization", "", variants)
    missing = [name for name in REQUIRED if name.lower() not in h]
    if "authorization" not in h:
        missing.insert(0, "Authorization")
        return finding("v1-authorization-missing", f"{prefix}.Authorization",
                       f"request is missing required headers: {missing}", variants)
    if missing:
        return finding("v1-headers-missing", f"{prefix}.{missing[0]}",
                       f"request is missing required headers: {missing}", variants)
    for step in _value_steps(h, prefix, variants):
        return step
    return None


def _value_steps(h: dict[str, str], prefix: str, variants: frozenset[str]) -> Iterator[Finding]:
    auth = h["authorization"]
    if not visible_ascii(auth):
        yield finding("v1-header-not-visible-ascii", f"{prefix}.Authorization", "Authorization", variants)
    if len(auth.encode()) <= 7 or auth[:7].lower() != "bearer ":
        yield finding("v1-authorization-not-bearer", f"{prefix}.Authorization", "Authorization must use Bearer scheme",
                      variants)
    token = auth[7:].strip()
    if not token or len(token.encode()) > TOKEN_MAX_BYTES or not token.isascii() or token.startswith("phx_") \
            or "\x00" in token:
        yield finding("v1-token-invalid", f"{prefix}.Authorization", "The provided API token is not valid.", variants)
    if h["content-type"].split(";")[0].strip().lower() != "application/json":
        yield finding("v1-content-type-unsupported", f"{prefix}.Content-Type", repr(h["content-type"]), variants)
    if "content-encoding" in h:
        encoding = h["content-encoding"]
        if not encoding.isascii():
            yield finding("v1-header-not-visible-ascii", f"{prefix}.Content-Encoding", "Content-Encoding", variants)
        if encoding.strip().lower() not in ENCODINGS:
            yield finding("v1-content-encoding-unsupported", f"{prefix}.Content-Encoding", repr(encoding), variants)
    if canonical_uuid(h["posthog-request-id"].strip()) is None:
        yield finding("v1-request-id-invalid", f"{prefix}.PostHog-Request-Id", repr(h["posthog-request-id"]), variants)
    if not attempt_ok(h["posthog-attempt"]):
        yield finding("v1-attempt-invalid", f"{prefix}.PostHog-Attempt", repr(h["posthog-attempt"]), variants)
    if not is_rfc3339(h["posthog-request-timestamp"]):
        yield finding("v1-request-timestamp-invalid", f"{prefix}.PostHog-Request-Timestamp",
                      repr(h["posthog-request-timestamp"]), variants)
    for name in ("User-Agent", "PostHog-Sdk-Info"):
        if not visible_ascii(h[name.lower()]):
            yield finding("v1-header-not-visible-ascii", f"{prefix}.{name}", name, variants)


def warnings(headers: Mapping[str, str], sdk: bool, prefix: str = "$.headers") -> Iterator[Finding]:
    """Obsolete header names (always), and a non-UTC request timestamp (``--profile sdk``)."""
    h = lowered(headers)
    for name in OBSOLETE:
        if name.lower() in h:
            yield finding("v1-header-obsolete", f"{prefix}.{name}", name, frozenset())
    stamp = h.get("posthog-request-timestamp")
    if sdk and stamp is not None and not is_utc(stamp):
        yield finding("v1-sdk-timestamp-not-utc", f"{prefix}.PostHog-Request-Timestamp", repr(stamp), frozenset())
