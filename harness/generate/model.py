"""What realistic capture traffic looks like: vocabularies, people, sessions, and the bodies SDKs send.

Every builder takes a :class:`harness.generate.choices.Choices` and returns plain JSON data in the exact shape an
official SDK puts on the wire (capture-contract.md §11 and §13):

- posthog-js (``web``): the token and distinct id inside ``properties``; arrays of events to ``/e/``;
  ``$identify`` with ``$anon_distinct_id`` and ``$set`` both at the top level and in properties;
- posthog-python: top-level ``distinct_id``; ``set()`` as a ``$set`` event with a top-level ``$set``;
  batches ``{batch, historical_migration: false, sent_at, api_key}``; uuid4; ``+00:00`` timestamps with
  microseconds (dropped when zero);
- posthog-node: ``$identify`` with ``properties.$set`` / ``$set_once``; batches
  ``{api_key, batch, sent_at}``; UUIDv7; ``Z`` timestamps with milliseconds.

The same functions serve Hypothesis strategies and the fast bulk generator, so the vocabularies exist
once.  Time is simulated from a fixed start, never read from the clock, so a seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.generate import ids
from harness.generate.choices import Choices, weighted

START_MS = 1_767_603_600_000
"""2026-01-05T09:00:00Z: the simulated clock starts here, so output does not depend on today's date."""

# --- vocabularies -------------------------------------------------------------------------------------

LIBRARIES: dict[str, tuple[str, ...]] = {
    "web": ("1.78.5", "1.160.3", "1.235.1", "1.262.0"),
    "posthog-python": ("3.7.4", "6.7.6", "7.91.1"),
    "posthog-node": ("4.0.0", "4.18.0", "5.70.0"),
}
BROWSERS = (("Chrome", 131), ("Chrome", 137), ("Safari", 18), ("Firefox", 139), ("Microsoft Edge", 136),
            ("Mobile Safari", 18), ("Chrome iOS", 137), ("Samsung Internet", 27))
DESKTOP_OS = (("Mac OS X", "15.4.1"), ("Windows", "10.0"), ("Linux", ""), ("Chrome OS", "16181.61.0"))
MOBILE_OS = (("iOS", "18.5"), ("Android", "15"))
SCREENS = ((1920, 1080), (1440, 900), (2560, 1440), (1366, 768), (390, 844), (412, 915), (820, 1180))
HOSTS = ("app.example.com", "www.example.com", "shop.example.org", "docs.example.dev")
PATHS = ("/", "/pricing", "/signup", "/login", "/dashboard", "/settings/billing", "/blog/launch-week",
         "/products/42", "/cart", "/checkout", "/search", "/docs/getting-started", "/team/invite")
REFERRERS = ("$direct", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/",
             "https://www.bing.com/", "https://duckduckgo.com/")
UTM_SOURCES = ("newsletter", "twitter", "google", "producthunt", "partner")
CUSTOM_EVENTS = ("signed_up", "plan_upgraded", "file_uploaded", "checkout_started", "order_completed",
                 "search_performed", "invite_sent", "report_exported", "feature_enabled", "api_key_created")
AUTOCAPTURE_TAGS = ("button", "a", "input", "span", "div", "svg")
BUTTON_TEXTS = ("Sign up", "Log in", "Buy now", "Save", "Continue", "Export", "Invite teammates", "Next")
FIRST_NAMES = ("Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Radia", "Yukihiro", "Sofía",
               "Zoë", "Bjørn", "Chidi", "Mei", "Priya", "Omar")
EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example")
PLANS = ("free", "starter", "growth", "enterprise")
GROUP_TYPES = ("company", "organization", "team", "project")
COMPANY_NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises")
SERVER_PLATFORMS = (("CPython", "3.11.7", "Linux", "6.1.0"), ("CPython", "3.12.4", "Linux", "6.8.0"),
                    ("CPython", "3.13.1", "Mac OS X", "15.1"))
NODE_VERSIONS = ("v20.20.2", "v22.11.0", "v18.20.4")
EXCEPTION_TYPES = (("ValueError", "invalid literal for int() with base 10: 'abc'"),
                   ("KeyError", "'user_id'"), ("TimeoutError", "timed out after 30s"),
                   ("TypeError", "Cannot read properties of undefined (reading 'map')"))

