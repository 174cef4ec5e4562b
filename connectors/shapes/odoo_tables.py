"""Odoo 17's tables as Debezium's Postgres connector captures them: rows written, changes out.

Every write to a row becomes the change event the connector writes with its
defaults and the JSON converter without schemas: Odoo's float fields are
``numeric`` columns without precision, so variable-scale decimals (``{"scale",
"value"}``); its Datetime fields ``timestamp without time zone`` in UTC, so
MicroTimestamps; its Date fields epoch days. Updates carry ``before``
(``REPLICA IDENTITY FULL``), deletes are followed by a tombstone, and a
re-snapshot sends every row again with op ``r``. Topics are
``odoo.public.<table>``. The tables' current rows are kept (``history.rows``).
"""

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.shapes.debezium import (
    TableWriter,
    epoch_days,
    epoch_micros,
    ts_ms,
    variable_decimal,
)

SERVER = "odoo"  # topic.prefix: topics are odoo.public.<table>

# Columns holding Odoo floats (numeric) and Dates; other datetimes are Datetimes.
_NUMERIC = {
    "product_uom_qty",
    "product_qty",
    "quantity",
    "qty_delivered",
    "qty_received",
    "price_unit",
    "list_price",
    "customer_lead",
    "qty_producing",
}
_DATE = {"validity_date"}


def odoo_number(value: float | Decimal) -> Decimal:
    """A quantity as Postgres keeps an Odoo float: the digits it was written with.

    >>> odoo_number(12.50), odoo_number(0.0)
    (Decimal('12.5'), Decimal('0'))
    """
    return Decimal(str(value)).normalize() if value else Decimal(0)


class OdooTables(TableWriter):
    """Odoo's database as the connector sees it: each write becomes change events.

    ``clock`` is Odoo's UTC wall clock (naive), the time of the next write;
    ``rng`` spaces the log sequence numbers. ``write`` and ``unlink`` are
    Odoo's names for an update and a delete.
    """

    def __init__(self, rng: random.Random, clock: datetime) -> None:
        super().__init__(rng, clock)
        self.lsn = 30_000_000
        self.tx = 900
        self.ids: dict[str, int] = defaultdict(int)

    def _topic(self, table: str) -> str:
        return f"{SERVER}.public.{table}"

    def _column(self, name: str, value: Any) -> Any:
        if name in _NUMERIC:
            return variable_decimal(odoo_number(value))
        if name in _DATE:
            return epoch_days(value)
        if isinstance(value, datetime):
            return epoch_micros(value)
        return value

    def _source(self, table: str, op: str, snapshot: str) -> dict[str, Any]:
        self.lsn += self.rng.randint(64, 4096)
        return {
            "version": "2.5.4.Final",
            "connector": "postgresql",
            "name": SERVER,
            "ts_ms": ts_ms(self.clock.replace(tzinfo=UTC)),
            "snapshot": snapshot,
            "db": "odoo",
            "sequence": f'["{self.lsn - 64}","{self.lsn}"]',
            "schema": "public",
            "table": table,
            "txId": self.tx,
            "lsn": self.lsn,
            "xmin": None,
        }

    def create(self, table: str, **values: Any) -> dict[str, Any]:
        """Insert a row with the next id of its table; the row, kept current, is returned."""
        self.ids[table] += 1
        stamp = {"create_date": self.clock, "write_date": self.clock}
        row = {"id": self.ids[table], "company_id": 1, **values, **stamp}
        self.history.rows[table][row["id"]] = row
        self.tx += 1
        self._emit(table, "c", None, row)
        return row

    write = TableWriter.update
    unlink = TableWriter.delete

    def resnapshot(self) -> None:
        """The connector's offsets were lost: every row of every table again, op ``r``."""
        self._snapshot(list(self.history.rows))


@dataclass
class Warehouse:
    """A warehouse's rows: itself, its stock location and a shelf in it, and its receipt
    and manufacturing operation types."""

    row: dict[str, Any]
    stock: dict[str, Any]
    shelf: dict[str, Any]
    receipts: dict[str, Any]
    manufacturing: dict[str, Any]


def add_warehouse(
    tables: OdooTables, code: str, create: Callable[..., dict[str, Any]] | None = None
) -> Warehouse:
    """A warehouse as Odoo creates it: the warehouse, its locations and operation types,
    then their ids written back.

    ``create(table, key, **values)`` inserts the row that stands for ``key``
    (``tables.create``, the next id of its table, by default).
    """
    insert = create or (lambda table, _, **values: tables.create(table, **values))
    warehouse = insert(
        "stock_warehouse", code, name=f"Warehouse {code}", code=code, active=True, lot_stock_id=None
    )
    view = insert(
        "stock_location", code, name=code, usage="view", warehouse_id=warehouse["id"], active=True
    )
    stock = insert(
        "stock_location",
        f"{code}/Stock",
        name="Stock",
        complete_name=f"{code}/Stock",
        usage="internal",
        location_id=view["id"],
        warehouse_id=warehouse["id"],
        active=True,
    )
    shelf = insert(
        "stock_location",
        f"{code}/Stock/Shelf 1",
        name="Shelf 1",
        complete_name=f"{code}/Stock/Shelf 1",
        usage="internal",
        location_id=stock["id"],
        warehouse_id=warehouse["id"],
        active=True,
    )
    receipts = insert(
        "stock_picking_type",
        f"{code}/IN",
        name="Receipts",
        code="incoming",
        warehouse_id=warehouse["id"],
        default_location_dest_id=stock["id"],
        sequence_code="IN",
        active=True,
    )
    manufacturing = insert(
        "stock_picking_type",
        f"{code}/MO",
        name="Manufacturing",
        code="mrp_operation",
        warehouse_id=warehouse["id"],
        default_location_src_id=stock["id"],
        default_location_dest_id=stock["id"],
        sequence_code="MO",
        active=True,
    )
    tables.write(
        "stock_warehouse", warehouse, lot_stock_id=stock["id"], view_location_id=view["id"]
    )
    return Warehouse(warehouse, stock, shelf, receipts, manufacturing)
