"""Daily demand buckets, lead times, the policy formulas and the stock projection."""

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.demand import DailyDemand
from models.events import (
    InTransitLine,
    MaterialEvent,
    MaterialMaster,
    PromotionEvent,
    StockMovement,
)
from models.forecast import DemandForecaster, LeadTimeDemandError
from models.lead_time import LeadTimeStats
from models.planning import CategoryProfile, PlanningConfig, plan
from models.policy import (
    project_stock,
    reorder_point,
    safety_stock,
    safety_stock_of_lead_time_demand,
    service_z,
)
from models.state import MaterialState

D0 = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


# --- formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "lt", "sigma_lt", "d", "sigma_d", "expected"),
    [
        (0.95, 16, 0, 20, 5, 1.6448536 * 20),  # sqrt(16 * 25) = 20
        (0.90, 4, 1, 30, 10, 1.2815516 * math.sqrt(4 * 100 + 900 * 1)),
        (0.98, 10, 3, 0, 0, 0.0),
        (0.50, 10, 3, 10, 2, 0.0),  # z = 0
    ],
)
def test_safety_stock_matches_hand_computed_values(level, lt, sigma_lt, d, sigma_d, expected):
    assert safety_stock(level, lt, sigma_lt, d, sigma_d) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("level", "sigma_ltd", "d", "sigma_lt", "expected"),
    [
        (0.95, 20, 10, 0, 1.6448536 * 20),
        (0.90, 30, 10, 4, 1.2815516 * 50),  # sqrt(30² + (10 * 4)²) = 50
        (0.50, 30, 10, 4, 0.0),  # z = 0
    ],
)
def test_safety_stock_of_lead_time_demand_matches_hand_computed_values(
    level, sigma_ltd, d, sigma_lt, expected
):
    assert safety_stock_of_lead_time_demand(level, sigma_ltd, d, sigma_lt) == pytest.approx(
        expected, rel=1e-6
    )


def test_textbook_safety_stock_is_the_case_of_independent_daily_errors():
    textbook = safety_stock(0.95, 9, 2, 10, 4)
    assert safety_stock_of_lead_time_demand(0.95, 3 * 4, 10, 2) == pytest.approx(textbook)


def test_reorder_point_is_lead_time_demand_plus_safety_stock():
    assert reorder_point(12.5, 8, 30) == 130


def test_service_level_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="strictly between"):
        service_z(1.0)


# --- projection -------------------------------------------------------------------------------


def test_receipt_landing_before_the_stockout_date_prevents_it():
    projection = project_stock(D0, 25, [10] * 6, {}, {D0 + timedelta(days=2): 40})
    assert projection.stockout_date is None
    assert projection.balances == [15, 5, 35, 25, 15, 5]


def test_receipt_landing_after_the_stockout_date_does_not_prevent_it():
    projection = project_stock(D0, 25, [10] * 6, {}, {D0 + timedelta(days=4): 40})
    assert projection.stockout_date == D0 + timedelta(days=2)
    assert projection.stockout_days == 2


def test_confirmed_orders_consume_the_forecast_instead_of_adding_to_it():
    due = {D0 + timedelta(days=1): 30}
    projection = project_stock(D0, 50, [10] * 3, due, {})
    assert projection.balances == [40, 10, 0]


def test_overdue_orders_and_late_supply_count_today():
    projection = project_stock(
        D0, 10, [0] * 2, {D0 - timedelta(days=3): 15}, {D0 - timedelta(1): 2}
    )
    assert projection.balances == [-3, -3]
    assert projection.stockout_days == 0


def test_demand_already_issued_today_leaves_only_the_rest_of_today_s_forecast():
    projection = project_stock(D0, 22, [10] * 4, {}, {}, demand_today=8)
    assert projection.balances == [20, 10, 0, -10]
    assert project_stock(D0, 22, [10] * 4, {}, {}, demand_today=15).balances[0] == 22


