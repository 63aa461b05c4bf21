"""Requests for the v1 contract tests (``--capture-protocol v1``), each with the answer the v1 judge expects.

A v1 request is ``{"headers", "body"}`` as :class:`harness.generate.v1.V1Traffic` makes it (what posthog-python
7.91.1 and posthog-node 5.70.0 send), tagged for the run like every v0 body (:func:`harness.contract.tagging.tag`),
and broken, where a test wants it, by the edits of :mod:`harness.contract.v1_requests` (written out per rule) or
the breakers of :data:`harness.generate.v1_mutations.BREAKERS` (the property tests), after tagging, so that the
run tag cannot undo an edit (a distinct id made illegal stays so).  The expected answer is never written in a
test: :meth:`V1Cases.case` asks the judge (:func:`harness.spec.v1.validation.validate_request`, the one the
reference endpoint runs) with the variants the session selected (``--capture-v1-variant``), so a test keeps its
meaning for an older revision.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.checks import Case
from harness.contract.cases import seed_of
from harness.contract.tagging import tag
from harness.contract.target import Target
from harness.generate.choices import SeededChoices
from harness.generate.v1 import V1Traffic
from harness.spec.jsontext import to_json
from harness.spec.v1.model import Report
from harness.spec.v1.validation import VARIANTS, validate_request
from harness.wire import WireRequest

PATH = "/i/v1/analytics/events"
"""The v1 route (capture-v1.md §1); ``PATH + "/"`` is served by the same handler."""

Request = dict[str, Any]
Edit = Callable[[Request], None]


def compress(data: bytes, encoding: str | None) -> bytes:
    """``data`` as a client sends it under ``Content-Encoding: encoding`` (deflate zlib-wrapped, as Python
    sends it); any other value (``lz4``, ``identity``) leaves the bytes as they are, for the refusals."""
    name = (encoding or "").strip().lower()
    if name == "gzip":
        return gzip.compress(data, mtime=0)
    if name == "deflate":
        return zlib.compress(data)
    if name == "br":
        import brotli  # installed with Locust's geventhttpclient, as the judge's decoder

        compressed: bytes = brotli.compress(data)
        return compressed
    return data


@dataclass(frozen=True)
class V1Case:
    """A v1 request on the wire (``case``), the request it came from and the judge's verdict on it."""

    case: Case
    request: Request
    report: Report


class V1Cases:
    """Builds tagged v1 requests and :class:`V1Case`\\ s for one :class:`Target` and the selected variants."""

    def __init__(self, target: Target, variants: frozenset[str] = frozenset()) -> None:
        self.target = target
        self.selected = variants
        """Every variant the session selected, the reference endpoint's own too (``Retry-After`` on errors)."""
        self.variants = variants & frozenset(VARIANTS)
        """The judge's variants among ``variants``: the reference endpoint's own (``Retry-After`` on 5xx only
        for ``rate_limited``, no ``$lib``, ``Accept`` on errors) change no answer the suite checks."""

    def valid(self, label: str, *, size: int = 3, sdk: str | None = "python", encoding: str | None = None) -> Request:
        """A valid request of ``size`` events, the same for the same ``label`` (up to the run tag), sent with
        ``encoding`` (None: uncompressed, the Python default)."""
        request = V1Traffic(SeededChoices(seed_of(label)), token=self.target.api_key, sdk=sdk).request(size)
        request["headers"].pop("Content-Encoding", None)
        if encoding is not None:
            request["headers"]["Content-Encoding"] = encoding
        return self.tag(request)

    def tag(self, request: Request) -> Request:
        """Mark ``request``'s events for this run (:func:`harness.contract.tagging.tag`); returns it."""
        tag(request["body"], self.target.run_id)
        return request

    def case(self, name: str, request: Request, *, path: str = PATH, raw: bytes | None = None) -> V1Case:
        """``request`` on the wire to ``path``: its body as JSON, compressed by its ``Content-Encoding``, or
        ``raw`` bytes as they are; expecting what the judge says of what the endpoint receives (a header value
        without the spaces around it, which HTTP servers strip: RFC 9110 §5.5)."""
        headers = {key: value.strip(" \t") for key, value in request["headers"].items()}
        encoding = next((v for k, v in headers.items() if k.lower() == "content-encoding"), None)
        body = raw if raw is not None else compress(to_json(request["body"]), encoding)
        report = validate_request(headers, raw=body, variants=self.variants)
        assert report.status is not None  # a request's verdict always has one
        rule = report.rejections[0].rule if report.rejections else None
        events = request["body"].get("batch") if isinstance(request["body"], dict) else None
        uuids = tuple(e["uuid"] for e in events if isinstance(e, dict) and isinstance(e.get("uuid"), str)) \
            if isinstance(events, list) and raw is None else ()
        wire = WireRequest("POST", path, headers, body)
        return V1Case(Case(name, wire, report.status, rule, uuids), request, report)


def header(name: str, value: str | None) -> Edit:
    """An edit setting header ``name`` (None: removing it, whatever its spelling)."""
    def edit(request: Request) -> None:
        headers: dict[str, str] = request["headers"]
        for key in [k for k in headers if k.lower() == name.lower()]:
            del headers[key]
        if value is not None:
            headers[name] = value
    return edit


def event(key: str, value: Any, index: int = 0) -> Edit:
    """An edit setting ``key`` of the event at ``index``."""
    def edit(request: Request) -> None:
        request["body"]["batch"][index][key] = value
    return edit


def envelope(key: str, value: Any) -> Edit:
    """An edit setting ``key`` of the body."""
    def edit(request: Request) -> None:
        request["body"][key] = value
    return edit