SDK_LIBRARIES = tuple(LIBRARIES)

# --- ids and times ------------------------------------------------------------------------------------

def uuid4(c: Choices) -> str:
    """A random version-4 uuid in hyphenated form (posthog-python)."""
    return ids.uuid4_text(c.bits(128))


def uuid7(c: Choices, ms: int) -> str:
    """A version-7 uuid whose first 48 bits are the event time in ms (posthog-node, posthog-js)."""
    return ids.uuid7_text(ms, c.bits(74))


_EPOCH_DAY = dt.date(1970, 1, 1)
_DAY_US = 86_400_000_000
_dates: dict[int, str] = {}
"""``YYYY-MM-DD`` of each day since 1970 seen so far: the times below are formatted by arithmetic around it,
the same text ``datetime.isoformat`` gives at a fraction of its cost (a few dates per run; bounded)."""


def _clock(us: int) -> tuple[str, int]:
    """``YYYY-MM-DDTHH:MM:SS`` of ``us`` microseconds since the epoch (UTC), and its microseconds."""
    day, rest = divmod(us, _DAY_US)
    date = _dates.get(day)
    if date is None:
        if len(_dates) >= 4096:
            _dates.clear()
        date = _dates[day] = (_EPOCH_DAY + dt.timedelta(days=day)).isoformat()
    seconds, fraction = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{date}T{hour:02d}:{minute:02d}:{second:02d}", fraction


def iso_ms_z(ms: int) -> str:
    """``2026-01-05T09:00:00.123Z``: how posthog-js and posthog-node write times."""
    clock, fraction = _clock(ms * 1000)
    return f"{clock}.{fraction // 1000:03d}Z"


def iso_python(ms: int, micros: int = 0) -> str:
    """``2026-01-05T09:00:00.123456+00:00``, the fraction dropped when zero, as posthog-python writes."""
    clock, fraction = _clock(ms * 1000 + micros)
    return f"{clock}.{fraction:06d}+00:00" if fraction else f"{clock}+00:00"


# --- people and sessions ------------------------------------------------------------------------------


@dataclass
class Clock:
    """Simulated time: advances by realistic gaps so timestamps, uuid7s and sent_at stay ordered."""

    ms: int = START_MS

    def tick(self, c: Choices, low_ms: int = 200, high_ms: int = 45_000) -> int:
        self.ms += c.integer(low_ms, high_ms)
        return self.ms


@dataclass
class Person:
    """One human (or server-side user) and the device and SDK they send from."""

    anon_id: str
    user_id: str
    email: str
    name: str
    plan: str
    library: str
    lib_version: str
    device: dict[str, Any]
    identified: bool = False
    session_id: str = ""
    window_id: str = ""
    url: str = ""
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def distinct_id(self) -> str:
        return self.user_id if self.identified else self.anon_id


def person(c: Choices, clock: Clock, library: str | None = None) -> Person:
    """A new visitor: anonymous until identified, with a device profile fixed for their whole life."""
    library = library or c.pick(SDK_LIBRARIES)
    first = c.pick(FIRST_NAMES)
    number = c.integer(1, 9_999_999)
    user_id = f"user_{number}" if c.chance(0.7) else f"{first.lower()}.{number}@{c.pick(EMAIL_DOMAINS)}"
    anon_id = uuid7(c, clock.ms) if library == "web" else user_id
    new = Person(
        anon_id=anon_id, user_id=user_id, email=f"{first.lower()}{number}@{c.pick(EMAIL_DOMAINS)}",
        name=f"{first} {c.pick(COMPANY_NAMES).split()[0]}", plan=c.pick(PLANS), library=library,
        lib_version=c.pick(LIBRARIES[library]), device=_device(c, library, anon_id),
        identified=library != "web",
    )
    if c.chance(0.5):
        new.groups = {"company": c.pick(COMPANY_NAMES).lower().replace(" ", "-")}
    return new


