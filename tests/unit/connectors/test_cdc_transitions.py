"""Decoding with the mapping language: row filters, entry into a condition, computed fields,
one row to several events, lookups held until their reference arrives, date-times as dates."""

from datetime import UTC, date, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors.cdc import (
    ChangeReader,
    Decoded,
    InvalidRecord,
    MissingReference,
    ReferenceChange,
    ReferenceRows,
    decode_changes,
    decode_record,
    decode_reference_row,
    encode_reference_row,
)
from connectors.mapping import CdcMapping, load_mapping
from models.events import InputEvent, InTransitLine, SalesOrderLine, StockMovement
from tests.debezium import change, epoch_micros

MAX_BYTES = 65_536
LOCATIONS = {1: ("supplier", None), 2: ("customer", None), 3: ("inventory", None)}
LOCATIONS |= {10: ("internal", 1), 11: ("internal", 1), 20: ("internal", 2), 5: ("transit", None)}
WAREHOUSES = {1: "WH", 2: "SHA"}

MAPPING = """\
timezone: Asia/Shanghai
references:
  - table: stock_location
    key_columns: [id]
    fields: {usage: usage, warehouse_id: warehouse_id}
  - table: stock_warehouse
    key_columns: [id]
    fields: {code: code}
tables:
  - table: stock_move
    kind: movement
    key_columns: [id]
    event_id_columns: [id]
    inputs:
      done: {column: state, is: [done]}
      qty: {column: quantity, encoding: variable_decimal}
      src_stock: {column: location_id, lookup: stock_location.usage, is: [internal]}
      dst_stock: {column: location_dest_id, lookup: stock_location.usage, is: [internal]}
      src_loss: {column: location_id, lookup: stock_location.usage, is: [inventory]}
      dst_loss: {column: location_dest_id, lookup: stock_location.usage, is: [inventory]}
      src_outside: {column: location_id, lookup: stock_location.usage, is: [supplier]}
      dst_outside: {column: location_dest_id, lookup: stock_location.usage, is: [customer]}
      src_wh: {column: location_id, lookup: stock_location.warehouse_id}
      dst_wh: {column: location_dest_id, lookup: stock_location.warehouse_id}
      src_code: {column: location_id, lookup: [stock_location.warehouse_id, stock_warehouse.code]}
      dst_code:
        column: location_dest_id
        lookup: [stock_location.warehouse_id, stock_warehouse.code]
    when: done == 1
    trigger: entry
    fields:
      material_id: product_id
      quantity: {input: qty}
      event_time: {column: date, encoding: epoch_micros}
    emit:
      - name: receipt
        when: dst_stock == 1 and src_outside == 1
        set: {movement_type: receipt}
        fields: {warehouse_id: {input: dst_code}}
      - name: issue
        when: src_stock == 1 and dst_outside == 1
        set: {movement_type: issue}
        fields: {warehouse_id: {input: src_code}}
      - name: out
        when: src_stock == 1 and dst_stock == 1 and src_wh != dst_wh
        set: {movement_type: transfer_out}
        fields: {warehouse_id: {input: src_code}, counterpart_warehouse_id: {input: dst_code}}
      - name: in
        when: src_stock == 1 and dst_stock == 1 and src_wh != dst_wh
        set: {movement_type: transfer_in}
        fields: {warehouse_id: {input: dst_code}, counterpart_warehouse_id: {input: src_code}}
      - name: loss
        when: src_stock == 1 and dst_loss == 1
        set: {movement_type: adjustment}
        fields: {warehouse_id: {input: src_code}, quantity: {compute: -qty}}
  - table: purchase_order_line
    kind: in_transit
    key_columns: [id]
    inputs:
      counts: {column: state, is: [purchase, cancel]}
    when: counts == 1
    fields:
      line_id: id
      material_id: product_id
      supplier_id: partner_id
      warehouse_id:
        column: location_id
        lookup: [stock_location.warehouse_id, stock_warehouse.code]
      quantity: {column: product_qty, encoding: variable_decimal}
      ordered_at: {column: date_order, encoding: epoch_micros}
      eta: {column: date_planned, encoding: epoch_micros}
      status: {column: state, values: {purchase: ordered, cancel: cancelled}}
"""

