"""chrono's strftime-style ``format::parse``, for the specifiers dateparser's formats use.

Each specifier is one item in :data:`_SPECIFIERS`: a function that reads the text at a position into a
:class:`Parsed` and returns the position after it.  A format is compiled once into its items.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from harness.spec.timestamps._calendar import DAY_NS, NS, days_from_civil, days_in_month
from harness.spec.timestamps._chrono import CHRONO_YEARS, MONTHS, offset
from harness.spec.timestamps._scan import DIGITS, fraction_ns, number, short_name, skip_ws
from harness.spec.unicode import WHITESPACE_SET


class Parsed:
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
        """``to_naive_date``: days since the epoch (a 2-digit year below 70 is 20xx, else 19xx)."""
        if self.year is not None:
            year = self.year
        elif self.year_mod_100 is not None:
            year = self.year_mod_100 + (2000 if self.year_mod_100 < 70 else 1900)
        else:
            return None
        if self.month is None or self.day is None:
            return None
        if not (CHRONO_YEARS[0] <= year <= CHRONO_YEARS[1]) or self.day > days_in_month(year, self.month):
            return None
        return days_from_civil(year, self.month, self.day)

    def time_ns(self) -> int | None:
        """``to_naive_time``: nanoseconds since midnight (a leap second runs past 86,400 s)."""
        if self.hour_div_12 is None or self.hour_mod_12 is None or self.minute is None:
            return None
        second = 0 if self.second is None else self.second
        nano = 0
        if second == 60:
            second, nano = 59, NS
        if self.nanosecond is not None:
            if self.second is None:
                return None
            nano += self.nanosecond
        hour = self.hour_div_12 * 12 + self.hour_mod_12
        return ((hour * 60 + self.minute) * 60 + second) * NS + nano

    def naive_ns(self) -> int | None:
        """``to_naive_datetime_with_offset`` without the offset: nanoseconds since the epoch."""
        days, tod = self.date_days(), self.time_ns()
        return None if days is None or tod is None else days * DAY_NS + tod


def strptime(s: str, fmt: str) -> Parsed | None:
    """chrono's ``format::parse`` for the specifiers dateparser uses; the whole text must match."""
    p = Parsed()
    i = 0
    for item in _items(fmt):
        end = item(s, i, p)
        if end is None:
            return None
        i = end
    return p if i == len(s) else None


_Item = Callable[[str, int, Parsed], int | None]
"""One parsed item of a format: reads the text at a position into ``Parsed``, returns the position
after it or ``None`` when the text does not match."""


@cache
def _items(fmt: str) -> tuple[_Item, ...]:
    """A chrono format as items: a whitespace run, a ``%x`` specifier or a literal character."""
    out: list[_Item] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            width = 3 if fmt[i + 1] in ".#" else 2
            out.append(_SPECIFIERS[fmt[i : i + width]])  # a KeyError names a specifier not ported
            i += width
        elif c.isspace():
            while i < len(fmt) and fmt[i].isspace():
                i += 1
            out.append(_whitespace)
        else:
            out.append(_literal(c))
            i += 1
    return tuple(out)


def _whitespace(s: str, i: int, p: Parsed) -> int:
    """A whitespace run in a format matches any amount of White_Space in the text, none included."""
    return skip_ws(s, i)


def _literal(char: str) -> _Item:
    """Any other character of a format must be in the text as it is."""
    def item(s: str, i: int, p: Parsed) -> int | None:
        return i + 1 if i < len(s) and s[i] == char else None
    return item


def _year(s: str, i: int, p: Parsed) -> int | None:
    """``%Y``: up to 4 digits, or a sign and any number of them, within i32."""
    i = skip_ws(s, i)
    if i < len(s) and s[i] in "+-":
        found = number(s, i + 1, 1, 1 << 62)
        if found is None:
            return None
        value, end = (-found[0] if s[i] == "-" else found[0]), found[1]
    else:
        found = number(s, i, 1, 4)
        if found is None:
            return None
        value, end = found
    if not -(2**31) <= value < 2**31:
        return None
    p.year = value
    return end


def _numeric(lo: int, hi: int, store: Callable[[Parsed, int], None]) -> _Item:
    """A specifier of one or two digits (after optional whitespace) in ``lo..hi``."""
    def item(s: str, i: int, p: Parsed) -> int | None:
        found = number(s, skip_ws(s, i), 1, 2)
        if found is None or not lo <= found[0] <= hi:
            return None
        store(p, found[0])
        return found[1]
    return item


def _set_year_mod_100(p: Parsed, value: int) -> None:
    p.year_mod_100 = value


def _set_month(p: Parsed, value: int) -> None:
    p.month = value


def _set_day(p: Parsed, value: int) -> None:
    p.day = value


def _set_hour(p: Parsed, value: int) -> None:
    p.hour_div_12, p.hour_mod_12 = divmod(value, 12)


def _set_hour12(p: Parsed, value: int) -> None:
    p.hour_mod_12 = value % 12


def _set_minute(p: Parsed, value: int) -> None:
    p.minute = value


def _set_second(p: Parsed, value: int) -> None:
    p.second = value


def _nanosecond(s: str, i: int, p: Parsed) -> int | None:
    """``%.f``: nothing, or a dot and at least one digit."""
    if i >= len(s) or s[i] != ".":
        return i
    j = i + 1
    while j < len(s) and s[j] in DIGITS:
        j += 1
    if j == i + 1:
        return None
    p.nanosecond = fraction_ns(s[i + 1 : j])
    return j


def _ampm(s: str, i: int, p: Parsed) -> int | None:
    """``%P``: ``am``/``pm`` in any case."""
    if i + 2 > len(s) or s[i] not in "aApP" or s[i + 1] not in "mM":
        return None
    p.hour_div_12 = 1 if s[i] in "pP" else 0
    return i + 2


def _month_name(full: bool) -> _Item:
    """``%b`` (three letters) or ``%B`` (three letters, then the rest of the name if it is there)."""
    def item(s: str, i: int, p: Parsed) -> int | None:
        month = short_name(s, i, MONTHS)
        if month is None:
            return None
        i += 3
        rest = _MONTH_SUFFIXES[month]
        if full and rest and s[i : i + len(rest)].lower() == rest and s[i : i + len(rest)].isascii():
            i += len(rest)
        p.month = month + 1
        return i
    return item


_MONTH_SUFFIXES = ("uary", "ruary", "ch", "il", "", "e", "y", "ust", "tember", "ober", "ember", "ember")


def _zone_name(s: str, i: int, p: Parsed) -> int:
    """``%Z``: a zone name is skipped to the next whitespace, not read."""
    while i < len(s) and s[i] not in WHITESPACE_SET:
        i += 1
    return i


def _zone_offset(s: str, i: int, p: Parsed) -> int | None:
    """``%#z``: ``Z`` or ``±HH[[:]MM]``, colons and spaces allowed between, U+2212 a minus too."""
    found = offset(s, skip_ws(s, i), "space", zulu=True, missing_minutes=True, minus_sign=True)
    if found is None:
        return None
    p.offset, end = found
    return end


_SPECIFIERS: dict[str, _Item] = {
    "%Y": _year,
    "%y": _numeric(0, 99, _set_year_mod_100),
    "%m": _numeric(1, 12, _set_month),
    "%d": _numeric(1, 31, _set_day),
    "%H": _numeric(0, 23, _set_hour),
    "%I": _numeric(1, 12, _set_hour12),
    "%M": _numeric(0, 59, _set_minute),
    "%S": _numeric(0, 60, _set_second),
    "%.f": _nanosecond,
    "%P": _ampm,
    "%b": _month_name(full=False),
    "%B": _month_name(full=True),
    "%Z": _zone_name,
    "%#z": _zone_offset,
}
"""The specifiers dateparser's formats use, each with the item that reads it (chrono's ``parse``)."""
