"""Locust event listeners registered without losing their types.

Locust leaves ``EventHook.add_listener`` unannotated, so a listener it decorates directly loses its own
annotations under strict mypy (``untyped-decorator``).  :func:`listener` registers the function and hands
it back unchanged, typed.  It reaches the hook through its one method, so this module imports no Locust:
:mod:`harness.load.user` and :mod:`harness.load.openmodel` stay the only modules that do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

_Listener = TypeVar("_Listener", bound=Callable[..., None])


class _Hook(Protocol):
    """What a Locust ``EventHook`` offers to a listener."""

    def add_listener(self, handler: Callable[..., Any]) -> object: ...


def listener(hook: _Hook) -> Callable[[_Listener], _Listener]:
    """``@listener(events.init)``: register the decorated function on ``hook``."""

    def register(function: _Listener) -> _Listener:
        hook.add_listener(function)
        return function

    return register
