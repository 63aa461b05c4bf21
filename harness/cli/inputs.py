"""Read ``validate``'s JSON and JSONL inputs as located documents (:class:`~harness.spec.corpus_check.Document`),
telling malformed input apart from a capture rejection.

A line that is not JSON at all is the user's input error (the CLI exits 2, naming file, line and column).
A line that is JSON for Python's lenient parser but not for a strict one (a lone surrogate escape, a
number like ``1e400``) is a payload capture would reject with 400: it becomes a finding, not an error.
``jsontext.strict_loads`` (orjson plus serde_json's depth limit) refuses exactly what capture's parser refuses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

from harness.spec.corpus_check import Document
from harness.spec.jsontext import strict_loads


class InputError(Exception):
    """Input that cannot be read as JSON: a missing file, or malformed JSON at a line and column."""


def read(path: str) -> Iterator[Document | InputError]:
    """The documents of ``path`` (``-`` is stdin): a whole-file JSON document, or one per line (JSONL).

    Errors are yielded in place, so one bad line does not hide the verdicts on the others.
    """
    source = "<stdin>" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        yield InputError(f"{source}: cannot read: {error.strerror or error}; check the path")
        return
    if not path.endswith((".jsonl", ".ndjson")) and _is_single_document(data):
        yield _parse(source, 1, data)
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield _parse(source, number, line)


def _is_single_document(data: bytes) -> bool:
    try:
        json.loads(data)
    except json.JSONDecodeError as error:
        return not error.msg.startswith("Extra data")
    except (UnicodeDecodeError, RecursionError):
        return True
    return True


def _parse(source: str, line: int, raw: bytes) -> Document | InputError:
    try:
        return Document(source, line, raw, strict_loads(raw))
    except orjson.JSONDecodeError as strict:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            return InputError(f"{source}:{line + error.lineno - 1}:{error.colno}: malformed JSON: {error.msg}; "
                              "fix the document or remove the line")
        except UnicodeDecodeError as error:
            return InputError(f"{source}:{line}: not UTF-8 (byte {error.start}); save the file as UTF-8")
        except RecursionError:  # nested beyond Python's stack: capture refuses it too (json-too-deep)
            value = None
        return Document(source, line, raw, value, strict_error=str(strict))
