"""Older posthog-js to /e/: event arrays gzipped with ?compression=gzip-js, and single events as form data=.

Run: locust -f locustfiles/browser_legacy.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class BrowserLegacyTraffic(CaptureUser):
    scenario = "browser_legacy"
