"""``capture-harness rules``: the rules catalogue (:mod:`harness.spec.rules`) as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from harness.cli._options import EXIT_OK
from harness.spec.rules import ALL_RULES, Rule

DESCRIPTION = ("List every rule the validator and the generators know, in capture's processing order: v0's "
               "(capture-contract.md), then v1's (capture-v1.md), each v1 rule with its error or details tag and "
               "the older revisions' answers (variants, selectable with `validate --variant`).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--protocol", choices=("v0", "v1"), help="only this protocol's rules (default: both)")


def run(args: argparse.Namespace) -> int:
    chosen = [r for r in ALL_RULES if args.protocol in (None, r.protocol)]
    ordered = sorted(chosen, key=lambda r: (r.protocol, r.stage is None, r.stage or 0))
    if args.format == "json":
        json.dump([_as_json(r) for r in ordered], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for r in ordered:
        print(f"{r.name:<40} {_answer(r):<14} {r.section:<22} {r.summary}")
        for v in r.variants:
            answer = f"{v.status or ''} {v.result or ''} {v.tag}".split()
            print(f"{'  variant ' + v.name:<40} {' '.join(answer):<14} {v.section:<22} {v.summary}")
    return EXIT_OK


def _answer(r: Rule) -> str:
    if r.protocol == "v1" and r.tag:
        return f"{r.status} {r.result or ''} {r.tag}".replace("  ", " ")
    return str(r.status) if r.status else ("200 (warning)" if r.stage is None else "-")


def _as_json(r: Rule) -> dict[str, object]:
    data: dict[str, object] = {"name": r.name, "verdict": r.verdict.value,
                               "stage": r.stage.name.lower() if r.stage else None, "status": r.status,
                               "section": r.section, "summary": r.summary, "protocol": r.protocol}
    if r.protocol == "v1":
        data.update(tag=r.tag or None, result=r.result,
                    variants=[{"name": v.name, "status": v.status, "tag": v.tag, "result": v.result,
                               "section": v.section, "summary": v.summary} for v in r.variants])
    return data
