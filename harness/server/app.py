"""The reference capture endpoint as a plain ASGI application.

Routes (contract §1.1, §1.3): the six v0 analytics paths with and without a trailing slash (GET, POST,
OPTIONS; other methods 405), capture v1's ``/i/v1/analytics/events`` (:mod:`harness.server.v1_capture`),
``GET /`` answering ``capture``, ``/_readiness`` and ``/_liveness``, the
routes posthog-js needs besides capture (remote config, ``/flags``, ``/decide``, ``/static/`` stand-ins:
:mod:`harness.server.sdk_routes`), the inspection API under ``/_harness/`` with its live inspector page at
``/_harness/`` itself (:mod:`harness.server.inspector_page`), and an empty 404 for anything
else.  CORS is permissive as capture's is: the Origin and the requested headers are mirrored, credentials
allowed, and a preflight is answered on every path (as tower-http's ``CorsLayer`` answers it before
routing), on every answer but the inspection API's, which never carry CORS headers and check the caller first
(:meth:`harness.server.inspect.Inspection.refusal`: Host, Origin, token, content type).

The body bytes all requests hold together are capped (:class:`~harness.server.connections.BodyBudget`,
``body_bytes_limit``, 256 MiB by default): past it a capture request is answered 503 with ``Retry-After: 1``
before its body is read.  Every answer is counted in the stats, a 500 from an exception included.

No framework: a capture request is routed by one dictionary lookup, so the server spends its time on
the contract, not on plumbing (the single-event budget is 70% of a no-op app's rate on the same stack).
The request handling is :mod:`harness.server.capture`; the ``/_harness/`` handlers and the counters are
:mod:`harness.server.inspect`; the group commit is in :mod:`harness.server.store`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from harness.server import capture, inspector_page, offload, recordings, sdk_routes, v1_capture
from harness.server.asgi import (
    JSON,
    OK_BODY,
    STORE_FAILED_TEXT,
    TEXT,
    BodyError,
    Disconnected,
    Headers,
    Receive,
    Scope,
    Send,
    answer_method,
    client_ip,
    cors_headers,
    preflight_headers,
    respond,
)
from harness.server.connections import BODY_BYTES_IN_FLIGHT, BodyBudget, Claim
from harness.server.faults import ERROR_TEXTS, FaultPlan, Faults
from harness.server.inspect import Inspection, Stats
from harness.server.rejections import Rejections
from harness.server.remote_config import SdkConfig
from harness.server.store import GroupCommit, Store
from harness.spec.rules import WIRE_BODY_LIMIT, rule
from harness.wire import V0_PATHS

CAPTURE_ROUTES = frozenset(V0_PATHS)
HEALTH_ROUTES = frozenset({"/", "/_readiness", "/_liveness"})
LEGACY_OK_BODY = b'{"status":1}'
BODY_CHUNK_TIMEOUT_S = 30.0
"""A body upload that stalls this long between chunks is answered 408 (capture's ``BodyReadTimeout``)."""
CLIENT_GONE = 499
"""nginx's "client closed request": counted in the stats for a client that left before its answer."""

_TOO_LARGE_TEXT = rule("body-too-large").capture_text


class CaptureApp:
    """The ASGI application.  ``store`` receives accepted events; ``faults`` can change at run time;
    ``body_bytes_limit`` caps the body bytes in flight; ``inspect_token`` (when set) is required on every
    ``/_harness/`` route, and ``inspect_hosts`` are further ``Host`` names the inspection API answers;
    ``sdk`` is what the remote config and ``/flags`` tell SDKs (default: autocapture on, no recording, no flags);
    ``v1_variants`` selects older v1 answers by name (:data:`harness.server.v1_capture.VARIANTS`)."""

    def __init__(self, store: Store, faults: Faults | None = None, *, legacy_success: bool = False,
                 seed: int | None = None, body_chunk_timeout_s: float = BODY_CHUNK_TIMEOUT_S,
                 body_bytes_limit: int = BODY_BYTES_IN_FLIGHT, inspect_token: str | None = None,
                 inspect_hosts: Iterable[str] = (), sdk: SdkConfig | None = None,
                 v1_variants: Iterable[str] = ()) -> None:
        self.store = store
        self.v1_variants = v1_capture.variants(v1_variants)  # older v1 answers (capture-v1.md §8)
        self.sdk = sdk or SdkConfig()
        self.commits = GroupCommit(store)
        self.pipelines = offload.Pipelines()
        self.plan = FaultPlan(faults or Faults(), seed)
        self.success_body = LEGACY_OK_BODY if legacy_success else OK_BODY
        self.body_chunk_timeout_s = body_chunk_timeout_s
        self.stats = Stats()
        self.bodies = BodyBudget(body_bytes_limit)
        self.rejections = Rejections()
        """The last refused capture requests, for the inspector: every route that answers a capture request
        with an error calls ``self.rejections.add(scope, headers, body, status, rule, text)``."""
        self.inspection = Inspection(store, self.stats, self.plan, token=inspect_token, hosts=inspect_hosts,
                                     bodies=self.bodies, rejections=self.rejections)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        status, claim = 500, self.bodies.claim()  # 500: what uvicorn answers when an exception escapes
        self.stats.in_flight += 1
        try:
            if path in CAPTURE_ROUTES:
                metered = metered_receive(receive, claim, headers.get("content-length", ""))
                status = await self._capture_route(scope, metered, send, headers, cors_headers(headers))
            elif path in v1_capture.PATHS:
                metered = metered_receive(receive, claim, headers.get("content-length", ""))
                status = await v1_capture.serve(self, scope, metered, send, headers, cors_headers(headers))
            elif path == "/_harness" or path.startswith("/_harness/"):
                status = await self._inspection_route(scope, receive, send, headers)
            elif sdk_routes.handles(path):
                metered = metered_receive(receive, claim, headers.get("content-length", ""))
                status = await self._sdk_route(scope, metered, send, headers, cors_headers(headers))
            elif recordings.handles(path):
                metered = metered_receive(receive, claim, headers.get("content-length", ""))
                status = await recordings.route(self, scope, metered, send, headers, cors_headers(headers),
                                                client_ip(scope, headers))
            else:
                status = await self._other_route(scope, send, headers, cors_headers(headers))
        except Disconnected:  # nothing to answer
            status = CLIENT_GONE
        finally:
            claim.release()
            self.stats.in_flight -= 1
            self.stats.requests[(path, status)] += 1

    # --- capture ------------------------------------------------------------------------------------

    async def _capture_route(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                             cors: Headers) -> int:
        answered = await answer_method(scope["method"], send, headers, cors)
        if answered is not None:
            return answered
        try:
            body = await self.take_body(scope, receive, headers)
        except BodyError as error:
            return await respond(send, error.status, str(error).encode(), TEXT, cors + error.headers)
        injected = await self.injected_fault()
        if injected is not None:
            retry = [(b"retry-after", str(self.plan.faults.retry_after_s).encode())]
            return await respond(send, injected, ERROR_TEXTS[injected].encode(), TEXT, cors + retry)
        query = scope["query_string"].decode("latin-1")
        request = (scope["path"], query, headers, body, client_ip(scope, headers), datetime.now(UTC))
        if offload.runs_inline(query, headers, body):
            outcome = capture.handle(*request)
        else:  # a large (or expanding) body: its pipeline must not hold up other clients
            outcome = await self.pipelines.run(capture.handle, *request)
        if outcome.status != 200:
            deciding = outcome.reason or str(outcome.status)
            self.stats.rejections[deciding] += 1
            self.rejections.add(scope, headers, body, outcome.status, deciding, outcome.text)
            return await respond(send, outcome.status, outcome.text.encode(), TEXT, cors)
        del body, request
        if outcome.records:
            if self.plan.drops():
                self.stats.dropped_events += len(outcome.records)
            else:
                try:
                    await self.commits.add(outcome.records)
                except sqlite3.Error:  # disk full, a closed or damaged file: nothing stored, the client retries
                    self.stats.rejections["store: 503"] += 1
                    return await respond(send, 503, STORE_FAILED_TEXT, TEXT, cors + [(b"retry-after", b"1")])
            self.stats.accepted_events += len(outcome.records)  # counted once committed (or dropped by a fault)
        if "beacon=1" in query and parse_qs(query).get("beacon") == ["1"]:
            return await respond(send, 204, b"", None, cors)
        return await respond(send, 200, self.success_body, JSON, cors)

    async def take_body(self, scope: Scope, receive: Receive, headers: dict[str, str], label: str = "body") -> bytes:
        """The body (:meth:`read_body`).  A refused one is counted (as ``label: status``) and kept among the
        rejections; the :class:`BodyError` then goes on to the route, which answers in its own format."""
        try:
            return await self.read_body(receive, headers)
        except BodyError as error:
            self.stats.rejections[f"{label}: {error.status}"] += 1
            self.rejections.add(scope, headers, None, error.status, f"body: {error.status}", str(error))
            raise

    async def injected_fault(self) -> int | None:
        """The fault plan applied to a request whose body was read: its delay, then the status it injects
        (counted), if any; every capture route answers that status in its own format."""
        delay = self.plan.delay_s()
        if delay:
            await asyncio.sleep(delay)
        injected = self.plan.error_status()
        if injected is not None:
            self.stats.rejections[f"fault: {injected}"] += 1
        return injected

    async def read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        """The whole body, refused with 413 past the wire cap (before reading it all when the length
        is announced) and with 408 when the upload stalls."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > WIRE_BODY_LIMIT:
            raise BodyError(413, _TOO_LARGE_TEXT)
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.body_chunk_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyError(408, "client stopped sending data") from None
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > WIRE_BODY_LIMIT:
                raise BodyError(413, _TOO_LARGE_TEXT)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # --- what SDKs need besides capture ------------------------------------------------------------

    async def _sdk_route(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                         cors: Headers) -> int:
        """Remote config, flags, ``/decide`` and ``/static/``: :func:`harness.server.sdk_routes.answer`."""
        path, method = scope["path"], scope["method"]
        if method == "OPTIONS":
            preflight = preflight_headers(headers) if "access-control-request-method" in headers else []
            return await respond(send, 200, b"", TEXT, cors + preflight)
        try:
            body = await self.read_body(receive, headers) if method == "POST" else b""
        except BodyError as error:
            return await respond(send, error.status, str(error).encode(), TEXT, cors + error.headers)
        answer = sdk_routes.answer(self.sdk, method, path, scope["query_string"].decode("latin-1"), headers, body)
        return await respond(send, answer.status, answer.body, answer.content_type, cors + answer.headers)

    # --- everything else ----------------------------------------------------------------------------

    async def _other_route(self, scope: Scope, send: Send, headers: dict[str, str], cors: Headers) -> int:
        path, method = scope["path"], scope["method"]
        if method == "OPTIONS" and cors and "access-control-request-method" in headers:  # a preflight, any path
            return await respond(send, 200, b"", TEXT, cors + preflight_headers(headers))
        if path in HEALTH_ROUTES:
            if method != "GET":
                return await respond(send, 405, b"", TEXT, cors + [(b"allow", b"GET")])
            return await respond(send, 200, b"capture" if path == "/" else b"ok", TEXT, cors)
        return await respond(send, 404, b"", TEXT, cors)

    async def _inspection_route(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> int:
        """``/_harness/``: never CORS headers; the caller checked first (Host, Origin, token, content type)."""
        path, method = scope["path"], scope["method"]
        if path in inspector_page.PATHS:
            return await self._inspector_page(scope, send, headers)
        refused = self.inspection.refusal(scope, headers)
        if refused is not None:
            status, payload, ask = refused
            challenge = [(b"www-authenticate", b'Bearer realm="capture-harness inspection"')] if ask else []
            return await respond(send, status, orjson.dumps(payload), JSON, challenge)
        handler = self.inspection.route(path, method)
        if handler is None:
            allowed = self.inspection.allowed.get(path)
            if allowed:
                return await respond(send, 405, b"", TEXT, [(b"allow", allowed.encode())])
            return await respond(send, 404, b"", TEXT, [])
        retry: Headers = []
        try:
            status, payload = await handler(scope["query_string"], lambda: self.read_body(receive, {}))
        except BodyError as error:  # an inspection body is refused as a bad parameter, whatever the cap
            status, payload = 400, {"error": str(error)}
        except sqlite3.Error:
            status, payload, retry = 503, {"error": "the store failed; retry later"}, [(b"retry-after", b"1")]
        return await respond(send, status, orjson.dumps(payload), JSON, retry)

    async def _inspector_page(self, scope: Scope, send: Send, headers: dict[str, str]) -> int:
        """The live inspector's HTML (:mod:`harness.server.inspector_page`): the Host and Origin checks hold;
        the token is not needed for the page, which holds no data, but for the API calls it makes."""
        refused = self.inspection.refusal(scope, headers, token_needed=False)
        if refused is not None:
            return await respond(send, refused[0], orjson.dumps(refused[1]), JSON, [])
        if scope["method"] != "GET":
            return await respond(send, 405, b"", TEXT, [(b"allow", b"GET")])
        page, extra = inspector_page.render(token_required=self.inspection.token_required,
                                            recordings=("/_harness/recordings", "GET") in self.inspection.routes)
        return await respond(send, 200, page, inspector_page.HTML, extra)


def metered_receive(receive: Receive, claim: Claim, declared: str) -> Receive:
    """``receive`` that holds the body's bytes in ``claim``: the declared length before the first chunk,
    then what arrives; past the budget it raises the 503 (``Retry-After: 1``) instead of reading on."""
    announced = int(declared) if declared.isdigit() else 0
    received = 0

    async def metered() -> dict[str, Any]:
        nonlocal received
        if not claim.grow_to(announced):
            raise BodyError(503, ERROR_TEXTS[503], [(b"retry-after", b"1")])
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if not claim.grow_to(received):
                raise BodyError(503, ERROR_TEXTS[503], [(b"retry-after", b"1")])
        return message
    return metered


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
