"""Scanners shared by the ported parsers, and the signal for a Rust panic.

Each scanner takes the text and a position and returns the new position (with a value), or ``None``
where the Rust code returns an error.  Digits are ASCII only, as in Rust: ``str.isdigit`` and ``int``
would also take other scripts' digits.
"""

from __future__ import annotations

from harness.spec.unicode import WHITESPACE_SET

DIGITS = frozenset("0123456789")
I64_MAX = 2**63 - 1


class Panic(Exception):
    """Capture's Rust code panics on this input (the connection is dropped, no answer is sent)."""


def skip_ws(s: str, i: int) -> int:
    """Past any Unicode White_Space (Rust's ``char::is_whitespace``) at ``i``."""
    n = len(s)
    while i < n and s[i] in WHITESPACE_SET:
        i += 1
    return i


def number(s: str, i: int, lo: int, hi: int) -> tuple[int, int] | None:
    """chrono's ``scan::number``: ``lo`` to ``hi`` ASCII digits; an i64 overflow is an error."""
    n, j = len(s), i
    while j < n and j - i < hi and s[j] in DIGITS:
        j += 1
    if j - i < lo:
        return None
    value = int(s[i:j])
    return (value, j) if value <= I64_MAX else None


def two_digits(s: str, i: int) -> int | None:
    """The value of exactly two ASCII digits at ``i`` (the caller advances by two)."""
    if i + 2 <= len(s) and s[i] in DIGITS and s[i + 1] in DIGITS:
        return int(s[i : i + 2])
    return None


def short_name(s: str, i: int, names: tuple[str, ...]) -> int | None:
    """Index of the three ASCII letters at ``i`` in ``names``, case-insensitively."""
    prefix = s[i : i + 3]
    if len(prefix) == 3 and prefix.isascii():
        try:
            return names.index(prefix.lower())
        except ValueError:
            return None
    return None


def fraction_ns(digits: str) -> int:
    """Nanoseconds from fraction digits: the first nine count, the rest are dropped."""
    return int(digits[:9].ljust(9, "0"))


def iso_year(s: str, *, reject_negative_zero: bool) -> tuple[int, int] | None:
    """The year that opens an ISO 8601 date, ``±YYYYYY`` or ``YYYY``: ``(year, end)``.

    jiff and the time crate read it alike except for ``-000000``, which jiff refuses
    (``reject_negative_zero``) and the time crate reads as year 0.
    """
    if s[:1] in ("+", "-"):
        if len(s) < 7 or not all(c in DIGITS for c in s[1:7]):
            return None
        year = int(s[1:7])
        if s[0] == "-":
            if reject_negative_zero and year == 0:
                return None
            year = -year
        return year, 7
    if len(s) < 4 or not all(c in DIGITS for c in s[:4]):
        return None
    return int(s[:4]), 4
