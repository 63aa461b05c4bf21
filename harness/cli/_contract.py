"""``capture-harness contract``: the contract suite (:mod:`harness.contract`) through ``pytest.main``, its
options passed on as the plugin's ``--capture-*`` options."""

from __future__ import annotations

import argparse
import os
import sys

from harness.checks import Variant
from harness.cli._options import EXIT_USAGE, add_target_options, add_transport_options
from harness.contract import PROFILE_NAMES
from harness.safety import TargetError, check_url

DESCRIPTION = (
    "Run the contract suite, `pytest --pyargs harness.contract`, against --url, or against the reference "
    "endpoint started for the run. Every check names the rule, the expected and actual answer and a curl "
    "command that reproduces it; a summary per category (acceptance, rejection, edge_cases, properties, "
    "responses, limits, delivery) ends the run. --protocol v1 judges capture v1 (POST /i/v1/analytics/events) in "
    "the same categories. Arguments after -- go to pytest, e.g. -- -m rejection -x "
    "--junitxml=contract.xml. Exit status, as every capture-harness command: 0 all checks passed, 1 a check "
    "failed, 2 usage errors (a refused URL, for which nothing is sent, an unreachable URL, a TLS certificate "
    "that does not verify, bad pytest arguments); otherwise pytest's own: 3 an internal error, 5 no test selected."
)

_OWN_PACKAGE_NOT_REWRITTEN = ("ignore:Module already imported so cannot be rewritten; harness"
                              ":pytest.PytestAssertRewriteWarning")
"""A warning filter (its message a literal prefix). Installed from a wheel, the plugin's distribution has
pytest mark ``harness`` for assert rewriting, and this command, part of ``harness``, ran first: that one warning
is expected. Any other module imported too early (Hypothesis, were this command to import it) still shows."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    add_transport_options(parser)
    parser.add_argument("--protocol", choices=("v0", "v1"), default="v0",
                        help="which capture protocol to judge: v0 (default) or v1, POST /i/v1/analytics/events "
                             "(the other protocol's tests are deselected)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="capture revision whose answers count as conformant: with v0 one of "
                             f"{', '.join(v.value for v in Variant)} (default main); with --protocol v1 an older "
                             "revision's answer (capture-v1.md §8, the names of `serve --v1-variant`), repeatable")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default=PROFILE_NAMES[0],
                        help="Hypothesis profile for the property tests (default quick)")
    parser.add_argument("--coverage", action="store_true",
                        help="print which contract test fails when an endpoint breaks each rule (the rules "
                             "catalogue and capture-contract.md §12), or why a rule cannot be tested from "
                             "outside, and exit 0 without running the suite")
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="extra arguments for pytest")


def run(args: argparse.Namespace) -> int:
    import pytest  # only this command needs pytest

    if args.coverage:
        from harness.contract import coverage, v1_coverage

        print("\n".join(v1_coverage.lines() if args.protocol == "v1" else coverage.lines()))
        return 0
    variant_args = _variant_args(args.protocol, args.variant)
    if variant_args is None:
        return EXIT_USAGE
    if args.url is not None:
        try:
            check_url(args.url, allow_production=args.allow_production)
        except TargetError as error:  # refused before anything is sent
            print(f"capture-harness contract: {error}", file=sys.stderr)
            return EXIT_USAGE
    argv = ["--pyargs", "harness.contract", "-p", "no:cacheprovider", "-W", _OWN_PACKAGE_NOT_REWRITTEN,
            f"--capture-api-key={args.api_key}", f"--capture-protocol={args.protocol}", *variant_args,
            f"--capture-profile={args.profile}"]
    if args.url is not None:
        argv.append(f"--capture-url={args.url}")
    if args.allow_production:
        argv.append("--capture-allow-production")
    if args.ca_bundle is not None:
        argv.append(f"--capture-ca-bundle={args.ca_bundle}")
    if args.insecure:
        argv.append("--capture-insecure")  # the plugin prints the warning
    argv += [f"--capture-header={header}" for header in args.header or ()]  # in-process: on no command line
    if args.inspect_token:
        argv.append(f"--capture-inspect-token={args.inspect_token}")
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):  # the pytest11 entry point is not loaded then
        argv += ["-p", "harness.contract.plugin"]
    code = int(pytest.main([*argv, *args.pytest_args]))
    return EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else code  # pytest's 4 is every command's 2


def _variant_args(protocol: str, names: list[str]) -> list[str] | None:
    """The plugin's variant options for ``--variant NAME...``: v0's one ``--capture-variant``, v1's
    ``--capture-v1-variant`` each; None (after saying why) for a name the protocol does not know."""
    if protocol == "v1":
        from harness.server.v1_capture import variants

        try:
            variants(names)
        except ValueError as error:
            print(f"capture-harness contract: --variant: {error}", file=sys.stderr)
            return None
        return [f"--capture-v1-variant={name}" for name in names]
    known = [v.value for v in Variant]
    if len(names) > 1 or not set(names) <= set(known):
        print(f"capture-harness contract: --variant takes one of {', '.join(known)} with protocol v0, got "
              f"{' '.join(names)}", file=sys.stderr)
        return None
    return [f"--capture-variant={names[0] if names else Variant.MAIN.value}"]
