"""What capture keeps of an accepted event (contract §4.2, §4.4, rule 22), independent of any server.

The reference server builds its records with these functions, and the contract suite computes what any
endpoint *should* have stored with the same ones, so the suite never imports the implementation it judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from harness.spec.unicode import rust_trim

DISTINCT_ID_LIMIT = 200
"""Characters kept of a distinct id whose UTF-8 form is over 200 bytes (§4.2)."""

KNOWN_FIELDS = ("token", "distinct_id", "uuid", "event", "properties", "timestamp", "offset", "$set",
                "$set_once")
"""The fields of capture's ``RawEvent``, in its serialization order (rule 22)."""

_ALIASES = {"$token": "token", "api_key": "token", "$distinct_id": "distinct_id"}


def known_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as capture re-serializes ``RawEvent``: known fields under their canonical names, null
    ones left out, ``properties`` always present."""
    found: dict[str, Any] = {}
    for key, value in event.items():
        name = _ALIASES.get(key, key)
        if name in KNOWN_FIELDS and value is not None:
            found[name] = value
    found.setdefault("properties", {})
    return {name: found[name] for name in KNOWN_FIELDS if name in found}


def distinct_id(event: Mapping[str, Any]) -> str:
    """Capture's ``extract_distinct_id`` (§4.2): top level unless null, else ``properties.distinct_id``;
    non-strings as compact JSON with sorted keys; NUL as U+FFFD; over 200 bytes cut to 200 characters."""
    value = event.get("distinct_id", event.get("$distinct_id"))
    if value is None:
        value = (event.get("properties") or {}).get("distinct_id")
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = text.replace("\x00", "\ufffd")
    if len(text.encode()) > DISTINCT_ID_LIMIT:
        text = text[:DISTINCT_ID_LIMIT]
    return text


def trim_token(token: str) -> str:
    """The token as capture uses it: surrounding whitespace trimmed (newer revisions, §3.2)."""
    return rust_trim(token)
