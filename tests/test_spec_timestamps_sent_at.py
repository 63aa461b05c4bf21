"""Tests of :func:`harness.spec.timestamps.sent_at_from_body` (the time crate's ISO 8601) and
:func:`sent_at_from_query` (the ``_`` query parameter, integer milliseconds)."""

from __future__ import annotations

from datetime import datetime

import pytest

from harness.spec.timestamps import sent_at_from_body, sent_at_from_query
from tests.support_timestamps import utc

SENT_AT_BODY = [
    ("2023-01-01T12:00:00Z", utc(2023, 1, 1, 12)),
    ("2023-01-01T12:00:00.123Z", utc(2023, 1, 1, 12, 0, 0, 123000)),
    ("2023-01-01T12:00:00.1234567+01:00", utc(2023, 1, 1, 11, 0, 0, 123456)),  # kept to the ns, floored to µs
    ("2023-01-01T12:00:00,5-02:30", utc(2023, 1, 1, 14, 30, 0, 500000)),
    ("2023-01-01T12:00:00+05", utc(2023, 1, 1, 7)),
    ("2023-01-01T12:00Z", utc(2023, 1, 1, 12)),
    ("2023-01-01T1230Z", utc(2023, 1, 1, 12, 30)),
    ("20230101T123045Z", utc(2023, 1, 1, 12, 30, 45)),
    ("20230101T12Z", utc(2023, 1, 1, 12)),
    ("2023-01-01T12.5Z", utc(2023, 1, 1, 12, 30)),
    ("2023-01-01T12:30.5Z", utc(2023, 1, 1, 12, 30, 30)),
    ("2023-032T00:00:00Z", utc(2023, 2, 1)),
    ("2023-W01-1T00:00:00Z", utc(2023, 1, 2)),
    ("2020W537T000000Z", utc(2021, 1, 3)),
    ("+002023-01-01T00:00:00Z", utc(2023, 1, 1)),
]


@pytest.mark.parametrize(("text", "expected"), SENT_AT_BODY, ids=[row[0] for row in SENT_AT_BODY])
def test_sent_at_from_body_accepts_iso8601(text: str, expected: datetime) -> None:
    assert sent_at_from_body(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        1704067200000,
        "",
        "garbage",
        "2023-01-01",  # no time
        "2023-01-01T12:00:00",  # no offset
        "2023-01-01 12:00:00Z",  # ISO 8601 wants the T
        "2023-01-01t12:00:00Z",
        "2023-01-01T12:00:00z",
        "2023-01-01T12Z",  # an hour alone needs the basic format
        "20230101T12:00Z",  # basic date, extended time
        "2020W537T00:00:00Z",
        "2023-01-01T23:59:60Z",
        "2023-01-01T12:00:00.9999999999Z",  # rounds to a whole second, which the time crate refuses
        "2023-02-29T00:00:00Z",
        "2021-W53-1T00:00:00Z",  # 2021 has 52 ISO weeks
        "2023-01-01T12:00:00+24:00",
        "Tue, 1 Jul 2003 10:52:37 +0200",
        "1672574400000",
    ],
)
def test_sent_at_from_body_ignores_everything_else(value: object) -> None:
    assert sent_at_from_body(value) is None


QUERY = [
    ("1704067200000", utc(2024, 1, 1)),
    ("+1704067200000", utc(2024, 1, 1)),
    ("1609459200000", utc(2021, 1, 1)),  # the first millisecond after 2020
    ("1704067200123", utc(2024, 1, 1, 0, 0, 0, 123000)),
    ("1704067200", None),  # seconds read as milliseconds: January 1970, ignored
    ("1609459199999", None),  # still 2020
    ("-1704067200000", None),
    ("0", None),
    ("253402300799999", utc(9999, 12, 31, 23, 59, 59, 999000)),
    ("253402300800000", None),  # year 10000: outside the time crate's range
    ("9223372036854775807", None),
    ("9223372036854775808", None),  # not an i64
    ("", None),
    ("abc", None),
    ("1.7e12", None),
    (" 1704067200000", None),
    ("1_704_067_200_000", None),
    ("١٧٠٤٠٦٧٢٠٠٠٠٠", None),  # Arabic-Indic digits: int() would take them, i64 parsing does not
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), QUERY, ids=[repr(row[0]) for row in QUERY])
def test_sent_at_from_query(value: str | None, expected: datetime | None) -> None:
    assert sent_at_from_query(value) == expected
