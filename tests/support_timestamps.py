"""What the timestamp tests share: a fixed ``now`` and the two ways they write expected moments."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2025, 6, 15, 8, 30, 15, 123456, tzinfo=UTC)
"""A fixed ``now``: date-only and time-only texts take their missing part from it."""


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def at_now_time(year: int, month: int, day: int) -> datetime:
    """A date at ``NOW``'s time of day, as dateparser completes date-only texts."""
    return NOW.replace(year=year, month=month, day=day)
