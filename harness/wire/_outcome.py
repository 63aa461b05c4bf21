"""The status a valid payload gets for each encoding and v0 route, read from the contract's text alone."""

from __future__ import annotations

from harness.wire._encode import encoder
from harness.wire._shapes import V0_PATHS, is_legacy_path


def expected_outcome(encoding: str, path: str) -> int | None:
    """The status capture answers when a valid payload is sent with ``encoding`` to ``path``.

    200 where the encoding works (or 204 if the caller adds ``beacon=1``, §2.1), the 4xx where the
    contract leaves a hole, and None when ``path`` is not one of :data:`V0_PATHS`, where this table says
    nothing.  Derived from the contract's text, not from :func:`decode_payload`, so the round-trip tests
    can hold one against the other.  A valid payload is a JSON array or object (§2.2): its text starts
    with ``[`` or ``{``, so step 2 never takes it for base64 and step 6 never unwraps it.

    =============  ==================  ================  =====================================================
    encoding       /e /capture         /batch /i/v0/e    why (capture-contract.md §2.1 steps unless noted)
                   /engage /track
    =============  ==================  ================  =====================================================
    json           200                 200               5: read as UTF-8
    gzip-header    200                 200               4: ``Content-Encoding`` matched exactly; 5: gunzip
    gzip-query     200                 200               4: query hint first; 5: gunzip
    gzip-magic     200                 200               5: ``1f 8b 08`` is gunzipped without a hint
    base64         200                 200               2: base64-decoded on every path (canonical, padded)
    form           200                 **400**           2 skipped (looks like a form); 3 takes ``data``, base64
                                                         text; no hint, 5 keeps it as UTF-8; 6 unwraps it on
                                                         legacy paths only (§1.1); elsewhere 8 fails on it
    form-lz64      200                 200               3 takes ``data``; 4 the form's ``compression=lz64``
    get-data       200                 200               1 ``?data=``; ``+`` as ``%2B`` (caveat); 2 decodes it
    =============  ==================  ================  =====================================================

    Variants a caller can make with ``query`` or by editing the request, and what they change:

    - ``form`` with ``?compression=base64`` (newer posthog-js, §11): nothing; the base64 hint selects
      no decoder (step 5).
    - ``form`` with ``?compression=gzip-js`` (the "mismatch" record of §9.1): 400; an explicit gzip hint
      on bytes that are not gzip is invalid (step 5), although Django accepted it.
    - lz64 as the raw body, hinted: 400 for about three payloads in four; its text is base64-shaped, so
      step 2 decodes it before the hint is read.  Only when lz-string pads with ``===`` (invalid base64,
      the other quarter) does it reach the lz64 decoder intact.  Hence ``form-lz64``.
    - ``form`` or ``form-lz64`` with ``Content-Type: ...; charset=UTF-8``: 400; step 3 compares exactly.
    - ``get-data`` with a bare ``+``: 400 once the base64 holds one; it becomes a space (caveat).
    """
    encoder(encoding)  # an unknown name is refused here as in encode()
    route = path.split("?", 1)[0]
    if route not in V0_PATHS:
        return None
    if encoding == "form" and not is_legacy_path(route):
        # §2.1 steps 2, 3, 5, 6 and §1.1: the base64 text in ``data`` is unwrapped on legacy paths only;
        # anywhere else it reaches JSON parsing (step 8) still encoded.
        return 400
    return 200
