"""Unicode White_Space as Rust sees it: the one table capture's trimming and its date parsers share.

Python's ``str.strip()`` removes more than Rust's ``str::trim`` (e.g. U+001C..U+001F), and Python's
``re`` ``\\s`` differs from Rust regex's, so both are spelled out here once.
"""

from __future__ import annotations

WHITESPACE = "\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
             "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode White_Space, what Rust's ``str::trim`` removes."""

WHITESPACE_SET = frozenset(WHITESPACE)

WHITESPACE_CLASS = "[" + WHITESPACE.replace("\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
                                            "\u2000-\u200a") + "]"
"""A regex character class of the same characters (for patterns that mean Rust's ``\\s``)."""


def rust_trim(text: str) -> str:
    """``text`` with leading and trailing White_Space removed, as Rust's ``str::trim``."""
    return text.strip(WHITESPACE)
