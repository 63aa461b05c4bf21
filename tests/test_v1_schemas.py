"""Structural checks of ``schemas/v1/``: sound JSON Schema 2020-12 under the v1 base URI, every failing
keyword inside a subschema whose ``x-rule`` names a v1 catalogue rule and cites capture-v1.md, every
``$ref`` resolvable from disk, and the v0 registry untouched by the v1 folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.spec import schemas as v0_schemas
from harness.spec.rules import rule
from harness.spec.v1 import schemas

FILES = sorted(schemas.schema_dir().glob("*.json"))
ASSERTIONS = frozenset({"type", "enum", "const", "pattern", "required", "minLength", "maxLength", "minItems",
                        "maxItems", "not", "anyOf", "oneOf", "contains", "propertyNames", "minimum", "maximum"})


def nodes(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from nodes(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from nodes(value, f"{pointer}/{index}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_v1_schema_file(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"] == schemas.BASE_URI + path.name
    for pointer, node in nodes(document):
        if pointer.endswith("/properties") or pointer.endswith("/$defs"):
            continue  # maps of names, not subschemas
        if ASSERTIONS & set(node):
            assert "x-rule" in node, f"{path.name}#{pointer}: a failing keyword without an x-rule"
        if "x-rule" in node:
            found = rule(node["x-rule"])
            assert found.protocol == "v1", f"{path.name}#{pointer}: {found.name} is not a v1 rule"
            assert "\u00a7" in node.get("description", ""), f"{path.name}#{pointer}: cites no section"


def test_v1_kinds_have_files_and_refs_resolve() -> None:
    for kind in schemas.KIND_FILES:
        assert schemas.fast_validator(kind) is not None
        resolver = schemas.registry().resolver(base_uri=schemas.uri(kind))
        for _, node in nodes(schemas.documents()[schemas.uri(kind)]):
            if "$ref" in node:
                resolver.lookup(node["$ref"])


def test_v0_registry_does_not_see_v1() -> None:
    assert all(doc_id.startswith(v0_schemas.BASE_URI) for doc_id in v0_schemas.documents())


def test_wheel_carries_the_v1_folder() -> None:
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"schemas" = "harness/schemas"' in pyproject  # the whole folder, v1/ included
