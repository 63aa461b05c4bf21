"""What an app's test reads back: a stored event as a typed object, and how an expectation matches one.

An expectation (:class:`Expected`) names an event, a distinct id, a token and some properties; an event
matches when every named field is equal and every named property is present and matches.  Properties are a
**subset** match (an SDK adds dozens of its own: ``$lib``, ``$lib_version``, ``$geoip_disable`` ...), but a
property's value is compared **exactly**, nested objects included, because "the cart holds these items" means
these and no others.  An expected value may also be :data:`unittest.mock.ANY` (any value, present), a class
(an instance of it) or another callable (a predicate on the value: ``lambda n: n > 10``); no JSON value is
callable, so a callable can only mean a check.

When nothing matches, :func:`mismatch_report` explains it the way pytest explains a failed ``assert``: what
was expected, which stored events came closest and how each differs, field by field.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.safety import mask_token

CLOSEST_SHOWN = 3
"""How many of the nearest events a failure message shows, with their differences."""

NAMES_SHOWN = 10
"""How many distinct event names a failure message counts before it says how many more there are."""

_SHORT = 120
"""Characters of one value shown in a failure message before it is cut."""


class _Missing:
    """The value of a property an event does not have."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class CapturedEvent:
    """One event the endpoint stored: ``event``, ``distinct_id`` (as capture stringified it), ``properties``
    (with a top-level ``$set`` and ``$set_once`` merged into theirs, as PostHog's ingestion does, so that a
    person update reads the same whichever SDK sent it), ``uuid``, ``timestamp`` (the event time the endpoint computed, ISO 8601), ``token`` (the project API key it
    came with, left out of the repr so that no key is printed in full), ``data`` (the whole stored event, e.g.
    ``$set`` beside the properties) and ``raw`` (the inspection API's record as it is: ``ip``, ``now``,
    ``sent_at``, ``data`` as text ...)."""

    event: str
    distinct_id: str
    properties: dict[str, Any]
    uuid: str
    timestamp: str
    token: str = field(repr=False)
    data: dict[str, Any] = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CapturedEvent:
        """The event of one ``/_harness/events`` record (``data`` is the stored event's JSON text)."""
        try:
            data = orjson.loads(record.get("data") or "null")
        except orjson.JSONDecodeError:
            data = None
        data = data if isinstance(data, dict) else {}
        stored = data.get("properties")
        properties = dict(stored) if isinstance(stored, dict) else {}
        for person in ("$set", "$set_once"):  # as PostHog's ingestion normalises an event (normalizeEvent)
            inner, outer = properties.get(person), data.get(person)
            if isinstance(outer, dict):
                properties[person] = {**(inner if isinstance(inner, dict) else {}), **outer}
        return cls(event=str(record.get("event", "")), distinct_id=str(record.get("distinct_id", "")),
                   properties=properties, uuid=str(record.get("uuid", "")),
                   timestamp=str(record.get("timestamp", "")), token=str(record.get("token", "")), data=data,
                   raw=dict(record))

    def summary(self) -> str:
        """One line naming the event: its name, distinct id, uuid and time."""
        return f"{self.event!r} for distinct_id {self.distinct_id!r} (uuid {self.uuid}, timestamp {self.timestamp})"


@dataclass(frozen=True)
class Expected:
    """What a test expects to have arrived; None (and no properties) expects nothing of that field."""

    event: str | None = None
    distinct_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    token: str | None = None

    def differences(self, captured: CapturedEvent) -> list[str]:
        """How ``captured`` differs from this expectation, one line per difference (none: it matches)."""
        found: list[str] = []
        for name, wanted, got in (("event", self.event, captured.event),
                                  ("distinct_id", self.distinct_id, captured.distinct_id)):
            if wanted is not None and not _holds(wanted, got):
                found.append(f"{name}: expected {_short(wanted)}, got {_short(got)}")
        if self.token is not None and not _holds(self.token, captured.token):
            found.append(f"token: expected {mask_token(self.token)}, got {mask_token(captured.token)}")
        for key, wanted in self.properties.items():
            found.extend(_differences(f"properties[{key!r}]", wanted, captured.properties.get(key, MISSING)))
        return found

    def matches(self, captured: CapturedEvent) -> bool:
        return not self.differences(captured)

    def describe(self) -> str:
        """The expectation in words, for a failure message."""
        parts = [f"event {self.event!r}" if self.event is not None else "any event"]
        if self.distinct_id is not None:
            parts.append(f"distinct_id {self.distinct_id!r}")
        if self.token is not None:
            parts.append(f"token {mask_token(self.token)}")
        if self.properties:
            parts.append(f"properties {_short(dict(self.properties))}")
        return ", ".join(parts)


