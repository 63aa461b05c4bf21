"""The ``capture_harness_apptest`` pytest plugin: fixtures for an app's tests against the reference endpoint.

Registered as a ``pytest11`` entry point, so every pytest run on a machine with the package installed loads
it: like the contract plugin (:mod:`harness.contract.plugin`) it imports only pytest and the standard library
at module level, and starts nothing until a test asks for an endpoint.  Its options are its own group with
names that no other plugin of the package uses (the contract suite's are ``--capture-url`` and friends: the
app's endpoint is not the endpoint under contract test, so the two never share a setting).

Options (group "capture-harness app tests"): ``--capture-endpoint URL`` (default: ``$CAPTURE_HARNESS_ENDPOINT``,
else start ``capture-harness serve`` once for the session, with a temporary store) and
``--capture-endpoint-token TOKEN`` (the inspection token of that URL's ``/_harness/`` API; default:
``$CAPTURE_HARNESS_INSPECT_TOKEN``).

Fixtures: ``capture_endpoint`` (session-scoped :class:`~harness.apptest.endpoint.CaptureEndpoint`; point the
SDK at its ``url``) and ``captured`` (the same endpoint with its store emptied before the test, so that the
test's assertions see only what its own code sent, and its faults put back after it; tests that use it must
not run against one endpoint in parallel)::

    def test_signup_is_tracked(captured):
        app = make_app(posthog_host=captured.url)
        app.sign_up("user-1", plan="pro")
        captured.expect_event("signed_up", distinct_id="user-1", properties={"plan": "pro"})
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.apptest.endpoint import CaptureEndpoint

ENDPOINT_ENV = "CAPTURE_HARNESS_ENDPOINT"
"""The environment variable that names a running endpoint (CI starts ``serve`` as a service)."""
TOKEN_ENV = "CAPTURE_HARNESS_INSPECT_TOKEN"
"""The inspection token's environment variable (:data:`harness.server.process.TOKEN_ENV`, not imported:
loading the plugin imports nothing of the package)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("capture-harness-apptest", "capture-harness app tests (fixtures capture_endpoint, "
                                                       "captured)")
    group.addoption("--capture-endpoint", metavar="URL", default=os.environ.get(ENDPOINT_ENV) or None,
                    help=f"base URL of a running capture-harness serve for the capture_endpoint fixture (default: "
                         f"${ENDPOINT_ENV}, else start one for the session with a temporary store)")
    group.addoption("--capture-endpoint-token", metavar="TOKEN", default=os.environ.get(TOKEN_ENV) or None,
                    help=f"inspection token of --capture-endpoint's /_harness/ API (default: ${TOKEN_ENV})")


@pytest.fixture(scope="session")
def capture_endpoint(pytestconfig: pytest.Config) -> Iterator[CaptureEndpoint]:
    """The session's reference endpoint: ``--capture-endpoint`` if given, else ``serve`` started once."""
    from harness.apptest.endpoint import CaptureEndpoint, EndpointError, start_endpoint
    from harness.safety import TargetError
    from harness.server.process import ServeError

    url = pytestconfig.getoption("capture_endpoint")
    try:
        if url is None:
            with start_endpoint() as started:
                yield started
            return
        with CaptureEndpoint(url, pytestconfig.getoption("capture_endpoint_token")) as given:
            given.stats()  # a wrong URL or token fails here, once, with the reason
            yield given
    except (EndpointError, TargetError, ServeError) as error:
        pytest.fail(f"capture-harness: {error}", pytrace=False)


@pytest.fixture
def captured(capture_endpoint: CaptureEndpoint) -> Iterator[CaptureEndpoint]:
    """The session's endpoint, emptied for this test; the faults the test sets are undone after it (back to what
    the endpoint had, e.g. a ``serve --latency-ms`` of its own), so that no test inherits another's."""
    faults = capture_endpoint.faults()
    capture_endpoint.reset()
    yield capture_endpoint
    capture_endpoint.faults(**faults)
