"""Facts: the named numbers rules read, defined in event time from state and policy."""

from datetime import UTC, date, datetime, timedelta

import pytest

from models.events import InTransitLine, MaterialEvent, SalesOrderLine, StockMovement
from models.facts import warehouse_facts
from models.rules.spec import FACTS
from models.state import MaterialState, WarehouseStock

T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
TODAY = NOW.date()


def replay(*events) -> MaterialState:
    state = MaterialState(material_id="M1")
    for event in events:
        state.apply(MaterialEvent(event=event))
    return state


def facts_of(state: MaterialState, now: datetime = NOW) -> dict:
    return dict(warehouse_facts(state, state.warehouses["W1"], now))


def bare(stock: WarehouseStock) -> MaterialState:
    """A material whose only warehouse is ``stock`` as built, never replanned (no policy)."""
    return MaterialState(material_id="M1", warehouses={"W1": stock})


def movement(n: int, kind: str, quantity: float, at: datetime, **extra) -> StockMovement:
    return StockMovement(
        event_id=f"mv-{n}",
        event_time=at,
        material_id="M1",
        movement_type=kind,
        warehouse_id="W1",
        quantity=quantity,
        **extra,
    )


def order(line_id: str, quantity: float, due: date, status: str = "confirmed", **extra):
    return SalesOrderLine(
        event_id=f"so-{line_id}",
        event_time=NOW,
        material_id="M1",
        order_id="SO1",
        line_id=line_id,
        warehouse_id="W1",
        quantity=quantity,
        due_date=due,
        status=status,
        **extra,
    )


def supply(line_id: str, quantity: float, eta: date, **extra) -> InTransitLine:
    return InTransitLine(
        event_id=f"po-{line_id}",
        event_time=NOW,
        material_id="M1",
        line_id=line_id,
        supplier_id="S1",
        warehouse_id="W1",
        quantity=quantity,
        ordered_at=T0,
        eta=eta,
        status=extra.pop("status", "ordered"),
        **extra,
    )


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def test_warehouse_facts_are_exactly_the_facts_rules_may_read():
    state = replay(movement(0, "receipt", 10, T0, unit_cost=2.0), order("1", 4, day(3)))
    assert set(facts_of(state)) == set(FACTS)


def test_warehouse_facts_of_an_empty_stock_are_exactly_the_facts_rules_may_read():
    state = bare(WarehouseStock())
    assert set(facts_of(state)) == set(FACTS)


def test_committed_next_7d_counts_confirmed_open_quantity_due_through_day_7_only():
    state = replay(
        order("overdue", 5, day(-2)),
        order("today", 10, day(0)),
        order("partly", 40, day(3), "partially_shipped", shipped_quantity=15),
        order("day7", 20, day(7)),
        order("day8", 1_000, day(8)),
        order("unconfirmed", 3_000, day(1), "open"),
    )
    facts = facts_of(state)
    assert facts["committed_next_7d"] == 5 + 10 + 25 + 20
    assert facts["committed"] == 5 + 10 + 25 + 20 + 1_000


def test_committed_next_7d_window_is_in_calendar_days_whatever_the_time_of_day():
    state = replay(order("day7", 20, day(7)))
    midnight = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    late_evening = datetime.combine(TODAY, datetime.max.time(), tzinfo=UTC)
    assert facts_of(state, midnight)["committed_next_7d"] == 20
    assert facts_of(state, late_evening)["committed_next_7d"] == 20
    assert facts_of(state, midnight - timedelta(microseconds=1))["committed_next_7d"] == 0


def test_in_transit_next_7d_counts_open_supply_with_eta_through_day_7_only():
    state = replay(
        supply("late", 5, day(-1)),
        supply("partly", 100, day(2), received_quantity=30),
        supply("day7", 20, day(7)),
        supply("day8", 1_000, day(8)),
        supply("cancelled", 3_000, day(1), status="cancelled"),
    )
    facts = facts_of(state)
    assert facts["in_transit_next_7d"] == 5 + 70 + 20
    assert facts["in_transit"] == 5 + 70 + 20 + 1_000


def test_days_since_last_issue_counts_from_the_last_issue_not_a_transfer():
    state = replay(
        movement(0, "receipt", 100, T0),
        movement(1, "issue", 10, T0 + timedelta(days=4)),
        movement(2, "transfer_out", 10, T0 + timedelta(days=7)),
    )
    assert facts_of(state)["days_since_last_issue"] == pytest.approx(6.0)


def test_days_since_last_issue_of_never_issued_stock_counts_from_its_oldest_receipt():
    state = replay(
        movement(0, "receipt", 100, T0),
        movement(1, "receipt", 50, T0 + timedelta(days=5)),
    )
    assert facts_of(state)["days_since_last_issue"] == pytest.approx(10.0)


