"""Replay PostHog's recorded SDK requests against the reference endpoint over real HTTP (contract §9.1).

Every request line of ``shared/fixtures/posthog-requests-dump.jsonl`` is sent as recorded: its ``path``
with the query string, its ``method`` and ``Content-Type`` (and ``Content-Encoding`` when not empty),
the base64-decoded ``body``, and its ``ip`` as ``X-Forwarded-For``.  The events the server stored are
then compared with the line's ``output`` the way PostHog's own replay test compares them
(``rust/capture/tests/django_compat.rs``, summarised in ``shared/fixtures/README.md``):

- every request is answered ``200 {"status":"Ok"}``, except the one "mismatch" record (below);
- the same number of events, in the same order; per event the same ``uuid``, ``distinct_id``, ``token``,
  ``ip`` and event name;
- ``data`` compared as parsed JSON after removing the top-level ``type``, ``library`` and
  ``library_version`` from the expected event;
- ``sent_at`` compared after parsing, an empty expected ``sent_at`` meaning none;
- ``now`` (the receive time) and ``site_url`` (Django only) ignored.

Expected differences, beyond those PostHog's comparison already removes:

- **``data`` keeps known fields only.**  Our ``data`` is rebuilt from capture's ``RawEvent`` fields alone
  (contract §4.1, rule 22: ``token``, ``distinct_id``, ``uuid``, ``event``, ``properties``,
  ``timestamp``, ``offset``, ``$set``, ``$set_once``), so the expected ``data`` is restricted to those
  fields before comparing.  PostHog's test removes only the three keys above because those are the only
  extra keys in this dump; restricting to the known fields removes exactly the same keys here (checked
  below), and would also cover any other dropped key.
- **Key order and JSON spacing** of ``data`` differ (Django wrote ``", "`` separators and the client's
  key order; we write capture's field order, compactly); comparing parsed JSON makes that irrelevant.
- **The token's name.**  The record's ``token`` field is the request's token wherever it came from
  (``properties.token`` for posthog-js, the batch ``api_key`` for the ``/batch`` lines); none of the
  recorded events carries a top-level ``token``/``api_key``, so neither Django's ``data`` nor ours has a
  ``token`` key and the ``properties.token`` of posthog-js events passes through unchanged.
- **uuid form.**  Stored uuids are the canonical lower-case hyphenated form (capture serializes a parsed
  ``Uuid``); every uuid in the dump is already in that form, so they compare equal as text.
- **Extra record fields.**  Our records also carry ``timestamp`` (the computed event time, newer capture
  versions), ``event``, ``historical_migration`` and ``is_cookieless_mode``; Django's output has none of
  them, so only ``historical_migration`` is checked, against the line's own ``historical_migration``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from harness.server import CaptureApp, Store
from harness.server.runner import Running, running
from harness.spec.records import KNOWN_FIELDS
from tests.support import DUMP, FIXTURES, Recorded, recorded_requests, request

pytestmark = pytest.mark.skipif(not DUMP.is_file(), reason=f"shared fixtures not found at {FIXTURES}")

COMPARED_AWAY = ("type", "library", "library_version")
"""Top-level keys PostHog's replay test (django_compat.rs) removes from the expected ``data``."""

OK = b'{"status":"Ok"}'


REQUESTS = recorded_requests()
ACCEPTED = [r for r in REQUESTS if not r.is_hint_mismatch]
MISMATCHED = [r for r in REQUESTS if r.is_hint_mismatch]


# --- HTTP plumbing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    store = Store(tmp_path_factory.mktemp("replay") / "events.sqlite3")
    with running(CaptureApp(store, seed=1)) as started:
        yield started
    store.close()


@pytest.fixture
def fresh(server: Running) -> Running:
    """The module's server with an empty store."""
    assert call(server, "POST", "/_harness/reset")[0] == 200
    return server


