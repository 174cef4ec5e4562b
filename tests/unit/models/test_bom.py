"""Shortage analysis: BOM explosion, netting by need date, competing orders, coverage dates.

The three-level structure used below (``STRUCTURE``), for 10 X:

    X  : 2 S1, 1 P1 (10 % scrap), 4 P2
    S1 : 1 S2, 3 P1
    S2 : 2 P3 (5 % scrap), 0.5 P4

Gross, nothing on hand: S1 = 10 × 2 = 20; P2 = 10 × 4 = 40; S2 = 20 × 1 = 20;
P1 = 10 × 1.1 (from X) + 20 × 3 (from S1) = 71; P3 = 20 × 2 × 1.05 = 42;
P4 = 20 × 0.5 = 10.

With 5 S1 on the shelf only 15 S1 are built: S2 = 15; P1 = 11 + 15 × 3 = 56;
P3 = 15 × 2.1 = 31.5; P4 = 15 × 0.5 = 7.5.

Availability in W1 for the need date 2026-12-04 (``AVAILABILITY``):

- P1: 40 on hand, 10 due 12-02 (before: held back), 100 due 12-20 (after:
  not), 20 arriving 12-03 (in time), 30 arriving 12-10 (late). Available
  40 - 10 = 30, arriving 20, missing 56 - 50 = 6, covered by 12-10.
- P2: 50 on hand: nothing missing, covered by the need date.
- P3: 10 on hand, 25 arriving 12-08, 100 arriving 12-15: missing 21.5,
  covered by 12-08 (25 >= 21.5).
- P4: nothing: missing 7.5, never covered.

Kit completeness 1/4 (only P2); quantity completeness (50 + 40 + 10 + 0) /
(56 + 40 + 31.5 + 7.5) = 100 / 135; no feasible start (P4).
"""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.bom import (
    BomCycleError,
    ComponentAvailability,
    analyse_shortage,
    describe_shortage,
    explode,
    orders_ahead,
    shortage_id,
)
from models.production import BomLine, ProductionOrder
from models.state import CommittedLine, SupplyLine, WarehouseStock

T = datetime(2026, 11, 30, 8, tzinfo=UTC)
NEED = date(2026, 12, 4)


def day(n: int) -> date:
    return date(2026, 12, n)


def line(parent: str, component: str, per: float, scrap: float = 0.0, **more) -> BomLine:
    return BomLine(
        event_id=f"{parent}>{component}",
        event_time=T,
        parent_id=parent,
        component_id=component,
        quantity_per=per,
        scrap_pct=scrap,
        **more,
    )


def order(
    order_id: str = "MO-1",
    quantity: float = 10,
    need_date: date = NEED,
    material_id: str = "X",
    **more,
) -> ProductionOrder:
    fields = {
        "event_id": f"{order_id}@1",
        "event_time": T,
        "material_id": material_id,
        "order_id": order_id,
        "warehouse_id": "W1",
        "quantity": quantity,
        "need_date": need_date,
        "status": "released",
        **more,
    }
    return ProductionOrder.model_validate(fields)


def stock(item: str, on_hand: float = 0.0, demand=(), arriving=()) -> ComponentAvailability:
    return ComponentAvailability(
        component_id=item,
        on_hand_available=on_hand,
        confirmed_demand=tuple(demand),
        in_transit=tuple(arriving),
    )


STRUCTURE = {
    "X": [line("X", "S1", 2), line("X", "P1", 1, scrap=10), line("X", "P2", 4)],
    "S1": [line("S1", "S2", 1), line("S1", "P1", 3)],
    "S2": [line("S2", "P3", 2, scrap=5, lead_time_days=12), line("S2", "P4", 0.5)],
}

AVAILABILITY = {
    "S1": stock("S1", 5),
    "P1": stock(
        "P1", 40, demand=[(day(2), 10), (day(20), 100)], arriving=[(day(3), 20), (day(10), 30)]
    ),
    "P2": stock("P2", 50),
    "P3": stock("P3", 10, arriving=[(day(8), 25), (day(15), 100)]),
}


def rows(result) -> dict[str, tuple]:
    return {
        c.component_id: (c.required, c.available, c.arriving_in_time, c.missing, c.covered_by)
        for c in result.components
    }


# Explosion


def test_a_three_level_bom_explodes_into_the_hand_checked_gross_requirements():
    assert explode("X", 10, STRUCTURE) == {
        "P2": 40.0,
        "S1": 20.0,
        "P1": 71.0,
        "S2": 20.0,
        "P3": 42.0,
        "P4": 10.0,
    }


