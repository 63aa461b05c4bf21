"""The second baseline of ``bench_locust.py``: the bare poster's fixed body, sent the way ``CaptureUser`` sends
(:class:`harness.load.sender.Sender`, reported to Locust's ``request`` event), with no corpus, no checks and no
ledger.  The capture scenario's ratio to this user is what the harness's own work per request costs on the same
transport; its ratio to ``bare_locustfile.py`` also counts the leaner transport.

Run: locust -f benchmarks/lean_locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -t 10s
"""

from locust import FastHttpUser, task
from locust.env import Environment

from bare_locustfile import BODY, HEADERS  # Locust puts the locustfile's folder on sys.path
from harness.load.sender import Sender
from harness.wire import WireRequest

REQUEST = WireRequest("POST", "/i/v0/e/", HEADERS, BODY)


class LeanPoster(FastHttpUser):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.sender = Sender(self.host or "", {}, ssl_context_factory=lambda **kwargs: None, insecure=True,
                             connection_timeout=self.connection_timeout, network_timeout=self.network_timeout)

    @task
    def post(self) -> None:
        answer = self.sender.send(REQUEST)
        self.environment.events.request.fire(
            request_type="POST", name="lean json", response_time=answer.elapsed_ms, response_length=answer.length,
            exception=answer.error, context={}, response=None, url=REQUEST.target)
