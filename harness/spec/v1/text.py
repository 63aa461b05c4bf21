"""The parsers v1 capture applies to strings: UUIDs (the ``uuid`` crate), RFC 3339 (chrono, read
strictly per capture-v1.md §8 #16), header values (``HeaderValue::to_str``) and option coercion (§4.3)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_HEX = "[0-9a-fA-F]"
_HYPHENATED = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
_UUID = re.compile(f"(?:{_HYPHENATED}|{_HEX}{{32}}|\\{{{_HYPHENATED}\\}}|[uU][rR][nN]:[uU][uU][iI][dD]:{_HYPHENATED})")
_CANONICAL = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})")
_UTC_SUFFIX = re.compile(r".*(?:Z|\+00:00)")
_ATTEMPT = re.compile(r"\+?[0-9]+")
_U32_MAX = 2**32 - 1


def canonical_uuid(text: str) -> str | None:
    """``Uuid::parse_str(text)`` as ``to_string()``: lower-case hyphenated; None when it does not parse."""
    if _CANONICAL.fullmatch(text):
        return text
    if not _UUID.fullmatch(text):
        return None
    digits = text.lower().removeprefix("urn:uuid:").strip("{}").replace("-", "")
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def is_rfc3339(text: str) -> bool:
    """A ``T``-separated date-time with whole seconds, an optional fraction and ``Z`` or a colon offset."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return False
    offset = match.group(7)
    if offset != "Z" and (offset[1:3] > "23" or offset[4:6] > "59"):
        return False
    if match.group(4) > "23" or match.group(5) > "59" or match.group(6) > "59":
        return False
    month, day = match.group(2), match.group(3)
    if "01" <= month <= "12" and "01" <= day <= "28":
        return True  # the common case, without building a date
    try:
        dt.date(int(match.group(1)), int(month), int(day))
    except ValueError:
        return False
    return True


def is_utc(text: str) -> bool:
    """What SDKs must write (capture-v1.md §6, H): ``Z`` or ``+00:00``."""
    return bool(_UTC_SUFFIX.fullmatch(text))


def visible_ascii(value: str) -> bool:
    """``HeaderValue::to_str`` succeeds: tab or 0x20-0x7E only."""
    return all(char == "\t" or " " <= char <= "~" for char in value)


def attempt_ok(value: str) -> bool:
    """``value.parse::<u32>()`` succeeds and is at least 1."""
    return bool(_ATTEMPT.fullmatch(value)) and 1 <= int(value) <= _U32_MAX


def coercible_flag(value: Any) -> bool:
    """A boolean option the newest ``RawOptions::validate`` accepts (null means unset)."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    return isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0")


def coercible_tour_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def over_bytes(text: str, limit: int) -> bool:
    """``text`` is over ``limit`` bytes in UTF-8 (a character is at most 4 bytes: short text never is)."""
    return len(text) * 4 > limit and utf8_len(text) > limit