def _holds(wanted: Any, got: Any) -> bool:
    """Whether ``got`` satisfies ``wanted``: a class by isinstance, another callable as a predicate, else ==."""
    if got is MISSING:
        return False
    if isinstance(wanted, type):
        return isinstance(got, wanted)
    if callable(wanted):
        try:
            return bool(wanted(got))
        except Exception:  # noqa: BLE001  # a predicate that cannot judge this value (n > 10 of a str) fails
            return False
    return bool(wanted == got)


def _differences(where: str, wanted: Any, got: Any) -> list[str]:
    """The differences of one property, descending into objects so that the line names the innermost key."""
    if got is MISSING:
        return [f"{where}: missing, expected {_short(wanted)}"]
    if isinstance(wanted, Mapping) and isinstance(got, Mapping):
        found = [f"{where}: unexpected key {key!r} (= {_short(got[key])})" for key in got if key not in wanted]
        for key, value in wanted.items():
            found.extend(_differences(f"{where}[{key!r}]", value, got.get(key, MISSING)))
        return found
    if _holds(wanted, got):
        return []
    if callable(wanted):
        return [f"{where}: {_short(got)} does not satisfy {_checker(wanted)}"]
    return [f"{where}: expected {_short(wanted)}, got {_short(got)}"]


def _checker(wanted: Callable[..., Any]) -> str:
    if isinstance(wanted, type):
        return f"an instance of {wanted.__name__}"
    return getattr(wanted, "__qualname__", None) or repr(wanted)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT else text[:_SHORT] + "..."


def closest(expected: Expected, arrived: Sequence[CapturedEvent]) -> list[tuple[CapturedEvent, list[str]]]:
    """The events nearest to ``expected``, nearest first, each with its differences: those with the expected
    name first, by fewest differences; then the others by how alike their name is (a misspelt event name is
    the likeliest cause of a miss), then by fewest differences."""
    def distance(item: tuple[CapturedEvent, list[str]]) -> tuple[bool, float, int]:
        captured, differences = item
        renamed = expected.event is not None and captured.event != expected.event
        alike = difflib.SequenceMatcher(None, expected.event or "", captured.event).ratio() if renamed else 1.0
        return renamed, -alike, len(differences)

    return sorted(((captured, expected.differences(captured)) for captured in arrived), key=distance)


def mismatch_report(expected: Expected, arrived: Sequence[CapturedEvent], waited: str) -> str:
    """Why no event matched: the expectation, what arrived (names and counts) and the nearest events' differences
    (only events of the expected name when there are some: the others' differences would be noise)."""
    lines = [f"no stored event matches {expected.describe()} ({waited})"]
    if not arrived:
        lines.append("no event arrived at all: is the SDK's host this endpoint, and did it flush? (SDKs send in "
                     "batches: posthog-python client.flush(), posthog-node await client.shutdown())")
        return "\n".join(lines)
    names = Counter(captured.event for captured in arrived)
    shown = ", ".join(f"{name!r} x{count}" for name, count in names.most_common(NAMES_SHOWN))
    more = f" and {len(names) - NAMES_SHOWN} other names" if len(names) > NAMES_SHOWN else ""
    lines.append(f"{len(arrived)} events arrived: {shown}{more}")
    ranked = closest(expected, arrived)
    named = [item for item in ranked if expected.event in (None, item[0].event)]
    lines.append("closest:" if named else f"closest (none is named {expected.event!r}):")
    for rank, (captured, differences) in enumerate((named or ranked)[:CLOSEST_SHOWN], start=1):
        lines.append(f"  {rank}. {captured.summary()}")
        lines.extend(f"       {difference}" for difference in differences)
    return "\n".join(lines)


def unexpected_report(expected: Expected, found: Sequence[CapturedEvent], waited: str) -> str:
    """Why :meth:`~harness.apptest.endpoint.CaptureEndpoint.expect_no_event` failed: the events that matched."""
    lines = [f"expected no event matching {expected.describe()}, but {len(found)} arrived ({waited}):"]
    lines.extend(f"  {captured.summary()} properties {_short(captured.properties)}"
                 for captured in found[:CLOSEST_SHOWN])
    return "\n".join(lines)