@given(
    on_hand=st.floats(0, 1_000),
    forecast=st.lists(st.floats(0, 50), min_size=1, max_size=30),
    share=st.floats(0, 1),
)
def test_issuing_part_of_today_s_forecast_does_not_move_the_projection(on_hand, forecast, share):
    """Morning or evening, the same day's plan: an issue moves stock from forecast to fact."""
    issued = round(forecast[0] * share, 6)
    morning = project_stock(D0, on_hand + issued, forecast, {}, {})
    evening = project_stock(D0, on_hand, forecast, {}, {}, demand_today=issued)
    assert evening.balances == pytest.approx(morning.balances, abs=1e-5)
    assert evening.stockout_date == morning.stockout_date or math.isclose(
        min(morning.balances), 0, abs_tol=1e-5
    )


# --- demand buckets ---------------------------------------------------------------------------


def test_days_close_after_the_grace_period_and_quiet_days_count_as_zero():
    demand = DailyDemand()
    demand.record(D0, 5)
    demand.record(D0 + timedelta(days=3), 7)
    assert demand.advance(D0 + timedelta(days=3), grace_days=1) == 2  # D0 and D0+1 closed
    assert demand.forecaster.profile.n_days == 2
    assert demand.record(D0 + timedelta(days=1), 4) is False  # closed: late
    assert demand.late_events == 1
    assert demand.record(D0 + timedelta(days=2), 4) is True  # still inside the grace period
    demand.advance(D0 + timedelta(days=10), grace_days=1)
    assert demand.forecaster.profile.n_days == 9
    assert demand.forecaster.profile.n_demand_days == 3


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_zero_demand_days_are_not_skipped_when_events_arrive_after_a_gap(events, grace):
    demand = DailyDemand()
    events = sorted(events)
    for offset, quantity in events:
        demand.record(D0 + timedelta(days=offset), quantity)
        demand.advance(D0 + timedelta(days=offset), grace)
    last = D0 + timedelta(days=events[-1][0] + grace + 5)
    demand.advance(last, grace)
    first = D0 + timedelta(days=events[0][0])
    expected_days = (last - timedelta(days=grace + 1) - first).days + 1
    assert demand.forecaster.profile.n_days == expected_days


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=80))
def test_same_days_in_the_same_order_give_the_same_state(quantities):
    def run() -> DailyDemand:
        demand = DailyDemand()
        for offset, quantity in enumerate(quantities):
            demand.record(D0 + timedelta(days=offset), quantity)
            demand.advance(D0 + timedelta(days=offset), 1)
        return demand

    first, second = run(), run()
    assert first.model_dump() == second.model_dump()
    forecast = first.forecaster.forecast(14)
    assert all(math.isfinite(y) and y >= 0 for y in forecast)


# --- lead times -------------------------------------------------------------------------------


def test_lead_time_default_stands_in_until_enough_receipts():
    stats = LeadTimeStats()
    stats.learn_one(30)
    assert stats.estimate(10) == (10.0, 2.0)
    stats.learn_one(32)
    stats.learn_one(34)
    assert stats.estimate(10) == (32.0, 2.0)


def test_a_receipt_is_planned_with_from_the_next_day():
    stats = LeadTimeStats()
    for day, days in ((1, 30), (31, 30)):
        stats.learn_one(days, D0 + timedelta(days=day))
    stats.learn_one(30, D0 + timedelta(days=61))
    assert stats.count == 3
    assert stats.as_of(D0 + timedelta(days=61)).estimate(14) == pytest.approx((14.0, 2.8))
    assert stats.as_of(D0 + timedelta(days=62)).estimate(14) == (30.0, 0.0)


def test_a_late_receipt_for_a_closed_day_is_planned_with_at_once():
    stats = LeadTimeStats()
    stats.learn_one(10, D0 + timedelta(days=5))
    stats.learn_one(20, D0 + timedelta(days=3))
    assert stats.as_of(D0 + timedelta(days=5)).mean == 20.0


@given(st.lists(st.floats(0.5, 90), min_size=1, max_size=12), st.integers(1, 5))
def test_today_s_receipts_are_forgotten_exactly_until_the_day_closes(earlier, today_count):
    """Welford in reverse gives the statistics of the earlier days, as if today had not come."""
    stats, before = LeadTimeStats(), LeadTimeStats()
    for days in earlier:
        stats.learn_one(days, D0)
        before.learn_one(days)
    for n in range(today_count):
        stats.learn_one(7.0 + n, D0 + timedelta(days=1))
    planned = stats.as_of(D0 + timedelta(days=1))
    assert planned.count == before.count
    assert planned.mean == pytest.approx(before.mean, abs=1e-6)
    assert planned.sigma == pytest.approx(before.sigma, abs=1e-4)