DONE_AT = datetime(2026, 9, 3, 14, 30)


@pytest.fixture(scope="module")
def mapping(tmp_path_factory: pytest.TempPathFactory) -> CdcMapping:
    path: Path = tmp_path_factory.mktemp("mapping") / "odoo.yaml"
    path.write_text(dedent(MAPPING))
    return load_mapping(path)


def references() -> ReferenceRows:
    rows = ReferenceRows()
    for location_id, (usage, warehouse_id) in LOCATIONS.items():
        kept = {"usage": usage, "warehouse_id": warehouse_id}
        rows.apply(ReferenceChange("stock_location", str(location_id), kept))
    for warehouse_id, code in WAREHOUSES.items():
        rows.apply(ReferenceChange("stock_warehouse", str(warehouse_id), {"code": code}))
    return rows


def move(state: str = "done", source: int = 10, destination: int = 2, **changes: Any) -> dict:
    return {
        "id": 7,
        "product_id": 42,
        "location_id": source,
        "location_dest_id": destination,
        "state": state,
        "quantity": {"scale": 2, "value": "BOI="},  # 12.50
        "date": epoch_micros(DONE_AT),
        "origin": "S00017",
        **changes,
    }


def decode(
    mapping: CdcMapping, document: dict, rows: ReferenceRows | None = None
) -> Decoded[InputEvent]:
    value = orjson.dumps(document)
    return decode_changes(value, "movement", mapping, MAX_BYTES, rows or references())


def movements(decoded: Decoded[InputEvent]) -> list[StockMovement]:
    assert all(isinstance(event, StockMovement) for event in decoded.events)
    return list(decoded.events)  # type: ignore[arg-type]


def test_a_move_created_done_is_one_issue_at_its_source_warehouse(mapping: CdcMapping) -> None:
    (issue,) = movements(decode(mapping, change("stock_move", "c", after=move())))

    assert (issue.movement_type, issue.warehouse_id, issue.quantity) == ("issue", "WH", 12.5)
    assert issue.event_id == "stock_move:7#issue"
    assert issue.material_id == "42"
    assert issue.event_time == DONE_AT.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


def test_a_move_becoming_done_is_a_movement_once(mapping: CdcMapping) -> None:
    becomes_done = change("stock_move", "u", before=move("assigned"), after=move())
    edited_later = change("stock_move", "u", before=move(), after=move(origin="S00017 (checked)"))

    assert [event.event_id for event in decode(mapping, becomes_done).events] == [
        "stock_move:7#issue"
    ]
    assert decode(mapping, edited_later) == Decoded(
        skipped="already in when 'done == 1' before this update: counted once"
    )


def test_a_resnapshot_of_a_done_move_repeats_the_same_event_id(mapping: CdcMapping) -> None:
    becomes_done = change("stock_move", "u", before=move("assigned"), after=move())
    snapshot = change("stock_move", "r", after=move())

    assert decode(mapping, snapshot).events == decode(mapping, becomes_done).events


def test_moves_not_done_are_skipped_with_the_condition(mapping: CdcMapping) -> None:
    assert decode(mapping, change("stock_move", "c", after=move("draft"))) == Decoded(
        skipped="when 'done == 1' does not hold"
    )
    cancelled = change("stock_move", "u", before=move("assigned"), after=move("cancel"))
    assert decode(mapping, cancelled).skipped == "when 'done == 1' does not hold"
    deleted = change("stock_move", "d", before=move("draft"))
    assert decode(mapping, deleted).skipped == "when 'done == 1' did not hold before the delete"


