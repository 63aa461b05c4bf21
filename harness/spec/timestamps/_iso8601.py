"""The time crate's ``OffsetDateTime::parse(value, &Iso8601::DEFAULT)``, which reads a batch's
``sent_at``: a date (calendar, ordinal or week; basic or extended), ``T``, a time whose last unit may
be fractional, and an offset, with nothing after it.

Fractions are summed and scaled in f64, as the crate does, so the rounding is the crate's.
"""

from __future__ import annotations

import math

from harness.spec.timestamps._calendar import NS, days_from_civil, days_in_month, is_leap, weekday
from harness.spec.timestamps._scan import DIGITS, iso_year, two_digits

TIME_CRATE_YEARS = (-9999, 9999)
"""The time crate's range without its ``large-dates`` feature (see :data:`._jiff.JIFF_YEARS`)."""


def parse(s: str) -> int | None:
    """Nanoseconds since the epoch, or ``None`` where the crate returns an error."""
    date = _date(s)
    if date is None:
        return None
    days, extended, i = date
    if not s.startswith("T", i):
        return None
    hour = two_digits(s, i + 1)
    if hour is None or hour > 23:
        return None
    time = _after_hour(s, i + 3, extended)
    if time is None:
        return None
    minute, second, nano, i = time
    if minute > 59 or second > 59 or nano >= NS:
        return None
    zone = _offset(s, i, extended)
    if zone is None or zone[1] != len(s):
        return None
    return (days * 86_400 + hour * 3600 + minute * 60 + second - zone[0]) * NS + nano


def _date(s: str) -> tuple[int, bool, int] | None:
    """``(days since the epoch, extended, end)``: ``extended`` is the format with separators, which
    the time must then follow too."""
    start = iso_year(s, reject_negative_zero=False)
    if start is None:
        return None
    year, i = start
    extended = s.startswith("-", i)
    i += extended
    if not TIME_CRATE_YEARS[0] <= year <= TIME_CRATE_YEARS[1]:
        return None
    month, j = two_digits(s, i), i + 2
    if month is not None and 1 <= month <= 12 and (not extended or s.startswith("-", j)):
        j += extended
        day = two_digits(s, j)
        if day is not None and day != 0:  # otherwise an ordinal or week date may still follow
            if day > days_in_month(year, month):
                return None
            return days_from_civil(year, month, day), extended, j + 2
    if i + 3 <= len(s) and all(c in DIGITS for c in s[i : i + 3]):
        ordinal = int(s[i : i + 3])
        if not 1 <= ordinal <= (366 if is_leap(year) else 365):
            return None
        return days_from_civil(year, 1, 1) + ordinal - 1, extended, i + 3
    if s.startswith("W", i):
        return _week_date(s, i + 1, year, extended)
    return None


def _week_date(s: str, i: int, year: int, extended: bool) -> tuple[int, bool, int] | None:
    """``Www[-]D`` after the ``W``."""
    week, j = two_digits(s, i), i + 2
    if week is None or week == 0:
        return None
    if extended:
        if not s.startswith("-", j):
            return None
        j += 1
    if j >= len(s) or s[j] not in "1234567":
        return None
    jan4 = days_from_civil(year, 1, 4)
    week1_monday = jan4 - weekday(jan4)
    next_week1 = days_from_civil(year + 1, 1, 4)
    weeks_in_year = (next_week1 - weekday(next_week1) - week1_monday) // 7
    if week > weeks_in_year:
        return None
    return week1_monday + (week - 1) * 7 + int(s[j]) - 1, extended, j + 1


def _after_hour(s: str, i: int, extended: bool) -> tuple[int, int, int, int] | None:
    """A fractional hour, or minutes and what follows them: ``(minute, second, nanosecond, end)``.
    The colon before the minutes is optional in the extended format and refused in the basic one."""
    frac, end = _f64_fraction(s, i)
    if frac is not None:  # a fractional hour ends the time
        if frac < 0:
            return None
        return int(frac * 60.0), int(math.fmod(frac * 3600.0, 60.0)), int(math.fmod(frac * 3.6e12, 1e9)), end
    if s.startswith(":", i):
        if not extended:
            return None
        i += 1
    minute = two_digits(s, i)
    if minute is None:
        return None if extended else (0, 0, 0, i)
    rest = _after_minute(s, i + 2, extended)
    return None if rest is None else (minute, *rest)


def _after_minute(s: str, i: int, extended: bool) -> tuple[int, int, int] | None:
    """A fractional minute, or optional seconds (after a colon when extended) with their fraction:
    ``(second, nanosecond, end)``."""
    frac, end = _f64_fraction(s, i)
    if frac is not None:  # a fractional minute ends the time
        if frac < 0:
            return None
        return int(frac * 60.0), int(math.fmod(frac * 6e10, 1e9)), end
    if extended:
        if not s.startswith(":", i):
            return 0, 0, i
        i += 1
    second = two_digits(s, i)
    if second is None:
        return None if extended else (0, 0, i)
    frac, end = _f64_fraction(s, i + 2)
    if frac is None:
        return second, 0, end
    return None if frac < 0 else (second, _round_half_away(frac * 1e9), end)


def _offset(s: str, i: int, extended: bool) -> tuple[int, int] | None:
    """``Z``, or a sign and hours, an optional colon (extended dates only) and optional minutes:
    ``(seconds east of UTC, end)``."""
    if s.startswith("Z", i):
        return 0, i + 1
    if i >= len(s) or s[i] not in "+-":
        return None
    sign = -1 if s[i] == "-" else 1
    hours = two_digits(s, i + 1)
    if hours is None or hours > 23:
        return None
    i += 3
    if extended and s.startswith(":", i):
        i += 1
    minutes = two_digits(s, i)
    if minutes is None:
        return sign * hours * 3600, i
    if minutes > 59:
        return None
    return sign * (hours * 3600 + minutes * 60), i + 2


def _f64_fraction(s: str, i: int) -> tuple[float | None, int]:
    """The time crate's ``float`` tail: ``.``/``,`` and at least one digit, summed in f64;
    ``(None, i)`` without one, ``(-1.0, i)`` when malformed."""
    if i >= len(s) or s[i] not in ".,":
        return None, i
    if i + 1 >= len(s) or s[i + 1] not in DIGITS:
        return -1.0, i
    value, divisor, j = int(s[i + 1]) / 10.0, 10.0, i + 2
    while j < len(s) and s[j] in DIGITS:
        divisor *= 10.0
        value += int(s[j]) / divisor
        j += 1
    return value, j


def _round_half_away(x: float) -> int:
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole
