"""Server-SDK batches to /i/v1/analytics/events: posthog-python and posthog-node in v1 mode, following their retries.

Run: locust -f locustfiles/v1.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class V1Batches(CaptureUser):
    scenario = "v1"
