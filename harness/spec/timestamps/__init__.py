"""Event time as capture computes it: contract §4.3, rules 20 and 21.

Six public functions, used by the reference server:

- :func:`parse_date` reads a client ``timestamp`` string the way capture's ``parse_date``
  (``rust/common/types/src/timestamp.rs``) does, or returns ``None``;
- :func:`capture_panics_on` names the timestamps for which capture itself panics instead of answering;
- :func:`sent_at_from_body` and :func:`sent_at_from_query` read ``sent_at`` from the batch body and
  from the ``_`` query parameter (``rust/capture/src/v0_request.rs``, ``payload/types.rs``);
- :func:`event_time` combines ``now``, ``timestamp``, ``offset`` and ``sent_at`` exactly as
  ``parse_event_timestamp`` does, and never raises;
- :func:`rfc3339` writes a moment the way capture writes ``now`` (chrono's ``SecondsFormat::AutoSi``
  with ``Z``): no fraction when it is zero, else 3 digits when whole milliseconds, else 6.

The constants :data:`EPOCH`, :data:`FUTURE_CUTOFF` and :data:`QUERY_SENT_AT_MIN_YEAR` are the rules'
numbers.  Each ported parser is a private module: :mod:`._chrono` (RFC 3339, RFC 2822),
:mod:`._strptime` (chrono's ``format::parse``), :mod:`._dateparser`, :mod:`._jiff` and
:mod:`._iso8601` (the time crate, for ``sent_at``), on the integer calendar of :mod:`._calendar` and the
scanners of :mod:`._scan`.

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

import re
from datetime import UTC, datetime, timedelta

from harness.spec.timestamps import _chrono, _dateparser, _iso8601, _jiff
from harness.spec.timestamps._calendar import END_NS, EPOCH, YEAR0_NS, Clock, from_datetime, to_datetime, year_of
from harness.spec.timestamps._scan import DIGITS, I64_MAX, Panic

__all__ = [
    "EPOCH",
    "FUTURE_CUTOFF",
    "QUERY_SENT_AT_MIN_YEAR",
    "capture_panics_on",
    "event_time",
    "parse_date",
    "rfc3339",
    "sent_at_from_body",
    "sent_at_from_query",
]

FUTURE_CUTOFF = timedelta(hours=23)
"""An event time more than this ahead of ``now`` (compared in whole milliseconds) becomes ``now``."""

QUERY_SENT_AT_MIN_YEAR = 2021
"""The ``_`` query parameter is used only when its year, read as milliseconds, is later than 2020."""

_CUTOFF_MS = FUTURE_CUTOFF // timedelta(milliseconds=1)

_NORMALIZE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?[+-][0-9]{2}\Z")

_PLAIN_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
"""The timestamps SDKs actually send: for these chrono and ``datetime.fromisoformat`` agree exactly."""

_I64_TEXT = re.compile(r"[+-]?[0-9]+\Z")


def parse_date(text: object, *, now: datetime | None = None) -> datetime | None:
    """A client ``timestamp`` as capture reads it, as an aware UTC datetime; ``None`` if it is not a
    string, if capture cannot read it, if it falls outside years 1..9999, or if capture would panic on it.

    ``now`` supplies the time of day of date-only forms and the date of time-only forms (default: the
    clock).  Never raises.
    """
    if not isinstance(text, str):
        return None
    try:
        ns = _parse_ns(text, Clock(None if now is None else from_datetime(now)))
    except Panic:
        return None
    return None if ns is None else to_datetime(ns)


def capture_panics_on(text: object) -> bool:
    """Whether capture's ``parse_date`` panics on this timestamp instead of returning.

    Two places do, inferred from the code rather than seen: ``normalize_timezone_format`` slices the
    last three *bytes* off the text, which panics when that cuts a multibyte character (``"€ab"``),
    and dateparser builds a zone offset of a day or more with ``FixedOffset::east``, which panics
    (``"2023-01-01 12:00:00 +2400"``).  No catch-panic layer is mounted, so the connection is dropped.
    """
    if not isinstance(text, str):
        return False
    try:
        _parse_ns(text, Clock(0))
    except Panic:
        return True
    return False


def sent_at_from_body(value: object) -> datetime | None:
    """The batch body's ``sent_at``: a string in ISO 8601 as the time crate's ``Iso8601::DEFAULT``
    reads it, else ``None`` (an unparseable value is ignored, contract §4.3).  Never raises."""
    if not isinstance(value, str):
        return None
    ns = _iso8601.parse(value)
    return None if ns is None else to_datetime(ns)


def sent_at_from_query(value: object) -> datetime | None:
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
    if not -(2**63) <= millis <= I64_MAX:
        return None
    ns = millis * 1_000_000
    lowest, highest = _iso8601.TIME_CRATE_YEARS
    if not lowest <= year_of(ns) <= highest or year_of(ns) < QUERY_SENT_AT_MIN_YEAR:
        return None
    return to_datetime(ns)


def event_time(now: datetime, timestamp: str | None, offset: int | None, sent_at: datetime | None,
               ignore_sent_at: bool) -> datetime:
    """The event time capture computes (contract §4.3), as an aware UTC datetime in years 1..9999.

    1. start from ``now``;
    2. if ``timestamp`` parses: ``now + (timestamp - sent_at)`` when ``sent_at`` is known and not
       ignored (``$ignore_sent_at``), else ``timestamp``;
    3. ``offset`` (milliseconds before ``now``), when not None, overrides step 2;
    4. more than :data:`FUTURE_CUTOFF` (in whole milliseconds) after ``now`` becomes ``now``;
    5. outside years 0..9999 becomes the Unix epoch (year 0, which Python lacks, too).

    A ``timestamp`` that is not a string, or that capture cannot parse, counts as absent.  Never
    raises for any text, any integer ``offset`` or any ``sent_at``.
    """
    now_ns = from_datetime(now)
    result = now_ns
    if isinstance(timestamp, str):
        try:
            parsed = _parse_ns(timestamp, Clock(now_ns))
        except Panic:
            parsed = None
        if parsed is not None:
            if sent_at is not None and not ignore_sent_at:
                result = parsed - (from_datetime(sent_at) - now_ns)
            else:
                result = parsed
    if offset is not None:
        result = now_ns - int(offset) * 1_000_000
    if (result - now_ns) // 1_000_000 > _CUTOFF_MS:
        result = now_ns
    if not YEAR0_NS <= result < END_NS:  # a year outside 0..9999
        result = 0
    moment = to_datetime(result)
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


def _parse_ns(text: str, clock: Clock) -> int | None:
    """capture's ``parse_date`` as nanoseconds since the epoch; raises :class:`Panic`."""
    if _PLAIN_RFC3339.fullmatch(text):  # the hot path: one C call instead of the scanners below
        try:
            return from_datetime(datetime.fromisoformat(text))
        except ValueError:  # e.g. February 30th: let the faithful parsers decide
            pass
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None  # a lone surrogate: serde_json rejects the request before capture reads it
    text = _normalize(text)
    ns = _chrono.rfc3339(text)
    if ns is None:
        ns = _dateparser.parse(text, clock)
    if ns is None:
        ns = _jiff.civil(text)
    return ns


def _normalize(text: str) -> str:
    """``normalize_timezone_format``; panics where capture slices the text inside a character."""
    if not text.isascii():
        raw = text.encode("utf-8")
        if len(raw) >= 3 and raw[-3] & 0xC0 == 0x80:
            raise Panic("byte index is not a char boundary")
        return text  # the pattern below is ASCII-only, so nothing non-ASCII is normalized
    if len(text) >= 3 and text[-3] in "+-" and text[-2] in DIGITS and text[-1] in DIGITS and _NORMALIZE.match(text):
        return text + ":00"
    return text
