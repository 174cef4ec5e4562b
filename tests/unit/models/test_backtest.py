"""The backtest on a history small enough to check by hand, and its properties on random ones.

The hand-built history (``small_history``), all in warehouse W1, T0 = Monday 2 March 2026:

- M1 (unit cost 2, lead time 4 days by its master, no receipts to learn from):
  40 received on day 0 at 06:00; 5 issued at 10:00 on each of days 0-11; a PO
  line for 30 ordered on day 5 at 09:00, due day 9, received day 9 at 08:00.
- M2 (unit cost 1): 100 received on day 0; 2 issued on each of days 0-11.
- M3 (unit cost 3): 10 received on day 0, never issued.

The window starts on day 4 at midnight and ends with the last event, day 11 at
10:00: days 4-10 close inside it (7 days). M1's shelf, at the end of each day:

    day       4   5   6   7   8   9  10  (11)
    on hand  15  10   5   0  -5  20  15  (10)

- M1's demand in the window: 8 issues of 5 = 40; on day 8 the shelf is empty,
  so 5 are backordered: fill rate 35 / 40 = 0.875; stock-out days 7 (ends at
  0) and 8 (short) = 2; cycles: the window's first and the one the receipt
  of day 9 starts, the first short: cycle service level 0.5; average on hand
  (15 + 10 + 5 + 0 + 0 + 20 + 15) / 7 = 65 / 7; one stock-out, from day 8 at
  10:00; conservation 20 + 30 - 40 = 10.
- min/max for M1: average warm-up demand 20 / 4 days = 5 a day, lead time 4:
  minimum 20, maximum 170. The nightly run compares on hand + open PO lines:
  end of day 4: 15 <= 20, an alert (at midnight, day 5 00:00); day 5: 10 + 30
  on order = 40 > 20, resolved; days 6-8: 35, 30, 25; day 9: 20 + 0 <= 20,
  raised again (day 10 00:00), still open on day 10. So 2 alerts raised, 3
  alert events, and the stock-out of day 8 10:00 was warned of 3 days 10 hours
  ahead: 3.4167 / 4 = 0.854 lead times, not in time.
- M2 never runs short (fill rate 1.0, no stock-out day). M3 is never issued:
  its 10 on the shelf at 3 are dead stock worth 30 at the end, under every policy.
"""

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.backtest import (
    BacktestConfig,
    BacktestError,
    Policy,
    backtest,
    efficient_frontier,
    notifications_per_material_month,
)
from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    OrderStatus,
    SalesOrderLine,
    StockMovement,
)
from models.service_metrics import Ledger

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW_START = T0 + timedelta(days=4)


def at(day: int, hour: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def master(material_id: str, unit_cost: float) -> MaterialEvent:
    return MaterialEvent(
        event=MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=T0,
            material_id=material_id,
            name=material_id,
            unit_cost=unit_cost,
            default_lead_time_days=4,
            service_level=0.95,
            preferred_supplier="V1",
        )
    )


def move(
    material_id: str, kind: str, quantity: float, when: datetime, po_line: str | None = None
) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-{kind}-{when.isoformat()}",
            event_time=when,
            material_id=material_id,
            movement_type=MovementType(kind),
            warehouse_id="W1",
            quantity=quantity,
            po_line_id=po_line,
        )
    )


def po_line(material_id: str, quantity: float, ordered: datetime, due: datetime) -> MaterialEvent:
    return MaterialEvent(
        event=InTransitLine(
            event_id=f"{material_id}-po",
            event_time=ordered,
            material_id=material_id,
            line_id=f"{material_id}-L1",
            supplier_id="V1",
            warehouse_id="W1",
            quantity=quantity,
            ordered_at=ordered,
            eta=due.date(),
            status=InTransitStatus.ORDERED,
        )
    )


def small_history() -> list[MaterialEvent]:
    events = [master("M1", 2.0), master("M2", 1.0), master("M3", 3.0)]
    events += [move("M1", "receipt", 40, at(0, 6)), move("M2", "receipt", 100, at(0, 6))]
    events += [move("M3", "receipt", 10, at(0, 6))]
    events += [move("M1", "issue", 5, at(day, 10)) for day in range(12)]
    events += [move("M2", "issue", 2, at(day, 10)) for day in range(12)]
    events += [po_line("M1", 30, at(5, 9), at(9))]
    events += [move("M1", "receipt", 30, at(9, 8), po_line="M1-L1")]
    return events


