"""``capture-harness validate``: read documents (:mod:`harness.cli.inputs`), judge them with
:mod:`harness.spec.corpus_check`, print what it reports."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from typing import IO, Any

from harness.cli import inputs
from harness.cli._options import EXIT_FAILED, EXIT_OK, EXIT_USAGE, positive_int
from harness.spec.corpus_check import CorpusCheck, Totals
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
    parser.add_argument("--max-document-size", type=positive_int, default=inputs.MAX_DOCUMENT_SIZE, metavar="BYTES",
                        help="largest document, or line of a JSON lines file, that is read (default "
                             f"{inputs.MAX_DOCUMENT_SIZE:,}: 32 MiB, capture's 20 MiB wire cap plus headroom, so "
                             "a body over the cap is still judged); a larger one is an input error, and the "
                             "other documents are still judged")


def run(args: argparse.Namespace) -> int:
    check = CorpusCheck(args.kind)
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8") as spool:
        for path in args.paths:
            for item in inputs.read(path, args.max_document_size):
                if isinstance(item, inputs.InputError):
                    check.input_error()
                    print(f"error: {item}", file=sys.stderr)
                    continue
                found = check.check(item)
                if found is None:
                    continue
                if args.format == "json":
                    _spool_result(spool, found.as_json())
                else:
                    for line in found.text():
                        print(line)
        totals = check.totals
        if args.format == "json":
            _write_json(totals, spool)
        else:
            print(totals.summary())
    if totals.input_errors:
        return EXIT_USAGE
    return EXIT_FAILED if totals.failed else EXIT_OK


def _spool_result(spool: IO[str], result: dict[str, Any]) -> None:
    """One result as ``json.dump(..., indent=2)`` renders an item of the report's ``results`` list."""
    if spool.tell():
        spool.write(",\n")
    spool.write("    " + json.dumps(result, ensure_ascii=False, indent=2).replace("\n", "\n    "))


def _write_json(totals: Totals, spool: IO[str]) -> None:
    """The report, byte for byte ``json.dump(totals.as_json(results), indent=2)``, its results copied from the
    spool (on disk past 1 MiB) rather than held in memory."""
    if not spool.tell():
        json.dump(totals.as_json([]), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    report = json.dumps(totals.as_json([{}]), ensure_ascii=False, indent=2)
    sys.stdout.write(report[:report.rindex("[") + 1] + "\n")
    spool.seek(0)
    shutil.copyfileobj(spool, sys.stdout)
    sys.stdout.write("\n  ]\n}\n")
