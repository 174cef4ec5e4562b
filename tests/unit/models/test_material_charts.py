from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import InTransitLine, InTransitStatus, MaterialEvent, MovementType, StockMovement
from models.material_charts import material_charts, stock_chart
from models.state import MaterialState

START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _state(opening: float, issues: list[float], inbound: float = 0.0) -> MaterialState:
    """A material received once, issued each day, with an open PO line due in 10 days."""
    state = MaterialState(material_id="M1")

    def apply(event) -> None:
        state.apply(MaterialEvent(event=event))

    apply(
        StockMovement(
            event_id="r0",
            event_time=START,
            material_id="M1",
            warehouse_id="W1",
            movement_type=MovementType.RECEIPT,
            quantity=opening,
            unit_cost=1.0,
        )
    )
    for n, quantity in enumerate(issues, start=1):
        if quantity > 0:
            apply(
                StockMovement(
                    event_id=f"i{n}",
                    event_time=START + timedelta(days=n),
                    material_id="M1",
                    warehouse_id="W1",
                    movement_type=MovementType.ISSUE,
                    quantity=quantity,
                )
            )
    today = START + timedelta(days=len(issues) + 1)
    if inbound > 0:
        apply(
            InTransitLine(
                event_id="po1",
                event_time=today,
                material_id="M1",
                line_id="PO1",
                supplier_id="S1",
                warehouse_id="W1",
                quantity=inbound,
                ordered_at=today,
                eta=today.date() + timedelta(days=10),
                status=InTransitStatus.ORDERED,
            )
        )
    state.replan(today)
    return state


def test_the_history_shows_each_days_demand_and_today_as_open():
    state = _state(500, [4, 0, 7, 2])
    chart = stock_chart(state, "W1", date(2026, 3, 6))
    assert [(d.day.day, d.demand, d.open) for d in chart.history] == [
        (1, 0, False),
        (2, 4, False),
        (3, 0, False),
        (4, 7, False),
        (5, 2, False),
        (6, 0, True),
    ]


def test_the_projection_takes_the_forecast_and_adds_supply_at_its_eta():
    state = _state(200, [10] * 20, inbound=150)
    today = date(2026, 3, 22)
    chart = stock_chart(state, "W1", today)
    policy = state.warehouses["W1"].policy
    assert policy is not None
    assert len(chart.ahead) >= policy.lead_time_days + 28
    on_hand = state.warehouses["W1"].on_hand
    expected = on_hand
    for n, day in enumerate(chart.ahead):
        expected += (150 if day.day == today + timedelta(days=10) else 0) - day.forecast
        assert abs(day.stock - expected) < 1e-3, n
    assert (chart.safety_stock, chart.reorder_point) == (
        policy.safety_stock,
        policy.reorder_point,
    )


@given(
    st.floats(0, 400, allow_nan=False).map(lambda q: round(q, 1)),
    st.lists(st.integers(0, 30), min_size=1, max_size=45),
    st.sampled_from([0.0, 80.0]),
)
@settings(max_examples=40, deadline=None)
def test_the_projected_stock_runs_out_on_the_policys_projected_stockout_date(
    opening, issues, inbound
):
    state = _state(max(opening, 0.1), [float(q) for q in issues], inbound)
    policy = state.warehouses["W1"].policy
    assert policy is not None
    chart = material_charts(state, policy.as_of)["W1"]
    assert chart.projected_stockout_date == policy.projected_stockout_date
    assert all(d.low <= d.forecast <= d.high for d in chart.ahead)
