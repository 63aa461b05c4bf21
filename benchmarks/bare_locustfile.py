"""The baseline of ``bench_locust.py``: a bare FastHttpUser posting one fixed single-event body to /i/v0/e/.

No corpus, no checks, no ledger: the least any Locust scenario must do per request.  The body is a
posthog-python style event of about the size of the capture scenario's plain JSON bodies.

Run: locust -f benchmarks/bare_locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -t 10s
"""

import json

from locust import FastHttpUser, task

BODY = json.dumps({
    "event": "$pageview", "distinct_id": "user_42", "uuid": "0194f3a2-7c1e-7d3a-9b2c-4e5f6a7b8c9d",
    "timestamp": "2026-01-05T09:00:00.123Z", "api_key": "phc_benchmark",
    "properties": {"$lib": "posthog-python", "$lib_version": "3.7.4", "$current_url": "https://app.example.com/pricing",
                   "$browser": "Chrome", "$os": "Mac OS X", "$device_type": "Desktop", "plan": "team",
                   "$session_id": "0194f3a2-7c1e-7d3a-9b2c-000000000001", "$geoip_disable": True},
}).encode()
HEADERS = {"Content-Type": "application/json"}


class BarePoster(FastHttpUser):
    @task
    def post(self) -> None:
        self.client.post("/i/v0/e/", data=BODY, headers=HEADERS, name="bare json")
