"""``stockloop requests`` on the real broker: list, show, decide, refuse, export.

The requests are produced straight to ``stockloop.purchase-requests`` as a
worker would publish them (built with ``models.purchasing``); no worker runs,
so a decision stays on the actions topic, where the test reads it.
"""

import csv
import json
import os
import socket
import subprocess
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

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


def _proposal(material_id: str, raised: int, stockout: date, unit_cost: float) -> PurchaseRequest:
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
        projected_stockout_date=stockout,
        lead_time_days=14.0,
        position=40.0,
        alert_ids=[f"alert-{material_id}"],
        now=T0,
        raised=raised,
        currency="EUR",
    )


def _run(pipeline: Pipeline, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``stockloop ARGUMENTS`` against the pipeline's topics, whatever its exit code."""
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def published(idle_pipeline: Pipeline) -> dict[str, PurchaseRequest]:
    """Three requests as a worker publishes them: pending (two records), approved, proposed."""
    big = _proposal("VALVE-9", 0, date(2026, 4, 20), unit_cost=40.0)
    pending = await_approval(big, "buyer-a", T0, "amount 10400 EUR above 5000 EUR")
    small = _proposal("NUT-1", 0, date(2026, 4, 20), unit_cost=2.5)
    approved = approve_automatically(small, T0, "amount 650 EUR below 5000 EUR")
    later = _proposal("BOLT-2", 0, date(2026, 5, 30), unit_cost=1.0)
    for record in (big, pending, small, approved, later):
        idle_pipeline.send(PURCHASE_REQUESTS, encode(record), key=record.request_id.encode())
    idle_pipeline.flush()
    return {"pending": pending, "approved": approved, "proposed": later}


def test_list_shows_each_request_once_in_its_latest_state_most_urgent_first(
    idle_pipeline: Pipeline, published: dict[str, PurchaseRequest]
):
    listing = idle_pipeline.cli("requests", "list")
    rows = [line for line in listing.splitlines() if "pr-" in line]
    pending, approved, proposed = published["pending"], published["approved"], published["proposed"]
    assert [next(r for r in published.values() if r.request_id in row) for row in rows] == [
        pending,  # same latest order date as the approved one, larger amount
        approved,
        proposed,
    ]
    assert "pending_approval" in rows[0] and "buyer-a" in rows[0] and "10,400.00 EUR" in rows[0]
    assert "approved" in rows[1] and "stockloop" in rows[1] and "260 EA" in rows[1]
    assert "3 purchase requests" in listing

    as_json = json.loads(
        idle_pipeline.cli("requests", "list", "--status", "approved", "--format", "json")
    )
    assert as_json == [approved.model_dump(mode="json")]
    of_material = idle_pipeline.cli("requests", "list", "--material", "BOLT-2")
    assert proposed.request_id in of_material and pending.request_id not in of_material


def test_show_lists_every_transition_with_its_reason_and_the_explanation(
    idle_pipeline: Pipeline, published: dict[str, PurchaseRequest]
):
    pending = published["pending"]
    shown = idle_pipeline.cli("requests", "show", pending.request_id)
    assert "pending_approval" in shown and "VALVE-9" in shown
    assert pending.explanation.split("; ")[0] in shown
    assert "alert-VALVE-9" in shown
    assert "amount 10400 EUR above 5000 EUR" in shown
    assert "proposed" in shown

    unknown = _run(idle_pipeline, "requests", "show", "pr-nothing")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        "error: no purchase request has id 'pr-nothing' (see `stockloop requests list`)"
    ]


def test_approve_sends_one_action_keyed_by_the_request_naming_its_material(
    idle_pipeline: Pipeline, published: dict[str, PurchaseRequest]
):
    pending = published["pending"]
    before = datetime.now(UTC)
    said = idle_pipeline.cli(
        "requests", "approve", pending.request_id, "--by", "lin", "--reason", "budget ok"
    )
    assert f"sent approve of {pending.request_id}" in said and "by lin: budget ok" in said

    [record] = idle_pipeline.read_all(PURCHASE_REQUEST_ACTIONS, expected=1)
    action = PurchaseRequestAction.model_validate_json(record.value)
    assert record.key == pending.request_id.encode()
    assert (action.action, action.request_id, action.material_id, action.by, action.reason) == (
        "approve",
        pending.request_id,
        "VALVE-9",
        "lin",
        "budget ok",
    )
    assert before <= action.at <= datetime.now(UTC)


def test_a_decision_on_a_decided_request_is_refused_in_one_line_and_nothing_is_sent(
    idle_pipeline: Pipeline, published: dict[str, PurchaseRequest]
):
    approved = published["approved"]
    refused = _run(
        idle_pipeline, "requests", "reject", approved.request_id, "--by", "lin", "--reason", "no"
    )
    assert refused.returncode == 1 and refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith(
        f"error: request_id={approved.request_id}: cannot reject an approved request"
    )
    assert line.endswith("(stockloop)")

    unknown = _run(idle_pipeline, "requests", "approve", "pr-nothing", "--by", "lin")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: no purchase request has id 'pr-nothing'")

    changed = idle_pipeline.cli(
        "requests", "change-quantity", published["proposed"].request_id, "300", "--by", "ana"
    )
    assert "change quantity to 300 EA" in changed
    records = idle_pipeline.read_all(PURCHASE_REQUEST_ACTIONS, expected=2, timeout=5)
    actions = [PurchaseRequestAction.model_validate_json(r.value) for r in records]
    assert [(a.action, a.quantity) for a in actions] == [("change_quantity", 300.0)]


def test_export_writes_the_approved_requests_as_csv(
    idle_pipeline: Pipeline, published: dict[str, PurchaseRequest], tmp_path: Path
):
    output = tmp_path / "requisitions.csv"
    said = idle_pipeline.cli("requests", "export", "--format", "csv", "--output", str(output))
    assert f"wrote 1 purchase requests to {output}" in said

    with output.open(newline="", encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    approved = published["approved"]
    assert [(r["request_id"], r["status"], r["quantity"], r["amount"]) for r in rows] == [
        (approved.request_id, "approved", "260.0", "650.0")
    ]
    assert output.read_bytes().count(b"\r\n") == 2

    every_open = idle_pipeline.cli(
        "requests", "export", "--format", "jsonl", "--status", "approved", "--status", "proposed"
    )
    assert [json.loads(line)["request_id"] for line in every_open.splitlines()] == [
        approved.request_id,
        published["proposed"].request_id,
    ]


def test_without_the_topics_or_a_broker_a_requests_command_is_one_line(idle_pipeline: Pipeline):
    prefix = f"nothing-{uuid.uuid4().hex[:8]}."
    missing = subprocess.run(
        [STOCKLOOP, "requests", "list"],
        env=idle_pipeline.env | {"STOCKLOOP_TOPIC_PREFIX": prefix},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"error: topic {prefix}{PURCHASE_REQUESTS} does not exist; "
        "create the catalogue's topics with `stockloop topics apply`"
    ]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    no_broker = subprocess.run(
        [STOCKLOOP, "requests", "approve", "pr-1", "--by", "lin"],
        env=dict(os.environ) | {"STOCKLOOP_BROKER_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert no_broker.returncode == 1
    [line] = (no_broker.stdout + no_broker.stderr).splitlines()
    assert f"127.0.0.1:{port}" in line and "stockloop broker start" in line
    assert time.monotonic() - started < 30
