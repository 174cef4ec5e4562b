"""``stockloop requests handoff`` on the real broker, posting to a real HTTP server in the test.

The requests are produced straight to ``stockloop.purchase-requests`` as a
worker would publish them; no worker runs, so the ``record_reference`` actions
stay on the actions topic, where the test reads them. The ERP is a
``ThreadingHTTPServer`` on 127.0.0.1 that answers from a script, then accepts
each idempotency key once and answers a key it knows with the same reference.
"""

import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from models.events import encode
from models.purchasing import (
    PurchaseRequest,
    PurchaseRequestAction,
    approve_automatically,
    await_approval,
    propose,
)
from streams.catalogue import PURCHASE_REQUEST_ACTIONS, PURCHASE_REQUESTS
from tests.integration.harness import STOCKLOOP, Pipeline

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)


@dataclass
class Attempt:
    """One post the ERP received, and what it answered."""

    key: str | None
    document: dict
    status: int


@dataclass
class FakeErp:
    """What the ERP was posted, and how it answers: ``script`` first, then by key.

    A key in ``refused`` is answered 422 every time.
    """

    script: list[int] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str | None, document: dict) -> tuple[int, dict]:
        with self.lock:
            if key in self.refused:
                status, body = 422, {"error": "unknown supplier"}
            elif self.script:
                status, body = self.script.pop(0), {"error": "try later"}
            else:
                known = key in self.references
                if not known:
                    self.references[key] = f"REQ-{len(self.references) + 17:05d}"
                status = 200 if known else 201
                body = {"reference": self.references[key]}
            self.attempts.append(Attempt(key, document, status))
        return status, body

    def accepted(self) -> list[Attempt]:
        """The posts that created a requisition."""
        return [attempt for attempt in self.attempts if attempt.status == 201]


@pytest.fixture
def erp() -> Iterator[tuple[FakeErp, str]]:
    """A scripted ERP on a free port of 127.0.0.1, and its requisitions URL."""
    state = FakeErp()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            document = orjson.loads(self.rfile.read(length))
            status, body = state.answer(self.headers.get("Idempotency-Key"), document)
            content = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the attempts, not a log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/requisitions"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _proposal(material_id: str, unit_cost: float) -> PurchaseRequest:
    return propose(
        material_id=material_id,
        warehouse_id="W1",
        unit="EA",
        unit_cost=unit_cost,
        moq=0.0,
        pack_size=10.0,
        supplier_id="S1",
        reorder_point=120.0,
        order_up_to=300.0,
        projected_stockout_date=date(2026, 4, 20),
        lead_time_days=14.0,
        position=40.0,
        alert_ids=[f"alert-{material_id}"],
        now=T0,
        raised=0,
        currency="EUR",
    )


def _publish(pipeline: Pipeline, *transitions: PurchaseRequest) -> None:
    for transition in transitions:
        pipeline.send(PURCHASE_REQUESTS, encode(transition), key=transition.request_id.encode())
    pipeline.flush()


def _approved(pipeline: Pipeline, material_id: str) -> PurchaseRequest:
    """A request approved by the policy, published as its two transitions."""
    proposed = _proposal(material_id, unit_cost=2.5)
    approved = approve_automatically(proposed, T0, "amount 650 EUR below 5000 EUR")
    _publish(pipeline, proposed, approved)
    return approved


def _handoff(pipeline: Pipeline, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKLOOP, "requests", "handoff", "--url", url, "--once"],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _recorded(pipeline: Pipeline, at_least: int) -> list[tuple[bytes, PurchaseRequestAction]]:
    """The actions on the actions topic, waiting up to a few seconds for ``at_least``."""
    records = pipeline.read_all(PURCHASE_REQUEST_ACTIONS, expected=at_least + 1, timeout=5)
    return [(r.key, PurchaseRequestAction.model_validate_json(r.value)) for r in records]


def test_an_approved_request_is_handed_off_once_through_retries_and_its_reference_recorded(
    idle_pipeline: Pipeline, erp: tuple[FakeErp, str]
):
    server, url = erp
    server.script = [503, 500]
    approved = _approved(idle_pipeline, "NUT-1")
    big = _proposal("VALVE-9", unit_cost=40.0)
    _publish(idle_pipeline, big, await_approval(big, "buyer-a", T0, "amount above 5000 EUR"))

    run = _handoff(idle_pipeline, url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"handed off {approved.request_id} (NUT-1 in W1, 650.00 EUR) as REQ-00017",
        "handed off 1 purchase requests, 0 refused by the ERP",
    ]
    assert [attempt.status for attempt in server.attempts] == [503, 500, 201]
    assert {attempt.key for attempt in server.attempts} == {approved.request_id}
    [accepted] = server.accepted()
    assert accepted.document == approved.model_dump(mode="json")

    [(key, action)] = _recorded(idle_pipeline, at_least=1)
    assert key == approved.request_id.encode()
    assert (action.action, action.request_id, action.material_id, action.erp_reference) == (
        "record_reference",
        approved.request_id,
        "NUT-1",
        "REQ-00017",
    )

    again = _handoff(idle_pipeline, url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["handed off 0 purchase requests, 0 refused by the ERP"]
    assert len(server.attempts) == 3
    assert len(_recorded(idle_pipeline, at_least=1)) == 1


def test_an_unavailable_erp_stops_the_run_and_the_next_run_posts_the_request_again(
    idle_pipeline: Pipeline, erp: tuple[FakeErp, str]
):
    server, url = erp
    server.script = [503] * 5
    approved = _approved(idle_pipeline, "NUT-1")

    down = _handoff(idle_pipeline, url)
    assert down.returncode == 1
    assert down.stderr.splitlines() == [
        f"error: ERP did not take purchase request {approved.request_id} in 5 attempts; "
        "last: HTTP 503"
    ]
    assert _recorded(idle_pipeline, at_least=0) == []

    up = _handoff(idle_pipeline, url)
    assert up.returncode == 0, up.stderr
    assert [attempt.status for attempt in server.attempts] == [503] * 5 + [201]
    [(_, action)] = _recorded(idle_pipeline, at_least=1)
    assert (action.request_id, action.erp_reference) == (approved.request_id, "REQ-00017")


def test_a_refused_request_is_reported_in_one_line_and_skipped_for_good(
    idle_pipeline: Pipeline, erp: tuple[FakeErp, str]
):
    server, url = erp
    refused = _approved(idle_pipeline, "NUT-1")
    taken = _approved(idle_pipeline, "BOLT-2")
    server.refused = {refused.request_id}

    run = _handoff(idle_pipeline, url)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        f"warning: ERP refused purchase request {refused.request_id} with HTTP 422: "
        '{"error":"unknown supplier"}; skipped'
    ]
    assert run.stdout.splitlines()[-1] == "handed off 1 purchase requests, 1 refused by the ERP"
    [(_, action)] = _recorded(idle_pipeline, at_least=1)
    assert action.request_id == taken.request_id

    again = _handoff(idle_pipeline, url)
    assert again.returncode == 0, again.stderr
    assert sorted(attempt.key for attempt in server.attempts) == sorted(
        [refused.request_id, taken.request_id]
    )
