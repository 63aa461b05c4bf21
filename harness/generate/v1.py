"""v1 requests (``POST /i/v1/analytics/events``, capture-v1.md §6) from the same traffic model as v0.

:class:`V1Traffic` takes the events :mod:`harness.generate.model` makes for a posthog-python or
posthog-node user and applies what those SDKs do in v1 mode (posthog 7.91.1, posthog-node 5.70.0):
``$lib`` / ``$lib_version`` stripped from properties, top-level ``$set`` / ``$set_once`` moved into them
(Python merges, the properties value winning), ``$session_id`` moved to ``session_id``, the person and
skew sentinels moved into ``options`` (always sent, ``{}`` when empty), a required uuid (uuid4 for Python,
UUIDv7 for Node), UTC timestamps; the envelope ``{created_at, batch}``; and the headers each sends.  A
request is ``{"headers": {...}, "body": {...}}``, the body as JSON before any compression
(``Content-Encoding`` says how the SDK compresses it on the wire: Node gzips by default, Python does not).
"""

from __future__ import annotations

from typing import Any

from harness.generate import model
from harness.generate.choices import Choices
from harness.generate.traffic import Traffic
from harness.spec.body import DEFAULT_TOKEN

SDKS: dict[str, tuple[str, str]] = {"python": ("posthog-python", "7.91.1"), "node": ("posthog-node", "5.70.0")}
"""The v1-capable SDKs and the versions recorded in capture-v1.md (REC)."""

OPTION_SENTINELS = (("$process_person_profile", "process_person_profile"), ("$cookieless_mode", "cookieless_mode"),
                    ("$ignore_sent_at", "disable_skew_correction"), ("$product_tour_id", "product_tour_id"))
"""Properties both SDKs move into ``options`` (PY ``_OPTION_SENTINELS``, JS ``OPTION_SENTINELS``)."""


class V1Traffic:
    """Seeded v1 requests; every decision goes through ``choices`` (the same model as :class:`Traffic`)."""

    def __init__(self, choices: Choices, token: str = DEFAULT_TOKEN, sdk: str | None = None,
                 traffic: Traffic | None = None) -> None:
        """``traffic``: the model state (people, clock) to draw from, when the caller shares one with other
        steps, as the load corpus does (its steps all take one :class:`Traffic`); a new one by default."""
        if sdk is not None and sdk not in SDKS:
            raise ValueError(f"unknown sdk {sdk!r}; choose one of: {', '.join(SDKS)}")
        self.c = choices
        self.token = token
        self.sdk = sdk
        self.traffic = traffic if traffic is not None else Traffic(choices, token=token)

    def request(self, size: int) -> dict[str, Any]:
        """One request of ``size`` events of one backend user, as that user's SDK sends it."""
        c, t = self.c, self.traffic
        sdk = self.sdk or c.pick(tuple(SDKS))
        who = t.someone(SDKS[sdk][0])
        raw = [self._event(who) for _ in range(size)]
        events = [to_v1_event(sdk, event) for event in raw]
        sent = t.clock.ms + c.integer(5, 400)
        created_at = model.iso_python(sent, c.integer(0, 999)) if sdk == "python" else model.iso_ms_z(sent)
        body: dict[str, Any] = {"created_at": created_at, "batch": events}
        if sdk == "python" and c.chance(0.02):
            body["historical_migration"] = True  # sent only when true
        return {"headers": self._headers(sdk, created_at), "body": body}

    def _event(self, who: model.Person) -> dict[str, Any]:
        c, t = self.c, self.traffic
        roll = c.integer(1, 100)
        if roll <= 4:
            return model.identify(c, who, t.clock, self.token)
        if roll <= 6:
            return model.groupidentify(c, who, t.clock, self.token)
        event = model.activity(c, who, t.clock, self.token)
        if c.chance(0.15):
            event["properties"]["$session_id"] = who.session_id
        if c.chance(0.08):
            event["properties"]["$process_person_profile"] = False
        return event

    def _headers(self, sdk: str, created_at: str) -> dict[str, str]:
        c = self.c
        name, version = SDKS[sdk]
        request_id = model.uuid4(c) if sdk == "python" else model.uuid7(c, self.traffic.clock.ms)
        headers = {"Content-Type": "application/json", "User-Agent": f"{name}/{version}",
                   "PostHog-Sdk-Info": f"{name}/{version}", "Authorization": f"Bearer {self.token}",
                   "PostHog-Attempt": "1", "PostHog-Request-Id": request_id,
                   "PostHog-Request-Timestamp": created_at}
        encoding = c.pick(("gzip", "gzip", "gzip", "gzip", None)) if sdk == "node" else \
            c.pick((None,) * 17 + ("gzip", "gzip", "deflate"))
        if encoding:
            headers["Content-Encoding"] = encoding
        return headers


def to_v1_event(sdk: str, event: dict[str, Any]) -> dict[str, Any]:
    """A v0-shaped server SDK event as the same SDK sends it in v1 mode (capture-v1.md §6 table)."""
    properties = {k: v for k, v in event.get("properties", {}).items() if k not in ("$lib", "$lib_version")}
    for key in ("$set", "$set_once"):
        if key in event:
            inner = properties.get(key)
            properties[key] = {**event[key], **inner} if sdk == "python" and isinstance(inner, dict) else \
                (inner if inner is not None else event[key])
    options: dict[str, Any] = {}
    for sentinel, option in OPTION_SENTINELS:
        if sentinel in properties:
            options[option] = properties.pop(sentinel)
    session = properties.pop("$session_id", None)
    out: dict[str, Any] = {"event": event["event"], "uuid": event["uuid"], "distinct_id": str(event["distinct_id"]),
                           "timestamp": event["timestamp"]}
    if isinstance(session, str) and session:
        out["session_id"] = session
    out["options"] = options
    out["properties"] = properties
    return out
