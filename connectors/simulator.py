"""Simulated ERP traffic for the demo and for backtests: a small plant, day by day.

Each material is replenished by purchase order when its stock falls under a
static reorder point (the ERP practice stockloop replaces), boosted by a
sales festival announced as a promotion (electronics only), sold through
sales orders that are confirmed days ahead and shipped on their due date, and
consumed by production. Records come out the way a real ERP integration
produces them: stock transactions and order lines as Debezium change events
of the tables in ``mappings/example-erp.yaml``, material masters, PO lines and
BOM lines as plain JSON, plus a few broken records that must end in the
dead-letter topic. Seeded, so the same arguments give the same records.

Two situations exercise the responses. They draw no random numbers, so the
rest of the history draws the same ones as without them:

- **Stock in the wrong place.** The first material (the headphones) has old
  stock in a third warehouse that sells none of it, and a key account's
  large order near the end leaves its main warehouse short: the worker moves
  the surplus there (a transfer) before it buys, and opens a dead-stock
  review of the old batch.
- **A production order short of one part.** A desk fan is built in SZ02 from
  a motor, bearings, a carton and a driver board, itself capacitors and a
  bare PCB (the BOM lines go out with the master data). Four driver boards
  and four PCBs are on the shelf and more PCBs are on order, due after the
  need date: with the default six materials, the order of
  ``production_order`` lacks PCBs only, and the worker expedites them.
"""

import base64
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson

ERP_ZONE = ZoneInfo("Asia/Shanghai")  # the example mapping's timezone
WAREHOUSES = ("SH01", "SZ02")
FESTIVAL_ANNOUNCED_DAY, FESTIVAL_FIRST_DAY, FESTIVAL_DAYS, FESTIVAL_UPLIFT = 25, 40, 8, 5.0
"""A sales festival: announced on day 25, electronics sell 5x on days 40-47 (the article's
headphones, which a static min/max flags only when the supplier can no longer deliver)."""
CATALOGUE = (
    ("HP-200", "Wireless headphones HP-200", "ELECTRONICS", 8.0, 42.0),
    ("FAB-COT-150", "Cotton fabric 150 g/m2", "FABRIC", 25.0, 3.1),
    ("BRG-6204-2RS", "Deep groove ball bearing 6204-2RS", "BEARINGS", 40.0, 1.85),
    ("CAP-10UF", "Capacitor 10 uF 50 V", "ELECTRONICS", 120.0, 0.04),
    ("BOX-A4", "Shipping carton A4", "PACKAGING", 60.0, 0.35),
    ("MTR-24V", "Brushless motor 24 V", "MECHANICAL", 2.0, 58.0),
)
SURPLUS_WAREHOUSE, SURPLUS_DAYS_OF_DEMAND, SURPLUS_AGE_DAYS = "BJ03", 40, 30
"""The first material's old stock in a third warehouse that never issues it: 40 days of its
demand, received 30 days before the first day (within the worker's 35-day de-duplication
horizon), so it turns 60 days old, which opens a dead-stock review, on day 30."""
ASSEMBLY_WAREHOUSE = "SZ02"
BOM_ITEMS = (
    ("FAN-24V", "Desk fan 24 V", "FINISHED", 31.0, 0.0),
    ("DRV-24V", "Fan driver board 24 V", "SUBASSEMBLY", 6.5, 4.0),
    ("PCB-DRV", "Driver board PCB, bare", "ELECTRONICS", 1.2, 4.0),
)
"""Items only production uses, none sold: id, name, category, unit cost, on the shelf in the
assembly warehouse from the first day."""
BOM = (
    ("FAN-24V", "MTR-24V", 1.0, 0.0),
    ("FAN-24V", "DRV-24V", 1.0, 0.0),
    ("FAN-24V", "BRG-6204-2RS", 2.0, 0.0),
    ("FAN-24V", "BOX-A4", 1.0, 0.0),
    ("DRV-24V", "CAP-10UF", 6.0, 2.0),
    ("DRV-24V", "PCB-DRV", 1.0, 0.0),
)
"""The desk fan's bill of materials: parent, component, quantity per, scrap %."""
FAN_ORDER_ID, FAN_ORDER_QUANTITY, FAN_NEED_DAYS = "MO-240017", 20.0, 5
"""The production order: 20 fans, released at the end of the last day, needed 5 days later."""
PCB_ORDER_DAYS_BEFORE_END, PCB_ORDER_QUANTITY, PCB_LATE_DAYS = 10, 200.0, 6
"""PCBs ordered 10 days before the end, arriving 6 days after the fans' need date."""
KEY_ACCOUNT = ("C-20001", 1)  # customer id and priority (1: a key account)
KEY_ACCOUNT_DAYS_BEFORE_END, KEY_ACCOUNT_DAYS_OF_DEMAND, KEY_ACCOUNT_DUE_DAYS = 4, 75, 8
"""A key account orders 75 days of the first material's demand from its main warehouse 4 days
before the end, due 8 days later (after the history): the main warehouse runs short at the end,
and the worker turns to the surplus warehouse's stock."""


