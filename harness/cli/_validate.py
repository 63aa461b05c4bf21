"""``capture-harness validate``: read documents (:mod:`harness.cli.inputs`), judge them with
:mod:`harness.spec.corpus_check`, print what it reports."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.cli import inputs
from harness.cli._options import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from harness.spec.corpus_check import CorpusCheck
from harness.spec.validation import KINDS

DESCRIPTION = (
    "Check JSON or JSONL request bodies as PostHog capture would. For each rejected body it prints file:line, "
    "the JSON path, the rule, what is wrong and the status capture would answer; accepted bodies that "
    "ingestion will not act on get warnings. Lines written by `generate --invalid` are checked against their "
    "label instead: each body must be rejected with exactly its rule and status. Exit 0 when nothing is "
    "rejected (or every labelled body is rejected as labelled), 1 otherwise, 2 for usage and input errors."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="JSON or JSONL file, or - for stdin")
    parser.add_argument("--kind", choices=KINDS,
                        help="schema kind to judge every document against (default: detected per document): "
                             "the body kinds of `generate --kind` but mixed, plus event (one event of a request, "
                             "which need not carry the token) and response (a body capture answers with). The "
                             "bodies of labelled `generate --invalid` lines are always judged by their detected "
                             "kind")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    check = CorpusCheck(args.kind)
    results: list[dict[str, Any]] = []
    for path in args.paths:
        for item in inputs.read(path):
            if isinstance(item, inputs.InputError):
                check.input_error()
                print(f"error: {item}", file=sys.stderr)
                continue
            found = check.check(item)
            if found is None:
                continue
            if args.format == "json":
                results.append(found.as_json())
            else:
                for line in found.text():
                    print(line)
    totals = check.totals
    if args.format == "json":
        json.dump(totals.as_json(results), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(totals.summary())
    if totals.input_errors:
        return EXIT_USAGE
    return EXIT_FAILED if totals.failed else EXIT_OK
