"""Event time as capture computes it: contract §4.3, rules 20 and 21.

Four public functions, used by the reference server:

- :func:`parse_date` reads a client ``timestamp`` string the way capture's ``parse_date``
  (``rust/common/types/src/timestamp.rs``) does, or returns ``None``;
- :func:`sent_at_from_body` and :func:`sent_at_from_query` read ``sent_at`` from the batch body and
  from the ``_`` query parameter (``rust/capture/src/v0_request.rs``, ``payload/types.rs``);
- :func:`event_time` combines ``now``, ``timestamp``, ``offset`` and ``sent_at`` exactly as
  ``parse_event_timestamp`` does, and never raises;
- :func:`rfc3339` writes a moment the way capture writes ``now`` (chrono's ``SecondsFormat::AutoSi``
  with ``Z``): no fraction when it is zero, else 3 digits when whole milliseconds, else 6.

:func:`capture_panics_on` names the timestamps for which capture itself panics instead of answering.

**How capture parses a timestamp.**  In this order, the first success wins:

1. *Normalization*: ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]±HH`` gets ``:00`` appended.
2. chrono's strict RFC 3339 (``DateTime::parse_from_rfc3339``): 4-digit year, ``T``/``t``/space,
   ``HH:MM:SS``, any number of fraction digits (9 kept), ``Z``/``z`` or ``±HH:MM`` up to 23:59.
3. The ``dateparser`` crate's ``parse`` (0.2.x), *read in the server's local zone, which is UTC in
   capture's containers*.  Its formats are tried in the crate's order: Unix timestamps of exactly
   10 (seconds), 13 (milliseconds) or 19 (nanoseconds) digits, chosen by digit count, not magnitude;
   RFC 2822 (chrono's parser: three-letter weekday and month, ``+HHMM`` or a named North American
   zone); ``YYYY-MM-DD`` with a space and a time, with no zone, an attached one (``-08``,
   ``+08:00``) or one after a space (``+0800``, ``+09:00``, ``PST``, ``UTC``; other letters are read
   as UTC); date-only ``YYYY-MM-DD`` (``2023-01-01T12`` is one too: ``T12`` is taken for a zone
   name); time-only ``HH:MM[:SS]``
   with optional am/pm; ``2021-Feb-21``; month-name dates (``May 8, 2009 5:57:51 PM``,
   ``1 July 2013``); US slash dates ``M/D/YY[YY]`` and ``YYYY/M/D``, each with an optional time;
   dotted ``M.D.YY``/``YYYY.MM.DD``/``YYYY.MM``; MySQL log ``YYMMDD HH:MM:SS``; Chinese
   ``YYYY年MM月DD日[HH时MM分SS秒]``.  Two-digit years follow chrono (``< 70`` is 20xx) except in
   RFC 2822 (``< 50`` is 20xx).
4. jiff's civil ``DateTime`` (Temporal ISO 8601), read as UTC: ``T``/``t``/space, reduced precision
   (``2023-01-01T12``), basic format (``20230101T1200``), ``.``/``,`` and up to 9 fraction digits,
   RFC 9557 annotations.  A numeric offset (up to ±25:59:59) is *accepted and ignored*
   (``2023-01-01T12:00+05:30`` is 12:00 UTC, because it has no seconds and so failed step 2; so is
   ``...T12:00:00+24:00``, out of chrono's range) and ``Z`` is *rejected* (``2023-01-01T12:00Z`` is
   unparseable).

Everything that carries no time of day (date-only forms, time-only forms for the date, ``May 27
02:45:27`` for the year) takes it from the current clock, as the crate does: :func:`parse_date` and
:func:`event_time` use their ``now`` for that, so ``"2023-01-01"`` is 2023-01-01 at now's time of day.

**Arithmetic.**  Instants are kept as integer nanoseconds since the Unix epoch, so nothing overflows;
``datetime`` (years 1..9999, microseconds) only appears at the edges.  :func:`event_time` then applies
§4.3 in capture's order: skew or timestamp, ``offset`` overriding, the 23-hour clamp, *then* the
year check.  Because the clamp comes first, a result past year 9999 is "more than 23 hours in the
future" and becomes ``now``; only a result before year 0 becomes the epoch.  Where capture panics
instead (chrono's range, about ±262,000 years, is exceeded by ``offset`` near ±2**63, or a
``TimeDelta`` cannot hold ``offset = -2**63``), this module returns what the rules would give.

**Where Python cannot follow.**  A result in year 0 (valid in chrono) is returned as the epoch, the
nearest rule-abiding value; sub-microsecond digits are truncated (floor) at the end, never earlier;
a leap second ``:60`` counts as the next second; a ``sent_at`` outside years 1..9999 is ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache

__all__ = [
    "EPOCH",
    "FUTURE_CUTOFF",
    "capture_panics_on",
    "event_time",
    "parse_date",
    "rfc3339",
    "sent_at_from_body",
    "sent_at_from_query",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""What an event time outside years 0..9999 becomes (``DateTime::UNIX_EPOCH``)."""

FUTURE_CUTOFF = timedelta(hours=23)
"""An event time more than this ahead of ``now`` (compared in whole milliseconds) becomes ``now``."""

QUERY_SENT_AT_MIN_YEAR = 2021
"""The ``_`` query parameter is used only when its year, read as milliseconds, is later than 2020."""

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_CUTOFF_MS = 23 * 3600 * 1000
_I64_MAX = 2**63 - 1
_CHRONO_YEARS = (-262_144, 262_143)  # NaiveDate::MIN / MAX (i32::MIN >> 13, i32::MAX >> 13)
_TIME_CRATE_YEARS = (-9999, 9999)  # the time crate without its large-dates feature
_JIFF_YEARS = (-9999, 9999)

# Rust's char::is_whitespace and regex's Unicode \s: the White_Space property.  Python's str.isspace
# and re's \s also take U+001C..U+001F, so neither is used here.
_WS = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_S = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_DIGITS = frozenset("0123456789")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_SUFFIXES = ("uary", "ruary", "ch", "il", "", "e", "y", "ust", "tember", "ober", "ember", "ember")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Panic(Exception):
    """Capture's Rust code panics on this input (the connection is dropped, no answer is sent)."""


