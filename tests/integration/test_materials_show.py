"""``stockloop materials show``: the stock now beside the numbers its open alerts read."""

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)


def movement(event_id: str, kind: str, quantity: float, at: datetime) -> dict:
    return {
        "event_id": event_id,
        "event_time": at.isoformat(),
        "material_id": "FAB-1",
        "movement_type": kind,
        "warehouse_id": "W1",
        "quantity": quantity,
    }


def test_materials_show_puts_an_alerts_numbers_beside_the_current_ones(pipeline: Pipeline):
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 100, T0))
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "so1",
            "event_time": (T0 + timedelta(hours=1)).isoformat(),
            "material_id": "FAB-1",
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 150,
            "due_date": (T0 + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
        },
    )
    pipeline.flush()

    def shown_with_alert() -> str | None:
        try:
            output = pipeline.cli("materials", "show", "FAB-1")
        except subprocess.CalledProcessError:  # not applied yet (404), or rebalancing (503)
            return None
        return output if "supply_demand_gap" in output else None

    # The alert is raised at 09:00 before the issue is sent: with every input read to its
    # end, an issue read before the order would be applied first and raise it at 10:00.
    wait_until(shown_with_alert, timeout=60, interval=1)
    # Still short, same severity: the alert keeps the numbers it read at 09:00.
    pipeline.send("erp.stock-movements", movement("i1", "issue", 30, T0 + timedelta(hours=2)))
    pipeline.flush()
    wait_until(lambda: (pipeline.material("FAB-1") or {}).get("events_applied") == 3)
    lines = wait_until(shown_with_alert, timeout=60, interval=1).splitlines()
    assert any("as of 2026-04-06 10:00" in line for line in lines if "FAB-1" in line)
    assert any("now (2026-04-06 10:00)" in line for line in lines)
    row = next(line for line in lines if "supply_demand_gap" in line)
    assert "critical" in row and "as of 2026-04-06 09:00" in row
    on_hand = next(line for line in lines if "on_hand 100" in line)
    assert "on_hand 70" in on_hand
