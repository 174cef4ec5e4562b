"""``stockloop shortage``: what it folds from the topics it reads, and what it prints."""

from datetime import UTC, date, datetime, timedelta

import pytest
from rich.console import Console

from models.availability import MaterialAvailability
from models.bom import ComponentAvailability, analyse_shortage
from models.production import BomLine, ProductionOrder
from models.rush import what_if_sales_line
from streams.cli.shortage import (
    NothingToBuild,
    build_for_line,
    in_warehouse,
    latest_availability,
    latest_results,
    open_orders,
    shortage_table,
    summary,
    unknown_order,
)

T = datetime(2026, 11, 30, 8, tzinfo=UTC)
NEED = date(2026, 12, 4)


def record(material_id: str, on_hand: float, warehouse_id: str = "W1") -> bytes:
    row = ComponentAvailability(component_id=material_id, on_hand_available=on_hand)
    availability = MaterialAvailability(
        material_id=material_id, as_of=T, warehouses={warehouse_id: row}
    )
    return availability.model_dump_json().encode()


def order(event_id: str, minutes: int, order_id: str = "MO-1", **changes: object):
    fields = {
        "event_id": event_id,
        "event_time": T + timedelta(minutes=minutes),
        "material_id": "X",
        "order_id": order_id,
        "warehouse_id": "W1",
        "quantity": 10,
        "need_date": NEED,
        "status": "planned",
    }
    return ProductionOrder.model_validate({**fields, **changes})


def test_each_material_keeps_its_last_availability_and_a_tombstone_removes_it():
    latest = latest_availability(
        [
            (b"A", record("A", 5)),
            (b"B", record("B", 7)),
            (b"A", record("A", 9)),
            (b"B", None),
            (None, record("C", 1)),
        ]
    )
    assert {m: a.warehouses["W1"].on_hand_available for m, a in latest.items()} == {"A": 9}


def test_only_materials_with_stock_records_in_the_warehouse_have_a_row_there():
    latest = latest_availability([(b"A", record("A", 5)), (b"B", record("B", 7, "W2"))])
    assert list(in_warehouse(latest, "W1")) == ["A"]


def test_open_orders_are_the_latest_open_version_of_each_order():
    orders = [
        order("e1", 0),
        order("e2", 5, quantity=12),
        order("e3", 0, order_id="MO-2"),
        order("e4", 5, order_id="MO-2", status="closed"),
    ]
    assert [(o.order_id, o.quantity) for o in open_orders(orders)] == [("MO-1", 12)]


def test_the_table_shows_every_item_and_the_summary_the_answer():
    bom = {
        "X": [BomLine(event_id="b1", event_time=T, parent_id="X", component_id="P", quantity_per=2)]
    }
    result = analyse_shortage(
        order("e1", 0), bom, {"P": ComponentAvailability(component_id="P", on_hand_available=5)}
    )
    console = Console(width=200, record=True)
    console.print(shortage_table(result))
    for line in summary(result):
        console.print(line)
    text = console.export_text()

    assert "arriving in time" in text
    assert [cell.strip() for cell in text.splitlines()[4].split("│")[1:-1]] == [
        "P",
        "1",
        "20",
        "5",
        "0",
        "-",
        "15",
        "never",
    ]
    assert "kit completeness 0% of parts, 25% of their quantity" in text
    assert "earliest feasible start unknown: some part has no supply coming" in text


def test_an_orders_latest_result_is_that_of_its_newest_version_whatever_the_arrival_order():
    bom = {
        "X": [BomLine(event_id="b1", event_time=T, parent_id="X", component_id="P", quantity_per=2)]
    }
    stock = {"P": ComponentAvailability(component_id="P", on_hand_available=20)}
    first = analyse_shortage(order("e1", 0), bom, stock)
    changed = analyse_shortage(order("e2", 5, quantity=12), bom, stock)
    other = analyse_shortage(order("e3", 0, order_id="MO-2"), bom, stock)
    latest = latest_results([changed, other, first, changed])
    assert {order_id: r.quantity for order_id, r in latest.items()} == {"MO-1": 12, "MO-2": 10}
    assert latest["MO-1"].missing_components == ("P",)


def test_an_order_without_a_result_is_named_with_the_closest_known_one():
    assert unknown_order("MO-240071", ["MO-240017", "MO-1"], "stockloop.shortages") == (
        "no shortage result for order 'MO-240071' on stockloop.shortages; did you mean 'MO-240017'?"
    )
    assert "did you mean" not in unknown_order("XYZ", ["MO-240017"], "stockloop.shortages")


LINE_BOM = {
    "X": (
        BomLine(
            event_id="b1",
            event_time=T,
            parent_id="X",
            component_id="P",
            quantity_per=2,
            lead_time_days=10,
        ),
    )
}


def line_question(**more: object):
    fields = {"material_id": "X", "warehouse_id": "W1", "quantity": 10, "due_date": NEED}
    return what_if_sales_line(fields | more, now=T)


def test_a_sales_order_line_question_is_analysed_as_the_build_its_item_lacks():
    stock = {"X": ComponentAvailability(component_id="X", on_hand_available=4)}

    built = build_for_line(line_question(), LINE_BOM, stock)

    assert (built.order_id, built.quantity, built.need_date, built.rush) == (
        "what-if/what-if",
        6,
        NEED,
        True,
    )


def test_a_sales_order_line_question_the_stock_covers_is_answered_without_a_build():
    stock = {"X": ComponentAvailability(component_id="X", on_hand_available=10)}

    with pytest.raises(NothingToBuild, match="10 X in W1 by 2026-12-04: its own stock there"):
        build_for_line(line_question(), LINE_BOM, stock)


def test_a_sales_order_line_question_not_flagged_and_due_after_the_lead_time_says_so():
    later = line_question(rush=False, due_date=NEED + timedelta(days=30))

    with pytest.raises(NothingToBuild, match=r'not a rush line .* add "rush": true'):
        build_for_line(later, LINE_BOM, {})
