"""Rush sales orders of assembled items: which lines are rush, what is built, the order analysed.

The structure used below (``BOM``), with its lead times:

    X : 2 A, 1 P1 (lead time 3 days)
    A : 1 B, 3 P2 (lead time 10 days)
    B : 2 P3 (lead time 4 days)

Cumulative lead times: P3 4; B 0 + 4 = 4; P2 10; A 0 + max(4, 10) = 10;
P1 3; X max(10, 3) = 10 days. A line of X due within 10 days of its event
date is rush.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.bom import BomCycleError, ComponentAvailability, analyse_shortage, shortage_id
from models.events import SalesOrderLine
from models.production import BomLine, ProductionOrder, bom_from_lines
from models.rush import (
    assembled,
    cumulative_lead_time_days,
    fold_rush_line,
    is_rush,
    rush_order,
    sales_line_order_id,
    to_build,
    what_if_sales_line,
)

T = datetime(2026, 11, 30, 8, tzinfo=UTC)
DUE = date(2026, 12, 3)  # 3 days after the event date


def line(parent: str, component: str, per: float, lead: float | None = None) -> BomLine:
    return BomLine(
        event_id=f"{parent}>{component}",
        event_time=T,
        parent_id=parent,
        component_id=component,
        quantity_per=per,
        lead_time_days=lead,
    )


BOM = bom_from_lines(
    [
        line("X", "A", 2),
        line("X", "P1", 1, lead=3),
        line("A", "B", 1),
        line("A", "P2", 3, lead=10),
        line("B", "P3", 2, lead=4),
    ]
)


def sales_line(
    quantity: float = 10,
    due_date: date = DUE,
    status: str = "confirmed",
    version: int = 1,
    **more,
) -> SalesOrderLine:
    fields = {
        "event_id": f"SO-1/10@{version}",
        "event_time": T + timedelta(minutes=version),
        "material_id": "X",
        "order_id": "SO-1",
        "line_id": "10",
        "warehouse_id": "W1",
        "quantity": quantity,
        "due_date": due_date,
        "status": status,
    }
    return SalesOrderLine.model_validate(fields | more)


def stock(on_hand: float = 0.0, demand=(), in_transit=()) -> ComponentAvailability:
    return ComponentAvailability(
        component_id="X",
        on_hand_available=on_hand,
        confirmed_demand=tuple(demand),
        in_transit=tuple(in_transit),
    )


# --- which lines are rush -------------------------------------------------------------------


def test_the_cumulative_lead_time_is_the_longest_chain_of_component_lead_times():
    assert cumulative_lead_time_days("X", BOM) == 10
    assert cumulative_lead_time_days("A", BOM) == 10
    assert cumulative_lead_time_days("B", BOM) == 4


def test_lead_times_add_up_along_a_chain_of_sub_assemblies():
    bom = bom_from_lines([line("X", "S", 1, lead=2), line("S", "P", 1, lead=5)])

    assert cumulative_lead_time_days("X", bom) == 7


def test_a_structure_without_known_lead_times_has_no_cumulative_lead_time():
    bom = bom_from_lines([line("X", "A", 1), line("A", "P", 1)])

    assert cumulative_lead_time_days("X", bom) is None


def test_a_line_due_within_the_cumulative_lead_time_is_rush_and_one_due_at_or_after_it_is_not():
    assert is_rush(sales_line(due_date=T.date() + timedelta(days=9)), BOM)
    assert not is_rush(sales_line(due_date=T.date() + timedelta(days=10)), BOM)


def test_an_overdue_line_is_rush():
    assert is_rush(sales_line(due_date=T.date() - timedelta(days=2)), BOM)


def test_a_line_flagged_rush_is_rush_whatever_its_due_date():
    far = T.date() + timedelta(days=90)

    assert is_rush(sales_line(due_date=far, rush=True), BOM)
    assert not is_rush(sales_line(due_date=far), BOM)


def test_without_known_lead_times_only_the_flag_makes_a_line_rush():
    bom = bom_from_lines([line("X", "A", 1)])

    assert not is_rush(sales_line(due_date=T.date()), bom)
    assert is_rush(sales_line(due_date=T.date(), rush=True), bom)


def test_the_rush_flag_defaults_to_false_and_is_read_from_the_erp_record():
    assert sales_line().rush is False
    assert sales_line(rush=True).rush is True


# --- what must be built ---------------------------------------------------------------------


def test_the_finished_items_stock_is_used_before_anything_is_built():
    assert to_build(sales_line(quantity=10), stock(on_hand=4)) == 6
    assert to_build(sales_line(quantity=10), stock(on_hand=12)) == 0


def test_without_an_availability_row_the_whole_open_quantity_is_built():
    assert to_build(sales_line(quantity=10, shipped_quantity=3), None) == 7


def test_demand_due_before_the_line_comes_first_and_demand_due_with_it_or_later_does_not():
    demand = [(DUE - timedelta(days=1), 3), (DUE, 20), (DUE + timedelta(days=1), 50)]

    assert to_build(sales_line(quantity=10), stock(on_hand=8, demand=demand)) == 5


def test_supply_of_the_finished_item_arriving_by_the_due_date_covers_the_line():
    arrivals = [(DUE, 4), (DUE + timedelta(days=1), 100)]

    assert to_build(sales_line(quantity=10), stock(on_hand=1, in_transit=arrivals)) == 5


def test_stock_already_promised_beyond_what_is_on_hand_leaves_the_whole_line_to_build():
    demand = [(DUE - timedelta(days=1), 30)]

    assert to_build(sales_line(quantity=10), stock(on_hand=8, demand=demand)) == 10


@pytest.mark.parametrize("status", ["shipped", "cancelled"])
def test_a_line_that_wants_no_more_goods_needs_nothing_built(status: str):
    assert to_build(sales_line(status=status), None) == 0


# --- the order analysed ---------------------------------------------------------------------


def test_a_rush_line_of_an_assembled_item_becomes_a_planned_rush_order_for_what_stock_lacks():
    so = sales_line(quantity=10)

    order = rush_order(so, BOM, stock(on_hand=4))

    assert order is not None
    assert (order.order_id, order.material_id, order.warehouse_id) == ("SO-1/10", "X", "W1")
    assert (order.quantity, order.need_date, order.status, order.rush) == (
        6,
        DUE,
        "planned",
        True,
    )
    assert (order.event_id, order.event_time) == (so.event_id, so.event_time)


def test_the_order_id_names_the_sales_order_and_its_line():
    assert sales_line_order_id(sales_line()) == "SO-1/10"


def test_a_line_of_an_item_without_a_bom_is_not_analysed():
    assert rush_order(sales_line(material_id="P1", rush=True), BOM, None) is None


def test_a_line_covered_by_the_finished_items_stock_is_not_analysed():
    assert rush_order(sales_line(quantity=10, rush=True), BOM, stock(on_hand=10)) is None


def test_a_line_that_is_not_rush_is_not_analysed():
    late = sales_line(due_date=T.date() + timedelta(days=30))

    assert rush_order(late, BOM, None) is None


def test_the_rush_order_is_analysed_as_a_production_order_of_the_same_build():
    order = rush_order(sales_line(quantity=10), BOM, stock(on_hand=4))
    assert order is not None
    twin = ProductionOrder.model_validate(
        order.model_dump() | {"order_id": "MO-9", "event_id": "MO-9@1"}
    )
    parts = {
        p: ComponentAvailability(component_id=p, on_hand_available=5) for p in ("P1", "P2", "P3")
    }

    mine, theirs = analyse_shortage(order, BOM, parts), analyse_shortage(twin, BOM, parts)

    assert mine.components == theirs.components
    assert (mine.order_id, mine.rush, mine.quantity) == ("SO-1/10", True, 6)


def test_each_line_version_gets_its_own_result_id_apart_from_any_production_orders():
    first = rush_order(sales_line(version=1), BOM, None)
    second = rush_order(sales_line(version=2), BOM, None)
    assert first is not None and second is not None

    assert shortage_id(first) == shortage_id(rush_order(sales_line(version=1), BOM, None))
    assert shortage_id(first) != shortage_id(second)


def test_a_rush_order_competes_with_production_orders_by_need_date():
    parts = {"P3": ComponentAvailability(component_id="P3", on_hand_available=30)}
    earlier = ProductionOrder(
        event_id="MO-1@1",
        event_time=T,
        material_id="B",
        order_id="MO-1",
        warehouse_id="W1",
        quantity=5,
        need_date=DUE - timedelta(days=1),
        status="released",
    )
    rush = rush_order(sales_line(quantity=5), BOM, None)
    assert rush is not None

    mine = analyse_shortage(rush, BOM, parts, [earlier])
    theirs = analyse_shortage(earlier, BOM, parts, [rush])

    p3 = {c.component_id: c for c in mine.components}["P3"]
    assert (mine.orders_ahead, p3.required, p3.available, p3.missing) == (("MO-1",), 20, 20, 0)
    assert theirs.orders_ahead == ()


def test_a_rush_line_of_an_item_with_a_cyclic_bom_is_refused():
    bom = bom_from_lines([line("X", "A", 1, lead=2), line("A", "X", 1)])

    with pytest.raises(BomCycleError):
        rush_order(sales_line(), bom, None)


# --- versions of a line ---------------------------------------------------------------------


def test_a_newer_version_of_a_rush_line_replaces_the_order_held_for_it():
    held = rush_order(sales_line(quantity=10, version=1), BOM, None)

    folded = fold_rush_line(held, sales_line(quantity=4, version=2), BOM, None)

    assert folded is not None and folded.quantity == 4


@pytest.mark.parametrize("status", ["shipped", "cancelled"])
def test_a_shipped_or_cancelled_version_leaves_no_order_held(status: str):
    held = rush_order(sales_line(version=1), BOM, None)

    assert fold_rush_line(held, sales_line(status=status, version=2), BOM, None) is None


def test_a_version_the_stock_now_covers_leaves_no_order_held():
    held = rush_order(sales_line(quantity=10, version=1), BOM, None)

    assert fold_rush_line(held, sales_line(quantity=10, version=2), BOM, stock(on_hand=10)) is None


def test_an_older_version_or_the_same_one_again_changes_nothing():
    held = rush_order(sales_line(quantity=10, version=2), BOM, None)

    assert fold_rush_line(held, sales_line(status="cancelled", version=1), BOM, None) is held
    assert fold_rush_line(held, sales_line(quantity=10, version=2), BOM, stock(9)) is held


def test_a_first_version_is_folded_into_its_rush_order():
    assert fold_rush_line(None, sales_line(), BOM, None) == rush_order(sales_line(), BOM, None)


def test_an_on_demand_line_question_is_a_confirmed_rush_line_unless_it_says_otherwise():
    fields = {"material_id": "X", "warehouse_id": "W1", "quantity": 5, "due_date": DUE}

    asked = what_if_sales_line(fields, now=T)
    not_rush = what_if_sales_line(fields | {"rush": False, "order_id": "SO-9"}, now=T)

    assert (asked.order_id, asked.status, asked.rush, asked.event_time) == (
        "what-if",
        "confirmed",
        True,
        T,
    )
    assert (not_rush.order_id, not_rush.rush) == ("SO-9", False)


def test_an_assembled_item_is_a_parent_among_the_bom_line_keys():
    keys = ["X|A", "X|P1", "A|B", "AB|C"]

    assert [assembled(keys, m) for m in ("X", "A", "B", "P1")] == [True, True, False, False]


# --- properties -----------------------------------------------------------------------------

quantities = st.floats(0, 1_000, allow_nan=False).map(lambda q: round(q, 3))
offsets = st.integers(-5, 20)


@st.composite
def availabilities(draw) -> ComponentAvailability:
    dated = st.lists(st.tuples(offsets.map(lambda n: DUE + timedelta(days=n)), quantities))
    return ComponentAvailability(
        component_id="X",
        on_hand_available=draw(st.floats(-100, 1_000, allow_nan=False)),
        confirmed_demand=tuple(draw(dated)),
        in_transit=tuple(draw(dated)),
    )


@st.composite
def lines(draw) -> SalesOrderLine:
    quantity = draw(quantities)
    return sales_line(
        quantity=quantity,
        shipped_quantity=draw(st.floats(0, 1, allow_nan=False)) * quantity,
        due_date=T.date() + timedelta(days=draw(offsets)),
        status=draw(st.sampled_from(["open", "confirmed", "partially_shipped", "shipped"])),
        rush=draw(st.booleans()),
    )


@settings(max_examples=200)
@given(lines(), availabilities() | st.none())
def test_what_is_built_is_never_negative_nor_more_than_the_open_quantity(so, finished):
    built = to_build(so, finished)

    assert 0 <= built <= so.quantity - so.shipped_quantity + 1e-6


@settings(max_examples=200)
@given(lines(), availabilities(), st.floats(0, 1_000, allow_nan=False))
def test_more_finished_stock_never_means_more_to_build(so, finished, more):
    richer = finished.model_copy(update={"on_hand_available": finished.on_hand_available + more})

    assert to_build(so, richer) <= to_build(so, finished)


@settings(max_examples=200)
@given(lines(), availabilities() | st.none())
def test_an_order_is_analysed_exactly_when_the_line_is_rush_and_stock_leaves_a_build(so, finished):
    order = rush_order(so, BOM, finished)

    assert (order is not None) == (is_rush(so, BOM) and to_build(so, finished) > 0)
    if order is not None:
        assert (order.quantity, order.need_date, order.rush) == (
            to_build(so, finished),
            so.due_date,
            True,
        )


@settings(max_examples=100)
@given(st.lists(st.floats(0, 60, allow_nan=False) | st.none(), min_size=5, max_size=5))
def test_the_cumulative_lead_time_is_the_longest_path_of_lead_times_to_a_purchased_part(leads):
    pairs = [("X", "A"), ("X", "P1"), ("A", "B"), ("A", "P2"), ("B", "P3")]
    drawn = zip(pairs, leads, strict=True)
    bom = bom_from_lines(line(parent, component, 1, lead) for (parent, component), lead in drawn)
    a, p1, b, p2, p3 = (lead or 0.0 for lead in leads)
    paths = [a + b + p3, a + p2, p1]

    cumulative = cumulative_lead_time_days("X", bom)

    if all(lead is None for lead in leads):
        assert cumulative is None
    else:
        assert cumulative == pytest.approx(max(paths))
