"""Decoding raw ERP records, plain JSON and Debezium change events, into input events."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import connectors
from connectors.cdc import InvalidRecord, decode_precise_decimal, decode_record
from connectors.mapping import CdcMapping, load_mapping
from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialMaster,
    MovementType,
    OrderStatus,
    SalesOrderLine,
    StockMovement,
)
from tests.debezium import (
    COMMITTED,
    LSN,
    change,
    column,
    columns_of,
    decimal_column,
    epoch_days,
    epoch_micros,
    epoch_millis,
    inv_transaction,
    item_master,
    po_line,
    precise,
    so_line,
    ts_ms,
    unscaled_bytes,
    with_schema,
)

MAPPING = load_mapping(Path(connectors.__file__).parent / "mappings" / "example-erp.yaml")
MAX_BYTES = 65_536
SO_LINE_TYPES = {
    "qty_ordered": decimal_column("qty_ordered", 3),
    "qty_shipped": decimal_column("qty_shipped", 3),
    "promise_date": column("promise_date", "int32", "io.debezium.time.Date"),
    "unit_price": decimal_column("unit_price", 4),
    "last_upd": column("last_upd", "int64", "io.debezium.time.MicroTimestamp"),
}
SO_LINE_COLUMNS = columns_of(so_line(), **SO_LINE_TYPES)
INV_TRANSACTION_TYPES = {
    "unit_cost": decimal_column("unit_cost", 4),
    "posted_at": column("posted_at", "int64", "io.debezium.time.MicroTimestamp"),
}


def remapped(table: str, **fields: Any) -> CdcMapping:
    """The example mapping with some fields of one table fed differently."""
    raw = MAPPING.model_dump(by_alias=True, exclude_none=True)
    for entry in raw["tables"]:
        if entry["table"] == table:
            entry["fields"].update(fields)
    return CdcMapping.model_validate(raw)


def decode(document: Any, kind: str = "order_line", mapping: CdcMapping = MAPPING) -> Any:
    return decode_record(orjson.dumps(document), kind, mapping, MAX_BYTES)


def refusal(document: Any, kind: str = "order_line", mapping: CdcMapping = MAPPING) -> str:
    with pytest.raises(InvalidRecord) as caught:
        decode(document, kind, mapping)
    return str(caught.value)


PLAIN_MOVEMENT = {
    "event_id": "mv-1",
    "event_time": "2024-03-01T09:30:00+08:00",
    "material_id": "BRG-6204-2RS",
    "movement_type": "issue",
    "warehouse_id": "SH01",
    "quantity": 40,
}


# --- plain JSON events --------------------------------------------------------------------------


def test_tombstone_decodes_to_no_event() -> None:
    assert decode_record(None, "order_line", MAPPING, MAX_BYTES) is None


def test_plain_event_takes_the_kind_of_its_topic() -> None:
    event = decode(PLAIN_MOVEMENT, kind="movement")

    assert isinstance(event, StockMovement)
    assert event.event_id == "mv-1"
    assert event.event_time == datetime(2024, 3, 1, 1, 30, tzinfo=UTC)
    assert event.movement_type is MovementType.ISSUE
    assert event.quantity == 40.0


def test_plain_event_naming_its_kind_keeps_it() -> None:
    assert isinstance(
        decode({**PLAIN_MOVEMENT, "kind": "movement"}, kind="order_line"), StockMovement
    )


def test_plain_event_with_unknown_field_is_refused_naming_it() -> None:
    assert refusal({**PLAIN_MOVEMENT, "bin": "A-01-03"}, kind="movement") == (
        "bin: extra inputs are not permitted"
    )


def test_plain_event_with_wrong_type_is_refused_naming_field_and_value() -> None:
    assert refusal({**PLAIN_MOVEMENT, "quantity": "forty"}, kind="movement") == (
        "quantity='forty': Input should be a valid number, unable to parse string as a number"
    )


def test_plain_event_of_unknown_kind_is_refused() -> None:
    assert refusal({**PLAIN_MOVEMENT, "kind": "forecast"}) == "kind='forecast': unknown event kind"


def test_malformed_json_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(b'{"event_id": "mv-1",, "quantity": 4}', "movement", MAPPING, MAX_BYTES)

    assert str(caught.value) == (
        "value: malformed JSON: unexpected character, expected a string key: "
        "line 1 column 21 (char 20)"
    )


def test_reason_stays_on_one_line_whatever_the_record_holds() -> None:
    assert refusal({**PLAIN_MOVEMENT, "bin\nA-01": 1}, kind="movement") == (
        "bin\\nA-01: extra inputs are not permitted"
    )


def test_json_that_is_not_an_object_is_refused() -> None:
    assert refusal([PLAIN_MOVEMENT]) == "value: expected a JSON object, got an array"


def test_oversize_value_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(b"{" + b" " * 100 + b"}", "movement", MAPPING, max_bytes=64)

    assert str(caught.value) == "value: 102 bytes exceeds the limit of 64"


# --- Debezium change events without schemas (the mapping's encodings) ----------------------------


def test_inserted_order_line_decodes_field_by_field() -> None:
    event = decode(change("so_line", "c", after=so_line()))

    assert event == SalesOrderLine(
        event_id=f"so_line:SO-24-00017:10:{ts_ms(COMMITTED)}:c@{LSN}",
        event_time=COMMITTED,
        material_id="BRG-6204-2RS",
        order_id="SO-24-00017",
        line_id="10",
        warehouse_id="SH01",
        quantity=120.0,
        shipped_quantity=0.0,
        due_date=date(2024, 3, 15),
        status=OrderStatus.CONFIRMED,
        unit_price=3.25,
        customer_id="C-10442",
        customer_priority=2,
    )


def test_contract_penalty_columns_of_an_order_line_map_like_any_other_field() -> None:
    mapping = remapped(
        "so_line",
        penalty_per_day_late={"column": "late_fee_day", "encoding": "decimal", "scale": 2},
        penalty_per_unit_short={"column": "short_fee_unit", "encoding": "decimal", "scale": 2},
    )
    row = so_line(late_fee_day=precise("1500.00", 2), short_fee_unit=precise("2.50", 2))
    event = decode(change("so_line", "c", after=row), mapping=mapping)
    assert (event.penalty_per_day_late, event.penalty_per_unit_short) == (1500.0, 2.5)
    assert decode(change("so_line", "c", after=so_line())).penalty_per_day_late == 0.0


def test_update_reads_the_after_image() -> None:
    before = so_line()
    after = so_line(qty_shipped=precise("45.500", 3), line_status="P")

    event = decode(change("so_line", "u", before=before, after=after, lsn=LSN + 4096))

    assert event.shipped_quantity == 45.5
    assert event.status is OrderStatus.PARTIALLY_SHIPPED
    assert event.event_id == f"so_line:SO-24-00017:10:{ts_ms(COMMITTED)}:u@{LSN + 4096}"


def test_redelivered_change_gets_the_same_event_id() -> None:
    record = change("so_line", "u", before=so_line(), after=so_line(line_status="P"))

    assert decode(record).event_id == decode(record).event_id


def test_two_updates_committed_in_one_millisecond_keep_distinct_ids() -> None:
    first = change("so_line", "u", before=so_line(), after=so_line(line_status="P"))
    second = change(
        "so_line",
        "u",
        before=so_line(line_status="P"),
        after=so_line(line_status="S"),
        lsn=LSN + 96,
    )

    assert decode(first).event_id != decode(second).event_id


def test_snapshot_read_of_an_item_decodes_the_material_master() -> None:
    event = decode(change("item_master", "r", after=item_master()), kind="material")

    assert event == MaterialMaster(
        event_id=f"item_master:BRG-6204-2RS:{ts_ms(COMMITTED)}:r@{LSN}",
        # updated_at is Shanghai wall-clock time (the mapping's timezone): 10:15:30.25 local.
        event_time=datetime(2024, 3, 1, 2, 15, 30, 250_000, tzinfo=UTC),
        material_id="BRG-6204-2RS",
        name="Deep groove ball bearing 6204-2RS",
        category="BEARINGS",
        unit="PC",
        unit_cost=1.85,
        abc_class="A",
        service_level=0.95,
        default_lead_time_days=21,
        moq=500.0,
        preferred_supplier="V-2031",
        owner="P07",
        active=True,
    )


def test_goods_receipt_decodes_with_its_transaction_number_as_event_id() -> None:
    event = decode(change("inv_transaction", "c", after=inv_transaction()), kind="movement")

    assert event == StockMovement(
        event_id="inv_transaction:884211",
        event_time=datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
        material_id="BRG-6204-2RS",
        movement_type=MovementType.RECEIPT,
        warehouse_id="SH01",
        quantity=500.0,
        batch_id="L240301-07",
        unit_cost=1.82,
        po_line_id="77012",
    )


def test_resnapshot_of_a_movement_keeps_its_event_id() -> None:
    streamed = decode(change("inv_transaction", "c", after=inv_transaction()))
    resnapshot = decode(
        change(
            "inv_transaction",
            "r",
            after=inv_transaction(),
            committed=COMMITTED + timedelta(days=30),
        )
    )

    assert resnapshot.event_id == streamed.event_id


def test_negative_precise_decimal_decodes_to_a_negative_adjustment() -> None:
    row = inv_transaction(trans_type=702, qty=precise("-3.500", 3), po_line_id=None, lot_no=None)

    event = decode(change("inv_transaction", "c", after=row))

    assert row["qty"] == "8lQ="
    assert event.movement_type is MovementType.ADJUSTMENT
    assert event.quantity == -3.5


def test_decimal_in_double_mode_is_read_as_a_number() -> None:
    event = decode(change("so_line", "c", after=so_line(qty_ordered=120.0, unit_price=3.25)))

    assert (event.quantity, event.unit_price) == (120.0, 3.25)


def test_blank_padded_erp_code_is_translated() -> None:
    assert decode(change("so_line", "c", after=so_line(line_status="X  "))).status is (
        OrderStatus.CANCELLED
    )


def test_null_column_falls_back_to_the_tables_default() -> None:
    event = decode(change("inv_transaction", "c", after=inv_transaction(whse_code=None)))

    assert event.warehouse_id == "MAIN"


def test_null_column_without_default_leaves_the_event_default() -> None:
    event = decode(change("item_master", "c", after=item_master(stock_uom=None, abc_code=None)))

    assert (event.unit, event.abc_class) == ("EA", None)


def test_purchase_order_line_decodes_as_inbound_supply() -> None:
    event = decode(change("po_line", "u", before=po_line(line_status="O"), after=po_line()))

    assert event == InTransitLine(
        event_id=f"po_line:77012:{ts_ms(COMMITTED)}:u@{LSN}",
        event_time=COMMITTED,
        material_id="BRG-6204-2RS",
        line_id="77012",
        supplier_id="V-2031",
        warehouse_id="SH01",
        quantity=2000.0,
        received_quantity=500.0,
        ordered_at=datetime(2024, 2, 9, 6, 5, 12, tzinfo=UTC),
        eta=date(2024, 3, 20),
        status=InTransitStatus.SHIPPED,
    )


def test_date_column_feeding_a_date_time_field_is_midnight_in_the_erp_timezone() -> None:
    mapping = remapped("po_line", ordered_at={"column": "order_date", "encoding": "epoch_days"})
    row = po_line(order_date=epoch_days(date(2024, 2, 9)))

    event = decode(change("po_line", "c", after=row), mapping=mapping)

    assert event.ordered_at == datetime(2024, 2, 8, 16, 0, tzinfo=UTC)


# --- deletes ------------------------------------------------------------------------------------


def test_deleted_order_line_is_cancelled_at_the_commit_time() -> None:
    deleted_at = COMMITTED + timedelta(hours=3)

    event = decode(change("so_line", "d", before=so_line(), committed=deleted_at))

    assert event.status is OrderStatus.CANCELLED
    assert event.quantity == 120.0
    assert event.event_time == deleted_at
    assert event.event_id == f"so_line:SO-24-00017:10:{ts_ms(deleted_at)}:d@{LSN}"


def test_deleted_purchase_order_line_is_cancelled() -> None:
    event = decode(change("po_line", "d", before=po_line()))

    assert isinstance(event, InTransitLine)
    assert event.status is InTransitStatus.CANCELLED


def test_deleted_item_deactivates_the_material_at_the_commit_time() -> None:
    event = decode(change("item_master", "d", before=item_master()))

    assert isinstance(event, MaterialMaster)
    assert event.active is False
    # Not updated_at: the before image only knows when the item was last changed.
    assert event.event_time == COMMITTED


def test_deleted_stock_movement_is_refused() -> None:
    assert refusal(change("inv_transaction", "d", before=inv_transaction())) == (
        "op='d' on inv_transaction 884211: delete of a posted stock movement; "
        "post a reversing movement"
    )


def test_delete_with_only_the_key_before_it_asks_for_the_full_row() -> None:
    key_only = {name: None for name in so_line()} | {"so_no": "SO-24-00017", "line_no": 10}

    assert refusal(change("so_line", "d", before=key_only)) == (
        "so_line: material_id: field required (+3 more); "
        "a delete needs the whole row before it (Postgres: REPLICA IDENTITY FULL)"
    )


# --- refused change events ----------------------------------------------------------------------


def test_unknown_op_is_refused_naming_it() -> None:
    truncate = change("so_line", "t") | {"before": None, "after": None}

    assert refusal(truncate) == "op='t': unknown Debezium op; expected c, r, u or d"


def test_table_not_in_the_mapping_is_refused_naming_it() -> None:
    assert refusal(change("so_header", "c", after={"so_no": "SO-24-00017"})) == (
        "source.table='so_header': table not in the CDC mapping (source erp.public)"
    )


def test_change_without_its_row_image_is_refused() -> None:
    assert refusal(change("so_line", "u", before=so_line())) == (
        "after=None: op 'u' needs the row after the change"
    )


def test_mapped_column_missing_from_the_row_is_refused() -> None:
    row = so_line()
    del row["promise_date"]

    assert refusal(change("so_line", "c", after=row)) == (
        "so_line.promise_date: column not in the row image; check the mapping"
    )


def test_column_of_the_wrong_type_is_refused_naming_table_and_column() -> None:
    assert refusal(change("so_line", "c", after=so_line(promise_date="2024-03-15"))) == (
        "so_line.promise_date='2024-03-15': epoch_days needs an integer, got a string"
    )


def test_unknown_erp_code_is_refused_naming_column_and_code() -> None:
    assert refusal(change("so_line", "c", after=so_line(line_status="H"))) == (
        "so_line.line_status='H': unknown code; the mapping knows 'O', 'C', 'P', 'S', 'X'"
    )


def test_decimal_that_is_not_base64_is_refused() -> None:
    assert refusal(change("so_line", "c", after=so_line(qty_ordered="12.5!"))) == (
        "so_line.qty_ordered='12.5!': not base64 decimal bytes (Debezium precise mode)"
    )


def test_undeclared_decimal_bytes_are_refused_asking_for_a_scale() -> None:
    mapping = remapped("so_line", quantity="qty_ordered")

    assert refusal(change("so_line", "c", after=so_line(qty_ordered="AAA=")), mapping=mapping) == (
        "so_line.qty_ordered='AAA=': decimal bytes need a scale; declare encoding decimal "
        "and its scale in the mapping, or enable converter schemas"
    )


def test_field_refused_by_the_event_schema_names_its_column() -> None:
    assert refusal(change("so_line", "c", after=so_line(cust_priority=7))) == (
        "so_line.cust_priority -> customer_priority=7: Input should be less than or equal to 5"
    )


def test_row_refused_by_the_event_schema_names_its_table() -> None:
    row = so_line(qty_shipped=precise("150.000", 3))

    assert refusal(change("so_line", "c", after=row)) == (
        "so_line: shipped_quantity 150.0 exceeds quantity 120.0"
    )


def test_change_without_a_commit_time_is_refused() -> None:
    record = change("so_line", "c", after=so_line())
    del record["source"]["ts_ms"]

    assert refusal(record) == "source.ts_ms=None: expected epoch milliseconds"


# --- change events with schemas (JsonConverter schemas.enable=true) ------------------------------


def test_schema_wrapped_change_decodes_like_the_bare_one() -> None:
    record = change("so_line", "u", before=so_line(), after=so_line(line_status="P"))

    assert decode(with_schema(record, SO_LINE_COLUMNS)) == decode(record)


def test_schema_wrapped_tombstone_decodes_to_no_event() -> None:
    assert decode({"schema": None, "payload": None}) is None


def test_schema_types_win_over_the_mapping_encodings() -> None:
    # The mapping reads posted_at as epoch_micros and qty with scale 3; this table was
    # altered to timestamp(3) and numeric(18,2), and the schema says so.
    row = inv_transaction(
        qty=precise("500.25", 2), posted_at=epoch_millis(datetime(2024, 3, 1, 9, 30, 0, 500_000))
    )
    columns = columns_of(
        row,
        **{
            **INV_TRANSACTION_TYPES,
            "qty": decimal_column("qty", 2),
            "posted_at": column("posted_at", "int64", "io.debezium.time.Timestamp"),
        },
    )

    event = decode(with_schema(change("inv_transaction", "c", after=row), columns))

    assert event.quantity == 500.25
    assert event.event_time == datetime(2024, 3, 1, 1, 30, 0, 500_000, tzinfo=UTC)


def test_decimal_in_string_mode_is_read_per_the_schema() -> None:
    columns = columns_of(
        so_line(), **{**SO_LINE_TYPES, "qty_ordered": column("qty_ordered", "string")}
    )

    event = decode(with_schema(change("so_line", "c", after=so_line(qty_ordered="12.50")), columns))

    assert event.quantity == 12.5


def test_decimal_in_double_mode_is_read_per_the_schema() -> None:
    columns = columns_of(
        so_line(), **{**SO_LINE_TYPES, "qty_ordered": column("qty_ordered", "double")}
    )

    event = decode(with_schema(change("so_line", "c", after=so_line(qty_ordered=12.5)), columns))

    assert event.quantity == 12.5


def test_variable_scale_decimal_carries_its_own_scale() -> None:
    # Postgres numeric without precision, e.g. an unconstrained quantity column.
    variable = column("qty_ordered", "struct", "io.debezium.data.VariableScaleDecimal")
    columns = columns_of(so_line(), **{**SO_LINE_TYPES, "qty_ordered": variable})
    quantity = {"scale": 4, "value": precise("120.0625", 4)}

    event = decode(
        with_schema(change("so_line", "c", after=so_line(qty_ordered=quantity)), columns)
    )

    assert event.quantity == 120.0625


def test_zoned_timestamp_is_read_per_the_schema() -> None:
    # The ERP moved updated_at to timestamptz: Debezium writes it as ISO 8601 in UTC.
    row = item_master(updated_at="2024-03-01T02:15:30.25Z")
    columns = columns_of(
        row,
        std_cost=decimal_column("std_cost", 4),
        target_svc_lvl=decimal_column("target_svc_lvl", 4),
        min_order_qty=decimal_column("min_order_qty", 3),
        updated_at=column("updated_at", "string", "io.debezium.time.ZonedTimestamp"),
    )

    event = decode(with_schema(change("item_master", "u", after=row), columns))

    assert event.event_time == datetime(2024, 3, 1, 2, 15, 30, 250_000, tzinfo=UTC)


def test_nano_timestamp_is_read_per_the_schema_in_the_erp_timezone() -> None:
    created = epoch_micros(datetime(2024, 2, 9, 14, 5, 12)) * 1000 + 999
    row = po_line(created_at=created)
    columns = columns_of(
        row,
        qty_ordered=decimal_column("qty_ordered", 3),
        qty_received=decimal_column("qty_received", 3),
        created_at=column("created_at", "int64", "io.debezium.time.NanoTimestamp"),
        promised_date=column("promised_date", "int32", "io.debezium.time.Date"),
    )

    event = decode(with_schema(change("po_line", "c", after=row), columns))

    assert event.ordered_at == datetime(2024, 2, 9, 6, 5, 12, tzinfo=UTC)
    assert event.eta == date(2024, 3, 20)


def test_schema_decimal_without_a_scale_is_refused() -> None:
    scaleless = column("qty_ordered", "bytes", "org.apache.kafka.connect.data.Decimal")
    columns = columns_of(so_line(), **{**SO_LINE_TYPES, "qty_ordered": scaleless})

    assert refusal(with_schema(change("so_line", "c", after=so_line()), columns)) == (
        "so_line.qty_ordered='AdTA': decimal bytes need a scale; "
        "declare it in the mapping or enable converter schemas"
    )


# --- properties ---------------------------------------------------------------------------------


@given(unscaled=st.integers(-(10**40), 10**40), scale=st.integers(0, 8))
def test_any_precise_decimal_decodes_to_the_same_value(unscaled: int, scale: int) -> None:
    decoded = decode_precise_decimal(unscaled_bytes(unscaled), scale)

    assert decoded == Decimal(Decimal(unscaled).as_tuple()._replace(exponent=-scale))
    assert float(decoded) == unscaled / 10**scale  # int / int is correctly rounded


@given(
    st.integers(0, 8).flatmap(
        lambda scale: st.tuples(
            st.integers(-(10 ** (12 + scale)), 10 ** (12 + scale)), st.just(scale)
        )
    )
)
def test_any_precise_decimal_quantity_reaches_the_event_unchanged(case: tuple[int, int]) -> None:
    unscaled, scale = case
    assume(unscaled != 0)
    row = inv_transaction(
        trans_type=701, qty=unscaled_bytes(unscaled), lot_no=None, po_line_id=None
    )
    columns = columns_of(row, **INV_TRANSACTION_TYPES, qty=decimal_column("qty", scale))

    event = decode(with_schema(change("inv_transaction", "c", after=row), columns))

    assert event.quantity == unscaled / 10**scale


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ROWS = {
    "so_line": so_line(),
    "item_master": item_master(),
    "inv_transaction": inv_transaction(),
    "po_line": po_line(),
}


@st.composite
def garbled_changes(draw: st.DrawFn) -> dict[str, Any]:
    """A change of a mapped table with any of its columns, op, source or schema garbled."""
    table = draw(st.sampled_from(sorted(ROWS)))
    row = {name: draw(st.one_of(st.just(value), JSON)) for name, value in ROWS[table].items()}
    record = change(table, draw(st.sampled_from(["c", "r", "u", "d"])), before=row, after=row)
    wrapped = with_schema(record, columns_of(ROWS[table]))  # shares the payload garbled below
    wrapped["schema"] = draw(st.one_of(st.just(wrapped["schema"]), JSON))
    for name in draw(st.lists(st.sampled_from(["ts_ms", "table", "db", "lsn"]), max_size=2)):
        record["source"][name] = draw(JSON)
    for key in draw(st.lists(st.sampled_from(["op", "before", "after", "source"]), max_size=2)):
        record[key] = draw(JSON)
    return draw(st.sampled_from([record, wrapped]))


@settings(suppress_health_check=[HealthCheck.too_slow])  # garbled changes are big to draw
@given(
    st.one_of(
        JSON,
        garbled_changes(),
        st.builds(
            lambda extra: {**PLAIN_MOVEMENT, **extra},
            st.dictionaries(st.sampled_from([*PLAIN_MOVEMENT, "kind"]) | st.text(max_size=8), JSON),
        ),
    )
)
def test_any_record_decodes_or_is_refused_with_a_one_line_reason(document: Any) -> None:
    try:
        decode(document, kind="movement")
    except InvalidRecord as refused:
        assert "\n" not in str(refused)
