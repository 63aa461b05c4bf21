"""The ``capture_harness`` pytest plugin: options, fixtures and reporting for the contract suite.

Registered as a ``pytest11`` entry point, so installing the package makes it available to every pytest
run; it costs nothing until a test asks for one of its fixtures (the embedded endpoint starts then).
Run the suite with ``pytest --pyargs harness.contract [--capture-url URL]``; write your own contract
tests with the same fixtures::

    def test_my_rule(capture_cases, capture_check):
        body = capture_cases.valid("batch", "my rule")
        capture_check(capture_cases.case("my batch", body, path="/batch/"))

Options (group "capture-harness"): ``--capture-url`` (default: start the reference endpoint on a free
port for the session, with a temporary SQLite store), ``--capture-api-key``, ``--capture-variant``,
``--capture-profile``, ``--capture-allow-production``, ``--capture-timeout``.

Fixtures (all session-scoped): ``capture_target`` (:class:`~harness.contract.target.Target`),
``capture_client`` (:class:`~harness.contract.client.Client`), ``capture_send(case) -> Reply``,
``capture_check(case, checks=REPLY_CHECKS) -> Reply``, ``capture_cases``
(:class:`~harness.contract.cases.Cases`), ``capture_settings`` (the Hypothesis settings of the profile)
and ``capture_inspection`` (skips a test when the target has no ``/_harness/`` API).

A failing check becomes a short report: the stable title, the detail and a ``curl`` command; the end of
the session prints passed/failed per category.  This module never imports Locust.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from harness.checks import (
    REPLY_CHECKS,
    Case,
    Check,
    Failure,
    Reply,
    Variant,
    first_failure,
)
from harness.contract import CATEGORIES, PROFILE_NAMES, findings
from harness.contract.cases import Cases
from harness.contract.client import Client, NoAnswerError
from harness.contract.tagging import DISTINCT_ID_PREFIX, RUN_PROPERTY, new_run_id
from harness.contract.target import Target
from harness.safety import TargetError, check_url
from harness.spec.body import DEFAULT_TOKEN

_SLOW_DRAWS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

PROFILES: dict[str, settings] = {
    "quick": settings(max_examples=25, deadline=None, derandomize=True, database=None, print_blob=False,
                      report_multiple_bugs=False, suppress_health_check=_SLOW_DRAWS, phases=_NO_EXPLAIN),
    "thorough": settings(max_examples=500, deadline=None, report_multiple_bugs=False,
                         suppress_health_check=_SLOW_DRAWS, phases=_NO_EXPLAIN),
}
"""Hypothesis settings of ``--capture-profile``.  Each example is a network round trip, so no deadline;
``quick`` is derandomized (the same examples every run, nothing written to disk), ``thorough`` explores
and keeps its example database for replaying what it found.  Registered as ``capture-harness-<name>``."""
assert tuple(PROFILES) == PROFILE_NAMES

PROBE = "/_harness/stats"
"""Answered by the reference server's inspection API; its presence enables the delivery tests."""


def pytest_addoption(parser: pytest.Parser) -> None:
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
    group.addoption("--capture-profile", choices=tuple(PROFILES), default="quick",
                    help="Hypothesis profile of the property tests: quick (default) or thorough")
    group.addoption("--capture-allow-production", action="store_true",
                    help="allow PostHog Cloud hosts (*.posthog.com) as the target")
    group.addoption("--capture-timeout", metavar="SECONDS", type=float, default=30.0,
                    help="seconds to wait for each answer (default 30)")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in CATEGORIES.items():
        config.addinivalue_line("markers", f"{name}: capture contract suite: {description}")
    for name, profile in PROFILES.items():
        settings.register_profile(f"capture-harness-{name}", profile)
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
    config.pluginmanager.register(ContractSession(), "capture-harness-session")


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def capture_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The endpoint under test; without ``--capture-url`` the reference endpoint, started for the session."""
    config = request.config
    session = _session(config)
    url = config.getoption("capture_url")
    stop: Callable[[], None] | None = None
    if url is None:
        url, stop = _start_embedded(tmp_path_factory.mktemp("capture-harness-endpoint"))
    else:
        url = check_url(url, allow_production=config.getoption("capture_allow_production"))
    try:
        probe = Client(url, config.getoption("capture_timeout"))
        try:
            status, document = probe.get_json(PROBE)
        except NoAnswerError as error:
            pytest.exit(f"capture-harness: cannot reach {url}: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
        finally:
            probe.close()
        target = Target(url=url, api_key=config.getoption("capture_api_key"),
                        variant=Variant(config.getoption("capture_variant")), run_id=session.run_id,
                        inspection=status == 200 and isinstance(document, dict) and "requests" in document,
                        embedded=config.getoption("capture_url") is None)
        session.target = target
        yield target
    finally:
        if stop is not None:
            stop()


@pytest.fixture(scope="session")
def capture_client(capture_target: Target, pytestconfig: pytest.Config) -> Iterator[Client]:
    """One keep-alive connection to the target, shared by the session's tests."""
    client = Client(capture_target.url, pytestconfig.getoption("capture_timeout"))
    yield client
    client.close()


