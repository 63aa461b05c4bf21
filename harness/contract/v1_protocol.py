"""Which protocol a contract run judges (``--capture-protocol v0|v1``): the tests it keeps, its v1 variants,
and the lines the summary prints about both.  Used by :mod:`harness.contract.plugin`'s hooks, only in a session
of contract tests or with a v1 variant given; imports only pytest (the variants' names from the reference endpoint
when one is given).

Options: ``--capture-protocol v0|v1`` (default v0, or ``$CAPTURE_HARNESS_PROTOCOL``) and ``--capture-v1-variant
NAME`` (repeatable: an older v1 revision's answers, capture-v1.md §8; the embedded endpoint answers by it too).
A test's protocol is its ``capture_protocol`` marker (the ``test_v1_*`` modules carry ``v1``); an unmarked test
of the suite's own package is v0; a user's own unmarked test runs under both.  The other protocol's tests are
deselected, not skipped: they are no finding, and the summary says how many and how to run them.
"""

from __future__ import annotations

import pytest

SUITE_MODULES = "harness.contract.test_"

_DESELECTED = pytest.StashKey[str]()
"""The summary's line on the tests deselected."""


def check(config: pytest.Config) -> None:
    """v1 variants only with protocol v1, and only names the reference endpoint knows."""
    chosen = config.getoption("capture_v1_variant")
    if config.getoption("capture_protocol") != "v1":
        raise pytest.UsageError("capture-harness: --capture-v1-variant needs --capture-protocol v1")
    from harness.server.v1_capture import variants  # the server's names: only when a variant is asked for

    try:
        variants(chosen)
    except ValueError as error:
        raise pytest.UsageError(f"capture-harness: --capture-v1-variant: {error}") from None


def protocol_of(item: pytest.Item) -> str | None:
    """The protocol a test judges (see the module docstring); None for one that runs under both."""
    marker = item.get_closest_marker("capture_protocol")
    if marker is not None:
        return str(marker.args[0])
    module = getattr(getattr(item, "module", None), "__name__", "")
    return "v0" if module.startswith(SUITE_MODULES) else None


def deselect(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the other protocol's tests from ``items`` (reported to pytest as deselected, and kept for
    :func:`notes`)."""
    protocol = config.getoption("capture_protocol")
    other = [item for item in items if protocol_of(item) not in (None, protocol)]
    if not other:
        return
    config.hook.pytest_deselected(items=other)
    items[:] = [item for item in items if protocol_of(item) in (None, protocol)]
    config.stash[_DESELECTED] = (f"protocol {protocol}: {len(other)} contract tests of the other protocol deselected "
                                 f"(--capture-protocol {'v1' if protocol == 'v0' else 'v0'} runs them)")


def notes(config: pytest.Config) -> list[str]:
    """The summary's lines: what a v1 run judges (a v0 run's target line says it all), and what was deselected."""
    lines = []
    if config.getoption("capture_protocol") == "v1":
        chosen = config.getoption("capture_v1_variant")
        lines.append(f"protocol v1 (POST /i/v1/analytics/events), v1 variants: "
                     f"{', '.join(chosen) if chosen else 'none (newest)'}")
    return [*lines, *([config.stash[_DESELECTED]] if _DESELECTED in config.stash else [])]
