"""Load ``schemas/`` once, and build the two kinds of validator every caller shares.

jsonschema-rs answers "is this acceptable?" on hot paths (millions of events a second); the pure-Python
``jsonschema`` explains a failure with its JSON path, but costs far more per call, so it only runs after
the fast validator said no.  Both read the same files through a registry built from disk: a ``$ref`` is
never retrieved from the network.

Explaining is bounded by what is reported (issue 14): each validator also exists *per stage*, built from
the schemas with every ``x-rule`` subschema of a later stage replaced by ``true``, so the fast validators
find the deciding stage in a few yes/no passes (:func:`failing_stage`), and the explainer walks the schema
of that stage only.  The explainer never walks into an array element jsonschema-rs already accepts
(``items`` asks the fast validator first), so explaining costs the failing elements, not the whole
document: a 50,000-event batch with one bad event is explained in one event's time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema._keywords
import jsonschema.validators
import jsonschema_rs
import referencing
import referencing.jsonschema

from harness._data import data_file
from harness.spec.rules import Stage, rule

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


def read_documents(folder: Path) -> dict[str, dict[str, Any]]:
    """The schema files directly in ``folder`` (each protocol has its own), keyed by their ``$id``."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        docs[doc["$id"]] = doc
    return docs


@functools.cache
def documents() -> dict[str, dict[str, Any]]:
    """Every v0 schema document, keyed by its ``$id``."""
    return read_documents(schema_dir())


def uri(kind_or_file: str, pointer: str = "") -> str:
    """The absolute URI of a kind's schema (or of a file), optionally with a JSON pointer fragment."""
    name = KIND_FILES.get(kind_or_file, kind_or_file)
    return BASE_URI + name + (f"#{pointer}" if pointer else "")


@functools.cache
def schema_stages() -> tuple[Stage, ...]:
    """The stages of the rules the schemas carry, earliest first (the others are checked in code)."""
    found: set[Stage] = set()
    stack: list[Any] = list(documents().values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("x-rule")
            stage = rule(name).stage if isinstance(name, str) else None
            if stage is not None:
                found.add(stage)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return tuple(sorted(found))


def _prune(node: Any, stage: Stage) -> Any:
    """``node`` without the subschemas of rules decided after ``stage`` (each becomes ``true``).  Sound
    because no such subschema sits inside a condition (``if``, ``not``, ``contains``) of an earlier
    stage: the one ``x-rule`` inside a ``contains`` is ``token-missing``'s, in a ``token-missing``
    subschema (``tests/test_schemas.py`` checks every stage against the full schemas)."""
    if isinstance(node, dict):
        name = node.get("x-rule")
        node_stage = rule(name).stage if isinstance(name, str) else None
        if node_stage is not None and node_stage > stage:
            return True
        return {key: _prune(value, stage) for key, value in node.items()}
    if isinstance(node, list):
        return [_prune(value, stage) for value in node]
    return node


@functools.cache
def _staged_documents(stage: Stage | None) -> dict[str, dict[str, Any]]:
    """Every schema document, pruned after ``stage`` (None: as written)."""
    if stage is None or stage >= schema_stages()[-1]:
        return documents()
    return {doc_id: _prune(doc, stage) for doc_id, doc in documents().items()}


@functools.cache
def _node_uris(stage: Stage | None) -> dict[int, str]:
    """The absolute URI (with its JSON pointer) of every subschema object of the staged documents, keyed
    by identity: how the explainer asks jsonschema-rs about the subschema it is walking."""
    uris: dict[int, str] = {}
    for doc_id, doc in _staged_documents(stage).items():
        stack: list[tuple[Any, str]] = [(doc, "")]
        while stack:
            node, pointer = stack.pop()
            if isinstance(node, dict):
                uris[id(node)] = f"{doc_id}#{pointer}"
                stack.extend((value, f"{pointer}/{_escape(str(key))}") for key, value in node.items())
            elif isinstance(node, list):
                stack.extend((value, f"{pointer}/{index}") for index, value in enumerate(node))
    return uris


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


@functools.cache
def registry(stage: Stage | None = None) -> referencing.Registry[Any]:
    """A ``referencing`` registry of every schema (pruned after ``stage``), for the explaining validator.
    Each document's root is a copy without ``$schema`` (its subschemas are the same objects): jsonschema
    picks the validator class by ``$schema`` at each document it enters, which would drop the explainer's
    own ``items`` and ``contains``."""
    resources = [
        (doc_id, referencing.Resource.from_contents({key: value for key, value in doc.items() if key != "$schema"},
                                                    default_specification=referencing.jsonschema.DRAFT202012))
        for doc_id, doc in _staged_documents(stage).items()
    ]
    return referencing.Registry().with_resources(resources).crawl()


@functools.cache
def _rs_registry(stage: Stage | None) -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(_staged_documents(stage).items()))


