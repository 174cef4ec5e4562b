from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import MaterialEvent, MaterialMaster, MovementType, StockMovement
from models.health import health_of
from models.state import MaterialState
from models.stock_flow import (
    BLOCK_DAYS,
    LONGEST_WINDOW_DAYS,
    RING_DAYS,
    StockFlow,
    annualised,
    fill_rate,
    stockout_rate,
    supply_days,
    turnover,
)

DAY0 = date(2026, 1, 1)


def _flow(days: list[tuple[int, int]]) -> StockFlow:
    """A flow of one stock fed ``(issued, closing value)`` per day, from DAY0, then rolled."""
    flow = StockFlow()
    flow.roll_to(DAY0, 0, False)
    for n, (issued, value) in enumerate(days):
        flow.add_issue(issued, 0)
        flow.roll_to(DAY0 + timedelta(days=n + 1), value, False)
    return flow


def test_issue_value_300_over_30_days_with_1000_held_is_turnover_03_or_365_a_year():
    # 10.00 issued a day while 1,000.00 stays on hand at every close.
    flow = _flow([(10_00, 1_000_00)] * 30)
    sums = flow.window(30)
    assert (sums.issued, sums.value_days, sums.stock_days) == (300_00, 30 * 1_000_00, 30)
    assert turnover(sums.issued, sums.value_days, 30) == 0.3
    assert annualised(sums.issued, sums.value_days) == 0.3 * 365 / 30


def test_a_window_longer_than_the_stock_counts_the_days_before_it_as_nothing_held():
    # 15 days of 1,000.00 held: the 30-day average inventory is 500.00.
    flow = _flow([(10_00, 1_000_00)] * 15)
    sums = flow.window(30)
    assert turnover(sums.issued, sums.value_days, 30) == 150_00 / 500_00
    assert annualised(sums.issued, sums.value_days) == 365 * 150_00 / (15 * 1_000_00)


def test_ratios_without_a_denominator_are_none():
    assert turnover(5, 0, 30) is None
    assert fill_rate(0, 0) is None
    assert stockout_rate(0, 0) is None
    assert supply_days(10, 0, 0) is None


def test_the_ring_keeps_60_days_and_the_blocks_only_what_a_year_reaches():
    flow = _flow([(1, 100)] * 900)
    assert len(flow.issued) == len(flow.value) == len(flow.demand) == RING_DAYS
    assert len(flow.blocks) <= LONGEST_WINDOW_DAYS // BLOCK_DAYS + 1
    assert flow.window(365).stock_days == RING_DAYS


def test_a_long_quiet_spell_rolled_in_one_step_equals_rolling_day_by_day():
    one, daily = _flow([(5_00, 300_00)] * 40), _flow([(5_00, 300_00)] * 40)
    assert one.day is not None
    one.roll_to(one.day + timedelta(days=200), 250_00, True)
    for _ in range(200):
        daily.roll_to(daily.day + timedelta(days=1), 250_00, True)  # type: ignore[operator]
    assert one == daily
    assert one.window(30).out_days == 30


def _exact(rows: list[tuple[int, int]], first: int, last: int) -> tuple[int, int]:
    inside = rows[first : last + 1]
    return sum(r[0] for r in inside), sum(r[1] for r in inside)


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 1_000_000)), max_size=500),
    st.sampled_from([30, 90, 365]),
)
@settings(max_examples=60, deadline=None)
def test_windows_are_exact_in_the_ring_and_off_by_at_most_the_block_at_their_far_end(rows, days):
    flow = _flow(rows)
    n = len(rows)
    sums = flow.window(days)
    issued, value_days = _exact(rows, max(n - days, 0), n - 1)
    if days <= RING_DAYS or n <= RING_DAYS:
        assert (sums.issued, sums.value_days) == (issued, value_days)
    else:
        # Days of the blocks partly inside the window may count in or out: bound them.
        first_day = DAY0 + timedelta(days=n - days)
        edge = [
            i
            for i in range(n - RING_DAYS)
            if (DAY0 + timedelta(days=i)).toordinal() // BLOCK_DAYS
            == first_day.toordinal() // BLOCK_DAYS
        ]
        slack_issued = sum(rows[i][0] for i in edge) + 1
        slack_value = sum(rows[i][1] for i in edge) + 1
        assert abs(sums.issued - issued) <= slack_issued
        assert abs(sums.value_days - value_days) <= slack_value
    last30 = _exact(rows, max(n - 30, 0), n - 1)
    before = _exact(rows, max(n - 60, 0), n - 31) if n > 30 else (0, 0)
    assert (flow.window(30).issued, flow.window(30).value_days) == last30
    assert (flow.window(30, skip=30).issued, flow.window(30, skip=30).value_days) == before


def _move(state: MaterialState, at: datetime, kind: MovementType, quantity: float, n: int) -> None:
    state.apply(
        MaterialEvent(
            event=StockMovement(
                event_id=f"{kind}-{n}",
                event_time=at,
                material_id=state.material_id,
                warehouse_id="W1",
                movement_type=kind,
                quantity=quantity,
                unit_cost=2.0 if kind is MovementType.RECEIPT else None,
            )
        )
    )


def test_issues_count_at_fifo_cost_and_the_part_the_shelf_lacked_is_short():
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    state = MaterialState(material_id="M1")
    state.apply(
        MaterialEvent(
            event=MaterialMaster(
                event_id="m", event_time=start, material_id="M1", name="M1", unit_cost=2.5
            )
        )
    )
    _move(state, start, MovementType.RECEIPT, 50, 0)  # 100.00 on the shelf
    _move(state, start + timedelta(days=1), MovementType.ISSUE, 30, 1)  # 60.00 issued
    _move(state, start + timedelta(days=2), MovementType.ISSUE, 30, 2)  # 40.00, 10 short
    for midnight in range(3, 6):  # the worker's ticks
        state.replan(start.replace(hour=0) + timedelta(days=midnight))
    flow = state.warehouses["W1"].flow
    days = list(flow.days())
    assert [(d.issued, d.value, d.short) for d in days[:3]] == [
        (0, 100_00, 0),
        (60_00, 40_00, 0),
        (40_00, 0, 10 * 2_50),
    ]
    sums = flow.window(30)
    assert (sums.issued, sums.short, sums.stock_days) == (100_00, 25_00, 5)
    # Out: the short day, then every day closed below zero while demand is forecast.
    assert state.warehouses["W1"].policy.daily_demand > 0  # type: ignore[union-attr]
    assert [d.out for d in days] == [False, False, True, True, True]
    report = health_of(state).totals().report()
    assert report["fill_rate"]["last_30d"] == round(100 / 125, 4)
    assert report["stockout_rate"]["last_30d"] == 3 / 5
    assert report["turnover"]["30d"]["issued_value"] == 100.0
    assert report["turnover"]["30d"]["turns"] == round(30 * 100_00 / (100_00 + 40_00), 4)


def test_the_demand_history_holds_each_days_demand_counted_for_the_forecast():
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    state = MaterialState(material_id="M1")
    _move(state, start, MovementType.RECEIPT, 500, 0)
    for n, quantity in enumerate([4, 0, 7, 2], start=1):
        if quantity:
            _move(state, start + timedelta(days=n), MovementType.ISSUE, quantity, n)
    state.replan(start + timedelta(days=5))
    assert [d.demand for d in state.warehouses["W1"].flow.days()] == [0, 4, 0, 7, 2]
