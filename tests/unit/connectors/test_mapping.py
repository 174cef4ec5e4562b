"""The CDC mapping file: its shape, its checks and how a change event finds its table."""

from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

import connectors
from connectors.mapping import EVENT_MODELS, CdcMapping, Encoding, MappingError, load_mapping

EXAMPLE = Path(connectors.__file__).parent / "mappings" / "example-erp.yaml"

ORDER_LINE = """\
tables:
  - table: so_line
    kind: order_line
    key_columns: [so_no, line_no]
    fields:
      order_id: so_no
      line_id: line_no
      material_id: item_no
      warehouse_id: ship_whse
      quantity: {column: qty_ordered, encoding: decimal, scale: 3}
      due_date: {column: promise_date, encoding: epoch_days}
      status:
        column: line_status
        values: {"O": open, "C": confirmed}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(dedent(text))
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(MappingError) as caught:
        load_mapping(write(tmp_path, text))
    return str(caught.value)


def test_example_mapping_covers_every_table_kind() -> None:
    mapping = load_mapping(EXAMPLE)

    assert {table.kind for table in mapping.tables} == set(EVENT_MODELS)
    assert mapping.timezone == ZoneInfo("Asia/Shanghai")


def test_column_shorthand_is_a_plain_column(tmp_path: Path) -> None:
    table = load_mapping(write(tmp_path, ORDER_LINE)).tables[0]

    assert table.fields["order_id"].column == "so_no"
    assert table.fields["order_id"].encoding is None
    assert table.fields["quantity"].encoding is Encoding.DECIMAL
    assert table.fields["quantity"].scale == 3


def test_timezone_defaults_to_utc(tmp_path: Path) -> None:
    assert load_mapping(write(tmp_path, ORDER_LINE)).timezone == ZoneInfo("UTC")


def test_numeric_erp_codes_are_read_as_text() -> None:
    movements = load_mapping(EXAMPLE).tables[1]

    assert movements.fields["movement_type"].values is not None
    assert movements.fields["movement_type"].values["101"] == "receipt"
    assert movements.fields["movement_type"].values["261"] == "issue"


def test_unquoted_yaml_boolean_code_is_refused(tmp_path: Path) -> None:
    text = ORDER_LINE.replace('{"O": open, "C": confirmed}', "{NO: open}")

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': fields.status.values: "
        "code False is not text; quote ERP codes in YAML ('101', 'NO')"
    )


def test_decimal_without_scale_is_refused_naming_table_and_field(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("encoding: decimal, scale: 3", "encoding: decimal")

    assert refusal(tmp_path, text) == (
        f"{tmp_path / 'mapping.yaml'}: table 'so_line': fields.quantity: "
        "the decimal encoding needs a scale (digits after the point)"
    )


def test_scale_without_decimal_encoding_is_refused(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("encoding: epoch_days}", "encoding: epoch_days, scale: 0}")

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': fields.due_date: scale only applies to the decimal encoding"
    )


def test_unknown_encoding_is_refused_naming_table_and_field(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("encoding: epoch_days", "encoding: julian_days")

    assert "table 'so_line': fields.due_date.encoding: Input should be 'decimal'" in refusal(
        tmp_path, text
    )


def test_unknown_event_field_is_refused_naming_table_and_field(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("order_id: so_no", "order_id: so_no\n      qty_open: qty_open")

    message = refusal(tmp_path, text)

    assert "table 'so_line': fields.qty_open: order_line events have no such field" in message
    assert "expected one of customer_id, customer_priority, due_date" in message


def test_unmapped_required_field_is_refused(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("      warehouse_id: ship_whse\n", "")

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': fields: warehouse_id required by order_line events but not mapped; "
        "map a column or give a default"
    )


def test_required_field_given_a_default_needs_no_column(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("      warehouse_id: ship_whse\n", "") + (
        "    defaults:\n      warehouse_id: MAIN\n"
    )

    assert load_mapping(write(tmp_path, text)).tables[0].defaults == {"warehouse_id": "MAIN"}


def test_misspelt_code_value_is_refused_naming_the_code(tmp_path: Path) -> None:
    text = ORDER_LINE.replace('"C": confirmed', '"C": confirmd')

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': fields.status.values['C']='confirmd': Input should be 'open', "
        "'confirmed', 'partially_shipped', 'shipped' or 'cancelled'"
    )


def test_default_violating_the_event_schema_is_refused(tmp_path: Path) -> None:
    text = ORDER_LINE + "    defaults:\n      customer_priority: 9\n"

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': defaults.customer_priority=9: Input should be less than or equal to 5"
    )


def test_default_event_time_is_refused(tmp_path: Path) -> None:
    text = ORDER_LINE + "    defaults:\n      event_time: '2024-01-01T00:00:00Z'\n"

    assert refusal(tmp_path, text).endswith(
        "table 'so_line': defaults.event_time: "
        "order_line events have no such field taking a default"
    )


def test_event_id_cannot_be_mapped_from_a_column(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("order_id: so_no", "order_id: so_no\n      event_id: so_no")

    assert "table 'so_line': fields.event_id: order_line events have no such field" in refusal(
        tmp_path, text
    )


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = ORDER_LINE.replace("kind: order_line", "kind: order").replace(
        "key_columns: [so_no, line_no]", "key_columns: []"
    )

    lines = refusal(tmp_path, text).splitlines()

    assert len(lines) == 2
    assert lines[0].endswith(
        "table 'so_line': kind: Input should be 'material', "
        "'movement', 'order_line', 'in_transit', 'production_order' or 'bom_line'"
    )
    assert lines[1].endswith(
        "table 'so_line': key_columns: Tuple should have at least 1 item after validation, not 0"
    )


def test_duplicate_table_entry_is_refused(tmp_path: Path) -> None:
    entry = ORDER_LINE.removeprefix("tables:\n")

    assert refusal(tmp_path, ORDER_LINE + entry).endswith("table 'so_line': declared twice")


def test_unknown_timezone_is_refused(tmp_path: Path) -> None:
    assert "timezone: invalid timezone: Asia/Shenzhen" in refusal(
        tmp_path, "timezone: Asia/Shenzhen\n" + ORDER_LINE
    )


def test_malformed_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    message = refusal(tmp_path, ORDER_LINE + "  - table: [po_line\n")

    assert message.startswith(f"{tmp_path / 'mapping.yaml'}: not valid YAML: ")
    assert "line 16" in message


def test_entry_pinned_to_a_database_matches_only_that_database() -> None:
    base = {
        "kind": "movement",
        "key_columns": ["trans_id"],
        "fields": {
            "material_id": "item_no",
            "movement_type": "trans_type",
            "quantity": "qty",
        },
    }
    mapping = CdcMapping.model_validate(
        {
            "tables": [
                {
                    **base,
                    "table": "inv_transaction",
                    "db": "plant_b",
                    "defaults": {"warehouse_id": "B"},
                },
                {**base, "table": "inv_transaction", "defaults": {"warehouse_id": "A"}},
                {
                    **base,
                    "table": "inv_adjust",
                    "db": "erp",
                    "schema": "audit",
                    "defaults": {"warehouse_id": "A"},
                },
            ]
        }
    )

    def warehouse(source: dict[str, str]) -> object:
        table = mapping.table_for(source)
        return table and table.defaults["warehouse_id"]

    assert warehouse({"table": "inv_transaction", "db": "plant_b"}) == "B"
    assert warehouse({"table": "inv_transaction", "db": "plant_a"}) == "A"
    assert warehouse({"table": "inv_adjust", "db": "erp", "schema": "audit"}) == "A"
    assert warehouse({"table": "inv_adjust", "db": "erp", "schema": "public"}) is None
    assert warehouse({"table": "so_line", "db": "erp"}) is None
