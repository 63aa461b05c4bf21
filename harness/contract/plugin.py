"""The ``capture_harness`` pytest plugin: the contract suite's options, fixtures and embedded endpoint.

Registered as a ``pytest11`` entry point, so every pytest run on a machine where the package is installed
loads it.  Loading it therefore costs only its options and markers: like Hypothesis's own plugin (kept
apart "so that it can be loaded by Pytest without importing Hypothesis"), it imports nothing but pytest
and the standard library at module level, and the suite's machinery, Hypothesis, the validators and the
server inside the hooks and fixtures that need them.  The reporting (:mod:`harness.contract.reporting`)
starts only in a session that collects contract tests: a test with a category marker, or one that uses
the endpoint (``capture_target``, which every fixture that sends needs).  This module never imports Locust.

Run the suite with ``pytest --pyargs harness.contract [--capture-url URL]``; write your own contract
tests with the same fixtures::

    def test_my_rule(capture_cases, capture_check):
        body = capture_cases.valid("batch", "my rule")
        capture_check(capture_cases.case("my batch", body, path="/batch/"))

Options (group "capture-harness"): ``--capture-url`` (default: start the reference endpoint on a free
port for the session, with a temporary SQLite store), ``--capture-api-key``, ``--capture-variant``,
``--capture-profile``, ``--capture-allow-production``, ``--capture-timeout``, and how the traffic reaches the
target: ``--capture-ca-bundle FILE`` (certificates are verified by default, also against ``$SSL_CERT_FILE`` or
``$REQUESTS_CA_BUNDLE``), ``--capture-insecure`` and ``--capture-header 'Name: value'`` (repeatable); the protocol:
``--capture-protocol v0|v1`` and ``--capture-v1-variant NAME`` (:mod:`harness.contract.v1_protocol`).

Fixtures (all session-scoped): ``capture_target`` (:class:`~harness.contract.target.Target`),
``capture_client`` (:class:`~harness.contract.client.Client`), ``capture_send(case) -> Reply``,
``capture_check(case, checks=REPLY_CHECKS) -> Reply``, ``capture_cases``
(:class:`~harness.contract.cases.Cases`), ``capture_settings`` (the Hypothesis settings of the profile),
``capture_v1`` (:class:`~harness.contract.v1_cases.V1Cases`, v1 requests and the judge's verdict on them)
and ``capture_inspection`` (:class:`~harness.contract.delivery.InspectionClient`, the target's ``/_harness/``
API: ``url``, ``client``, ``events(uuid)``, ``stats()``; skips a test when the target has none).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.contract import CATEGORIES, PROFILE_NAMES  # the package's two tables, loaded with this module anyway

if TYPE_CHECKING:
    from hypothesis import settings

    from harness.checks import Case, Check, Reply
    from harness.contract.cases import Cases
    from harness.contract.client import Client
    from harness.contract.delivery import InspectionClient
    from harness.contract.reporting import ContractSession
    from harness.contract.target import Target
    from harness.contract.v1_cases import V1Cases

_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_examples": 25, "derandomize": True, "database": None, "print_blob": False},
    "thorough": {"max_examples": 500},
}
"""Hypothesis settings of ``--capture-profile`` (beside :func:`_hypothesis_settings`' common ones).  Each
example is a network round trip, so no deadline; ``quick`` is derandomized (the same examples every run,
nothing written to disk), ``thorough`` explores and keeps its example database for replaying what it found."""
assert tuple(_PROFILES) == PROFILE_NAMES

PROBE = "/_harness/stats"
"""Answered by the reference server's inspection API; its presence enables the delivery tests."""

BREAKER_AFTER = 5
"""The circuit breaker: after this many consecutive requests without an answer (timed out, refused, reset),
the target has stopped answering and the remaining tests are not run (each would wait --capture-timeout)."""

_NO_INSPECTION = pytest.StashKey[str]()
"""Why the target's ``/_harness/`` API cannot be used (none, or a token it wants), for the skips."""

_SESSION = "capture-harness-session"
"""The name the :class:`~harness.contract.reporting.ContractSession` is registered under."""


def pytest_addoption(parser: pytest.Parser) -> None:
    from harness.checks import Variant  # the engine without its validators: the standard library and orjson
    from harness.spec.body import DEFAULT_TOKEN

    group = parser.getgroup("capture-harness", "capture-harness contract suite (pytest --pyargs harness.contract)")
    group.addoption("--capture-url", metavar="URL",
                    help="base URL of the capture endpoint under test (default: start the reference endpoint "
                         "on a free port for the session)")
    group.addoption("--capture-api-key", metavar="KEY", default=DEFAULT_TOKEN,
                    help="project API key to put in the payloads (default: a placeholder phc_ token); never "
                         "printed in full")
    group.addoption("--capture-variant", choices=[v.value for v in Variant], default=Variant.MAIN.value,
                    help="which revision's answers count as conformant: main (401 token errors, plain-text "
                         "errors; default) or error-body (403 malformed tokens, JSON error bodies)")
    group.addoption("--capture-profile", choices=PROFILE_NAMES, default="quick",
                    help="Hypothesis profile of the property tests: quick (default) or thorough")
    group.addoption("--capture-allow-production", action="store_true",
                    help="allow PostHog Cloud hosts (*.posthog.com) as the target")
    group.addoption("--capture-timeout", metavar="SECONDS", type=float, default=30.0,
                    help="seconds to wait for each answer (default 30)")
    group.addoption("--capture-ca-bundle", metavar="FILE",
                    help="PEM file of the CAs to trust for an https:// target (default: $SSL_CERT_FILE, "
                         "$REQUESTS_CA_BUNDLE, else the system's)")
    group.addoption("--capture-insecure", action="store_true", help="do not verify TLS certificates (warns)")
    group.addoption("--capture-header", metavar="'NAME: VALUE'", action="append", default=[],
                    help="extra header sent with every request (repeatable), e.g. 'X-Gateway-Key: s3cret'")
    group.addoption("--capture-protocol", choices=("v0", "v1"), default=os.environ.get("CAPTURE_HARNESS_PROTOCOL") or "v0",
                    help="which capture protocol the suite judges: v0 (/i/v0/e/, /batch/, ...; default, or "
                         "$CAPTURE_HARNESS_PROTOCOL) or v1 (POST /i/v1/analytics/events); the other's tests are "
                         "deselected")
    group.addoption("--capture-v1-variant", metavar="NAME", action="append", default=[],
                    help="with --capture-protocol v1: judge by an older revision's answer NAME (capture-v1.md §8; "
                         "repeatable; the names of `capture-harness serve --v1-variant`)")
    group.addoption("--capture-inspect-token", metavar="TOKEN",
                    default=os.environ.get("CAPTURE_HARNESS_INSPECT_TOKEN") or None,
                    help="token of the target's /_harness/ inspection API, sent on inspection requests only "
                         "(default: $CAPTURE_HARNESS_INSPECT_TOKEN; the embedded endpoint gets a fresh one)")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in CATEGORIES.items():
        config.addinivalue_line("markers", f"{name}: capture contract suite: {description}")
    config.addinivalue_line("markers", "capture_protocol(name): a contract test run only under --capture-protocol name")
    _check_options(config)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the contract tests of the other protocol (:func:`harness.contract.v1_protocol.deselect`)."""
    if any(_is_contract_test(item) for item in items):  # a plain session imports nothing more
        from harness.contract import v1_protocol

        v1_protocol.deselect(config, items)


def _check_options(config: pytest.Config) -> None:
    """Refuse a production host, a variant the embedded endpoint does not speak, a timeout of zero."""
    from harness.checks import Variant
    from harness.safety import TargetError, check_url

    url = config.getoption("capture_url")
    if url is not None:
        try:
            check_url(url, allow_production=config.getoption("capture_allow_production"))
        except TargetError as error:
            raise pytest.UsageError(f"capture-harness: {error}") from None
    elif config.getoption("capture_variant") != Variant.MAIN.value:
        raise pytest.UsageError(
            "capture-harness: the embedded reference endpoint answers by the main rule; "
            f"--capture-variant {config.getoption('capture_variant')} needs --capture-url of an endpoint "
            "that implements that variant")
    if config.getoption("capture_timeout") <= 0:
        raise pytest.UsageError("capture-harness: --capture-timeout must be a positive number of seconds")
    if config.getoption("capture_v1_variant"):
        from harness.contract import v1_protocol

        v1_protocol.check(config)
    _transport(config)  # a malformed header or an unreadable bundle: a usage error now
    if config.getoption("capture_insecure"):
        import sys

        from harness.tls import INSECURE_WARNING

        print(f"capture-harness: {INSECURE_WARNING}", file=sys.stderr)


def _transport(config: pytest.Config) -> dict[str, Any]:
    """The ``context`` and ``headers`` every :class:`~harness.contract.client.Client` of the session uses."""
    from harness import tls

    bundle = config.getoption("capture_ca_bundle")
    try:
        headers = tls.parse_headers(config.getoption("capture_header"))
        context = tls.ssl_context(Path(bundle) if bundle else None, config.getoption("capture_insecure"))
    except ValueError as error:  # tls.BundleError too
        raise pytest.UsageError(f"capture-harness: {error}") from None
    return {"context": context, "headers": headers}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the contract session's reporting if the run holds contract tests (else it costs nothing)."""
    if any(_is_contract_test(item) for item in session.items):
        _contract_session(session.config)


def _is_contract_test(item: pytest.Item) -> bool:
    uses_target = "capture_target" in getattr(item, "fixturenames", ())  # every fixture that sends needs it
    return uses_target or any(marker.name in CATEGORIES for marker in item.iter_markers())


def _contract_session(config: pytest.Config) -> ContractSession:
    """The session's :class:`~harness.contract.reporting.ContractSession`, registered on first use."""
    from harness.contract import v1_protocol
    from harness.contract.reporting import ContractSession

    found = config.pluginmanager.get_plugin(_SESSION)
    if found is None:
        found = ContractSession()
        found.notes = v1_protocol.notes(config)
        config.pluginmanager.register(found, _SESSION)
    assert isinstance(found, ContractSession)
    return found


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def capture_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The endpoint under test; without ``--capture-url`` the reference endpoint, started for the session."""
    from harness.checks import Variant
    from harness.contract.target import Target
    from harness.safety import check_url

    config = request.config
    session = _contract_session(config)
    url = config.getoption("capture_url")
    stop: Callable[[], None] | None = None
    if url is None:
        url, stop, token = _start_embedded(tmp_path_factory.mktemp("capture-harness-endpoint"),
                                           config.getoption("capture_v1_variant"))
        config.option.capture_inspect_token = token  # what the session's inspection requests send
    else:
        url = check_url(url, allow_production=config.getoption("capture_allow_production"))
    try:
        target = Target(url=url, api_key=config.getoption("capture_api_key"),
                        variant=Variant(config.getoption("capture_variant")), run_id=session.run_id,
                        inspection=_has_inspection(url, config) is None,
                        embedded=config.getoption("capture_url") is None)
        session.target = target
        yield target
    finally:
        if stop is not None:
            stop()


def _has_inspection(url: str, config: pytest.Config) -> str | None:
    """None when ``url`` serves the ``/_harness/`` API, else why it cannot be used (kept for the skips); no answer
    at all, or a certificate that does not verify, ends the session as a usage error."""
    from harness.contract.client import Client, NoAnswerError, TLSError, inspection_refused

    probe = Client(url, config.getoption("capture_timeout"), **_transport(config))
    probe.inspect_headers = _inspect_headers(config)
    try:
        status, document = probe.get_json(PROBE)
    except TLSError as error:
        pytest.exit(f"capture-harness: {error} (pytest: --capture-ca-bundle FILE or --capture-insecure)",
                    returncode=pytest.ExitCode.USAGE_ERROR)
    except NoAnswerError as error:
        pytest.exit(f"capture-harness: cannot reach {url}: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
    finally:
        probe.close()
    refused = inspection_refused(status, document, bool(config.getoption("capture_inspect_token")),
                                 token_option="--capture-inspect-token (capture-harness: --inspect-token)")
    reason = f"{url}: {refused}" if refused else None
    if reason is None and not (status == 200 and isinstance(document, dict) and "requests" in document):
        reason = f"{url} has no /_harness/ inspection API (GET {PROBE} is not the reference server's)"
    if reason is not None:
        config.stash[_NO_INSPECTION] = reason
    return reason


@pytest.fixture(scope="session")
def capture_client(capture_target: Target, pytestconfig: pytest.Config) -> Iterator[Client]:
    """One keep-alive connection to the target, shared by the session's tests."""
    from harness.contract.client import Client

    client = Client(capture_target.url, pytestconfig.getoption("capture_timeout"), **_transport(pytestconfig))
    client.inspect_headers = _inspect_headers(pytestconfig)
    yield client
    client.close()


@pytest.fixture(scope="session")
def capture_bodies_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the curl commands of findings find binary bodies (created on the first one)."""
    return tmp_path_factory.getbasetemp() / "capture-harness-bodies"


@pytest.fixture(scope="session")
def capture_send(capture_client: Client, capture_target: Target, capture_bodies_dir: Path,
                 request: pytest.FixtureRequest) -> Callable[[Case], Reply]:
    """``capture_send(case) -> Reply``: send one case; no answer at all is the finding "no answer", an answer
    too long to read "answer too large".  After :data:`BREAKER_AFTER` consecutive requests without an answer the
    circuit breaker opens: that request's test fails with "the target stopped answering", nothing more is sent,
    and the session stops (the remaining tests are not run)."""
    from harness.checks import Failure, Title
    from harness.contract import findings
    from harness.contract.client import AnswerTooLargeError, NoAnswerError

    unanswered: list[str] = []  # the consecutive requests without an answer, the last one's error

    def send(case: Case) -> Reply:
        if len(unanswered) >= BREAKER_AFTER:
            raise Failure(Title.TARGET_STOPPED, _stopped(unanswered))
        try:
            reply = capture_client.send(case.request)
        except AnswerTooLargeError as error:
            unanswered.clear()
            raise findings.attach(Failure(error.title, f"{case.name}: {error}"), case, capture_target,
                                  capture_bodies_dir) from None
        except NoAnswerError as error:
            unanswered.append(str(error))
            failure = Failure(error.title, f"{case.name}: {error}")
            if len(unanswered) >= BREAKER_AFTER:
                request.session.shouldfail = f"capture-harness: {_stopped(unanswered)}"
                failure = Failure(Title.TARGET_STOPPED, f"{case.name}: {_stopped(unanswered)}")
            raise findings.attach(failure, case, capture_target, capture_bodies_dir) from None
        unanswered.clear()
        return reply
    return send


def _stopped(unanswered: list[str]) -> str:
    return (f"the target stopped answering: {len(unanswered)} consecutive requests got no answer (the last: "
            f"{unanswered[-1]}); remaining tests not run")


@pytest.fixture(scope="session")
def capture_check(capture_send: Callable[[Case], Reply], capture_target: Target,
                  capture_bodies_dir: Path) -> Callable[..., Reply]:
    """``capture_check(case, checks=REPLY_CHECKS) -> Reply``: send ``case`` and run ``checks`` in order;
    the first failure is raised with the curl command that reproduces it."""
    from harness.checks import REPLY_CHECKS, first_failure
    from harness.contract import findings

    def check(case: Case, checks: tuple[Check, ...] = REPLY_CHECKS) -> Reply:
        reply = capture_send(case)
        failure = first_failure(case, reply, checks)
        if failure is not None:
            raise findings.attach(failure, case, capture_target, capture_bodies_dir)
        return reply
    return check


@pytest.fixture(scope="session")
def capture_cases(capture_target: Target) -> Cases:
    """Builds tagged valid and rule-breaking bodies and their cases for the target."""
    from harness.contract.cases import Cases

    return Cases(capture_target)


@pytest.fixture(scope="session")
def capture_v1(capture_target: Target, pytestconfig: pytest.Config) -> V1Cases:
    """Builds tagged v1 requests and their cases, judged by the selected ``--capture-v1-variant`` names."""
    from harness.contract.v1_cases import V1Cases

    return V1Cases(capture_target, frozenset(pytestconfig.getoption("capture_v1_variant")))


@pytest.fixture(scope="session")
def capture_settings(pytestconfig: pytest.Config) -> settings:
    """The Hypothesis settings of ``--capture-profile``, to decorate a property test's inner function."""
    return _hypothesis_settings(pytestconfig.getoption("capture_profile"))


def _hypothesis_settings(profile: str) -> settings:
    from hypothesis import HealthCheck, Phase, settings

    slow_draws = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    no_explain = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
    return settings(deadline=None, report_multiple_bugs=False, suppress_health_check=slow_draws, phases=no_explain,
                    **_PROFILES[profile])


@pytest.fixture
def capture_inspection(capture_target: Target, capture_client: Client,
                       pytestconfig: pytest.Config) -> InspectionClient:
    """The target's ``/_harness/`` inspection API (:class:`~harness.contract.delivery.InspectionClient`: its
    ``url``, the ``client``, ``events(uuid)``, ``stats()``); skips the test when the target has none."""
    from harness.contract.delivery import InspectionClient

    if not capture_target.inspection:
        reason = pytestconfig.stash.get(_NO_INSPECTION, f"{capture_target.url} has no /_harness/ inspection API")
        pytest.skip(f"{reason}: delivery cannot be checked")
    return InspectionClient(f"{capture_target.url}/_harness", capture_client)


def _inspect_headers(config: pytest.Config) -> dict[str, str]:
    from harness.server.process import inspect_headers

    return inspect_headers(config.getoption("capture_inspect_token"))


def _start_embedded(folder: Path, v1_variants: list[str]) -> tuple[str, Callable[[], None], str]:
    """The embedded endpoint's URL, how to stop it, and the inspection token it requires; it answers v1 by the
    selected ``v1_variants`` (the reference endpoint has them all)."""
    from harness.server import (  # uvicorn and the store only when the embedded endpoint runs
        CaptureApp,
        Store,
    )
    from harness.server.process import new_token
    from harness.server.runner import start

    store = Store(folder / "events.sqlite3")
    token = new_token()
    server = start(CaptureApp(store, inspect_token=token, v1_variants=v1_variants))

    def stop() -> None:
        server.stop()
        store.close()
    return server.url, stop, token