def test_a_done_move_undone_is_refused_for_a_person_to_look_at(mapping: CdcMapping) -> None:
    undone = change("stock_move", "u", before=move(), after=move("cancel"))

    with pytest.raises(InvalidRecord) as refused:
        decode(mapping, undone)

    assert str(refused.value) == (
        "op='u' on stock_move 7: left when 'done == 1' after it counted; "
        "post a reversing movement (or set on_exit: skip)"
    )


def test_on_exit_skip_skips_a_done_move_undone(mapping: CdcMapping) -> None:
    table = mapping.tables[0].model_copy(update={"on_exit": "skip"})
    lenient = mapping.model_copy(update={"tables": (table, *mapping.tables[1:])})
    undone = change("stock_move", "u", before=move(), after=move("cancel"))

    assert (
        decode(lenient, undone).skipped == "left when 'done == 1' after it counted (on_exit: skip)"
    )


def test_an_update_without_the_row_before_is_refused_naming_replica_identity(
    mapping: CdcMapping,
) -> None:
    with pytest.raises(InvalidRecord, match=r"REPLICA IDENTITY FULL"):
        decode(mapping, change("stock_move", "u", after=move()))


def test_a_done_move_deleted_is_refused_as_a_posted_movement(mapping: CdcMapping) -> None:
    with pytest.raises(InvalidRecord, match="delete of a posted stock movement"):
        decode(mapping, change("stock_move", "d", before=move()))


def test_a_move_between_warehouses_is_a_transfer_out_and_a_transfer_in(
    mapping: CdcMapping,
) -> None:
    out, into = movements(
        decode(mapping, change("stock_move", "c", after=move(source=10, destination=20)))
    )

    assert (out.movement_type, out.warehouse_id, out.counterpart_warehouse_id) == (
        "transfer_out",
        "WH",
        "SHA",
    )
    assert (into.movement_type, into.warehouse_id, into.counterpart_warehouse_id) == (
        "transfer_in",
        "SHA",
        "WH",
    )
    assert (out.event_id, into.event_id) == ("stock_move:7#out", "stock_move:7#in")


def test_a_move_within_one_warehouse_is_no_movement(mapping: CdcMapping) -> None:
    shelved = change("stock_move", "c", after=move(source=10, destination=11))

    assert decode(mapping, shelved).skipped == "no emit case holds (receipt, issue, out, in, loss)"


def test_a_loss_is_a_negative_adjustment(mapping: CdcMapping) -> None:
    (loss,) = movements(decode(mapping, change("stock_move", "c", after=move(destination=3))))

    assert (loss.movement_type, loss.quantity) == ("adjustment", -12.5)


def test_a_move_naming_an_unknown_location_is_missing_its_reference(mapping: CdcMapping) -> None:
    with pytest.raises(MissingReference) as missing:
        decode(mapping, change("stock_move", "c", after=move(destination=99)))

    assert (missing.value.table, missing.value.key) == ("stock_location", "99")
    assert str(missing.value) == (
        "stock_move.location_dest_id='99': stock_location row '99' not known yet; held for it"
    )


def test_the_reader_holds_a_change_until_its_reference_arrives(mapping: CdcMapping) -> None:
    reader: ChangeReader[str] = ChangeReader(mapping, MAX_BYTES, references())
    early = orjson.dumps(change("stock_move", "c", after=move(destination=30)))
    location = orjson.dumps(
        change("stock_location", "c", after={"id": 30, "usage": "internal", "warehouse_id": 2})
    )

    assert reader.read(early, "movement", "move") == []
    assert reader.held == [("move", "stock_location row '30' not known yet")]
    (reference, released) = reader.read(location, "movement", "location")

    assert reference[0] == "location"
    assert reference[1].reference == ReferenceChange(
        "stock_location", "30", {"usage": "internal", "warehouse_id": 2}
    )
    assert released[0] == "move"
    assert [event.event_id for event in released[1].events] == [
        "stock_move:7#out",
        "stock_move:7#in",
    ]
    assert reader.held == []


