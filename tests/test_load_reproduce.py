"""The curl command of a load failure sends exactly the failing request, and never holds the key.

Nothing is sent: each command is read back with :mod:`shlex` the way a shell splits it (``$VAR`` put back
from the environment), and the request it would send, method, URL, headers and the body bytes (inline or
read from its ``@FILE``), is compared with the request that failed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from harness.load.reproduce import KEY_VARIABLE, failure_curl
from harness.safety import mask_token
from harness.spec.jsontext import to_json
from harness.wire import ENCODINGS, WireRequest, encode

SECRET = "phc_the_real_project_key_0123456789"
BASE = "http://127.0.0.1:8000"


def _rebuilt(command: str, environment: dict[str, str]) -> WireRequest:
    """The request ``command`` sends, as curl would build it (only the options the commands use)."""
    variable = "${" + KEY_VARIABLE + "}"
    words = [word.replace(variable, environment[KEY_VARIABLE]) if variable in word else word
             for word in shlex.split(command)]
    assert words[0] == "curl"
    method, headers, body, url = "GET", {}, b"", None
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-sS", "-i", "--globoff"):
            index += 1
            continue
        value = words[index + 1] if word.startswith("-") else ""
        if word == "-X":
            method = value
        elif word == "-H" and value.startswith("@"):  # curl reads one header a line from the file
            for line in Path(value[1:]).read_text().splitlines():
                name, _, text = line.partition(":")
                headers[name] = text.strip()
        elif word == "-H":
            name, _, text = value.partition(":")
            headers[name] = text.strip()
        elif word == "--data-binary":
            body = Path(value[1:]).read_bytes() if value.startswith("@") else value.encode("utf-8")
        else:
            assert url is None and not word.startswith("-"), (word, command)
            url, index = word, index + 1
            continue
        index += 2
    assert url is not None and url.startswith(BASE), command
    return WireRequest(method, url[len(BASE):], {n: v for n, v in headers.items() if v}, body)


def _body(token: str) -> bytes:
    return to_json({"api_key": token, "batch": [{"event": "e", "distinct_id": "u\u00e9", "properties": {"n": 1}}]})


def _check(request: WireRequest, tmp_path: Path, *, key: str = SECRET) -> str:
    command = failure_curl(request, BASE, tmp_path / "failed-bodies", key)
    assert _rebuilt(command, {KEY_VARIABLE: SECRET}) == request  # byte for byte
    assert SECRET not in command and mask_token(SECRET) not in command
    return command


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_with_the_key_in_the_body_is_reproduced(tmp_path: Path, encoding: str) -> None:
    request = encode(_body(SECRET), encoding, "/batch/", query={"ver": "1.2.3"})
    command = _check(request, tmp_path)
    if request.body:
        files = list((tmp_path / "failed-bodies").iterdir())
        assert [path.read_bytes() for path in files] == [request.body]
        assert f"--data-binary @{files[0]}" in command and files[0].is_absolute()


def test_a_small_body_without_the_key_stays_inline(tmp_path: Path) -> None:
    request = encode(_body("phc_public_placeholder"), "json", "/batch/")
    command = _check(request, tmp_path)
    assert shlex.quote(request.body.decode()) in command
    assert not (tmp_path / "failed-bodies").exists()


def test_a_key_in_the_url_is_read_from_the_environment(tmp_path: Path) -> None:
    request = WireRequest("GET", f"/i/v0/e/?api_key={SECRET}&data=e30%3D&note=$HOME%60x%60", {}, b"")
    command = _check(request, tmp_path)
    assert command.endswith(f"'{BASE}/i/v0/e/?api_key='\"${{{KEY_VARIABLE}}}\"'&data=e30%3D&note=$HOME%60x%60'")


def test_a_key_in_a_header_is_read_from_the_environment(tmp_path: Path) -> None:
    request = WireRequest("POST", "/batch/", {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
                          _body(SECRET))
    command = _check(request, tmp_path)
    assert f"-H 'Authorization: Bearer '\"${{{KEY_VARIABLE}}}\"" in command


def test_the_runs_headers_are_sent_from_a_file_and_never_shown(tmp_path: Path) -> None:
    request = encode(_body(SECRET), "gzip-header", "/batch/")
    command = failure_curl(request, BASE, tmp_path, SECRET, {"X-Gateway-Key": "gateway-s3cret"})
    rebuilt = _rebuilt(command, {KEY_VARIABLE: SECRET})
    assert rebuilt.headers == {**request.headers, "X-Gateway-Key": "gateway-s3cret"} and rebuilt.body == request.body
    assert "gateway-s3cret" not in command and "-H @" in command.replace("'", "")


def test_a_body_without_content_type_keeps_curl_from_adding_one(tmp_path: Path) -> None:
    request = WireRequest("POST", "/i/v0/e/", {}, b"not json at all [x]")
    command = _check(request, tmp_path)
    assert "-H Content-Type: " in command or "-H 'Content-Type:'" in command
    assert "--globoff" in command  # [] in a URL is no glob


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08binary\xff", "é\n".encode() * 3000, b"@not-a-file"])
def test_bodies_curl_cannot_take_inline_go_to_a_file(tmp_path: Path, body: bytes) -> None:
    request = WireRequest("POST", "/e/", {"Content-Type": "text/plain"}, body)
    assert "@" + str(tmp_path.resolve()) in _check(request, tmp_path, key="")
