"""The ``curl`` command of a load failure: it sends exactly the failing request, and never shows the key.

A load failure's record (``failures-<pid>.jsonl``) is in the report directory, which is meant to be shared,
so the API key may not appear in it; yet the command must send the request that failed, byte for byte
(a masked key ``phc_…1234`` pasted inline would send another request).  So:

- a body goes inline only when it is short, printable JSON text without the key; any other body (the key
  in it, gzip, base64, a form, over 4 KiB) is written as it was sent to a file under the bodies directory
  (``.capture-harness/failed-bodies/``, outside the report directory), named by its content, and read back
  with ``--data-binary @FILE``;
- where the key appears in the URL or a header, the key is written ``"${CAPTURE_HARNESS_API_KEY}"``
  between the quoted rest of the argument: the shell puts it back from the environment (the variable
  ``load`` also reads its ``--api-key`` from), so the printed command holds no key;
- the run's own ``-H`` headers (which may be a gateway's credentials) go to a header file beside the
  bodies, read back with ``-H @FILE``, so they are sent and not shown;
- a body sent without ``Content-Type`` gets ``-H 'Content-Type:'``, which stops curl from adding its own
  ``application/x-www-form-urlencoded`` (capture reads a form only under that exact type, §2.1), and
  ``--globoff`` stops curl from reading ``[]{}`` in the URL as a glob.

The contract suite's findings (:mod:`harness.contract.findings`) keep bodies out of their report the same
way; this module is the load test's, which must also keep the key out of URLs and headers.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from pathlib import Path

from harness.wire import WireRequest

KEY_VARIABLE = "CAPTURE_HARNESS_API_KEY"
"""The environment variable the printed command reads the key from."""

INLINE_LIMIT = 4096
"""Bytes of a body that may go inline in the command; longer bodies go to a file."""


def failure_curl(request: WireRequest, base_url: str, bodies_dir: Path, api_key: str,
                 extra_headers: Mapping[str, str] | None = None) -> str:
    """A ``curl`` command that sends ``request`` (with ``extra_headers``, from a header file, after its own)
    to ``base_url``."""
    words = [shlex.join(["curl", "-sS", "-i", "--globoff", "-X", request.method])]
    for name, value in request.headers.items():
        words += ["-H", _argument(f"{name}: {value}", api_key)]
    if extra_headers:
        words += ["-H", shlex.quote(f"@{header_file(extra_headers, bodies_dir)}")]
    if request.body:
        if not any(name.lower() == "content-type" for name in {**request.headers, **(extra_headers or {})}):
            words += ["-H", shlex.quote("Content-Type:")]
        if _inline(request.body, api_key):
            words += ["--data-binary", shlex.quote(request.body.decode("utf-8"))]
        else:
            words += ["--data-binary", shlex.quote(f"@{body_file(request.body, bodies_dir)}")]
    words.append(_argument(base_url.rstrip("/") + request.target, api_key))
    return " ".join(words)


def body_file(body: bytes, bodies_dir: Path, *, prefix: str = "body") -> Path:
    """``body`` written to ``bodies_dir`` (absolute, so the command works from any directory), named by content."""
    bodies_dir = bodies_dir.resolve()
    bodies_dir.mkdir(parents=True, exist_ok=True)
    path = bodies_dir / f"{prefix}-{hashlib.sha256(body).hexdigest()[:16]}.bin"
    if not path.exists():
        path.write_bytes(body)
    return path


def header_file(headers: Mapping[str, str], bodies_dir: Path) -> Path:
    """``headers`` as curl's ``-H @FILE`` reads them (one ``Name: value`` a line), beside the bodies."""
    text = "".join(f"{name}: {value}\n" for name, value in headers.items()).encode()
    return body_file(text, bodies_dir, prefix="headers")


def _inline(body: bytes, api_key: str) -> bool:
    """Short printable JSON text without the key (nor anything that could encode it)."""
    if len(body) > INLINE_LIMIT or body[:1] not in (b"{", b"["):
        return False
    if api_key and api_key.encode() in body:
        return False
    try:
        return body.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


def _argument(text: str, api_key: str) -> str:
    """``text`` as one shell word; where it holds ``api_key``, the key is read from the environment
    instead: ``'before'"${CAPTURE_HARNESS_API_KEY}"'after'``, quoted pieces the shell joins into one word."""
    if not api_key or api_key not in text:
        return shlex.quote(text)
    variable = '"${' + KEY_VARIABLE + '}"'
    return variable.join(shlex.quote(piece) if piece else "" for piece in text.split(api_key))
