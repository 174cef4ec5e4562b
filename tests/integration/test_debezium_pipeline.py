"""Debezium change events of the example ERP, through a real broker, into material state."""

from datetime import date, datetime

import orjson
import pytest

from tests.debezium import (
    change,
    column,
    columns_of,
    decimal_column,
    epoch_micros,
    inv_transaction,
    item_master,
    po_line,
    precise,
    so_line,
    with_schema,
)
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

KEY = b'{"item_no": "BRG-6204-2RS"}'


def send(pipeline: Pipeline, topic: str, envelope: dict | None) -> None:
    pipeline.send(topic, orjson.dumps(envelope) if envelope is not None else None, key=KEY)


def test_debezium_changes_build_the_material_state(pipeline: Pipeline):
    send(pipeline, "erp.materials", change("item_master", "r", after=item_master()))
    receipt = inv_transaction(qty=precise("500.000", 3), po_line_id=None)
    send(
        pipeline,
        "erp.stock-movements",
        with_schema(
            change("inv_transaction", "c", after=receipt),
            columns_of(
                receipt,
                qty=decimal_column("qty", 3),
                unit_cost=decimal_column("unit_cost", 4),
                posted_at=column("posted_at", "int64", "io.debezium.time.MicroTimestamp"),
            ),
        ),
    )
    issue = inv_transaction(
        trans_id=884_212,
        trans_type=261,
        qty=precise("-120.500", 3),
        lot_no=None,
        po_line_id=None,
        posted_at=epoch_micros(datetime(2024, 3, 2, 10, 0)),
    )
    send(pipeline, "erp.stock-movements", change("inv_transaction", "c", after=issue))

    confirmed = so_line(qty_ordered=precise("80.000", 3))
    send(pipeline, "erp.sales-orders", change("so_line", "c", after=confirmed))
    shipped_part = so_line(
        qty_ordered=precise("80.000", 3), qty_shipped=precise("30.000", 3), line_status="P"
    )
    send(
        pipeline,
        "erp.sales-orders",
        change("so_line", "u", before=confirmed, after=shipped_part, lsn=24_023_200),
    )
    doomed = so_line(line_no=20, qty_ordered=precise("15.000", 3))
    send(pipeline, "erp.sales-orders", change("so_line", "c", after=doomed, lsn=24_023_300))
    send(pipeline, "erp.sales-orders", change("so_line", "d", before=doomed, lsn=24_023_400))
    send(pipeline, "erp.sales-orders", None)  # the tombstone Debezium writes after a delete

    send(
        pipeline,
        "erp.shipments",
        change("po_line", "c", after=po_line(qty_received=precise("0", 3))),
    )
    against_po = inv_transaction(
        trans_id=884_213, qty=precise("300.000", 3), po_line_id=77_012, lot_no="L240303-01"
    )
    send(pipeline, "erp.stock-movements", change("inv_transaction", "c", after=against_po))
    pipeline.flush()

    state = wait_until(
        lambda: (s := pipeline.material("BRG-6204-2RS")) and s["events_applied"] == 9 and s
    )
    stock = state["warehouses"]["SH01"]
    assert state["master"]["name"] == "Deep groove ball bearing 6204-2RS"
    assert state["master"]["service_level"] == 0.95
    assert stock["on_hand"] == 679.5  # 500 - 120.5 + 300
    assert [(b["batch_id"], b["quantity"]) for b in stock["batches"]] == [
        ("L240301-07", 379.5),
        ("L240303-01", 300.0),
    ]
    assert stock["committed"] == 50  # 80 ordered - 30 shipped; line 20 deleted
    assert stock["in_transit"] == 1700  # 2000 ordered - 300 received against the line
    assert stock["committed_lines"]["SO-24-00017/10"]["due_date"] == str(date(2024, 3, 15))
    counts = wait_until(
        lambda: (c := pipeline.counters()).get(("erp.sales-orders", "tombstone")) and c
    )
    assert counts[("erp.sales-orders", "received")] == 5
