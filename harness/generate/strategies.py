"""Hypothesis strategies for capture payloads: valid realistic, valid edge cases, and labelled invalid ones.

Each strategy drives the traffic model (:mod:`harness.generate.model`, :mod:`harness.generate.traffic`) with
:class:`~harness.generate.choices.DrawnChoices`, so every decision is a Hypothesis draw and a failing payload
shrinks to a minimal one.  Use them in your own tests::

    from hypothesis import given
    from harness.generate.strategies import batches

    @given(batches(max_size=20))
    def test_my_endpoint_accepts(body): ...

For bulk corpora use :mod:`harness.generate.seeded` instead: the same model, without the engine's cost.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.generate import mutations
from harness.generate.choices import DrawnChoices
from harness.generate.traffic import BODY_KINDS, Traffic
from harness.spec.body import DEFAULT_TOKEN, events_of


def _traffic(draw: Any, token: str) -> Traffic:
    # a small population: shrinking works on few people, and sessions still repeat
    return Traffic(DrawnChoices(draw), token=token, population=3)


def _check_size(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or value < low:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}; try {name}={max(low, 1)}")


def _check_kind(kind: str) -> None:
    if kind not in BODY_KINDS:
        raise InvalidArgument(f"kind={kind!r} is not a payload kind; use one of {', '.join(BODY_KINDS)}")


def payloads(kind: str = "mixed", *, batch_size: int = 5, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[Any]:
    """A valid, realistic request body of ``kind`` (``capture``, ``batch``, ``identify``, ``alias``,
    ``groupidentify`` or ``mixed``), as an official SDK sends it."""
    _check_kind(kind)
    _check_size("batch_size", batch_size, 1)
    return _bodies(kind, batch_size, token)


@st.composite
def _bodies(draw: Any, kind: str, batch_size: int, token: str) -> Any:
    return _traffic(draw, token).body(kind, batch_size)


def capture_bodies(*, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[dict[str, Any]]:
    """Single-event bodies for ``/i/v0/e/``."""
    return payloads("capture", token=token)


def batches(min_size: int = 1, max_size: int = 20, *, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[Any]:
    """Batch bodies (a posthog-python/posthog-node object, or a posthog-js array) of one sender's events,
    ``min_size`` to ``max_size`` of them (positional too, like ``st.integers``: ``batches(1, 40)``)."""
    _check_size("min_size", min_size, 1)
    _check_size("max_size", max_size, min_size)
    return st.integers(min_size, max_size).flatmap(lambda size: _bodies("batch", size, token))


def identify_bodies(*, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[dict[str, Any]]:
    """``$identify`` bodies merging an anonymous visitor into a known user."""
    return payloads("identify", token=token)


def alias_bodies(*, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[dict[str, Any]]:
    """``$create_alias`` bodies."""
    return payloads("alias", token=token)


def groupidentify_bodies(*, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[dict[str, Any]]:
    """``$groupidentify`` bodies."""
    return payloads("groupidentify", token=token)


@st.composite
def events(draw: Any, *, token: str = DEFAULT_TOKEN) -> dict[str, Any]:
    """One event in the shape its SDK sends it (the token inside only for posthog-js)."""
    traffic = _traffic(draw, token)
    event: dict[str, Any] = events_of(traffic.batch(1))[0]
    return event


def edge_cases(kind: str = "mixed", *, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[Any]:
    """A body capture accepts that is awkward on purpose: odd unicode, NUL, huge values, every id, uuid,
    timestamp and token form, ``$performance_event`` entries (see :data:`harness.generate.mutations.EDGES`)."""
    _check_kind(kind)
    return _edge_cases(kind, token)


@st.composite
def _edge_cases(draw: Any, kind: str, token: str) -> Any:
    traffic = _traffic(draw, token)
    return mutations.edge_case(traffic.c, traffic, kind)


def invalid_payloads(rule: str | None = None, *, token: str = DEFAULT_TOKEN) -> st.SearchStrategy[tuple[str, int, Any]]:
    """``(rule, status, body)``: a body that breaks exactly ``rule`` (any generated rule when None) and
    the status capture answers it."""
    if rule is not None and rule not in mutations.BREAKERS:
        raise InvalidArgument(f"rule={rule!r} cannot be generated; use one of {', '.join(mutations.GENERATED_RULES)}")
    names = st.just(rule) if rule else st.sampled_from(mutations.GENERATED_RULES)
    return names.flatmap(lambda name: _invalid(name, token))


@st.composite
def _invalid(draw: Any, name: str, token: str) -> tuple[str, int, Any]:
    traffic = _traffic(draw, token)
    body, status = mutations.invalid(traffic.c, traffic, name)
    return name, status, body