class _Refused(Exception):
    """dateparser returned an error, which ends its search (``Some(Err(..))`` in the crate)."""


# --------------------------------------------------------------------------------------------
# Calendar arithmetic on plain integers (proleptic Gregorian, any year)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 (H. Hinnant's algorithm, exact for every integer year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def _year_of(ns: int) -> int:
    return _civil_from_days(ns // _DAY_NS)[0]


def _weekday(days: int) -> int:
    """0 = Monday."""
    return (days + 3) % 7


_YEAR0_NS = _days_from_civil(0, 1, 1) * _DAY_NS
_MIN_NS = _days_from_civil(1, 1, 1) * _DAY_NS
_END_NS = _days_from_civil(10_000, 1, 1) * _DAY_NS


def _to_datetime(ns: int) -> datetime | None:
    """An aware UTC datetime, floored to the microsecond, or ``None`` outside years 1..9999."""
    if not _MIN_NS <= ns < _END_NS:
        return None
    return EPOCH + timedelta(microseconds=ns // 1000)


def _from_datetime(moment: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is read as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


# --------------------------------------------------------------------------------------------
# Small scanners shared by the parsers.  Each takes the text and a position and returns the new
# position (and a value), or None where the Rust code returns an error.


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _number(s: str, i: int, lo: int, hi: int) -> tuple[int, int] | None:
    """chrono's ``scan::number``: ``lo`` to ``hi`` ASCII digits; an i64 overflow is an error."""
    n, j = len(s), i
    while j < n and j - i < hi and s[j] in _DIGITS:
        j += 1
    if j - i < lo:
        return None
    value = int(s[i:j])
    return (value, j) if value <= _I64_MAX else None


def _two_digits(s: str, i: int) -> int | None:
    if i + 2 <= len(s) and s[i] in _DIGITS and s[i + 1] in _DIGITS:
        return int(s[i : i + 2])
    return None


def _short_name(s: str, i: int, names: tuple[str, ...]) -> int | None:
    """Index of the three ASCII letters at ``i`` in ``names``, case-insensitively."""
    prefix = s[i : i + 3]
    if len(prefix) == 3 and prefix.isascii():
        try:
            return names.index(prefix.lower())
        except ValueError:
            return None
    return None


def _fraction_ns(digits: str) -> int:
    """Nanoseconds from fraction digits: the first nine count, the rest are dropped."""
    return int(digits[:9].ljust(9, "0"))


# --------------------------------------------------------------------------------------------
# chrono: strict RFC 3339, RFC 2822 and the strftime-style parsing dateparser relies on

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+\-\u2212])([0-9]{2}):([0-9]{2}))\Z"
)


def _naive_ns(year: int, month: int, day: int, hour: int, minute: int, second: int, nano: int,
              lo_year: int = _CHRONO_YEARS[0], hi_year: int = _CHRONO_YEARS[1]) -> int | None:
    """Validated civil fields to nanoseconds (``second`` 60 is a leap second: the next second)."""
    if not (lo_year <= year <= hi_year and 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60 and 0 <= nano < _NS):
        return None
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    return seconds * _NS + nano


