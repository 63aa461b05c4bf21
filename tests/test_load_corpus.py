"""The seeded corpus the load runs replay: reproducible chunks of ready requests (:class:`harness.checks.Case`),
disjoint uuids across streams and chunks, every request valid and expecting its outcome, and the encoding
of a chunk on disk.  (The supply that makes chunks during a run: ``test_load_supply.py``.)"""

from __future__ import annotations

import orjson
import pytest

from harness.checks import Case
from harness.load import corpus, eventids
from harness.load.scenarios import PER_EVENT, SCENARIOS
from harness.spec.body import events_of
from harness.spec.validation import validate
from harness.wire import FORM_CONTENT_TYPE, decode_payload, expected_outcome

SECRET_KEY = "phc_SECRETKEY123456789"


def _encoding(case: Case) -> str:
    """The wire encoding a corpus case was built with, read off its request."""
    request = case.request
    if request.headers.get("Content-Encoding") == "gzip":
        return "gzip-header"
    if "compression=gzip-js" in request.target:
        return "gzip-query"
    if request.headers.get("Content-Type") == FORM_CONTENT_TYPE:
        return "form"
    return "json"


@pytest.fixture(scope="module")
def chunks() -> dict[str, list[Case]]:
    return {scenario: corpus.generate_chunk(scenario, 7, 0, 0, SECRET_KEY) for scenario in SCENARIOS}


def test_same_seed_gives_identical_chunks(chunks: dict[str, list[Case]]) -> None:
    for scenario in ("capture", "mixed"):
        again = corpus.generate_chunk(scenario, 7, 0, 0, SECRET_KEY)
        assert again == chunks[scenario]
    assert corpus.generate_chunk("capture", 8, 0, 0, SECRET_KEY) != chunks["capture"]


def test_streams_and_chunks_have_disjoint_uuids(chunks: dict[str, list[Case]]) -> None:
    def uuids(ready: list[Case]) -> list[str]:
        return [uuid for request in ready for uuid in request.uuids]

    first = uuids(chunks["mixed"])
    assert len(first) == len(set(first))  # unique within a chunk
    other_stream = uuids(corpus.generate_chunk("mixed", 7, 1, 0, SECRET_KEY))
    next_chunk = uuids(corpus.generate_chunk("mixed", 7, 0, 1, SECRET_KEY))
    other_scenario = uuids(chunks["browser"])
    groups = [set(first), set(other_stream), set(next_chunk), set(other_scenario)]
    assert sum(len(group) for group in groups) == len(set().union(*groups))


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s not in PER_EVENT])  # v1's: test_load_v1.py
def test_every_request_decodes_validates_and_expects_its_outcome(
        chunks: dict[str, list[Case]], scenario: str) -> None:
    ready = chunks[scenario]
    assert len(ready) == corpus.CHUNK_SIZE
    for request in ready:
        path, _, query = request.request.target.partition("?")
        text = decode_payload(path, query, request.request.headers, request.request.body)
        document = orjson.loads(text)
        report = validate(document, encoded=text.encode())
        assert report.accepted, (request.name, report.rejections)
        assert request.expect_status == expected_outcome(_encoding(request), path) == 200, request.name
        assert request.uuids == tuple(event["uuid"] for event in events_of(document))
        assert all(event.get("uuid") for event in events_of(document))  # every event carries a uuid
        assert SECRET_KEY in text  # the run's key is the payloads' token


def test_a_chunk_survives_its_encoding(chunks: dict[str, list[Case]]) -> None:
    for scenario in ("capture", "batch", "mixed"):
        assert corpus.decode(corpus.encode(chunks[scenario])) == chunks[scenario]
    whole = corpus.encode(chunks["capture"])
    for cut in (len(whole) - 10, 5):  # in the bodies, in the metadata line
        with pytest.raises(ValueError):
            corpus.decode(whole[:cut])


def test_event_uuids_say_where_they_came_from(chunks: dict[str, list[Case]]) -> None:
    """Each case's span numbers its events consecutively through the chunk, and each uuid encodes its place."""
    for scenario in ("batch", "mixed"):
        tag, index = eventids.run_tag(scenario, 7), 0
        for case in chunks[scenario]:
            assert case.event_span == (0, index, len(case.uuids))
            assert [eventids.parse(uuid) for uuid in case.uuids] == \
                [(tag, 0, 0, i) for i in range(index, index + len(case.uuids))]
            index += len(case.uuids)
    later = corpus.generate_chunk("mixed", 7, 3, 9, SECRET_KEY)
    places = [eventids.parse(uuid) for case in later for uuid in case.uuids]
    assert {(place.stream, place.chunk) for place in places if place is not None} == {(3, 9)} and None not in places
    assert all(case.event_span is not None and case.event_span[0] == 9 for case in later)


def test_event_uuids_do_not_depend_on_the_api_key(chunks: dict[str, list[Case]]) -> None:
    """The ledger regenerates a chunk to name its lost events, and holds no key: the uuids must not need it."""
    other = corpus.generate_chunk("mixed", 7, 0, 0, "phc_another_key")
    assert [case.uuids for case in other] == [case.uuids for case in chunks["mixed"]]

