"""ERPNext 15's tables as Debezium's MySQL connector captures them: rows written, changes out.

ERPNext is Frappe on MariaDB. Every write to a captured table becomes the
change event the connector writes with its defaults and the JSON converter
without schemas. Frappe's Float and Currency fields are ``DECIMAL(21,9)``, so
base64 bytes of scale 9 (``decimal.handling.mode=precise``); Check fields and
``docstatus`` are ``INT(1)``, plain numbers; Date fields epoch days; Datetime
fields ``DATETIME(6)``, so MicroTimestamps of the site's wall clock; Time
fields MicroTime (microseconds since midnight). Every row is keyed by its
``name``; updates carry ``before`` (``binlog_row_image=FULL``); deletes are
followed by a tombstone; the source block places a change in the binlog
(``file``, ``pos``, ``row``); a re-snapshot sends every row again with op
``r``. Topic names are ``<prefix>.<database>.<table>`` with the table's blanks
turned into underscores, as Debezium makes an invalid topic character valid.
"""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.shapes.debezium import (
    TableWriter,
    epoch_days,
    epoch_micros,
    ts_ms,
    unscaled_bytes,
)

SERVER = "erpnext"  # topic.prefix
DATABASE = "_5f3c9a1e07b24d68"  # a Frappe site's database
CAPTURED = (
    "tabItem",
    "tabStock Ledger Entry",
    "tabSales Order",
    "tabSales Order Item",
    "tabPurchase Order",
    "tabPurchase Order Item",
    "tabBOM",
    "tabBOM Item",
    "tabWork Order",
)


# Frappe's column types per field, as far as the captured tables use them.
_DECIMAL = {
    "actual_qty",
    "qty_after_transaction",
    "incoming_rate",
    "outgoing_rate",
    "valuation_rate",
    "stock_value",
    "stock_value_difference",
    "qty",
    "stock_qty",
    "delivered_qty",
    "received_qty",
    "conversion_factor",
    "rate",
    "base_rate",
    "amount",
    "min_order_qty",
    "grand_total",
    "quantity",
    "produced_qty",
}
_DATE = {"posting_date", "transaction_date", "delivery_date", "schedule_date"}
_DATE |= {"expected_delivery_date"}
_DATETIME = {"creation", "modified", "posting_datetime", "planned_start_date"}
_TIME = {"posting_time"}


def topic_of(table: str) -> str:
    """The topic Debezium writes a table to: blanks are no valid topic characters."""
    return f"{SERVER}.{DATABASE}.{table.replace(' ', '_')}"


class ErpnextTables(TableWriter):
    """The site's database: rows written in transactions, each row change a change event.

    ``clock`` is the site's wall clock (naive), the time of the next write;
    ``rng`` spaces the binlog positions and draws the hash names of child rows.
    """

    key_column = "name"
    modified_column = "modified"
    delay_ms = 41

    def __init__(self, rng: random.Random, clock: datetime) -> None:
        super().__init__(rng, clock)
        self.pos = 4_000
        self.row_in_event = 0
        self.series: dict[str, int] = defaultdict(int)

    def begin(self) -> None:
        """A new transaction: a new binlog position, rows numbered from 0."""
        self.pos += self.rng.randint(300, 9_000)
        self.row_in_event = 0

    def name(self, prefix: str) -> str:
        """The next name of a naming series: ``PREFIX-YYYY-00001``."""
        self.series[prefix] += 1
        return f"{prefix}-{self.clock.year}-{self.series[prefix]:05d}"

    def hash_name(self) -> str:
        """A child row's name, as Frappe's ``hash`` autoname makes it."""
        return f"{self.rng.getrandbits(40):010x}"

    def _topic(self, table: str) -> str:
        return topic_of(table)

    def _column(self, name: str, value: Any) -> Any:
        if name in _DECIMAL:
            return unscaled_bytes(int(Decimal(value).scaleb(9)))
        if name in _DATE:
            return epoch_days(value)
        if name in _DATETIME:
            return epoch_micros(value)
        if name in _TIME:
            return (value - value.replace(hour=0, minute=0, second=0, microsecond=0)) // (
                timedelta(microseconds=1)
            )
        return value

    def _source(self, table: str, op: str, snapshot: str) -> dict[str, Any]:
        source = {
            "version": "2.5.4.Final",
            "connector": "mysql",
            "name": SERVER,
            "ts_ms": ts_ms(self.clock.replace(microsecond=0, tzinfo=UTC)),  # the binlog: seconds
            "snapshot": snapshot,
            "db": DATABASE,
            "sequence": None,
            "table": table,
            "server_id": 0 if op == "r" else 1,
            "gtid": None,
            "file": "mysql-bin.000007",
            "pos": self.pos,
            "row": self.row_in_event,
            "thread": None if op == "r" else 38,
            "query": None,
        }
        if op != "r":
            self.row_in_event += 1
        return source

    def insert(self, table: str, **values: Any) -> dict[str, Any]:
        """Insert a row (named by ``name`` or a hash); the row, kept current, is returned."""
        stamp = {"creation": self.clock, "modified": self.clock, "owner": "stock@acme.example"}
        row = {"name": values.pop("name", None) or self.hash_name(), **stamp, **values}
        row.setdefault("docstatus", 0)
        row.setdefault("idx", 0)
        self.history.rows[table][row["name"]] = row
        self._emit(table, "c", None, row)
        return row

    def post(
        self,
        name: str,
        voucher: tuple[str, str],
        item_code: str,
        warehouse: str,
        quantities: tuple[Decimal, Decimal],
        at: datetime,
        rate: Decimal,
        company: str,
        cancelled: int = 0,
        batch_no: str | None = None,
    ) -> dict[str, Any]:
        """Insert a submitted stock ledger entry: ``voucher`` (type, number) posts
        ``quantities`` (``actual_qty``, the balance after it) at ``at``."""
        actual_qty, after = quantities
        voucher_type, voucher_no = voucher
        return self.insert(
            "tabStock Ledger Entry",
            name=name,
            docstatus=1,
            item_code=item_code,
            warehouse=warehouse,
            posting_date=at.date(),
            posting_time=at,
            posting_datetime=at,
            voucher_type=voucher_type,
            voucher_no=voucher_no,
            voucher_detail_no=self.hash_name(),
            actual_qty=actual_qty,
            qty_after_transaction=after,
            incoming_rate=rate if actual_qty > 0 else Decimal(0),
            outgoing_rate=Decimal(0),
            valuation_rate=rate,
            stock_value=after * rate,
            stock_value_difference=actual_qty * rate,
            company=company,
            stock_uom="Nos",
            is_cancelled=cancelled,
            batch_no=batch_no,
            serial_no=None,
        )

    def resnapshot(self) -> None:
        """The connector's offsets were lost: every captured row again, op ``r``, table by
        table, at one binlog position."""
        self.begin()
        self._snapshot(CAPTURED)
