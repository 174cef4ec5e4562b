"""The ERP of a scenario: stock under the ERP's static min/max, day by day, written as records.

Each stock (a material in a warehouse) is given the demand it will see, one
number a day, drawn before the history starts; the ledger then plays the
ERP's day: purchase order lines received when they arrive, sales order lines
confirmed a few days before their due date, shipments and issues of no more
than is on hand (the rest waits as a backorder or is lost), and the static
min/max that the ERP replenishes by (the practice stockloop is compared
against). Scripted events (a promotion, a supplier's delay, a design change)
are hooks on their day. Records are written as ``connectors/simulator.py``
writes them: stock transactions and order lines as Debezium change events of
the example mapping, the rest as plain JSON.
"""

import functools
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import orjson

from connectors.simulator import (
    Record,
    change_event,
    precise_decimal,
    stock_transaction,
)

_decimal = functools.lru_cache(maxsize=65_536)(precise_decimal)
"""Debezium's precise decimals, remembered: a plant's year repeats the same few thousand."""

Hook = Callable[[int], Iterable[Record]]
"""A scripted event: given the day (counted from 0), the records it writes that day."""


@dataclass(frozen=True)
class Material:
    """A material master as the ERP holds it."""

    material_id: str
    name: str
    category: str
    unit_cost: float
    lead_time_days: float
    supplier_id: str
    unit: str = "EA"
    abc_class: str = "B"
    owner: str = "planner-east"


@dataclass
class PurchaseLine:
    """An open purchase order line: promised for ``eta``, arriving on ``arrives``."""

    line_id: int
    quantity: float
    ordered_at: datetime
    eta: date
    arrives: date
    version: int = 1


@dataclass
class OrderLine:
    """A sales order line: confirmed on day ``confirm_day``, due on day ``due_day``."""

    order_id: str
    quantity: float
    confirm_day: int
    due_day: int
    customer: tuple[str, int]
    penalty_per_day_late: float = 0.0
    shipped: float = 0.0


@dataclass
class Stock:
    """One material in one warehouse, its coming demand, and the ERP's static min/max for it.

    ``demand[day]`` is what customers or production want that day. With
    ``orders``, it arrives as one sales order line per day, confirmed
    ``confirm_days`` (drawn) before its due date and shipped (``601``) then;
    without, it is issued on the day (``issue_code``: ``601`` a delivery or
    a shop's sale, ``261`` production). What is not on hand waits and ships
    first when stock comes (``backorders``), or is lost. The ERP orders up
    to ``order_up_to`` once the inventory position (on hand + on order -
    ``waiting``) is at or under ``reorder_at``, ``approval_days`` after it
    noticed; the supplier promises a lead time drawn from ``lead_time`` and
    delivers ``late`` (share, fewest and most days late) after it, unannounced.
    The ERP plans the stock from day ``first_day`` (a new part's first use);
    a stock not ``purchased`` is made, by production orders of the scenario.
    """

    material: Material
    warehouse_id: str
    demand: Sequence[float]
    reorder_at: float
    order_up_to: float
    lead_time: tuple[int, int]
    opening: float = 0.0
    orders: bool = False
    issue_code: str = "601"
    confirm_days: tuple[int, int] = (2, 7)
    backorders: bool = False
    customers: tuple[tuple[str, int], ...] = (("C-10442", 3),)
    late: tuple[float, int, int] = (0.0, 0, 0)
    approval_days: int = 0
    first_day: int = 0
    purchased: bool = True
    on_hand: float = field(default=0.0, init=False)
    purchases: list[PurchaseLine] = field(default_factory=list, init=False)
    open_lines: list[OrderLine] = field(default_factory=list, init=False)
    backlog: float = field(default=0.0, init=False)
    approve_on: int | None = field(default=None, init=False)
    confirmations: dict[int, list[OrderLine]] = field(default_factory=dict, init=False)
    """Order lines to confirm, by day: drawn when the history starts."""

    @property
    def waiting(self) -> float:
        """Quantity ordered and not yet shipped: open order lines (due or not) and backorders."""
        return self.backlog + sum(line.quantity - line.shipped for line in self.open_lines)

    @property
    def on_order(self) -> float:
        """Quantity on open purchase order lines."""
        return sum(po.quantity for po in self.purchases)


