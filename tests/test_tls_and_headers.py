"""HTTPS, extra headers and options from the environment (issue 13, point 2).

The reference endpoint is served over TLS on loopback with a certificate from a CA made here (trustme); the
contract suite and the load command must refuse it without that CA, say that TLS verification failed, and
work with ``--ca-bundle`` (or ``$SSL_CERT_FILE``) or ``--insecure``.  A header given with ``-H`` must arrive
on the server: a tiny recording server checks that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import trustme

from harness import tls
from harness.cli import _environment, main
from harness.contract.client import Client, TLSError
from harness.load import transport
from harness.load.options import LoadOptions

CLI = [sys.executable, "-m", "harness.cli"]


def _environ(**extra: str) -> dict[str, str]:
    """This process's environment without any CAPTURE_HARNESS_ or CA-bundle variable, plus ``extra``."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith(_environment.PREFIX) and k not in tls.BUNDLE_VARIABLES}
    return {**kept, **extra}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*tls.BUNDLE_VARIABLES, *(k for k in os.environ if k.startswith(_environment.PREFIX))]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    for i, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(paths["cert"]), append=i > 0)
    return paths


@pytest.fixture(scope="module")
def https_url(certs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``capture-harness serve`` over TLS on a free loopback port (the URL it announces once listening)."""
    db = tmp_path_factory.mktemp("tls-store") / "store.sqlite3"
    command = [*CLI, "serve", "--port", "0", "--db", str(db), "--ssl-certfile", str(certs["cert"]),
               "--ssl-keyfile", str(certs["key"])]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=_environ())
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # blocks until the server listens (or exits)
        assert "listening on https://127.0.0.1:" in line, line
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b'{"status": "Ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A plain http:// server on loopback answering 200 to everything and recording each request's headers."""
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, env=_environ(**env), timeout=240,
                          check=False)


# --- the TLS context and the header syntax ---------------------------------------------------------------


def test_a_header_is_name_colon_value_and_a_malformed_one_says_how_to_write_it() -> None:
    assert tls.parse_header("X-Gateway-Key:  s3cret ") == ("X-Gateway-Key", "s3cret")
    for bad in ("X-Gateway-Key s3cret", ": x", "bad name: x"):
        with pytest.raises(ValueError, match="-H 'X-Gateway-Key: s3cret'"):
            tls.parse_header(bad)


