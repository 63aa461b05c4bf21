"""Read ``validate``'s JSON and JSONL inputs as located documents (:class:`~harness.spec.corpus_check.Document`),
telling malformed input apart from a capture rejection.

A line that is not JSON at all is the user's input error (the CLI exits 2, naming file, line and column).
A line that is JSON for Python's lenient parser but not for a strict one (a lone surrogate escape, a
number like ``1e400``) is a payload capture would reject with 400: it becomes a finding, not an error.
``jsontext.strict_loads`` (orjson plus serde_json's depth limit) refuses exactly what capture's parser refuses.

Inputs are streamed: at most ``max_size`` bytes (one document or line) are held at a time, and a line
longer than that is reported as an input error while it is read (:func:`capped_lines`), then skipped,
so endless input without a newline (``/dev/zero``) ends with an error instead of filling memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import BinaryIO

import orjson

from harness.spec.corpus_check import Document
from harness.spec.jsontext import strict_loads


class InputError(Exception):
    """Input that cannot be read as JSON: a missing file, or malformed JSON at a line and column."""


MAX_DOCUMENT_SIZE = 32 * 1024 * 1024
"""The default size limit of one document or line: capture's 20 MiB wire cap plus headroom, so a body over
the cap is still judged (``body-too-large``) rather than refused as input."""

_SKIP_CHUNK = 1024 * 1024
"""How much of an over-long line is read at a time while skipping it."""


def read(path: str, max_size: int = MAX_DOCUMENT_SIZE) -> Iterator[Document | InputError]:
    """The documents of ``path`` (``-`` is stdin): a whole-file JSON document, or one per line (JSONL).

    Errors are yielded in place, so one bad line does not hide the verdicts on the others. An input up to
    ``max_size`` bytes is one document unless its first JSON value is followed by more (JSON lines); a
    larger one is JSON lines, read line by line, unless its first value does not end within ``max_size``.
    """
    source = "<stdin>" if path == "-" else path
    try:
        stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as error:
        yield _unreadable(source, error)
        return
    with contextlib.nullcontext() if path == "-" else stream:
        try:
            start = stream.tell() if stream.seekable() else None
            head = stream.read(max_size + 1)
        except OSError as error:
            yield _unreadable(source, error)
            return
        lines = path.endswith((".jsonl", ".ndjson")) or _first_value(head, max_size) == "more"
        if not lines:
            yield _parse(source, 1, head) if len(head) <= max_size else _too_large(source, 1, max_size, "document")
            return
        if start is None:  # a pipe: what was read comes first, then the rest
            lines_of: _Chain | BinaryIO = _Chain(head, stream)
        else:
            stream.seek(start)
            lines_of = stream
        del head  # held by the chain only until it is read
        yield from _documents(source, lines_of, max_size)


def _documents(source: str, stream: _Chain | BinaryIO, max_size: int) -> Iterator[Document | InputError]:
    """One document per non-blank line; a line is split further at a lone CR, as ``bytes.splitlines`` does."""
    number = 0
    for line in capped_lines(stream, max_size):
        if line is None:
            number += 1
            yield _too_large(source, number, max_size, "line")
        elif b"\r" not in line:
            number += 1
            if line.strip():
                yield _parse(source, number, line[:-1] if line.endswith(b"\n") else line)
        else:
            for piece in line.splitlines():
                number += 1
                if piece.strip():
                    yield _parse(source, number, piece)


def capped_lines(stream: _Chain | BinaryIO, max_size: int) -> Iterator[bytes | None]:
    """The lines of ``stream`` with their line ends, or None for a line over ``max_size`` bytes (line end not
    counted): such a line is reported as soon as ``max_size + 2`` bytes of it are read, then skipped."""
    while line := stream.readline(max_size + 2):
        if len(line) <= max_size or len(line.rstrip(b"\r\n")) <= max_size:
            yield line
            continue
        yield None
        while not line.endswith(b"\n") and (line := stream.readline(_SKIP_CHUNK)):
            pass


class _Chain:
    """The head already read (to tell one document from JSON lines), then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head: io.BytesIO | None = io.BytesIO(head)
        self._rest = rest

    def readline(self, size: int) -> bytes:
        if self._head is None:
            return self._rest.readline(size)
        line = self._head.readline(size)
        if len(line) == size or line.endswith(b"\n"):
            return line
        self._head = None  # a short line without its end: the head is read
        return line + self._rest.readline(size - len(line))


def _unreadable(source: str, error: OSError) -> InputError:
    return InputError(f"{source}: cannot read: {error.strerror or error}; check the path")


def _too_large(source: str, line: int, max_size: int, what: str) -> InputError:
    return InputError(f"{source}:{line}: {what} over the maximum document size of {max_size:,} bytes; "
                      "split it into smaller documents, or raise --max-document-size")


def _first_value(head: bytes, max_size: int) -> str:
    """``more`` when the first JSON value of ``head`` is followed by more (JSON lines), else ``one``.

    A head over ``max_size`` is cut at its last line end (no character is cut in two), and its first value
    then only has to end there: what follows was not read yet.
    """
    complete = len(head) <= max_size
    try:
        json.loads(head if complete else head[:head.rfind(b"\n") + 1])
    except json.JSONDecodeError as error:
        return "more" if error.msg.startswith("Extra data") else "one"
    except (UnicodeDecodeError, RecursionError):
        return "one"
    return "one" if complete else "more"


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
