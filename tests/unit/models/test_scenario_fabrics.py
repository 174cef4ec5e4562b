"""The article's ten fabrics short at once, one blocking a key customer, and its idle spare part.

Played on the pure core: events into each material's state, then the
built-in rules and the alert lifecycle, ranked as ``stockloop alerts open``
ranks them (by value at risk in money). Measured on the core before value at
risk was money (issue 15): the key customer ranked 1st, 5th and 10th as its
order went from the largest to the smallest, 10th behind a 64-unit receipt
that did not cover its 474 units, and the dead spare part was worth 0.
"""

from datetime import UTC, datetime, timedelta

import pytest

from models.alerting import Alert, evaluate_alerts
from models.events import (
    InTransitLine,
    MaterialEvent,
    MaterialMaster,
    SalesOrderLine,
    StockMovement,
)
from models.rules.spec import builtin_rules
from models.state import MaterialState

RULES = builtin_rules()
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
DUE = (T0 + timedelta(days=5)).date()
LEAD_TIME_DAYS = 30
GAP = "supply_demand_gap"
KEY = "FAB-07"
KEY_PRICE = 19.0
OTHERS = {  # fabric: (on hand, ordered by a tier-3 customer, unit price)
    "FAB-01": (200, 900, 18.0),
    "FAB-02": (150, 600, 22.0),
    "FAB-03": (80, 500, 16.0),
    "FAB-04": (0, 380, 20.0),
    "FAB-05": (300, 800, 15.0),
    "FAB-06": (120, 450, 24.0),
    "FAB-08": (60, 700, 19.0),
    "FAB-09": (40, 300, 21.0),
    "FAB-10": (100, 950, 14.0),
}
VARIANTS = {"largest": 1_200, "smaller": 140, "smallest": 40}
"""The key customer's order, in metres: the largest of the ten, in the middle, the smallest."""
PENALTY_PER_DAY_LATE = 1_500.0
"""The key customer's contract: a line stop costs this much a day."""


def fabric(
    material_id: str,
    on_hand: float,
    ordered: float,
    price: float,
    customer_priority: int = 3,
    receipt: float | None = None,
    penalty_per_day_late: float = 0.0,
) -> MaterialState:
    """One fabric: its master (30-day lead time), what is on hand, an order due in 5 days."""
    state = MaterialState(material_id=material_id)
    before = T0 - timedelta(days=10)
    events = [
        MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=before,
            material_id=material_id,
            name=f"Fabric {material_id}",
            category="fabric",
            unit="m",
            unit_cost=price * 0.6,
            default_lead_time_days=LEAD_TIME_DAYS,
        )
    ]
    if on_hand:
        events.append(
            StockMovement(
                event_id=f"{material_id}-receipt",
                event_time=before,
                material_id=material_id,
                movement_type="receipt",
                warehouse_id="W1",
                quantity=on_hand,
                unit_cost=price * 0.6,
            )
        )
    if receipt:
        events.append(
            InTransitLine(
                event_id=f"{material_id}-po",
                event_time=T0 - timedelta(days=5),
                material_id=material_id,
                line_id=f"{material_id}-PO1",
                supplier_id="S1",
                warehouse_id="W1",
                quantity=receipt,
                ordered_at=T0 - timedelta(days=5),
                eta=DUE - timedelta(days=3),
                status="ordered",
            )
        )
    events.append(
        SalesOrderLine(
            event_id=f"{material_id}-so",
            event_time=T0,
            material_id=material_id,
            order_id=f"SO-{material_id}",
            line_id="1",
            warehouse_id="W1",
            quantity=ordered,
            due_date=DUE,
            status="confirmed",
            unit_price=price,
            customer_id="KEY" if customer_priority == 1 else "C-TIER3",
            customer_priority=customer_priority,
            penalty_per_day_late=penalty_per_day_late,
        )
    )
    for event in events:
        state.apply(MaterialEvent(event=event))
    return state


