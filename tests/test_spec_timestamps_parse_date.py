"""Tests of :func:`harness.spec.timestamps.parse_date` and :func:`capture_panics_on`: capture's
``parse_date`` chain (normalization, chrono's RFC 3339, the dateparser crate, jiff), and properties
that no parser raises.  Expected values come from capture's Rust sources and the crates it calls; each
table row names the parser that accepts (or refuses) the text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.spec.timestamps import (
    EPOCH,
    FUTURE_CUTOFF,
    capture_panics_on,
    event_time,
    parse_date,
    rfc3339,
    sent_at_from_body,
    sent_at_from_query,
)
from tests.support_timestamps import NOW, at_now_time, utc

# --------------------------------------------------------------------------------------------
# parse_date: accepted formats

ACCEPTED = [
    # chrono RFC 3339 (step 2)
    ("2023-01-01T12:00:00Z", utc(2023, 1, 1, 12)),
    ("2023-01-01t12:00:00z", utc(2023, 1, 1, 12)),
    ("2023-01-01 12:00:00Z", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00+05:30", utc(2023, 1, 1, 6, 30)),
    ("2023-01-01T12:00:00\u221205:00", utc(2023, 1, 1, 17)),
    ("2023-01-01T12:00:00.5Z", utc(2023, 1, 1, 12, 0, 0, 500000)),
    ("2023-01-01T12:00:00.123456Z", utc(2023, 1, 1, 12, 0, 0, 123456)),
    ("2023-01-01T12:00:00.1234567Z", utc(2023, 1, 1, 12, 0, 0, 123456)),
    ("2023-01-01T12:00:00.123456789Z", utc(2023, 1, 1, 12, 0, 0, 123456)),
    ("2023-01-01T12:00:00.123456789123Z", utc(2023, 1, 1, 12, 0, 0, 123456)),
    ("2016-12-31T23:59:60Z", utc(2017, 1, 1)),
    # normalization of a bare +HH (step 1)
    ("2025-09-17T14:05:04.805+03", utc(2025, 9, 17, 11, 5, 4, 805000)),
    ("2025-09-17T14:05:04-05", utc(2025, 9, 17, 19, 5, 4)),
    # dateparser: Unix timestamps, chosen by digit count
    ("1672574400", utc(2023, 1, 1, 12)),
    ("1672574400000", utc(2023, 1, 1, 12)),
    ("1672574400123", utc(2023, 1, 1, 12, 0, 0, 123000)),
    ("1620024872717915000", utc(2021, 5, 3, 6, 54, 32, 717915)),
    ("0000000000", EPOCH),
    # dateparser: RFC 2822 (chrono's parser)
    ("Tue, 1 Jul 2003 10:52:37 +0200", utc(2003, 7, 1, 8, 52, 37)),
    ("1 Jul 2003 10:52:37 +0200", utc(2003, 7, 1, 8, 52, 37)),
    ("Wed, 02 Jun 2021 06:31:39 GMT", utc(2021, 6, 2, 6, 31, 39)),
    ("Wed, 02 Jun 2021 06:31:39 PDT", utc(2021, 6, 2, 13, 31, 39)),
    ("Wed, 02 Jun 21 06:31 -0000 (comment)", utc(2021, 6, 2, 6, 31)),
    ("2 Jun 99 06:31:39 EST", utc(1999, 6, 2, 11, 31, 39)),
    # dateparser: YYYY-MM-DD families
    ("2019-11-29 08:08:05-08", utc(2019, 11, 29, 16, 8, 5)),
    ("2019-11-29 08:08-08", utc(2019, 11, 29, 16, 8)),
    ("2021-05-02 23:31:36.0741-07", utc(2021, 5, 3, 6, 31, 36, 74100)),
    ("2017-07-19 03:21:51+00:00", utc(2017, 7, 19, 3, 21, 51)),
    ("2023-01-01 12:00:00", utc(2023, 1, 1, 12)),
    ("2023-01-01 12:00", utc(2023, 1, 1, 12)),
    ("2023-01-01   12:00:00.052282", utc(2023, 1, 1, 12, 0, 0, 52282)),
    ("2014-04-26 05:24:37 PM", utc(2014, 4, 26, 17, 24, 37)),
    ("2017-11-25 13:31:15 PST", utc(2017, 11, 25, 21, 31, 15)),
    ("2014-04-26 13:13:43 +0800", utc(2014, 4, 26, 5, 13, 43)),
    ("2014-04-26 13:13:44 +09:00", utc(2014, 4, 26, 4, 13, 44)),
    ("2014-12-16 06:20:00 CET", utc(2014, 12, 16, 6, 20)),  # unknown zone names read as UTC
    ("2023-01-01", at_now_time(2023, 1, 1)),
    ("2021-02-21 UTC", at_now_time(2021, 2, 21)),
    ("2023-01-01T12", at_now_time(2023, 1, 1)),  # "T12" is read as a zone name: UTC, now's time
    ("2021-Feb-21", at_now_time(2021, 2, 21)),
    # dateparser: time only (today's date)
    ("4:00pm", utc(2025, 6, 15, 16)),
    ("01:06:06", utc(2025, 6, 15, 1, 6, 6)),
    ("6:00 AM PST", utc(2025, 6, 15, 14)),
    # dateparser: month names
    ("May 27 02:45:27", utc(2025, 5, 27, 2, 45, 27)),
    ("May 6 at 9:24 PM", utc(2025, 5, 6, 21, 24)),
    ("May 8, 2009 5:57:51 PM", utc(2009, 5, 8, 17, 57, 51)),
    ("September 17, 2012, 10:10:09", utc(2012, 9, 17, 10, 10, 9)),
    ("May 02, 2021 15:51 UTC", utc(2021, 5, 2, 15, 51)),
    ("September 17, 2012 at 10:09am PST", utc(2012, 9, 17, 18, 9)),
    ("May 25, 2021", at_now_time(2021, 5, 25)),
    ("oct. 7, 70", at_now_time(1970, 10, 7)),
    ("12 Feb 2006, 19:17", utc(2006, 2, 12, 19, 17)),
    ("14 May 2019 19:11:40.164", utc(2019, 5, 14, 19, 11, 40, 164000)),
    ("1 July 2013", at_now_time(2013, 7, 1)),
    ("7 oct 70", at_now_time(1970, 10, 7)),
    # dateparser: slash dates (US month/day order), with or without a time
    ("2023/01/02", at_now_time(2023, 1, 2)),
    ("2014/3/31", at_now_time(2014, 3, 31)),
    ("2014/04/08 22:05", utc(2014, 4, 8, 22, 5)),
    ("2012/03/19 10:11:59.3186369", utc(2012, 3, 19, 10, 11, 59, 318636)),
    ("01/02/2023", at_now_time(2023, 1, 2)),
    ("3/31/2014", at_now_time(2014, 3, 31)),
    ("08/21/71", at_now_time(1971, 8, 21)),
    ("08/21/69", at_now_time(2069, 8, 21)),
    ("4/8/2014 22:05", utc(2014, 4, 8, 22, 5)),
    ("4/8/14 22:05", utc(2014, 4, 8, 22, 5)),
    ("8/8/1965 01:00:01 PM", utc(1965, 8, 8, 13, 0, 1)),
    # dateparser: dotted, MySQL log, Chinese
    ("3.31.2014", at_now_time(2014, 3, 31)),
    ("2014.03.30", at_now_time(2014, 3, 30)),
    ("2014.03", at_now_time(2014, 3, 15)),  # the day is today's
    ("171113 14:14:20", utc(2017, 11, 13, 14, 14, 20)),
    ("2014年04月08日11时25分18秒", utc(2014, 4, 8, 11, 25, 18)),
    ("2014年04月08日", at_now_time(2014, 4, 8)),
    # jiff civil datetime, read as UTC (step 4)
    ("2023-01-01T12:00:00", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00", utc(2023, 1, 1, 12)),
    ("2023-01-01 12", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00,5", utc(2023, 1, 1, 12, 0, 0, 500000)),
    ("20230101T120000", utc(2023, 1, 1, 12)),
    ("20230101", utc(2023, 1, 1)),
    ("+002023-01-01T12:00", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00+0530", utc(2023, 1, 1, 12)),  # the offset is parsed and ignored
    ("2023-01-01T12:00+05:30", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00+24:00", utc(2023, 1, 1, 12)),  # too big for chrono, ignored by jiff
    ("2023-01-01T12:00:00[Europe/Paris]", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00-05[America/New_York][u-ca=iso8601]", utc(2023, 1, 1, 12)),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_parse_date_accepts(text: str, expected: datetime) -> None:
    parsed = parse_date(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


REJECTED = [
    "",
    "not a date",
    "2023",
    "12345678901",  # 11 digits: neither seconds, milliseconds nor nanoseconds
    "99999999999999999999",  # 20 digits
    "2023-13-01T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2023-01-01T24:00:00Z",
    "2023-01-01T12:00:00.Z",
    "2023-01-01T12:00:00+26:00",  # past jiff's 25 hours too
    "2023-01-01T12:00Z",  # no seconds: not RFC 3339; jiff refuses Z for a civil time
    "2023-01-01Z",
    "2023-01-01T12:00:00.1234567890",  # jiff takes at most 9 fraction digits
    "2023-01-01T12:00:00[!u-ca=iso8601]",  # a critical annotation jiff does not support
    " 2023-01-01T12:00:00Z",
    "2023-01-01T12:00:00Z ",
    "Tuesday, 1 Jul 2003 10:52:37 +0200",
    "Mon, 1 Jul 2003 10:52:37 +0200",  # the weekday does not match the date
    "Wed, 02 Jun 2021 06:31:39 UTC",  # chrono's RFC 2822 knows UT and GMT, not UTC
    "Tue, 1 Jul 2003 10:52:37 +02:00",
    "2023-01-01T12:00:00+05:30\n",
    "0000-01-01T00:00:00Z",  # valid for capture (year 0), outside Python's datetime
    "\ud800",
]


@pytest.mark.parametrize("text", REJECTED)
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text, now=NOW) is None


@pytest.mark.parametrize("value", [None, 1672574400, 1.5, b"2023-01-01T12:00:00Z", ["2023"]])
def test_parse_date_ignores_non_strings(value: object) -> None:
    assert parse_date(value) is None


def test_parse_date_defaults_to_the_clock_for_missing_parts() -> None:
    before = datetime.now(UTC)
    parsed = parse_date("2023-01-01")
    after = datetime.now(UTC)
    assert parsed is not None and parsed.date() == datetime(2023, 1, 1).date()
    assert before.time() <= parsed.time() <= after.time() or before.date() != after.date()


@pytest.mark.parametrize(
    "text",
    [
        "€ab",  # the last three bytes start inside the euro sign
        "éab",
        "2023-01-01 12:00:00 +2400",  # dateparser's FixedOffset::east(86400)
        "2023-01-01 12:00:00+2400",
        "2023-01-01+9900",
        "10:00 +2500",
    ],
)
def test_capture_panics_on(text: str) -> None:
    assert capture_panics_on(text)
    assert parse_date(text) is None
    assert event_time(NOW, text, None, None, False) == NOW


@pytest.mark.parametrize("text", ["2023-01-01T12:00:00Z", "a€", "2014年04月08日", "€", "2023-01-01 12:00:00 +2359"])
def test_capture_does_not_panic_on(text: str) -> None:
    assert not capture_panics_on(text)


# --------------------------------------------------------------------------------------------
# properties: no input makes a parser or event_time raise

DATE_ALPHABET = "0123456789-:/.,+ TtZzWAPMapmJunOctSEGU[]!=年月日时分秒€\u2212"
DATE_LIKE = st.text(alphabet=DATE_ALPHABET, max_size=40)
"""Text built from the characters dates are made of: it reaches far more parser branches than
arbitrary text does."""


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    timestamp=st.none() | st.text() | DATE_LIKE | st.sampled_from([row[0] for row in ACCEPTED] + REJECTED),
    offset=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    sent_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    ignore=st.booleans(),
)
def test_event_time_never_raises(now: datetime, timestamp: str | None, offset: int | None,
                                 sent_at: datetime | None, ignore: bool) -> None:
    result = event_time(now, timestamp, offset, sent_at, ignore)
    assert result.tzinfo is UTC
    assert 1 <= result.year <= 9999
    assert result == EPOCH or result - now <= FUTURE_CUTOFF + timedelta(milliseconds=1)


@settings(max_examples=500, deadline=None)
@given(st.text() | DATE_LIKE)
def test_parsers_never_raise(text: str) -> None:
    parsed = parse_date(text, now=NOW)
    assert parsed is None or parsed.tzinfo is UTC
    assert sent_at_from_body(text) is None or sent_at_from_body(text).tzinfo is UTC
    assert sent_at_from_query(text) is None or sent_at_from_query(text).year > 2020
    capture_panics_on(text)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_rfc3339_round_trips(moment: datetime) -> None:
    assert parse_date(rfc3339(moment)) == moment
    assert sent_at_from_body(rfc3339(moment)) == moment
