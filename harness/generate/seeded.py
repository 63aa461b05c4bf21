"""Fast, seeded bulk generation of request bodies as JSON lines, for corpora and other projects' fixtures.

Drives the same traffic model as the Hypothesis strategies with :class:`~harness.generate.choices.SeededChoices`,
so it runs at well over 100,000 events a second and the same seed always gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from harness.generate import mutations
from harness.generate.choices import SeededChoices
from harness.generate.traffic import BODY_KINDS, Traffic
from harness.spec.body import DEFAULT_TOKEN, events_of
from harness.spec.jsontext import to_json


@dataclass(frozen=True)
class Line:
    """One generated JSONL line (without its newline) and how many events it carries."""

    data: bytes
    events: int


def valid_lines(kind: str, count: int, seed: int, batch_size: int = 50,
                api_key: str = DEFAULT_TOKEN) -> Iterator[Line]:
    """Bodies of ``kind`` holding ``count`` events in all; the last batch is cut to fit exactly."""
    if kind not in BODY_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(BODY_KINDS)}")
    traffic = Traffic(SeededChoices(seed), token=api_key)
    remaining = count
    while remaining > 0:
        body = traffic.body(kind, min(batch_size, remaining))
        events = events_of(body)
        if len(events) > remaining:
            del events[remaining:]
        remaining -= len(events)
        yield Line(to_json(body), len(events))


def invalid_lines(count: int, seed: int, api_key: str = DEFAULT_TOKEN) -> Iterator[Line]:
    """``count`` labelled invalid bodies, ``{"rule", "expect_status", "body"}``, cycling through every
    generated rule so that any run of ``len(mutations.GENERATED_RULES)`` lines covers them all."""
    choices = SeededChoices(seed)
    traffic = Traffic(choices, token=api_key)
    for index in range(count):
        name = mutations.GENERATED_RULES[index % len(mutations.GENERATED_RULES)]
        body, status = mutations.invalid(choices, traffic, name)
        yield Line(to_json({"rule": name, "expect_status": status, "body": body}),
                   len(events_of(body)) if isinstance(body, (dict, list)) else 0)


def v1_valid_lines(count: int, seed: int, batch_size: int = 50, api_key: str = DEFAULT_TOKEN,
                   sdk: str | None = None) -> Iterator[Line]:
    """v1 requests ``{"headers", "body"}`` holding ``count`` events in all (capture-v1.md §6); ``sdk``
    fixes ``python`` or ``node``, else each request is one or the other."""
    from harness.generate.v1 import V1Traffic  # only v1 runs pay for importing it

    traffic = V1Traffic(SeededChoices(seed), token=api_key, sdk=sdk)
    remaining = count
    while remaining > 0:
        request = traffic.request(min(batch_size, remaining))
        remaining -= len(request["body"]["batch"])
        yield Line(to_json(request), len(request["body"]["batch"]))


def v1_invalid_lines(count: int, seed: int, api_key: str = DEFAULT_TOKEN, sdk: str | None = None) -> Iterator[Line]:
    """``count`` labelled v1 requests ``{"rule", "tag", "expect_status", "headers", "body"}``, cycling through
    every generated v1 rule."""
    from harness.generate import v1_mutations
    from harness.generate.v1 import V1Traffic

    choices = SeededChoices(seed)
    traffic = V1Traffic(choices, token=api_key, sdk=sdk)
    names = v1_mutations.GENERATED_RULES
    for index in range(count):
        line = v1_mutations.invalid(choices, traffic, names[index % len(names)])
        batch = line["body"].get("batch") if isinstance(line["body"], dict) else line["body"]
        yield Line(to_json(line), len(batch) if isinstance(batch, list) else 0)
