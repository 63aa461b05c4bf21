"""The endpoint under test: its URL, the API key (only ever shown masked), the variant, the run id.

Also the one safety rule about where the suite may point: PostHog Cloud hosts (anything under
``posthog.com``) are refused unless the user says ``--capture-allow-production``, because the suite
sends hundreds of odd and invalid requests and real events into the project of the key it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.checks import Variant
from harness.safety import is_production_host
from harness.traffic import DEFAULT_TOKEN
from harness.validation import mask_token


class TargetError(ValueError):
    """The URL cannot be tested as given; the message says what to change."""


def check_url(url: str, *, allow_production: bool = False) -> str:
    """``url`` without a trailing slash, or :class:`TargetError` if it is not http(s) or is production."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"--capture-url {url!r} is not an http(s) URL; e.g. --capture-url http://127.0.0.1:8000")
    if parts.query or parts.fragment:
        raise TargetError(f"--capture-url {url!r} holds a query or fragment; give the base URL only")
    host = parts.hostname
    if not allow_production and is_production_host(host):
        raise TargetError(
            f"{host} is a PostHog Cloud host: the contract suite sends hundreds of invalid and tagged test "
            "events, so it refuses production by default. Point it at staging or a self-hosted endpoint, "
            "or pass --capture-allow-production (capture-harness contract --allow-production) if you mean it.")
    return url.rstrip("/")


@dataclass(frozen=True)
class Target:
    """What every contract test needs to know about the endpoint.

    ``inspection``: the endpoint serves the reference server's ``/_harness/`` API, so delivery can be
    checked; ``embedded``: the suite started it (the curl commands of findings then name a server that
    is gone once the session ends).
    """

    url: str
    api_key: str
    variant: Variant
    run_id: str
    inspection: bool = False
    embedded: bool = False

    @property
    def masked_key(self) -> str:
        return mask_token(self.api_key)

    @property
    def secret_key(self) -> bool:
        """Whether the key is the user's own (to be kept out of output), not the public placeholder."""
        return self.api_key != DEFAULT_TOKEN

    def describe(self) -> str:
        where = f"{self.url} (embedded reference endpoint)" if self.embedded else self.url
        inspection = "with /_harness/ inspection" if self.inspection else "no /_harness/ inspection: delivery skipped"
        return f"{where}, api key {self.masked_key}, variant {self.variant.value}, {inspection}"
