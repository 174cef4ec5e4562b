"""Production orders and BOM lines are validated like the ERP events, with one-line reasons."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.events import DATE_HORIZON, describe_validation_error
from models.production import (
    WHAT_IF_ID,
    BomLine,
    ProductionOrder,
    ProductionOrderStatus,
    bom_from_lines,
    bom_line_key,
    fold_bom_line,
    fold_order,
    what_if_order,
)

T = datetime(2026, 11, 30, 8, tzinfo=UTC)


def order_fields(**changes: object) -> dict[str, object]:
    return {
        "event_id": "mo-1",
        "event_time": T,
        "material_id": "X",
        "order_id": "MO-1",
        "warehouse_id": "W1",
        "quantity": 10,
        "need_date": date(2026, 12, 4),
        "status": "planned",
        **changes,
    }


def line_fields(**changes: object) -> dict[str, object]:
    return {
        "event_id": "b-1",
        "event_time": T,
        "parent_id": "X",
        "component_id": "A",
        "quantity_per": 2,
        **changes,
    }


def reason(model: type, fields: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(fields)
    text = describe_validation_error(caught.value)
    assert "\n" not in text
    return text


def test_a_production_order_is_accepted_from_plain_json():
    order = ProductionOrder.model_validate_json(
        '{"event_id": "mo-1", "event_time": "2026-11-30T08:00:00Z", "material_id": "X", '
        '"order_id": "MO-1", "warehouse_id": "W1", "quantity": 10, "need_date": "2026-12-04", '
        '"status": "released", "rush": true}'
    )
    assert order.status is ProductionOrderStatus.RELEASED
    assert order.rush and order.is_open
    assert order.kind == "production_order"


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_closed_and_cancelled_orders_are_not_open(status: str):
    assert not ProductionOrder.model_validate(order_fields(status=status)).is_open


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"quantity": 0}, "quantity=0: Input should be greater than 0"),
        ({"quantity": -5}, "quantity=-5: Input should be greater than 0"),
        ({"status": "open"}, "status='open': Input should be 'planned', 'released'"),
        ({"order_id": ""}, "order_id='': String should have at least 1 character"),
        ({"colour": "red"}, "colour: extra inputs are not permitted"),
        ({"event_time": "2026-11-30T08:00:00"}, "event_time='2026-11-30T08:00:00': Input should"),
        (
            {"need_date": T.date() + DATE_HORIZON + timedelta(days=1)},
            "need_date 2036-12-01 is more than 3653 days from event_time",
        ),
    ],
)
def test_a_bad_production_order_is_refused_with_a_one_line_reason(changes, expected):
    assert reason(ProductionOrder, order_fields(**changes)).startswith(expected)


def test_a_missing_field_of_an_order_is_named():
    fields = order_fields()
    del fields["need_date"]
    assert reason(ProductionOrder, fields) == "need_date: field required"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"quantity_per": 0}, "quantity_per=0: Input should be greater than 0"),
        ({"scrap_pct": 100}, "scrap_pct=100: Input should be less than 100"),
        ({"scrap_pct": -1}, "scrap_pct=-1: Input should be greater than or equal to 0"),
        ({"lead_time_days": -2}, "lead_time_days=-2: Input should be greater than or equal to 0"),
        ({"component_id": "X"}, "component_id 'X' is its own parent_id"),
    ],
)
def test_a_bad_bom_line_is_refused_with_a_one_line_reason(changes, expected):
    assert reason(BomLine, line_fields(**changes)).startswith(expected)


@given(st.floats(0.001, 1_000), st.floats(0, 99.99))
def test_a_parent_unit_consumes_quantity_per_plus_scrap(quantity_per: float, scrap_pct: float):
    line = BomLine.model_validate(line_fields(quantity_per=quantity_per, scrap_pct=scrap_pct))
    assert line.gross_per_parent == pytest.approx(quantity_per * (1 + scrap_pct / 100))
    assert line.gross_per_parent >= quantity_per


def version(event_id: str, minutes: int, component_id: str = "A", **changes) -> BomLine:
    return BomLine.model_validate(
        line_fields(
            event_id=event_id,
            event_time=T + timedelta(minutes=minutes),
            component_id=component_id,
            **changes,
        )
    )


@given(st.permutations(range(3)))
def test_the_newest_version_of_a_bom_line_wins_whatever_the_arrival_order(order: list[int]):
    versions = [version("b1", 0, quantity_per=1), version("b2", 5, quantity_per=3)]
    versions.append(version("b3", 1, component_id="B"))
    bom = bom_from_lines([versions[i] for i in order])
    assert [(line.component_id, line.quantity_per) for line in bom["X"]] == [("A", 3), ("B", 2)]


def test_a_deleted_line_removes_the_component_and_an_empty_bom_disappears():
    bom = bom_from_lines([version("b1", 0), version("b2", 5, deleted=True)])
    assert bom == {}


def test_a_deletion_older_than_the_line_does_not_remove_it():
    bom = bom_from_lines([version("b2", 5), version("b1", 0, deleted=True)])
    assert [line.event_id for line in bom["X"]] == ["b2"]


def test_a_what_if_question_becomes_a_planned_order_at_the_given_time():
    question = {
        "material_id": "X",
        "warehouse_id": "W1",
        "quantity": 500,
        "need_date": "2026-12-04",
    }
    order = what_if_order(question, T)
    assert (order.order_id, order.event_id, order.event_time) == (WHAT_IF_ID, WHAT_IF_ID, T)
    assert order.status is ProductionOrderStatus.PLANNED
    assert order.quantity == 500


def test_a_what_if_question_without_a_need_date_is_refused():
    with pytest.raises(ValidationError) as caught:
        what_if_order({"material_id": "X", "warehouse_id": "W1", "quantity": 5}, T)
    assert describe_validation_error(caught.value) == "need_date: field required"


def fold_lines(lines: list[BomLine]) -> dict[str, BomLine]:
    """The table of current BOM lines after ``lines`` arrive in this order."""
    table: dict[str, BomLine] = {}
    for line in lines:
        folded = fold_bom_line(table.get(bom_line_key(line)), line)
        if folded is None:
            table.pop(bom_line_key(line), None)
        else:
            table[bom_line_key(line)] = folded
    return table


@given(
    st.lists(st.tuples(st.sampled_from("ABC"), st.booleans()), min_size=1, max_size=12).map(
        lambda changes: [
            version(f"b{i:02}", i, component_id=component, deleted=deleted)
            for i, (component, deleted) in enumerate(changes)
        ]
    )
)
def test_folding_lines_into_the_table_keeps_the_bom_that_all_versions_give(lines: list[BomLine]):
    table = fold_lines(lines)
    assert bom_from_lines(table.values()) == bom_from_lines(lines)
    assert not any(line.deleted for line in table.values())


def test_a_bom_line_is_kept_under_parent_and_component():
    assert list(fold_lines([version("b1", 0)])) == ["X|A"]


def test_a_late_older_version_of_a_bom_line_changes_nothing():
    newer = version("b2", 5, quantity_per=3)
    assert fold_bom_line(newer, version("b1", 0, quantity_per=1)) is newer


def test_a_deleted_version_removes_the_bom_line():
    assert fold_lines([version("b1", 0), version("b2", 5, deleted=True)]) == {}


def order_version(event_id: str, minutes: int, **changes: object) -> ProductionOrder:
    fields = order_fields(event_id=event_id, event_time=T + timedelta(minutes=minutes))
    return ProductionOrder.model_validate({**fields, **changes})


def test_a_newer_open_version_of_an_order_replaces_the_held_one():
    released = order_version("mo-2", 5, status="released", quantity=12)
    assert fold_order(order_version("mo-1", 0), released) is released


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_a_closed_or_cancelled_order_leaves_the_open_orders(status: str):
    assert fold_order(order_version("mo-1", 0), order_version("mo-2", 5, status=status)) is None


def test_a_late_older_version_of_an_order_changes_nothing():
    held = order_version("mo-3", 9, quantity=3)
    assert fold_order(held, order_version("mo-2", 5, status="cancelled")) is held
    assert fold_order(None, order_version("mo-1", 0)) == order_version("mo-1", 0)