def _device(c: Choices, library: str, anon_id: str) -> dict[str, Any]:
    if library == "web":
        mobile = c.chance(0.35)
        browser, version = c.pick(BROWSERS)
        os_name, os_version = c.pick(MOBILE_OS if mobile else DESKTOP_OS)
        width, height = c.pick(SCREENS)
        return {
            "$os": os_name, "$os_version": os_version, "$browser": browser, "$browser_version": version,
            "$device_type": "Mobile" if mobile else "Desktop", "$screen_height": height,
            "$screen_width": width, "$viewport_height": height - c.integer(60, 200), "$viewport_width": width,
            "$browser_language": c.pick(("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "ar-EG", "pt-BR")),
            "$device_id": anon_id, "$timezone": c.pick(("Europe/Berlin", "America/New_York", "Asia/Tokyo")),
        }
    if library == "posthog-python":
        runtime, python_version, os_name, os_version = c.pick(SERVER_PLATFORMS)
        return {"$python_runtime": runtime, "$python_version": python_version, "$os": os_name,
                "$os_version": os_version}
    return {"$node_version": c.pick(NODE_VERSIONS)}


def start_session(c: Choices, who: Person, clock: Clock) -> None:
    """A new browsing session: new session and window ids, a landing page."""
    who.session_id = uuid7(c, clock.ms)
    who.window_id = uuid7(c, clock.ms)
    who.url = f"https://{c.pick(HOSTS)}{c.pick(PATHS)}"


# --- events -------------------------------------------------------------------------------------------


def event(c: Choices, who: Person, clock: Clock, name: str, properties: dict[str, Any],
          token: str) -> dict[str, Any]:
    """One event in the shape ``who``'s SDK sends it, stamped at the next tick of ``clock``."""
    ms = clock.tick(c)
    lib = {"$lib": who.library, "$lib_version": who.lib_version}
    if who.library == "web":
        host, _, path = who.url.partition("//")[2].partition("/")  # https://host/path
        props = {
            **lib, **who.device, "$current_url": who.url, "$host": host,
            "$pathname": "/" + path, "$session_id": who.session_id,
            "$window_id": who.window_id, "$referrer": "$direct", "$time": ms / 1000,
            "$is_identified": who.identified, "distinct_id": who.distinct_id, "token": token, **properties,
        }
        if who.groups:
            props["$groups"] = who.groups
        return {"uuid": uuid7(c, ms), "event": name, "properties": props, "timestamp": iso_ms_z(ms)}
    server = {**lib, "$geoip_disable": True, "$is_server": True, **who.device, **properties}
    if who.groups:
        server["$groups"] = who.groups
    if who.library == "posthog-python":
        return {"event": name, "distinct_id": who.distinct_id, "properties": server,
                "timestamp": iso_python(ms, c.integer(0, 999)), "uuid": uuid4(c)}
    return {"distinct_id": who.distinct_id, "event": name, "properties": server,
            "timestamp": iso_ms_z(ms), "uuid": uuid7(c, ms)}


def pageview(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    if c.chance(0.6):
        who.url = f"https://{who.url.split('/')[2]}{c.pick(PATHS)}"
    extra: dict[str, Any] = {"title": c.pick(BUTTON_TEXTS) + " | Example"}
    if c.chance(0.15):
        extra["utm_source"] = c.pick(UTM_SOURCES)
        extra["$referrer"] = c.pick(REFERRERS)
    return event(c, who, clock, "$pageview", extra, token)


def pageleave(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    return event(c, who, clock, "$pageleave", {"$prev_pageview_duration": c.integer(1, 600)}, token)


def autocapture(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    tag = c.pick(AUTOCAPTURE_TAGS)
    text = c.pick(BUTTON_TEXTS)
    return event(c, who, clock, "$autocapture", {
        "$event_type": c.pick(("click", "submit", "change")),
        "$elements_chain": f'{tag}.btn.btn-primary:text="{text}"nth-child="{c.integer(1, 9)}"',
        "$el_text": text,
    }, token)


def custom(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    props: dict[str, Any] = {"plan": who.plan, "source": c.pick(("web", "api", "import"))}
    if c.chance(0.5):
        props["amount_cents"] = c.integer(100, 250_000)
    if c.chance(0.3):
        props["items"] = [{"sku": f"SKU-{c.integer(1, 999)}", "qty": c.integer(1, 5)}]
    return event(c, who, clock, c.pick(CUSTOM_EVENTS), props, token)


def exception(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    kind, message = c.pick(EXCEPTION_TYPES)
    return event(c, who, clock, "$exception", {
        "$exception_list": [{"type": kind, "value": message, "mechanism": {"handled": c.chance(0.5)}}],
        "$exception_level": c.pick(("error", "warning")),
    }, token)


def _person_set(c: Choices, who: Person) -> dict[str, Any]:
    return {"email": who.email, "name": who.name, "plan": who.plan}


def identify(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    """The login moment: ``$identify`` merging the anonymous id, with person properties, per SDK."""
    anon = who.anon_id
    who.identified = True
    person_set = _person_set(c, who)
    once = {"first_seen_plan": who.plan}
    if who.library == "web":
        body = event(c, who, clock, "$identify", {"$anon_distinct_id": anon, "$set": person_set,
                                                  "$set_once": once}, token)
        body["$set"], body["$set_once"] = person_set, once
        return body
    if who.library == "posthog-node":
        return event(c, who, clock, "$identify", {"$anon_distinct_id": anon, "$set": person_set,
                                                  "$set_once": {}}, token)
    # posthog-python 7 has no identify(): set() sends a `$set` event with a top-level `$set`
    body = event(c, who, clock, "$set", {}, token)
    body["$set"] = person_set
    return body


def alias(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    """``$create_alias``: ``distinct_id`` is the old id, ``properties.alias`` the new one (§13.9)."""
    old = who.distinct_id
    new_id = f"{who.user_id}-{c.pick(('crm', 'billing', 'legacy'))}"
    body = event(c, who, clock, "$create_alias", {"distinct_id": old, "alias": new_id}, token)
    if who.library != "web":
        body["distinct_id"] = old
    return body


def groupidentify(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    group_type = c.pick(GROUP_TYPES)
    company = c.pick(COMPANY_NAMES)
    key = company.lower().replace(" ", "-")
    body = event(c, who, clock, "$groupidentify", {
        "$group_type": group_type, "$group_key": key,
        "$group_set": {"name": company, "plan": c.pick(PLANS), "employees": c.integer(1, 50_000)},
    }, token)
    if who.library == "posthog-node":
        body["distinct_id"] = f"${group_type}_{key}"
    elif who.library == "posthog-python":
        body["distinct_id"] = uuid4(c)
    return body


EventBuilder = Callable[[Choices, Person, Clock, str], dict[str, Any]]

BROWSING: tuple[tuple[EventBuilder, int], ...] = (
    (pageview, 45), (autocapture, 25), (pageleave, 15), (custom, 12), (exception, 3),
)
"""What a visitor's session is made of, with weights in percent."""

SERVER: tuple[tuple[EventBuilder, int], ...] = ((custom, 85), (exception, 5), (pageview, 10))
"""Backend traffic: mostly custom events, some server-side pageviews and errors."""


def activity(c: Choices, who: Person, clock: Clock, token: str) -> dict[str, Any]:
    """The next ordinary event of ``who``: a browsing step for web visitors, backend events otherwise."""
    return weighted(c, BROWSING if who.library == "web" else SERVER)(c, who, clock, token)


# --- request bodies -----------------------------------------------------------------------------------


def batch_body(c: Choices, who: Person, clock: Clock, events: list[dict[str, Any]],
               token: str) -> Any:
    """The request body ``who``'s SDK posts for ``events`` (§13.4 and §11)."""
    if who.library == "web":
        return events
    sent_at = iso_python(clock.ms + c.integer(5, 400), 0) if who.library == "posthog-python" \
        else iso_ms_z(clock.ms + c.integer(5, 400))
    if who.library == "posthog-python":
        return {"batch": events, "historical_migration": False, "sent_at": sent_at, "api_key": token}
    return {"api_key": token, "batch": events, "sent_at": sent_at}


def single_body(event_data: dict[str, Any], token: str) -> dict[str, Any]:
    """A single-event body for ``/i/v0/e/``: the token stays in properties for posthog-js, else ``api_key``."""
    if "token" in event_data.get("properties", {}):
        return event_data
    return {"api_key": token, **event_data}
