"""The ``dateparser`` crate 0.2.x as capture calls it: ``Parse::new(&Local, None).parse``, Local = UTC.

The crate tries families of formats in a fixed order and the first that yields an instant wins.  A
family runs only when its guard regex matches; then its parse functions run in order: each one's regex
must match, then its chrono formats are tried in order on the (possibly rewritten) text, and the first
that parses is completed into an instant.  :data:`_FAMILIES` is that order, named after the crate's
functions (``datetime.rs``), so it can be checked against upstream in one place.

A bad zone offset is an error that ends the whole search (``Some(Err(..))``), and an offset of a day or
more panics in ``FixedOffset::east``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.spec.timestamps._calendar import DAY_NS, NS, Clock, civil_from_days
from harness.spec.timestamps._chrono import ZONE_HOURS, rfc2822, rfc3339
from harness.spec.timestamps._scan import DIGITS, I64_MAX, Panic, two_digits
from harness.spec.timestamps._strptime import strptime
from harness.spec.unicode import WHITESPACE_CLASS, WHITESPACE_SET, rust_trim

_ZONE_HOURS = {name: hours for name, hours in ZONE_HOURS.items() if name != "z"} | {"utc": 0}
"""dateparser's zone names (``timezone::parse_offset_2822``): chrono's RFC 2822 table without ``z`` and
with ``utc``.  Any other name, ``z`` included, counts as UTC, where chrono's RFC 2822 parser refuses it."""


class _Refused(Exception):
    """dateparser returned an error, which ends its search (``Some(Err(..))`` in the crate)."""


def parse(s: str, clock: Clock) -> int | None:
    """The first instant a family of :data:`_FAMILIES` reads from ``s``; raises :class:`Panic`."""
    try:
        for guard, functions in _FAMILIES.values():
            if guard is not None and guard(s) is None:
                continue
            for function in functions.values():
                ns = function.run(s, clock)
                if ns is not None:
                    return ns
    except _Refused:
        pass
    return None


_Matcher = Callable[[str], re.Match[str] | None]
_Complete = Callable[[str, tuple[str, ...], Clock, int], int | None]
"""Turns a text into an instant with the function's formats, given the clock and the zone read from
the regex's ``tz`` group (seconds east of UTC, 0 without one)."""


@dataclass(frozen=True)
class _Function:
    """One of the crate's parse functions."""

    regex: _Matcher | None
    """Must match first (``None``: nothing to match)."""
    complete: _Complete
    formats: tuple[str, ...] = ()
    """chrono formats, tried in order."""
    rewrite: Callable[[str, Clock], str] | None = None
    """What the crate does to the text before it tries the formats."""

    def run(self, s: str, clock: Clock) -> int | None:
        """The instant read from ``s``, or ``None`` to go on with the next function; a zone the crate
        cannot read ends the search (raises)."""
        east = 0
        if self.regex is not None:
            m = self.regex(s)
            if m is None:
                return None
            if "tz" in m.re.groupindex:
                east = _zone_offset(rust_trim(m.group("tz")))
        text = s if self.rewrite is None else self.rewrite(s, clock)
        return self.complete(text, self.formats, clock, east)


# --------------------------------------------------------------------------------------------
# Zone offsets: ``timezone::parse``


def _zone_offset(text: str) -> int:
    """Seconds east of UTC; an offset of a day or more panics in ``FixedOffset::east``."""
    if ":" in text:
        seconds = _numeric_offset(text, colon=True)
    else:
        j = 0
        while j < len(text) and text[j].isascii() and text[j].isalpha():
            j += 1
        if j:
            seconds = _ZONE_HOURS.get(text[:j].lower(), 0) * 3600
        else:
            seconds = _numeric_offset(text, colon=False)
    if not -86_400 < seconds < 86_400:
        raise Panic(f"FixedOffset::east({seconds}) is out of bounds")
    return seconds


def _numeric_offset(text: str, colon: bool) -> int:
    """``±HH[:]MM``: with ``colon``, any colons and whitespace may separate hours and minutes."""
    if not text or text[0] not in "+-":
        raise _Refused
    hours = two_digits(text, 1)
    if hours is None:
        raise _Refused
    i = 3
    if colon:
        while i < len(text) and (text[i] == ":" or text[i] in WHITESPACE_SET):
            i += 1
    if i + 2 > len(text) or text[i] not in "012345" or text[i + 1] not in DIGITS:
        raise _Refused  # minutes are required; anything after them is ignored
    seconds = hours * 3600 + int(text[i : i + 2]) * 60
    return -seconds if text[0] == "-" else seconds


# --------------------------------------------------------------------------------------------
# Completions: what the crate does with a successful chrono parse


