"""Purchase requests on the real broker: one per need, approved by policy or by a person."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)


def send_shortage(pipeline: Pipeline, material_id: str, unit_cost: float) -> None:
    """100 on hand, 150 confirmed: 50 short in W1."""
    pipeline.send(
        "erp.materials",
        {
            "event_id": f"{material_id}-m",
            "event_time": T0.isoformat(),
            "material_id": material_id,
            "name": "Hex bolt M8",
            "unit_cost": unit_cost,
            "pack_size": 10,
            "preferred_supplier": "S1",
        },
    )
    pipeline.send(
        "erp.stock-movements",
        {
            "event_id": f"{material_id}-r1",
            "event_time": (T0 + timedelta(minutes=30)).isoformat(),
            "material_id": material_id,
            "movement_type": "receipt",
            "warehouse_id": "W1",
            "quantity": 100,
        },
    )
    send_order(pipeline, material_id, "v1", 150, hours=1)


def send_order(pipeline: Pipeline, material_id: str, version: str, quantity: float, hours: float):
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": f"{material_id}-so-{version}",
            "event_time": (T0 + timedelta(hours=hours)).isoformat(),
            "material_id": material_id,
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": quantity,
            "due_date": (T0 + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
        },
    )


def requests_of(pipeline: Pipeline, material_id: str, expected: int) -> list[dict]:
    records = pipeline.read_all("stockloop.purchase-requests", expected, timeout=30)
    values = [orjson.loads(record.value) for record in records]
    return [value for value in values if value["material_id"] == material_id]


def test_an_alert_that_updates_several_times_gives_exactly_one_request(pipeline: Pipeline):
    send_shortage(pipeline, "BOLT-1", unit_cost=12.5)
    send_order(pipeline, "BOLT-1", "v2", 140, hours=2)
    send_order(pipeline, "BOLT-1", "v3", 120, hours=3)
    pipeline.flush()
    wait_until(lambda: (pipeline.material("BOLT-1") or {}).get("events_applied") == 5)
    alerts = [orjson.loads(r.value) for r in pipeline.read_all("stockloop.alerts", 4, timeout=30)]
    assert {a["status"] for a in alerts if a["rule_id"] == "supply_demand_gap"} >= {"raised"}

    requests = requests_of(pipeline, "BOLT-1", expected=3)
    assert [r["status"] for r in requests] == ["proposed", "approved"]
    assert len({r["request_id"] for r in requests}) == 1
    approved = requests[-1]
    assert (approved["quantity"], approved["amount"], approved["supplier_id"]) == (50, 625, "S1")
    assert approved["id"] == f"{approved['request_id']}-1"


def test_a_pending_request_is_approved_through_the_cli_and_a_bad_decision_is_dead_lettered(
    pipeline: Pipeline,
):
    send_shortage(pipeline, "PUMP-1", unit_cost=200)
    pipeline.flush()
    pending = wait_until(lambda: requests_of(pipeline, "PUMP-1", expected=2)[1:], timeout=60)[0]
    assert (pending["status"], pending["amount"], pending["approver"]) == (
        "pending_approval",
        10_000,
        "buyer",
    )

    sent = pipeline.cli(
        "requests", "approve", pending["request_id"], "--by", "alice", "--reason", "line stops"
    )
    assert pending["request_id"] in sent
    key = pending["request_id"].encode()
    pipeline.send("stockloop.purchase-request-actions", b'{"action": "approve"}', key=key)
    pipeline.flush()

    requests = wait_until(lambda: requests_of(pipeline, "PUMP-1", expected=3)[2:], timeout=60)
    assert (requests[0]["status"], requests[0]["decided_by"]) == ("approved", "alice")
    letters = [orjson.loads(r.value) for r in pipeline.read_all("stockloop.dead-letter", 1)]
    assert [letter["reason"] for letter in letters] == ["request_id: field required (+3 more)"]
