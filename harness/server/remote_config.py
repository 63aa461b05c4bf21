"""What the reference endpoint tells an SDK about its project: remote config, feature flags and their payloads.

The answers take PostHog's shapes (its Rust ``flags`` service and the remote-config files it writes for
``/array/<token>/config`` and ``config.js``), filled from :class:`SdkConfig`: the options of ``serve``
(``--flags FILE``, ``--no-autocapture``, ``--session-recording``).  The defaults let every SDK feature
that needs nothing beyond capture run: autocapture on, session recording off, no flags.  Everything a
feature would need a lazily loaded script for (surveys, heatmaps, web vitals, dead clicks, exception
autocapture) is answered off, since ``/static/`` only serves no-op stand-ins (:mod:`sdk_routes`).

Deliberate departures from PostHog Cloud, each so that posthog-js keeps working against this server:

- no ``analytics.endpoint`` key: PostHog Cloud answers ``{"endpoint": "/i/v0/e/"}``, which moves posthog-js
  from ``/e/`` to ``/i/v0/e/``, where capture does not unwrap the base64 form its ``sendBeacon`` sends
  (contract §1.1, §2.1 step 6); without the key posthog-js stays on ``/e/``, where every encoding works;
- ``quotaLimited`` is left out, as PostHog leaves it out of a project that is not over its quota.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FlagValue = bool | str


@dataclass(frozen=True)
class Flag:
    """One feature flag: its value for every person (``True``/``False``, or a variant name) and the JSON
    value of its payload (``None``: no payload)."""

    key: str
    value: FlagValue
    payload: Any = None


@dataclass(frozen=True)
class SdkConfig:
    """What ``serve`` tells SDKs: the flags, and whether autocapture and session recording are on."""

    flags: tuple[Flag, ...] = ()
    autocapture: bool = True
    session_recording: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    """Further remote-config keys, merged over the computed ones (tests and embedders; no option sets it)."""


def load_flags(path: str | Path) -> tuple[Flag, ...]:
    """The flags of a ``--flags`` file: ``{"flags": {KEY: true|false|"variant"}, "payloads": {KEY: JSON}}``.

    A ``ValueError`` says what is wrong (unreadable file, not JSON, a value of the wrong type, a payload
    for a flag the file does not define)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the flags file {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ValueError(f"the flags file {path} is not JSON: {error}") from None
    if not isinstance(document, dict) or not set(document) <= {"flags", "payloads"}:
        raise ValueError(f'the flags file {path} must be an object with "flags" and optionally "payloads"')
    flags, payloads = document.get("flags", {}), document.get("payloads", {})
    maps = isinstance(flags, dict) and isinstance(payloads, dict)
    if not maps:
        raise ValueError(f'in {path}, "flags" and "payloads" must be objects keyed by flag key')
    for key, value in flags.items():
        if not key or not (isinstance(value, bool) or (isinstance(value, str) and value)):
            raise ValueError(f"in {path}, flag {key!r} must have a non-empty key and be true, false or a variant "
                             f"name, not {value!r}")
    unknown = sorted(set(payloads) - set(flags))
    if unknown:
        raise ValueError(f"in {path}, payloads for flags the file does not define: {', '.join(unknown)}")
    return tuple(Flag(key, value, payloads.get(key)) for key, value in flags.items())


# --- remote config ------------------------------------------------------------------------------------

SESSION_RECORDING = {
    "endpoint": "/s/",
    "consoleLogRecordingEnabled": True,
    "recorderVersion": "v2",
    "sampleRate": None,
    "minimumDurationMilliseconds": None,
    "linkedFlag": None,
    "networkPayloadCapture": None,
    "masking": None,
    "urlTriggers": [],
    "urlBlocklist": [],
    "eventTriggers": [],
    "triggerMatchType": None,
    "scriptConfig": None,
}
"""``sessionRecording`` when ``--session-recording`` is on: PostHog's keys, everything recorded."""


def remote_config(config: SdkConfig, token: str) -> dict[str, Any]:
    """The body of ``GET /array/<token>/config``: PostHog's remote config for the project ``token``."""
    answer: dict[str, Any] = {
        "token": token,
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": bool(config.flags),
        "captureDeadClicks": False,
        "capturePerformance": False,
        "autocapture_opt_out": not config.autocapture,
        "autocaptureExceptions": False,
        "errorTracking": {"autocaptureExceptions": False, "suppressionRules": []},
        "elementsChainAsString": True,
        "sessionRecording": dict(SESSION_RECORDING) if config.session_recording else False,
        "heatmaps": False,
        "surveys": False,
        "defaultIdentifiedOnly": True,
        "siteApps": [],
    }
    answer.update(config.extra)
    return answer


def remote_config_js(config: SdkConfig, token: str) -> bytes:
    """The body of ``GET /array/<token>/config.js``: the same config, stored where posthog-js looks for it."""
    name = _js_literal(token)
    body = _js_literal({"config": remote_config(config, token), "siteApps": []})
    return (f"(function() {{\n  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {{}};\n"
            f"  window._POSTHOG_REMOTE_CONFIG[{name}] = {body};\n}})();\n").encode("ascii")


def _js_literal(value: Any) -> str:
    """``value`` as a JavaScript literal safe anywhere in a script: ASCII-only JSON with ``<`` escaped."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")


def decide_config(config: SdkConfig, token: str) -> dict[str, Any]:
    """The config keys ``/decide`` and ``/flags?config=true`` add beside the flags (PostHog's decide v3/v4)."""
    answer = remote_config(config, token)
    del answer["token"], answer["hasFeatureFlags"]
    answer.update({"config": {"enable_collect_everything": True}, "toolbarParams": {}, "isAuthenticated": False})
    return answer


# --- flags --------------------------------------------------------------------------------------------

_MATCHED = {"code": "condition_match", "condition_index": 0, "description": "Matched condition set 1"}
_UNMATCHED = {"code": "no_condition_match", "condition_index": None, "description": "No matching condition set"}


def _payload_text(flag: Flag) -> str | None:
    """A payload as PostHog answers it: the JSON text of the value, and only when the flag matched."""
    if flag.payload is None or flag.value is False:
        return None
    return json.dumps(flag.payload, ensure_ascii=False, separators=(",", ":"))


def flags_v2(config: SdkConfig) -> dict[str, Any]:
    """The body of ``/flags?v=2``: every flag with ``key/enabled/variant/reason/metadata``."""
    details = {}
    for index, flag in enumerate(config.flags):
        enabled = flag.value is not False
        details[flag.key] = {
            "key": flag.key,
            "enabled": enabled,
            "variant": flag.value if isinstance(flag.value, str) else None,
            "reason": dict(_MATCHED if enabled else _UNMATCHED),
            "metadata": {"id": index + 1, "version": 1, "payload": _payload_text(flag), "description": None},
        }
    return {"errorsWhileComputingFlags": False, "flags": details, "requestId": str(uuid.uuid4())}


def flags_legacy(config: SdkConfig) -> dict[str, Any]:
    """The body of ``/flags`` v1 and ``/decide``: ``featureFlags`` and ``featureFlagPayloads``."""
    payloads = {flag.key: text for flag in config.flags if (text := _payload_text(flag)) is not None}
    return {"errorsWhileComputingFlags": False, "featureFlags": {flag.key: flag.value for flag in config.flags},
            "featureFlagPayloads": payloads, "requestId": str(uuid.uuid4())}