def _unix(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    """10, 13 or 19 digits: seconds, milliseconds or nanoseconds, by digit count, not magnitude."""
    scale = {10: NS, 13: 1_000_000, 19: 1}.get(len(text))
    return None if scale is None or int(text) > I64_MAX else int(text) * scale


def _rfc2822(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    return rfc2822(text)


def _rfc3339(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    return rfc3339(text)


def _postgres(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    """``DateTime::parse_from_str``: the offset is in the format (``%#z``) and must be under a day."""
    for fmt in formats:
        p = strptime(text, fmt)
        if p is None or p.offset is None or not -86_400 < p.offset < 86_400:
            continue
        if (ns := p.naive_ns()) is not None:
            return ns - p.offset * NS
    return None


def _datetime(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    """``Local.datetime_from_str`` or ``NaiveDateTime::parse_from_str`` (a zone name skipped), read
    in the zone ``east``."""
    for fmt in formats:
        p = strptime(text, fmt)
        if p is not None and (ns := p.naive_ns()) is not None:
            return ns - east * NS
    return None


def _date(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    """``NaiveDate::parse_from_str``, then the current time of day in the zone ``east``."""
    for fmt in formats:
        p = strptime(text, fmt)
        if p is not None and (days := p.date_days()) is not None:
            return days * DAY_NS + clock.time_of_day(east) - east * NS
    return None


def _time(text: str, formats: tuple[str, ...], clock: Clock, east: int) -> int | None:
    """``NaiveTime::parse_from_str``, on today's date in the zone ``east``."""
    for fmt in formats:
        p = strptime(text, fmt)
        if p is not None and (tod := p.time_ns()) is not None:
            return clock.days(east) * DAY_NS + tod - east * NS
    return None


# --------------------------------------------------------------------------------------------
# Rewrites of the text before the formats are tried


def _with_this_year(s: str, clock: Clock) -> str:
    """``May 27 02:45:27`` has no year: the crate puts the current one (UTC) in front."""
    return f"{civil_from_days(clock.days())[0]} {s}"


def _with_todays_day(s: str, clock: Clock) -> str:
    """``2014.03`` has no day: the crate appends today's (UTC)."""
    return f"{s}.{civil_from_days(clock.days())[2]}"


def _spaces_for_separators(s: str, clock: Clock) -> str:
    """``May 8, 2009`` and ``oct. 7`` become ``May 8 2009`` and ``oct 7`` for chrono's ``%B %d``."""
    return s.replace(", ", " ").replace(". ", " ")


def _spaces_for_commas(s: str, clock: Clock) -> str:
    """``12 Feb 2006, 19:17`` becomes ``12 Feb 2006 19:17``."""
    return s.replace(", ", " ")


def _without_commas_and_at(s: str, clock: Clock) -> str:
    """The crate's own cleanup, which also deletes ``at`` inside words (``Saturday``)."""
    return s.replace(",", "").replace("at", "")


# --------------------------------------------------------------------------------------------
# The families, in the crate's order


def _rx(pattern: str) -> re.Pattern[str]:
    """A dateparser regex: ``\\s`` is Unicode White_Space, ``$`` is the end of the text."""
    return re.compile(pattern.replace(r"\s", WHITESPACE_CLASS).replace("$", r"\Z"))


def _start(pattern: str) -> _Matcher:
    """The regex anchored at the start of the text (``^`` in the crate)."""
    return _rx(pattern).match


def _anywhere(pattern: str) -> _Matcher:
    """The regex unanchored, as the crate writes a few."""
    return _rx(pattern).search


def _then_times(*dates: str) -> tuple[str, ...]:
    """Each date format followed by a space and each of the crate's usual time formats."""
    return tuple(f"{date} {time}" for date in dates for time in _HMS)


_HMS = ("%H:%M:%S", "%H:%M", "%H:%M:%S%.f", "%I:%M:%S %P", "%I:%M %P")
_AMPM = r"(am|pm|AM|PM)"
_TZ = r"(?P<tz>\s*[+-:a-zA-Z0-9]{3,6})"
_TZ_SPACED = r"(?P<tz>\s+[+-:a-zA-Z0-9]{3,6})"
_YMD_HM = r"[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?"
_HM = r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?\s*" + _AMPM + "?"
_MONTH_MDY = r"[a-zA-Z]{3,9}\.?\s+[0-9]{1,2},\s+[0-9]{2,4}"
_HM_F_AMPM = r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*" + _AMPM + "?$"

_FAMILIES: dict[str, tuple[_Matcher | None, dict[str, _Function]]] = {
    "unix_timestamp": (None, {"unix_timestamp": _Function(_start(r"[0-9]{10,19}$"), _unix)}),
    "rfc2822": (None, {"rfc2822": _Function(None, _rfc2822)}),
    "ymd_family": (_start(r"[0-9]{4}-[0-9]{2}"), {
        "rfc3339": _Function(None, _rfc3339),  # never wins: capture has tried the same parser (step 2)
        "postgres_timestamp": _Function(_start(_YMD_HM + r"[+-:0-9]{3,6}$"), _postgres,
                                        ("%Y-%m-%d %H:%M:%S%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z")),
        "ymd_hms": _Function(_start(_YMD_HM + r"\s*" + _AMPM + "?$"), _datetime, _then_times("%Y-%m-%d")),
        "ymd_hms_z": _Function(_start(_YMD_HM + _TZ + "$"), _datetime,
                               ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M:%S%.f %Z")),
        "ymd": _Function(_start(r"[0-9]{4}-[0-9]{2}-[0-9]{2}$"), _date, ("%Y-%m-%d",)),
        "ymd_z": _Function(_start(r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _TZ + "$"), _date, ("%Y-%m-%d %Z",)),
    }),
    "hms_family": (_start(r"[0-9]{1,2}:[0-9]{2}"), {
        "hms": _Function(_start(_HM + "$"), _time, ("%H:%M:%S", "%H:%M", "%I:%M:%S %P", "%I:%M %P")),
        "hms_z": _Function(_start(_HM + _TZ_SPACED + "$"), _time,
                           ("%H:%M:%S %Z", "%H:%M %Z", "%I:%M:%S %P %Z", "%I:%M %P %Z")),
    }),
    "month_ymd": (None, {
        "month_ymd": _Function(_start(r"[0-9]{4}-[a-zA-Z]{3,9}-[0-9]{2}$"), _date, ("%Y-%m-%d", "%Y-%b-%d")),
    }),
    "month_mdy_family": (_start(r"[a-zA-Z]{3,9}\.?\s+[0-9]{1,2}"), {
        "month_md_hms": _Function(_start(r"[a-zA-Z]{3}\s+[0-9]{1,2}\s*(at)?\s+" + _HM + "$"), _datetime,
                                  ("%Y %b %d at %I:%M %P", "%Y %b %d %H:%M:%S"), _with_this_year),
        "month_mdy_hms": _Function(
            _start(_MONTH_MDY + r",?\s+" + _HM + "$"), _datetime,
            ("%B %d %Y %H:%M:%S", "%B %d %Y %H:%M", "%B %d %Y %I:%M:%S %P", "%B %d %Y %I:%M %P"),
            _spaces_for_separators),
        "month_mdy_hms_z": _Function(
            _start(r"[a-zA-Z]{3,9}\s+[0-9]{1,2},?\s+[0-9]{4}\s*,?(at)?\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?\s*" + _AMPM
                   + "?" + _TZ_SPACED + "$"), _datetime,
            ("%B %d %Y %H:%M:%S %Z", "%B %d %Y %H:%M %Z", "%B %d %Y %I:%M:%S %P %Z", "%B %d %Y %I:%M %P %Z"),
            _without_commas_and_at),
        "month_mdy": _Function(_start(_MONTH_MDY + "$"), _date, ("%B %d %y", "%B %d %Y"), _spaces_for_separators),
    }),
    "month_dmy_family": (_start(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}"), {
        "month_dmy_hms": _Function(_start(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}\s+[0-9]{2,4},?\s+[0-9]{1,2}:[0-9]{2}"
                                          r"(:[0-9]{2})?(\.[0-9]{1,9})?$"), _datetime,
                                   _then_times("%d %B %Y"), _spaces_for_commas),
        "month_dmy": _Function(_start(r"[0-9]{1,2}\s+[a-zA-Z]{3,9}\s+[0-9]{2,4}$"), _date, ("%d %B %y", "%d %B %Y")),
    }),
    "slash_mdy_family": (_start(r"[0-9]{1,2}/[0-9]{1,2}"), {
        "slash_mdy_hms": _Function(_start(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}\s+" + _HM_F_AMPM), _datetime,
                                   _then_times("%m/%d/%y", "%m/%d/%Y")),
        "slash_mdy": _Function(_start(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}$"), _date, ("%m/%d/%y", "%m/%d/%Y")),
    }),
    "slash_ymd_family": (_start(r"[0-9]{4}/[0-9]{1,2}"), {
        "slash_ymd_hms": _Function(_start(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}\s+" + _HM_F_AMPM), _datetime,
                                   _then_times("%Y/%m/%d")),
        "slash_ymd": _Function(_start(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$"), _date, ("%Y/%m/%d",)),
    }),
    # unanchored, and its "." is any character: the crate's own regex
    "dot_mdy_or_ymd": (_anywhere(r"[0-9]{1,4}.[0-9]{1,4}[0-9]{1,4}"), {
        "dot_mdy_or_ymd": _Function(None, _date, ("%m.%d.%y", "%m.%d.%Y", "%Y.%m.%d")),
        "dot_mdy_or_ymd, YYYY.MM on today's day": _Function(None, _date, ("%Y.%m.%d",), _with_todays_day),
    }),
    "mysql_log_timestamp": (None, {
        "mysql_log_timestamp": _Function(_anywhere(r"[0-9]{6}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}"), _datetime,
                                         ("%y%m%d %H:%M:%S",)),
    }),
    "chinese_ymd_family": (_start("[0-9]{4}年[0-9]{2}月"), {
        "chinese_ymd_hms": _Function(_start("[0-9]{4}年[0-9]{2}月[0-9]{2}日[0-9]{2}时[0-9]{2}分[0-9]{2}秒$"), _datetime,
                                     ("%Y年%m月%d日%H时%M分%S秒",)),
        "chinese_ymd": _Function(_start("[0-9]{4}年[0-9]{2}月[0-9]{2}日$"), _date, ("%Y年%m月%d日",)),
    }),
}
"""The crate's ``Parse::parse``: each family's guard regex (``None``: none) and its parse functions,
both in the crate's order."""
