"""Shortage analysis on the real broker: a production order of a 3-level BOM, checked by hand.

Stock arrives as ERP events (masters, receipts, PO lines, a sales order); the
material agent publishes each material's availability, every worker mirrors
it; BOM lines are folded into their table; a production order is then
analysed against all of it, and ``stockloop shortage`` answers the same
question from the topics without creating anything.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
NEED = date(2026, 4, 13)
PARTS = ("A", "P1", "P2", "P3", "P4")


def day(offset: int) -> str:
    return (NEED + timedelta(days=offset)).isoformat()


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def send_stock(pipeline: Pipeline) -> None:
    """Masters, receipts, PO lines and a confirmed sales order, all in warehouse W1."""
    for minute, material_id in enumerate(PARTS):
        pipeline.send(
            "erp.materials",
            {
                "event_id": f"{material_id}-m",
                "event_time": at(minute),
                "material_id": material_id,
                "name": f"part {material_id}",
                # P2's expedite (50 at 1,000) waits for a person: the others approve themselves.
                "unit_cost": 1000 if material_id == "P2" else 1,
            },
        )
    for material_id, quantity in {"A": 5, "P1": 20, "P2": 30, "P3": 4, "P4": 50}.items():
        pipeline.send(
            "erp.stock-movements",
            {
                "event_id": f"{material_id}-r",
                "event_time": at(10),
                "material_id": material_id,
                "movement_type": "receipt",
                "warehouse_id": "W1",
                "quantity": quantity,
            },
        )
    po_lines = [("PO-1", "P1", 10, -2), ("PO-2", "P1", 5, 5), ("PO-3", "P2", 60, 2)]
    for line_id, material_id, quantity, eta in [*po_lines, ("PO-4", "P3", 30, 3)]:
        pipeline.send(
            "erp.shipments",
            {
                "event_id": f"{line_id}-v1",
                "event_time": at(20),
                "material_id": material_id,
                "line_id": line_id,
                "supplier_id": "S1",
                "warehouse_id": "W1",
                "quantity": quantity,
                "ordered_at": at(20),
                "eta": day(eta),
                "status": "ordered",
            },
        )
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "SO-1-v1",
            "event_time": at(30),
            "material_id": "P2",
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 5,
            "due_date": day(-1),
            "status": "confirmed",
        },
    )


BOM = [
    ("X", "A", 2, 0),
    ("X", "P1", 3, 10),
    ("X", "P4", 1, 0),
    ("A", "B", 1, 0),
    ("A", "P2", 4, 0),
    ("B", "P3", 2, 0),
    ("B", "P2", 1, 0),
]


def send_bom(pipeline: Pipeline) -> int:
    """The 3-level BOM, a line added then deleted, and a bad line; how many records were sent."""
    lines = [*BOM, ("X", "P5", 1, 0)]
    for number, (parent, component, per, scrap) in enumerate(lines):
        pipeline.send(
            "erp.boms",
            {
                "event_id": f"bom-{number}",
                "event_time": at(40),
                "parent_id": parent,
                "component_id": component,
                "quantity_per": per,
                "scrap_pct": scrap,
            },
            key=f"{parent}|{component}".encode(),
        )
    deleted = {"event_id": "bom-del", "event_time": at(41), "parent_id": "X"}
    deleted |= {"component_id": "P5", "quantity_per": 1, "deleted": True}
    pipeline.send("erp.boms", deleted, key=b"X|P5")
    bad = {"event_id": "bom-bad", "event_time": at(42), "parent_id": "X", "component_id": "P6"}
    pipeline.send("erp.boms", bad | {"quantity_per": 0}, key=b"X|P6")
    return len(lines) + 2


def availability(pipeline: Pipeline) -> tuple[int, dict[str, dict]]:
    """Records on stockloop.availability so far, and each material's latest row in W1."""
    records = pipeline.read_all("stockloop.availability", expected=10**6, timeout=3)
    latest = {r.key.decode(): orjson.loads(r.value)["warehouses"].get("W1") for r in records}
    return len(records), latest


EXPECTED_AVAILABILITY = {
    "A": (5, [], []),
    "P1": (20, [], [[day(-2), 10], [day(5), 5]]),
    "P2": (30, [[day(-1), 5]], [[day(2), 60]]),
    "P3": (4, [], [[day(3), 30]]),
    "P4": (50, [], []),
}


def availability_published(pipeline: Pipeline) -> int | None:
    count, latest = availability(pipeline)
    seen = {
        material_id: (row["on_hand_available"], row["confirmed_demand"], row["in_transit"])
        for material_id, row in latest.items()
        if row is not None
    }
    return count if seen == EXPECTED_AVAILABILITY else None