def test_a_deleted_reference_row_is_forgotten(mapping: CdcMapping) -> None:
    rows = references()
    deleted = change("stock_location", "d", before={"id": 20, "usage": "internal"})

    rows.apply(decode(mapping, deleted).reference)  # type: ignore[arg-type]

    assert rows.row("stock_location", "20") is None


def test_a_date_time_mapped_to_a_date_takes_its_day_in_the_mapping_timezone(
    mapping: CdcMapping,
) -> None:
    line = {
        "id": 3,
        "product_id": 42,
        "partner_id": 100,
        "location_id": 20,
        "product_qty": {"scale": 0, "value": "ZA=="},  # 100
        "date_order": epoch_micros(datetime(2026, 9, 1, 9, 0)),
        "date_planned": epoch_micros(datetime(2026, 9, 10, 15, 45)),
        "state": "purchase",
    }

    (event,) = decode(mapping, change("purchase_order_line", "c", after=line)).events

    assert isinstance(event, InTransitLine)
    assert (event.eta, event.warehouse_id, event.quantity) == (date(2026, 9, 10), "SHA", 100)


def test_a_text_input_in_an_expression_is_refused_naming_the_input(tmp_path: Path) -> None:
    text = MAPPING.replace("done: {column: state, is: [done]}", "done: state")
    path = tmp_path / "mapping.yaml"
    path.write_text(text)

    with pytest.raises(InvalidRecord) as refused:
        decode(load_mapping(path), change("stock_move", "c", after=move()))

    assert str(refused.value) == (
        "stock_move: input done='done' in 'done == 1' is not a number; "
        "give it is: [codes] or values: {code: number}"
    )


def test_decode_record_which_keeps_no_references_refuses_a_change_needing_one(
    mapping: CdcMapping,
) -> None:
    value = orjson.dumps(change("stock_move", "c", after=move()))

    with pytest.raises(InvalidRecord, match=r"stock_location row '\d+' not known yet"):
        decode_record(value, "movement", mapping, MAX_BYTES)


def test_first_of_takes_the_promised_day_else_the_order_day() -> None:
    odoo = load_mapping(Path(connectors.__file__).parent / "mappings" / "odoo17.yaml")
    rows = ReferenceRows()
    rows.apply(ReferenceChange("stock_warehouse", "1", {"code": "WH"}))
    ordered, promised = datetime(2026, 9, 1, 9, 0), datetime(2026, 9, 20, 16, 0)
    for order_id, commitment in ((1, promised), (2, None)):
        kept = {"warehouse_id": 1, "commitment_date": commitment, "date_order": ordered}
        rows.apply(ReferenceChange("sale_order", str(order_id), kept))

    def due_date(order_id: int) -> date:
        line = {
            "id": 10 + order_id,
            "order_id": order_id,
            "product_id": 42,
            "product_uom_qty": {"scale": 0, "value": "Cg=="},  # 10
            "qty_delivered": {"scale": 0, "value": "AA=="},
            "price_unit": {"scale": 0, "value": "AA=="},
            "state": "sale",
            "order_partner_id": 200,
        }
        (event,) = decode(odoo, change("sale_order_line", "c", after=line), rows).events
        assert isinstance(event, SalesOrderLine)
        return event.due_date

    assert (due_date(1), due_date(2)) == (date(2026, 9, 20), date(2026, 9, 1))


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # bigint, as JSON carries it
        | st.text()
        | st.decimals(allow_nan=False, allow_infinity=False)
        | st.dates()
        | st.datetimes(timezones=st.just(UTC)),
        max_size=6,
    )
)
def test_a_reference_row_reads_back_as_it_was_kept(row: dict[str, Any]) -> None:
    assert decode_reference_row(encode_reference_row(row)) == row