@functools.cache
def fast_validator(target: str, stage: Stage | None = None) -> jsonschema_rs.Validator:
    """A compiled jsonschema-rs validator for an absolute schema URI (see :func:`uri`); with ``stage``, of
    the rules decided up to that stage only."""
    return jsonschema_rs.validator_for({"$ref": target}, registry=_rs_registry(stage))


def failing_stage(target: str, document: Any) -> Stage | None:
    """The earliest stage whose schema rules ``document`` breaks (None when it breaks none): one
    jsonschema-rs pass per stage, never an explanation."""
    for stage in schema_stages():
        if not _fast_is_valid(fast_validator(target, stage), document):
            return stage
    return None


def _fast_is_valid(validator: jsonschema_rs.Validator, instance: Any) -> bool:
    try:
        return bool(validator.is_valid(instance))
    except UnicodeEncodeError:  # a lone surrogate jsonschema-rs cannot read: invalid, the explainer says why
        return False


@functools.cache
def explaining_validator(target: str, stage: Stage | None = None) -> jsonschema.Draft202012Validator:
    """A ``jsonschema`` validator for an absolute schema URI (pruned after ``stage``), used only to
    explain a failure.  Its ``items`` and ``contains`` ask jsonschema-rs about each element first."""
    uris = _node_uris(stage)

    def fast_for(subschema: Any, schema: Any, instance: Any, validator: Any) -> jsonschema_rs.Validator | None:
        node_uri = uris.get(id(subschema)) if isinstance(subschema, dict) else None
        if node_uri is None or not validator.is_type(instance, "array") or \
                {"prefixItems", "minContains", "maxContains"} & set(schema):
            return None
        return fast_validator(node_uri, stage)

    def items(validator: Any, items: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
        fast = fast_for(items, schema, instance, validator)
        if fast is None:
            yield from jsonschema._keywords.items(validator, items, instance, schema)
            return
        for index, item in enumerate(instance):
            if not _fast_is_valid(fast, item):
                yield from validator.descend(instance=item, schema=items, path=index)

    def contains(validator: Any, contains: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
        fast = fast_for(contains, schema, instance, validator)
        if fast is None:
            yield from jsonschema._keywords.contains(validator, contains, instance, schema)
        elif not any(_fast_is_valid(fast, item) for item in instance):  # never the instance's repr: it can be huge
            yield jsonschema.ValidationError(f"none of the {len(instance)} items matches the given schema")

    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": items, "contains": contains})
    return cls({"$ref": target}, registry=registry(stage))


@dataclass(frozen=True)
class SchemaFailure:
    """One failing keyword, tied to the contract rule whose subschema holds it."""

    rule: str
    json_path: str
    detail: str


def explain(target: str, document: Any, stage: Stage | None = None) -> Iterator[SchemaFailure]:
    """Every leaf failure of ``document`` against ``target``, with the rule named by the ``x-rule`` keyword;
    with ``stage``, of the rules decided up to that stage only.  Lazy: a caller that needs one failure
    pays for one.

    A failing keyword is always written inside a subschema that carries ``x-rule`` (a test walks every
    schema to keep it so); one that does not is a bug in the schemas and raises.
    """
    for error in explaining_validator(target, stage).iter_errors(document):
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