def test_the_client_refuses_an_unknown_ca_and_trusts_the_bundle(https_url: str, certs: dict[str, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TLSError, match=r"TLS certificate verification failed for https://127\.0\.0\.1:\d+: .*"
                                       r"pass --ca-bundle FILE or --insecure"):
        Client(https_url).get_json("/_harness/stats")
    assert Client(https_url, context=tls.ssl_context(certs["ca"])).get_json("/_harness/stats")[0] == 200
    assert Client(https_url, context=tls.ssl_context(insecure=True)).get_json("/_harness/stats")[0] == 200
    for variable in tls.BUNDLE_VARIABLES:  # honoured when no bundle is given
        monkeypatch.setenv(variable, str(certs["ca"]))
        assert Client(https_url).get_json("/_harness/stats")[0] == 200
        monkeypatch.delenv(variable)


def test_a_bundle_that_is_not_pem_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(tls.BundleError, match="bogus.pem"):
        tls.ssl_context(bogus)


def test_the_load_run_passes_tls_and_headers_to_locust_in_its_environment(certs: dict[str, Path]) -> None:
    options = LoadOptions(url="https://x", api_key="k", scenario="mixed", users=1, spawn_rate=1, duration_s=1,
                          processes=1, report_dir=Path("r"), seed=1, ca_bundle=certs["ca"],
                          headers=("A: 1", "B: 2"))
    variables = transport.locust_environment(options)
    assert variables == {transport.HEADER: "A: 1\nB: 2", transport.CA_BUNDLE: str(certs["ca"]), transport.INSECURE: ""}
    os.environ.update(variables)
    try:
        settings = transport.user_transport(argparse.Namespace(capture_header=None, capture_ca_bundle=None,
                                                               capture_insecure=False))
    finally:
        for name in variables:
            del os.environ[name]
    assert settings.headers == {"A": "1", "B": "2"} and not settings.insecure
    assert settings.ssl_context_factory(cafile="/ignored").verify_mode.name == "CERT_REQUIRED"


# --- options from the environment ------------------------------------------------------------------------


def test_an_option_from_the_environment_is_checked_and_named(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CAPTURE_HARNESS_MAX_ERROR_RATE", "2")
    with pytest.raises(SystemExit) as stopped:
        main(["load"])
    assert stopped.value.code == 2
    assert "CAPTURE_HARNESS_MAX_ERROR_RATE='2'" in capsys.readouterr().err


def test_the_command_line_wins_and_repeatable_options_take_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli import _parser

    monkeypatch.setenv("CAPTURE_HARNESS_MAX_ERROR_RATE", "2")  # not used: the command line gives it
    monkeypatch.setenv("CAPTURE_HARNESS_HEADER", "A: 1\n\nB: 2\n")
    monkeypatch.setenv("CAPTURE_HARNESS_INSECURE", "yes")
    monkeypatch.setenv("CAPTURE_HARNESS_URL", "http://127.0.0.1:9")
    args = _parser().parse_args(["load", "--max-error-rate", "0.5"])
    assert (args.max_error_rate, args.header, args.insecure, args.url) == (0.5, ["A: 1", "B: 2"], True,
                                                                          "http://127.0.0.1:9")
    args = _parser().parse_args(["load", "--max-error-rate", "0.5", "-H", "C: 3", "--url", "http://x"])
    assert (args.header, args.url) == (["C: 3"], "http://x")
    monkeypatch.setenv("CAPTURE_HARNESS_INSECURE", "maybe")
    with pytest.raises(SystemExit):
        _parser().parse_args(["load", "--max-error-rate", "0.5"])


def test_the_help_says_options_come_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("load", "contract", "serve", "generate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "CAPTURE_HARNESS_<OPTION>" in " ".join(capsys.readouterr().out.split())


def test_a_malformed_header_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["load", "-H", "X-Gateway-Key s3cret"])
    assert stopped.value.code == 2
    assert "'X-Gateway-Key s3cret' is not a header" in capsys.readouterr().err


# --- end to end ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_contract_over_tls_needs_the_ca(https_url: str, certs: dict[str, Path]) -> None:
    refused = _run("contract", "--url", https_url, "--", "-q", "-x", "-m", "acceptance")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"TLS certificate verification failed for {https_url}" in refused.stdout + refused.stderr
    assert "SSLCertVerificationError" not in refused.stdout + refused.stderr
    trusted = _run("contract", "--url", https_url, "--ca-bundle", str(certs["ca"]), "--", "-q", "-x", "-m", "acceptance")
    assert trusted.returncode == 0, trusted.stdout[-3000:] + trusted.stderr
    insecure = _run("contract", "--url", https_url, "--insecure", "--", "-q", "-x", "-m", "acceptance")
    assert insecure.returncode == 0, insecure.stdout[-3000:] + insecure.stderr
    assert "certificates are not verified" in insecure.stderr
    from_environment = _run("contract", "--url", https_url, "--", "-q", "-x", "-m", "acceptance",
                            SSL_CERT_FILE=str(certs["ca"]))
    assert from_environment.returncode == 0, from_environment.stdout[-3000:] + from_environment.stderr


@pytest.mark.e2e
def test_load_over_tls_fails_without_the_ca_and_passes_with_it(https_url: str, certs: dict[str, Path],
                                                               tmp_path: Path) -> None:
    common = ["load", "--url", https_url, "-t", "3s", "-u", "2", "--scenario", "capture",
              "--report-dir", str(tmp_path / "report")]
    refused = _run(*common)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "TLS verification failed" in refused.stdout
    assert f"TLS certificate verification failed for {https_url}" in refused.stdout  # the delivery probe
    assert "no /_harness/ inspection API" not in refused.stdout
    trusted = _run(*common, "--ca-bundle", str(certs["ca"]))
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["delivery"]["checked"] and summary["delivery"]["lost"] == 0 and summary["requests"] > 0


@pytest.mark.e2e
def test_a_header_reaches_the_server_from_load_and_contract(recorder: tuple[str, list[dict[str, str]]],
                                                            tmp_path: Path) -> None:
    url, seen = recorder
    load = _run("load", "--url", url, "-t", "2s", "-u", "1", "--scenario", "capture", "-H", "X-Gateway-Key: s3cret",
                "--report-dir", str(tmp_path / "report"), "--", "--loglevel", "DEBUG")
    assert load.returncode in (0, 1), load.stdout + load.stderr
    posts = [headers for headers in seen if headers.get("content-type")]
    assert posts and all(headers.get("x-gateway-key") == "s3cret" for headers in seen)
    assert "DEBUG" in (tmp_path / "report" / "locust.log").read_text()  # the arguments after -- reached Locust
    seen.clear()
    _run("contract", "--url", url, "--", "-q", "-x", "-m", "acceptance", CAPTURE_HARNESS_HEADER="X-Gateway-Key: s3cret")
    assert seen and all(headers.get("x-gateway-key") == "s3cret" for headers in seen)