def test_a_production_order_of_a_three_level_bom_gets_its_hand_checked_shortage(
    pipeline: Pipeline, tmp_path: Path
):
    """10 X, needed on D = 2026-04-13, in W1.

    Structure: X <- 2 A, 3 P1 (+10 % scrap), 1 P4; A <- 1 B, 4 P2; B <- 2 P3, 1 P2.
    Levels: A, P1, P4 at 1; B at 2; P2 (under A and under B) and P3 at 3.

    - A: gross 10 x 2 = 20; 5 on the shelf are used first, so 15 are built.
    - B: gross 15 x 1 = 15; none anywhere, so 15 are built.
    - P1: 10 x 3 x 1.1 = 33; 20 on hand + PO-1 10 due D-2 = 30; missing 3;
      PO-2 brings 5 on D+5, so covered by D+5.
    - P2: 15 x 4 (A) + 15 x 1 (B) = 75; 30 on hand - 5 confirmed for SO-1 due D-1
      = 25; nothing in time; missing 50; PO-3 brings 60 on D+2: covered by D+2.
    - P3: 15 x 2 = 30; 4 on hand; PO-4 (30) comes on D+3, after D; missing 26,
      covered by D+3.
    - P4: 10 x 1 = 10, 50 available on hand: complete, covered by D.
    - B is covered when P3 and P2 are: D+3; A when B and P2 are: D+3.
    - Kit completeness: 1 of 4 parts (P4) = 0.25; quantity there in time:
      (30 + 25 + 4 + 10) / (33 + 75 + 30 + 10) = 69 / 148.
    - Earliest feasible start: the latest covered-by, D+5 (P1).
    """
    send_stock(pipeline)
    bom_records = send_bom(pipeline)
    pipeline.flush()

    published = wait_until(
        lambda: availability_published(pipeline),
        timeout=90,
        describe=lambda: availability(pipeline),
    )
    # Generous: a rebalance on a loaded machine costs a session timeout and a re-join.
    wait_until(lambda: pipeline.control_records("stockloop.availability") >= published, timeout=150)
    wait_until(
        lambda: pipeline.counters().get(("erp.boms", "received")) == bom_records, timeout=150
    )
    counts = pipeline.counters()
    assert (counts[("erp.boms", "applied")], counts[("erp.boms", "dead_lettered")]) == (9, 1)
    letters = [orjson.loads(r.value) for r in pipeline.read_all("stockloop.dead-letter", 1)]
    assert [letter["reason"] for letter in letters] == [
        "quantity_per=0: Input should be greater than 0"
    ]

    order = {
        "material_id": "X",
        "warehouse_id": "W1",
        "quantity": 10,
        "need_date": NEED.isoformat(),
    }
    pipeline.send(
        "erp.production-orders",
        {
            **order,
            "event_id": "MO-1-v1",
            "event_time": at(60),
            "order_id": "MO-1",
            "status": "released",
        },
        key=b"MO-1",
    )
    pipeline.flush()

    [record] = pipeline.read_all("stockloop.shortages", 1, timeout=60)
    result = orjson.loads(record.value)
    assert record.key == b"MO-1"
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
        "A": (1, 20, 5, 0, 15, 0, day(3)),
        "P1": (1, 33, 20, 10, 0, 3, day(5)),
        "P4": (1, 10, 50, 0, 0, 0, day(0)),
        "B": (2, 15, 0, 0, 15, 0, day(3)),
        "P2": (3, 75, 25, 0, 0, 50, day(2)),
        "P3": (3, 30, 4, 0, 0, 26, day(3)),
    }
    assert [c["component_id"] for c in result["components"]] == ["A", "P1", "P4", "B", "P2", "P3"]
    assert result["missing_components"] == ["P1", "P2", "P3"]
    assert result["kit_completeness"] == 0.25
    assert result["quantity_completeness"] == pytest.approx(69 / 148)
    assert result["earliest_feasible_start"] == day(5)

    notices = [
        orjson.loads(r.value)
        for r in pipeline.read_all("stockloop.material-events", 10**6, timeout=3)
        if b'"expedite"' in r.value
    ]
    assert sorted((n["material_id"], n["quantity"], n["needed_by"]) for n in notices) == [
        ("P1", 3, day(0)),
        ("P2", 50, day(0)),
        ("P3", 26, day(0)),
    ]
    assert {(n["order_id"], n["shortage_id"]) for n in notices} == {("MO-1", result["id"])}

    question = tmp_path / "ORDER.json"
    question.write_bytes(orjson.dumps({**order, "order_id": "MO-1"}))
    answer = orjson.loads(pipeline.cli("shortage", str(question), "--format", "json"))
    assert answer["components"] == result["components"]
    assert answer["earliest_feasible_start"] == day(5)
    table = pipeline.cli("shortage", str(question))
    assert "earliest feasible start 2026-04-18" in table
    assert "kit completeness 25% of parts" in table
    assert len(pipeline.read_all("stockloop.shortages", 2, timeout=3)) == 1
    # The worker's own result for the real order, as stockloop shortage --order prints it.
    assert orjson.loads(pipeline.cli("shortage", "--order", "MO-1", "--format", "json")) == result
    assert "earliest feasible start 2026-04-18" in pipeline.cli("shortage", "--order", "MO-1")

    def expedited() -> dict[str, dict]:
        """Each part's expedited request for MO-1, as its latest record says."""
        latest = {}
        for record in pipeline.read_all("stockloop.purchase-requests", 10**6, timeout=3):
            request = orjson.loads(record.value)
            if "MO-1" in request["explanation"]:
                latest[request["material_id"]] = request
        return latest

    raised = wait_until(lambda: len(s := expedited()) == 3 and s)
    assert raised["P2"]["status"] == "pending_approval"
    # A live tick brings April's approved requests to today: they may have expired by now.
    assert {raised[part]["status"] for part in ("P1", "P3")} <= {"approved", "expired"}
    pipeline.send(
        "erp.production-orders",
        {**order, "event_id": "MO-1-v2", "event_time": at(90), "order_id": "MO-1"}
        | {"status": "cancelled"},
        key=b"MO-1",
    )
    pipeline.flush()
    withdrawn = wait_until(lambda: (r := expedited()["P2"])["status"] == "cancelled" and r)
    assert withdrawn["reason"] == "need gone: order MO-1 withdrawn"