def test_an_intermediate_assembly_on_hand_is_used_before_its_components():
    assert explode("X", 10, STRUCTURE, on_hand={"S1": 5}) == {
        "P2": 40.0,
        "S1": 20.0,
        "P1": 56.0,
        "S2": 15.0,
        "P3": 31.5,
        "P4": 7.5,
    }


def test_an_assembly_fully_on_hand_needs_none_of_its_components():
    assert explode("X", 10, STRUCTURE, on_hand={"S1": 25}) == {"P2": 40.0, "S1": 20.0, "P1": 11.0}


def test_a_component_shared_by_two_parents_is_summed_and_netted_once():
    bom = {"X": [line("X", "A", 1), line("X", "C", 2)], "A": [line("A", "C", 3)]}
    assert explode("X", 1, bom) == {"A": 1.0, "C": 5.0}


def test_scrap_raises_the_requirement_without_rounding():
    assert explode("X", 3, {"X": [line("X", "C", 1, scrap=12.5)]}) == {"C": 3.375}


def test_deleted_lines_in_the_bom_are_ignored():
    bom = {"X": [line("X", "A", 1), line("X", "B", 1, deleted=True)]}
    assert explode("X", 2, bom) == {"A": 2.0}


def test_an_item_without_a_bom_has_no_requirements():
    assert explode("P1", 10, STRUCTURE) == {}


def test_a_cycle_in_the_bom_is_refused_naming_the_cycle():
    bom = {**STRUCTURE, "S2": [*STRUCTURE["S2"], line("S2", "S1", 1)]}
    with pytest.raises(BomCycleError, match=r"^BOM cycle S1 -> S2 -> S1: ") as caught:
        explode("X", 10, bom)
    assert caught.value.cycle == ("S1", "S2", "S1")
    assert isinstance(caught.value, ValueError)


def test_analysing_an_order_whose_bom_has_a_cycle_raises():
    bom = {"X": [line("X", "A", 1)], "A": [line("A", "X", 1)]}
    with pytest.raises(BomCycleError, match="X -> A -> X"):
        analyse_shortage(order(), bom, {})


# Netting


def test_a_three_level_order_gets_the_hand_checked_shortage():
    result = analyse_shortage(order(), STRUCTURE, AVAILABILITY)
    assert rows(result) == {
        "P2": (40.0, 50.0, 0.0, 0.0, NEED),
        "S1": (20.0, 5.0, 0.0, 0.0, None),
        "P1": (56.0, 30.0, 20.0, 6.0, day(10)),
        "S2": (15.0, 0.0, 0.0, 0.0, None),
        "P3": (31.5, 10.0, 0.0, 21.5, day(8)),
        "P4": (7.5, 0.0, 0.0, 7.5, None),
    }
    by_id = {c.component_id: c for c in result.components}
    assert (by_id["S1"].to_build, by_id["S2"].to_build) == (15.0, 15.0)
    assert (by_id["S1"].level, by_id["P1"].level, by_id["P4"].level) == (1, 2, 3)
    assert by_id["S1"].assembly and not by_id["P1"].assembly
    assert by_id["P3"].lead_time_days == 12
    assert result.missing_components == ("P1", "P3", "P4")
    assert result.kit_completeness == 0.25
    assert result.quantity_completeness == pytest.approx(100 / 135)
    assert result.earliest_feasible_start is None


def test_the_earliest_feasible_start_is_when_the_last_component_is_covered():
    availability = {**AVAILABILITY, "P4": stock("P4", arriving=[(day(12), 10)])}
    result = analyse_shortage(order(), STRUCTURE, availability)
    assert result.earliest_feasible_start == day(12)
    covered = {c.component_id: c.covered_by for c in result.components}
    assert covered["S2"] == day(12)  # built from P3 (12-08) and P4 (12-12)
    assert covered["S1"] == day(12)  # from S2 and P1 (12-10)


def test_an_order_with_everything_on_the_shelf_can_start_on_its_need_date():
    availability = {item: stock(item, 1_000) for item in ("P1", "P2", "P3", "P4")}
    result = analyse_shortage(order(), STRUCTURE, availability)
    assert result.missing_components == ()
    assert result.kit_completeness == result.quantity_completeness == 1.0
    assert result.earliest_feasible_start == NEED


def test_partial_in_transit_before_the_need_date_counts_and_after_it_gives_the_cover_date():
    bom = {"X": [line("X", "P", 2)]}
    availability = {"P": stock("P", 5, arriving=[(NEED - timedelta(days=1), 8), (day(7), 10)])}
    result = analyse_shortage(order(quantity=10), bom, availability)
    assert rows(result)["P"] == (20.0, 5.0, 8.0, 7.0, day(7))


