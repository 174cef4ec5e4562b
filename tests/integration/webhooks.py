"""Webhooks served by a test on 127.0.0.1 that check stockloop's signature, as a consumer would."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from connectors.delivery.signing import SignatureRejected, verify
from models.notifications import Notification


@dataclass(frozen=True)
class Taken:
    """One webhook request whose signature verified: where it went, and what it carried."""

    endpoint: str  # the last path segment: /hooks/<endpoint>
    idempotency_key: str | None
    notification: Notification
    arrived: float  # time.monotonic() on arrival


@dataclass
class Webhooks:
    """What the webhooks took (signature checked) and refused (401, with the reason)."""

    taken: list[Taken] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, endpoint: str) -> list[Notification]:
        with self.lock:
            return [t.notification for t in self.taken if t.endpoint == endpoint]


@contextmanager
def signed_webhooks(secret: str) -> Iterator[tuple[Webhooks, str]]:
    """Webhooks at ``<base>/<endpoint>`` on a free port, and their base URL."""
    state = Webhooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Stockloop-Timestamp")
            signature = self.headers.get("X-Stockloop-Signature")
            try:
                verify(secret, body, timestamp, signature, now=time.time())
            except SignatureRejected as error:
                with state.lock:
                    state.rejected.append(str(error))
                self.send_response(401)
            else:
                taken = Taken(
                    endpoint=self.path.rsplit("/", 1)[-1],
                    idempotency_key=self.headers.get("Idempotency-Key"),
                    notification=Notification.model_validate_json(body),
                    arrived=time.monotonic(),
                )
                with state.lock:
                    state.taken.append(taken)
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read what was taken."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