class Ledger:
    """A scenario's ERP: the clock, the numbering and the seeded draws of one history."""

    def __init__(self, start: date, seed: int) -> None:
        self.start = start
        self.rng = random.Random(seed)
        self._ids = itertools.count(1)

    def at(self, day: int, hours: float) -> datetime:
        """The moment ``hours`` into day ``day`` of the history (UTC)."""
        return datetime.combine(self.start, datetime.min.time(), UTC) + timedelta(
            days=day, hours=hours
        )

    def date_of(self, day: int) -> date:
        """The calendar date of day ``day`` of the history."""
        return self.start + timedelta(days=day)

    def next_id(self) -> int:
        """The next number of the ERP's one sequence (transactions, orders, PO lines)."""
        return next(self._ids)

    def opening(self, materials: Iterable[Material], stocks: Iterable[Stock]) -> Iterator[Record]:
        """Masters, then each stock's opening balance, received at the opening of day 0."""
        opening = self.at(0, 0)
        for material in materials:
            yield self.master(material, opening)
        for stock in stocks:
            if stock.opening:
                yield self.movement(stock, "101", stock.opening, opening)

    def run(
        self, stocks: Sequence[Stock], days: int, hooks: Mapping[int, Hook] | None = None
    ) -> Iterator[Record]:
        """``days`` days of business: each day's hook, then each stock's day, in event time.

        An ERP's change log is in commit order, so every topic comes in
        event-time order.
        """
        for stock in stocks:
            self._plan_orders(stock, days)
        for day in range(days):
            records = list(hooks[day](day)) if hooks and day in hooks else []
            for stock in stocks:
                records.extend(self._day(stock, day))
            yield from sorted(records, key=lambda record: record.at or self.at(day, 0))

    def _plan_orders(self, stock: Stock, days: int) -> None:
        """Draw, for each day with demand, the day its order line is confirmed and its customer."""
        if not stock.orders:
            return
        for due_day in range(days):
            quantity = stock.demand[due_day]
            if quantity <= 0:
                continue
            confirm_day = max(0, due_day - self.rng.randint(*stock.confirm_days))
            customer = self.rng.choice(stock.customers)
            line = OrderLine(f"SO-{self.next_id():06d}", quantity, confirm_day, due_day, customer)
            stock.confirmations.setdefault(confirm_day, []).append(line)

    def _day(self, stock: Stock, day: int) -> Iterator[Record]:
        if day < stock.first_day:
            return
        today = self.date_of(day)
        for po in [po for po in stock.purchases if po.arrives <= today]:
            stock.purchases.remove(po)
            yield self.movement(stock, "101", po.quantity, self.at(day, 7), po_line_id=po.line_id)
        for n, line in enumerate(stock.confirmations.pop(day, [])):
            stock.open_lines.append(line)
            yield self.order_line(stock, line, "C", self.at(day, 8 + n / 60))
        if stock.orders:
            yield from self._ship(stock, day)
        elif stock.demand[day] > 0 or stock.backlog > 0:
            wanted = stock.demand[day] + stock.backlog
            issued = min(max(stock.on_hand, 0.0), wanted)
            stock.backlog = wanted - issued if stock.backorders else 0.0
            if issued > 0:
                at = self.at(day, 9 + self.rng.random() * 8)
                yield self.movement(stock, stock.issue_code, -issued, at)
        yield from self._replenish(stock, day)

    def _ship(self, stock: Stock, day: int) -> Iterator[Record]:
        """Ship the lines due by today, oldest first, while stock lasts; close or keep the rest."""
        due = sorted(
            (line for line in stock.open_lines if line.due_day <= day),
            key=lambda line: line.due_day,
        )
        for n, line in enumerate(due):
            at = self.at(day, 10 + n / 60)
            quantity = min(max(stock.on_hand, 0.0), line.quantity - line.shipped)
            if quantity > 0:
                line.shipped += quantity
                yield self.movement(stock, "601", -quantity, at, sales_order=line.order_id)
            if line.shipped >= line.quantity or not stock.backorders:
                stock.open_lines.remove(line)
                if line.shipped > 0 or stock.backorders:
                    yield self.order_line(stock, line, "S", at)
                else:
                    yield self.order_line(stock, line, "X", at)
            elif quantity > 0:
                yield self.order_line(stock, line, "P", at)

    def _replenish(self, stock: Stock, day: int) -> Iterator[Record]:
        """The ERP's static min/max, on the inventory position, after the day's business."""
        if not stock.purchased:
            return
        position = stock.on_hand + stock.on_order - stock.waiting
        if stock.approve_on is None and position <= stock.reorder_at:
            stock.approve_on = day + stock.approval_days
        if stock.approve_on is not None and stock.approve_on <= day:
            stock.approve_on = None
            quantity = round(stock.order_up_to - position)
            if quantity > 0:
                yield self.purchase(stock, quantity, day)

    def purchase(self, stock: Stock, quantity: float, day: int) -> Record:
        """Order ``quantity`` from the material's supplier at the end of day ``day``."""
        at = self.at(day, 16)
        eta = self.date_of(day + self.rng.randint(*stock.lead_time))
        share, fewest, most = stock.late
        arrives = eta
        if share and self.rng.random() < share:
            arrives += timedelta(days=self.rng.randint(fewest, most))
        po = PurchaseLine(self.next_id(), quantity, at, eta, arrives)
        stock.purchases.append(po)
        return self.po_line(stock, po, at)

    def confirm(self, stock: Stock, line: OrderLine) -> Record:
        """A sales order line confirmed outside the daily demand (a key account's order)."""
        stock.open_lines.append(line)
        return self.order_line(stock, line, "C", self.at(line.confirm_day, 9.5))

    def delay(self, stock: Stock, day: int, days_late: int) -> Iterator[Record]:
        """The supplier announces every open line of this stock ``days_late`` days late."""
        for po in stock.purchases:
            po.eta += timedelta(days=days_late)
            po.arrives += timedelta(days=days_late)
            po.version += 1
            yield self.po_line(stock, po, self.at(day, 11))

    # --- the records, as the ERP integration writes them ---------------------------------

    def master(self, material: Material, at: datetime) -> Record:
        """A material master, plain JSON."""
        return Record(
            "erp.materials",
            material.material_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"mat-{material.material_id}-1",
                    "event_time": at.isoformat(),
                    "material_id": material.material_id,
                    "name": material.name,
                    "category": material.category,
                    "unit": material.unit,
                    "unit_cost": material.unit_cost,
                    "abc_class": material.abc_class,
                    "default_lead_time_days": material.lead_time_days,
                    "preferred_supplier": material.supplier_id,
                    "owner": material.owner,
                }
            ),
            at,
        )

    def movement(
        self,
        stock: Stock,
        code: str,
        quantity: float,
        at: datetime,
        po_line_id: int | None = None,
        sales_order: str | None = None,
    ) -> Record:
        """A stock transaction (signed quantity), a Debezium change of ``inv_transaction``."""
        quantity = round(quantity, 3)
        stock.on_hand = round(stock.on_hand + quantity, 3)
        material = stock.material
        return stock_transaction(
            material.material_id,
            self.next_id(),
            code,
            stock.warehouse_id,
            quantity,
            material.unit_cost,
            at,
            po_line_id,
            sales_order,
            decimal=_decimal,
        )

    def order_line(self, stock: Stock, line: OrderLine, status: str, at: datetime) -> Record:
        """A sales order line's version: a Debezium change of ``so_line``, or plain JSON.

        A line with a contract penalty comes as plain JSON: the example
        mapping's ``so_line`` has no penalty column (the ERP keeps contracts
        elsewhere), so the integration sends such lines from the contract
        system.
        """
        material = stock.material
        customer_id, priority = line.customer
        due = self.date_of(line.due_day)
        price = round(material.unit_cost * 1.6, 4)
        key = material.material_id.encode()
        if line.penalty_per_day_late:
            statuses = {"C": "confirmed", "P": "partially_shipped", "S": "shipped"}
            value = {
                "event_id": f"{line.order_id}-10-{status}-{line.shipped:g}",
                "event_time": at.isoformat(),
                "material_id": material.material_id,
                "order_id": line.order_id,
                "line_id": "10",
                "warehouse_id": stock.warehouse_id,
                "quantity": line.quantity,
                "shipped_quantity": line.shipped,
                "due_date": due.isoformat(),
                "status": statuses[status],
                "unit_price": price,
                "customer_id": customer_id,
                "customer_priority": priority,
                "penalty_per_day_late": line.penalty_per_day_late,
            }
            return Record("erp.sales-orders", key, orjson.dumps(value), at)
        row = {
            "so_no": line.order_id,
            "line_no": 10,
            "item_no": material.material_id,
            "ship_whse": stock.warehouse_id,
            "qty_ordered": _decimal(line.quantity, 3),
            "qty_shipped": _decimal(line.shipped, 3),
            "promise_date": (due - date(1970, 1, 1)).days,
            "line_status": status,
            "unit_price": _decimal(price, 4),
            "cust_no": customer_id,
            "cust_priority": priority,
        }
        op = "c" if status == "C" else "u"
        return Record("erp.sales-orders", key, change_event("so_line", row, at, op), at)

    def po_line(self, stock: Stock, po: PurchaseLine, at: datetime) -> Record:
        """A purchase order line's version, plain JSON."""
        material = stock.material
        return Record(
            "erp.shipments",
            material.material_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"po-{po.line_id}-{po.version}",
                    "event_time": at.isoformat(),
                    "material_id": material.material_id,
                    "line_id": str(po.line_id),
                    "supplier_id": material.supplier_id,
                    "warehouse_id": stock.warehouse_id,
                    "quantity": po.quantity,
                    "ordered_at": po.ordered_at.isoformat(),
                    "eta": po.eta.isoformat(),
                    "status": "ordered",
                }
            ),
            at,
        )

    def promotion(
        self,
        promotion_id: str,
        material_id: str,
        first_day: int,
        last_day: int,
        uplift: float,
        at: datetime,
    ) -> Record:
        """Marketing announces a promotion of one material, plain JSON."""
        return Record(
            "erp.promotions",
            material_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"promo-{promotion_id}-1",
                    "event_time": at.isoformat(),
                    "promotion_id": promotion_id,
                    "material_id": material_id,
                    "starts_on": self.date_of(first_day).isoformat(),
                    "ends_on": self.date_of(last_day).isoformat(),
                    "uplift": uplift,
                }
            ),
            at,
        )

    def bom_line(
        self,
        parent_id: str,
        component_id: str,
        quantity_per: float,
        at: datetime,
        version: int = 1,
        deleted: bool = False,
    ) -> Record:
        """A bill-of-materials line (``deleted``: an engineering change removed it), plain JSON."""
        return Record(
            "erp.boms",
            f"{parent_id}|{component_id}".encode(),
            orjson.dumps(
                {
                    "event_id": f"bom-{parent_id}-{component_id}-{version}",
                    "event_time": at.isoformat(),
                    "parent_id": parent_id,
                    "component_id": component_id,
                    "quantity_per": quantity_per,
                    "deleted": deleted,
                }
            ),
            at,
        )

    def production_order(
        self,
        order_id: str,
        material_id: str,
        warehouse_id: str,
        quantity: float,
        need_day: int,
        status: str,
        at: datetime,
    ) -> Record:
        """A production order's version (``released`` or ``closed``), plain JSON."""
        return Record(
            "erp.production-orders",
            order_id.encode(),
            orjson.dumps(
                {
                    "event_id": f"{order_id}-{status}",
                    "event_time": at.isoformat(),
                    "material_id": material_id,
                    "order_id": order_id,
                    "warehouse_id": warehouse_id,
                    "quantity": quantity,
                    "need_date": self.date_of(need_day).isoformat(),
                    "status": status,
                }
            ),
            at,
        )
