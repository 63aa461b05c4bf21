"""``capture-harness validate``: read documents (:mod:`harness.cli.inputs`), judge them with
:mod:`harness.spec.corpus_check`, print what it reports."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from harness.cli import inputs
from harness.cli._options import EXIT_FAILED, EXIT_OK, EXIT_USAGE, positive_int
from harness.spec.corpus_check import CorpusCheck, Document, Totals
from harness.spec.v1 import corpus as v1
from harness.spec.v1.validation import PROFILES, VARIANTS
from harness.spec.validation import KINDS

DESCRIPTION = (
    "Check JSON or JSONL request bodies as PostHog capture would. For each rejected body it prints file:line, "
    "the JSON path, the rule, what is wrong and the status capture would answer; accepted bodies that "
    "ingestion will not act on get warnings. Lines written by `generate --invalid` are checked against their "
    "label instead: each body must be rejected with exactly its rule and status. Exit 0 when nothing is "
    "rejected (or every labelled body is rejected as labelled), 1 otherwise, 2 for usage and input errors. "
    "v1 requests (POST /i/v1/analytics/events: a document {\"headers\": {...}, \"body\": ...}, a bare "
    "{created_at, batch} body, or a body file with --header options) get capture-v1.md's verdict: the status "
    "and error tag of the first failing header or body check, or each event's result (a dropped event "
    "counts as rejected)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="JSON or JSONL file, or - for stdin")
    parser.add_argument("--kind", choices=(*KINDS, "recording"),
                        help="schema kind to judge every document against (default: detected per document): "
                             "the body kinds of `generate --kind` but mixed, plus event (one event of a request, "
                             "which need not carry the token), response (a body capture answers with) and "
                             "recording (a session recordings body for /s/, docs/recordings-contract.md; detected "
                             "when every event is a $snapshot). The "
                             "bodies of labelled `generate --invalid` lines are always judged by their detected "
                             "kind")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--max-document-size", type=positive_int, default=inputs.MAX_DOCUMENT_SIZE, metavar="BYTES",
                        help="largest document, or line of a JSON lines file, that is read (default "
                             f"{inputs.MAX_DOCUMENT_SIZE:,}: 32 MiB, capture's 20 MiB wire cap plus headroom, so "
                             "a body over the cap is still judged); a larger one is an input error, and the "
                             "other documents are still judged")
    parser.add_argument("--protocol", choices=("v0", "v1"),
                        help="judge every document as this protocol (default: v1 when a document looks like a v1 "
                             "request, body or response, else v0)")
    parser.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="v1: the request's headers (repeatable); each PATH is then a raw body file, decoded by "
                             "its Content-Encoding (gzip, deflate, br, zstd), and judged with these headers")
    parser.add_argument("--profile", choices=PROFILES, default="server",
                        help="v1: server judges what capture accepts; sdk also warns about what an SDK should not "
                             "emit (non-UTC timestamps, no options, $lib, top-level $set, body api_key, ...)")
    parser.add_argument("--variant", action="append", default=[], choices=VARIANTS,
                        help="v1: decide as an older capture revision where they differ (capture-v1.md §8; "
                             "repeatable): " + ", ".join(VARIANTS))


def run(args: argparse.Namespace) -> int:
    headers = _headers(args.header)
    if headers is None:
        return EXIT_USAGE
    if args.protocol == "v0" and (args.header or args.variant or args.profile != "server"):
        print("capture-harness validate: --header, --variant and --profile are v1 options", file=sys.stderr)
        return EXIT_USAGE
    check = CorpusCheck(args.kind, args.protocol, v1.Options(args.profile, frozenset(args.variant)))
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8") as spool:
        for path in args.paths:
            items = _raw_bodies(path, headers, check, args.max_document_size) if args.header else \
                inputs.read(path, args.max_document_size)
            for item in items:
                if isinstance(item, inputs.InputError):
                    check.input_error()
                    print(f"error: {item}", file=sys.stderr)
                    continue
                found = item.found if isinstance(item, _Judged) else check.check(item)
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


def _headers(options: list[str]) -> dict[str, str] | None:
    """``--header 'Name: value'`` options as a dict; None (after saying why) when one has no colon."""
    headers: dict[str, str] = {}
    for option in options:
        name, colon, value = option.partition(":")
        if not colon or not name.strip():
            print(f"capture-harness validate: --header {option!r} is not 'Name: value'", file=sys.stderr)
            return None
        headers[name.strip()] = value.strip()
    return headers


def _raw_bodies(path: str, headers: dict[str, str], check: CorpusCheck,
                max_size: int) -> Iterator[Any]:
    """One v1 verdict per body file (``-`` is stdin), already judged: ``check.check`` is then skipped."""
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(max_size + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(max_size + 1)
    except OSError as error:
        yield inputs.InputError(f"{source}: cannot read: {error.strerror or error}")
        return
    if len(raw) > max_size:
        yield inputs.InputError(f"{source}: over --max-document-size ({max_size:,} bytes)")
        return
    try:
        report = v1.judge_raw(headers, raw, check.v1_options)
    except ValueError as error:
        yield inputs.InputError(f"{source}: {error}")
        return
    yield _Judged(check.check_v1(Document(source, 1, raw), report))


class _Judged:
    """A verdict made outside :meth:`CorpusCheck.check` (a raw body file), passed through unchanged."""

    def __init__(self, found: Any) -> None:
        self.found = found


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
