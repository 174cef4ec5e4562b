"""A worker killed with SIGKILL mid-stream loses nothing and counts nothing twice."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from models.events import MaterialEvent, SalesOrderLine, StockMovement
from models.state import MaterialState
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

MATERIALS = [f"M-{n:03d}" for n in range(24)]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def synthetic_stream(count: int, seed: int = 7) -> list[StockMovement | SalesOrderLine]:
    """Receipts, issues, adjustments and order-line versions over many materials."""
    rng = random.Random(seed)
    events: list[StockMovement | SalesOrderLine] = []
    for n in range(count):
        material = rng.choice(MATERIALS)
        warehouse = rng.choice(["W1", "W2"])
        at = T0 + timedelta(minutes=n)
        roll = rng.random()
        if roll < 0.2:
            events.append(
                SalesOrderLine(
                    event_id=f"so-{n}",
                    event_time=at,
                    material_id=material,
                    order_id=f"SO{rng.randrange(40)}",
                    line_id="10",
                    warehouse_id=warehouse,
                    quantity=rng.randrange(1, 50),
                    due_date=date(2026, 3, 20),
                    status=rng.choice(["confirmed", "partially_shipped", "cancelled"]),
                )
            )
            continue
        kind = "receipt" if roll < 0.55 else "issue" if roll < 0.95 else "adjustment"
        events.append(
            StockMovement(
                event_id=f"mv-{n}",
                event_time=at,
                material_id=material,
                movement_type=kind,
                warehouse_id=warehouse,
                quantity=rng.randrange(1, 40) * (-1 if kind == "adjustment" else 1),
                batch_id=f"B{n}" if kind == "receipt" else None,
                unit_cost=round(rng.uniform(1, 20), 2),
            )
        )
    return events


def topic_of(event: StockMovement | SalesOrderLine) -> str:
    return "erp.sales-orders" if isinstance(event, SalesOrderLine) else "erp.stock-movements"


def stock_view(state: dict) -> dict:
    """What a clean run must agree on: stock per warehouse and the number of events applied."""
    return {
        "events_applied": state["events_applied"],
        "warehouses": {
            wid: {
                "on_hand": w["on_hand"],
                "committed": w["committed"],
                "batches": [(b["batch_id"], b["quantity"]) for b in w["batches"]],
                "committed_lines": sorted(w["committed_lines"]),
            }
            for wid, w in state["warehouses"].items()
        },
    }


def test_sigkill_mid_stream_then_restart_equals_a_clean_run(idle_pipeline: Pipeline):
    events = synthetic_stream(4000)
    first, second = events[:2500], events[2500:]
    # Key inputs by material so that each material's events keep their order.
    for event in first:
        idle_pipeline.send(
            topic_of(event), event.model_dump(mode="json"), key=event.material_id.encode()
        )
    idle_pipeline.flush()

    idle_pipeline.start()
    wait_until(lambda: idle_pipeline.counters().get(("erp.stock-movements", "applied"), 0) > 150)
    idle_pipeline.kill()

    for event in second:
        idle_pipeline.send(
            topic_of(event), event.model_dump(mode="json"), key=event.material_id.encode()
        )
    idle_pipeline.flush()
    idle_pipeline.start()

    clean: dict[str, MaterialState] = {}
    for event in events:
        state = clean.setdefault(event.material_id, MaterialState(material_id=event.material_id))
        state.apply(MaterialEvent(event=event))
    expected = {m: stock_view(s.model_dump(mode="json")) for m, s in clean.items()}

    def all_applied() -> bool:
        return all(
            (state := idle_pipeline.material(m)) is not None
            and state["events_applied"] >= expected[m]["events_applied"]
            for m in expected
        )

    wait_until(all_applied, timeout=180, interval=1.0)
    for material, view in expected.items():
        assert stock_view(idle_pipeline.material(material)) == view, material
