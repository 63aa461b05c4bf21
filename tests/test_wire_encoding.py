"""The encoding half of :mod:`harness.wire`: :func:`encode` against :func:`decode_payload` and the contract.

:func:`expected_outcome` is derived from the contract's text; :func:`decode_payload` follows capture's
code.  The round-trip tests make the two meet on every encoding and v0 path.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.wire import (
    ENCODINGS,
    FORM_CONTENT_TYPE,
    LEGACY_PATHS,
    V0_PATHS,
    DecodeError,
    WireRequest,
    decode_payload,
    encode,
    expected_outcome,
    is_legacy_path,
    lzstring,
)
from tests.support import DUMP, FIXTURES

PAYLOAD = orjson.dumps(
    [{"event": "$pageview", "distinct_id": "u-1", "properties": {"token": "phc_test", "q": ">>>???", "t": "é😀\x00"}}]
)
"""A capture payload whose base64 holds both ``+`` and ``/`` (from ``>>>???``), and non-ASCII text."""

CELLS = [(encoding, path) for encoding in ENCODINGS for path in V0_PATHS]
OK_CELLS = [(encoding, path) for encoding, path in CELLS if expected_outcome(encoding, path) == 200]


def wire_outcome(request: WireRequest) -> tuple[int, str | None]:
    """What capture answers for ``request`` as far as decoding and JSON parsing go, and the decoded text.

    A :class:`DecodeError` gives its status; decoded text that is not JSON is capture's 400 at parse time
    (§2.1 step 8), so both ways a request can fail meet in one status.
    """
    path, _, query = request.target.partition("?")
    try:
        text = decode_payload(path, query, request.headers, request.body)
    except DecodeError as error:
        return error.status, None
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return 400, text
    return 200, text


# --- the table and the constants --------------------------------------------------------------------


def test_encoding_names() -> None:
    assert ENCODINGS == (
        "json", "gzip-header", "gzip-query", "gzip-magic", "base64", "form", "form-lz64", "get-data",
    )


def test_v0_paths_are_six_routes_with_and_without_slash() -> None:
    routes = [path for path in V0_PATHS if not path.endswith("/")]
    assert sorted(routes) == ["/batch", "/capture", "/e", "/engage", "/i/v0/e", "/track"]
    assert set(V0_PATHS) == set(routes) | {route + "/" for route in routes}
    assert LEGACY_PATHS < set(routes)


def test_the_only_hole_is_base64_in_a_form_off_the_legacy_paths() -> None:
    outcomes = {(encoding, path): expected_outcome(encoding, path) for encoding, path in CELLS}
    holes = {cell: status for cell, status in outcomes.items() if status != 200}
    assert holes == {("form", path): 400 for path in V0_PATHS if not is_legacy_path(path)}


@pytest.mark.parametrize("path", ["/", "/s/", "/i/v0/ai", "/i/v1/analytics/events", "/e/x", "/batches"])
def test_no_outcome_off_the_v0_paths(path: str) -> None:
    assert expected_outcome("json", path) is None


def test_outcome_ignores_a_query_string_in_the_path() -> None:
    assert expected_outcome("form", "/batch/?ip=1") == 400
    assert expected_outcome("form", "/e/?ip=1") == 200


def test_unknown_encoding_names_the_valid_ones() -> None:
    for call in (lambda: encode(PAYLOAD, "brotli", "/e/"), lambda: expected_outcome("brotli", "/e/")):
        with pytest.raises(ValueError, match="'brotli'.*json, gzip-header, .*get-data"):
            call()


# --- the table meets the decoder ---------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "path"), CELLS)
def test_round_trip_matches_the_table(encoding: str, path: str) -> None:
    status, text = wire_outcome(encode(PAYLOAD, encoding, path))
    assert status == expected_outcome(encoding, path)
    if status == 200:
        assert text == PAYLOAD.decode()


json_texts = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "😀", "𝄞", "\U0010ffff", "+", "/", "&"]))
"""Any text: every code point but surrogates (which are not text), with NUL, astral characters and
the characters that matter to urlencoding drawn often."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # orjson's integer range
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_texts, children, max_size=4),
    max_leaves=16,
)