@pytest.fixture(scope="session")
def capture_bodies_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the curl commands of findings find binary bodies (created on the first one)."""
    return tmp_path_factory.getbasetemp() / "capture-harness-bodies"


@pytest.fixture(scope="session")
def capture_send(capture_client: Client, capture_target: Target, capture_bodies_dir: Path) -> Callable[[Case], Reply]:
    """``capture_send(case) -> Reply``: send one case; no answer at all is the finding "no answer"."""
    def send(case: Case) -> Reply:
        try:
            return capture_client.send(case.request)
        except NoAnswerError as error:
            raise findings.attach(Failure("no answer", f"{case.name}: {error}"), case, capture_target,
                                  capture_bodies_dir) from None
    return send


@pytest.fixture(scope="session")
def capture_check(capture_send: Callable[[Case], Reply], capture_target: Target,
                  capture_bodies_dir: Path) -> Callable[..., Reply]:
    """``capture_check(case, checks=REPLY_CHECKS) -> Reply``: send ``case`` and run ``checks`` in order;
    the first failure is raised with the curl command that reproduces it."""
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
    return Cases(capture_target)


@pytest.fixture(scope="session")
def capture_settings(pytestconfig: pytest.Config) -> settings:
    """The Hypothesis settings of ``--capture-profile``, to decorate a property test's inner function."""
    return settings.get_profile(f"capture-harness-{pytestconfig.getoption('capture_profile')}")


@pytest.fixture
def capture_inspection(capture_target: Target) -> None:
    """Skips the test unless the target serves the ``/_harness/`` inspection API."""
    if not capture_target.inspection:
        pytest.skip(f"{capture_target.url} has no /_harness/ inspection API (GET {PROBE} is not the reference "
                    "server's): delivery cannot be checked")


def _start_embedded(folder: Path) -> tuple[str, Callable[[], None]]:
    from harness.server import (  # uvicorn and the store only when the embedded endpoint runs
        CaptureApp,
        Store,
    )
    from harness.server.runner import start

    store = Store(folder / "events.sqlite3")
    server = start(CaptureApp(store))

    def stop() -> None:
        server.stop()
        store.close()
    return server.url, stop


# --- reporting ------------------------------------------------------------------------------------------

def _session(config: pytest.Config) -> ContractSession:
    found = config.pluginmanager.get_plugin("capture-harness-session")
    assert isinstance(found, ContractSession), "the capture_harness plugin was not configured"
    return found


class ContractSession:
    """Per-session state and the reporting hooks: the run id, the target, outcomes per category."""

    def __init__(self) -> None:
        self.run_id = new_run_id()
        self.target: Target | None = None
        self.outcomes: dict[str, Counter[str]] = {}
        self.titles: dict[str, Counter[str]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        category = next((m.name for m in item.iter_markers() if m.name in CATEGORIES), None)
        if category is not None and call.when == "setup":
            item.user_properties.append(("capture_category", category))  # junitxml writes it as a property
        failure = _failure_in(call.excinfo.value) if call.excinfo is not None else None
        if report.failed and failure is not None:
            report.longrepr = findings.longrepr(failure, report.location, category, self.target)
            item.user_properties.append(("capture_finding", failure.title))
        elif report.failed and self.target is not None and self.target.secret_key \
                and self.target.api_key in str(report.longrepr):
            report.longrepr = findings.mask(str(report.longrepr), self.target)  # never print the user's key
        if category is not None:
            self._count(category, report, failure)
        return report

    def _count(self, category: str, report: pytest.TestReport, failure: Failure | None) -> None:
        if report.when == "call":
            outcome = report.outcome
        elif report.when == "setup" and not report.passed:
            outcome = "skipped" if report.skipped else "error"
        elif report.when == "teardown" and report.failed:
            outcome = "error"
        else:
            return
        self.outcomes.setdefault(category, Counter())[outcome] += 1
        if report.failed:
            title = failure.title if failure else "unexpected exception (see its report)"
            self.titles.setdefault(category, Counter())[title] += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "capture-harness contract summary")
        if self.target is not None:
            write(f"target: {self.target.describe()}")
        write(f"run id: {self.run_id} (every event: properties.{RUN_PROPERTY} = run id, "
              f"distinct_id prefixed {DISTINCT_ID_PREFIX!r})")
        write(f"{'category':<12} {'passed':>7} {'failed':>7} {'skipped':>8} {'errors':>7}")
        for category in CATEGORIES:
            counts = self.outcomes.get(category)
            if not counts:
                continue
            write(f"{category:<12} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8} "
                  f"{counts['error']:>7}", red=bool(counts["failed"] or counts["error"]),
                  green=not (counts["failed"] or counts["error"]))
            for title, count in self.titles.get(category, Counter()).most_common():
                write(f"    {count:>4} x {title}")


def _failure_in(error: BaseException) -> Failure | None:
    """The contract failure that failed a test: raised directly, or inside an exception group."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _failure_in(inner)
            if found is not None:
                return found
    return None

