"""The seeded corpus the load runs replay: reproducible chunks of ready requests (:class:`harness.checks.Case`),
disjoint uuids across streams and chunks, every request valid and expecting its outcome, copies of a chunk's
request shapes that differ only in their uuids, spliced gzip bodies (:mod:`harness.load.splice`) that
decompress to their text, and the encoding of a chunk on disk.  (The supply that makes chunks during a run:
``test_load_supply.py``.)"""

from __future__ import annotations

import gzip
import re
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checks import Case
from harness.generate.ids import hyphenate
from harness.load import corpus, eventids, splice
from harness.load.scenarios import PER_EVENT, SCENARIOS
from harness.spec.body import events_of
from harness.spec.validation import validate
from harness.wire import FORM_CONTENT_TYPE, decode_payload, encode, expected_outcome

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



def _text(case: Case) -> bytes:
    """The JSON text a case's request carries, read back as capture reads it."""
    path, _, query = case.request.target.partition("?")
    return decode_payload(path, query, case.request.headers, case.request.body).encode()


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["capture", "mixed", "browser", "browser_legacy"]), st.integers(0, 2**32),
       st.integers(0, eventids.MAX_STREAM), st.integers(0, eventids.MAX_CHUNK))
def test_copies_of_a_shape_differ_only_in_their_derived_uuids(scenario: str, seed: int, stream: int,
                                                               chunk: int) -> None:
    """Request ``n`` of a chunk is shape ``n % SHAPES`` with its own uuids stamped in: same name, target and
    headers, the same text but for the uuids, which are the ones derived from its events' places; its gzip
    body (spliced) decompresses to that text; the chunk is the same for the same seed, and capture's own
    checks accept every body."""
    cases = corpus.generate_chunk(scenario, seed, stream, chunk, SECRET_KEY)
    assert corpus.generate_chunk(scenario, seed, stream, chunk, SECRET_KEY) == cases
    tag, index, texts = eventids.run_tag(scenario, seed), 0, []
    for n, case in enumerate(cases):
        text = _text(case)
        if case.request.headers.get("Content-Encoding") == "gzip" or case.request.body[:2] == b"\x1f\x8b":
            assert gzip.decompress(case.request.body) == text
        else:  # as the wire would encode that text
            path, _, query = case.request.target.partition("?")
            assert case.request == encode(text, _encoding(case), path, query=dict(parse_qsl(query)))
        document = orjson.loads(text)
        assert [event["uuid"] for event in events_of(document)] == list(case.uuids)
        assert [eventids.parse(uuid) for uuid in case.uuids] == \
            [(tag, stream, chunk, i) for i in range(index, index + len(case.uuids))]
        assert case.event_span == (chunk, index, len(case.uuids))
        index += len(case.uuids)
        shape = cases[n % corpus.SHAPES]
        assert (case.name, case.request.method, case.request.target, case.request.headers, case.expect_status) == \
            (shape.name, shape.request.method, shape.request.target, shape.request.headers, shape.expect_status)
        texts.append(_UUID.sub(b"-", text))
        assert texts[-1] == texts[n % corpus.SHAPES] and len(_UUID.findall(text)) >= len(case.uuids)
        if n % 97 == 0:  # a sample: the whole chunk of each scenario is validated above, for one seed
            assert validate(document, encoded=text).accepted, case.name


def test_a_chunk_is_made_of_the_scenarios_planned_shapes(chunks: dict[str, list[Case]]) -> None:
    """A chunk is its :data:`corpus.SHAPES` planned requests repeated in turn, so its mix of names (and so of
    paths and encodings) is the one the scenario's weights give."""
    names, copies = [case.name for case in chunks["mixed"]], corpus.CHUNK_SIZE // corpus.SHAPES
    assert len(set(names[:corpus.SHAPES])) >= 8 and names == names[:corpus.SHAPES] * copies
    capture = [case.name for case in chunks["capture"]]
    assert 0.35 < capture.count("capture gzip-header") / len(capture) < 0.65


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=300).map(lambda piece: piece.replace(b"\x00", b"\x01")), min_size=1, max_size=6),
       st.data())