@pytest.fixture(scope="module")
def small():
    return backtest(small_history(), BacktestConfig(window_start=WINDOW_START))


def by_id(result, material_id):
    return next(m for m in result.materials if m.material_id == material_id)


def test_recorded_receipts_give_the_hand_checked_fill_rate_and_stockout_days(small):
    assert small.window_days == 7
    m1 = by_id(small, "M1")
    for policy in Policy:  # without --act every policy lives with the recorded receipts
        metrics = m1.policies[policy]
        assert metrics.demand == 40
        assert metrics.fill_rate == pytest.approx(35 / 40)
        assert metrics.backordered == 5
        assert metrics.stockout_days == 2
        assert metrics.cycle_service_level == 0.5
        assert metrics.average_on_hand == pytest.approx(65 / 7)
        assert metrics.closing_on_hand == 10
        assert metrics.stockouts == 1
    assert m1.daily_on_hand[Policy.RECORDED] == [15, 10, 5, 0, -5, 20, 15]
    assert m1.stockouts[Policy.RECORDED] == [at(8, 10)]


def test_min_max_alerts_and_their_lead_before_the_stockout_are_the_hand_checked_ones(small):
    m1 = by_id(small, "M1")
    levels = m1.levels[Policy.MIN_MAX]["W1"]
    assert (levels.minimum, levels.maximum) == (20, 170)
    min_max = m1.policies[Policy.MIN_MAX]
    assert m1.warnings[Policy.MIN_MAX] == [at(5), at(10)]
    assert (min_max.alerts_raised, min_max.alert_events) == (2, 3)
    assert (min_max.warned, min_max.warned_in_time) == (1, 0)
    assert min_max.warning_leads == [round((3 + 10 / 24) / 4, 3)]


def test_the_dynamic_policy_warns_of_the_stockout_at_least_one_lead_time_ahead(small):
    """Its stock-out risk looks ahead (forecast over the lead time plus an order margin);
    the recorded history never warns."""
    m1 = by_id(small, "M1")
    dynamic = m1.policies[Policy.DYNAMIC]
    assert (dynamic.warned, dynamic.warned_in_time) == (1, 1)
    last = max(t for t in m1.warnings[Policy.DYNAMIC] if t <= at(8, 10))
    assert dynamic.warning_leads == [round((at(8, 10) - last) / timedelta(days=4), 3)]
    assert dynamic.warning_leads[0] >= 1
    assert m1.policies[Policy.RECORDED].warned == 0


def test_a_material_never_short_has_full_service_and_one_never_issued_is_dead_stock(small):
    m2, m3 = by_id(small, "M2"), by_id(small, "M3")
    for policy in Policy:
        assert m2.policies[policy].fill_rate == 1.0
        assert m2.policies[policy].stockout_days == 0
        assert m3.policies[policy].dead_stock_value == 30
        assert m3.policies[policy].stockout_days == 0  # no demand: nobody went without
    assert small.totals[Policy.RECORDED].dead_stock_value == 30


def test_the_recorded_history_never_orders_or_alerts(small):
    recorded = small.totals[Policy.RECORDED]
    assert (recorded.requests, recorded.alerts_raised, recorded.alert_events) == (0, 0, 0)


def order_line(material_id, quantity, due_day, status, shipped, when) -> MaterialEvent:
    return MaterialEvent(
        event=SalesOrderLine(
            event_id=f"{material_id}-so-{status}",
            event_time=when,
            material_id=material_id,
            order_id=f"SO-{material_id}",
            line_id="10",
            warehouse_id="W1",
            quantity=quantity,
            shipped_quantity=shipped,
            due_date=at(due_day).date(),
            status=OrderStatus(status),
        )
    )


def delivery(material_id: str, quantity: float, when: datetime) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-delivery",
            event_time=when,
            material_id=material_id,
            movement_type=MovementType.ISSUE,
            warehouse_id="W1",
            quantity=quantity,
            sales_order_id=f"SO-{material_id}",
            sales_order_line_id="10",
        )
    )


