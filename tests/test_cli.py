"""The command line: output a user can act on, and exit codes CI can use (0 ok, 1 rejected, 2 input)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.spec.corpus_check import CorpusCheck, Document, Mislabel


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = '{"event": "signed_up", "distinct_id": "u1", "api_key": "phc_abc"}'


def test_valid_file_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", _write(tmp_path, "ok.jsonl", GOOD + "\n" + GOOD + "\n")]) == 0
    assert "2 documents: 2 accepted, 0 rejected" in capsys.readouterr().out


def test_rejection_names_file_line_path_rule_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = '{"api_key": "phc_abc", "batch": [{"event": "e", "distinct_id": "u"}, {"event": "", "distinct_id": "u"}]}'
    path = _write(tmp_path, "mixed.jsonl", GOOD + "\n\n" + bad + "\n")
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3: rejected (400) $.batch[1].event [event-name-empty]" in out
    assert "must not be empty" in out


def test_token_rejection_reports_401(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "t.json", '{"event": "e", "distinct_id": "u", "api_key": "phx_personal"}')
    assert main(["validate", path]) == 1
    assert "rejected (401) $.api_key [token-personal-api-key]" in capsys.readouterr().out


def test_malformed_json_gives_line_and_column_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "broken.jsonl", GOOD + "\n" + '{"event": "e",, }' + "\n" + GOOD + "\n")
    assert main(["validate", path]) == 2
    captured = capsys.readouterr()
    assert f"{path}:2:15: malformed JSON" in captured.err
    assert "2 documents: 2 accepted" in captured.out  # the other lines are still judged


def test_pretty_printed_json_file_is_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "pretty.json", json.dumps(json.loads(GOOD), indent=2))
    assert main(["validate", path]) == 0
    assert "1 documents: 1 accepted" in capsys.readouterr().out


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: cannot read" in capsys.readouterr().err


def test_lone_surrogate_is_a_capture_rejection_not_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "s.jsonl", '{"event": "e", "distinct_id": "u", "api_key": "k", "properties": {"x": "\\ud800"}}\n')
    assert main(["validate", path]) == 1
    assert "[string-lone-surrogate]" in capsys.readouterr().out


def test_number_beyond_float_range_is_a_capture_rejection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "n.jsonl", '{"event": "e", "distinct_id": "u", "api_key": "k", "properties": {"x": 1e400}}\n')
    assert main(["validate", path]) == 1
    assert "[number-out-of-range]" in capsys.readouterr().out


def test_warnings_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "w.json", '{"event": "$create_alias", "distinct_id": "u", "api_key": "k"}')
    assert main(["validate", path]) == 0
    assert "warning (accepted, ineffective) $ [alias-missing]" in capsys.readouterr().out


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "j.jsonl", GOOD + "\n" + '{"event": "e"}' + "\n")
    assert main(["validate", "--format", "json", path]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["documents"] == 2 and report["rejected"] == 1
    (result,) = report["results"]
    assert result["line"] == 2 and result["status"] == 401
    assert result["rejections"][0]["rule"] == "token-missing"


def test_kind_option_forces_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "k.json", GOOD)
    assert main(["validate", "--kind", "identify", path]) == 0
    assert "[kind-mismatch]" in capsys.readouterr().out


def test_generate_then_validate_via_stdin(tmp_path: Path) -> None:
    generated = subprocess.run([sys.executable, "-m", "harness.cli", "generate", "--kind", "batch", "--count", "120",
                                "--batch-size", "50", "--seed", "4"], capture_output=True, check=True)
    assert len(generated.stdout.splitlines()) == 3
    checked = subprocess.run([sys.executable, "-m", "harness.cli", "validate", "-"], input=generated.stdout,
                             capture_output=True, check=False)
    assert checked.returncode == 0, checked.stdout
    assert b"3 documents: 3 accepted" in checked.stdout


def test_generate_to_file_reports_and_masks_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "c.jsonl"
    assert main(["generate", "--count", "50", "--api-key", "phc_supersecretkey1234", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "50 events" in err and "phc_…1234" in err and "supersecret" not in err
    assert out.read_bytes().count(b"\n") >= 1


@pytest.mark.parametrize("argv", [["generate", "--count", "0"], ["generate", "--kind", "nope"], ["validate"], []])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        code = main(argv)
        raise SystemExit(code)
    assert exited.value.code == 2


def test_rules_lists_every_rule_with_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.spec.rules import ALL_RULES

    assert main(["rules", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {item["name"] for item in listed} == {r.name for r in ALL_RULES}
    assert next(item for item in listed if item["name"] == "token-missing")["status"] == 401


def test_a_labelled_invalid_corpus_is_checked_against_its_labels(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "invalid.jsonl"
    assert main(["generate", "--invalid", "--count", "70", "--seed", "3", "--out", str(corpus)]) == 0
    capsys.readouterr()
    assert main(["validate", str(corpus)]) == 0
    assert "70 labelled invalid documents: 70 rejected as labelled, 0 not" in capsys.readouterr().out
    lines = corpus.read_text().splitlines()
    relabelled = json.loads(lines[0])
    relabelled["rule"] = "token-empty"
    lines[0] = json.dumps(relabelled)
    corpus.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(corpus)]) == 1
    out = capsys.readouterr().out
    assert f"{corpus}:1: labelled [token-empty]" in out and "69 rejected as labelled, 1 not" in out


def test_the_judge_behind_validate_is_a_library() -> None:
    check = CorpusCheck()
    good = Document("mem", 1, GOOD.encode(), json.loads(GOOD))
    labelled = {"rule": "token-empty", "expect_status": 401, "body": json.loads(GOOD)}
    assert check.check(good) is None
    mislabel = check.check(Document("mem", 2, b"", labelled))
    assert isinstance(mislabel, Mislabel)
    assert list(mislabel.text()) == ["mem:2: labelled [token-empty] (401) but judged [accepted] (200)"]
    assert check.totals.failed and check.totals.summary() == (
        "1 documents: 1 accepted, 0 rejected, 0 with warnings; "
        "1 labelled invalid documents: 0 rejected as labelled, 1 not")


HEAVY = ("hypothesis", "jsonschema", "locust", "gevent", "uvicorn", "pytest")


def test_the_top_level_help_imports_no_command() -> None:
    code = ("import contextlib, io, sys\n"
            "from harness.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])\n"
            f"print(sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr[-2000:]


@pytest.mark.e2e
def test_the_contract_command_gives_pytest_no_assert_rewrite_warning(tmp_path: Path) -> None:
    """pytest marks every pytest11 distribution's packages for assert rewriting and warns about one imported
    before it. A wheel install's record names ``harness`` (the CLI's own package, filtered as expected), so a
    probe distribution that names it stands in for one; Hypothesis must not have been imported yet."""
    probe = tmp_path / "rewrite_probe-0.1.dist-info"
    probe.mkdir()
    (probe / "METADATA").write_text("Metadata-Version: 2.1\nName: rewrite-probe\nVersion: 0.1\n")
    (probe / "entry_points.txt").write_text("[pytest11]\nrewrite_probe = harness._data\n")
    (probe / "RECORD").write_text("harness/__init__.py,,\nharness/_data.py,,\n")
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parent.parent)])
    done = subprocess.run([sys.executable, "-m", "harness.cli", "contract", "--", "--collect-only", "-q",
                           "-m", "no_such_marker"], cwd=tmp_path, env=environment, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout[-3000:] + done.stderr[-2000:]
    assert "PytestAssertRewriteWarning" not in done.stdout + done.stderr


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"capture-harness {version('capture-harness')}"


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_serve_refuses_a_port_out_of_range_as_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", port, "--db", ":memory:"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --port" in error and port in error and "0-65535" in error
    assert "Traceback" not in error


def test_serve_on_a_port_in_use_is_one_clear_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--db", ":memory:"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert f"cannot listen on 127.0.0.1:{port}" in error and "--port 0" in error


def test_the_readme_validate_sample_is_the_true_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Three documents that give the README's three sample lines; its summary line must be what follows them."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"```\n(out/x\.jsonl:1: .*?)```", readme, re.DOTALL)
    assert sample is not None
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.jsonl").write_text(
        '{"api_key": "phc_abc", "batch": [{"event": "e", "distinct_id": "u"}, {"event": "", "distinct_id": "u"}]}\n'
        '{"event": "signed_up", "distinct_id": "u1"}\n'
        '{"event": "$identify", "distinct_id": "anonymous", "api_key": "phc_abc", '
        '"properties": {"$anon_distinct_id": "a1"}}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "out/x.jsonl"]) == 1
    assert capsys.readouterr().out == sample.group(1)


def test_the_capped_line_reader_reports_a_long_line_once_and_reads_on() -> None:
    import io

    from harness.cli.inputs import capped_lines

    stream = io.BytesIO(b"short\n" + b"x" * 1000 + b"\n" + b"12345678\r\n" + b"123456789\n" + b"tail")
    assert list(capped_lines(stream, 8)) == [b"short\n", None, b"12345678\r\n", None, b"tail"]
    from harness.cli.inputs import _Chain  # a pipe: the head read to tell JSON from JSON lines, then the rest

    chained = _Chain(b"ab\ncd", io.BytesIO(b"ef\n" + b"z" * 20 + b"\ngh"))
    assert list(capped_lines(chained, 8)) == [b"ab\n", b"cdef\n", None, b"gh"]


def test_a_line_over_the_maximum_size_is_an_input_error_and_the_others_are_judged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long = '{"event": "e", "distinct_id": "u", "api_key": "phc_abc", "properties": {"x": "' + "y" * 200 + '"}}'
    path = _write(tmp_path, "long.jsonl", GOOD + "\n" + long + "\n" + GOOD + "\n")
    assert main(["validate", "--max-document-size", "100", path]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"error: {path}:2: line over the maximum document size of 100 bytes; split it into "
                            "smaller documents, or raise --max-document-size\n")
    assert "2 documents: 2 accepted, 0 rejected, 0 with warnings; 1 input errors" in captured.out
    pretty = _write(tmp_path, "big.json", json.dumps({"api_key": "phc_abc", "batch": [json.loads(GOOD)] * 5}, indent=2))
    assert main(["validate", "--max-document-size", "100", pretty]) == 2
    assert f"{pretty}:1: document over the maximum document size of 100 bytes" in capsys.readouterr().err


def test_a_json_lines_input_over_the_maximum_size_is_read_line_by_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "many.txt", (GOOD + "\n") * 50)  # no .jsonl name: told apart by its first line
    assert main(["validate", "--max-document-size", "100", path]) == 0
    assert "50 documents: 50 accepted" in capsys.readouterr().out


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_validate_dev_zero_ends_with_the_size_error() -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "validate", "/dev/zero"], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert "error: /dev/zero:1: document over the maximum document size of 33,554,432 bytes" in done.stderr
    assert "--max-document-size" in done.stderr


def test_the_json_report_is_what_json_dump_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The results are spooled, not held: the report must still be byte for byte ``json.dump(..., indent=2)``."""
    path = _write(tmp_path, "r.jsonl", '{"event": "e", "properties": {"é": 1}}\n' * 3 + GOOD + "\n")
    assert main(["validate", "--format", "json", path]) == 1
    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), ensure_ascii=False, indent=2) + "\n"
    assert len(json.loads(out)["results"]) == 3


def test_a_closed_output_pipe_ends_generate_quietly() -> None:
    """`generate | head -1`: the reader takes one line and closes the pipe; generate ends with 0 and says nothing."""
    writer = subprocess.Popen([sys.executable, "-m", "harness.cli", "generate", "--count", "200000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None and writer.stderr is not None
    assert writer.stdout.readline().startswith(b"{")
    writer.stdout.close()
    try:
        stderr = writer.stderr.read()
        assert writer.wait(timeout=120) == 0, stderr
    finally:
        writer.kill()
    assert stderr == b""