def test_days_since_last_issue_is_unknown_without_stock_ever():
    assert facts_of(bare(WarehouseStock()))["days_since_last_issue"] is None


def test_batch_facts_come_from_the_oldest_batch_left_on_the_shelf():
    state = replay(
        movement(0, "receipt", 100, T0, unit_cost=2.0),
        movement(1, "receipt", 50, T0 + timedelta(days=5), unit_cost=3.0),
        movement(2, "issue", 30, T0 + timedelta(days=6)),
    )
    facts = facts_of(state, T0 + timedelta(days=12, hours=12))
    assert facts["batch_age_days"] == pytest.approx(12.5)
    assert facts["batch_value"] == 70 * 2.0
    assert facts["inventory_value"] == 70 * 2.0 + 50 * 3.0


def test_batch_facts_move_to_the_next_batch_once_the_oldest_is_used_up():
    state = replay(
        movement(0, "receipt", 100, T0, unit_cost=2.0),
        movement(1, "receipt", 50, T0 + timedelta(days=5), unit_cost=3.0),
        movement(2, "issue", 110, T0 + timedelta(days=6)),
    )
    facts = facts_of(state)
    assert facts["batch_age_days"] == pytest.approx(5.0)
    assert facts["batch_value"] == 40 * 3.0


def test_batch_facts_are_unknown_with_nothing_on_the_shelf():
    facts = facts_of(bare(WarehouseStock()))
    assert facts["batch_age_days"] is None
    assert facts["batch_value"] is None


@pytest.mark.parametrize(
    ("shift_days_ago", "expected"),
    [(0, 1.0), (1, 1.0), (7, 1.0), (8, 0.0), (30, 0.0), (None, 0.0)],
)
def test_demand_shift_is_a_fact_for_7_days_after_it_was_flagged(shift_days_ago, expected):
    stock = WarehouseStock()
    if shift_days_ago is not None:
        stock.demand.last_shift_on = TODAY - timedelta(days=shift_days_ago)
    assert facts_of(bare(stock))["demand_shift"] == expected


@pytest.mark.parametrize(
    "name",
    [
        "days_of_cover",
        "projected_stockout_days",
        "lead_time_days",
        "days_to_order",
        "safety_stock",
        "reorder_point",
        "order_up_to",
        "forecast_daily",
    ],
)
def test_policy_facts_are_unknown_before_any_policy_exists(name):
    facts = facts_of(bare(WarehouseStock(on_hand=10)))
    assert facts[name] is None


def test_policy_facts_are_read_from_the_policy_once_planned():
    state = replay(movement(0, "receipt", 100, T0))
    policy = state.warehouses["W1"].policy
    facts = facts_of(state)
    assert facts["lead_time_days"] == policy.lead_time_days
    assert facts["safety_stock"] == policy.safety_stock
    assert facts["reorder_point"] == policy.reorder_point
    assert facts["order_up_to"] == policy.order_up_to
    assert facts["forecast_daily"] == policy.daily_demand


def test_unit_cost_is_unknown_without_a_material_master():
    assert facts_of(bare(WarehouseStock()))["unit_cost"] is None


def test_stock_position_facts_follow_the_warehouse_stock():
    state = replay(
        movement(0, "receipt", 100, T0), order("1", 30, day(20)), supply("P", 40, day(9))
    )
    facts = facts_of(state)
    position = {name: facts[name] for name in ("on_hand", "committed", "available", "in_transit")}
    assert position == {"on_hand": 100, "committed": 30, "available": 70, "in_transit": 40}


def test_inventory_position_is_what_the_erp_has_ordered_not_what_stockloop_requested():
    state = replay(
        movement(0, "receipt", 100, T0), order("1", 30, day(20)), supply("P", 40, day(9))
    )
    assert facts_of(state)["inventory_position"] == 110  # 100 + 40 - 30


def test_days_to_order_is_the_projected_stockout_less_the_lead_time():
    state = replay(movement(0, "receipt", 100, T0))
    policy = state.warehouses["W1"].policy
    state.warehouses["W1"].policy = policy.model_copy(
        update={"projected_stockout_days": 35, "lead_time_days": 29.5}
    )
    assert facts_of(state)["days_to_order"] == 5.5


def test_days_to_order_is_unknown_without_a_stockout_in_the_horizon():
    state = replay(movement(0, "receipt", 100, T0))
    assert state.warehouses["W1"].policy.projected_stockout_days is None
    assert facts_of(state)["days_to_order"] is None
