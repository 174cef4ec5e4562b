"""A rush sales order of an assembled item on the real broker: the build it needs, hand-checked.

Stock, supply, BOM lines and a competing production order arrive as ERP
events; then a customer orders 10 X for delivery in three days, sooner than
X's cumulative lead time. The shortage agent reads the line where ingest put
it, nets it against X's own stock, analyses the rest as a build competing
with the production order, publishes a ``ShortageResult`` for ``SO-7/10`` and
expedites the missing parts; cancelling the line withdraws them.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
DUE = date(2026, 4, 9)  # three days after T0: within X's cumulative lead time of 10 days
WAIT = 120.0  # seconds: generous, for a loaded machine


def day(offset: int) -> str:
    return (DUE + timedelta(days=offset)).isoformat()


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


BOM = [  # parent, component, quantity per, scrap %, lead time days
    ("X", "A", 2, 0, None),
    ("X", "P1", 1, 10, 3),
    ("A", "B", 1, 0, None),
    ("A", "P2", 3, 0, 10),
    ("B", "P3", 2, 0, None),
    ("Y", "P3", 2, 0, None),
    ("Z", "Z2", 1, 0, None),  # Z and Z2 contain each other: a rush line of Z cannot be analysed
    ("Z2", "Z", 1, 0, None),
]
ON_HAND = {"X": 4, "A": 3, "P1": 5, "P2": 20, "P3": 6}
PO_LINES = [("PO-1", "P1", 4, -2), ("PO-2", "P1", 10, 3), ("PO-3", "P2", 30, 4)]


def sales_line(
    order_id: str, material_id: str, quantity: float, due: str, minute: int, **more
) -> dict:
    return {
        "event_id": f"{order_id}-v1",
        "event_time": at(minute),
        "material_id": material_id,
        "order_id": order_id,
        "line_id": "10",
        "warehouse_id": "W1",
        "quantity": quantity,
        "due_date": due,
        "status": "confirmed",
    } | more


def send_plant(pipeline: Pipeline) -> None:
    """Masters, stock, PO lines and BOM lines, all in warehouse W1."""
    for minute, material_id in enumerate(ON_HAND):
        master = {"event_id": f"{material_id}-m", "event_time": at(minute)}
        # P2's expedite (13 at 1,000) waits for a person: the others approve themselves.
        master |= {"material_id": material_id, "name": f"item {material_id}"}
        pipeline.send("erp.materials", master | {"unit_cost": 1000 if material_id == "P2" else 1})
    for material_id, quantity in ON_HAND.items():
        receipt = {"event_id": f"{material_id}-r", "event_time": at(10), "warehouse_id": "W1"}
        receipt |= {"material_id": material_id, "movement_type": "receipt", "quantity": quantity}
        pipeline.send("erp.stock-movements", receipt)
    for line_id, material_id, quantity, eta in PO_LINES:
        po_line = {"event_id": f"{line_id}-v1", "event_time": at(20), "line_id": line_id}
        po_line |= {"material_id": material_id, "supplier_id": "S1", "warehouse_id": "W1"}
        po_line |= {"quantity": quantity, "ordered_at": at(20), "eta": day(eta)}
        pipeline.send("erp.shipments", po_line | {"status": "ordered"})
    for number, (parent, component, per, scrap, lead) in enumerate(BOM):
        bom_line = {"event_id": f"bom-{number}", "event_time": at(30), "parent_id": parent}
        bom_line |= {"component_id": component, "quantity_per": per, "scrap_pct": scrap}
        if lead is not None:
            bom_line["lead_time_days"] = lead
        pipeline.send("erp.boms", bom_line, key=f"{parent}|{component}".encode())


EXPECTED_AVAILABILITY = {  # on hand available, confirmed demand, in transit
    "X": (4, [[day(-1), 1], [day(30), 50]], []),
    "A": (3, [], []),
    "P1": (5, [], [[day(-2), 4], [day(3), 10]]),
    "P2": (20, [], [[day(4), 30]]),
    "P3": (6, [], []),
}


def availability_published(pipeline: Pipeline, expected: dict[str, tuple]) -> int | None:
    """Records on stockloop.availability once every material shows ``expected``, else None."""
    records = pipeline.read_all("stockloop.availability", expected=10**6, timeout=3)
    latest = {r.key.decode(): orjson.loads(r.value)["warehouses"].get("W1") for r in records}
    seen = {
        material_id: (row["on_hand_available"], row["confirmed_demand"], row["in_transit"])
        for material_id, row in latest.items()
        if row is not None
    }
    return len(records) if seen == expected else None


def settle(pipeline: Pipeline, expected: dict[str, tuple]) -> None:
    """Wait until the availability view is ``expected`` and the worker has mirrored all of it.

    A line is analysed against the view as it is when the line arrives: stock
    posted a moment earlier may not be in it yet.
    """
    published = wait_until(lambda: availability_published(pipeline, expected), timeout=WAIT)
    wait_until(lambda: pipeline.control_records("stockloop.availability") >= published, WAIT)


def results(pipeline: Pipeline, expected: int, timeout: float = WAIT) -> dict[bytes, dict]:
    """The results on stockloop.shortages by key, once ``expected`` are there or at timeout."""
    records = pipeline.read_all("stockloop.shortages", expected, timeout=timeout)
    return {record.key: orjson.loads(record.value) for record in records}


def test_a_rush_sales_order_of_an_assembled_item_gets_its_hand_checked_shortage_and_expedites(
    pipeline: Pipeline, tmp_path: Path
):
    """SO-7/10: 10 X due D = 2026-04-09, in W1; the line is not flagged rush, but X's
    cumulative lead time is 10 days (P2, under A) and the line is due in 3.

    - X: 4 on hand; SO-5/10 (1 X due D-1) ships first, SO-9/10 (50 X due D+30) after:
      4 - 1 = 3 cover the line, 7 X are built. SO-5/10 itself is covered by stock and
      SO-9/10 is not rush (33 days): neither is analysed.
    - MO-1 builds 1 Y (2 P3) by D-1: ahead of SO-7/10, it takes 2 of P3's 6.
    - A: gross 7 x 2 = 14; 3 on the shelf are used, 11 are built.
    - P1: 7 x 1 x 1.1 = 7.7; 5 on hand + PO-1's 4 due D-2 = 9: nothing missing.
    - B: 11 x 1 = 11, none anywhere: 11 built.
    - P2: 11 x 3 = 33; 20 on hand, PO-3's 30 come on D+4: missing 13, covered by D+4.
    - P3: 11 x 2 = 22; 6 - 2 for MO-1 = 4: missing 18, nothing coming: never covered.
    - Kit 1 of 3 parts (P1); quantity there in time (7.7 + 20 + 4) / (7.7 + 33 + 22).
    """
    send_plant(pipeline)
    pipeline.flush()
    settle(pipeline, EXPECTED_AVAILABILITY | {"X": (4, [], [])})
    wait_until(lambda: pipeline.counters().get(("erp.boms", "applied")) == len(BOM), WAIT)
    pipeline.send("erp.sales-orders", sales_line("SO-5", "X", 1, day(-1), 50), key=b"SO-5|10")
    pipeline.send("erp.sales-orders", sales_line("SO-9", "X", 50, day(30), 51), key=b"SO-9|10")
    pipeline.flush()
    settle(pipeline, EXPECTED_AVAILABILITY)

    mo_1 = {"event_id": "MO-1-v1", "event_time": at(60), "material_id": "Y", "order_id": "MO-1"}
    mo_1 |= {"warehouse_id": "W1", "quantity": 1, "need_date": day(-1), "status": "released"}
    pipeline.send("erp.production-orders", mo_1, key=b"MO-1")
    pipeline.flush()
    assert results(pipeline, 1)[b"MO-1"]["missing_components"] == []

    so_z = sales_line("SO-Z", "Z", 5, day(1), 65, rush=True)
    pipeline.send("erp.sales-orders", so_z, key=b"SO-Z|10")
    pipeline.send("erp.sales-orders", sales_line("SO-7", "X", 10, day(0), 70), key=b"SO-7|10")
    pipeline.flush()

    found = wait_until(lambda: (r := results(pipeline, 2)) and b"SO-7/10" in r and r, WAIT)
    assert set(results(pipeline, 3, timeout=3)) == {b"MO-1", b"SO-7/10"}
    # SO-Z's item contains itself: its line is logged as not analysed and the agent goes on.
    refused = "not analysed: order SO-Z/10: BOM cycle Z -> Z2 -> Z"
    wait_until(lambda: refused in pipeline.log_path.read_text(), WAIT)
    result = found[b"SO-7/10"]
    assert (result["order_id"], result["material_id"], result["warehouse_id"]) == (
        "SO-7/10",
        "X",
        "W1",
    )
    assert (result["quantity"], result["need_date"], result["rush"]) == (7, day(0), True)
    assert result["orders_ahead"] == ["MO-1"]
    lines = {
        c["component_id"]: (
            c["level"],
            c["required"],
            c["available"],
            c["arriving_in_time"],
            c["to_build"],
            c["missing"],
            c["covered_by"],
        )
        for c in result["components"]
    }
    assert lines == {
        "A": (1, 14, 3, 0, 11, 0, None),
        "P1": (1, pytest.approx(7.7), 5, 4, 0, 0, day(0)),
        "B": (2, 11, 0, 0, 11, 0, None),
        "P2": (2, 33, 20, 0, 0, 13, day(4)),
        "P3": (3, 22, 4, 0, 0, 18, None),
    }
    assert [c["component_id"] for c in result["components"]] == ["A", "P1", "B", "P2", "P3"]
    assert result["missing_components"] == ["P2", "P3"]
    assert result["kit_completeness"] == pytest.approx(1 / 3)
    assert result["quantity_completeness"] == pytest.approx(31.7 / 62.7)
    assert result["earliest_feasible_start"] is None

    # The same question on demand, as a sales order line: the same build, the same answer.
    question = tmp_path / "LINE.json"
    question.write_bytes(
        orjson.dumps(
            {"material_id": "X", "warehouse_id": "W1", "quantity": 10} | {"due_date": day(0)}
        )
    )
    answer = orjson.loads(pipeline.cli("shortage", str(question), "--format", "json"))
    assert (answer["order_id"], answer["quantity"]) == ("what-if/what-if", 7)
    assert answer["components"] == result["components"]
    question.write_bytes(
        orjson.dumps(
            {"material_id": "X", "warehouse_id": "W1", "quantity": 3} | {"due_date": day(0)}
        )
    )
    assert "its own stock there covers it" in pipeline.cli("shortage", str(question))

    def notices() -> list[dict]:
        records = pipeline.read_all("stockloop.material-events", 10**6, timeout=3)
        return [orjson.loads(r.value) for r in records if b'"expedite"' in r.value]

    sent = wait_until(lambda: len(n := notices()) == 2 and n, WAIT)
    assert sorted((n["material_id"], n["quantity"], n["needed_by"]) for n in sent) == [
        ("P2", 13, day(0)),
        ("P3", 18, day(0)),
    ]
    assert {(n["order_id"], n["shortage_id"]) for n in sent} == {("SO-7/10", result["id"])}

    def expedited() -> dict[str, dict]:
        """Each part's expedited request for SO-7/10, as its latest record says."""
        latest = {}
        for record in pipeline.read_all("stockloop.purchase-requests", 10**6, timeout=3):
            request = orjson.loads(record.value)
            if "SO-7/10" in request["explanation"]:
                latest[request["material_id"]] = request
        return latest

    raised = wait_until(lambda: len(s := expedited()) == 2 and s, WAIT)
    assert raised["P2"]["status"] == "pending_approval"
    assert "SO-7/10 lacks 13" in raised["P2"]["explanation"]
    assert "SO-7/10 lacks 18" in raised["P3"]["explanation"]

    cancelled = sales_line("SO-7", "X", 10, day(0), 90, status="cancelled", event_id="SO-7-v2")
    pipeline.send("erp.sales-orders", cancelled, key=b"SO-7|10")
    pipeline.flush()
    withdrawn = wait_until(lambda: (r := expedited()["P2"])["status"] == "cancelled" and r, WAIT)
    assert withdrawn["reason"] == "need gone: order SO-7/10 withdrawn"
    assert set(results(pipeline, 3, timeout=3)) == {b"MO-1", b"SO-7/10"}