@dataclass(frozen=True)
class Record:
    """One Kafka record to produce: catalogue topic name, key and value bytes."""

    topic: str
    key: bytes
    value: bytes
    at: datetime | None = None


@dataclass
class _Item:
    material_id: str
    name: str
    category: str
    daily_demand: float
    unit_cost: float
    on_hand: dict[str, float] = field(default_factory=dict)
    open_po: dict[str, tuple[int, float, date]] = field(default_factory=dict)


def precise_decimal(value: float, scale: int) -> str:
    """A decimal column as Debezium writes it in ``precise`` mode (base64 unscaled bytes)."""
    unscaled = int(Decimal(str(value)).scaleb(scale).to_integral_value())
    return base64.b64encode(
        unscaled.to_bytes(unscaled.bit_length() // 8 + 1, "big", signed=True)
    ).decode()


def epoch_micros(moment: datetime) -> int:
    """A ``timestamp without time zone`` column: the ERP's wall clock, as micros."""
    wall_clock = moment.astimezone(ERP_ZONE).replace(tzinfo=None)
    return (wall_clock - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def change_event(table: str, after: dict, moment: datetime, op: str = "c") -> bytes:
    """A Debezium Postgres change event without the schema wrapper."""
    ts_ms = int(moment.timestamp() * 1000)
    source = {
        "connector": "postgresql",
        "db": "erp",
        "schema": "public",
        "table": table,
        "ts_ms": ts_ms,
        "lsn": ts_ms * 8,
    }
    return orjson.dumps(
        {"before": None, "after": after, "source": source, "op": op, "ts_ms": ts_ms + 40}
    )


def stock_transaction(
    material_id: str,
    trans_id: int,
    code: str,
    warehouse_id: str,
    quantity: float,
    unit_cost: float,
    at: datetime,
    po_line_id: int | None = None,
    sales_order: str | None = None,
    decimal: Callable[[float, int], str] = precise_decimal,
) -> Record:
    """A stock transaction (signed quantity) as a Debezium change of ``inv_transaction``.

    ``decimal`` encodes the decimal columns (a scenario passes a cached
    ``precise_decimal``).
    """
    row = {
        "trans_id": trans_id,
        "item_no": material_id,
        "trans_type": int(code),
        "whse_code": warehouse_id,
        "qty": decimal(quantity, 3),
        "lot_no": f"L{at:%y%m%d}-{trans_id}" if quantity > 0 else None,
        "unit_cost": decimal(unit_cost, 4),
        "po_line_id": po_line_id,
        "so_no": sales_order,
        "so_line_no": 10 if sales_order else None,
        "to_whse_code": None,
        "posted_at": epoch_micros(at),
    }
    return Record(
        "erp.stock-movements", material_id.encode(), change_event("inv_transaction", row, at), at
    )


class ErpSimulator:
    """A plant's ERP, advanced one day at a time; yields the records each day produces."""

    def __init__(self, materials: int = 6, seed: int = 42, start: date = date(2026, 9, 1)) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.items: list[_Item] = []
        self._ids = iter(range(1, 10**9))
        for n in range(materials):
            base_id, name, category, demand, cost = CATALOGUE[n % len(CATALOGUE)]
            material_id = base_id if n < len(CATALOGUE) else f"{base_id}-{n // len(CATALOGUE)}"
            self.items.append(_Item(material_id, name, category, demand, cost))
        self._due: list[tuple[date, _Item, str, str, float]] = []
        self._production_items = {
            material_id: _Item(material_id, name, category, 0.0, unit_cost)
            for material_id, name, category, unit_cost, _ in BOM_ITEMS
        }

    def run(self, days: int) -> Iterator[Record]:
        """Master data and BOMs first, then ``days`` days of business, then a few broken records.

        The production order of the last day is not among them: see ``production_order``.
        """
        opening = datetime.combine(self.start, datetime.min.time(), UTC)
        surplus = self.items[0]
        # Received before the opening, so it comes first on its material's partition.
        yield self._movement(
            surplus,
            SURPLUS_WAREHOUSE,
            "101",
            surplus.daily_demand * SURPLUS_DAYS_OF_DEMAND,
            opening - timedelta(days=SURPLUS_AGE_DAYS),
        )
        for item in self.items:
            yield self._master(item, opening)
            for warehouse in WAREHOUSES:
                yield self._movement(item, warehouse, "101", item.daily_demand * 20, opening)
        yield from self._production_masters(opening)
        pcb_ordered = opening + timedelta(days=days - PCB_ORDER_DAYS_BEFORE_END)
        key_account_day = self.start + timedelta(days=days - KEY_ACCOUNT_DAYS_BEFORE_END)
        for day in range(days):
            today = self.start + timedelta(days=day)
            if day == FESTIVAL_ANNOUNCED_DAY:
                yield self._festival_promotion(today)
            # An ERP's change log is in commit order: each topic in event-time order.
            records = list(self._day(today))
            if today == pcb_ordered.date():
                records.append(self._pcb_order(pcb_ordered + timedelta(hours=2), days))
            if today == key_account_day:
                records.append(self._key_account_order(surplus, today))
            yield from sorted(records, key=lambda record: record.at)
        yield from self._broken(opening + timedelta(days=days))

    def production_order(self, days: int) -> Record:
        """The desk fans' production order, released at the end of the last of ``days`` days.

        Not part of ``run``: the worker analyses an order when it reads it,
        against the availability its components have published by then, so
        sent with the history it would be netted against the first days'
        stock. Send it once the worker has applied the history (the demo does).
        Deterministic: it depends on the start and ``days`` only.
        """
        released = self._end(days)
        need_date = released.date() + timedelta(days=FAN_NEED_DAYS)
        return Record(
            "erp.production-orders",
            FAN_ORDER_ID.encode(),
            orjson.dumps(
                {
                    "event_id": f"{FAN_ORDER_ID}-released",
                    "event_time": released.isoformat(),
                    "material_id": BOM[0][0],
                    "order_id": FAN_ORDER_ID,
                    "warehouse_id": ASSEMBLY_WAREHOUSE,
                    "quantity": FAN_ORDER_QUANTITY,
                    "need_date": need_date.isoformat(),
                    "status": "released",
                }
            ),
            released,
        )

    def _end(self, days: int) -> datetime:
        """The end of the last simulated working day, when the production order is released."""
        last_day = self.start + timedelta(days=days - 1)
        return datetime.combine(last_day, datetime.min.time(), UTC) + timedelta(hours=17)

    def _production_masters(self, opening: datetime) -> Iterator[Record]:
        """Masters and shelf stock of the items only production uses, then the BOM lines."""
        for material_id, *_, on_shelf in BOM_ITEMS:
            item = self._production_items[material_id]
            yield self._master(item, opening)
            if on_shelf:
                yield self._movement(item, ASSEMBLY_WAREHOUSE, "101", on_shelf, opening)
        for parent_id, component_id, quantity_per, scrap_pct in BOM:
            yield Record(
                "erp.boms",
                f"{parent_id}|{component_id}".encode(),
                orjson.dumps(
                    {
                        "event_id": f"bom-{parent_id}-{component_id}-1",
                        "event_time": opening.isoformat(),
                        "parent_id": parent_id,
                        "component_id": component_id,
                        "quantity_per": quantity_per,
                        "scrap_pct": scrap_pct,
                    }
                ),
                opening,
            )

    def _key_account_order(self, item: _Item, today: date) -> Record:
        """A large order for the main warehouse, due after the history: it is never shipped."""
        at = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=3)
        quantity = item.daily_demand * KEY_ACCOUNT_DAYS_OF_DEMAND
        due = today + timedelta(days=KEY_ACCOUNT_DUE_DAYS)
        order_id = f"SO-{next(self._ids):06d}"
        return self._order_line(
            item, WAREHOUSES[0], order_id, quantity, 0, due, "C", at, customer=KEY_ACCOUNT
        )

    def _pcb_order(self, at: datetime, days: int) -> Record:
        """The PCBs the fans need, ordered too late: they arrive after the fans' need date."""
        need_date = self._end(days).date() + timedelta(days=FAN_NEED_DAYS)
        eta = need_date + timedelta(days=PCB_LATE_DAYS)
        item = self._production_items["PCB-DRV"]
        return self._po_line(item, ASSEMBLY_WAREHOUSE, next(self._ids), PCB_ORDER_QUANTITY, at, eta)

    def _festival(self) -> tuple[date, date]:
        first = self.start + timedelta(days=FESTIVAL_FIRST_DAY)
        return first, first + timedelta(days=FESTIVAL_DAYS - 1)

    def _festival_promotion(self, today: date) -> Record:
        """Marketing announces the sales festival: electronics sell several times over."""
        first, last = self._festival()
        at = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=9)
        return Record(
            "erp.promotions",
            b"FESTIVAL",
            orjson.dumps(
                {
                    "event_id": "promo-festival-1",
                    "event_time": at.isoformat(),
                    "promotion_id": "FESTIVAL",
                    "category": "ELECTRONICS",
                    "starts_on": first.isoformat(),
                    "ends_on": last.isoformat(),
                    "uplift": FESTIVAL_UPLIFT,
                }
            ),
        )

    def _day(self, today: date) -> Iterator[Record]:
        morning = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=1)
        weekly = 1.4 if today.weekday() < 5 else 0.3
        first, last = self._festival()
        for item in self.items:
            boost = (
                FESTIVAL_UPLIFT if item.category == "ELECTRONICS" and first <= today <= last else 1
            )
            for warehouse in WAREHOUSES:
                mean = item.daily_demand * weekly * 0.5 * boost
                used = round(self.rng.expovariate(1 / mean))
                if used:
                    at = morning + timedelta(hours=self.rng.uniform(1, 9))
                    yield self._movement(item, warehouse, "261", -used, at)
                if self.rng.random() < 0.3:
                    yield from self._new_order(item, warehouse, today, morning)
                yield from self._replenish(item, warehouse, today, morning)
        yield from self._ship_due(today, morning + timedelta(hours=10))

    def _new_order(
        self, item: _Item, warehouse: str, today: date, at: datetime
    ) -> Iterator[Record]:
        order_id = f"SO-{next(self._ids):06d}"
        quantity = round(item.daily_demand * self.rng.uniform(0.5, 3))
        due = today + timedelta(days=self.rng.randint(2, 10))
        self._due.append((due, item, warehouse, order_id, quantity))
        yield self._order_line(item, warehouse, order_id, quantity, 0, due, "C", at)

    def _ship_due(self, today: date, at: datetime) -> Iterator[Record]:
        for entry in [e for e in self._due if e[0] == today]:
            self._due.remove(entry)
            due, item, warehouse, order_id, quantity = entry
            yield self._movement(item, warehouse, "601", -quantity, at, sales_order=order_id)
            yield self._order_line(item, warehouse, order_id, quantity, quantity, due, "S", at)

    def _replenish(
        self, item: _Item, warehouse: str, today: date, at: datetime
    ) -> Iterator[Record]:
        """Static min/max: order when stock is under 10 days of demand; receive at the ETA."""
        po = item.open_po.get(warehouse)
        if po and po[2] <= today:
            line_id, quantity, eta = item.open_po.pop(warehouse)
            yield self._movement(item, warehouse, "101", quantity, at, po_line_id=line_id)
        elif not po and item.on_hand.get(warehouse, 0) < item.daily_demand * 10:
            line_id = next(self._ids)
            eta = today + timedelta(days=self.rng.randint(5, 14))
            quantity = round(item.daily_demand * 30)
            item.open_po[warehouse] = (line_id, quantity, eta)
            yield self._po_line(item, warehouse, line_id, quantity, at, eta)

    def _po_line(
        self, item: _Item, warehouse: str, line_id: int, quantity: float, at: datetime, eta: date
    ) -> Record:
        return Record(
            "erp.shipments",
            item.material_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"po-{line_id}",
                    "event_time": at.isoformat(),
                    "material_id": item.material_id,
                    "line_id": str(line_id),
                    "supplier_id": "V-2031",
                    "warehouse_id": warehouse,
                    "quantity": quantity,
                    "ordered_at": at.isoformat(),
                    "eta": eta.isoformat(),
                    "status": "ordered",
                }
            ),
            at,
        )

    def _master(self, item: _Item, at: datetime) -> Record:
        return Record(
            "erp.materials",
            item.material_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"mat-{item.material_id}-1",
                    "event_time": at.isoformat(),
                    "material_id": item.material_id,
                    "name": item.name,
                    "category": item.category,
                    "unit_cost": item.unit_cost,
                    "abc_class": "A" if item.unit_cost * item.daily_demand > 100 else "B",
                    "service_level": 0.95,
                    "default_lead_time_days": 10,
                    "moq": 0,
                    "pack_size": 1,
                    "preferred_supplier": "V-2031",
                    "owner": "planner-east",
                }
            ),
        )

    def _movement(
        self,
        item: _Item,
        warehouse: str,
        code: str,
        quantity: float,
        at: datetime,
        po_line_id: int | None = None,
        sales_order: str | None = None,
    ) -> Record:
        item.on_hand[warehouse] = item.on_hand.get(warehouse, 0) + quantity
        return stock_transaction(
            item.material_id,
            next(self._ids),
            code,
            warehouse,
            quantity,
            item.unit_cost,
            at,
            po_line_id,
            sales_order,
        )

    def _order_line(
        self,
        item: _Item,
        warehouse: str,
        order_id: str,
        quantity: float,
        shipped: float,
        due: date,
        status: str,
        at: datetime,
        customer: tuple[str, int] | None = None,
    ) -> Record:
        """An order line's change event; ``customer`` (id, priority) or a random priority."""
        customer_id, priority = customer or ("C-10442", self.rng.randint(1, 5))
        row = {
            "so_no": order_id,
            "line_no": 10,
            "item_no": item.material_id,
            "ship_whse": warehouse,
            "qty_ordered": precise_decimal(quantity, 3),
            "qty_shipped": precise_decimal(shipped, 3),
            "promise_date": (due - date(1970, 1, 1)).days,
            "line_status": status,
            "unit_price": precise_decimal(item.unit_cost * 1.6, 4),
            "cust_no": customer_id,
            "cust_priority": priority,
        }
        op = "c" if status == "C" else "u"
        return Record(
            "erp.sales-orders", item.material_id.encode(), change_event("so_line", row, at, op), at
        )

    def _broken(self, at: datetime) -> Iterator[Record]:
        """What real integrations also send: truncated JSON, a bad type, an unknown table."""
        material = self.items[0].material_id.encode()
        yield Record("erp.stock-movements", material, b'{"event_id": "trunc-1", "quantity": ')
        yield Record(
            "erp.stock-movements",
            material,
            orjson.dumps(
                {
                    "event_id": "bad-1",
                    "event_time": at.isoformat(),
                    "material_id": "HP-200",
                    "movement_type": "issue",
                    "warehouse_id": "SH01",
                    "quantity": "twelve",
                }
            ),
        )
        yield Record("erp.sales-orders", material, change_event("quote_line", {"q": 1}, at))
