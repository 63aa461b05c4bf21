"""posthog-js 1.449 to /e/: {api_key, batch, sent_at} gzipped without a hint, JSON, retries, sendBeacon forms.

Run: locust -f locustfiles/browser.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class BrowserTraffic(CaptureUser):
    scenario = "browser"
