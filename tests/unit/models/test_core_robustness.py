"""Any valid input keeps the core working: the path the material agent runs never raises.

The agent dead-letters an event whose application raises, so an exception
here would be a valid ERP record refused. Events come in any order, with
extreme quantities and dates, and every step goes through the JSON
round trip the table does.
"""

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.alerting import evaluate_alerts
from models.events import (
    MAX_QUANTITY,
    InTransitLine,
    MaterialEvent,
    MaterialMaster,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
    encode,
)
from models.planning import Promotion
from models.rules.spec import builtin_rules
from models.state import MaterialState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = builtin_rules()
WAREHOUSES = st.sampled_from(["W1", "W2"])
QUANTITIES = st.one_of(
    st.floats(min_value=0.001, max_value=500, allow_nan=False),
    st.sampled_from([1e-9, 1.0, 1e6, MAX_QUANTITY]),
)
MOMENTS = st.integers(min_value=-400 * 24, max_value=400 * 24).map(
    lambda hours: T0 + timedelta(hours=hours)
)
DAYS = st.integers(min_value=-400, max_value=400).map(lambda n: date(2026, 1, 1) + timedelta(n))


@st.composite
def movements(draw: st.DrawFn, n: int) -> StockMovement:
    kind = draw(
        st.sampled_from(
            ["receipt", "issue", "transfer_out", "transfer_in", "adjustment", "cycle_count"]
        )
    )
    quantity = draw(QUANTITIES)
    if kind in ("issue", "transfer_out", "adjustment") and draw(st.booleans()):
        quantity = -quantity
    return StockMovement(
        event_id=f"mv-{n}",
        event_time=draw(MOMENTS),
        material_id="M1",
        movement_type=kind,
        warehouse_id=draw(WAREHOUSES),
        quantity=quantity,
        batch_id=draw(st.sampled_from([None, "B1", "B2"])),
        unit_cost=draw(st.sampled_from([None, 0.0, 2.5, 1e6])),
        po_line_id=draw(st.sampled_from([None, "PO1/10", "PO2/10"])),
        sales_order_id=draw(st.sampled_from([None, "SO1"])),
        sales_order_line_id=draw(st.sampled_from([None, "10"])),
        counterpart_warehouse_id=draw(st.sampled_from([None, "W1", "W2"])),
    )


@st.composite
def order_lines(draw: st.DrawFn, n: int) -> SalesOrderLine:
    quantity = draw(QUANTITIES)
    return SalesOrderLine(
        event_id=f"so-{n}",
        event_time=draw(MOMENTS),
        material_id="M1",
        order_id=draw(st.sampled_from(["SO1", "SO2"])),
        line_id="10",
        warehouse_id=draw(WAREHOUSES),
        quantity=quantity,
        shipped_quantity=draw(st.floats(min_value=0, max_value=1)) * quantity,
        due_date=draw(DAYS),
        status=draw(
            st.sampled_from(["open", "confirmed", "partially_shipped", "shipped", "cancelled"])
        ),
        unit_price=draw(st.sampled_from([0.0, 9.99, 1e6])),
        customer_priority=draw(st.integers(min_value=1, max_value=5)),
    )


@st.composite
def supply_lines(draw: st.DrawFn, n: int) -> InTransitLine:
    quantity = draw(QUANTITIES)
    return InTransitLine(
        event_id=f"po-{n}",
        event_time=draw(MOMENTS),
        material_id="M1",
        line_id=draw(st.sampled_from(["PO1/10", "PO2/10"])),
        supplier_id=draw(st.sampled_from(["S1", "S2"])),
        warehouse_id=draw(WAREHOUSES),
        quantity=quantity,
        received_quantity=min(draw(st.floats(min_value=0, max_value=1.5)) * quantity, MAX_QUANTITY),
        ordered_at=draw(MOMENTS),
        eta=draw(DAYS),
        status=draw(st.sampled_from(["ordered", "shipped", "received", "cancelled"])),
    )


@st.composite
def masters(draw: st.DrawFn, n: int) -> MaterialMaster:
    return MaterialMaster(
        event_id=f"mm-{n}",
        event_time=draw(MOMENTS),
        material_id="M1",
        name="Part",
        category="PARTS",
        unit_cost=draw(st.sampled_from([0.0, 3.0, 1e6])),
        abc_class=draw(st.sampled_from([None, "A", "B", "C"])),
        service_level=draw(st.sampled_from([None, 0.51, 0.95, 0.999])),
        default_lead_time_days=draw(st.sampled_from([None, 0.01, 7.0, 3650.0])),
        moq=draw(st.sampled_from([0.0, 100.0])),
        pack_size=draw(st.sampled_from([1.0, 0.5, 1e6])),
    )


@st.composite
def streams(draw: st.DrawFn) -> list[MaterialEvent | datetime]:
    """Events and, where a ``datetime`` stands, a tick at that event time."""
    size = draw(st.integers(min_value=1, max_value=40))
    items: list[MaterialEvent | datetime] = []
    for n in range(size):
        maker = draw(st.sampled_from([movements, movements, order_lines, supply_lines, masters]))
        if draw(st.integers(min_value=0, max_value=6)) == 0:
            items.append(draw(MOMENTS))
        source = SourcePosition(topic="erp", partition=0, offset=n)
        items.append(MaterialEvent(event=draw(maker(n)), source=source))
    return items


PROMOTIONS = [
    Promotion(promotion_id="P1", starts_on=date(2026, 1, 10), ends_on=date(2026, 2, 10), uplift=5)
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_the_agent_path_never_raises_on_valid_input(items):
    stored = MaterialState(material_id="M1").model_dump_json()
    for item in items:
        state = MaterialState.model_validate_json(stored)
        if isinstance(item, datetime):
            now = max(item, state.last_event_time) if state.last_event_time else item
            state.replan(now, category_promotions=PROMOTIONS)
        else:
            state.apply(item, category_promotions=PROMOTIONS)
            now = state.last_event_time
        for alert in evaluate_alerts(state, RULES, now, (), {}, state.touched_warehouses):
            encode(alert)
        stored = state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)
    MaterialState.model_validate_json(stored).model_dump_json()
