"""Production orders and BOM lines arrive as plain JSON or Debezium changes, like the ERP events."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

import connectors
from connectors.cdc import InvalidRecord, decode_production_record, decode_record
from connectors.mapping import load_mapping
from models.production import BomLine, ProductionOrder, ProductionOrderStatus
from tests.debezium import COMMITTED, change, epoch_days, epoch_micros, precise

MAPPING = load_mapping(Path(connectors.__file__).parent / "mappings" / "example-erp.yaml")
MAX_BYTES = 65_536
UPDATED = datetime(2024, 3, 1, 9, 30)  # the plant's wall clock (Asia/Shanghai)


def decode(value: dict[str, Any] | bytes | None, kind: str) -> ProductionOrder | BomLine | None:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return decode_production_record(raw, kind, MAPPING, MAX_BYTES)


def mfg_order(**changes: Any) -> dict[str, Any]:
    return {
        "mo_no": "MO-7",
        "item_no": "X-100",
        "prod_whse": "W1",
        "qty_planned": precise("500", 3),
        "sched_start": epoch_days(date(2024, 3, 8)),
        "mo_status": "F",
        "rush_flag": "Y",
        "updated_at": epoch_micros(UPDATED),
        **changes,
    }


def bom_item(**changes: Any) -> dict[str, Any]:
    return {
        "parent_item_no": "X-100",
        "comp_item_no": "P-1",
        "qty_per": precise("2.5", 6),
        "scrap_pct": precise("4", 2),
        "comp_lead_days": 12,
        "updated_at": epoch_micros(UPDATED),
        **changes,
    }


def test_a_plain_bom_line_takes_the_kind_of_its_topic():
    line = decode(
        {
            "event_id": "b1",
            "event_time": "2026-11-30T08:00:00Z",
            "parent_id": "X",
            "component_id": "A",
            "quantity_per": 2,
        },
        "bom_line",
    )
    assert isinstance(line, BomLine)
    assert (line.parent_id, line.component_id, line.quantity_per) == ("X", "A", 2)


def test_a_production_order_change_becomes_an_order_through_the_mapping():
    order = decode(change("mfg_order", "u", before=None, after=mfg_order()), "production_order")
    assert isinstance(order, ProductionOrder)
    assert (order.order_id, order.material_id, order.warehouse_id, order.quantity) == (
        "MO-7",
        "X-100",
        "W1",
        500,
    )
    assert (order.need_date, order.status, order.rush) == (
        date(2024, 3, 8),
        ProductionOrderStatus.RELEASED,
        True,
    )
    assert order.event_time == datetime(2024, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


def test_a_deleted_production_order_row_is_a_cancelled_order_at_its_commit_time():
    order = decode(change("mfg_order", "d", before=mfg_order()), "production_order")
    assert isinstance(order, ProductionOrder)
    assert (order.status, order.is_open) == (ProductionOrderStatus.CANCELLED, False)
    assert order.event_time == COMMITTED.replace(microsecond=123_000)


def test_a_bom_line_change_becomes_a_line_and_a_deleted_row_a_deleted_line():
    line = decode(change("bom_item", "c", after=bom_item()), "bom_line")
    deleted = decode(change("bom_item", "d", before=bom_item()), "bom_line")
    assert isinstance(line, BomLine) and isinstance(deleted, BomLine)
    assert (line.quantity_per, line.scrap_pct, line.lead_time_days, line.deleted) == (
        2.5,
        4,
        12,
        False,
    )
    assert (deleted.parent_id, deleted.component_id, deleted.deleted) == ("X-100", "P-1", True)
    assert line.event_id != deleted.event_id


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (
            {"event_id": "b1", "event_time": "2026-11-30T08:00:00Z", "parent_id": "X"},
            "bom_line",
            "component_id: field required (+1 more)",
        ),
        (
            {"kind": "order_line", "event_id": "o1"},
            "bom_line",
            "kind='order_line': unknown event kind",
        ),
        (b"[1, 2]", "production_order", "value: expected a JSON object, got an array"),
    ],
)
def test_an_unusable_production_record_is_refused_with_a_one_line_reason(value, kind, expected):
    with pytest.raises(InvalidRecord) as refused:
        decode(value, kind)
    assert str(refused.value).startswith(expected)


def test_a_bom_line_change_is_refused_where_material_events_are_read():
    raw = orjson.dumps(change("bom_item", "c", after=bom_item()))
    with pytest.raises(InvalidRecord, match="kind='bom_line': unknown event kind"):
        decode_record(raw, "movement", MAPPING, MAX_BYTES)


def test_a_bad_column_of_a_production_order_is_named_in_the_reason():
    with pytest.raises(InvalidRecord) as refused:
        decode(change("mfg_order", "c", after=mfg_order(mo_status="Q")), "production_order")
    assert str(refused.value).startswith("mfg_order.mo_status='Q': unknown code")