def test_overdue_supply_widens_and_lengthens_the_lead_time():
    stats = LeadTimeStats(count=4, mean=10.0, m2=0.0)
    mean, sigma = stats.estimate(10, overdue_ages=[25])
    assert mean == 13.0
    assert sigma > 6


# --- through the material state ---------------------------------------------------------------


def envelope(event) -> MaterialEvent:
    return MaterialEvent(event=event)


def issue(n: int, quantity: float, day: int) -> StockMovement:
    return StockMovement(
        event_id=f"i{n}",
        event_time=T0 + timedelta(days=day),
        material_id="M",
        movement_type="issue",
        warehouse_id="W",
        quantity=quantity,
    )


def master(**extra) -> MaterialMaster:
    fields = {"name": "Headphones", "abc_class": "A", "default_lead_time_days": 10}
    return MaterialMaster(event_id="m", event_time=T0, material_id="M", **(fields | extra))


def test_policy_follows_the_forecast_and_the_abc_service_level():
    state = MaterialState(material_id="M")
    state.apply(envelope(master()))
    state.apply(
        envelope(
            StockMovement(
                event_id="r",
                event_time=T0,
                material_id="M",
                movement_type="receipt",
                warehouse_id="W",
                quantity=500,
            )
        )
    )
    for day in range(30):
        state.apply(envelope(issue(day, 10, day)))
    policy = state.warehouses["W"].policy
    forecaster = state.warehouses["W"].demand.forecaster
    assert policy.service_level == 0.98
    assert policy.daily_demand == pytest.approx(10, abs=0.5)
    assert policy.lead_time_days == 10
    assert policy.sigma_lead_time_demand == pytest.approx(forecaster.sigma_over(10), abs=1e-4)
    expected_ss = safety_stock_of_lead_time_demand(
        0.98, policy.sigma_lead_time_demand, policy.daily_demand, 2.0
    )
    assert policy.safety_stock == pytest.approx(expected_ss, abs=1e-3)
    assert policy.reorder_point == pytest.approx(policy.daily_demand * 10 + expected_ss, abs=1e-3)
    assert policy.days_of_cover == pytest.approx(200 / policy.daily_demand, rel=1e-3)
    assert policy.projected_stockout_days == pytest.approx(20, abs=1)


def test_receipts_against_po_lines_teach_the_supplier_lead_time():
    state = MaterialState(material_id="M")
    state.apply(envelope(master(preferred_supplier="S1")))
    for n, days in enumerate((6, 8, 10)):
        ordered = T0 + timedelta(days=20 * n)
        state.apply(
            envelope(
                InTransitLine(
                    event_id=f"po{n}",
                    event_time=ordered,
                    material_id="M",
                    line_id=f"L{n}",
                    supplier_id="S1",
                    warehouse_id="W",
                    quantity=100,
                    ordered_at=ordered,
                    eta=(ordered + timedelta(days=7)).date(),
                    status="ordered",
                )
            )
        )
        state.apply(
            envelope(
                StockMovement(
                    event_id=f"r{n}",
                    event_time=ordered + timedelta(days=days),
                    material_id="M",
                    movement_type="receipt",
                    warehouse_id="W",
                    quantity=100,
                    po_line_id=f"L{n}",
                )
            )
        )
    assert state.lead_times["S1"].count == 3
    # The third receipt is planned with from the next day (the master's 10 days until then).
    assert state.warehouses["W"].policy.lead_time_days == 10.0
    state.replan(T0 + timedelta(days=51))
    assert state.warehouses["W"].policy.lead_time_days == 8.0
    assert state.warehouses["W"].policy.sigma_lead_time_days == 2.0


def test_a_promotion_lifts_the_forecast_inside_its_window():
    def run(with_promotion: bool) -> float:
        state = MaterialState(material_id="M")
        state.apply(envelope(master(default_lead_time_days=5)))
        if with_promotion:
            state.apply(
                envelope(
                    PromotionEvent(
                        event_id="p",
                        event_time=T0,
                        promotion_id="P1",
                        material_id="M",
                        starts_on=D0,
                        ends_on=D0 + timedelta(days=60),
                        uplift=3.0,
                    )
                )
            )
        for day in range(20):
            state.apply(envelope(issue(day, 4, day)))
        return state.warehouses["W"].policy.daily_demand

    assert run(True) == pytest.approx(3 * run(False), rel=1e-6)


