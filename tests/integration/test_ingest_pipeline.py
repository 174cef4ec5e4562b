"""ERP records in over a real broker, material state out of the worker's API."""

import orjson
import pytest

from models.events import DeadLetter
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T = "2026-05-04T08:00:00Z"


def movement(event_id: str, kind: str, quantity: float, **extra) -> dict:
    return {
        "event_id": event_id,
        "event_time": T,
        "material_id": "M-1",
        "movement_type": kind,
        "warehouse_id": "W1",
        "quantity": quantity,
        **extra,
    }


def test_plain_events_build_the_material_state(pipeline: Pipeline):
    pipeline.send(
        "erp.materials",
        {
            "event_id": "m1",
            "event_time": T,
            "material_id": "M-1",
            "name": "Cotton fabric",
            "unit_cost": 3.5,
            "abc_class": "A",
        },
    )
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 100, batch_id="B1"))
    pipeline.send("erp.stock-movements", movement("i1", "issue", 30))
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "s1",
            "event_time": T,
            "material_id": "M-1",
            "order_id": "SO-9",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 50,
            "due_date": "2026-05-09",
            "status": "confirmed",
            "unit_price": 9.9,
            "customer_id": "C-1",
            "customer_priority": 1,
        },
    )
    pipeline.send(
        "erp.shipments",
        {
            "event_id": "p1",
            "event_time": T,
            "material_id": "M-1",
            "line_id": "PO-7/1",
            "supplier_id": "S-1",
            "warehouse_id": "W1",
            "quantity": 80,
            "ordered_at": "2026-04-20T00:00:00Z",
            "eta": "2026-05-12",
            "status": "shipped",
        },
    )
    pipeline.flush()

    state = wait_until(lambda: (s := pipeline.material("M-1")) and s["events_applied"] == 5 and s)
    stock = state["warehouses"]["W1"]
    assert state["master"]["name"] == "Cotton fabric"
    assert stock["on_hand"] == 70
    assert stock["committed"] == 50
    assert stock["available"] == 20
    assert stock["in_transit"] == 80
    assert stock["inventory_value"] == 245.0
    assert stock["last_issue_at"].startswith("2026-05-04T08:00")
    assert pipeline.material("NOPE") is None

    shown = pipeline.cli("materials", "show", "M-1")
    row = next(line for line in shown.splitlines() if "W1" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:6] == ["W1", "70", "50", "20", "80", "245.00"]


BAD_RECORDS = [
    ("malformed JSON", b'{"event_id": "x", "quantity": ', "json"),
    ("wrong type", orjson.dumps(movement("w1", "issue", "lots")), "quantity"),
    ("unknown field", orjson.dumps(movement("u1", "issue", 1, colour="red")), "colour"),
    ("oversize", orjson.dumps(movement("o1", "issue", 1, batch_id="B" * 70_000)), "bytes"),
]


def test_invalid_records_are_dead_lettered_with_a_reason_and_counters_add_up(pipeline: Pipeline):
    # One key, so one partition: dead letters come out in the order the records went in.
    for _, value, _ in BAD_RECORDS:
        pipeline.send("erp.stock-movements", value, key=b"M-1")
    pipeline.send(
        "erp.stock-movements",
        {
            "schema": None,
            "payload": {
                "op": "x",
                "before": None,
                "after": {},
                "source": {"table": "inv_transaction", "ts_ms": 1},
            },
        },
        key=b"M-1",
    )
    good = movement("g1", "receipt", 5)
    pipeline.send("erp.stock-movements", good, key=b"M-1")
    pipeline.send("erp.stock-movements", good, key=b"M-1")  # the ERP sends it twice
    pipeline.send("erp.stock-movements", None, key=b"M-1")  # a tombstone
    pipeline.flush()

    letters = pipeline.read_all("stockloop.dead-letter", expected=len(BAD_RECORDS) + 1)
    assert len(letters) == len(BAD_RECORDS) + 1
    reasons = [DeadLetter.model_validate_json(r.value).reason for r in letters]
    for (name, value, needle), letter, reason in zip(BAD_RECORDS, letters, reasons, strict=False):
        assert needle in reason.lower(), (name, reason)
        assert "\n" not in reason
        assert DeadLetter.model_validate_json(letter.value).value == value
    assert "op" in reasons[-1] and "'x'" in reasons[-1]
    first = DeadLetter.model_validate_json(letters[0].value).source
    assert first.topic == pipeline.settings.topic("erp.stock-movements")

    def settled() -> dict | None:
        counts = pipeline.counters()
        done = counts.get(("erp.stock-movements", "duplicate"), 0) == 1
        return counts if done else None

    counts = wait_until(settled)
    get = lambda outcome: counts.get(("erp.stock-movements", outcome), 0)  # noqa: E731
    assert get("received") == 8
    assert get("dead_lettered") == 5
    assert get("applied") == 1
    assert get("duplicate") == 1
    assert get("tombstone") == 1
    assert get("received") == get("applied") + get("duplicate") + get("dead_lettered") + get(
        "tombstone"
    )
    assert pipeline.material("M-1")["warehouses"]["W1"]["on_hand"] == 5
