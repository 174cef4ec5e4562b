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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from connectors.shapes.debezium import (
    Change,
    ChangeHistory,
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


def _encoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    encoded: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            encoded[name] = None
        elif name in _NUMERIC:
            encoded[name] = variable_decimal(odoo_number(value))
        elif name in _DATE:
            encoded[name] = epoch_days(value)
        elif isinstance(value, datetime):
            encoded[name] = epoch_micros(value)
        else:
            encoded[name] = value
    return encoded


class OdooTables:
    """Odoo's database as the connector sees it: each write becomes change events.

    ``clock`` is Odoo's UTC wall clock (naive), the time of the next write;
    ``rng`` spaces the log sequence numbers.
    """

    def __init__(self, rng: random.Random, clock: datetime) -> None:
        self.rng = rng
        self.history = ChangeHistory()
        self.clock = clock
        self.lsn = 30_000_000
        self.tx = 900
        self.ids: dict[str, int] = defaultdict(int)

    def _emit(
        self,
        table: str,
        op: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        snapshot: str = "false",
    ) -> None:
        self.lsn += self.rng.randint(64, 4096)
        committed = self.clock.replace(tzinfo=UTC)
        row = after if after is not None else before
        assert row is not None
        key = orjson.dumps({"id": row["id"]})
        envelope = {
            "before": _encoded(before),
            "after": _encoded(after),
            "source": {
                "version": "2.5.4.Final",
                "connector": "postgresql",
                "name": SERVER,
                "ts_ms": ts_ms(committed),
                "snapshot": snapshot,
                "db": "odoo",
                "sequence": f'["{self.lsn - 64}","{self.lsn}"]',
                "schema": "public",
                "table": table,
                "txId": self.tx,
                "lsn": self.lsn,
                "xmin": None,
            },
            "op": op,
            "ts_ms": ts_ms(committed) + 35,
            "transaction": None,
        }
        topic = f"{SERVER}.public.{table}"
        self.history.changes.append(Change(topic, key, orjson.dumps(envelope)))
        if op == "d":
            self.history.changes.append(Change(topic, key, None))

    def create(self, table: str, **values: Any) -> dict[str, Any]:
        """Insert a row with the next id of its table; the row, kept current, is returned."""
        self.ids[table] += 1
        stamp = {"create_date": self.clock, "write_date": self.clock}
        row = {"id": self.ids[table], "company_id": 1, **values, **stamp}
        self.history.rows[table][row["id"]] = row
        self.tx += 1
        self._emit(table, "c", None, row)
        return row

    def write(self, table: str, row: dict[str, Any], **values: Any) -> None:
        """Update a row in place (``write_date`` now)."""
        before = dict(row)
        row.update(values, write_date=self.clock)
        self._emit(table, "u", before, dict(row))

    def unlink(self, table: str, row: dict[str, Any]) -> None:
        """Delete a row: a delete event, then a tombstone."""
        del self.history.rows[table][row["id"]]
        self._emit(table, "d", dict(row), None)

    def resnapshot(self) -> None:
        """The connector's offsets were lost: every row of every table again, op ``r``."""
        tables = list(self.history.rows)
        for number, table in enumerate(tables):
            rows = list(self.history.rows[table].values())
            for index, row in enumerate(rows):
                last = number == len(tables) - 1 and index == len(rows) - 1
                self._emit(table, "r", None, dict(row), "last" if last else "true")