def ranking(key_order: float, receipt: float | None = None, penalty: float = 0.0) -> list[Alert]:
    """The ten fabrics' supply-demand gaps, highest value at risk first."""
    states = [fabric(m, *numbers) for m, numbers in OTHERS.items()]
    states.append(fabric(KEY, 0, key_order, KEY_PRICE, 1, receipt, penalty))
    gaps = [a for s in states for a in evaluate_alerts(s, RULES, T0) if a.rule_id == GAP]
    assert len(gaps) == 10
    return sorted(gaps, key=lambda alert: -alert.priority.score)


def rank_of_key(alerts: list[Alert]) -> int:
    return [alert.material_id for alert in alerts].index(KEY) + 1


@pytest.mark.parametrize(("variant", "rank"), [("largest", 1), ("smaller", 5), ("smallest", 10)])
def test_without_a_contract_the_key_customer_ranks_by_its_weighted_order_value(variant, rank):
    alerts = ranking(VARIANTS[variant])
    assert rank_of_key(alerts) == rank
    key = alerts[rank - 1]
    assert key.priority.value_at_risk == VARIANTS[variant] * KEY_PRICE * 3.0  # tier 1 weighs 3


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_contractual_penalty_ranks_the_key_customer_first_in_every_variant_not_5th_or_10th(
    variant,
):
    alerts = ranking(VARIANTS[variant], penalty=PENALTY_PER_DAY_LATE)
    assert rank_of_key(alerts) == 1
    made_of = alerts[0].priority.made_of
    # Nothing is coming: late from its due date until an order placed now arrives.
    days_late = LEAD_TIME_DAYS - (DUE - T0.date()).days
    assert made_of.penalties == days_late * PENALTY_PER_DAY_LATE
    assert made_of.unserved_orders == VARIANTS[variant] * KEY_PRICE * 3.0
    assert alerts[0].priority.value_at_risk > alerts[1].priority.value_at_risk


def test_a_64_unit_receipt_covers_64_units_of_a_474_unit_shortfall_not_the_whole_order():
    # Before: every line due after the next receipt counted as served: 0 at risk, 10th.
    alerts = ranking(474, receipt=64)
    key = alerts[rank_of_key(alerts) - 1]
    assert key.priority.unserved_quantity == 474 - 64
    assert key.priority.value_at_risk == (474 - 64) * KEY_PRICE * 3.0
    assert rank_of_key(alerts) == 1


def spare_part(quantity: float, unit_cost: float, days: int) -> list[Alert]:
    """A special-purpose part received on day 0 and never issued, ticked daily for ``days``."""
    state = MaterialState(material_id="SPARE-1")
    state.apply(
        MaterialEvent(
            event=StockMovement(
                event_id="spare-receipt",
                event_time=T0,
                material_id="SPARE-1",
                movement_type="receipt",
                warehouse_id="W1",
                quantity=quantity,
                unit_cost=unit_cost,
            )
        )
    )
    published = []
    for day in range(1, days + 1):
        now = T0 + timedelta(days=day)
        state.replan(now)
        published += evaluate_alerts(state, RULES, now)
    return published


def latest(alerts: list[Alert], rule_id: str) -> Alert:
    return [alert for alert in alerts if alert.rule_id == rule_id][-1]


def test_dead_stock_untouched_181_days_is_worth_its_holding_cost_and_write_off_not_0():
    dead = latest(spare_part(100, 250.0, 181), "dead_stock")
    made_of = dead.priority.made_of
    assert dead.status != "resolved" and dead.severity == "warning"
    assert made_of.capital_tied_up == 25_000.0
    assert "of 25,000 tied up" in made_of.describe()
    assert made_of.write_off == 12_500.0
    assert made_of.holding_cost > 0
    assert dead.priority.value_at_risk == made_of.write_off + made_of.holding_cost


def test_the_dead_spare_part_outranks_a_10_unit_one_idle_as_long():
    large = latest(spare_part(100, 250.0, 181), "dead_stock")
    small = latest(spare_part(10, 250.0, 181), "dead_stock")
    assert large.priority.value_at_risk == pytest.approx(10 * small.priority.value_at_risk, 0.1)
    assert large.priority.score > small.priority.score
