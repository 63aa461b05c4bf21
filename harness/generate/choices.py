"""One interface for every random decision the traffic model makes, with two drivers.

The model (:mod:`harness.generate.model`) never calls ``random`` or Hypothesis itself: it asks a :class:`Choices`.
Hypothesis strategies drive it with :class:`DrawnChoices`, so every decision is a draw that shrinks;
bulk generation drives it with :class:`SeededChoices`, a plain seeded ``random.Random`` that costs well
under a microsecond a decision (Hypothesis' engine costs milliseconds an example).  One model, one copy of
the vocabularies, two speeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from hypothesis import strategies as st

T = TypeVar("T")


class Choices(Protocol):
    """The decisions the model can ask for."""

    def pick(self, options: Sequence[T]) -> T:
        """One of ``options`` (non-empty); Hypothesis shrinks towards the first."""

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""

    def chance(self, probability: float) -> bool:
        """True with roughly ``probability``."""

    def bits(self, count: int) -> int:
        """A non-negative integer of ``count`` random bits."""

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        """A string of characters from ``alphabet``."""


def weighted(c: Choices, table: Sequence[tuple[T, int]]) -> T:
    """One of ``table``'s items, each as likely as its integer weight."""
    roll = c.integer(1, _total(table))
    for item, weight in table:
        roll -= weight
        if roll <= 0:
            return item
    raise AssertionError("the weights cover every roll")


_TOTALS: dict[int, tuple[Sequence[tuple[Any, int]], int]] = {}
"""Sum of the weights of each table :func:`weighted` has seen, by identity: the model's tables are module
constants and the generator draws from them millions of times (summing them was 8% of its time)."""
_MOST_TABLES = 256


def _total(table: Sequence[tuple[Any, int]]) -> int:
    known = _TOTALS.get(id(table))
    if known is not None and known[0] is table:
        return known[1]
    total = sum(weight for _, weight in table)
    if isinstance(table, tuple):  # a list could change its weights: summed every time
        if len(_TOTALS) >= _MOST_TABLES:  # tables made on the fly: the cache stays bounded
            _TOTALS.clear()
        _TOTALS[id(table)] = (table, total)  # the table is kept, so its id is not reused while it is cached
    return total


class SeededChoices:
    """Fast, reproducible decisions from ``random.Random(seed)``: the same seed, the same corpus."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        # bound methods cached once: the generator loop calls these millions of times, and
        # random() arithmetic is several times cheaper than randint()/choice()
        self._random = self._rng.random
        self.bits: Callable[[int], int] = self._rng.getrandbits

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self._random() * len(options))]

    def integer(self, low: int, high: int) -> int:
        return low + int(self._random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self._random() < probability

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        return "".join(self._rng.choices(alphabet, k=self.integer(min_size, max_size)))


class _Draw(Protocol):
    """Hypothesis's ``draw``: a value of the strategy's own type."""

    def __call__(self, strategy: st.SearchStrategy[T], /) -> T: ...


class DrawnChoices:
    """Decisions drawn from a Hypothesis ``draw`` (inside ``@st.composite``), so failures shrink.

    Hypothesis is imported here, not at module level: the seeded driver (``generate``, corpora, the
    contract suite's bodies) must not pay for it."""

    def __init__(self, draw: _Draw) -> None:
        from hypothesis import strategies

        self._draw = draw
        self._st = strategies

    def pick(self, options: Sequence[T]) -> T:
        return self._draw(self._st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self._draw(self._st.integers(low, high))

    def chance(self, probability: float) -> bool:
        # shrinks towards True when probability > 0, i.e. towards the model's usual path
        return self._draw(self._st.integers(0, 999)) < probability * 1000

    def bits(self, count: int) -> int:
        return self._draw(self._st.integers(0, (1 << count) - 1))

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        return self._draw(self._st.text(alphabet=alphabet, min_size=min_size, max_size=max_size))
