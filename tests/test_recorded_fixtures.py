"""Real SDK requests recorded by PostHog (``shared/fixtures/posthog-requests-dump.jsonl``, contract §9.1).

Each request is decoded with :func:`harness.wire.decode_payload` and judged by :func:`harness.validate`;
the decoded events must also be the ones the recording says capture produced (its ``output``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

import harness
from harness.spec.body import PERFORMANCE_EVENT, events_of
from harness.wire import FORM_CONTENT_TYPE, MalformedPayloadError, decode_payload
from tests.support import DUMP, FIXTURES, Recorded, recorded_requests

pytestmark = pytest.mark.skipif(not DUMP.is_file(), reason=f"shared fixtures not found at {FIXTURES}")

COMPARED_AWAY = ("type", "library", "library_version")
"""Top-level keys PostHog's own replay test (django_compat.rs) removes before comparing ``data``."""


def decoded(request: Recorded) -> str:
    """The JSON text capture would parse from a recorded request."""
    url = urlsplit(request.record["path"])
    return decode_payload(url.path, url.query, request.headers, request.body)


REQUESTS = recorded_requests()
ACCEPTED = [r for r in REQUESTS if not r.is_hint_mismatch]
MISMATCHED = [r for r in REQUESTS if r.is_hint_mismatch]


def comparable(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in COMPARED_AWAY}


def test_the_dump_holds_the_expected_requests() -> None:
    # 16, not the 15 of contract §9.1: its posthog-js section has 9 gzip posts, not 8.
    assert len(REQUESTS) == 16
    assert len(MISMATCHED) == 1


@pytest.mark.parametrize("recorded", ACCEPTED, ids=lambda r: r.id)
def test_recorded_request_decodes_and_validates(recorded: Recorded) -> None:
    document = orjson.loads(decoded(recorded))
    report = harness.validate(document)
    assert report.accepted, report.rejections
    assert report.status == 200

    events = [e for e in events_of(document) if e.get("event") != PERFORMANCE_EVENT]
    produced = [json.loads(message["data"]) for message in recorded.record["output"]]
    assert len(events) == len(produced)
    assert [comparable(e) for e in events] == [comparable(p) for p in produced]


@pytest.mark.parametrize("recorded", MISMATCHED, ids=lambda r: r.id)
def test_gzip_hint_on_a_form_body_is_400_in_rust_capture(recorded: Recorded) -> None:
    """Django accepted this request; Rust capture does not, and the dump is Django's ground truth (§9.1).

    Following §2.1 in order: the body starts with ``data=``, so it looks like a form and step 2 does not
    base64-decode it; step 3 reads the form (exact content type) and takes its base64 ``data``; step 4
    finds the hint ``gzip-js`` in the query, which wins over everything else; step 5 then gunzips
    because of the hint, and base64 text is not gzip: ``400`` "invalid GZIP data".
    """
    with pytest.raises(MalformedPayloadError) as excinfo:
        decoded(recorded)
    assert excinfo.value.status == 400
    assert str(excinfo.value) == "failed to decode request: invalid GZIP data"

    # The hint alone is to blame: without it the same body gives the event Django produced.
    url = urlsplit(recorded.record["path"])
    query = "&".join(p for p in url.query.split("&") if not p.startswith("compression="))
    body = base64.b64decode(recorded.record["body"])
    document = orjson.loads(decode_payload(url.path, query, {"Content-Type": FORM_CONTENT_TYPE}, body))
    assert harness.validate(document).accepted
    produced = [json.loads(message["data"]) for message in recorded.record["output"]]
    assert [comparable(e) for e in events_of(document)] == [comparable(p) for p in produced]