payloads = st.one_of(st.lists(json_values, max_size=4), st.dictionaries(json_texts, json_values, max_size=4)).map(
    orjson.dumps
)
"""A JSON array or object around any JSON values: the shape of every capture payload (§2.2)."""


@settings(deadline=None)
@given(payload=payloads)
def test_any_json_round_trips_through_every_working_cell(payload: bytes) -> None:
    for encoding, path in OK_CELLS:
        assert wire_outcome(encode(payload, encoding, path)) == (200, payload.decode()), (encoding, path)


# --- what goes on the wire ----------------------------------------------------------------------------


def test_requests_have_the_documented_shape() -> None:
    requests = {encoding: encode(PAYLOAD, encoding, "/i/v0/e/") for encoding in ENCODINGS}
    shapes = {
        encoding: (request.method, request.target, request.headers) for encoding, request in requests.items()
    }
    assert shapes == {
        "json": ("POST", "/i/v0/e/", {"Content-Type": "application/json"}),
        "gzip-header": ("POST", "/i/v0/e/", {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        "gzip-query": ("POST", "/i/v0/e/?compression=gzip-js", {"Content-Type": "text/plain"}),
        "gzip-magic": ("POST", "/i/v0/e/", {"Content-Type": "text/plain"}),
        "base64": ("POST", "/i/v0/e/", {"Content-Type": "text/plain"}),
        "form": ("POST", "/i/v0/e/", {"Content-Type": FORM_CONTENT_TYPE}),
        "form-lz64": ("POST", "/i/v0/e/", {"Content-Type": FORM_CONTENT_TYPE}),
        "get-data": ("GET", requests["get-data"].target, {}),
    }
    b64 = base64.b64encode(PAYLOAD)
    assert requests["json"].body == PAYLOAD
    assert requests["base64"].body == b64
    assert requests["form"].body == b"data=" + b64.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
    assert requests["get-data"].target == "/i/v0/e/?data=" + requests["form"].body.decode().removeprefix("data=")
    assert requests["get-data"].body == b""
    for encoding in ("gzip-header", "gzip-query", "gzip-magic"):
        assert requests[encoding].body.startswith(b"\x1f\x8b\x08")


def test_gzip_is_deterministic() -> None:
    assert encode(PAYLOAD, "gzip-magic", "/batch/").body == encode(PAYLOAD, "gzip-magic", "/batch/").body


def test_base64_survives_urlencoding_in_query_and_form() -> None:
    """A bare ``+`` in ``?data=`` becomes a space nothing repairs (§2.1 caveat): every one is ``%2B``."""
    assert b"+" in base64.b64encode(PAYLOAD)
    assert "+" not in encode(PAYLOAD, "get-data", "/e/").target
    for encoding in ("form", "form-lz64"):
        body = encode(PAYLOAD, encoding, "/e/").body
        assert b"+" not in body
        assert body.startswith(b"data=")
    lz64_body = encode(PAYLOAD, "form-lz64", "/e/").body
    data, _, hint = lz64_body.partition(b"&")
    assert hint == b"compression=lz64"
    assert lzstring.decompress_from_base64(unquote_to_bytes(data.removeprefix(b"data=")).decode()) == PAYLOAD.decode()


def test_extra_query_parameters_follow_the_encodings_own() -> None:
    request = encode(PAYLOAD, "gzip-query", "/e/", query={"ip": "1", "_": "1694769305355", "beacon": "1"})
    assert request.target == "/e/?compression=gzip-js&ip=1&_=1694769305355&beacon=1"
    assert encode(PAYLOAD, "json", "/batch/", query={"ver": "1.2.3"}).target == "/batch/?ver=1.2.3"


@pytest.mark.parametrize(("encoding", "name"), [("gzip-query", "compression"), ("get-data", "data")])
def test_query_may_not_repeat_the_encodings_parameter(encoding: str, name: str) -> None:
    with pytest.raises(ValueError, match=f"repeats \\['{name}'\\]"):
        encode(PAYLOAD, encoding, "/e/", query={name: "x"})


def test_path_takes_no_query_string() -> None:
    with pytest.raises(ValueError, match="query="):
        encode(PAYLOAD, "json", "/e/?ip=1")


# --- the variants the docstring lists ------------------------------------------------------------------


@pytest.mark.parametrize("path", V0_PATHS)
def test_base64_hint_on_a_form_changes_nothing(path: str) -> None:
    request = encode(PAYLOAD, "form", path, query={"compression": "base64"})
    assert wire_outcome(request)[0] == expected_outcome("form", path)


@pytest.mark.parametrize("path", V0_PATHS)
def test_gzip_hint_on_a_form_is_400(path: str) -> None:
    assert wire_outcome(encode(PAYLOAD, "form", path, query={"compression": "gzip-js"}))[0] == 400


@pytest.mark.parametrize("path", V0_PATHS)
@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (PAYLOAD, 400),  # valid base64: step 2 decodes it before the hint is read
        (b'[{"event":"ee"}]', 200),  # lz-string pads it with "===", invalid base64: step 2 keeps it
    ],
)
def test_raw_lz64_body_works_only_when_it_is_not_valid_base64(path: str, payload: bytes, status: int) -> None:
    body = lzstring.compress_to_base64(payload.decode()).encode()
    assert body.endswith(b"===") == (status == 200)
    request = WireRequest("POST", f"{path}?compression=lz64", {"Content-Type": "text/plain"}, body)
    assert wire_outcome(request) == (status, payload.decode() if status == 200 else None)