def test_a_new_material_starts_from_its_category_profile():
    config = PlanningConfig(category_profiles={"AUDIO": CategoryProfile(daily_demand=25)})
    state = MaterialState(material_id="M")
    state.apply(envelope(master(category="AUDIO")), config)
    state.apply(envelope(issue(0, 1, 0)), config)
    assert state.warehouses["W"].policy.daily_demand == pytest.approx(25)


def test_safety_stock_uses_the_measured_sigma_of_lead_time_demand():
    forecaster = DemandForecaster.new()
    for _ in range(60):
        forecaster.learn_one(10.0)
    # Recent errors: σ² = 5 over a day, 77 over a week, so σ²(d) = 4 d + d² (see forecast.py).
    forecaster.lead_time_error = LeadTimeDemandError(n=200, mse_day=5.0, mse_window=77.0)
    snapshot = plan(
        today=D0,
        on_hand=100.0,
        available=100.0,
        forecaster=forecaster,
        first_forecast_day=D0,
        committed_by_day={},
        receipts_by_day={},
        supplier_id=None,
        lead_time=LeadTimeStats(),  # no receipts: the default 14 days, σ 0.2 * 14 = 2.8
        overdue_ages=[],
        master=None,
        promotions=[],
        config=PlanningConfig(),  # 95 %
    )
    sigma_ltd = math.sqrt(4 * 14 + 14**2)  # sqrt(252), not sqrt(14 * 5) = 8.4
    expected_ss = 1.6448536 * math.sqrt(sigma_ltd**2 + (10 * 2.8) ** 2)  # 1.6449 * sqrt(1036)
    assert (snapshot.daily_demand, snapshot.lead_time_days) == (10.0, 14.0)
    assert snapshot.sigma_daily_demand == pytest.approx(math.sqrt(5.0), abs=1e-4)
    assert snapshot.sigma_lead_time_demand == pytest.approx(sigma_ltd, abs=1e-4)
    assert snapshot.safety_stock == pytest.approx(expected_ss, abs=1e-3)
    assert snapshot.safety_stock == pytest.approx(52.9424, abs=1e-3)
    assert snapshot.reorder_point == pytest.approx(140 + expected_ss, abs=1e-3)


def test_order_up_to_protects_lead_time_plus_review_period():
    state = MaterialState(material_id="M")
    state.apply(envelope(master()))
    for day in range(30):
        state.apply(envelope(issue(day, 10, day)))
    policy = state.warehouses["W"].policy
    forecaster = state.warehouses["W"].demand.forecaster
    protection = policy.lead_time_days + PlanningConfig().review_period_days
    sigma = forecaster.sigma_over(protection)
    expected_ss = safety_stock_of_lead_time_demand(0.98, sigma, policy.daily_demand, 2.0)
    assert policy.order_up_to == pytest.approx(
        policy.daily_demand * protection + expected_ss, abs=1e-3
    )


def test_an_evening_projection_counts_today_s_issues_once():
    """Issue #15: after the day's issues the projection took today's forecast off again, so the
    stock-out moved a day earlier every evening and back at midnight (an alert raised on day 125
    cleared on day 126)."""
    state = MaterialState(material_id="M")
    state.apply(envelope(master()))
    receipt = StockMovement(
        event_id="r",
        event_time=T0 - timedelta(hours=1),
        material_id="M",
        movement_type="receipt",
        warehouse_id="W",
        quantity=700,
    )
    state.apply(envelope(receipt))
    for day in range(40):
        state.apply(envelope(issue(day, 10, day)))
    state.replan(T0 + timedelta(days=40, hours=-1))
    morning = state.warehouses["W"].policy
    state.apply(envelope(issue(40, 10, 40)))
    evening = state.warehouses["W"].policy
    assert evening.daily_demand == morning.daily_demand
    assert morning.projected_stockout_date is not None
    assert evening.projected_stockout_date == morning.projected_stockout_date
