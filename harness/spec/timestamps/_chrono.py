"""chrono's strict RFC 3339 and RFC 2822 parsers, and the zone offset scanner they share.

RFC 3339 is step 2 of capture's ``parse_date`` (``DateTime::parse_from_rfc3339``); dateparser, step 3,
calls ``parse_from_rfc2822`` for one of its families.  chrono's strftime-style ``format::parse``, which
dateparser calls for all the others, is :mod:`._strptime`.
"""

from __future__ import annotations

import re

from harness.spec.timestamps._calendar import DAY_NS, NS, naive_ns, weekday
from harness.spec.timestamps._scan import DIGITS, fraction_ns, number, short_name, skip_ws, two_digits
from harness.spec.unicode import WHITESPACE_SET

CHRONO_YEARS = (-262_144, 262_143)
"""``NaiveDate::MIN`` / ``MAX`` years (``i32::MIN >> 13``, ``i32::MAX >> 13``)."""

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ZONE_HOURS = {"gmt": 0, "ut": 0, "z": 0, "edt": -4, "est": -5, "cdt": -5, "cst": -6, "mdt": -6,
              "mst": -7, "pdt": -7, "pst": -8}
"""RFC 2822's zone names as chrono reads them, lower-cased, in hours east of UTC: universal time and
the North American zones.  dateparser's own table is this one with a diff (see :mod:`._dateparser`)."""

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+\-\u2212])([0-9]{2}):([0-9]{2}))\Z"
)


def rfc3339(s: str) -> int | None:
    """``DateTime::parse_from_rfc3339``: 4-digit year, ``T``/``t``/space, ``HH:MM:SS``, any number of
    fraction digits (9 kept), ``Z``/``z`` or ``±HH:MM`` up to 23:59 (U+2212 is a minus too)."""
    m = _RFC3339.match(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    offset = 0
    if sign:
        hours, minutes = int(off_h), int(off_m)
        if minutes > 59 or hours * 60 + minutes > 23 * 60 + 59:
            return None
        offset = (hours * 3600 + minutes * 60) * (1 if sign == "+" else -1)
    naive = naive_ns(int(year), int(month), int(day), int(hour), int(minute), int(second),
                     fraction_ns(fraction) if fraction else 0, years=CHRONO_YEARS)
    return None if naive is None else naive - offset * NS


def offset(s: str, i: int, colon: str, zulu: bool, missing_minutes: bool,
           minus_sign: bool) -> tuple[int, int] | None:
    """chrono's ``scan::timezone_offset``: ``(seconds east of UTC, end)``.  ``colon`` is ``"space"``
    (colons and spaces skipped), ``"strict"`` (one colon required) or ``"none"``."""
    n = len(s)
    if zulu and i < n and s[i] in "Zz":
        return 0, i + 1
    if i >= n or not (s[i] in "+-" or (s[i] == "\u2212" and minus_sign)):
        return None
    sign = 1 if s[i] == "+" else -1
    hours = two_digits(s, i + 1)
    if hours is None:
        return None
    i += 3
    if colon == "space":
        while i < n and (s[i] == ":" or s[i] in WHITESPACE_SET):
            i += 1
    elif colon == "strict":
        if i >= n or s[i] != ":":
            return None
        i += 1
    if i == n:
        if not missing_minutes:
            return None
        minutes = 0
    elif i + 2 <= n and s[i] in "012345" and s[i + 1] in DIGITS:
        minutes = int(s[i : i + 2])
        i += 2
    else:
        return None
    return sign * (hours * 3600 + minutes * 60), i


def rfc2822(s: str) -> int | None:
    """chrono's ``parse_rfc2822`` followed by ``Parsed::to_datetime``: an optional weekday (checked
    against the date), day, month name, year, ``HH:MM[:SS]``, a zone, then any comments."""
    i = skip_ws(s, 0)
    day_of_week = short_name(s, i, WEEKDAYS)
    if day_of_week is not None:
        if i + 3 >= len(s) or s[i + 3] != ",":
            return None
        i += 4
    date = _rfc2822_date(s, skip_ws(s, i))
    if date is None:
        return None
    year, month, day, i = date
    time = _rfc2822_time(s, i)
    if time is None:
        return None
    hour, minute, second, i = time
    start = _space(s, i)
    zone = None if start is None else _rfc2822_zone(s, start)
    if zone is None:
        return None
    east, i = zone
    while (after := _rfc2822_comment(s, i)) is not None:
        i = after
    if i != len(s) or not -86_400 < east < 86_400 or not 1 <= day <= 31:
        return None
    naive = naive_ns(year, month, day, hour, minute, second, 0, years=CHRONO_YEARS)
    if naive is None or (day_of_week is not None and weekday(naive // DAY_NS) != day_of_week):
        return None
    return naive - east * NS


def _space(s: str, i: int) -> int | None:
    """Past at least one whitespace character, or ``None``."""
    j = skip_ws(s, i)
    return j if j > i else None


def _rfc2822_date(s: str, i: int) -> tuple[int, int, int, int] | None:
    """``D[D] Mon Y{2,}``: ``(year, month, day, end)``; a 2-digit year below 50 is 20xx, else 19xx,
    and a 3-digit year counts from 1900."""
    day = number(s, i, 1, 2)
    if day is None:
        return None
    at_month = _space(s, day[1])
    month = None if at_month is None else short_name(s, at_month, MONTHS)
    if at_month is None or month is None:
        return None
    at_year = _space(s, at_month + 3)
    found = None if at_year is None else number(s, at_year, 2, 1 << 62)
    if at_year is None or found is None:
        return None
    year, end = found
    if end - at_year == 2:
        year += 2000 if year < 50 else 1900
    elif end - at_year == 3:
        year += 1900
    return year, month + 1, day[0], end


def _rfc2822_time(s: str, i: int) -> tuple[int, int, int, int] | None:
    """`` HH:MM[:SS]`` (whitespace allowed around the colons): ``(hour, minute, second, end)``."""
    start = _space(s, i)
    hour = None if start is None else number(s, start, 2, 2)
    if hour is None:
        return None
    i = skip_ws(s, hour[1])
    if i >= len(s) or s[i] != ":":
        return None
    minute = number(s, skip_ws(s, i + 1), 2, 2)
    if minute is None:
        return None
    i = skip_ws(s, minute[1])
    if i >= len(s) or s[i] != ":":
        return hour[0], minute[0], 0, minute[1]
    second = number(s, i + 1, 2, 2)
    return None if second is None else (hour[0], minute[0], second[0], second[1])


def _rfc2822_zone(s: str, i: int) -> tuple[int, int] | None:
    """``+HHMM``, a name from :data:`ZONE_HOURS`, or a single-letter military zone (except ``J``),
    which chrono consumes but treats as -0000."""
    n, j = len(s), i
    while j < n and s[j].isascii() and s[j].isalpha():
        j += 1
    if j == i:
        return offset(s, i, "none", zulu=False, missing_minutes=False, minus_sign=False)
    name = s[i:j].lower()
    hours = ZONE_HOURS.get(name)
    if hours is not None:
        return hours * 3600, j
    if len(name) == 1 and name != "j":
        return 0, j
    return None


def _rfc2822_comment(s: str, i: int) -> int | None:
    """Past one parenthesized comment (nested, with backslash escapes) after optional whitespace."""
    i = skip_ws(s, i)
    if i >= len(s) or s[i] != "(":
        return None
    depth, escaped = 1, False
    for j in range(i + 1, len(s)):
        c = s[j]
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return None