def late_line() -> list[MaterialEvent]:
    """M4: 6 on the shelf; a line for 10 due day 6 ships on day 9, after 10 come in at 08:00."""
    return [
        move("M4", "receipt", 6, at(0, 6)),
        order_line("M4", 10, 6, "confirmed", 0, at(1, 9)),
        move("M4", "receipt", 10, at(9, 8)),
        delivery("M4", 10, at(9, 10)),
        order_line("M4", 10, 6, "shipped", 10, at(9, 10)),
    ]


def test_an_order_line_shipped_late_is_short_on_its_due_date_and_one_closed_short_loses():
    """M4: 6 on the shelf; a line for 10 due day 6 ships on day 9, after 10 come in at 08:00.
    On day 6 at noon 6 are filled and 4 backordered (on hand -4) until day 9: fill rate 0.6,
    stock-out days 6, 7 and 8; the delivery moves no stock (the demand did): closing 6.
    M5: 3 on the shelf; a line for 5 due day 7 ships 3 and closes: 3 filled, 2 lost, closing 0."""
    events = [
        *small_history(),
        *late_line(),
        move("M5", "receipt", 3, at(0, 6)),
        order_line("M5", 5, 7, "confirmed", 0, at(1, 9)),
        delivery("M5", 3, at(7, 10)),
        order_line("M5", 5, 7, "shipped", 3, at(7, 10)),
    ]
    result = backtest(events, BacktestConfig(window_start=WINDOW_START))
    m4 = by_id(result, "M4").policies[Policy.RECORDED]
    assert (m4.demand, m4.filled, m4.backordered) == (10, 6, 4)
    assert m4.stockout_days == 3
    assert m4.closing_on_hand == 6
    assert by_id(result, "M4").stockouts[Policy.RECORDED] == [at(6, 12)]
    m5 = by_id(result, "M5").policies[Policy.RECORDED]
    assert (m5.demand, m5.filled, m5.backordered, m5.closing_on_hand) == (5, 3, 2, 0)


def test_the_reports_demand_is_each_window_days_issues_and_its_forecast_the_plans(small):
    """M1 issues 5 on each of the window's 7 days; learned on a steady 5 a day, the plan
    expects 5 a day. M3 is never issued: no demand, and a plan that expects none."""
    m1, m3 = by_id(small, "M1"), by_id(small, "M3")
    assert m1.demand == [5.0] * 7
    assert m1.forecast == pytest.approx([5.0] * 7)
    assert m3.demand == [0.0] * 7
    assert m3.forecast == [0.0] * 7


def test_a_line_due_in_the_window_is_demand_on_its_due_date_not_on_its_delivery():
    """M4's line for 10 due on day 6 ships on day 9: the report's demand has 10 on day 6
    (window day 2) and nothing on day 9, as the ledgers count it."""
    events = [
        *small_history(),
        *late_line(),
    ]
    result = backtest(events, BacktestConfig(window_start=WINDOW_START))
    m4 = by_id(result, "M4")
    assert m4.demand == [0, 0, 10, 0, 0, 0, 0]
    assert sum(m4.demand) == m4.policies[Policy.RECORDED].demand


def test_notifications_per_material_month_count_what_the_rules_send(small):
    """min/max's alerts are its notifications (one report line each); stockloop's are the
    transitions its rules notify of, never more than its alert events."""
    for material in small.materials:
        min_max = material.policies[Policy.MIN_MAX]
        assert min_max.notifications == min_max.alerts_raised
        dynamic = material.policies[Policy.DYNAMIC]
        assert dynamic.material_months > 0
        assert dynamic.notifications <= dynamic.alert_events
        assert notifications_per_material_month(dynamic) == pytest.approx(
            dynamic.notifications / dynamic.material_months
        )
    assert small.totals[Policy.DYNAMIC].notifications > 0


def test_a_window_outside_the_history_is_refused_in_one_line():
    with pytest.raises(BacktestError, match=r"window_start=.*must lie after"):
        backtest(small_history(), BacktestConfig(window_start=at(30)))


