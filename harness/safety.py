"""Where the harness may send traffic, and how it shows a key: the safety rules every job shares.

The contract suite sends hundreds of invalid and tagged test events, and a load test sends as many as it
can, into the project whose key it is given; pointing either at production by accident is the mistake
:func:`check_url` exists to stop.  A key is never printed or written in full (:func:`mask_token`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

PRODUCTION_DOMAIN = "posthog.com"
"""PostHog Cloud (``us.i.posthog.com``, ``eu.i.posthog.com``, ``app.posthog.com``, ...)."""


class TargetError(ValueError):
    """The URL cannot be tested as given; the message says what to change."""


def is_production_host(host: str) -> bool:
    """Whether ``host`` is PostHog Cloud (the domain itself or any name under it)."""
    host = host.lower().rstrip(".")
    return host == PRODUCTION_DOMAIN or host.endswith("." + PRODUCTION_DOMAIN)


def check_url(url: str, *, allow_production: bool = False, option: str = "--capture-url",
              allow_option: str = "--capture-allow-production (capture-harness contract --allow-production)",
              job: str = "the contract suite sends hundreds of invalid and tagged test events") -> str:
    """``url`` without a trailing slash, or :class:`TargetError` if it is not an http(s) base URL or is a
    production host that was not explicitly allowed.  ``option``, ``allow_option`` and ``job`` word the
    message for the command or plugin that asks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"{option} {url!r} is not an http(s) URL; e.g. {option} http://127.0.0.1:8000")
    if parts.query or parts.fragment:
        raise TargetError(f"{option} {url!r} holds a query or fragment; give the base URL only")
    host = parts.hostname
    if not allow_production and is_production_host(host):
        raise TargetError(
            f"{host} is a PostHog Cloud host: {job}, so it refuses production by default. Point it at "
            f"staging or a self-hosted endpoint, or pass {allow_option} if you mean it.")
    return url.rstrip("/")


def mask_token(token: str) -> str:
    """Show a token without revealing it: ``phc_…last4`` (DESIGN.md: never print a full API key)."""
    if len(token) <= 8:
        return "…" if token else "''"
    head = token[:4] if token[3:4] == "_" else ""
    return f"{head}…{token[-4:]}"
