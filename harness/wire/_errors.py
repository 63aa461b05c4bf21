"""The decode errors: one hierarchy, each error carrying capture's status and plain-text body (§7.2)."""

from __future__ import annotations

from typing import ClassVar


class DecodeError(Exception):
    """Capture refuses the request while turning its bytes into payload text.

    ``status`` is the HTTP status capture answers; ``str(error)`` is the plain-text body it sends.
    """

    status: ClassVar[int] = 400


class MissingPayloadError(DecodeError):
    """Neither a non-empty ``data`` query parameter nor a body (capture's ``EmptyPayload``)."""

    def __init__(self) -> None:
        super().__init__("request missing data payload")


class MalformedPayloadError(DecodeError):
    """The payload cannot be decoded (capture's ``RequestDecodingError``); ``detail`` names the step."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"failed to decode request: {detail}")
        self.detail = detail


class PayloadTooLargeError(DecodeError):
    """The decoded payload passed the decompressed-size cap (capture's ``EventTooBig``)."""

    status: ClassVar[int] = 413

    def __init__(self, detail: str) -> None:
        super().__init__(f"maximum event size exceeded: {detail}")
        self.detail = detail
