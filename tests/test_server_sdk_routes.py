"""What posthog-js asks the reference endpoint for besides capture: remote config, /flags, /decide, /static/,
and CORS with preflights on every route (the inspection API keeps none)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from harness.cli import main
from harness.server import CaptureApp, Store
from harness.server.remote_config import Flag, SdkConfig, load_flags, remote_config
from harness.server.runner import Running, running
from tests.support import request

TOKEN = "phc_sdk_routes_token"
ORIGIN = "https://app.example.com"
FLAGS = (Flag("new-checkout", True, {"color": "blue", "steps": [1, 2]}), Flag("pricing", "variant-b", "cheap"),
         Flag("old-banner", False, {"never": "sent"}))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    store = Store(tmp_path_factory.mktemp("sdk") / "events.sqlite3")
    with running(CaptureApp(store, seed=1, sdk=SdkConfig(flags=FLAGS))) as started:
        yield started


def call(server: Running, method: str, target: str, body: bytes | None = None,
         **headers: str) -> tuple[int, dict[str, str], bytes]:
    return request(server.url, method, target, body, {name.replace("_", "-"): v for name, v in headers.items()})


def flags_request(**fields: Any) -> bytes:
    return json.dumps({"token": TOKEN, "distinct_id": "user-1", "groups": {}, **fields}).encode()


def form(payload: bytes) -> bytes:
    """posthog-js's ``compression=base64`` body: ``data=`` and the base64, percent-encoded."""
    return b"data=" + quote(base64.b64encode(payload).decode(), safe="").encode()


# --- remote config --------------------------------------------------------------------------------------


def test_remote_config_json_answers_like_posthog(server: Running) -> None:
    status, headers, body = call(server, "GET", f"/array/{TOKEN}/config", Origin=ORIGIN)
    assert status == 200 and headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == ORIGIN
    config = json.loads(body)
    assert config["token"] == TOKEN and config["hasFeatureFlags"] is True
    assert config["supportedCompression"] == ["gzip", "gzip-js"]
    assert config["autocapture_opt_out"] is False and config["sessionRecording"] is False
    assert config["elementsChainAsString"] is True and config["defaultIdentifiedOnly"] is True
    assert config["surveys"] is False and config["heatmaps"] is False and config["siteApps"] == []
    assert "analytics" not in config  # posthog-js stays on /e/


def test_remote_config_script_holds_the_same_config(server: Running) -> None:
    status, headers, body = call(server, "GET", f"/array/{TOKEN}/config.js")
    assert status == 200 and headers["content-type"] == "application/javascript"
    text = body.decode("ascii")
    prefix = f'window._POSTHOG_REMOTE_CONFIG["{TOKEN}"] = '
    assert "window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};" in text
    literal = text[text.index(prefix) + len(prefix):text.rindex(";\n})();")]
    assert json.loads(literal) == {"config": json.loads(call(server, "GET", f"/array/{TOKEN}/config")[2]),
                                   "siteApps": []}


def test_remote_config_options_and_a_hostile_token() -> None:
    config = remote_config(SdkConfig(autocapture=False, session_recording=True), "t")
    assert config["autocapture_opt_out"] is True and config["hasFeatureFlags"] is False
    assert config["sessionRecording"]["endpoint"] == "/s/"
    from harness.server.remote_config import remote_config_js
    script = remote_config_js(SdkConfig(), "</script><b>").decode("ascii")
    assert "</script>" not in script and "\\u003c/script>" in script


# --- flags and decide -----------------------------------------------------------------------------------


def test_flags_v2_from_posthog_js_base64_form(server: Running) -> None:
    status, headers, body = call(server, "POST", "/flags/?v=2&config=true&compression=base64",
                                 form(flags_request()), Content_Type="application/x-www-form-urlencoded",
                                 Origin=ORIGIN)
    assert status == 200 and headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == ORIGIN
    answer = json.loads(body)
    assert answer["errorsWhileComputingFlags"] is False and uuid.UUID(answer["requestId"])
    assert "featureFlags" not in answer and "quotaLimited" not in answer
    flags = answer["flags"]
    assert set(flags) == {"new-checkout", "pricing", "old-banner"}
    assert flags["new-checkout"] == {
        "key": "new-checkout", "enabled": True, "variant": None,
        "reason": {"code": "condition_match", "condition_index": 0, "description": "Matched condition set 1"},
        "metadata": {"id": 1, "version": 1, "payload": '{"color":"blue","steps":[1,2]}', "description": None}}
    assert (flags["pricing"]["enabled"], flags["pricing"]["variant"]) == (True, "variant-b")
    assert json.loads(flags["pricing"]["metadata"]["payload"]) == "cheap"
    assert flags["old-banner"]["enabled"] is False and flags["old-banner"]["metadata"]["payload"] is None
    assert flags["old-banner"]["reason"]["code"] == "no_condition_match"
    assert answer["supportedCompression"] == ["gzip", "gzip-js"] and answer["autocapture_opt_out"] is False


