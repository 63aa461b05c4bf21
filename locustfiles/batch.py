"""Server-SDK batches to /batch/: posthog-python (plain JSON, up to 100 events) and posthog-node (gzip, up to 20).

Run: locust -f locustfiles/batch.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class ServerBatches(CaptureUser):
    scenario = "batch"
