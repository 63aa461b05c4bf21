"""``capture-harness generate``: the seeded bulk writer (:mod:`harness.generate.seeded`) to a file or stdout."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tqdm import tqdm

from harness.cli._options import EXIT_OK, EXIT_USAGE, positive_int
from harness.generate import seeded
from harness.generate.traffic import BODY_KINDS
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN

DESCRIPTION = (
    "Write request bodies as JSON lines, one body per line, in the shapes the official SDKs send. The same "
    "--seed always gives byte-identical output. With --invalid each line is "
    '{"rule": NAME, "expect_status": STATUS, "body": ...}, cycling through every rule the generator can break. '
    'With --protocol v1 each line is a v1 request {"headers": {...}, "body": {...}} as posthog-python 7.91.1 or '
    'posthog-node 5.70.0 sends it to /i/v1/analytics/events (the body before compression), and --invalid lines '
    'are {"rule", "tag", "expect_status", "headers", "body"}.'
)

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=(*BODY_KINDS, "recording"), default="mixed",
                        help="body kind to write (default: mixed, a realistic blend of all kinds; recording: "
                             "posthog-js's $snapshot arrays for /s/, not part of mixed); "
                             "`validate --kind` takes schema kinds instead, which add event and response")
    parser.add_argument("--count", type=positive_int, default=1000,
                        help="events to generate in all (with --invalid: lines); default 1000")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the generated bodies: the same seed and options give byte-identical "
                             "output (default 0)")
    parser.add_argument("--batch-size", type=positive_int, default=50,
                        help="events per batch body for --kind batch and mixed server batches (default 50)")
    parser.add_argument("--api-key", default=DEFAULT_TOKEN,
                        help="project token to put in the payloads (default: a placeholder phc_ token)")
    parser.add_argument("--invalid", action="store_true",
                        help="generate bodies that each break one contract rule, labelled with it")
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    parser.add_argument("--protocol", choices=("v0", "v1"), default="v0",
                        help="v0 bodies (default) or v1 requests with their headers (capture-v1.md); with v1, "
                             "--kind must be batch or mixed (v1 has only batches)")
    parser.add_argument("--sdk", choices=("python", "node"),
                        help="v1: requests of this SDK only (default: both, one or the other per request)")


def run(args: argparse.Namespace) -> int:
    if args.protocol == "v1":
        if args.kind not in ("batch", "mixed"):
            print(f"capture-harness generate: --kind {args.kind} is v0 only; v1 requests are batches",
                  file=sys.stderr)
            return EXIT_USAGE
        lines = seeded.v1_invalid_lines(args.count, args.seed, args.api_key, args.sdk) if args.invalid else \
            seeded.v1_valid_lines(args.count, args.seed, args.batch_size, args.api_key, args.sdk)
    elif args.sdk:
        print("capture-harness generate: --sdk is a v1 option (--protocol v1)", file=sys.stderr)
        return EXIT_USAGE
    elif args.kind == "recording":
        if args.invalid:
            print("capture-harness generate: --invalid is not available for --kind recording", file=sys.stderr)
            return EXIT_USAGE
        from harness.generate import recordings

        lines = recordings.lines(args.count, args.seed, args.api_key)
    else:
        lines = seeded.invalid_lines(args.count, args.seed, args.api_key) if args.invalid else \
            seeded.valid_lines(args.kind, args.count, args.seed, args.batch_size, args.api_key)
    unit = "lines" if args.invalid else "events"
    started = time.perf_counter()
    try:
        with _output(args.out) as out:
            to_file = args.out != "-"
            with tqdm(total=args.count, unit=unit[:-1], unit_scale=True, file=sys.stderr, leave=False,
                      disable=True if not to_file or args.count < 20_000 else None,  # None: only on a terminal
                      desc="generating") as progress:
                written, events = _write(out, lines, progress, args.invalid)
    except BrokenPipeError:  # stdout closed by its reader (`| head`): a normal end, handled by the CLI's main
        raise
    except OSError as error:
        print(f"capture-harness generate: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    if args.out != "-":
        seconds = time.perf_counter() - started
        print(f"wrote {written:,} bodies ({events:,} events) to {args.out} in {seconds:.2f}s "
              f"[{'protocol=v1 ' if args.protocol == 'v1' else ''}kind={'invalid' if args.invalid else args.kind} "
              f"seed={args.seed} "
              f"api_key={mask_token(args.api_key)}]", file=sys.stderr)
    return EXIT_OK


def _write(out: IO[bytes], lines: Iterator[seeded.Line], progress: tqdm, per_line: bool) -> tuple[int, int]:
    """Write lines in chunks (one write call per 256 lines); progress counts lines or events."""
    written = events = units = 0
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line.data)
        written += 1
        events += line.events
        units += 1 if per_line else line.events
        if len(chunk) >= 256:
            out.write(b"\n".join(chunk) + b"\n")
            progress.update(units)
            chunk.clear()
            units = 0
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
        progress.update(units)
    return written, events


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[bytes]]:
    """Stdout's byte stream for ``-`` (flushed, not closed), otherwise the file, its folders created."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        yield handle
