"""Mark every event the suite sends, so that on a real endpoint its traffic can be found and filtered.

Three marks, applied to each event of a body (:func:`tag`):

- ``properties.$capture_harness_run`` holds the session's run id (:func:`new_run_id`), printed in the
  summary, e.g. ``capture-harness-20260105T090000Z-1a2b3c``;
- the distinct_id capture reads (top level, else ``properties.distinct_id``) gets the prefix
  ``capture-harness-``, unless it is blank or not a string: those are the point of the edge and
  rejection cases that send them, and the run property still marks the event;
- an event's canonical uuid is replaced by a fresh one of the same version, so seeded bodies (the
  same bytes every run) never collide with an earlier run's events, in the store or in deduplication.

Tagging only adds a property and lengthens a non-blank id, so it never changes the verdict on a body:
a rule-breaking body still breaks its rule (the tests of :mod:`harness.contract.test_rejection` rely on
that, and the contract suite's own tests check it with the validator).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from harness.generate import ids
from harness.spec.body import events_of

RUN_PROPERTY = "$capture_harness_run"
DISTINCT_ID_PREFIX = "capture-harness-"

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def new_run_id() -> str:
    """``capture-harness-<UTC time>-<6 hex>``: sortable, and unique enough to filter one run."""
    return f"{DISTINCT_ID_PREFIX}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"


def tag(body: Any, run_id: str, *, prefix_ids: bool = True, fresh_uuids: bool = True) -> Any:
    """Mark each event of ``body`` in place (see the module docstring); returns ``body``."""
    for event in events_of(body):
        if not isinstance(event, dict):
            continue
        properties = event.setdefault("properties", {})
        if isinstance(properties, dict):
            properties[RUN_PROPERTY] = run_id
        if prefix_ids:
            _prefix(event)
            if isinstance(properties, dict):
                _prefix(properties)
        if fresh_uuids:
            value = event.get("uuid")
            if isinstance(value, str):
                event["uuid"] = fresh_uuid(value)
    return body


def fresh_uuid(value: str) -> str:
    """A new uuid of ``value``'s version (7 stays 7, anything else canonical becomes 4); ``value`` itself
    when it is not canonical (the uuid-form edge cases and the invalid uuids are sent as they are)."""
    found = _CANONICAL_UUID.fullmatch(value)
    if found is None:
        return value
    if found.group(1) == "7":
        return ids.uuid7_text(int(time.time() * 1000), secrets.randbits(74))
    return ids.uuid4_text(secrets.randbits(128))


def _prefix(holder: dict[str, Any]) -> None:
    value = holder.get("distinct_id")
    if isinstance(value, str) and value.strip() and not value.startswith(DISTINCT_ID_PREFIX):
        holder["distinct_id"] = DISTINCT_ID_PREFIX + value
