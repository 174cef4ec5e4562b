"""Transfers and dead-stock reviews on the real broker, end to end."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)


def receipt(material_id: str, warehouse_id: str, quantity: float, at: datetime) -> dict:
    return {
        "event_id": f"{material_id}-{warehouse_id}-{at.isoformat()}",
        "event_time": at.isoformat(),
        "material_id": material_id,
        "movement_type": "receipt",
        "warehouse_id": warehouse_id,
        "quantity": quantity,
        "unit_cost": 4.0,
    }


def records(pipeline: Pipeline, topic: str, expected: int) -> list[dict]:
    return [orjson.loads(r.value) for r in pipeline.read_all(topic, expected, timeout=30)]


def test_a_short_warehouse_beside_a_surplus_one_gets_a_transfer_and_no_request(
    pipeline: Pipeline,
):
    pipeline.send("erp.stock-movements", receipt("VALVE-1", "W2", 500, T0))
    pipeline.send("erp.stock-movements", receipt("VALVE-1", "W1", 100, T0 + timedelta(minutes=1)))
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "VALVE-1-so",
            "event_time": (T0 + timedelta(hours=1)).isoformat(),
            "material_id": "VALVE-1",
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 150,
            "due_date": (T0 + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
        },
    )
    pipeline.flush()
    transfers = wait_until(lambda: records(pipeline, "stockloop.transfers", 2)[1:], timeout=60)
    approved = transfers[0]
    assert (approved["status"], approved["from_warehouse"], approved["to_warehouse"]) == (
        "approved",
        "W2",
        "W1",
    )
    assert approved["quantity"] == 50
    assert records(pipeline, "stockloop.purchase-requests", 1) == []


def test_a_dead_stock_alert_opens_a_review_that_a_decision_through_the_cli_closes(
    pipeline: Pipeline,
):
    pipeline.send("erp.stock-movements", receipt("DUST-1", "W1", 100, T0))
    # The material's own clock moves 62 days on: its W1 stock has not moved since.
    pipeline.send("erp.stock-movements", receipt("DUST-1", "W9", 1, T0 + timedelta(days=62)))
    pipeline.flush()
    review = wait_until(lambda: records(pipeline, "stockloop.reviews", 1), timeout=60)[0]
    assert (review["status"], review["warehouse_id"], review["total_value"]) == (
        "open",
        "W1",
        400,
    )
    pipeline.cli("reviews", "decide", review["review_id"], "discount", "--by", "ann")
    decided = wait_until(lambda: records(pipeline, "stockloop.reviews", 2)[1:], timeout=60)[0]
    assert (decided["status"], decided["decision"], decided["decided_by"]) == (
        "decided",
        "discount",
        "ann",
    )


def test_a_transfer_worth_more_than_the_limit_waits_for_its_approver_then_ships(
    pipeline: Pipeline,
):
    """50 units at 200 EUR are worth 10,000: at or above the 5,000 default, the buyer decides."""
    pipeline.send(
        "erp.materials",
        {
            "event_id": "PUMP-1-m",
            "event_time": T0.isoformat(),
            "material_id": "PUMP-1",
            "name": "Pump housing",
            "unit_cost": 200,
        },
    )
    pipeline.send("erp.stock-movements", receipt("PUMP-1", "W2", 500, T0))
    pipeline.send("erp.stock-movements", receipt("PUMP-1", "W1", 100, T0 + timedelta(minutes=1)))
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "PUMP-1-so",
            "event_time": (T0 + timedelta(hours=1)).isoformat(),
            "material_id": "PUMP-1",
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 150,
            "due_date": (T0 + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
        },
    )
    pipeline.flush()
    [held] = wait_until(lambda: records(pipeline, "stockloop.transfers", 1), timeout=60)
    assert (held["status"], held["amount"], held["approver"], held["quantity"]) == (
        "proposed",
        10_000,
        "buyer",
        50,
    )
    assert "needs buyer" in held["reason"]
    listed = pipeline.cli("transfers", "list", "--status", "proposed")
    assert held["transfer_id"] in listed and "buyer" in listed
    assert records(pipeline, "stockloop.purchase-requests", 1) == []

    pipeline.cli("transfers", "approve", held["transfer_id"], "--by", "ann")
    approved = wait_until(lambda: records(pipeline, "stockloop.transfers", 2)[1:], timeout=60)[0]
    assert (approved["status"], approved["by"], approved["approver"]) == (
        "approved",
        "ann",
        "buyer",
    )

    pipeline.send(
        "erp.stock-movements",
        {
            "event_id": "PUMP-1-out",
            "event_time": (T0 + timedelta(hours=2)).isoformat(),
            "material_id": "PUMP-1",
            "movement_type": "transfer_out",
            "warehouse_id": "W2",
            "quantity": 50,
        },
    )
    pipeline.flush()
    shipped = wait_until(lambda: records(pipeline, "stockloop.transfers", 3)[2:], timeout=60)[0]
    assert (shipped["transfer_id"], shipped["status"], shipped["shipped_quantity"]) == (
        held["transfer_id"],
        "shipped",
        50,
    )
    shown = pipeline.cli("transfers", "show", held["transfer_id"])
    assert "shipped" in shown and "ann" in shown
