"""The live inspector: one self-contained HTML page at ``/_harness/`` that polls the inspection API.

The page (``inspector.html`` beside this module, shipped in the wheel as package data) has no external
resource, no framework and no build step, so it works offline and on an air-gapped CI machine.  It
polls the JSON routes once a second (``/_harness/events?after=LAST``, ``/_harness/stats``,
``/_harness/rejections?after=LAST``, ``/_harness/recordings`` when the server has that route) rather
than holding a server-sent-events stream open: a poll is an ordinary request through the same checks as
every other inspection call, and an open stream would count as a request in flight for as long as the
tab stays open and hold up the server's graceful shutdown.

The page itself holds no data, so it is served without the inspection token (the ``Host`` and
``Origin`` checks still apply); its API calls need the token.  When the server has one, the page asks
for it, or reads it once from the URL fragment (``/_harness/#token=TOKEN``: a fragment never reaches a
server log or a proxy), keeps it in ``sessionStorage`` (gone when the tab closes) and sends it as
``Authorization: Bearer``.  What the page must know before its first call is written into it here:
whether a token is needed (so that no call is made to be refused, a console error in the browser) and
whether ``/_harness/recordings`` exists (so the page says "no recordings route" without a 404).

Every answer carries a Content-Security-Policy with a fresh nonce: only the page's own script and style
run, it connects to its own origin only, and it cannot be framed.  Event names and ids are whatever
clients sent, so the script writes them with ``textContent``, never as HTML.
"""

from __future__ import annotations

import secrets
from functools import cache

import orjson

PATHS = frozenset({"/_harness", "/_harness/"})
"""Where the page is served."""
HTML = b"text/html; charset=utf-8"


@cache
def _template() -> str:
    from importlib.resources import files

    return files("harness.server").joinpath("inspector.html").read_text(encoding="utf-8")


def render(*, token_required: bool, recordings: bool) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The page's bytes and the headers that go with them (its policy, with this answer's nonce)."""
    nonce = secrets.token_urlsafe(16)
    settings = orjson.dumps({"tokenRequired": token_required, "recordings": recordings}).decode()
    page = _template().replace("{{nonce}}", nonce).replace("{{settings}}", settings.replace("<", "\\u003c"))
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
              "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    headers = [(b"content-security-policy", policy.encode()), (b"cache-control", b"no-store"),
               (b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
    return page.encode(), headers
