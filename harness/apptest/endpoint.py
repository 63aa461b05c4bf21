"""A running reference endpoint as an app's test sees it: what arrived, and assertions that wait for it.

An SDK sends asynchronously and in batches (posthog-python from a consumer thread, posthog-node on a timer
or at ``shutdown()``, posthog-js on an interval or at page hide), so an assertion that reads the store once
would race the app.  :meth:`CaptureEndpoint.expect_event` polls ``GET /_harness/events`` until a matching
event is stored or its deadline passes, reading only what arrived since its previous look, and then fails
with :func:`~harness.apptest.events.mismatch_report`'s explanation of what did arrive.

The HTTP is the contract suite's inspection client (:class:`harness.contract.client.Client`: one keep-alive
connection, a total deadline per request, pages read up to a bound); an answer the reference server would not
give (a refusal, another status, something that is not a page) is an :class:`EndpointError`, kept apart from
the ``AssertionError`` of an expectation that did not hold: the first is a broken setup, the second a finding
about the app.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import orjson

from harness.apptest.events import CapturedEvent, Expected, mismatch_report, unexpected_report
from harness.checks import excerpt
from harness.contract.client import Client, NoAnswerError, inspection_refused
from harness.safety import check_url
from harness.server.process import ServeProcess, inspect_headers, new_token
from harness.wire import WireRequest

EXPECT_TIMEOUT_S = 10.0
"""How long :meth:`CaptureEndpoint.expect_event` waits by default: several flush intervals of every SDK."""
ABSENCE_TIMEOUT_S = 1.0
"""How long :meth:`CaptureEndpoint.expect_no_event` watches by default."""
PAGE_SIZE = 1000
"""Events asked for per ``/_harness/events`` page (the API's most)."""
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.02, 0.25
"""The polling pause: short at first (an SDK that flushed is usually stored already), doubling up to a bound."""
TOKEN_OPTION = "CaptureEndpoint(url, inspect_token=...) (pytest: --capture-endpoint-token)"
"""How this API takes the inspection token, named when the endpoint wants one."""


class EndpointError(Exception):
    """The endpoint's ``/_harness/`` API could not be used (no answer, a refusal, not the reference server's
    API, a setting it refused); the message says which."""


class CaptureEndpoint:
    """The ``/_harness/`` inspection API of a running ``capture-harness serve`` at ``url``, with the token it
    wants (``inspect_token``, None when it wants none).  Usable as a context manager, which closes its
    connection; :func:`start_endpoint` starts a fresh server and yields one."""

    def __init__(self, url: str, inspect_token: str | None = None, *, request_timeout: float = 30.0) -> None:
        self.url = check_url(url, allow_production=True, option="CaptureEndpoint url")
        self.inspect_token = inspect_token
        self._client = Client(self.url, request_timeout)
        self._client.inspect_headers = inspect_headers(inspect_token)

    def __repr__(self) -> str:
        return f"CaptureEndpoint({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # --- reading -----------------------------------------------------------------------------------------

    def events(self, event: str | None = None, *, distinct_id: str | None = None, token: str | None = None,
               uuid: str | None = None) -> list[CapturedEvent]:
        """Every stored event, in arrival order, filtered by exact ``event``, ``distinct_id``, ``token``, ``uuid``."""
        filters = {"event": event, "distinct_id": distinct_id, "token": token, "uuid": uuid}
        return [CapturedEvent.from_record(record) for record in
                self._records(0, {name: value for name, value in filters.items() if value is not None})]

    def _records(self, after: int, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        """The stored records after row ``after``, every page of them."""
        records: list[dict[str, Any]] = []
        next_after: Any = after
        while next_after is not None:
            page = self._call("GET", f"/_harness/events?{urlencode({**filters, 'after': next_after, 'limit': PAGE_SIZE})}")
            found, next_after = page.get("events"), page.get("next_after")
            if not isinstance(found, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), int)
                                                      for r in found) \
                    or not (next_after is None or isinstance(next_after, int)):
                raise EndpointError(f"GET /_harness/events at {self.url} answered {excerpt(orjson.dumps(page))}, "
                                    "not a page of the reference server's inspection API")
            records.extend(found)
        return records

    def _arrivals(self, timeout: float) -> Iterator[list[CapturedEvent]]:
        """The events stored since the previous look, once now and then at growing pauses until ``timeout``."""
        deadline = time.monotonic() + timeout
        after, pause = 0, _FIRST_PAUSE_S
        while True:
            records = self._records(after, {})
            if records:
                after = records[-1]["id"]
            yield [CapturedEvent.from_record(record) for record in records]
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(pause, left))  # polling the store: the SDK under test sends when it sends
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    # --- assertions --------------------------------------------------------------------------------------

    def expect_event(self, event: str | None = None, *, distinct_id: str | None = None,
                     properties: Mapping[str, Any] | None = None, token: str | None = None,
                     timeout: float = EXPECT_TIMEOUT_S) -> CapturedEvent:
        """The first stored event named ``event`` for ``distinct_id`` whose properties include ``properties``
        (see :mod:`harness.apptest.events` for how values match), waiting up to ``timeout`` seconds for it to
        arrive; else an ``AssertionError`` that shows what did arrive and how the closest events differ."""
        expected = Expected(event, distinct_id, dict(properties or {}), token)
        arrived: list[CapturedEvent] = []
        for new in self._arrivals(timeout):
            arrived.extend(new)
            for captured in new:
                if expected.matches(captured):
                    return captured
        raise AssertionError(mismatch_report(expected, arrived, f"waited {timeout:g} s at {self.url}"))

    def expect_no_event(self, event: str | None = None, *, distinct_id: str | None = None,
                        properties: Mapping[str, Any] | None = None, token: str | None = None,
                        timeout: float = ABSENCE_TIMEOUT_S) -> None:
        """An ``AssertionError`` as soon as a matching event is stored (matched as by :meth:`expect_event`),
        watching for ``timeout`` seconds; flush the SDK first, so that the watch covers what it sent."""
        expected = Expected(event, distinct_id, dict(properties or {}), token)
        for new in self._arrivals(timeout):
            found = [captured for captured in new if expected.matches(captured)]
            if found:
                raise AssertionError(unexpected_report(expected, found, f"watching {timeout:g} s at {self.url}"))

    # --- control -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the store and the counters (the faults stay), so that a test sees only its own events."""
        self._call("POST", "/_harness/reset")

    def stats(self) -> dict[str, Any]:
        """The endpoint's counters: requests per path and status, rejections, accepted and stored events."""
        return self._call("GET", "/_harness/stats")

    def faults(self, **settings: Any) -> dict[str, Any]:
        """Change the named fault settings (``error_rate=0.5``, ``drop_rate=1``, ``latency_ms=200``: README,
        Fault injection) and return them all; without settings, only return them."""
        if not settings:
            return self._call("GET", "/_harness/faults")
        return self._call("POST", "/_harness/faults", orjson.dumps(settings))

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault off."""
        return self._call("DELETE", "/_harness/faults")

    def _call(self, method: str, target: str, body: bytes = b"") -> dict[str, Any]:
        """One inspection request's JSON object; anything else is an :class:`EndpointError` that says why."""
        try:
            if method == "GET":
                status, document = self._client.get_json(target)
            else:
                headers = {**self._client.inspect_headers, "Content-Type": "application/json"}
                reply = self._client.send(WireRequest(method, target, headers, body))
                status, document = reply.status, _json(reply.body)
        except NoAnswerError as error:
            raise EndpointError(f"{self.url}: {error}") from None
        refused = inspection_refused(status, document, bool(self.inspect_token), token_option=TOKEN_OPTION)
        if refused:
            raise EndpointError(f"{self.url}: {refused}")
        if status != 200 or not isinstance(document, dict):
            said = excerpt(orjson.dumps(document)) if document is not None else "a body that is not JSON"
            raise EndpointError(f"{method} {target} at {self.url} answered {status} with {said}: is it "
                                "capture-harness serve?")
        return document


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


@contextmanager
def start_endpoint(*, args: Sequence[str] = (), db: Path | None = None, inspect_token: str | None = None,
                   start_timeout: float = 30.0) -> Iterator[CaptureEndpoint]:
    """Start ``capture-harness serve`` on a free 127.0.0.1 port with a temporary store (or ``db``) and extra
    ``args`` (``["--flags", "flags.json"]``), and yield its :class:`CaptureEndpoint` (``url`` is what to point
    the SDK at); the server is stopped and the temporary store removed on exit.  Its inspection API gets
    ``inspect_token``, or a fresh one (kept as ``endpoint.inspect_token``)."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="capture-harness-endpoint-")))
        server = stack.enter_context(ServeProcess(
            db=db if db is not None else folder / "events.sqlite3", args=args, log=folder / "serve.log",
            start_timeout=start_timeout, inspect_token=inspect_token or new_token()))
        yield stack.enter_context(CaptureEndpoint(server.url, server.inspect_token))
