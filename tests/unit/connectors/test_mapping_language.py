"""The mapping language's checks: filters, transitions, computed fields, emit cases, lookups."""

from pathlib import Path
from textwrap import dedent

import pytest

import connectors
from connectors.mapping import MappingError, load_mapping

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"

MOVES = """\
references:
  - table: stock_location
    key_columns: [id]
    fields: {usage: usage, warehouse_id: warehouse_id}
tables:
  - table: stock_move
    kind: movement
    key_columns: [id]
    event_id_columns: [id]
    inputs:
      done: {column: state, is: [done]}
      qty: quantity
      dst_stock: {column: location_dest_id, lookup: stock_location.usage, is: [internal]}
    when: done == 1
    trigger: entry
    fields:
      material_id: product_id
      quantity: {input: qty}
      warehouse_id: {column: location_dest_id, lookup: stock_location.warehouse_id}
    emit:
      - name: receipt
        when: dst_stock == 1
        set: {movement_type: receipt}
      - name: loss
        when: dst_stock == 0
        set: {movement_type: adjustment}
        fields: {quantity: {compute: -qty}}
"""


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mapping.yaml"
    path.write_text(dedent(text))
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    return str(caught.value).removeprefix(f"{path}: ")


def test_the_odoo_pack_loads_with_its_references_and_tables() -> None:
    mapping = load_mapping(ODOO)

    assert [table.table for table in mapping.references] == [
        "stock_warehouse",
        "stock_location",
        "stock_picking_type",
        "product_template",
        "sale_order",
        "purchase_order",
        "mrp_bom",
    ]
    assert [(table.table, table.kind) for table in mapping.tables] == [
        ("product_product", "material"),
        ("stock_move", "movement"),
        ("sale_order_line", "order_line"),
        ("purchase_order_line", "in_transit"),
        ("mrp_bom_line", "bom_line"),
        ("mrp_production", "production_order"),
    ]


def test_the_sample_mapping_loads(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(MOVES)

    table = load_mapping(path).tables[0]

    assert table.inputs["qty"].column == "quantity"
    assert table.inputs["done"].is_one_of == ("done",)
    assert table.fields["warehouse_id"].lookup == ("stock_location.warehouse_id",)


def test_a_misspelt_input_in_when_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    assert refusal(tmp_path, MOVES.replace("when: done == 1", "when: dnoe == 1")) == (
        "table 'stock_move': when: at col 1: unknown fact 'dnoe' (did you mean 'done'?)"
    )


def test_a_when_that_is_a_number_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, MOVES.replace("when: done == 1", "when: qty * 2")) == (
        "table 'stock_move': when: 'qty * 2' is a number; expected a condition"
    )


def test_a_computed_field_that_is_a_condition_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("{compute: -qty}", "{compute: qty > 0}")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': emit[loss].fields.quantity.compute: 'qty > 0' is a condition; "
        "expected a number"
    )


def test_a_string_in_an_expression_points_to_is(tmp_path: Path) -> None:
    text = MOVES.replace("when: done == 1", "when: state == 'done'")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': when: at col 10: unexpected \"'\": strings are not allowed; "
        "test a text column through an input with is: [codes]"
    )


def test_entry_needs_a_condition_and_stable_event_ids(tmp_path: Path) -> None:
    assert refusal(tmp_path, MOVES.replace("    when: done == 1\n", "")) == (
        "table 'stock_move': trigger: entry needs a when condition to enter"
    )
    assert refusal(tmp_path, MOVES.replace("    event_id_columns: [id]\n", "")) == (
        "table 'stock_move': trigger: entry needs event_id_columns, "
        "so that a re-snapshot repeats the same ids"
    )


def test_a_lookup_of_an_undeclared_reference_table_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace(
        "lookup: stock_location.warehouse_id", "lookup: stock_locaton.warehouse_id"
    )

    assert refusal(tmp_path, text) == (
        "table 'stock_move': fields.warehouse_id.lookup: 'stock_locaton.warehouse_id': "
        "no reference table 'stock_locaton' (references: stock_location)"
    )


def test_a_lookup_of_a_field_the_reference_does_not_keep_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("lookup: stock_location.usage", "lookup: stock_location.kind")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': inputs.dst_stock.lookup: 'stock_location.kind': reference table "
        "'stock_location' keeps no field 'kind' (it keeps usage, warehouse_id)"
    )


def test_a_lookup_step_without_a_field_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("lookup: stock_location.warehouse_id", "lookup: stock_location")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': fields.warehouse_id: "
        "lookup step 'stock_location': write it as table.field"
    )


def test_a_source_with_a_column_and_a_compute_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("{compute: -qty}", "{compute: -qty, column: quantity}")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': emit.1.fields.quantity: "
        "give exactly one source: column, input, compute or first_of (got column, compute)"
    )


def test_an_unknown_input_named_by_a_field_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("quantity: {input: qty}", "quantity: {input: quantity}")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': fields.quantity: no input named 'quantity'"
    )


def test_an_emit_case_missing_a_required_field_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("        set: {movement_type: adjustment}\n", "")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': emit[loss]: movement_type required by movement events but not "
        "mapped; map a column or give a default"
    )


def test_an_emit_constant_outside_the_event_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("{movement_type: adjustment}", "{movement_type: write_off}")

    assert "emit[loss].set.movement_type='write_off': Input should be 'receipt'" in refusal(
        tmp_path, text
    )


def test_two_emit_cases_of_one_name_are_refused(tmp_path: Path) -> None:
    text = MOVES.replace("- name: loss", "- name: receipt")

    assert refusal(tmp_path, text) == (
        "table 'stock_move': emit: case names must differ (they make the event ids distinct)"
    )


def test_a_reference_field_with_a_lookup_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace(
        "fields: {usage: usage, warehouse_id: warehouse_id}",
        "fields: {usage: usage, warehouse_id: {column: warehouse_id, lookup: x.y}}",
    )

    assert refusal(tmp_path, text) == (
        "table 'stock_location': fields.warehouse_id: a reference field reads one column"
    )


def test_a_table_declared_as_reference_and_as_events_is_refused(tmp_path: Path) -> None:
    text = MOVES.replace("  - table: stock_move\n", "  - table: stock_location\n", 1)

    assert "table 'stock_location': declared twice" in refusal(tmp_path, text)
