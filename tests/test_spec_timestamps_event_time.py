"""Tests of :func:`harness.spec.timestamps.event_time`, contract §4.3 step by step (rules 20 and 21),
and of :func:`rfc3339`, the way capture writes the moment it computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from harness.spec.timestamps import EPOCH, FUTURE_CUTOFF, event_time, rfc3339
from tests.support_timestamps import NOW, at_now_time, utc

# --------------------------------------------------------------------------------------------
# event_time: §4.3 step by step

TEN_TO_NOON = utc(2023, 1, 1, 12)


def test_no_timestamp_is_now() -> None:
    assert event_time(NOW, None, None, None, False) == NOW
    assert event_time(NOW, None, None, NOW + timedelta(seconds=5), False) == NOW


@pytest.mark.parametrize("timestamp", ["not a date", "", "2023-01-01T12:00Z"])
def test_unparseable_timestamp_is_ignored(timestamp: str) -> None:
    assert event_time(NOW, timestamp, None, None, False) == NOW


def test_timestamp_without_sent_at_is_taken_as_is() -> None:
    assert event_time(TEN_TO_NOON, "2023-01-01T11:00:00Z", None, None, False) == utc(2023, 1, 1, 11)


@pytest.mark.parametrize(
    ("sent_at", "expected"),
    [
        (utc(2023, 1, 1, 12, 0, 10), utc(2023, 1, 1, 10, 59, 50)),  # client clock 10 s ahead
        (utc(2023, 1, 1, 11, 59, 50), utc(2023, 1, 1, 11, 0, 10)),  # client clock 10 s behind
        (utc(2023, 1, 1, 12), utc(2023, 1, 1, 11)),
    ],
)
def test_sent_at_corrects_client_clock_skew(sent_at: datetime, expected: datetime) -> None:
    assert event_time(TEN_TO_NOON, "2023-01-01T11:00:00Z", None, sent_at, False) == expected


def test_skew_is_now_plus_timestamp_minus_sent_at() -> None:
    sent_at = utc(2023, 1, 1, 12, 0, 5)
    assert event_time(TEN_TO_NOON, "2023-01-01T11:59:55Z", None, sent_at, False) == utc(2023, 1, 1, 11, 59, 50)


def test_ignore_sent_at_skips_the_correction() -> None:
    sent_at = utc(2023, 1, 1, 12, 0, 10)
    assert event_time(TEN_TO_NOON, "2023-01-01T11:00:00Z", None, sent_at, True) == utc(2023, 1, 1, 11)


def test_sent_at_without_a_parseable_timestamp_changes_nothing() -> None:
    assert event_time(TEN_TO_NOON, "garbage", None, utc(2023, 1, 1, 13), False) == TEN_TO_NOON


@pytest.mark.parametrize("timestamp", [None, "2023-01-01T11:00:00Z", "garbage"])
@pytest.mark.parametrize("sent_at", [None, utc(2023, 1, 1, 12, 0, 10)])
def test_offset_overrides_timestamp_and_sent_at(timestamp: str | None, sent_at: datetime | None) -> None:
    assert event_time(TEN_TO_NOON, timestamp, 308, sent_at, False) == TEN_TO_NOON - timedelta(milliseconds=308)


def test_offset_zero_is_now_and_a_negative_offset_is_the_future() -> None:
    assert event_time(NOW, "2020-01-01T00:00:00Z", 0, None, False) == NOW
    assert event_time(NOW, None, -3_600_000, None, False) == NOW + timedelta(hours=1)


def test_date_only_timestamp_takes_nows_time_of_day() -> None:
    assert event_time(NOW, "2023-01-01", None, None, False) == at_now_time(2023, 1, 1)


@pytest.mark.parametrize(
    ("ahead", "clamped"),
    [
        (timedelta(hours=22, minutes=59), False),
        (FUTURE_CUTOFF, False),
        (FUTURE_CUTOFF + timedelta(microseconds=999), False),  # compared in whole milliseconds
        (FUTURE_CUTOFF + timedelta(milliseconds=1), True),
        (timedelta(hours=23, minutes=1), True),
        (timedelta(days=365), True),
    ],
)
def test_future_clamp_boundary(ahead: timedelta, clamped: bool) -> None:
    moment = NOW + ahead
    via_timestamp = event_time(NOW, rfc3339(moment), None, None, False)
    via_offset = event_time(NOW, None, -(ahead // timedelta(milliseconds=1)), None, False)
    assert via_timestamp == (NOW if clamped else moment)
    assert via_offset == (NOW if clamped else NOW + timedelta(milliseconds=ahead // timedelta(milliseconds=1)))


def test_future_clamp_applies_after_skew_correction() -> None:
    sent_at = NOW - timedelta(hours=30)  # client clock 30 h behind: the event lands 30 h ahead
    assert event_time(NOW, rfc3339(NOW), None, sent_at, False) == NOW
    assert event_time(NOW, rfc3339(NOW), None, sent_at, True) == NOW


@pytest.mark.parametrize(
    ("timestamp", "offset", "sent_at", "expected"),
    [
        (None, 2**63 - 1, None, EPOCH),  # 292 million years ago
        ("2023-01-01T00:00:00Z", 2**62, None, EPOCH),
        (None, -(2**63), None, NOW),  # 292 million years ahead: the 23 h clamp comes first
        ("0001-01-01T00:00:00Z", None, utc(9999, 12, 31, 23, 59, 59), EPOCH),  # huge skew into the past
        ("9999-12-31T23:59:59Z", None, utc(1, 1, 1), NOW),  # huge skew into the future: clamped
        ("0000-06-01T00:00:00Z", None, None, EPOCH),  # year 0: fine for capture, not for datetime
        ("0000-12-31T00:00:00Z", None, NOW - timedelta(days=1), utc(1, 1, 1)),
        ("9999-12-31T23:59:59.999999Z", None, None, NOW),
        ("Tue, 1 Jul 262143 10:52:37 +0000", None, None, NOW),
        ("3.31.-2014", None, None, EPOCH),  # chrono reads a signed year: 2015 BC
    ],
)
def test_out_of_range_results(timestamp: str | None, offset: int | None, sent_at: datetime | None,
                              expected: datetime) -> None:
    assert event_time(NOW, timestamp, offset, sent_at, False) == expected


def test_event_time_accepts_naive_and_non_utc_inputs() -> None:
    paris = timezone(timedelta(hours=1))
    naive_now = datetime(2023, 1, 1, 12)
    assert event_time(naive_now, None, None, None, False) == TEN_TO_NOON
    result = event_time(TEN_TO_NOON.astimezone(paris), "2023-01-01T11:00:00Z", None,
                        utc(2023, 1, 1, 12, 0, 10).astimezone(paris), False)
    assert result == utc(2023, 1, 1, 10, 59, 50)
    assert result.tzinfo is UTC


# --------------------------------------------------------------------------------------------
# rfc3339


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (utc(2023, 1, 1, 12), "2023-01-01T12:00:00Z"),
        (utc(2023, 1, 1, 12, 0, 0, 500000), "2023-01-01T12:00:00.500Z"),
        (utc(2023, 1, 1, 12, 0, 0, 123000), "2023-01-01T12:00:00.123Z"),
        (utc(2023, 1, 1, 12, 0, 0, 123456), "2023-01-01T12:00:00.123456Z"),
        (utc(2023, 1, 1, 12, 0, 0, 1), "2023-01-01T12:00:00.000001Z"),
        (utc(1, 1, 1), "0001-01-01T00:00:00Z"),
        (datetime(2023, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))), "2023-01-01T12:00:00Z"),
        (datetime(2023, 1, 1, 12), "2023-01-01T12:00:00Z"),
    ],
)
def test_rfc3339(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text