def call(server: Running, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    status, _, reply = request(server.url, method, target, body, headers)
    return status, reply


def stored(server: Running) -> list[dict[str, Any]]:
    status, body = call(server, "GET", "/_harness/events?limit=1000")
    assert status == 200
    return json.loads(body)["events"]


def replay(server: Running, recorded: Recorded, path: str | None = None) -> tuple[int, bytes]:
    return call(server, recorded.record["method"], path or recorded.record["path"], recorded.body,
                recorded.headers)


# --- comparison as PostHog does it --------------------------------------------------------------------


def expected_data(message: dict[str, Any]) -> dict[str, Any]:
    """The expected ``data``: PostHog's three keys removed, then restricted to capture's known fields."""
    data = {key: value for key, value in json.loads(message["data"]).items() if key not in COMPARED_AWAY}
    return {key: value for key, value in data.items() if key in KNOWN_FIELDS}


def parsed_sent_at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def assert_matches_output(got: list[dict[str, Any]], recorded: Recorded) -> None:
    expected = recorded.record["output"]
    assert len(got) == len(expected)
    for record, message in zip(got, expected):
        assert record["uuid"] == message["uuid"]
        assert record["distinct_id"] == message["distinct_id"]
        assert record["token"] == message["token"]
        assert record["ip"] == message["ip"]
        assert record["event"] == json.loads(message["data"])["event"]
        assert json.loads(record["data"]) == expected_data(message)
        assert parsed_sent_at(record["sent_at"]) == parsed_sent_at(message["sent_at"])
        assert record["historical_migration"] is bool(recorded.record.get("historical_migration"))


# --- tests --------------------------------------------------------------------------------------------


def test_the_dump_holds_the_expected_requests() -> None:
    # 16 request lines, not the 15 of contract §9.1: its posthog-js section has 9 gzip posts, not 8.
    assert len(REQUESTS) == 16
    assert len(MISMATCHED) == 1


def test_known_fields_remove_exactly_what_posthog_removes() -> None:
    """Restricting the expected ``data`` to known fields drops the keys PostHog's test drops, no others."""
    for recorded in REQUESTS:
        for message in recorded.record["output"]:
            data = json.loads(message["data"])
            dropped = {key for key in data if key not in KNOWN_FIELDS}
            assert dropped <= set(COMPARED_AWAY), (recorded.id, dropped)


@pytest.mark.parametrize("recorded", ACCEPTED, ids=lambda r: r.id)
def test_recorded_request_is_stored_as_django_produced_it(fresh: Running, recorded: Recorded) -> None:
    status, body = replay(fresh, recorded)
    assert (status, body) == (200, OK)
    assert_matches_output(stored(fresh), recorded)


@pytest.mark.parametrize("recorded", MISMATCHED, ids=lambda r: r.id)
def test_gzip_hint_on_a_form_body_is_400(fresh: Running, recorded: Recorded) -> None:
    """Django answered 200 here; capture answers 400, so this one line is expected to differ from the dump.

    Contract §2.1 in order: the body starts with ``data=``, so it looks like a form and step 2 leaves it
    alone; step 3 reads the form (the content type is exactly ``application/x-www-form-urlencoded``) and
    takes its base64 ``data``; step 4 takes the hint from the query first, ``gzip-js``; step 5 gunzips
    because of the hint, and base64 text is not gzip: ``400`` "invalid GZIP data".  §9.1 says the line
    reflects the old Django decoder and would fail the current decompression logic.
    """
    status, body = replay(fresh, recorded)
    assert (status, body) == (400, b"failed to decode request: invalid GZIP data")
    assert stored(fresh) == []

    # The hint alone is to blame: without it the same request gives exactly what Django produced.
    url = urlsplit(recorded.record["path"])
    query = urlencode([(k, v) for k, v in parse_qsl(url.query) if k != "compression"])
    status, body = replay(fresh, recorded, path=f"{url.path}?{query}")
    assert (status, body) == (200, OK)
    assert_matches_output(stored(fresh), recorded)


def test_whole_dump_in_sequence(fresh: Running) -> None:
    """Replayed back to back on one store, the dump gives every expected event (duplicates included:
    the hint-less mismatch line resends uuids of an earlier line, and capture forwards duplicates)."""
    for recorded in REQUESTS:
        status, _ = replay(fresh, recorded)
        assert status == (400 if recorded.is_hint_mismatch else 200), recorded.id
    expected = [message["uuid"] for r in ACCEPTED for message in r.record["output"]]
    assert [record["uuid"] for record in stored(fresh)] == expected
