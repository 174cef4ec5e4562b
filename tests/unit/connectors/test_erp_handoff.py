"""ERP hand-off against a real HTTP server: retries, idempotency keys, refusals, references."""

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import sleep as wall_sleep

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from connectors.erp_handoff import (
    ErpEndpoint,
    ErpHandoff,
    HandoffRefused,
    HandoffUnavailable,
    ReferenceMissing,
    RetryPolicy,
)


class Requisition(BaseModel):
    """A purchase request as the hand-off sees one: any model with a request id."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    material_id: str
    warehouse_id: str
    quantity: float
    needed_by: date


REQUEST = Requisition(
    request_id="PR-M1-W1-0001",
    material_id="M1",
    warehouse_id="W1",
    quantity=120.0,
    needed_by=date(2026, 12, 7),
)


@dataclass(frozen=True)
class Attempt:
    """One POST the ERP received: its headers that matter and its body."""

    key: str | None
    authorization: str | None
    body: dict


@dataclass(frozen=True)
class Answer:
    """What the ERP does with one attempt: a status, headers and body, or a special act."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    act: str = "answer"  # answer | accept | accept-then-drop | slow-accept


ACCEPT = Answer(act="accept")


class FakeErp:
    """A purchase-requisition endpoint that creates one requisition per idempotency key.

    ``script`` is what it does with its first attempts, in order; after the script it
    accepts. Accepting a key it has seen answers 200 with the reference it gave first.
    """

    def __init__(self, script: list[Answer], reference_body: bool = True) -> None:
        self.script = list(script)
        self.reference_body = reference_body
        self.attempts: list[Attempt] = []
        self.accepted: dict[str, tuple[str, dict]] = {}
        self.lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = orjson.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        key = handler.headers.get("Idempotency-Key")
        with self.lock:
            self.attempts.append(Attempt(key, handler.headers.get("Authorization"), body))
            answer = self.script.pop(0) if self.script else ACCEPT
        if answer.act == "answer":
            _respond(handler, answer.status, answer.headers, answer.body)
            return
        if answer.act == "slow-accept":
            wall_sleep(0.5)
        status, reference = self._accept(key, body)
        if answer.act == "accept-then-drop":
            handler.close_connection = True  # the requisition exists, its answer is lost
            return
        content = orjson.dumps({"reference": reference}) if self.reference_body else b""
        _respond(handler, status, {"Location": f"/requisitions/{reference}"}, content)

    def _accept(self, key: str | None, body: dict) -> tuple[int, str]:
        assert key is not None, "every post carries an Idempotency-Key"
        with self.lock:
            if key in self.accepted:
                return 200, self.accepted[key][0]
            reference = f"REQ-{len(self.accepted) + 1:05d}"
            self.accepted[key] = (reference, body)
            return 201, reference


def _respond(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@dataclass
class Server:
    erp: FakeErp
    url: str


@pytest.fixture
def serve() -> Iterator:
    """Start a FakeErp on 127.0.0.1, on a free port, for the test's duration."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: list[Answer], reference_body: bool = True) -> Server:
        erp = FakeErp(script, reference_body)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                erp.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return Server(erp, f"http://127.0.0.1:{server.server_address[1]}/requisitions")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Sleeps(list[float]):
    """The waits the hand-off asked for, taken instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _handoff(
    url: str, sleeps: Sleeps, timeout_s: float = 5.0, reference_field: str = "reference"
) -> ErpHandoff:
    return ErpHandoff(
        ErpEndpoint(url, timeout_s=timeout_s, reference_field=reference_field),
        RetryPolicy(attempts=4, first_delay_s=1.0, max_delay_s=10.0),
        sleep=sleeps,
    )


@pytest.mark.parametrize(
    "second_failure",
    [Answer(status=500, body=b"database locked"), Answer(act="accept-then-drop")],
    ids=["500", "accepted-then-dropped"],
)
def test_a_request_that_fails_twice_is_accepted_exactly_once(serve, second_failure) -> None:
    server = serve([Answer(status=503, body=b"maintenance"), second_failure])
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff:
        reference = handoff.send(REQUEST)

    assert [attempt.key for attempt in server.erp.attempts] == [REQUEST.request_id] * 3
    assert list(server.erp.accepted) == [REQUEST.request_id]
    assert reference == server.erp.accepted[REQUEST.request_id][0]
    assert server.erp.accepted[REQUEST.request_id][1] == REQUEST.model_dump(mode="json")
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0, "exponential, with jitter"


def test_a_bad_request_is_refused_with_status_request_id_and_body(serve) -> None:
    server = serve([Answer(status=400, body=b"material M1\nunknown to the ERP\n" + b"." * 500)])
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff, pytest.raises(HandoffRefused) as refused:
        handoff.send(REQUEST)

    message = str(refused.value)
    assert message.startswith(f"ERP refused purchase request {REQUEST.request_id} with HTTP 400")
    assert "material M1 unknown to the ERP" in message and "\n" not in message
    assert len(message) < 300, "the start of the body, not all of it"
    assert (refused.value.status, refused.value.request_id) == (400, REQUEST.request_id)
    assert (len(server.erp.attempts), sleeps) == (1, [])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 303])
