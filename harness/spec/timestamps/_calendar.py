"""Proleptic Gregorian arithmetic on plain integers, and the clock the parsers read.

Every parser here counts instants as integer nanoseconds since the Unix epoch, so no year, offset or
skew can overflow; ``datetime`` (years 1..9999, microseconds) appears only in the two conversions at the
bottom.  The algorithms are exact for any integer year, which chrono's ±262,000-year range needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The origin of every count here, and what an event time outside years 0..9999 becomes
(``DateTime::UNIX_EPOCH``)."""

NS = 1_000_000_000
"""Nanoseconds in a second."""

DAY_NS = 86_400 * NS


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 (H. Hinnant's algorithm, exact for every integer year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """``(year, month, day)`` of a day count since 1970-01-01, the inverse of :func:`days_from_civil`."""
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def year_of(ns: int) -> int:
    return civil_from_days(ns // DAY_NS)[0]


def weekday(days: int) -> int:
    """The weekday of a day count since 1970-01-01, 0 = Monday."""
    return (days + 3) % 7


def naive_ns(year: int, month: int, day: int, hour: int, minute: int, second: int, nano: int, *,
             years: tuple[int, int]) -> int | None:
    """Civil fields to nanoseconds, or ``None`` when one is out of range (``years`` is the crate's own
    year range); ``second`` 60 is a leap second, counted as the next second."""
    if not (years[0] <= year <= years[1] and 1 <= month <= 12 and 1 <= day <= days_in_month(year, month)):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60 and 0 <= nano < NS):
        return None
    seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    return seconds * NS + nano


YEAR0_NS = days_from_civil(0, 1, 1) * DAY_NS
"""The first instant of year 0: an event time before it becomes the epoch."""

MIN_NS = days_from_civil(1, 1, 1) * DAY_NS
"""The first instant ``datetime`` can hold."""

END_NS = days_from_civil(10_000, 1, 1) * DAY_NS
"""The first instant after year 9999."""


def to_datetime(ns: int) -> datetime | None:
    """An aware UTC datetime, floored to the microsecond, or ``None`` outside years 1..9999."""
    if not MIN_NS <= ns < END_NS:
        return None
    return EPOCH + timedelta(microseconds=ns // 1000)


def from_datetime(moment: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is read as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


class Clock:
    """The current time, read only when a format needs it (dateparser calls ``Utc::now()`` only for
    texts that lack a date or a time of day).  ``Clock(None)`` reads the wall clock once, on demand."""

    __slots__ = ("_ns",)

    def __init__(self, ns: int | None) -> None:
        self._ns = ns

    @property
    def ns(self) -> int:
        if self._ns is None:
            self._ns = from_datetime(datetime.now(UTC))
        return self._ns

    def time_of_day(self, offset: int = 0) -> int:
        """Nanoseconds since midnight in the zone ``offset`` seconds east of UTC."""
        return (self.ns + offset * NS) % DAY_NS

    def days(self, offset: int = 0) -> int:
        """Today's day count in the zone ``offset`` seconds east of UTC."""
        return (self.ns + offset * NS) // DAY_NS
