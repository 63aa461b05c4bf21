"""Request bodies of every payload kind, composed from the traffic model by one stateful generator.

:class:`Traffic` keeps a population of people with sessions and a simulated clock, and turns the model's
events into the bodies SDKs post: single events, batches, ``$identify``, ``$create_alias``,
``$groupidentify``, and a realistic ``mixed`` blend.  Hypothesis strategies and the bulk generator both
drive it; only the :class:`~harness.generate.choices.Choices` behind it differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.generate import model
from harness.generate.choices import Choices, weighted
from harness.spec.body import DEFAULT_TOKEN

BODY_KINDS: tuple[str, ...] = ("capture", "batch", "identify", "alias", "groupidentify", "mixed")

MIXED_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("browser", 45), ("server-batch", 30), ("capture", 12), ("identify", 6), ("alias", 3),
    ("groupidentify", 4),
)
"""How ``mixed`` traffic is made up, in percent of request bodies: posthog-js arrays of a session's
events (with logins in them), server SDK batches, single events to ``/i/v0/e/``, and the person and
group calls.  Roughly the blend a product with a web app and a backend sends."""


class Traffic:
    """Generates request bodies; every decision goes through ``choices``."""

    def __init__(self, choices: Choices, token: str = DEFAULT_TOKEN, population: int = 500) -> None:
        if population < 1:
            raise ValueError(f"population must be at least 1, got {population!r}")
        self.c = choices
        self.token = token
        self.clock = model.Clock()
        self.population = population
        self.people: list[model.Person] = []
        self.people_by_library: dict[str, list[model.Person]] = {}

    # --- people ---------------------------------------------------------------------------------------

    def someone(self, library: str | None = None) -> model.Person:
        """An existing person (who may start a new session) or, while the population grows, a new one."""
        c = self.c
        candidates = self.people if library is None else self.people_by_library.setdefault(library, [])
        if len(self.people) < self.population and (not candidates or c.chance(0.2)):
            who = model.person(c, self.clock, library)
            self.people.append(who)
            self.people_by_library.setdefault(who.library, []).append(who)
            model.start_session(c, who, self.clock)
            return who
        if not candidates:  # the population is full of other libraries: this one still gets a person
            who = model.person(c, self.clock, library)
            candidates.append(who)
            model.start_session(c, who, self.clock)
            return who
        who = c.pick(candidates)
        if c.chance(0.05):
            model.start_session(c, who, self.clock)
        return who

    # --- bodies of each kind --------------------------------------------------------------------------

    def capture(self) -> dict[str, Any]:
        """A single event for ``/i/v0/e/`` (posthog-js style with the token in properties, or ``api_key``)."""
        who = self.someone()
        return model.single_body(model.activity(self.c, who, self.clock, self.token), self.token)

    def batch(self, size: int) -> Any:
        """``size`` events of one sender in the body its SDK posts (an array for posthog-js)."""
        who = self.someone()
        events = [model.activity(self.c, who, self.clock, self.token) for _ in range(size)]
        body: dict[str, Any] = model.batch_body(self.c, who, self.clock, events, self.token)  # a server SDK's
        return body

    def identify(self) -> dict[str, Any]:
        """``$identify`` as posthog-js or posthog-node sends it: a person logging in from a new device,
        whose fresh anonymous id is merged into their user id."""
        who = self.someone(self.c.pick(("web", "posthog-node")))
        who.anon_id = model.uuid7(self.c, self.clock.ms)
        who.identified = False
        return model.single_body(model.identify(self.c, who, self.clock, self.token), self.token)

    def alias(self) -> dict[str, Any]:
        who = self.someone()
        return model.single_body(model.alias(self.c, who, self.clock, self.token), self.token)

    def groupidentify(self) -> dict[str, Any]:
        who = self.someone()
        return model.single_body(model.groupidentify(self.c, who, self.clock, self.token), self.token)

    def browser_flush(self) -> list[dict[str, Any]]:
        """What posthog-js flushes: a few events of one session, with the login when it happens."""
        c = self.c
        who = self.someone("web")
        events = []
        for _ in range(c.integer(1, 10)):
            if not who.identified and c.chance(0.08):
                events.append(model.identify(c, who, self.clock, self.token))
            else:
                events.append(model.activity(c, who, self.clock, self.token))
        return events

    def server_batch(self, size: int, library: str | None = None) -> dict[str, Any]:
        """A posthog-python or posthog-node batch body of ``size`` events of one backend user."""
        who = self.someone(library or self.c.pick(("posthog-python", "posthog-node")))
        events = [model.activity(self.c, who, self.clock, self.token) for _ in range(size)]
        body: dict[str, Any] = model.batch_body(self.c, who, self.clock, events, self.token)  # a server SDK's
        return body

    def browser_single(self) -> dict[str, Any]:
        """One posthog-js event on its own (what older posthog-js posted as a form ``data=``)."""
        who = self.someone("web")
        return model.activity(self.c, who, self.clock, self.token)

    def browser_request(self) -> dict[str, Any]:
        """What posthog-js 1.449 posts to ``/e/``: ``{api_key, batch, sent_at}`` around a flush of a session's
        events (older posthog-js posted the bare array, :meth:`browser_flush`)."""
        return self._web_body(self.browser_flush())

    def browser_unload(self) -> dict[str, Any]:
        """What posthog-js 1.449 sends by ``sendBeacon`` when the page unloads: the same body around its
        ``$pageleave``."""
        who = self.someone("web")
        return self._web_body([model.pageleave(self.c, who, self.clock, self.token)])

    def _web_body(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        sent_at = model.iso_ms_z(self.clock.ms + self.c.integer(5, 400))
        return {"api_key": self.token, "batch": events, "sent_at": sent_at}

    def mixed(self, batch_size: int) -> Any:
        """One body of the ``mixed`` blend (see :data:`MIXED_WEIGHTS`)."""
        makers: dict[str, Callable[[], Any]] = {
            "browser": self.browser_flush, "server-batch": lambda: self.server_batch(batch_size),
            "capture": self.capture, "identify": self.identify, "alias": self.alias,
            "groupidentify": self.groupidentify,
        }
        return makers[weighted(self.c, MIXED_WEIGHTS)]()

    def body(self, kind: str, batch_size: int = 50) -> Any:
        """A body of ``kind`` (one of :data:`BODY_KINDS`)."""
        if kind == "batch":
            return self.batch(batch_size)
        if kind == "mixed":
            return self.mixed(batch_size)
        if kind not in BODY_KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(BODY_KINDS)}")
        maker: Callable[[], Any] = getattr(self, kind)
        return maker()

