"""The v1 load corpus made from shapes: every copy of a chunk's :data:`corpus.SHAPES` planned v1 requests decodes
(gzip, zlib ``deflate`` or none) to a body the v1 judge accepts, carrying exactly the uuids stamped into it; each
copy has its own valid ``PostHog-Request-Id``, unique across chunks and streams; a seed replays the same bytes;
and the spliced zlib stream (:meth:`splice.Template.zlib`) inflates to its filled text.  (The answers, resends
and ledger of the v1 scenario: ``test_load_v1.py``; the v0 corpus and the gzip splice: ``test_load_corpus.py``.)"""

from __future__ import annotations

import re
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checks import Case
from harness.load import corpus, eventids, splice
from harness.spec.v1 import headers as v1_headers
from harness.spec.v1.model import Finding
from harness.spec.v1.validation import decode_body, validate_body

KEY = "phc_v1_corpus_test"
SEED = 12
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def chunks() -> dict[tuple[int, int], list[Case]]:
    """Chunks 0 and 1 of streams 0 and 1."""
    return {(stream, chunk): corpus.generate_chunk("v1", SEED, stream, chunk, KEY) for stream in (0, 1)
            for chunk in (0, 1)}


def _document(case: Case) -> dict[str, Any]:
    document = decode_body(case.request.body, case.request.headers.get("Content-Encoding"), "$", frozenset())
    assert not isinstance(document, Finding), (case.name, document)
    assert isinstance(document, dict)
    return document


def test_every_copy_decodes_to_an_accepted_body_with_its_stamped_uuids(
        chunks: dict[tuple[int, int], list[Case]]) -> None:
    encodings: set[str | None] = set()
    for (stream, chunk), cases in chunks.items():
        tag, index = eventids.run_tag("v1", SEED), 0
        assert len(cases) == corpus.CHUNK_SIZE
        for case in cases:
            encoding = case.request.headers.get("Content-Encoding")
            encodings.add(encoding)
            magic = {"gzip": b"\x1f\x8b", "deflate": b"\x78\xda", None: b'{"'}[encoding]
            assert case.request.body[:2] == magic, case.name  # gzip, zlib, or JSON text
            document = _document(case)
            report = validate_body(document)
            assert report.accepted and all(r.result == "ok" for r in report.results), (case.name, report)
            assert [r.uuid for r in report.results] == list(case.uuids)
            assert [event["uuid"] for event in document["batch"]] == list(case.uuids)
            assert [eventids.parse(uuid) for uuid in case.uuids] == \
                [(tag, stream, chunk, i) for i in range(index, index + len(case.uuids))]
            assert case.event_span == (chunk, index, len(case.uuids)) and case.expect_status == 200
            index += len(case.uuids)
    assert encodings == {None, "gzip", "deflate"}


def test_copies_of_a_shape_differ_only_in_their_uuids(chunks: dict[tuple[int, int], list[Case]]) -> None:
    cases = chunks[(0, 0)]
    texts = [_UUID.sub("-", _text(case)) for case in cases]
    for n, case in enumerate(cases):
        shape = cases[n % corpus.SHAPES]
        assert texts[n] == texts[n % corpus.SHAPES]
        assert case.name == shape.name and case.request.target == shape.request.target
        assert {**case.request.headers, "PostHog-Request-Id": ""} == {**shape.request.headers, "PostHog-Request-Id": ""}


def _text(case: Case) -> str:
    """The body's JSON text as decoded (the uuids masked by the caller)."""
    raw, encoding = case.request.body, case.request.headers.get("Content-Encoding")
    if encoding == "gzip":
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS).decode()
    return (zlib.decompress(raw) if encoding == "deflate" else raw).decode()


def test_every_request_id_is_valid_unique_and_of_its_sdk(chunks: dict[tuple[int, int], list[Case]]) -> None:
    ids: list[str] = []
    for (stream, chunk), cases in chunks.items():
        for n, case in enumerate(cases):
            headers = case.request.headers
            request_id = headers["PostHog-Request-Id"]
            assert v1_headers.check(headers, frozenset()) is None, (case.name, request_id)
            assert request_id[14] == ("7" if "posthog-node" in case.name else "4")  # uuid7 (node), uuid4 (python)
            assert eventids.parse(request_id) == (eventids.run_tag("v1", SEED), stream, chunk, corpus.REQUEST_IDS + n)
            ids.append(request_id)
    assert len(ids) == len(set(ids)) == 4 * corpus.CHUNK_SIZE
    events = {uuid for cases in chunks.values() for case in cases for uuid in case.uuids}
    assert not events & set(ids)  # no request id is an event's uuid either


def test_the_same_seed_replays_the_same_bytes(chunks: dict[tuple[int, int], list[Case]]) -> None:
    again = corpus.generate_chunk("v1", SEED, 0, 1, KEY)
    assert corpus.encode(again) == corpus.encode(chunks[(0, 1)])
    assert corpus.decode(corpus.encode(again)) == again
    assert corpus.encode(corpus.generate_chunk("v1", SEED + 1, 0, 1, KEY)) != corpus.encode(again)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=300).map(lambda piece: piece.replace(b"\x00", b"\x01")), min_size=1, max_size=6),
       st.data())
def test_spliced_zlib_inflates_to_the_filled_text(pieces: list[bytes], data: st.DataObject) -> None:
    """RFC 1950: the 2-byte header, the deflate segments and stored blocks, and the Adler-32 of the filled text
    (:func:`zlib.decompress` checks it), as the judge's ``deflate`` decoding reads it."""
    holes = [f"<hole {n:029d}>".encode() for n in range(len(pieces) - 1)]
    text = b"".join(piece + hole for piece, hole in zip(pieces, [*holes, b""]))
    template = splice.Template(text, holes, compress=True)
    assert zlib.decompress(template.zlib(holes)) == text
    values = data.draw(st.lists(st.binary(min_size=36, max_size=36), min_size=len(holes), max_size=len(holes)))
    filled = template.text(values)
    body = template.zlib(values)
    assert body[:2] == b"\x78\xda" and int.from_bytes(body[:2], "big") % 31 == 0  # the header's check bits
    assert zlib.decompress(body) == filled
    assert body[-4:] == zlib.adler32(filled).to_bytes(4, "big")
    inflater = zlib.decompressobj(zlib.MAX_WBITS)
    assert inflater.decompress(body) == filled and inflater.eof and not inflater.unused_data