def test_supply_arriving_on_the_need_date_is_in_time():
    availability = {"P": stock("P", 0, arriving=[(NEED, 20)])}
    result = analyse_shortage(order(quantity=10), {"X": [line("X", "P", 2)]}, availability)
    assert rows(result)["P"] == (20.0, 0.0, 20.0, 0.0, NEED)


def test_late_supply_that_is_not_enough_never_covers_the_component():
    availability = {"P": stock("P", 5, arriving=[(day(7), 10)])}
    result = analyse_shortage(order(quantity=15), {"X": [line("X", "P", 2)]}, availability)
    assert rows(result)["P"] == (30.0, 5.0, 0.0, 25.0, None)
    assert result.earliest_feasible_start is None


def test_an_overdue_eta_still_counts_as_arriving_in_time():
    availability = {"P": stock("P", 0, arriving=[(day(1) - timedelta(days=10), 20)])}
    result = analyse_shortage(order(quantity=10), {"X": [line("X", "P", 2)]}, availability)
    assert rows(result)["P"][2] == 20.0


def test_confirmed_demand_due_on_the_need_date_holds_stock_back_and_later_demand_does_not():
    availability = {"P": stock("P", 30, demand=[(NEED, 12), (day(5), 100)])}
    result = analyse_shortage(order(quantity=10), {"X": [line("X", "P", 2)]}, availability)
    assert rows(result)["P"] == (20.0, 18.0, 0.0, 2.0, None)


def test_confirmed_demand_beyond_stock_is_paid_from_arrivals_first():
    availability = {"P": stock("P", 5, demand=[(day(1), 8)], arriving=[(day(2), 10)])}
    result = analyse_shortage(order(quantity=5), {"X": [line("X", "P", 2)]}, availability)
    assert rows(result)["P"] == (10.0, 0.0, 7.0, 3.0, None)


def test_availability_is_read_from_the_warehouse_stock_of_the_material_state():
    warehouse = WarehouseStock(
        on_hand=40,
        committed_lines={
            "SO1/10": CommittedLine(
                order_id="SO1",
                line_id="10",
                quantity=12,
                shipped_quantity=2,
                due_date=day(2),
                unit_price=1.0,
                customer_id=None,
                customer_priority=3,
            )
        },
        supply_lines={
            "PO1/10": SupplyLine(
                line_id="PO1/10",
                supplier_id="S",
                quantity=30,
                received_quantity=10,
                ordered_at=T,
                eta=day(3),
            )
        },
    )
    availability = ComponentAvailability.of_stock("P", warehouse, allocated=5)
    assert availability.on_hand_available == 35
    assert availability.confirmed_demand == ((day(2), 10.0),)
    assert availability.in_transit == ((day(3), 20.0),)


# Competing orders


SIMPLE = {"X": [line("X", "P", 2)], "Y": [line("Y", "P", 1)]}


def test_an_order_with_an_earlier_need_date_takes_components_first():
    early = order("MO-B", quantity=5, need_date=day(3))
    late = order("MO-A", quantity=10, need_date=day(4))
    availability = {"P": stock("P", 25)}
    late_result = analyse_shortage(late, SIMPLE, availability, competing=[early])
    early_result = analyse_shortage(early, SIMPLE, availability, competing=[late])
    assert rows(late_result)["P"] == (20.0, 15.0, 0.0, 5.0, None)
    assert late_result.orders_ahead == ("MO-B",)
    assert rows(early_result)["P"] == (10.0, 25.0, 0.0, 0.0, day(3))
    assert early_result.orders_ahead == ()


def test_on_the_same_need_date_the_smaller_order_id_goes_first():
    first, second = order("MO-1", quantity=10), order("MO-2", quantity=10)
    availability = {"P": stock("P", 25)}
    assert analyse_shortage(first, SIMPLE, availability, [second]).missing_components == ()
    assert rows(analyse_shortage(second, SIMPLE, availability, [first]))["P"][3] == 15.0


def test_orders_ahead_of_other_items_compete_for_shared_components():
    other = order("MO-0", quantity=20, need_date=day(1), material_id="Y")
    result = analyse_shortage(order(), SIMPLE, {"P": stock("P", 25)}, [other])
    assert rows(result)["P"] == (20.0, 5.0, 0.0, 15.0, None)


