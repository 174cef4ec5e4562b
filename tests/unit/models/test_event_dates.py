"""Dates inside events stay within planning's reach: near their event time, inside the calendar.

A due date, ETA or promotion window near ``date.max`` once overflowed planning's
day arithmetic; such dates are refused by validation, and every date the
schema admits goes through the material agent's path without raising.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.alerting import evaluate_alerts
from models.events import (
    DATE_HORIZON,
    InTransitLine,
    MaterialEvent,
    PromotionEvent,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
    describe_validation_error,
)
from models.planning import Promotion
from models.rules.spec import builtin_rules
from models.state import MaterialState

T = datetime(2026, 11, 29, 12, tzinfo=UTC)


def order_line(event_time: datetime = T, **changes: object) -> SalesOrderLine:
    fields = {
        "event_id": "so-1",
        "event_time": event_time,
        "material_id": "M1",
        "order_id": "SO1",
        "line_id": "10",
        "warehouse_id": "W1",
        "quantity": 5,
        "due_date": T.date(),
        "status": "confirmed",
        **changes,
    }
    return SalesOrderLine.model_validate(fields)


def supply_line(event_time: datetime = T, **changes: object) -> InTransitLine:
    fields = {
        "event_id": "po-1",
        "event_time": event_time,
        "material_id": "M1",
        "line_id": "PO1/10",
        "supplier_id": "S1",
        "warehouse_id": "W1",
        "quantity": 8,
        "ordered_at": T,
        "eta": T.date(),
        "status": "ordered",
        **changes,
    }
    return InTransitLine.model_validate(fields)


def refusal(build, **changes: object) -> str:
    with pytest.raises(ValidationError) as caught:
        build(**changes)
    return describe_validation_error(caught.value)


def test_due_date_at_the_end_of_the_calendar_is_refused_naming_it() -> None:
    assert refusal(order_line, due_date=date.max) == (
        "due_date 9999-12-31 is more than 3653 days from event_time 2026-11-29T12:00:00+00:00"
    )


def test_eta_and_order_time_far_from_the_event_are_refused() -> None:
    assert refusal(supply_line, eta=date(1, 1, 1)).startswith("eta 0001-01-01 is more than")
    assert refusal(supply_line, ordered_at=datetime(1900, 1, 1, tzinfo=UTC)).startswith(
        "ordered_at 1900-01-01T00:00:00+00:00 is more than"
    )


def test_promotion_window_beyond_the_horizon_is_refused() -> None:
    def promotion(**changes: object) -> PromotionEvent:
        fields = {
            "event_id": "pr-1",
            "event_time": T,
            "promotion_id": "P1",
            "material_id": "M1",
            "starts_on": date(2027, 1, 1),
            "ends_on": date(2027, 1, 31),
            "uplift": 2,
        }
        return PromotionEvent.model_validate(fields | changes)

    assert promotion().ends_on == date(2027, 1, 31)
    assert refusal(promotion, ends_on=date(9999, 1, 1)).startswith("ends_on 9999-01-01")


def test_dates_on_the_horizon_are_accepted() -> None:
    assert order_line(due_date=(T + DATE_HORIZON).date()).due_date == date(2036, 11, 29)
    assert supply_line(eta=(T - DATE_HORIZON).date()).eta == date(2016, 11, 28)


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+05:00", "9999-12-31T23:30:00-05:00"])
def test_event_time_whose_offset_leaves_the_calendar_is_a_validation_error(moment: str) -> None:
    reason = refusal(order_line, event_time=moment)

    assert (
        reason
        == f"event_time='{moment}': date-time out of range in UTC (before year 1 or after 9999)"
    )


# --- the agent's path with dates at the edges of what validation admits -------------------------

RULES = builtin_rules()
# Event times across a century either side of today: the widest ingest window settings allow.
EVENT_TIMES = st.integers(min_value=-100 * 366, max_value=100 * 366).map(
    lambda days: T + timedelta(days=days)
)
OFFSETS = st.one_of(
    st.sampled_from([-DATE_HORIZON, DATE_HORIZON, timedelta(0)]),
    st.integers(min_value=-DATE_HORIZON.days, max_value=DATE_HORIZON.days).map(
        lambda days: timedelta(days=days)
    ),
)


@st.composite
def edge_events(draw: st.DrawFn, n: int, event_time: datetime):
    kind = draw(st.sampled_from(["movement", "order", "supply"]))
    if kind == "movement":
        return StockMovement(
            event_id=f"mv-{n}",
            event_time=event_time,
            material_id="M1",
            movement_type=draw(st.sampled_from(["receipt", "issue"])),
            warehouse_id="W1",
            quantity=draw(st.sampled_from([1.0, 50.0])),
        )
    if kind == "order":
        return order_line(
            event_time, event_id=f"so-{n}", due_date=(event_time + draw(OFFSETS)).date()
        )
    return supply_line(
        event_time,
        event_id=f"po-{n}",
        ordered_at=event_time + draw(OFFSETS),
        eta=(event_time + draw(OFFSETS)).date(),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_dates_at_the_horizon_never_break_the_agent_path(data: st.DataObject) -> None:
    event_time = data.draw(EVENT_TIMES)
    promotion = Promotion(
        promotion_id="P1",
        starts_on=(event_time + data.draw(OFFSETS)).date(),
        ends_on=(event_time + DATE_HORIZON).date(),
        uplift=3,
    )
    state = MaterialState(material_id="M1")
    for n in range(data.draw(st.integers(min_value=1, max_value=8))):
        event = data.draw(edge_events(n, event_time))
        item = MaterialEvent(event=event, source=SourcePosition(topic="erp", partition=0, offset=n))
        state.apply(item, category_promotions=[promotion])
        evaluate_alerts(state, RULES, state.last_event_time, (), {}, state.touched_warehouses)
        stored = state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)
        state = MaterialState.model_validate_json(stored)
    later = event_time + DATE_HORIZON
    state.replan(later, category_promotions=[promotion])
    evaluate_alerts(state, RULES, later, (), {}, state.touched_warehouses)
