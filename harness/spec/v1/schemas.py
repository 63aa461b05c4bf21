"""Load ``schemas/v1/`` once: fast jsonschema-rs validators for yes/no, ``jsonschema`` to explain.

The v1 files live in their own folder with ``$id`` under :data:`BASE_URI`, so v0's registry
(:mod:`harness.spec.schemas`) never sees them; the wheel carries the folder inside ``harness/schemas``
like the rest.  Every failing keyword sits in a subschema with an ``x-rule`` (``tests/test_v1_schemas.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
import referencing.jsonschema

from harness._data import data_file
from harness.spec.schemas import read_documents

BASE_URI = "https://capture-harness.dev/schemas/v1/"

KIND_FILES: dict[str, str] = {
    "body": "batch.json",
    "event": "event.json",
    "response": "response.json",
    "error": "error.json",
}
"""v1 schema kinds: the request body (envelope), one event, the success body, the error body."""


def schema_dir() -> Path:
    return data_file("schemas", "v1/batch.json").parent


@functools.cache
def documents() -> dict[str, dict[str, Any]]:
    """Every v1 schema document, keyed by its ``$id``."""
    return read_documents(schema_dir())


def uri(kind: str) -> str:
    return BASE_URI + KIND_FILES[kind]


@functools.cache
def registry() -> referencing.Registry[Any]:
    resources = [(doc_id, referencing.Resource.from_contents(doc, default_specification=referencing.jsonschema.DRAFT202012))
                 for doc_id, doc in documents().items()]
    return referencing.Registry().with_resources(resources).crawl()


@functools.cache
def _rs_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(documents().items()))


@functools.cache
def fast_validator(kind: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({"$ref": uri(kind)}, registry=_rs_registry())


def is_valid(kind: str, document: Any) -> bool:
    try:
        return bool(fast_validator(kind).is_valid(document))
    except UnicodeEncodeError:  # a lone surrogate: the explainer says where
        return False


@functools.cache
def _explainer(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": uri(kind)}, registry=registry())


def explain(kind: str, document: Any) -> Iterator[tuple[str, str, str]]:
    """``(rule, json_path, detail)`` of every leaf failure; a failing keyword without ``x-rule`` raises."""
    for error in _explainer(kind).iter_errors(document):
        yield from _leaves(error)


def _leaves(error: jsonschema.ValidationError) -> Iterator[tuple[str, str, str]]:
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
        return
    name = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
    if not isinstance(name, str):
        raise LookupError(f"v1 schema keyword {error.validator!r} at "
                          f"{'/'.join(map(str, error.absolute_schema_path))} failed without an x-rule")
    yield name, error.json_path, error.message