def test_later_arrivals_pay_the_debt_of_orders_ahead_before_covering_this_one():
    availability = {"P": stock("P", 10, arriving=[(day(6), 10), (day(9), 10)])}
    ahead = order("MO-0", quantity=15, need_date=day(1), material_id="Y")
    small = analyse_shortage(order(quantity=2), SIMPLE, availability, [ahead])
    large = analyse_shortage(order(quantity=3), SIMPLE, availability, [ahead])
    assert rows(small)["P"] == (4.0, 0.0, 0.0, 4.0, day(6))  # debt 5 + 4 = 9 <= 10
    assert rows(large)["P"] == (6.0, 0.0, 0.0, 6.0, day(9))  # debt 5 + 6 = 11 > 10


def test_an_order_ahead_takes_a_sub_assembly_from_stock_before_this_order_does():
    ahead = order("MO-0", quantity=2.5, need_date=day(1))
    result = analyse_shortage(order(), STRUCTURE, AVAILABILITY, [ahead])
    by_id = {c.component_id: c for c in result.components}
    assert (by_id["S1"].available, by_id["S1"].to_build) == (0.0, 20.0)
    # MO-0 took the 5 S1 and 2.5 × 4 = 10 P2; P1 lost 2.5 × 1.1 = 2.75 to it.
    assert by_id["P2"].available == 40.0
    assert (by_id["P1"].required, by_id["P1"].available) == (71.0, 27.25)


@pytest.mark.parametrize(
    "other",
    [
        order("MO-0", need_date=day(1), status="closed"),
        order("MO-0", need_date=day(1), status="cancelled"),
        order("MO-0", need_date=day(1), warehouse_id="W2"),
        order("MO-1", need_date=day(1), event_id="MO-1@0"),
    ],
    ids=["closed", "cancelled", "other warehouse", "older version of this order"],
)
def test_orders_that_do_not_need_the_stock_do_not_compete(other: ProductionOrder):
    result = analyse_shortage(order(), SIMPLE, {"P": stock("P", 20)}, [other])
    assert result.orders_ahead == ()
    assert result.missing_components == ()


def test_only_the_newest_version_of_a_competing_order_counts():
    released = order("MO-0", need_date=day(1))
    cancelled = order(
        "MO-0",
        need_date=day(1),
        status="cancelled",
        event_id="MO-0@2",
        event_time=T.replace(hour=9),
    )
    assert orders_ahead(order(), [cancelled, released]) == []
    assert orders_ahead(order(), [released]) == [released]


def test_an_order_ahead_with_a_cyclic_bom_takes_nothing():
    bom = {**SIMPLE, "Y": [line("Y", "Z", 1)], "Z": [line("Z", "Y", 1)]}
    other = order("MO-0", need_date=day(1), material_id="Y")
    result = analyse_shortage(order(), bom, {"P": stock("P", 20)}, [other])
    assert result.missing_components == ()


# Identity


def test_the_result_id_is_the_same_for_the_same_order_version_and_differs_for_another():
    first = analyse_shortage(order(), STRUCTURE, AVAILABILITY)
    again = analyse_shortage(order(), STRUCTURE, {})
    newer = order(event_id="MO-1@2", event_time=T + timedelta(hours=1))
    assert first.id == again.id == shortage_id(order())
    assert analyse_shortage(newer, STRUCTURE, AVAILABILITY).id != first.id
    assert shortage_id(order("MO-2")) != first.id


def test_the_result_is_a_versioned_frozen_record():
    result = analyse_shortage(order(), STRUCTURE, AVAILABILITY)
    assert result.schema_version == 1
    assert type(result).model_validate_json(result.model_dump_json()) == result
    with pytest.raises(ValueError, match="frozen"):
        result.rush = True


def test_the_one_line_description_names_what_is_short_and_the_earliest_start():
    short = describe_shortage(analyse_shortage(order(), STRUCTURE, AVAILABILITY))
    assert short == (
        "MO-1: 10 X in W1 by 2026-12-04: 3 of 4 parts short (P1 6, P3 21.5, P4 7.5); "
        "kit 25%, earliest start unknown (some part has no supply coming)"
    )
    availability = {**AVAILABILITY, "P4": stock("P4", arriving=[(day(12), 10)])}
    later = describe_shortage(analyse_shortage(order(), STRUCTURE, availability))
    assert later.endswith("kit 25%, earliest start 2026-12-12")


def test_the_one_line_description_of_a_complete_kit_says_so():
    availability = {"P": stock("P", 100)}
    text = describe_shortage(analyse_shortage(order(), SIMPLE, availability))
    assert text == "MO-1: 10 X in W1 by 2026-12-04: every component there in time"


# Properties

