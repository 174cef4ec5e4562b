"""Debezium change events of the example ERP's tables, as the Postgres connector writes them.

The encodings are ``connectors.shapes.debezium``'s, built independently of
``connectors.cdc`` so that tests check the decoder against Debezium's
documented encodings, not against itself.
"""

from datetime import UTC, date, datetime
from typing import Any

from connectors.shapes.debezium import (
    epoch_days,
    epoch_micros,
    epoch_millis,
    precise,
    ts_ms,
    unscaled_bytes,
)

COMMITTED = datetime(2024, 3, 1, 8, 0, 0, 123_000, tzinfo=UTC)  # source.ts_ms of most changes
LSN = 24_023_128

__all__ = ["epoch_days", "epoch_micros", "epoch_millis", "precise", "ts_ms", "unscaled_bytes"]


# --- ERP rows, as the example mapping's tables hold them ----------------------------------------


def so_line(**changes: Any) -> dict[str, Any]:
    return {
        "so_no": "SO-24-00017",
        "line_no": 10,
        "item_no": "BRG-6204-2RS",
        "ship_whse": "SH01",
        "qty_ordered": precise("120.000", 3),
        "qty_shipped": precise("0.000", 3),
        "promise_date": epoch_days(date(2024, 3, 15)),
        "line_status": "C",
        "unit_price": precise("3.2500", 4),
        "cust_no": "C-10442",
        "cust_priority": 2,
        "last_upd": epoch_micros(datetime(2024, 3, 1, 15, 59, 58)),
        **changes,
    }


def item_master(**changes: Any) -> dict[str, Any]:
    return {
        "item_no": "BRG-6204-2RS",
        "item_desc": "Deep groove ball bearing 6204-2RS",
        "item_group": "BEARINGS",
        "stock_uom": "PC",
        "std_cost": precise("1.8500", 4),
        "abc_code": "A",
        "target_svc_lvl": precise("0.9500", 4),
        "purch_lead_days": 21,
        "min_order_qty": precise("500.000", 3),
        "primary_vendor": "V-2031",
        "planner_code": "P07",
        "item_status": "A",
        "updated_at": epoch_micros(datetime(2024, 3, 1, 10, 15, 30, 250_000)),
        **changes,
    }


def inv_transaction(**changes: Any) -> dict[str, Any]:
    return {
        "trans_id": 884_211,
        "item_no": "BRG-6204-2RS",
        "trans_type": 101,
        "whse_code": "SH01",
        "qty": precise("500.000", 3),
        "lot_no": "L240301-07",
        "unit_cost": precise("1.8200", 4),
        "po_line_id": 77_012,
        "so_no": None,
        "so_line_no": None,
        "to_whse_code": None,
        "posted_at": epoch_micros(datetime(2024, 3, 1, 9, 30)),
        **changes,
    }


def po_line(**changes: Any) -> dict[str, Any]:
    return {
        "po_line_id": 77_012,
        "po_no": "PO-24-00311",
        "item_no": "BRG-6204-2RS",
        "vendor_no": "V-2031",
        "recv_whse": "SH01",
        "qty_ordered": precise("2000.000", 3),
        "qty_received": precise("500.000", 3),
        "created_at": epoch_micros(datetime(2024, 2, 9, 14, 5, 12)),
        "promised_date": epoch_days(date(2024, 3, 20)),
        "line_status": "A",
        **changes,
    }


def change(
    table: str,
    op: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    committed: datetime = COMMITTED,
    lsn: int = LSN,
) -> dict[str, Any]:
    """A Debezium Postgres change event, as the JSON converter writes it without schemas."""
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "2.5.4.Final",
            "connector": "postgresql",
            "name": "erp",
            "ts_ms": ts_ms(committed),
            "snapshot": "last" if op == "r" else "false",
            "db": "erp",
            "sequence": f'["{lsn - 128}","{lsn}"]',
            "schema": "public",
            "table": table,
            "txId": 5813,
            "lsn": lsn,
            "xmin": None,
        },
        "op": op,
        "ts_ms": ts_ms(committed) + 42,
        "transaction": None,
    }


def column(name: str, kind: str, logical: str | None = None, **parameters: str) -> dict[str, Any]:
    """One column of a Kafka Connect struct schema."""
    schema: dict[str, Any] = {"type": kind, "optional": True, "field": name}
    if logical:
        schema |= {"name": logical, "version": 1}
    if parameters:
        schema["parameters"] = parameters
    return schema


def decimal_column(name: str, scale: int) -> dict[str, Any]:
    return column(
        name,
        "bytes",
        "org.apache.kafka.connect.data.Decimal",
        scale=str(scale),
        **{"connect.decimal.precision": "18"},
    )


def columns_of(row: dict[str, Any], **logical: dict[str, Any]) -> list[dict[str, Any]]:
    """A row's struct schema: int64 for integers, string otherwise, unless given a logical type."""
    return [
        logical.get(name) or column(name, "int64" if isinstance(value, int) else "string")
        for name, value in row.items()
    ]


def with_schema(envelope: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    """The same change as the JSON converter writes it with ``schemas.enable=true``."""
    table = envelope["source"]["table"]
    row = {
        "type": "struct",
        "fields": columns,
        "optional": True,
        "name": f"erp.public.{table}.Value",
    }
    source = [
        column(name, kind)
        for name, kind in [
            ("version", "string"),
            ("connector", "string"),
            ("name", "string"),
            ("ts_ms", "int64"),
            ("db", "string"),
            ("schema", "string"),
            ("table", "string"),
            ("lsn", "int64"),
        ]
    ]
    return {
        "schema": {
            "type": "struct",
            "fields": [
                {**row, "field": "before"},
                {**row, "field": "after"},
                {
                    "type": "struct",
                    "fields": source,
                    "optional": False,
                    "name": "io.debezium.connector.postgresql.Source",
                    "field": "source",
                },
                column("op", "string"),
                column("ts_ms", "int64"),
            ],
            "optional": False,
            "name": f"erp.public.{table}.Envelope",
            "version": 1,
        },
        "payload": envelope,
    }
