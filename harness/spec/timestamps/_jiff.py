"""jiff's ``str::parse::<civil::DateTime>`` (Temporal ISO 8601), step 4 of capture's ``parse_date``.

The result is read as UTC.  A numeric offset is parsed and then ignored, ``Z`` is refused (a civil time
has no offset), RFC 9557 annotations are read and ignored unless one is critical.
"""

from __future__ import annotations

import re

from harness.spec.timestamps._calendar import naive_ns
from harness.spec.timestamps._scan import DIGITS, fraction_ns, iso_year, two_digits

JIFF_YEARS = (-9999, 9999)
"""jiff's ``civil::Date`` range.  The time crate's range (:data:`._iso8601.TIME_CRATE_YEARS`) is the
same today, but they are two crates' limits, and the time crate's grows with its ``large-dates``
feature, so each parser keeps its own."""

_IANA_PART = re.compile(r"[A-Za-z._][A-Za-z0-9._+\-]*")
_ANNOTATION = re.compile(r"\[(!?)[a-z_][a-z0-9_\-]*=[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\]")


def civil(s: str) -> int | None:
    """A civil datetime as nanoseconds since the epoch, read as UTC, or ``None``."""
    date = _date(s)
    if date is None:
        return None
    year, month, day, i = date
    hour = minute = second = nano = 0
    if i < len(s) and s[i] in " Tt":
        time = _time(s, i + 1)
        if time is None:
            return None
        hour, minute, second, nano, i = time
    if _annotations(s, i) != len(s):
        return None
    return naive_ns(year, month, day, hour, minute, second, nano, years=JIFF_YEARS)


def _date(s: str) -> tuple[int, int, int, int] | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` (or a ``±YYYYYY`` year): ``(year, month, day, end)``."""
    start = iso_year(s, reject_negative_zero=True)
    if start is None:
        return None
    year, i = start
    extended = s.startswith("-", i)
    fields: list[int] = []
    for _ in ("month", "day"):
        if extended:
            if not s.startswith("-", i):
                return None
            i += 1
        elif s.startswith("-", i):
            return None
        value = two_digits(s, i)
        if value is None:
            return None
        fields.append(value)
        i += 2
    month, day = fields
    if not (JIFF_YEARS[0] <= year <= JIFF_YEARS[1] and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day, i


def _time(s: str, i: int) -> tuple[int, int, int, int, int] | None:
    """The time after the separator: ``HH[:MM[:SS[.f]]]`` or ``HH[MM[SS[.f]]]``, then an optional
    numeric offset: ``(hour, minute, second, nanosecond, end)``."""
    hour = two_digits(s, i)
    if hour is None or hour > 23:
        return None
    i += 2
    extended = i < len(s) and s[i] == ":"
    units: list[int] = []
    for _ in ("minute", "second"):
        if extended:
            if not s.startswith(":", i):
                break
            i += 1
        elif two_digits(s, i) is None:
            break
        value = two_digits(s, i)
        if value is None or value > (60 if units else 59):
            return None
        units.append(value)
        i += 2
    minute = units[0] if units else 0
    second = nano = 0
    if len(units) == 2:
        second = min(units[1], 59)  # jiff clamps a leap second
        nano, i = _fraction(s, i)
        if nano < 0:
            return None
    if i < len(s) and s[i] in "Zz":
        return None  # a civil datetime with a Zulu offset is an error in jiff
    if i < len(s) and s[i] in "+-":
        end = _offset(s, i, subminute=True)  # parsed, then ignored
        if end is None:
            return None
        i = end
    return hour, minute, second, nano, i


def _offset(s: str, i: int, subminute: bool) -> int | None:
    """Where a numeric offset starting at ``i`` ends (its value is never used), or None."""
    n = len(s)
    if i >= n or s[i] not in "+-":
        return None
    hours = two_digits(s, i + 1)
    if hours is None or hours > 25:
        return None
    i += 3
    extended = i < n and s[i] == ":"
    for part in ("minutes", "seconds"):
        if part == "seconds" and not subminute:
            return None if i < n and s[i] == ":" else i
        if extended:
            if i >= n or s[i] != ":":
                return i
            i += 1
        elif two_digits(s, i) is None:
            return i
        value = two_digits(s, i)
        if value is None or value > 59:
            return None
        i += 2
    nano, i = _fraction(s, i)
    return None if nano < 0 else i


def _fraction(s: str, i: int) -> tuple[int, int]:
    """An optional ``.``/``,`` fraction of 1..9 digits; ``(-1, i)`` when malformed."""
    if i >= len(s) or s[i] not in ".,":
        return 0, i
    j = i + 1
    while j < len(s) and j - i <= 9 and s[j] in DIGITS:
        j += 1
    return (fraction_ns(s[i + 1 : j]), j) if j > i + 1 else (-1, i)


def _annotations(s: str, i: int) -> int | None:
    """Where RFC 9557 annotations starting at ``i`` end: one optional time zone (an IANA name or an
    offset), then key=value ones.  A critical key=value annotation is an error: jiff supports none."""
    n = len(s)
    if i >= n or s[i] != "[":
        return i
    j = i + 1 + s.startswith("!", i + 1)
    if j < n and s[j] in "+-":
        k = _offset(s, j, subminute=False)
        if k is None or not s.startswith("]", k):
            return None
        i = k + 1
    else:
        m = _IANA_PART.match(s, j)
        if m is None:
            return None
        if not s.startswith("=", m.end()):  # else it is a key=value annotation, read below
            k = m.end()
            while s.startswith("/", k):
                if (m := _IANA_PART.match(s, k + 1)) is None:
                    return None
                k = m.end()
            if not s.startswith("]", k):
                return None
            i = k + 1
    while i < n and s[i] == "[":
        m = _ANNOTATION.match(s, i)
        if m is None or m.group(1):
            return None
        i = m.end()
    return i
