"""``capture-harness cache``: what load runs keep on disk (:mod:`harness.load.housekeeping`), shown or cleared."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli._options import EXIT_OK
from harness.load import housekeeping
from harness.load.corpus import DEFAULT_CACHE_DIR, FAILED_BODIES_DIR

DESCRIPTION = ("Show what load runs keep on disk (the failed requests' bodies the curl commands read back, and "
               "the corpus folder), each with its size cap (the oldest files are evicted beyond it), or clear it.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clear", action="store_true", help="remove everything shown")
    parser.add_argument("--corpus-dir", type=Path, default=DEFAULT_CACHE_DIR,
                        help=f"the corpus folder (default {DEFAULT_CACHE_DIR})")
    parser.add_argument("--bodies-dir", type=Path, default=FAILED_BODIES_DIR,
                        help=f"the failed bodies' folder (default {FAILED_BODIES_DIR})")


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def run(args: argparse.Namespace) -> int:
    folders = ((args.corpus_dir, housekeeping.CORPUS_CAP), (args.bodies_dir, housekeeping.BODIES_CAP))
    for folder, cap in folders:
        if args.clear:
            print(f"{folder}: removed {housekeeping.clear(folder):,} files")
            continue
        usage = housekeeping.usage(folder, cap)
        print(f"{folder}: {usage.files:,} files, {_megabytes(usage.bytes)} (cap {_megabytes(cap)}, oldest evicted "
              "first)")
    return EXIT_OK
