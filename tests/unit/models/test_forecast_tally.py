from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import MaterialEvent, StockMovement
from models.forecast_tally import scaled_errors, tally
from models.state import MaterialState

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def issue(day: int, quantity: float, warehouse_id: str = "W1") -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{warehouse_id}-{day}",
            event_time=START + timedelta(days=day),
            material_id="M1",
            movement_type="issue",
            warehouse_id=warehouse_id,
            quantity=quantity,
        )
    )


def history(quantities: list[float], warehouse_id: str = "W1") -> MaterialState:
    state = MaterialState(material_id="M1")
    for day, quantity in enumerate(quantities):
        state.apply(issue(day, quantity, warehouse_id))
    return state


def test_a_step_that_closes_no_day_scores_no_error():
    state = history([4, 6, 4, 6, 4, 6])
    before = tally(state)
    state.apply(issue(5, 1))  # the same open day again
    assert scaled_errors(state, before) == []


def test_the_days_a_step_closed_give_their_mean_absolute_error_over_the_naive_one():
    state = history([4, 6, 4, 6, 4, 6, 4])
    before = tally(state)
    scored_before, absolute_before = before["W1"]
    state.apply(issue(12, 6))
    error = state.warehouses["W1"].demand.forecaster.error
    closed = error.n - scored_before
    assert closed > 1  # the quiet days closed as zeros, each scored
    naive = error.naive_abs / error.naive_n
    assert scaled_errors(state, before) == [(error.sum_abs - absolute_before) / closed / naive]


def test_each_warehouse_that_scored_days_reports_one_error():
    state = history([4, 6, 4, 6, 4, 6, 4], "W1")
    for day, quantity in enumerate([1, 3, 1, 3, 1, 3, 1]):
        state.apply(issue(day, quantity, "W2"))
    before = tally(state)
    state.apply(issue(9, 6, "W1"))
    after = tally(state)
    assert len(scaled_errors(state, before)) == sum(
        after[w][0] > before[w][0] for w in ("W1", "W2")
    )


def test_demand_that_never_changes_has_no_naive_error_to_scale_by():
    state = history([5, 5, 5, 5, 5, 5, 5])
    before = tally(state)
    state.apply(issue(7, 5))
    assert scaled_errors(state, before) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20), min_size=2, max_size=30))
def test_scaled_errors_are_never_negative_and_one_per_warehouse_at_most(quantities):
    state = history([3, 7])
    before = tally(state)
    for day, quantity in enumerate(quantities, start=2):
        state.apply(issue(day, float(quantity)))
    errors = scaled_errors(state, before)
    assert len(errors) <= 1
    assert all(error >= 0 for error in errors)
