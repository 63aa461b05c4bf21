"""Throughput of validation against a baseline measured in the same run.

Budget (DESIGN.md): schema yes/no validation >= 500,000 events/s.  The baseline is jsonschema-rs checking
the same batches against a minimal schema that still visits every event (each must be an object with an
``event``): the floor of walking a batch at all.  Also printed: the full verdict (``harness.validate``: schema plus the rules checked in code) and the
pure-Python ``jsonschema`` for scale, which the project uses only to explain failures.

The same figures follow for v1 (capture-v1.md): SDK-shaped requests of 100 events from
``generate --protocol v1``, the schema yes/no on ``schemas/v1/batch.json`` against the same kind of
baseline, and the full verdict of :func:`harness.spec.v1.validation.validate_request` (headers, schema,
uuids and every event's result, which v1 decides in code).

    python benchmarks/bench_validate.py [--events N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import orjson

from harness.generate import seeded
from harness.spec import schemas
from harness.spec.body import events_of
from harness.spec.v1 import validation as v1
from harness.spec.validation import is_acceptable, validate


def rate(check: Callable[[Any], object], bodies: list[Any], events: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for body in bodies:
            check(body)
        best = min(best, time.perf_counter() - started)
    return events / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    bodies = [orjson.loads(line.data) for line in seeded.valid_lines("batch", args.events, seed=1, batch_size=100)]
    events = sum(len(events_of(body)) for body in bodies)
    minimal = jsonschema_rs.validator_for(
        {"properties": {"batch": {"items": {"type": "object", "required": ["event"]}}}})
    base = rate(minimal.is_valid, bodies, events)
    print(f"{events:,} events in batches of 100")
    print(f"baseline (jsonschema-rs, minimal schema): {base:>12,.0f} events/s")
    yes_no = rate(lambda body: is_acceptable(body, "batch"), bodies, events)
    print(f"schema yes/no (jsonschema-rs, batch.json): {yes_no:>11,.0f} events/s  ratio {yes_no / base:.3f}  "
          f"budget 500,000: {'ok' if yes_no >= 500_000 else 'BELOW BUDGET'}")
    encoded = {id(body): orjson.dumps(body) for body in bodies}
    full = rate(lambda body: validate(body, "batch", encoded=encoded[id(body)]), bodies, events)
    print(f"full verdict (harness.validate, as the CLI calls it): {full:>8,.0f} events/s  ratio {full / base:.3f}")
    explaining = schemas.explaining_validator(schemas.uri("batch"))
    slow = rate(explaining.is_valid, bodies[: max(1, len(bodies) // 20)], events // 20 or 1, repeat=1)
    print(f"pure-Python jsonschema (for scale):      {slow:>12,.0f} events/s  ratio {slow / base:.3f}")
    bench_v1(args.events)


def bench_v1(count: int) -> None:
    requests = [orjson.loads(line.data) for line in seeded.v1_valid_lines(count, seed=1, batch_size=100)]
    bodies = [request["body"] for request in requests]
    events = sum(len(body["batch"]) for body in bodies)
    minimal = jsonschema_rs.validator_for(
        {"properties": {"batch": {"items": {"type": "object", "required": ["event"]}}}})
    base = rate(minimal.is_valid, bodies, events)
    print(f"v1: {events:,} events in requests of 100")
    print(f"v1 baseline (jsonschema-rs, minimal schema): {base:>9,.0f} events/s")
    yes_no = rate(v1.is_acceptable, bodies, events)
    print(f"v1 schema yes/no (jsonschema-rs, v1/batch.json): {yes_no:>5,.0f} events/s  ratio {yes_no / base:.3f}  "
          f"budget 500,000: {'ok' if yes_no >= 500_000 else 'BELOW BUDGET'}")
    full = rate(lambda request: v1.validate_request(request["headers"], request["body"]), requests, events)
    print(f"v1 full verdict (headers, uuids, per-event results): {full:>8,.0f} events/s  ratio {full / base:.3f}")


if __name__ == "__main__":
    main()
