"""``capture-harness``: the command line.  Each subcommand is a thin layer over a library module.

One module per command, ``harness/cli/_<command>.py``, with its ``DESCRIPTION``, ``add_arguments(parser)``
and ``run(args)``. A command's module is imported only when that command is parsed or asked for its help,
so ``capture-harness --help`` loads none of their libraries (Hypothesis, jsonschema, pytest, uvicorn).

Exit codes, for CI (``harness.cli._options``): 0 success; 1 the checked thing failed (a rejected document, a
broken threshold, a contract finding); 2 usage or input errors (bad options, a missing file, malformed JSON,
a refused URL). ``contract`` maps pytest's usage error (4) to 2 and passes pytest's other codes on.

Every option of every command can also come from an environment variable ``CAPTURE_HARNESS_<OPTION>``
(:mod:`harness.cli._environment`); the command line wins.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from harness.cli import _environment
from harness.cli._options import EXIT_OK, EXIT_USAGE

EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command stopped by Ctrl-C (``load`` also exits 143 on SIGTERM)."""

_COMMANDS: dict[str, str] = {
    "generate": "write seeded, schema-valid (or labelled invalid) request bodies as JSON lines",
    "validate": "check request bodies against capture's contract",
    "serve": "run the reference capture endpoint (capture's v0 contract, events stored in SQLite)",
    "load": "run a bounded Locust load test, report latency and errors, and check delivery",
    "contract": "run the contract suite (pytest) against a capture endpoint and print a summary per category",
    "rules": "list the contract rules: name, status capture answers, contract section",
    "cache": "show or clear what load runs keep on disk (failed bodies, corpus folder), each capped in size",
}
"""Every command and its line in the top-level help."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except BrokenPipeError:  # e.g. piped into `head`: a closed pipe is a normal end
        _discard_stdout()
        return EXIT_OK
    except KeyboardInterrupt:  # Ctrl-C: the shell's status for SIGINT, without a traceback
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's flush at exit of what is still buffered for
    the closed pipe does not fail again (``Exception ignored ... BrokenPipeError`` and exit 120)."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):  # a stdout without a descriptor (captured in tests)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capture-harness",
        description="Contract tests, load tests, schemas and fixture generators for PostHog-style capture "
                    "endpoints.",
        epilog="Start with `capture-harness load` (a 20 s load test against the embedded reference endpoint) "
               "or `capture-harness contract --url URL`. Each command has --help. Exit codes: 0 all well, "
               "1 something checked failed (a rejected payload, a broken threshold, a contract finding), "
               "2 usage or input errors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_CommandParser)
    for name, summary in _COMMANDS.items():
        commands.add_parser(name, help=summary, module=f"harness.cli._{name}")
    return parser


def _version() -> str:
    """The installed distribution's version (``unknown`` when run from a tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("capture-harness")
    except PackageNotFoundError:
        return "unknown"


class _CommandParser(argparse.ArgumentParser):
    """A command's parser, declared by its module, imported then, the first time it parses or formats its usage
    or help: the top-level parser lists every command without importing any."""

    def __init__(self, *, module: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._module: str | None = module

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> tuple[Any, list[str]]:
        self._declare()
        parsed, extras = super().parse_known_args(args, namespace)
        _environment.resolve(self, parsed)  # CAPTURE_HARNESS_<OPTION> where the command line gave none
        return parsed, extras

    def format_usage(self) -> str:
        self._declare()
        return super().format_usage()

    def format_help(self) -> str:
        self._declare()
        return super().format_help()

    def _declare(self) -> None:
        if self._module is None:
            return
        command, self._module = importlib.import_module(self._module), None
        self.description = command.DESCRIPTION
        command.add_arguments(self)
        _environment.install(self)
        self.set_defaults(run=command.run)
