"""Single events to /i/v0/e/, plain JSON or gzip by header, as a server posts them one by one.

Run: locust -f locustfiles/capture.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class CaptureEvents(CaptureUser):
    scenario = "capture"
