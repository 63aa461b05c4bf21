"""Structural checks of ``schemas/``: the files are sound JSON Schema 2020-12, every rule keyword names a
catalogue rule and cites the contract, and every ``$ref`` resolves from disk.

The validator trusts these properties instead of re-checking them per call: :func:`harness.spec.schemas.explain`
reads the rule of a failure from the ``x-rule`` of the failing subschema, and the registry is built from the
files alone, so a missing ``x-rule`` or an unresolvable ``$ref`` would only show up as a crash (or a network
fetch) on some rare payload.  These tests find them up front.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.spec import schemas
from harness.spec.rules import RULES, RULES_BY_NAME

CODE_ONLY_RULES = frozenset(
    {"token-inconsistent", "body-too-large", "event-too-large", "string-lone-surrogate", "number-out-of-range",
     "body-not-json", "json-too-deep"}
)
SCHEMA_FILES = sorted(schemas.schema_dir().glob("*.json"))
TOKEN = "phc_testtoken123"
SAMPLES: dict[str, Any] = {
    "capture": {"event": "signed_up", "distinct_id": "user-1", "token": TOKEN},
    "batch": {"api_key": TOKEN, "batch": [{"event": "signed_up", "distinct_id": "user-1"}]},
    "event": {"event": "signed_up", "distinct_id": "user-1"},
    "identify": {"event": "$identify", "distinct_id": "user-1", "token": TOKEN,
                 "properties": {"$anon_distinct_id": "anon-1"}},
    "alias": {"event": "$create_alias", "distinct_id": "old", "token": TOKEN, "properties": {"alias": "new"}},
    "groupidentify": {"event": "$groupidentify", "distinct_id": "$company_acme", "token": TOKEN,
                      "properties": {"$group_type": "company", "$group_key": "acme"}},
    "response": {"status": "Ok"},
}
EFFECT_KINDS = ("identify", "alias", "groupidentify")

# Keywords that can fail validation, and the keywords through which a subschema's failure surfaces as its
# own error (an error inside `anyOf`, `oneOf`, `not`, `contains` or `if` is reported at that keyword).
ASSERTIONS = frozenset({
    "type", "enum", "const", "pattern", "format", "required", "dependentRequired", "not", "anyOf", "oneOf",
    "contains", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "propertyNames",
})
SURFACING_ONE = ("then", "else", "items", "additionalProperties", "unevaluatedProperties")
SURFACING_MANY = ("allOf", "prefixItems")
SURFACING_MAP = ("properties", "patternProperties", "dependentSchemas")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def subschemas(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in a schema document with its JSON pointer (a superset of the subschemas)."""
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from subschemas(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from subschemas(value, f"{pointer}/{index}")


def rule_subschemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in SCHEMA_FILES:
        for pointer, node in subschemas(load(path)):
            if "x-rule" in node:
                yield f"{path.name}#{pointer}", node


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    document = load(path)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == schemas.BASE_URI + path.name


def test_every_x_rule_names_a_catalogue_rule() -> None:
    unknown = {where: node["x-rule"] for where, node in rule_subschemas() if node["x-rule"] not in RULES_BY_NAME}
    assert not unknown


def test_every_schema_rule_is_encoded() -> None:
    encoded = {node["x-rule"] for _, node in rule_subschemas()}
    missing = {r.name for r in RULES} - CODE_ONLY_RULES - encoded
    assert not missing, f"rules no schema encodes: {sorted(missing)}"
    assert not encoded & CODE_ONLY_RULES, "a code-only rule is also in a schema: update CODE_ONLY_RULES"


def test_every_x_rule_cites_the_contract() -> None:
    uncited = [where for where, node in rule_subschemas()
               if "§" not in node.get("description", "") and "Rule" not in node.get("description", "")]
    assert not uncited, f"x-rule subschemas whose description cites no contract section or rule: {uncited}"


def resolve(base: str, ref: str) -> tuple[str, Any]:
    """``ref`` looked up from ``base`` in the on-disk registry: the resolved base URI and the subschema."""
    resolved = schemas.registry().resolver(base_uri=base).lookup(ref)
    return resolved.resolver._base_uri, resolved.contents


def test_every_ref_resolves_from_disk() -> None:
    for path in SCHEMA_FILES:
        document = load(path)
        for pointer, node in subschemas(document):
            if isinstance(node.get("$ref"), str):
                resolve(document["$id"], node["$ref"])  # raises referencing.exceptions.Unresolvable


def refuse_network(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"network access while resolving schemas: {args!r}")


def test_validators_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    monkeypatch.setattr(socket.socket, "connect", refuse_network)
    schemas.registry.cache_clear()
    schemas.explaining_validator.cache_clear()
    for kind, sample in SAMPLES.items():
        errors = list(schemas.explaining_validator(schemas.uri(kind)).iter_errors(sample))
        assert not errors, f"{kind}: {[e.message for e in errors]}"
        assert schemas.fast_validator(schemas.uri(kind)).is_valid(sample), kind
    for kind in EFFECT_KINDS:
        effective = schemas.uri(kind, "/$defs/effective")
        assert not list(schemas.explaining_validator(effective).iter_errors(SAMPLES[kind])), kind


def unruled_keywords(base: str, node: Any, where: str, seen: set[int]) -> Iterator[str]:
    """Subschemas reachable from ``node`` whose own failure would surface without an ``x-rule``."""
    if not isinstance(node, dict) or id(node) in seen:
        return
    seen.add(id(node))
    if ASSERTIONS & node.keys() and "x-rule" not in node:
        yield f"{where} ({', '.join(sorted(ASSERTIONS & node.keys()))})"
    if isinstance(node.get("$ref"), str):
        ref_base, target = resolve(base, node["$ref"])
        yield from unruled_keywords(ref_base, target, f"{where} -> {node['$ref']}", seen)
    for key in SURFACING_ONE:
        yield from unruled_keywords(base, node.get(key), f"{where}/{key}", seen)
    for key in SURFACING_MANY:
        for index, child in enumerate(node.get(key, [])):
            yield from unruled_keywords(base, child, f"{where}/{key}/{index}", seen)
    for key in SURFACING_MAP:
        for name, child in node.get(key, {}).items():
            yield from unruled_keywords(base, child, f"{where}/{key}/{name}", seen)


@pytest.mark.parametrize(
    "target", [schemas.uri(kind) for kind in schemas.KIND_FILES]
    + [schemas.uri(kind, "/$defs/effective") for kind in EFFECT_KINDS],
)
def test_every_failing_keyword_has_an_x_rule(target: str) -> None:
    """:func:`harness.spec.schemas.explain` names a failure by the ``x-rule`` of the subschema that failed."""
    base, node = resolve(target.split("#")[0], target)
    unruled = list(unruled_keywords(base, node, target, set()))
    assert not unruled, f"keywords that would fail without naming a rule: {unruled}"