def test_acting_on_its_requests_the_dynamic_policy_orders_and_beats_the_recorded_fill_rate():
    """With --act the recorded receipt of day 9 (its PO line was ordered in the window) is
    replaced by what each policy orders; the dynamic one orders on its first window day."""
    result = backtest(small_history(), BacktestConfig(window_start=WINDOW_START, act=True))
    m1 = by_id(result, "M1")
    dynamic = m1.policies[Policy.DYNAMIC]
    assert dynamic.requests >= 1
    assert dynamic.request_value > 0
    assert m1.policies[Policy.RECORDED].requests == 0
    assert m1.policies[Policy.MIN_MAX].requests >= 1


def test_the_same_history_and_seed_give_the_same_figures():
    config = BacktestConfig(window_start=WINDOW_START, act=True, seed=7)
    first, second = backtest(small_history(), config), backtest(small_history(), config)
    assert first.totals == second.totals
    assert [m.daily_on_hand for m in first.materials] == [m.daily_on_hand for m in second.materials]


def test_the_frontier_has_a_point_per_service_level_and_per_min_max_multiple():
    frontier, runs = efficient_frontier(
        small_history(),
        BacktestConfig(window_start=WINDOW_START),
        service_levels=(0.8, 0.95),
        multipliers=(0.5, 1.0, 2.0),
    )
    assert [p.setting for p in frontier.dynamic] == [0.8, 0.95]
    assert sorted(p.setting for p in frontier.static) == [0.5, 1.0, 2.0]
    assert all(run.act for run in runs)  # a frontier compares what the policies would have held
    for point in frontier.dynamic + frontier.static:
        assert 0 <= point.fill_rate <= 1
        assert point.average_value >= 0
    # min/max at 1x is the run's own min/max column
    one = next(p for p in frontier.static if p.setting == 1.0)
    assert one.fill_rate == runs[0].totals[Policy.MIN_MAX].fill_rate


# --- properties ------------------------------------------------------------------------------

days_of_demand = st.lists(st.integers(min_value=0, max_value=12), min_size=10, max_size=18)
receipts = st.dictionaries(st.integers(min_value=1, max_value=17), st.integers(1, 60), max_size=4)


def random_history(demand: list[int], received: dict[int, int], opening: int):
    events = [master("M1", 1.5), move("M1", "receipt", opening, at(0, 6))]
    events += [move("M1", "issue", q, at(day, 10)) for day, q in enumerate(demand) if q]
    events += [
        move("M1", "receipt", q, at(day, 7)) for day, q in received.items() if day < len(demand)
    ]
    return events


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(demand=days_of_demand, received=receipts, opening=st.integers(1, 40), act=st.booleans())
def test_fill_rates_lie_between_zero_and_one_and_no_policy_never_orders(
    demand, received, opening, act
):
    events = random_history(demand, received, opening)
    # The history ends with an issue, after the window start.
    events.append(move("M1", "issue", 1, at(len(demand) - 1, 11)))
    result = backtest(events, BacktestConfig(window_start=at(3), act=act))
    for metrics in result.totals.values():
        assert 0.0 <= metrics.fill_rate <= 1.0
        assert 0.0 <= metrics.cycle_service_level <= 1.0
        assert metrics.filled + metrics.backordered == pytest.approx(metrics.demand)
    assert result.totals[Policy.RECORDED].requests == 0
    assert result.totals[Policy.RECORDED].alerts_raised == 0


@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["receipt", "issue"]), st.integers(1, 50), st.integers(0, 300)),
        max_size=40,
    ),
    start_hour=st.integers(0, 300),
)
def test_the_ledger_conserves_stock_opening_plus_receipts_minus_demand_is_closing(
    moves, start_hour
):
    ledger = Ledger(window_start=at(0, start_hour))
    ledger.roll_to(at(0))
    for kind, quantity, hour in sorted(moves, key=lambda m: m[2]):
        ledger.roll_to(at(0, hour))
        if kind == "receipt":
            ledger.receive("W1", quantity, at(0, hour), None)
        else:
            ledger.issue("W1", quantity, at(0, hour))
    ledger.roll_to(at(0, 301))
    for stock in ledger.warehouses.values():
        assert math.isclose(stock.opening + stock.receipts - stock.demand, stock.on_hand)
        assert 0 <= stock.filled <= stock.demand
        assert stock.backordered >= 0
