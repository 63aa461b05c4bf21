"""``validate --protocol v1`` and ``generate --protocol v1``: detection, the header-option form, profiles,
variants, exit codes, determinism, and that the two commands agree both ways (generated requests are
accepted with every event ``ok``; every labelled invalid request is decided by exactly its rule and tag)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.generate import seeded, v1_mutations
from harness.spec.v1 import corpus
from harness.spec.v1.validation import validate_request

HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer phc_test_key",
           "User-Agent": "posthog-node/5.70.0", "PostHog-Sdk-Info": "posthog-node/5.70.0", "PostHog-Attempt": "1",
           "PostHog-Request-Id": "01a2171c-ebe4-7d5e-9df2-08ae9cc11bac",
           "PostHog-Request-Timestamp": "2026-11-26T09:08:21.092Z"}
BODY = {"created_at": "2026-11-26T09:08:21.092Z", "batch": [
    {"event": "e", "uuid": "01a2171c-ebe4-7d5e-9df2-08ad7384722f", "distinct_id": "user-1",
     "timestamp": "2026-11-26T09:08:21.092Z", "options": {}, "properties": {}},
    {"event": "e", "uuid": "9a510e3c-6b56-45a6-9540-10de70bba109", "distinct_id": "user-1",
     "timestamp": "yesterday", "options": {}, "properties": {}}]}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def test_a_request_document_is_detected_and_each_event_reported(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", write(tmp_path / "r.json", {"headers": HEADERS, "body": BODY}))
    assert code == 1  # a dropped event counts as rejected
    assert "accepted (200): 2 events: 1 ok, 1 drop" in out
    assert "drop (invalid_event_timestamp) $.body.batch[1].timestamp [v1-timestamp-invalid]" in out


def test_json_report_lists_every_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", "--format", "json", write(tmp_path / "r.json", {"headers": HEADERS, "body": BODY}))
    report = json.loads(out)
    item = report["results"][0]
    assert (item["protocol"], item["status"], report["v1_dropped"]) == ("v1", 200, 1)
    assert [r["result"] for r in item["results"]] == ["ok", "drop"]
    assert item["results"][1]["path"] == "$.body.batch[1]" and item["results"][1]["details"] == "invalid_event_timestamp"


def test_request_level_verdict_follows_the_header_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    headers = {k: v for k, v in HEADERS.items() if k not in ("Authorization", "User-Agent")}
    code, out = run(capsys, "validate", write(tmp_path / "r.json", {"headers": headers, "body": BODY}))
    assert code == 1
    assert "rejected (401 missing_authorization) $.headers.Authorization [v1-authorization-missing]" in out
    code, out = run(capsys, "validate", "--variant", "authorization-required-header", str(tmp_path / "r.json"))
    assert "rejected (400 missing_required_headers)" in out and "[variant authorization-required-header]" in out


def test_a_body_file_with_header_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "body.json.gz"
    body.write_bytes(gzip.compress(json.dumps({**BODY, "batch": BODY["batch"][:1]}).encode(), mtime=0))
    options = [arg for name, value in HEADERS.items() for arg in ("--header", f"{name}: {value}")]
    code, out = run(capsys, "validate", *options, "--header", "Content-Encoding: gzip", str(body))
    assert code == 0, out
    assert "1 v1 documents: 1 accepted, 0 rejected" in out
    code, out = run(capsys, "validate", *options, str(body))  # gzip without the header is not sniffed
    assert code == 1 and "[v1-body-not-json]" in out
    assert main(["validate", "--header", "no colon", str(body)]) == 2


def test_protocol_v1_takes_a_bare_body_and_sdk_profile_warns(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    body = {"created_at": "2026-11-26T10:08:21+01:00", "batch": [
        {"event": "e", "uuid": "01a2171c-ebe4-7d5e-9df2-08ad7384722f", "distinct_id": "u", "$set": {"a": 1},
         "timestamp": "2026-11-26T09:08:21Z", "properties": {"$lib": "posthog-node"}}]}
    path = write(tmp_path / "b.json", body)
    code, out = run(capsys, "validate", "--protocol", "v1", path)
    assert code == 0 and "[v1-event-field-ignored]" in out and "v1-sdk-" not in out
    code, out = run(capsys, "validate", "--protocol", "v1", "--profile", "sdk", path)
    assert code == 0  # warnings never fail
    for name in ("v1-sdk-timestamp-not-utc", "v1-sdk-options-missing", "v1-sdk-lib-in-properties",
                 "v1-sdk-top-level-set"):
        assert f"[{name}]" in out


def test_v1_options_are_refused_with_v0(tmp_path: Path) -> None:
    path = write(tmp_path / "b.json", BODY)
    assert main(["validate", "--protocol", "v0", "--profile", "sdk", path]) == 2


def test_v0_documents_are_still_v0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "v0.json", {"api_key": "phc_x", "batch": [{"event": "e", "distinct_id": "u"}]})
    code, out = run(capsys, "validate", "--format", "json", path)
    assert code == 0 and "v1_documents" not in out


def test_generate_v1_is_deterministic_and_sdk_shaped(capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "generate", "--protocol", "v1", "--count", "500", "--seed", "11")[1]
    second = run(capsys, "generate", "--protocol", "v1", "--count", "500", "--seed", "11")[1]
    assert first == second and hashlib.sha256(first.encode()).hexdigest() != \
        hashlib.sha256(run(capsys, "generate", "--protocol", "v1", "--count", "500", "--seed", "12")[1].encode()).hexdigest()
    requests = [json.loads(line) for line in first.splitlines()]
    assert sum(len(r["body"]["batch"]) for r in requests) == 500
    libraries = {r["headers"]["PostHog-Sdk-Info"] for r in requests}
    assert libraries == {"posthog-python/7.91.1", "posthog-node/5.70.0"}
    assert main(["generate", "--protocol", "v1", "--kind", "capture"]) == 2


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sdk", [None, "python", "node"])
def test_generated_requests_are_accepted_clean_in_both_profiles(seed: int, sdk: str | None) -> None:
    for line in seeded.v1_valid_lines(400, seed, batch_size=20, sdk=sdk):
        request = json.loads(line.data)
        for profile in ("server", "sdk"):
            report = validate_request(request["headers"], request["body"], profile=profile)
            assert report.accepted and report.warnings == (), report
            assert all((r.result, r.details) == ("ok", None) for r in report.results), report


@pytest.mark.parametrize("seed", range(3))
def test_every_labelled_invalid_request_breaks_exactly_its_rule(seed: int) -> None:
    count = 4 * len(v1_mutations.GENERATED_RULES)
    seen = set()
    for line in seeded.v1_invalid_lines(count, seed):
        label = json.loads(line.data)
        report = corpus.judge(label, "request", corpus.Options())
        assert corpus.label_holds(label, report), (label["rule"], report)
        seen.add(label["rule"])
    assert seen == set(v1_mutations.GENERATED_RULES)


def test_validate_agrees_with_generate_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inv.jsonl"
    assert main(["generate", "--protocol", "v1", "--invalid", "--count", "70", "--seed", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    code, text = run(capsys, "validate", str(out))
    assert code == 0 and "70 labelled invalid v1 requests: 70 decided as labelled, 0 not" in text
    lines = out.read_text().splitlines()
    tampered = json.loads(lines[0])
    tampered["rule"] = "v1-batch-empty"
    out.write_text(json.dumps(tampered) + "\n")
    code, text = run(capsys, "validate", str(out))
    assert code == 1 and "labelled [v1-batch-empty]" in text


def test_generated_rules_cover_the_v1_catalogue() -> None:
    from harness.spec.rules import V1_RULES, Verdict

    not_generated = {r.name for r in V1_RULES if r.status is not None and r.verdict is not Verdict.SDK} - \
        set(v1_mutations.GENERATED_RULES)
    assert not_generated == {"v1-body-empty", "v1-body-not-decodable", "v1-body-not-json", "v1-body-too-large",
                             "v1-event-too-large"}


def test_text_strict_json_refuses_is_a_v1_parse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"created_at":"2026-11-26T09:08:21Z","batch":[{"event":"\\ud800"}]}', encoding="utf-8")
    code, out = run(capsys, "validate", "--protocol", "v1", str(path))
    assert code == 1 and "rejected (400 request_parsing_error) $ [v1-body-not-json]" in out
