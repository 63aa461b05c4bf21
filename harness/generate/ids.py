"""UUID texts from given random bits: the one place that knows the version-4 and version-7 layouts.

The traffic model feeds them seeded bits (reproducible corpora); the reference server feeds them
``os.urandom`` (the UUIDv7 capture generates for events without a uuid).
"""

from __future__ import annotations

_MASK_128 = (1 << 128) - 1
_V4_CLEAR = ~((0xF << 76) | (0x3 << 62)) & _MASK_128


def uuid4_text(bits128: int) -> str:
    """A version-4 uuid made of 128 random bits (six of them overwritten by version and variant)."""
    return hyphenate((bits128 & _V4_CLEAR) | (0x4 << 76) | (0x2 << 62))


def uuid7_text(ms: int, bits74: int) -> str:
    """A version-7 uuid (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits around the
    version and variant."""
    return hyphenate((ms << 80) | (0x7 << 76) | ((bits74 >> 62) << 64) | (0x2 << 62) | (bits74 & ((1 << 62) - 1)))


def hyphenate(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