@pytest.mark.parametrize(("encoding", "path"), [(e, p) for e in ("form", "form-lz64") for p in V0_PATHS])
def test_form_with_a_charset_is_400(encoding: str, path: str) -> None:
    request = encode(PAYLOAD, encoding, path)
    request = dataclasses.replace(request, headers={"Content-Type": FORM_CONTENT_TYPE + "; charset=UTF-8"})
    assert wire_outcome(request)[0] == 400


@pytest.mark.parametrize("path", V0_PATHS)
def test_get_data_with_a_bare_plus_is_400(path: str) -> None:
    request = encode(PAYLOAD, "get-data", path)
    request = dataclasses.replace(request, target=request.target.replace("%2B", "+"))
    assert wire_outcome(request)[0] == 400


# --- the recorded posthog-js requests ------------------------------------------------------------------


def recorded(content_type: str) -> dict[str, Any]:
    """The first request of the dump with this content type (contract §9.1)."""
    if not DUMP.is_file():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    for line in DUMP.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            record = json.loads(line)
            if record["content_type"] == content_type:
                return record
    raise AssertionError(f"no {content_type} request in {DUMP}")


def test_recorded_posthog_js_form_request_is_reproduced_byte_for_byte() -> None:
    record = recorded(FORM_CONTENT_TYPE)
    body = base64.b64decode(record["body"])
    payload = base64.b64decode(unquote_to_bytes(body.removeprefix(b"data=")))
    path, _, query = record["path"].partition("?")
    request = encode(payload, "form", path, query=dict(parse_qsl(query)))
    assert (request.method, request.target, request.headers["Content-Type"], request.body) == (
        record["method"], record["path"], record["content_type"], body,
    )


def test_recorded_posthog_js_gzip_request_has_the_gzip_query_shape() -> None:
    """fflate's deflate differs from zlib's, so the bytes differ; the request line, type and text do not."""
    record = recorded("text/plain")
    body = base64.b64decode(record["body"])
    path, _, query = record["path"].partition("?")
    params = dict(parse_qsl(query))
    assert params.pop("compression") == "gzip-js"
    payload = decode_payload(path, query, {"Content-Type": record["content_type"]}, body).encode()
    request = encode(payload, "gzip-query", path, query=params)
    assert (request.method, request.target, request.headers["Content-Type"]) == (
        record["method"], record["path"], record["content_type"],
    )
    assert wire_outcome(request) == (200, payload.decode())