@pytest.mark.parametrize(("target", "headers"), [
    ("/flags/?v=2&compression=gzip-js", {"Content-Type": "text/plain"}),
    ("/flags?v=2", {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    ("/flags/?v=2", {"Content-Type": "text/plain"}),  # no hint: the magic bytes
])
def test_flags_v2_gzip(server: Running, target: str, headers: dict[str, str]) -> None:
    status, _, body = request(server.url, "POST", target, gzip.compress(flags_request()), headers)
    assert status == 200
    answer = json.loads(body)
    assert set(answer["flags"]) == {"new-checkout", "pricing", "old-banner"} and "supportedCompression" not in answer


def test_flags_v1_json_and_decide_answer_the_legacy_maps(server: Running) -> None:
    status, _, body = call(server, "POST", "/flags/", flags_request(), Content_Type="application/json")
    assert status == 200
    answer = json.loads(body)
    assert answer["featureFlags"] == {"new-checkout": True, "pricing": "variant-b", "old-banner": False}
    assert answer["featureFlagPayloads"] == {"new-checkout": '{"color":"blue","steps":[1,2]}', "pricing": '"cheap"'}
    assert "flags" not in answer
    status, _, body = call(server, "POST", "/decide/?v=3", form(flags_request(token=None, api_key=TOKEN)),
                           Content_Type="application/x-www-form-urlencoded")
    decide = json.loads(body)
    assert status == 200 and decide["featureFlags"]["pricing"] == "variant-b"
    assert decide["config"] == {"enable_collect_everything": True} and decide["sessionRecording"] is False
    status, _, body = call(server, "POST", "/decide/?v=4", flags_request(), Content_Type="application/json")
    assert status == 200 and json.loads(body)["flags"]["pricing"]["variant"] == "variant-b"


@pytest.mark.parametrize(("body", "status", "code"), [
    (flags_request(token=None), 401, "invalid_api_key"),
    (flags_request(token="phx_personal"), 401, "invalid_api_key"),
    (flags_request(distinct_id=None), 400, "invalid_request"),
    (b"[1, 2]", 400, "invalid_request"),
    (b"not json at all", 400, "invalid_request"),
])
def test_flags_refusals_are_json(server: Running, body: bytes, status: int, code: str) -> None:
    answer = call(server, "POST", "/flags/?v=2", body, Content_Type="application/json")
    assert answer[0] == status and answer[1]["content-type"] == "application/json"
    assert json.loads(answer[2])["code"] == code


def test_wrong_methods_are_405(server: Running) -> None:
    status, headers, _ = call(server, "GET", "/flags/?v=2")
    assert (status, headers["allow"]) == (405, "POST, OPTIONS")
    status, headers, _ = call(server, "POST", f"/array/{TOKEN}/config", b"{}")
    assert (status, headers["allow"]) == (405, "GET, OPTIONS")


# --- lazily loaded extensions ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/lazy-recorder.js", "/static/1.449.2/surveys.js", "/static/recorder.js",
                                  "/static/web-vitals.js?v=1.449.2"])
def test_extensions_are_no_op_scripts(server: Running, path: str) -> None:
    status, headers, body = call(server, "GET", path, Origin=ORIGIN)
    assert status == 200 and headers["content-type"] == "application/javascript"
    assert body.startswith(b"/* capture-harness: a no-op") and body.endswith(b"*/\n")
    assert headers["access-control-allow-origin"] == ORIGIN


def test_posthog_js_itself_is_not_served(server: Running) -> None:
    status, _, body = call(server, "GET", "/static/array.js")
    assert status == 404 and b"npm" in body
    assert call(server, "GET", "/static/../etc/passwd.js")[0] == 404
    assert call(server, "GET", "/static/../x.js")[0] == 404


# --- CORS and preflights everywhere ---------------------------------------------------------------------

ROUTES = ["/e/", "/i/v0/e/", "/batch", "/flags/", "/flags", "/decide/", f"/array/{TOKEN}/config",
          f"/array/{TOKEN}/config.js", "/static/lazy-recorder.js", "/static/1.449.2/surveys.js", "/", "/_liveness",
          "/s/", "/anything/else"]


@pytest.mark.parametrize("path", ROUTES)
def test_preflight_on_every_route(server: Running, path: str) -> None:
    status, headers, body = call(server, "OPTIONS", path, Origin=ORIGIN, Access_Control_Request_Method="POST",
                                 Access_Control_Request_Headers="content-type,x-odd-header")
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-headers"] == "content-type,x-odd-header"
    assert headers["access-control-allow-methods"] == "GET, POST, OPTIONS"


@pytest.mark.parametrize("path", ["/_harness/stats", "/_harness/events"])
def test_the_inspection_api_keeps_no_cors(server: Running, path: str) -> None:
    status, headers, _ = call(server, "OPTIONS", path, Origin=ORIGIN, Access_Control_Request_Method="GET")
    assert status == 403 and not any(name.startswith("access-control-") for name in headers)


# --- the --flags file and serve's options ---------------------------------------------------------------


def test_load_flags(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"a": True, "b": "test", "c": False}, "payloads": {"b": [1]}}))
    assert load_flags(path) == (Flag("a", True), Flag("b", "test", [1]), Flag("c", False))
    for document, words in [({"flags": {"a": 1}}, "true, false or a variant"), ({"flag": {}}, "must be an object"),
                            ({"flags": {"a": True}, "payloads": {"z": 1}}, "does not define: z")]:
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match=words):
            load_flags(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        load_flags(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_flags(tmp_path / "missing.json")


def test_serve_refuses_a_bad_flags_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "flags.json"
    bad.write_text('{"flags": {"a": 3}}')
    assert main(["serve", "--db", str(tmp_path / "e.sqlite3"), "--port", "0", "--flags", str(bad)]) == 2
    assert "flag 'a' must" in capsys.readouterr().err
