"""The endpoint under test: its URL, the API key (only ever shown masked), the variant, the run id.

Where the suite may point is checked by :func:`harness.safety.check_url` (PostHog Cloud hosts refused
unless the user says ``--capture-allow-production``).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checks import Variant
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN


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
