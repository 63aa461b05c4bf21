"""Every option of every command from the environment: ``--max-p95`` is ``CAPTURE_HARNESS_MAX_P95``.

Declared once, for every command's parser (:class:`harness.cli._CommandParser` calls :func:`install` once its
options are declared, and :func:`resolve` after each parse).  A variable that is set becomes the option's
default, so the command line wins; it is converted and checked by the option's own ``type`` and ``choices``
only when the command line did not give the option, and a bad value is a usage error naming the variable.
A flag takes ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``; a repeatable option (``--header``)
takes one value per line.  Positional arguments are not read from the environment.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

PREFIX = "CAPTURE_HARNESS_"

EPILOG = ("Every option can also come from an environment variable CAPTURE_HARNESS_<OPTION>, upper case with "
          "dashes as underscores (--api-key is CAPTURE_HARNESS_API_KEY, --max-p95 is CAPTURE_HARNESS_MAX_P95); a "
          "flag takes 1/true/yes or 0/false/no, a repeatable option one value per line. The command line wins.")

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class _FromEnvironment:
    """A default taken from the environment, converted once the command line is known not to give it."""

    def __init__(self, variable: str, text: str, default: Any) -> None:
        self.variable, self.text, self.default = variable, text, default

    def __repr__(self) -> str:
        return f"${self.variable}"


class _FromEnvironmentList(list[Any]):
    """The default of a repeatable option from the environment: argparse appends command-line values to a
    copy of it, so the command line's values are recognised by the copy not being this very list."""

    def __init__(self, variable: str, text: str) -> None:
        super().__init__()
        self.variable, self.text = variable, text


def variable(action: argparse.Action) -> str | None:
    """The environment variable of an option (None: a positional argument, --help, --version)."""
    long = [name for name in action.option_strings if name.startswith("--")]
    if not long or isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return None
    return PREFIX + max(long, key=len)[2:].upper().replace("-", "_")


def install(parser: argparse.ArgumentParser) -> None:
    """Make each option set in the environment default to its variable's value, and say so in the help."""
    parser.epilog = f"{parser.epilog} {EPILOG}" if parser.epilog else EPILOG
    for action in parser._actions:
        name = variable(action)
        if name is None or name not in os.environ:
            continue
        text = os.environ[name]
        if isinstance(action, argparse._AppendAction):
            action.default = _FromEnvironmentList(name, text)
        else:
            action.default = _FromEnvironment(name, text, action.default)
        action.required = False


def resolve(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    """Replace the environment's defaults the command line left in ``namespace`` by their converted values."""
    for action in parser._actions:
        value = getattr(namespace, action.dest, None)
        if isinstance(value, _FromEnvironmentList):
            lines = [line.strip() for line in value.text.splitlines() if line.strip()]
            converted = [_convert(parser, action, value.variable, line) for line in lines]
            setattr(namespace, action.dest, converted if value is action.default else list(value))
        elif isinstance(value, _FromEnvironment):
            setattr(namespace, action.dest, _value(parser, action, value))


def _value(parser: argparse.ArgumentParser, action: argparse.Action, found: _FromEnvironment) -> Any:
    if isinstance(action, argparse._StoreConstAction):  # store_true, store_false, store_const
        flag = found.text.strip().lower()
        if flag not in _TRUE + _FALSE:
            parser.error(f"environment variable {found.variable}={found.text!r}: a flag takes 1, true, yes or on "
                         "(set) or 0, false, no or off (not set)")
        return action.const if flag in _TRUE else found.default
    return _convert(parser, action, found.variable, found.text)


def _convert(parser: argparse.ArgumentParser, action: argparse.Action, name: str, text: str) -> Any:
    """``text`` through the option's ``type`` and ``choices``, as if given on the command line."""
    try:
        value = parser._get_value(action, text)
        parser._check_value(action, value)
    except argparse.ArgumentError as error:
        parser.error(f"environment variable {name}={text!r}: {error.message}")
    return value
