"""Expedite notices: one per part a shortage result finds missing, to the part's material."""

from datetime import UTC, date, datetime

from models.bom import ComponentAvailability, analyse_shortage
from models.expedite import expedite_notices
from models.production import BomLine, ProductionOrder

T = datetime(2026, 11, 30, 8, tzinfo=UTC)
NEED = date(2026, 12, 4)


def line(parent: str, component: str, per: float) -> BomLine:
    return BomLine(
        event_id=f"{parent}-{component}",
        event_time=T,
        parent_id=parent,
        component_id=component,
        quantity_per=per,
    )


ORDER = ProductionOrder(
    event_id="e1",
    event_time=T,
    material_id="X",
    order_id="MO-1",
    warehouse_id="W1",
    quantity=10,
    need_date=NEED,
    status="released",
)
BOM = {"X": [line("X", "A", 1), line("X", "P", 2)], "A": [line("A", "Q", 3)]}


def test_each_missing_part_is_expedited_with_what_the_order_lacks_and_its_need_date():
    availability = {"P": ComponentAvailability(component_id="P", on_hand_available=5)}
    result = analyse_shortage(ORDER, BOM, availability)

    notices = expedite_notices(result)

    assert [(n.material_id, n.quantity, n.warehouse_id, n.needed_by) for n in notices] == [
        ("P", 15, "W1", NEED),
        ("Q", 30, "W1", NEED),
    ]
    assert {(n.order_id, n.shortage_id, n.at) for n in notices} == {("MO-1", result.id, T)}
    assert [n.expedite_id for n in notices] == ["MO-1|P", "MO-1|Q"]


def test_an_assembly_short_is_built_not_expedited_and_a_complete_kit_expedites_nothing():
    availability = {
        "P": ComponentAvailability(component_id="P", on_hand_available=20),
        "Q": ComponentAvailability(component_id="Q", on_hand_available=30),
    }
    result = analyse_shortage(ORDER, BOM, availability)

    assert [c.to_build for c in result.components if c.assembly] == [10]
    assert expedite_notices(result) == []