ITEMS = [f"I{i}" for i in range(7)]


@st.composite
def structures(draw) -> dict[str, list[BomLine]]:
    """A random acyclic BOM under I0: lines only go from an item to one with a higher number."""
    bom: dict[str, list[BomLine]] = {}
    size = draw(st.integers(2, len(ITEMS)))
    for i in range(size - 1):
        targets = draw(st.lists(st.integers(i + 1, size - 1), max_size=3, unique=True))
        for j in targets:
            per = draw(st.sampled_from([0.25, 0.5, 1, 2, 3, 7]))
            scrap = draw(st.sampled_from([0, 2.5, 10, 50]))
            bom.setdefault(ITEMS[i], []).append(line(ITEMS[i], ITEMS[j], per, scrap))
    return bom


dated = st.tuples(st.integers(1, 31).map(day), st.integers(0, 50).map(float))
availabilities = st.dictionaries(
    st.sampled_from(ITEMS[1:]),
    st.tuples(st.integers(-20, 100), st.lists(dated, max_size=3), st.lists(dated, max_size=3)),
).map(lambda rows: {i: stock(i, float(o), d, a) for i, (o, d, a) in rows.items()})
competitors = st.lists(
    st.builds(
        lambda n, quantity, need, item: order(f"MO-{n}", quantity, day(need), item),
        st.integers(0, 9),
        st.integers(1, 20),
        st.integers(1, 10),
        st.sampled_from(ITEMS[:3]),
    ),
    max_size=4,
    unique_by=lambda o: o.order_id,
)


@settings(max_examples=60)
@given(structures(), st.integers(1, 1_000), st.integers(2, 50))
def test_the_requirement_scales_linearly_with_the_order_quantity(bom, quantity, factor):
    single = explode("I0", quantity, bom)
    scaled = explode("I0", quantity * factor, bom)
    assert scaled.keys() == single.keys()
    for item, required in single.items():
        assert scaled[item] == pytest.approx(required * factor, rel=1e-9, abs=1e-6 * (factor + 1))


@settings(max_examples=60)
@given(structures(), st.integers(1, 1_000), st.integers(2, 50))
def test_the_analysed_requirement_scales_linearly_without_stock(bom, quantity, factor):
    single = analyse_shortage(order(quantity=quantity, material_id="I0"), bom, {})
    scaled = analyse_shortage(order(quantity=quantity * factor, material_id="I0"), bom, {})
    for one, many in zip(single.components, scaled.components, strict=True):
        assert many.required == pytest.approx(one.required * factor, abs=1e-6 * (factor + 1))


@settings(max_examples=100)
@given(structures(), st.integers(1, 50), st.integers(1, 10), availabilities, competitors)
def test_missing_is_what_stock_and_arrivals_leave_uncovered_and_never_negative(
    bom, quantity, need, availability, competing
):
    result = analyse_shortage(
        order(quantity=quantity, need_date=day(need), material_id="I0"),
        bom,
        availability,
        competing,
    )
    for c in result.components:
        assert c.missing >= 0 and c.available >= 0 and c.arriving_in_time >= 0
        if c.assembly:
            assert c.missing == 0
            uncovered = c.required - c.available - c.arriving_in_time
            assert c.to_build == pytest.approx(max(0.0, uncovered), abs=1e-6)
        else:
            uncovered = c.required - c.available - c.arriving_in_time
            assert c.missing == pytest.approx(max(0.0, uncovered), abs=1e-6)
            assert (c.covered_by == day(need)) == (c.missing == 0)
        assert c.covered_by is None or c.covered_by >= day(need)
    assert 0 <= result.kit_completeness <= 1 and 0 <= result.quantity_completeness <= 1
    if not result.missing_components:
        assert result.earliest_feasible_start == day(need)


@settings(max_examples=100)
@given(
    structures(),
    st.integers(1, 50),
    availabilities,
    competitors,
    st.randoms(use_true_random=False),
)
def test_the_result_does_not_depend_on_the_order_of_bom_lines_or_competing_orders(
    bom, quantity, availability, competing, rnd: random.Random
):
    mine = order(quantity=quantity, material_id="I0")
    shuffled_bom = {parent: rnd.sample(lines, len(lines)) for parent, lines in bom.items()}
    shuffled_bom = dict(rnd.sample(list(shuffled_bom.items()), len(shuffled_bom)))
    shuffled_competing = rnd.sample(competing, len(competing))
    assert analyse_shortage(mine, bom, availability, competing) == analyse_shortage(
        mine, shuffled_bom, availability, shuffled_competing
    )