def test_an_answer_a_retry_cannot_change_is_not_retried(serve, status: int) -> None:
    server = serve([Answer(status=status)])
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff, pytest.raises(HandoffRefused, match="empty"):
        handoff.send(REQUEST)

    assert (len(server.erp.attempts), sleeps, server.erp.accepted) == (1, [], {})


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_throttling_and_server_errors_are_retried(serve, status: int) -> None:
    server = serve([Answer(status=status)])

    with _handoff(server.url, Sleeps()) as handoff:
        handoff.send(REQUEST)

    assert (len(server.erp.attempts), len(server.erp.accepted)) == (2, 1)


def test_too_many_requests_waits_as_long_as_retry_after_says(serve) -> None:
    server = serve([Answer(status=429, headers={"Retry-After": "7"})])
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff:
        handoff.send(REQUEST)

    assert sleeps == [7.0]
    assert len(server.erp.accepted) == 1


def test_a_retry_after_date_is_counted_from_the_injected_clock(serve) -> None:
    server = serve([Answer(status=503, headers={"Retry-After": "Mon, 07 Dec 2026 08:00:12 GMT"})])
    sleeps = Sleeps()
    handoff = ErpHandoff(
        ErpEndpoint(server.url),
        sleep=sleeps,
        now=lambda: datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
    )

    with handoff:
        handoff.send(REQUEST)

    assert sleeps == [12.0]


def test_a_retry_after_beyond_the_longest_wait_gives_up_at_once(serve) -> None:
    server = serve([Answer(status=503, headers={"Retry-After": "3600"})])
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff, pytest.raises(HandoffUnavailable, match="3600"):
        handoff.send(REQUEST)

    assert (len(server.erp.attempts), sleeps) == (1, [])


def test_posting_the_same_request_again_returns_the_same_reference(serve) -> None:
    server = serve([])

    with _handoff(server.url, Sleeps()) as handoff:
        first = handoff.send(REQUEST)
    with _handoff(server.url, Sleeps()) as after_restart:
        again = after_restart.send(REQUEST.model_dump())

    assert again == first
    assert len(server.erp.accepted) == 1 and len(server.erp.attempts) == 2


def test_the_erp_that_stays_down_leaves_the_request_unavailable_after_every_attempt(
    serve,
) -> None:
    server = serve([Answer(status=503)] * 10)
    sleeps = Sleeps()

    with _handoff(server.url, sleeps) as handoff, pytest.raises(HandoffUnavailable) as down:
        handoff.send(REQUEST)

    assert "4 attempts; last: HTTP 503" in str(down.value)
    assert (len(server.erp.attempts), len(sleeps)) == (4, 3)


def test_an_erp_that_does_not_listen_is_retried_then_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()

    with (
        _handoff(f"http://127.0.0.1:{port}/", sleeps) as handoff,
        pytest.raises(HandoffUnavailable, match="ConnectError"),
    ):
        handoff.send(REQUEST)

    assert len(sleeps) == 3


def test_an_answer_slower_than_the_timeout_is_retried_under_the_same_key(serve) -> None:
    server = serve([Answer(act="slow-accept")])

    with _handoff(server.url, Sleeps(), timeout_s=0.1) as handoff:
        reference = handoff.send(REQUEST)

    assert reference == server.erp.accepted[REQUEST.request_id][0]
    assert [attempt.key for attempt in server.erp.attempts] == [REQUEST.request_id] * 2


def test_the_bearer_token_is_sent_and_never_shown(serve) -> None:
    server = serve([])
    endpoint = ErpEndpoint(server.url, token="s3cret")

    with ErpHandoff(endpoint) as handoff:
        handoff.send(REQUEST)

    assert server.erp.attempts[0].authorization == "Bearer s3cret"
    assert "s3cret" not in repr(endpoint)


def test_without_the_reference_field_the_location_header_is_the_reference(serve) -> None:
    server = serve([], reference_body=False)

    with _handoff(server.url, Sleeps()) as handoff:
        reference = handoff.send(REQUEST)

    assert reference == "/requisitions/REQ-00001"


def test_a_dotted_reference_field_reaches_into_the_answer(serve) -> None:
    body = orjson.dumps({"data": {"requisition_no": 4711}})
    server = serve([Answer(status=201, body=body)])

    with _handoff(server.url, Sleeps(), reference_field="data.requisition_no") as handoff:
        assert handoff.send(REQUEST) == "4711"


def test_an_acceptance_without_any_reference_is_reported(serve) -> None:
    server = serve([Answer(status=204)])

    with _handoff(server.url, Sleeps()) as handoff, pytest.raises(ReferenceMissing, match="204"):
        handoff.send(REQUEST)


def test_an_endpoint_that_is_not_http_is_refused_before_any_post() -> None:
    with pytest.raises(ValueError, match="not an http"):
        ErpEndpoint("ftp://erp.example/requisitions")


@given(
    first=st.floats(0.0, 5.0),
    longest=st.floats(5.0, 60.0),
    retry=st.integers(1, 40),
    draw=st.floats(0.0, 1.0, exclude_max=True),
)
def test_a_backoff_wait_lies_between_half_and_all_of_its_doubled_nominal_wait(
    first: float, longest: float, retry: int, draw: float
) -> None:
    policy = RetryPolicy(first_delay_s=first, max_delay_s=longest)
    nominal = min(longest, first * 2 ** (retry - 1))

    assert nominal / 2 <= policy.delay(retry, draw) <= nominal <= longest
