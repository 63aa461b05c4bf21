"""Visitors logging in ($identify with $anon_distinct_id and $set), aliased ($create_alias), and $groupidentify.

Run: locust -f locustfiles/identify_alias.py --host http://127.0.0.1:8000 [--headless -u 20 -t 30s]
"""

from harness.load import CaptureUser


class PersonCalls(CaptureUser):
    scenario = "identify_alias"
