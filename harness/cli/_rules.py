"""``capture-harness rules``: the rules catalogue (:mod:`harness.spec.rules`) as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from harness.cli._options import EXIT_OK
from harness.spec.rules import RULES

DESCRIPTION = "List every rule the validator and the generators know, in capture's processing order."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    ordered = sorted(RULES, key=lambda r: (r.stage is None, r.stage or 0))
    if args.format == "json":
        json.dump([{"name": r.name, "verdict": r.verdict.value, "stage": r.stage.name.lower() if r.stage else None,
                    "status": r.status, "section": r.section, "summary": r.summary} for r in ordered],
                  sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for r in ordered:
        answer = str(r.status) if r.status else ("200 (warning)" if r.stage is None else "-")
        print(f"{r.name:<40} {answer:<14} {r.section:<22} {r.summary}")
    return EXIT_OK
