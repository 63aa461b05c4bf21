"""A realistic blend: browser sessions, logins, server batches, single events (weights: harness.load.scenarios.WEIGHTS).

Run: locust -f locustfiles/mixed.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class MixedTraffic(CaptureUser):
    scenario = "mixed"
