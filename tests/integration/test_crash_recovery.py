"""A worker killed with SIGKILL mid-stream loses nothing and counts nothing twice."""

import random
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

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


@pytest.mark.parametrize(
    ("commit_interval_s", "elsewhere"),
    [
        pytest.param(1.0, False, id="between-commits"),
        # Killed before Faust ever commits: recovery must not skip the
        # records fetched while tables recovered (see streams/transport.py).
        pytest.param(600.0, False, id="before-the-first-commit"),
        # Restarted on another host, without the local RocksDB: the state
        # comes back from the changelog alone.
        pytest.param(1.0, True, id="restarted-elsewhere"),
    ],
)
def test_sigkill_mid_stream_then_restart_equals_a_clean_run(
    tmp_path: Path, commit_interval_s: float, elsewhere: bool
):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = Pipeline(tmp_path / "first", commit_interval_s=commit_interval_s)
    second = (
        Pipeline(
            tmp_path / "second",
            app_id=first.settings.app_id,
            topic_prefix=first.settings.topic_prefix,
            commit_interval_s=commit_interval_s,
        )
        if elsewhere
        else first
    )
    with closing(first), closing(second):
        kill_mid_stream_and_restart(first, second)


def kill_mid_stream_and_restart(pipeline: Pipeline, restarted: Pipeline) -> None:
    """Kill ``pipeline``'s worker mid-stream; ``restarted`` (maybe the same) takes over."""
    events = synthetic_stream(4000)
    first, second = events[:2500], events[2500:]
    # Key inputs by material so that each material's events keep their order.
    for event in first:
        pipeline.send(
            topic_of(event), event.model_dump(mode="json"), key=event.material_id.encode()
        )
    pipeline.flush()

    pipeline.start()
    wait_until(lambda: pipeline.counters().get(("erp.stock-movements", "applied"), 0) > 150)
    pipeline.kill()

    for event in second:
        restarted.send(
            topic_of(event), event.model_dump(mode="json"), key=event.material_id.encode()
        )
    restarted.flush()
    restarted.start()

    clean: dict[str, MaterialState] = {}
    for event in events:
        state = clean.setdefault(event.material_id, MaterialState(material_id=event.material_id))
        state.apply(MaterialEvent(event=event))
    expected = {m: stock_view(s.model_dump(mode="json")) for m, s in clean.items()}

    def behind() -> dict[str, tuple[int | None, int]]:
        """Materials not yet caught up: (events applied, events expected)."""
        applied = {m: restarted.material(m) for m in expected}
        return {
            m: (state and state["events_applied"], expected[m]["events_applied"])
            for m, state in applied.items()
            if state is None or state["events_applied"] < expected[m]["events_applied"]
        }

    def described() -> dict[str, object]:
        return {"behind": behind(), "counters": restarted.counters()}

    wait_until(lambda: not behind(), timeout=180, interval=1.0, describe=described)
    for material, view in expected.items():
        assert stock_view(restarted.material(material)) == view, material
