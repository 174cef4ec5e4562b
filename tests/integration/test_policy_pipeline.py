"""Dynamic policy through the real pipeline: a demand spike, then a receipt."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
MATERIAL = "HP-200"


def movement(n: int, kind: str, quantity: float, day: float) -> dict:
    return {
        "event_id": f"mv-{n}",
        "event_time": (T0 + timedelta(days=day)).isoformat(),
        "material_id": MATERIAL,
        "movement_type": kind,
        "warehouse_id": "SH01",
        "quantity": quantity,
    }


def policy_after(pipeline: Pipeline, events_applied: int) -> dict:
    state = wait_until(
        lambda: (s := pipeline.material(MATERIAL)) and s["events_applied"] >= events_applied and s
    )
    return state["warehouses"]["SH01"]["policy"]


def test_demand_spike_raises_the_reorder_point_and_a_receipt_moves_the_stockout(
    pipeline: Pipeline,
):
    pipeline.send(
        "erp.materials",
        {
            "event_id": "m",
            "event_time": T0.isoformat(),
            "material_id": MATERIAL,
            "name": "Wireless headphones",
            "abc_class": "A",
            "default_lead_time_days": 10,
        },
    )
    pipeline.send("erp.stock-movements", movement(0, "receipt", 400, 0))
    for day in range(1, 29):
        pipeline.send("erp.stock-movements", movement(day, "issue", 5, day))
    pipeline.flush()
    calm = policy_after(pipeline, 30)

    for day in range(29, 36):  # a sales festival: eight times the usual demand
        pipeline.send("erp.stock-movements", movement(day, "issue", 40, day))
    pipeline.flush()
    spike = policy_after(pipeline, 37)

    assert spike["daily_demand"] > 2 * calm["daily_demand"]
    assert spike["reorder_point"] > 2 * calm["reorder_point"]
    assert spike["projected_stockout_days"] is not None
    assert calm["projected_stockout_days"] is None or (
        calm["projected_stockout_days"] > spike["projected_stockout_days"]
    )

    pipeline.send("erp.stock-movements", movement(99, "receipt", 1000, 35.5))
    pipeline.flush()
    replenished = policy_after(pipeline, 38)
    assert replenished["reorder_point"] == spike["reorder_point"]
    assert (
        replenished["projected_stockout_days"] is None
        or replenished["projected_stockout_days"] > spike["projected_stockout_days"]
    )
    assert replenished["days_of_cover"] > spike["days_of_cover"]


def test_a_category_promotion_lifts_the_forecast_of_its_materials_only(pipeline: Pipeline):
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=20)
    pipeline.send(
        "erp.promotions",
        {
            "event_id": "p1",
            "event_time": start.isoformat(),
            "promotion_id": "FESTIVAL",
            "category": "AUDIO",
            "starts_on": start.date().isoformat(),
            "ends_on": (today + timedelta(days=60)).date().isoformat(),
            "uplift": 3.0,
        },
        key=b"FESTIVAL",
    )
    pipeline.flush()
    wait_until(lambda: pipeline.counters().get(("erp.promotions", "applied"), 0) >= 1)
    for material, category in (("HP-300", "AUDIO"), ("CABLE-1", "ACCESSORIES")):
        pipeline.send(
            "erp.materials",
            {
                "event_id": f"m-{material}",
                "event_time": start.isoformat(),
                "material_id": material,
                "name": material,
                "category": category,
            },
        )
        for day in range(20):
            at = start + timedelta(days=day, hours=1)
            pipeline.send(
                "erp.stock-movements",
                {
                    "event_id": f"{material}-{day}",
                    "event_time": at.isoformat(),
                    "material_id": material,
                    "movement_type": "issue",
                    "warehouse_id": "SH01",
                    "quantity": 4,
                },
            )
    pipeline.flush()

    def policy(material: str) -> dict:
        state = wait_until(
            lambda: (s := pipeline.material(material)) and s["events_applied"] == 21 and s
        )
        return state["warehouses"]["SH01"]["policy"]

    lifted, plain = policy("HP-300"), policy("CABLE-1")
    assert lifted["daily_demand"] == pytest.approx(3 * plain["daily_demand"], rel=1e-6)
