"""Bodies for the contract tests, tagged for the run, turned into :class:`harness.checks.Case`\\ s.

Valid bodies come from the seeded traffic model (:class:`harness.generate.traffic.Traffic` driven by
:class:`harness.generate.choices.SeededChoices`, the engine of ``harness.generate.seeded``), rule-breaking ones from
:data:`harness.generate.mutations.BREAKERS`: the same generators as ``capture-harness generate``, so the suite
sends what real SDKs send.  A seed is derived from the test's own label, so a test sends the same body
(up to the run tag) every run, and the ids pytest shows are stable.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from harness.checks import Case, case_for, expected_status
from harness.contract.tagging import tag
from harness.contract.target import Target
from harness.generate import mutations
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic

PAYLOAD_KINDS: tuple[str, ...] = ("capture", "batch", "identify", "alias", "groupidentify")
"""The body kinds acceptance covers (``mixed`` is a blend of these)."""


def seed_of(label: str) -> int:
    """A stable seed for a test's label (``hash()`` is salted per process; crc32 is not)."""
    return zlib.crc32(label.encode("utf-8"))


class Cases:
    """Builds tagged bodies and :class:`Case`\\ s for one :class:`Target`."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def valid(self, kind: str, label: str, *, batch_size: int = 3) -> Any:
        """A valid body of ``kind``, the same for the same ``label``, tagged for this run."""
        choices = SeededChoices(seed_of(label))
        return self.tag(Traffic(choices, token=self.target.api_key).body(kind, batch_size))

    def invalid(self, rule: str, label: str) -> tuple[Any, int]:
        """A tagged body that breaks exactly ``rule``, and the status this target's variant answers."""
        choices = SeededChoices(seed_of(label))
        body, _ = mutations.invalid(choices, Traffic(choices, token=self.target.api_key), rule)
        return self.tag(body), expected_status(rule, self.target.variant)

    def tag(self, body: Any, *, prefix_ids: bool = True, fresh_uuids: bool = True) -> Any:
        return tag(body, self.target.run_id, prefix_ids=prefix_ids, fresh_uuids=fresh_uuids)

    def case(self, name: str, body: Any, *, encoding: str = "json", path: str = "/i/v0/e/", expect: int = 200,
             rule: str | None = None, query: Mapping[str, str] | None = None) -> Case:
        """``body`` (a JSON value, or bytes sent as they are) on the wire as ``encoding`` to ``path``
        (:func:`harness.checks.case_for`, with the defaults the contract tests use most)."""
        return case_for(name, body, path=path, encoding=encoding, expect=expect, rule=rule, query=query)
