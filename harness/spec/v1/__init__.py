"""Capture's v1 protocol (``POST /i/v1/analytics/events``, capture-v1.md): schemas, the request judge
(headers in the server's order, then the body, then each event's result) and the SDK profile."""
