"""Load ``schemas/`` once, and build the two kinds of validator every caller shares.

jsonschema-rs answers "is this acceptable?" on hot paths (millions of events a second); the pure-Python
``jsonschema`` explains a failure with its JSON path, but costs far more per call, so it only runs after
the fast validator said no.  Both read the same files through a registry built from disk: a ``$ref`` is
never retrieved from the network.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
import referencing.jsonschema

from harness._data import data_file

BASE_URI = "https://capture-harness.dev/schemas/v0/"

KIND_FILES: dict[str, str] = {
    "capture": "capture.json",
    "batch": "batch.json",
    "event": "event.json",
    "identify": "identify.json",
    "alias": "alias.json",
    "groupidentify": "groupidentify.json",
    "response": "response.json",
}
"""Payload kinds and the schema file of each."""


def schema_dir() -> Path:
    """Where the schema files are: inside the installed package, or beside it in a source checkout."""
    return data_file("schemas", "common.json").parent


@functools.cache
def documents() -> dict[str, dict[str, Any]]:
    """Every schema document, keyed by its ``$id``."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(schema_dir().glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        docs[doc["$id"]] = doc
    return docs


def uri(kind_or_file: str, pointer: str = "") -> str:
    """The absolute URI of a kind's schema (or of a file), optionally with a JSON pointer fragment."""
    name = KIND_FILES.get(kind_or_file, kind_or_file)
    return BASE_URI + name + (f"#{pointer}" if pointer else "")


@functools.cache
def registry() -> referencing.Registry[Any]:
    """A ``referencing`` registry of every schema, for the explaining validator."""
    resources = [
        (doc_id, referencing.Resource.from_contents(doc, default_specification=referencing.jsonschema.DRAFT202012))
        for doc_id, doc in documents().items()
    ]
    return referencing.Registry().with_resources(resources).crawl()


@functools.cache
def _rs_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(documents().items()))


@functools.cache
def fast_validator(target: str) -> jsonschema_rs.Validator:
    """A compiled jsonschema-rs validator for an absolute schema URI (see :func:`uri`)."""
    return jsonschema_rs.validator_for({"$ref": target}, registry=_rs_registry())


@functools.cache
def explaining_validator(target: str) -> jsonschema.Draft202012Validator:
    """A ``jsonschema`` validator for an absolute schema URI, used only to explain a failure."""
    return jsonschema.Draft202012Validator({"$ref": target}, registry=registry())


@dataclass(frozen=True)
class SchemaFailure:
    """One failing keyword, tied to the contract rule whose subschema holds it."""

    rule: str
    json_path: str
    detail: str


def explain(target: str, document: Any) -> Iterator[SchemaFailure]:
    """Every leaf failure of ``document`` against ``target``, with the rule named by the ``x-rule`` keyword.

    A failing keyword is always written inside a subschema that carries ``x-rule`` (a test walks every
    schema to keep it so); one that does not is a bug in the schemas and raises.
    """
    for error in explaining_validator(target).iter_errors(document):
        rule_name = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
        if rule_name is None:
            raise LookupError(
                f"schema keyword {error.validator!r} at {'/'.join(map(str, error.absolute_schema_path))} "
                "failed without an x-rule naming its contract rule"
            )
        # combinators only repeat the whole instance back; the rule's summary says it better
        detail = "" if error.validator in _COMBINATORS else error.message
        yield SchemaFailure(rule_name, error.json_path, detail)


_COMBINATORS = frozenset({"anyOf", "oneOf", "allOf", "not", "contains", "if"})