def _chrono_rfc3339(s: str) -> int | None:
    m = _RFC3339.match(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    offset = 0
    if sign:
        off_h, off_m = int(off_h), int(off_m)
        if off_m > 59 or off_h * 60 + off_m > 23 * 60 + 59:
            return None
        offset = (off_h * 3600 + off_m * 60) * (1 if sign == "+" else -1)
    naive = _naive_ns(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      _fraction_ns(fraction) if fraction else 0)
    return None if naive is None else naive - offset * _NS


def _chrono_offset(s: str, i: int, colon: str, zulu: bool, missing_minutes: bool,
                   minus_sign: bool) -> tuple[int, int] | None:
    """chrono's ``scan::timezone_offset``.  ``colon`` is ``"space"`` (colons and spaces skipped),
    ``"strict"`` (one colon required) or ``"none"``."""
    n = len(s)
    if zulu and i < n and s[i] in "Zz":
        return 0, i + 1
    if i >= n or not (s[i] in "+-" or (s[i] == "\u2212" and minus_sign)):
        return None
    sign = 1 if s[i] == "+" else -1
    hours = _two_digits(s, i + 1)
    if hours is None:
        return None
    i += 3
    if colon == "space":
        while i < n and (s[i] == ":" or s[i] in _WS):
            i += 1
    elif colon == "strict":
        if i >= n or s[i] != ":":
            return None
        i += 1
    if i == n:
        if not missing_minutes:
            return None
        minutes = 0
    elif i + 2 <= n and s[i] in "012345" and s[i + 1] in _DIGITS:
        minutes = int(s[i : i + 2])
        i += 2
    else:
        return None
    return sign * (hours * 3600 + minutes * 60), i


def _rfc2822_zone(s: str, i: int) -> tuple[int, int] | None:
    n, j = len(s), i
    while j < n and s[j].isascii() and s[j].isalpha():
        j += 1
    if j == i:
        return _chrono_offset(s, i, "none", zulu=False, missing_minutes=False, minus_sign=False)
    name = s[i:j].lower()
    hours = {"gmt": 0, "ut": 0, "z": 0, "edt": -4, "est": -5, "cdt": -5, "cst": -6, "mdt": -6,
             "mst": -7, "pdt": -7, "pst": -8}.get(name)
    if hours is not None:
        return hours * 3600, j
    if len(name) == 1 and name != "j":  # military zones: "consume but treat as -0000"
        return 0, j
    return None


def _rfc2822_comment(s: str, i: int) -> int | None:
    i = _skip_ws(s, i)
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


def _chrono_rfc2822(s: str) -> int | None:
    """chrono's ``parse_rfc2822`` followed by ``Parsed::to_datetime``."""
    n = len(s)
    i = _skip_ws(s, 0)
    weekday = _short_name(s, i, _WEEKDAYS)
    if weekday is not None:
        if i + 3 >= n or s[i + 3] != ",":
            return None
        i += 4
    i = _skip_ws(s, i)

    def space(k: int) -> int | None:
        j = _skip_ws(s, k)
        return j if j > k else None

    if (r := _number(s, i, 1, 2)) is None:
        return None
    day, i = r
    if (i := space(i)) is None or (month := _short_name(s, i, _MONTHS)) is None:
        return None
    if (i := space(i + 3)) is None or (r := _number(s, i, 2, 1 << 62)) is None:
        return None
    year, j = r
    if j - i == 2:
        year += 2000 if year < 50 else 1900
    elif j - i == 3:
        year += 1900
    if (i := space(j)) is None or (r := _number(s, i, 2, 2)) is None:
        return None
    hour, i = r
    i = _skip_ws(s, i)
    if i >= n or s[i] != ":":
        return None
    if (r := _number(s, _skip_ws(s, i + 1), 2, 2)) is None:
        return None
    minute, i = r
    second = 0
    k = _skip_ws(s, i)
    if k < n and s[k] == ":":
        if (r := _number(s, k + 1, 2, 2)) is None:
            return None
        second, i = r
    if (i := space(i)) is None or (r := _rfc2822_zone(s, i)) is None:
        return None
    offset, i = r
    while (after := _rfc2822_comment(s, i)) is not None:
        i = after
    if i != n or not -86_400 < offset < 86_400 or not 1 <= day <= 31:
        return None
    naive = _naive_ns(year, month + 1, day, hour, minute, second, 0)
    if naive is None or (weekday is not None and _weekday(naive // _DAY_NS) != weekday):
        return None
    return naive - offset * _NS


class _Parsed:
    """chrono's ``Parsed``: the fields one strftime-style parse has set."""

    year: int | None = None
    year_mod_100: int | None = None
    month: int | None = None
    day: int | None = None
    hour_div_12: int | None = None
    hour_mod_12: int | None = None
    minute: int | None = None
    second: int | None = None
    nanosecond: int | None = None
    offset: int | None = None

    def date_days(self) -> int | None:
        """``to_naive_date``: days since the epoch."""
        if self.year is not None:
            year = self.year
        elif self.year_mod_100 is not None:
            year = self.year_mod_100 + (2000 if self.year_mod_100 < 70 else 1900)
        else:
            return None
        if self.month is None or self.day is None:
            return None
        if not (_CHRONO_YEARS[0] <= year <= _CHRONO_YEARS[1]) or self.day > _days_in_month(year, self.month):
            return None
        return _days_from_civil(year, self.month, self.day)

    def time_ns(self) -> int | None:
        """``to_naive_time``: nanoseconds since midnight (a leap second runs past 86,400 s)."""
        if self.hour_div_12 is None or self.hour_mod_12 is None or self.minute is None:
            return None
        second = 0 if self.second is None else self.second
        nano = 0
        if second == 60:
            second, nano = 59, _NS
        if self.nanosecond is not None:
            if self.second is None:
                return None
            nano += self.nanosecond
        hour = self.hour_div_12 * 12 + self.hour_mod_12
        return ((hour * 60 + self.minute) * 60 + second) * _NS + nano

    def naive_ns(self) -> int | None:
        days, tod = self.date_days(), self.time_ns()
        return None if days is None or tod is None else days * _DAY_NS + tod


@cache
def _tokens(fmt: str) -> tuple[str, ...]:
    """A chrono format as items: ``" "`` (whitespace), ``"%x"`` specifiers and literal characters."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            width = 3 if fmt[i + 1] in ".#" else 2
            out.append(fmt[i : i + width])
            i += width
        elif c.isspace():
            while i < len(fmt) and fmt[i].isspace():
                i += 1
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return tuple(out)


_NUMERIC_WIDTH = {"%y": 2, "%m": 2, "%d": 2, "%H": 2, "%I": 2, "%M": 2, "%S": 2}
_NUMERIC_RANGE = {"%y": (0, 99), "%m": (1, 12), "%d": (1, 31), "%H": (0, 23), "%I": (1, 12),
                  "%M": (0, 59), "%S": (0, 60)}


def _strptime(s: str, fmt: str) -> _Parsed | None:
    """chrono's ``format::parse`` for the specifiers dateparser uses; the whole text must match."""
    p = _Parsed()
    n, i = len(s), 0
    for item in _tokens(fmt):
        if item == " ":
            i = _skip_ws(s, i)
        elif len(item) == 1:
            if i >= n or s[i] != item:
                return None
            i += 1
        elif item == "%Y":
            i = _skip_ws(s, i)
            if i < n and s[i] in "+-":
                r = _number(s, i + 1, 1, 1 << 62)
                if r is None:
                    return None
                value, i = (-r[0] if s[i] == "-" else r[0]), r[1]
            else:
                if (r := _number(s, i, 1, 4)) is None:
                    return None
                value, i = r
            if not -(2**31) <= value < 2**31:
                return None
            p.year = value
        elif item in _NUMERIC_WIDTH:
            if (r := _number(s, _skip_ws(s, i), 1, _NUMERIC_WIDTH[item])) is None:
                return None
            value, i = r
            lo, hi = _NUMERIC_RANGE[item]
            if not lo <= value <= hi:
                return None
            if item == "%y":
                p.year_mod_100 = value
            elif item == "%m":
                p.month = value
            elif item == "%d":
                p.day = value
            elif item == "%H":
                p.hour_div_12, p.hour_mod_12 = divmod(value, 12)
            elif item == "%I":
                p.hour_mod_12 = value % 12
            elif item == "%M":
                p.minute = value
            else:
                p.second = value
        elif item == "%.f":
            if i < n and s[i] == ".":
                j = i + 1
                while j < n and s[j] in _DIGITS:
                    j += 1
                if j == i + 1:
                    return None
                p.nanosecond, i = _fraction_ns(s[i + 1 : j]), j
        elif item == "%P":
            if i + 2 > n or s[i] not in "aApP" or s[i + 1] not in "mM":
                return None
            p.hour_div_12 = 1 if s[i] in "pP" else 0
            i += 2
        elif item in ("%b", "%B"):
            if (month := _short_name(s, i, _MONTHS)) is None:
                return None
            i += 3
            suffix = _MONTH_SUFFIXES[month]
            if item == "%B" and suffix and s[i : i + len(suffix)].lower() == suffix and s[i : i + len(suffix)].isascii():
                i += len(suffix)
            p.month = month + 1
        elif item == "%Z":  # a zone name is skipped, not read
            while i < n and s[i] not in _WS:
                i += 1
        elif item == "%#z":
            r = _chrono_offset(s, _skip_ws(s, i), "space", zulu=True, missing_minutes=True, minus_sign=True)
            if r is None:
                return None
            p.offset, i = r
        else:  # pragma: no cover - every format is written in this module
            raise AssertionError(f"unsupported chrono specifier {item!r}")
    return p if i == n else None


# --------------------------------------------------------------------------------------------
# dateparser 0.2.x (``Parse::new(&Local, None).parse``), with Local = UTC


class _Clock:
    """The current time, read only when a format needs it (dateparser calls ``Utc::now()``)."""

    __slots__ = ("_ns", "_read")

    def __init__(self, read: Callable[[], int] | None = None, ns: int | None = None) -> None:
        self._read, self._ns = read, ns

    @property
    def ns(self) -> int:
        if self._ns is None:
            self._ns = self._read()  # type: ignore[misc]
        return self._ns

    def time_of_day(self, offset: int = 0) -> int:
        return (self.ns + offset * _NS) % _DAY_NS

    def days(self, offset: int = 0) -> int:
        return (self.ns + offset * _NS) // _DAY_NS


def _dateparser_offset(text: str) -> int:
    """dateparser's ``timezone::parse``; an offset of a day or more panics in ``FixedOffset::east``."""
    if ":" in text:
        seconds = _dateparser_numeric_offset(text, colon=True)
    else:
        j = 0
        while j < len(text) and text[j].isascii() and text[j].isalpha():
            j += 1
        if j:
            hours = {"gmt": 0, "ut": 0, "utc": 0, "edt": -4, "est": -5, "cdt": -5, "cst": -6,
                     "mdt": -6, "mst": -7, "pdt": -7, "pst": -8}.get(text[:j].lower(), 0)
            seconds = hours * 3600  # unknown names count as UTC ("treat it as -0000")
        else:
            seconds = _dateparser_numeric_offset(text, colon=False)
    if not -86_400 < seconds < 86_400:
        raise _Panic(f"FixedOffset::east({seconds}) is out of bounds")
    return seconds


def _dateparser_numeric_offset(text: str, colon: bool) -> int:
    if not text or text[0] not in "+-":
        raise _Refused
    hours = _two_digits(text, 1)
    if hours is None:
        raise _Refused
    i = 3
    if colon:
        while i < len(text) and (text[i] == ":" or text[i] in _WS):
            i += 1
    if i + 2 > len(text) or text[i] not in "012345" or text[i + 1] not in _DIGITS:
        raise _Refused  # minutes are required; anything after them is ignored
    seconds = hours * 3600 + int(text[i : i + 2]) * 60
    return -seconds if text[0] == "-" else seconds


def _strip(text: str) -> str:
    i, j = 0, len(text)
    while i < j and text[i] in _WS:
        i += 1
    while j > i and text[j - 1] in _WS:
        j -= 1
    return text[i:j]


def _rx(pattern: str) -> re.Pattern[str]:
    """A dateparser regex: ``\\s`` is Unicode White_Space, ``$`` is the end of the text."""
    return re.compile(pattern.replace(r"\s", _S).replace("$", r"\Z"))


_AMPM = r"(am|pm|AM|PM)"
_TZ = r"(?P<tz>\s*[+-:a-zA-Z0-9]{3,6})"
_TZ_SPACED = r"(?P<tz>\s+[+-:a-zA-Z0-9]{3,6})"
_RX = {
    "unix": _rx(r"[0-9]{10,19}$"),
    "ymd_family": _rx(r"[0-9]{4}-[0-9]{2}"),
    "postgres": _rx(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?[+-:0-9]{3,6}$"),
    "ymd_hms": _rx(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*" + _AMPM + "?$"),
    "ymd_hms_z": _rx(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?" + _TZ + "$"),
    "ymd": _rx(r"[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    "ymd_z": _rx(r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _TZ + "$"),
    "hms_family": _rx(r"[0-9]{1,2}:[0-9]{2}"),
    "hms": _rx(r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?\s*" + _AMPM + "?$"),
    "hms_z": _rx(r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?\s*" + _AMPM + "?" + _TZ_SPACED + "$"),
    "month_ymd": _rx(r"[0-9]{4}-[a-zA-Z]{3,9}-[0-9]{2}$"),
    "month_mdy_family": _rx(r"[a-zA-Z]{3,9}\.?\s+[0-9]{1,2}"),
    "month_md_hms": _rx(r"[a-zA-Z]{3}\s+[0-9]{1,2}\s*(at)?\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?\s*" + _AMPM + "?$"),
    "month_mdy_hms": _rx(r"[a-zA-Z]{3,9}\.?\s+[0-9]{1,2},\s+[0-9]{2,4},?\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?\s*"
                         + _AMPM + "?$"),
    "month_mdy_hms_z": _rx(r"[a-zA-Z]{3,9}\s+[0-9]{1,2},?\s+[0-9]{4}\s*,?(at)?\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?\s*"
                           + _AMPM + "?" + _TZ_SPACED + "$"),
    "month_mdy": _rx(r"[a-zA-Z]{3,9}\.?\s+[0-9]{1,2},\s+[0-9]{2,4}$"),
    "month_dmy_family": _rx(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}"),
    "month_dmy_hms": _rx(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}\s+[0-9]{2,4},?\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?$"),
    "month_dmy": _rx(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}\s+[0-9]{2,4}$"),
    "slash_mdy_family": _rx(r"[0-9]{1,2}/[0-9]{1,2}"),
    "slash_mdy_hms": _rx(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*"
                         + _AMPM + "?$"),
    "slash_mdy": _rx(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}$"),
    "slash_ymd_family": _rx(r"[0-9]{4}/[0-9]{1,2}"),
    "slash_ymd_hms": _rx(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*"
                         + _AMPM + "?$"),
    "slash_ymd": _rx(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$"),
    "dot": _rx(r"[0-9]{1,4}.[0-9]{1,4}[0-9]{1,4}"),  # unanchored, "." is any character: the crate's own
    "mysql": _rx(r"[0-9]{6}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}"),  # unanchored
    "chinese_family": _rx("[0-9]{4}年[0-9]{2}月"),
    "chinese_ymd_hms": _rx("[0-9]{4}年[0-9]{2}月[0-9]{2}日[0-9]{2}时[0-9]{2}分[0-9]{2}秒$"),
    "chinese_ymd": _rx("[0-9]{4}年[0-9]{2}月[0-9]{2}日$"),
}
_HMS_AMPM = ("%H:%M:%S", "%H:%M", "%H:%M:%S%.f", "%I:%M:%S %P", "%I:%M %P")


def _first_local(text: str, formats: tuple[str, ...]) -> int | None:
    """``Local.datetime_from_str`` with each format in turn (Local is UTC)."""
    for fmt in formats:
        p = _strptime(text, fmt)
        if p is not None and (ns := p.naive_ns()) is not None:
            return ns
    return None


def _first_date(text: str, formats: tuple[str, ...], clock: _Clock, offset: int = 0) -> int | None:
    """``NaiveDate::parse_from_str``, then the current time of day in the zone ``offset``."""
    for fmt in formats:
        p = _strptime(text, fmt)
        if p is not None and (days := p.date_days()) is not None:
            return days * _DAY_NS + clock.time_of_day(offset) - offset * _NS
    return None


def _first_zoned(text: str, formats: tuple[str, ...], offset: int) -> int | None:
    """``NaiveDateTime::parse_from_str`` (the zone name skipped), then read in ``offset``."""
    ns = _first_local(text, formats)
    return None if ns is None else ns - offset * _NS


def _first_time(text: str, formats: tuple[str, ...], clock: _Clock, offset: int = 0) -> int | None:
    """``NaiveTime::parse_from_str`` on today's date in the zone ``offset``."""
    for fmt in formats:
        p = _strptime(text, fmt)
        if p is not None and (tod := p.time_ns()) is not None:
            return clock.days(offset) * _DAY_NS + tod - offset * _NS
    return None


def _zone(match: re.Match[str]) -> int:
    return _dateparser_offset(_strip(match.group("tz")))


def _unix(s: str, clock: _Clock) -> int | None:
    if not _RX["unix"].match(s) or int(s) > _I64_MAX:
        return None
    scale = {10: _NS, 13: 1_000_000, 19: 1}.get(len(s))
    return None if scale is None else int(s) * scale


def _ymd_family(s: str, clock: _Clock) -> int | None:
    if not _RX["ymd_family"].match(s):
        return None
    if (ns := _chrono_rfc3339(s)) is not None:
        return ns
    if _RX["postgres"].match(s):
        for fmt in ("%Y-%m-%d %H:%M:%S%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z"):
            p = _strptime(s, fmt)
            if p is not None and (ns := p.naive_ns()) is not None and -86_400 < p.offset < 86_400:
                return ns - p.offset * _NS
    if _RX["ymd_hms"].match(s) and (ns := _first_local(s, tuple("%Y-%m-%d " + f for f in _HMS_AMPM))) is not None:
        return ns
    if (m := _RX["ymd_hms_z"].match(s)) is not None:
        offset = _zone(m)
        formats = ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M:%S%.f %Z")
        if (ns := _first_zoned(s, formats, offset)) is not None:
            return ns
    if _RX["ymd"].match(s) and (ns := _first_date(s, ("%Y-%m-%d",), clock)) is not None:
        return ns
    if (m := _RX["ymd_z"].match(s)) is not None:
        offset = _zone(m)
        return _first_date(s, ("%Y-%m-%d %Z",), clock, offset)
    return None


def _hms_family(s: str, clock: _Clock) -> int | None:
    if not _RX["hms_family"].match(s):
        return None
    if _RX["hms"].match(s):
        ns = _first_time(s, ("%H:%M:%S", "%H:%M", "%I:%M:%S %P", "%I:%M %P"), clock)
        if ns is not None:
            return ns
    if (m := _RX["hms_z"].match(s)) is not None:
        offset = _zone(m)
        formats = ("%H:%M:%S %Z", "%H:%M %Z", "%I:%M:%S %P %Z", "%I:%M %P %Z")
        return _first_time(s, formats, clock, offset)
    return None


def _month_ymd(s: str, clock: _Clock) -> int | None:
    if not _RX["month_ymd"].match(s):
        return None
    return _first_date(s, ("%Y-%m-%d", "%Y-%b-%d"), clock)


def _month_mdy_family(s: str, clock: _Clock) -> int | None:
    if not _RX["month_mdy_family"].match(s):
        return None
    if _RX["month_md_hms"].match(s):
        with_year = f"{_civil_from_days(clock.days())[0]} {s}"
        if (ns := _first_local(with_year, ("%Y %b %d at %I:%M %P", "%Y %b %d %H:%M:%S"))) is not None:
            return ns
    if _RX["month_mdy_hms"].match(s):
        text = s.replace(", ", " ").replace(". ", " ")
        formats = ("%B %d %Y %H:%M:%S", "%B %d %Y %H:%M", "%B %d %Y %I:%M:%S %P", "%B %d %Y %I:%M %P")
        if (ns := _first_local(text, formats)) is not None:
            return ns
    if (m := _RX["month_mdy_hms_z"].match(s)) is not None:
        offset = _zone(m)
        text = s.replace(",", "").replace("at", "")
        formats = ("%B %d %Y %H:%M:%S %Z", "%B %d %Y %H:%M %Z", "%B %d %Y %I:%M:%S %P %Z", "%B %d %Y %I:%M %P %Z")
        if (ns := _first_zoned(text, formats, offset)) is not None:
            return ns
    if _RX["month_mdy"].match(s):
        text = s.replace(", ", " ").replace(". ", " ")
        return _first_date(text, ("%B %d %y", "%B %d %Y"), clock)
    return None


def _month_dmy_family(s: str, clock: _Clock) -> int | None:
    if not _RX["month_dmy_family"].match(s):
        return None
    if _RX["month_dmy_hms"].match(s):
        text = s.replace(", ", " ")
        if (ns := _first_local(text, tuple("%d %B %Y " + f for f in _HMS_AMPM))) is not None:
            return ns
    if _RX["month_dmy"].match(s):
        return _first_date(s, ("%d %B %y", "%d %B %Y"), clock)
    return None


def _slash_mdy_family(s: str, clock: _Clock) -> int | None:
    if not _RX["slash_mdy_family"].match(s):
        return None
    if _RX["slash_mdy_hms"].match(s):
        formats = tuple(f"%m/%d/{y} {f}" for y in ("%y", "%Y") for f in _HMS_AMPM)
        if (ns := _first_local(s, formats)) is not None:
            return ns
    if _RX["slash_mdy"].match(s):
        return _first_date(s, ("%m/%d/%y", "%m/%d/%Y"), clock)
    return None


def _slash_ymd_family(s: str, clock: _Clock) -> int | None:
    if not _RX["slash_ymd_family"].match(s):
        return None
    formats = tuple("%Y/%m/%d " + f for f in _HMS_AMPM)
    if _RX["slash_ymd_hms"].match(s) and (ns := _first_local(s, formats)) is not None:
        return ns
    if _RX["slash_ymd"].match(s):
        return _first_date(s, ("%Y/%m/%d",), clock)
    return None


def _dot(s: str, clock: _Clock) -> int | None:
    if not _RX["dot"].search(s):
        return None
    ns = _first_date(s, ("%m.%d.%y", "%m.%d.%Y", "%Y.%m.%d"), clock)
    if ns is None:  # "2014.03": the month's day is today's (UTC) day
        ns = _first_date(f"{s}.{_civil_from_days(clock.days())[2]}", ("%Y.%m.%d",), clock)
    return ns


def _mysql(s: str, clock: _Clock) -> int | None:
    return _first_local(s, ("%y%m%d %H:%M:%S",)) if _RX["mysql"].search(s) else None


def _chinese(s: str, clock: _Clock) -> int | None:
    if not _RX["chinese_family"].match(s):
        return None
    if _RX["chinese_ymd_hms"].match(s) and (ns := _first_local(s, ("%Y年%m月%d日%H时%M分%S秒",))) is not None:
        return ns
    if _RX["chinese_ymd"].match(s):
        return _first_date(s, ("%Y年%m月%d日",), clock)
    return None


_DATEPARSER_FAMILIES = (
    _unix, lambda s, clock: _chrono_rfc2822(s), _ymd_family, _hms_family, _month_ymd, _month_mdy_family,
    _month_dmy_family, _slash_mdy_family, _slash_ymd_family, _dot, _mysql, _chinese,
)


def _dateparser(s: str, clock: _Clock) -> int | None:
    try:
        for family in _DATEPARSER_FAMILIES:
            ns = family(s, clock)
            if ns is not None:
                return ns
    except _Refused:
        pass
    return None


# --------------------------------------------------------------------------------------------
# jiff: ``str::parse::<civil::DateTime>`` (Temporal ISO 8601), then read as UTC


def _jiff_offset(s: str, i: int, subminute: bool) -> int | None:
    """Where a numeric offset starting at ``i`` ends (its value is never used), or None."""
    n = len(s)
    if i >= n or s[i] not in "+-":
        return None
    hours = _two_digits(s, i + 1)
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
        elif _two_digits(s, i) is None:
            return i
        value = _two_digits(s, i)
        if value is None or value > 59:
            return None
        i += 2
    nano, i = _jiff_fraction(s, i)
    return None if nano < 0 else i


def _jiff_fraction(s: str, i: int) -> tuple[int, int]:
    """An optional ``.``/``,`` fraction of 1..9 digits; ``(-1, i)`` when malformed."""
    if i >= len(s) or s[i] not in ".,":
        return 0, i
    j = i + 1
    while j < len(s) and j - i <= 9 and s[j] in _DIGITS:
        j += 1
    return (_fraction_ns(s[i + 1 : j]), j) if j > i + 1 else (-1, i)


_IANA_PART = re.compile(r"[A-Za-z._][A-Za-z0-9._+\-]*")
_ANNOTATION = re.compile(r"\[(!?)[a-z_][a-z0-9_\-]*=[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\]")


def _jiff_annotations(s: str, i: int) -> int | None:
    """Where RFC 9557 annotations starting at ``i`` end: one optional time zone (an IANA name or an
    offset), then key=value ones.  A critical key=value annotation is an error: jiff supports none."""
    n = len(s)
    if i >= n or s[i] != "[":
        return i
    j = i + 1 + s.startswith("!", i + 1)
    if j < n and s[j] in "+-":
        k = _jiff_offset(s, j, subminute=False)
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


def _jiff_civil(s: str) -> int | None:
    n = len(s)
    if s[:1] in ("+", "-"):
        if len(s) < 7 or not all(c in _DIGITS for c in s[1:7]):
            return None
        year = int(s[1:7]) * (-1 if s[0] == "-" else 1)
        if s[0] == "-" and year == 0:
            return None
        i = 7
    else:
        if len(s) < 4 or not all(c in _DIGITS for c in s[:4]):
            return None
        year, i = int(s[:4]), 4
    extended = s.startswith("-", i)
    fields = []
    for _ in ("month", "day"):
        if extended:
            if not s.startswith("-", i):
                return None
            i += 1
        elif s.startswith("-", i):
            return None
        value = _two_digits(s, i)
        if value is None:
            return None
        fields.append(value)
        i += 2
    month, day = fields
    if not (_JIFF_YEARS[0] <= year <= _JIFF_YEARS[1] and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    hour = minute = second = nano = 0
    if i < n and s[i] in " Tt":
        hour = _two_digits(s, i + 1)
        if hour is None or hour > 23:
            return None
        i += 3
        time_extended = i < n and s[i] == ":"
        units = []
        for _ in ("minute", "second"):
            if time_extended:
                if not s.startswith(":", i):
                    break
                i += 1
            elif _two_digits(s, i) is None:
                break
            value = _two_digits(s, i)
            if value is None or value > (60 if units else 59):
                return None
            units.append(value)
            i += 2
        if units:
            minute = units[0]
        if len(units) == 2:
            second = min(units[1], 59)  # jiff clamps a leap second
            nano, i = _jiff_fraction(s, i)
            if nano < 0:
                return None
        if i < n and s[i] in "Zz":
            return None  # a civil datetime with a Zulu offset is an error in jiff
        if i < n and s[i] in "+-":
            i = _jiff_offset(s, i, subminute=True)  # parsed, then ignored
            if i is None:
                return None
    end = _jiff_annotations(s, i)
    if end != n:
        return None
    return _naive_ns(year, month, day, hour, minute, second, nano, *_JIFF_YEARS)


# --------------------------------------------------------------------------------------------
# capture's parse_date


_NORMALIZE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?[+-][0-9]{2}\Z")


def _normalize(text: str) -> str:
    """``normalize_timezone_format``; panics where capture slices the text inside a character."""
    if not text.isascii():
        raw = text.encode("utf-8")
        if len(raw) >= 3 and raw[-3] & 0xC0 == 0x80:
            raise _Panic("byte index is not a char boundary")
        return text  # the pattern below is ASCII-only, so nothing non-ASCII is normalized
    if len(text) >= 3 and text[-3] in "+-" and text[-2] in _DIGITS and text[-1] in _DIGITS and _NORMALIZE.match(text):
        return text + ":00"
    return text


_PLAIN_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
"""The timestamps SDKs actually send: for these chrono and ``datetime.fromisoformat`` agree exactly."""


def _parse_ns(text: str, clock: _Clock) -> int | None:
    """capture's ``parse_date`` as nanoseconds since the epoch; raises :class:`_Panic`."""
    if _PLAIN_RFC3339.fullmatch(text):  # the hot path: one C call instead of the scanners below
        try:
            return _from_datetime(datetime.fromisoformat(text))
        except ValueError:  # e.g. February 30th: let the faithful parsers decide
            pass
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None  # a lone surrogate: serde_json rejects the request before capture reads it
    text = _normalize(text)
    for parse in (_chrono_rfc3339, lambda s: _dateparser(s, clock), _jiff_civil):
        ns = parse(text)
        if ns is not None:
            return ns
    return None


def _clock(now: datetime | None) -> _Clock:
    if now is None:
        return _Clock(lambda: _from_datetime(datetime.now(UTC)))
    return _Clock(ns=_from_datetime(now))


def parse_date(text: str, *, now: datetime | None = None) -> datetime | None:
    """A client ``timestamp`` as capture reads it, as an aware UTC datetime; ``None`` if capture cannot
    read it, if it falls outside years 1..9999, or if capture would panic on it.

    ``now`` supplies the time of day of date-only forms and the date of time-only forms (default: the
    clock).  Never raises.
    """
    if not isinstance(text, str):
        return None
    try:
        ns = _parse_ns(text, _clock(now))
    except _Panic:
        return None
    return None if ns is None else _to_datetime(ns)


def capture_panics_on(text: str) -> bool:
    """Whether capture's ``parse_date`` panics on this timestamp instead of returning.

    Two places do, inferred from the code rather than seen: ``normalize_timezone_format`` slices the
    last three *bytes* off the text, which panics when that cuts a multibyte character (``"€ab"``),
    and dateparser builds a zone offset of a day or more with ``FixedOffset::east``, which panics
    (``"2023-01-01 12:00:00 +2400"``).  No catch-panic layer is mounted, so the connection is dropped.
    """
    if not isinstance(text, str):
        return False
    try:
        _parse_ns(text, _clock(EPOCH))
    except _Panic:
        return True
    return False


# --------------------------------------------------------------------------------------------
# sent_at


def _f64_fraction(s: str, i: int) -> tuple[float | None, int]:
    """The time crate's ``float`` tail: ``.``/``,`` and at least one digit, summed in f64."""
    if i >= len(s) or s[i] not in ".,":
        return None, i
    if i + 1 >= len(s) or s[i + 1] not in _DIGITS:
        return -1.0, i
    value, divisor, j = int(s[i + 1]) / 10.0, 10.0, i + 2
    while j < len(s) and s[j] in _DIGITS:
        divisor *= 10.0
        value += int(s[j]) / divisor
        j += 1
    return value, j


def _round_half_away(x: float) -> int:
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole


def _iso_date(s: str) -> tuple[int, str, int] | None:
    """The time crate's ISO 8601 date: calendar, ordinal or week date, basic or extended.
    Returns (days, kind, end) with kind ``"extended"`` or ``"basic"``."""
    n = len(s)
    if s[:1] in ("+", "-"):
        if not all(c in _DIGITS for c in s[1:7]) or len(s) < 7:
            return None
        year, i = int(s[1:7]) * (-1 if s[0] == "-" else 1), 7
    else:
        if len(s) < 4 or not all(c in _DIGITS for c in s[:4]):
            return None
        year, i = int(s[:4]), 4
    kind = "extended" if s.startswith("-", i) else "basic"
    i += kind == "extended"
    if not _TIME_CRATE_YEARS[0] <= year <= _TIME_CRATE_YEARS[1]:
        return None
    month, j = _two_digits(s, i), i + 2
    if month is not None and 1 <= month <= 12 and (kind == "basic" or s.startswith("-", j)):
        j += kind == "extended"
        day = _two_digits(s, j)
        if day is not None and day != 0:  # otherwise an ordinal or week date may still follow
            if day > _days_in_month(year, month):
                return None
            return _days_from_civil(year, month, day), kind, j + 2
    if i + 3 <= n and all(c in _DIGITS for c in s[i : i + 3]):
        ordinal = int(s[i : i + 3])
        if not 1 <= ordinal <= (366 if _is_leap(year) else 365):
            return None
        return _days_from_civil(year, 1, 1) + ordinal - 1, kind, i + 3
    if s.startswith("W", i):
        week, j = _two_digits(s, i + 1), i + 3
        if week is None or week == 0:
            return None
        if kind == "extended":
            if not s.startswith("-", j):
                return None
            j += 1
        if j >= n or s[j] not in "1234567":
            return None
        jan4 = _days_from_civil(year, 1, 4)
        week1_monday = jan4 - _weekday(jan4)
        next_week1 = _days_from_civil(year + 1, 1, 4)
        weeks_in_year = (next_week1 - _weekday(next_week1) - week1_monday) // 7
        if week > weeks_in_year:
            return None
        return week1_monday + (week - 1) * 7 + int(s[j]) - 1, kind, j + 1
    return None


def _iso8601_ns(s: str) -> int | None:
    """``OffsetDateTime::parse(value, &Iso8601::DEFAULT)``: date, ``T``, time, offset, nothing else."""
    date = _iso_date(s)
    if date is None:
        return None
    days, kind, i = date
    n = len(s)
    if not s.startswith("T", i):
        return None
    hour = _two_digits(s, i + 1)
    if hour is None or hour > 23:
        return None
    i += 3
    minute = second = nano = 0
    frac, i = _f64_fraction(s, i)
    if frac is not None:  # a fractional hour ends the time
        if frac < 0:
            return None
        minute = int(frac * 60.0)
        second = int(math.fmod(frac * 3600.0, 60.0))
        nano = int(math.fmod(frac * 3.6e12, 1e9))
    else:
        if s.startswith(":", i):
            if kind == "basic":
                return None
            i += 1
        minute = _two_digits(s, i)
        if minute is None:
            if kind == "extended":
                return None
            minute = 0
        else:
            i += 2
            frac, i = _f64_fraction(s, i)
            if frac is not None:  # a fractional minute ends the time
                if frac < 0:
                    return None
                second = int(frac * 60.0)
                nano = int(math.fmod(frac * 6e10, 1e9))
            elif kind == "basic" or s.startswith(":", i):
                i += kind == "extended"
                second = _two_digits(s, i)
                if second is None:
                    if kind == "extended":
                        return None
                    second = 0
                else:
                    i += 2
                    frac, i = _f64_fraction(s, i)
                    if frac is not None:
                        if frac < 0:
                            return None
                        nano = _round_half_away(frac * 1e9)
    if minute > 59 or second > 59 or nano >= _NS:
        return None
    # offset: Z, or a sign and hours, an optional colon (extended dates only) and optional minutes
    if s.startswith("Z", i):
        offset, i = 0, i + 1
    elif i < n and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        off_h = _two_digits(s, i + 1)
        if off_h is None or off_h > 23:
            return None
        i += 3
        if kind == "extended" and s.startswith(":", i):
            i += 1
        off_m = _two_digits(s, i)
        if off_m is None:
            off_m = 0
        elif off_m > 59:
            return None
        else:
            i += 2
        offset = sign * (off_h * 3600 + off_m * 60)
    else:
        return None
    if i != n:
        return None
    return (days * 86_400 + hour * 3600 + minute * 60 + second - offset) * _NS + nano


def sent_at_from_body(value: object) -> datetime | None:
    """The batch body's ``sent_at``: a string in ISO 8601 as the time crate's ``Iso8601::DEFAULT``
    reads it, else ``None`` (an unparseable value is ignored, contract §4.3).  Never raises."""
    if not isinstance(value, str):
        return None
    try:
        ns = _iso8601_ns(value)
    except (ValueError, OverflowError):  # pragma: no cover - defensive: the parser only slices text
        return None
    return None if ns is None else _to_datetime(ns)


_I64_TEXT = re.compile(r"[+-]?[0-9]+\Z")


def sent_at_from_query(value: str | None) -> datetime | None:
    """The ``_`` query parameter: integer milliseconds, used only when its year is later than 2020
    (so a value in seconds, which lands in 1970, is ignored).  ``None`` for a missing, non-integer or
    out-of-range value.  (Capture itself rejects the request with 400 when ``_`` is not an i64: axum's
    ``Query`` extractor fails; this function only reads the value.)  Never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        millis = value
    elif isinstance(value, str) and _I64_TEXT.match(value):
        millis = int(value)
    else:
        return None
    if not -(2**63) <= millis <= _I64_MAX:
        return None
    ns = millis * 1_000_000
    year = _year_of(ns)
    if not (_TIME_CRATE_YEARS[0] <= year <= _TIME_CRATE_YEARS[1]) or year < QUERY_SENT_AT_MIN_YEAR:
        return None
    return _to_datetime(ns)


# --------------------------------------------------------------------------------------------
# event time and RFC 3339 output


def event_time(now: datetime, timestamp: str | None, offset: int | None, sent_at: datetime | None,
               ignore_sent_at: bool) -> datetime:
    """The event time capture computes (contract §4.3), as an aware UTC datetime in years 1..9999.

    1. start from ``now``;
    2. if ``timestamp`` parses: ``now + (timestamp - sent_at)`` when ``sent_at`` is known and not
       ignored (``$ignore_sent_at``), else ``timestamp``;
    3. ``offset`` (milliseconds before ``now``), when not None, overrides step 2;
    4. more than 23 hours (in whole milliseconds) after ``now`` becomes ``now``;
    5. outside years 0..9999 becomes the Unix epoch (year 0, which Python lacks, too).

    A ``timestamp`` that is not a string, or that capture cannot parse, counts as absent.  Never
    raises for any text, any integer ``offset`` or any ``sent_at``.
    """
    now_ns = _from_datetime(now)
    result = now_ns
    if isinstance(timestamp, str):
        try:
            parsed = _parse_ns(timestamp, _Clock(ns=now_ns))
        except _Panic:
            parsed = None
        if parsed is not None:
            if sent_at is not None and not ignore_sent_at:
                result = parsed - (_from_datetime(sent_at) - now_ns)
            else:
                result = parsed
    if offset is not None:
        result = now_ns - int(offset) * 1_000_000
    if (result - now_ns) // 1_000_000 > _CUTOFF_MS:
        result = now_ns
    if not _YEAR0_NS <= result < _END_NS:  # a year outside 0..9999
        result = 0
    moment = _to_datetime(result)
    return EPOCH if moment is None else moment


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as capture writes times: ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z``, the fraction
    left out when zero and cut to milliseconds when that loses nothing (chrono's ``AutoSi``).  A naive
    datetime is read as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    micros = moment.microsecond
    spec = "seconds" if micros == 0 else "milliseconds" if micros % 1000 == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