def test_spliced_gzip_decompresses_to_the_filled_text(pieces: list[bytes], data: st.DataObject) -> None:
    holes = [f"<hole {n:029d}>".encode() for n in range(len(pieces) - 1)]
    text = b"".join(piece + hole for piece, hole in zip(pieces, [*holes, b""]))
    template = splice.Template(text, holes, compress=True)
    assert template.text(holes) == text and gzip.decompress(template.gzip(holes)) == text
    values = data.draw(st.lists(st.binary(min_size=36, max_size=36), min_size=len(holes), max_size=len(holes)))
    filled = template.text(values)
    assert gzip.decompress(template.gzip(values)) == filled
    assert filled == b"".join(piece + value for piece, value in zip(pieces, [*values, b""]))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=300).map(lambda piece: piece.replace(b"\x00", b"\x01")), min_size=1, max_size=6),
       st.integers(0, 31), st.data())
def test_a_template_that_varies_only_the_holes_ends_keeps_the_rest_in_the_text(
        pieces: list[bytes], vary: int, data: st.DataObject) -> None:
    """``vary``: each hole's first bytes stay in the text, compressed with it; only its last ``vary`` are filled,
    and the spliced gzip still decompresses to exactly the filled text."""
    holes = [f"<hole {n:025d}>".encode() for n in range(len(pieces) - 1)]  # 32 bytes
    text = b"".join(piece + hole for piece, hole in zip(pieces, [*holes, b""]))
    template = splice.Template(text, holes, compress=True, vary=vary)
    assert template.width == vary and template.text([hole[32 - vary:] for hole in holes]) == text
    values = data.draw(st.lists(st.binary(min_size=vary, max_size=vary), min_size=len(holes), max_size=len(holes)))
    filled = template.text(values)
    assert filled == b"".join(piece + hole[:32 - vary] + value for piece, hole, value in zip(pieces, holes, values)) \
        + pieces[-1]
    assert gzip.decompress(template.gzip(values)) == filled


def test_a_spliced_body_stores_only_what_varies() -> None:
    """Each hole costs its value and a stored block's 4 lengths (the block's header is the sync flush's), so
    a body cut at the last 5 digits of its uuids grows far less over plain gzip than one cut at whole uuids."""
    cases = [case for case in corpus.generate_chunk("batch", 7, 0, 3, "phc_x") if case.request.body[:2] == b"\x1f\x8b"]
    assert len(cases) > 100
    spliced = sum(len(case.request.body) for case in cases)
    plain = sum(len(gzip.compress(gzip.decompress(case.request.body), mtime=0)) for case in cases)
    assert spliced < 1.35 * plain, (spliced, plain)  # +73% when whole uuids were stored


def test_a_template_refuses_holes_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="exactly once"):
        splice.Template(b'{"a":"x","b":"x"}', [b"x"])
    with pytest.raises(ValueError, match="exactly once"):
        splice.Template(b'{"a":"y"}', [b"x"])
    with pytest.raises(ValueError, match="one width"):
        splice.Template(b'{"a":"xy","b":"z"}', [b"xy", b"z"])
    with pytest.raises(ValueError, match="NUL"):
        splice.Template(b'"\x00"', [])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**128 - 1), st.integers(0, eventids.MAX_TAG), st.integers(0, eventids.MAX_STREAM),
       st.integers(0, eventids.MAX_CHUNK), st.integers(0, eventids.MAX_INDEX))
def test_stamped_uuid_texts_are_the_derived_values(model: int, tag: int, stream: int, chunk: int, index: int) -> None:
    """:func:`eventids.stamp` formats a uuid in pieces: the same text as the whole value's, its place parseable."""
    value = (model & (((1 << 52) - 1) << 76)) | (stream << 64) | (0x2 << 62) | (tag << 38) | (chunk << 18) | index
    assert eventids.derive(hyphenate(model), tag, stream, chunk, index) == hyphenate(value)
    assert eventids.parse(hyphenate(value)) == (tag, stream, chunk, index)
    with pytest.raises(ValueError, match="last index"):
        eventids.stamp([eventids.prefix(hyphenate(model))] * 2, eventids.chunk_stamp(tag, stream, chunk),
                       eventids.MAX_INDEX)
