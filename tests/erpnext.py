"""ERPNext 15 as Debezium's MySQL connector captures it: a generated history of change events.

A small company on ERPNext (Frappe on MariaDB) lives through a few months here,
and every write ERPNext makes to the captured tables becomes the change event
the connector writes with its defaults and the JSON converter without schemas
(``connectors.shapes.erpnext_tables``, which ``stockloop simulate --shape
erpnext`` writes with too).

What happens is what ERPNext does: documents are drafted (docstatus 0), then
submitted (1) or deleted; a submitted document posts one stock ledger entry per
item and warehouse, signed, and updates its order line's delivered or received
quantity; cancelling it (docstatus 2) sets ``is_cancelled`` on its ledger
entries and posts reversing entries at the same posting time; a stock
reconciliation posts the counted quantity with ``actual_qty`` 0; reposting
rewrites valuation columns of existing entries. Some items are bought in boxes
(a conversion factor of 12). Assemblies have BOMs, drafted (an item row edited or
removed), submitted, their costs updated, and changed the ERPNext way: the BOM
cancelled and amended; work orders are drafted, submitted, started, stopped,
resumed, completed, rescheduled, cancelled, or deleted as drafts.

The tables' final rows are kept (``ErpnextHistory.rows``), with ``tabBin`` kept
as ERPNext keeps it (running balances, not captured), so a test computes what
ERPNext itself says (``expected_positions``, ``expected_boms``,
``expected_open_orders``) without reading one change event.
Built independently of ``connectors.cdc`` and of the ERPNext mapping.
"""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.shapes.debezium import Change, ChangeHistory
from connectors.shapes.erpnext_tables import CAPTURED, DATABASE, SERVER, ErpnextTables, topic_of

START = datetime(2026, 9, 1, 8, 0)  # the site's wall clock (System Settings: UTC)
ABBR = "AB"

ErpnextHistory = ChangeHistory
"""Generated changes in commit order, and the rows each table holds at the end."""

__all__ = ["CAPTURED", "DATABASE", "SERVER", "Change", "ErpnextHistory", "topic_of"]


class _Site(ErpnextTables):
    """The site from its start, its clock moved by people's pace."""

    def __init__(self, seed: int) -> None:
        super().__init__(random.Random(seed), START)

    def tick(self, minutes: float = 9.0) -> None:
        self.clock += timedelta(minutes=self.rng.expovariate(1 / minutes))
        self.clock = self.clock.replace(microsecond=self.rng.randrange(1_000_000))


def _quantity(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"))


@dataclass
class _Order:
    header: dict[str, Any]
    items: list[dict[str, Any]]


@dataclass
class _Voucher:
    voucher_type: str
    name: str
    entries: list[dict[str, Any]]
    lines: list[tuple[dict[str, Any], Decimal]]  # the order item and its quantity


class _Company(_Site):
    """What people do in ERPNext, and what ERPNext writes for it."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.warehouses: list[str] = []
        self.items: list[dict[str, Any]] = []
        self.boxed: set[str] = set()
        self.draft_sales: list[_Order] = []
        self.sales: list[_Order] = []
        self.draft_purchases: list[_Order] = []
        self.purchases: list[_Order] = []
        self.vouchers: list[_Voucher] = []  # submitted, cancellable
        self.assemblies: list[str] = []
        self.boms: dict[str, _Order] = {}  # the submitted BOM of each assembly
        self.work_orders: list[dict[str, Any]] = []  # not completed, closed or cancelled

    # --- the stock ledger --------------------------------------------------------------------

    def bin(self, item_code: str, warehouse: str) -> dict[str, Any]:
        """``tabBin``: ERPNext's running balance per item and warehouse (not captured)."""
        bins = self.history.rows["tabBin"]
        key = f"{item_code}|{warehouse}"
        if key not in bins:
            bins[key] = {"item_code": item_code, "warehouse": warehouse, "actual_qty": Decimal(0)}
        return bins[key]

    def on_hand(self, item_code: str, warehouse: str) -> Decimal:
        return Decimal(self.bin(item_code, warehouse)["actual_qty"])

    def ledger(
        self,
        voucher_type: str,
        voucher_no: str,
        item_code: str,
        warehouse: str,
        actual_qty: Decimal,
        posted: datetime | None = None,
        cancelled: int = 0,
        counted: Decimal | None = None,
        rate: Decimal = Decimal(0),
        batch_no: str | None = None,
    ) -> dict[str, Any]:
        """Insert one stock ledger entry and move the bin with it."""
        bin_row = self.bin(item_code, warehouse)
        after = counted if counted is not None else bin_row["actual_qty"] + actual_qty
        bin_row["actual_qty"] = after
        return self.post(
            self.name("MAT-SLE"),
            (voucher_type, voucher_no),
            item_code,
            warehouse,
            (actual_qty, after),
            posted or self.clock,
            rate,
            "Acme Bearings",
            cancelled,
            batch_no,
        )

    def cancel_voucher(self, voucher: _Voucher) -> None:
        """ERPNext's cancel: mark the entries cancelled, then post the reversals at their time."""
        for entry in voucher.entries:
            self.update("tabStock Ledger Entry", entry, is_cancelled=1)
        for entry in voucher.entries:
            self.ledger(
                voucher.voucher_type,
                voucher.name,
                entry["item_code"],
                entry["warehouse"],
                -entry["actual_qty"],
                posted=entry["posting_datetime"],
                cancelled=1,
                rate=entry["valuation_rate"],
                batch_no=entry["batch_no"],
            )
        # The reversals are back-dated to the document's posting time: ERPNext reposts the bins.
        for (item_code, warehouse), balance in ledger_balances(self.history).items():
            self.bin(item_code, warehouse)["actual_qty"] = balance

    # --- masters ------------------------------------------------------------------------------

    def setup(self) -> None:
        for warehouse in ("Stores", "Shanghai DC", "Ningbo DC"):
            self.warehouses.append(f"{warehouse} - {ABBR}")
        for number in range(10):
            self.add_item(number)
        for number in range(3):
            self.add_assembly(number)
        self.begin()
        reco = self.name("MAT-RECO")
        for item in self.items:  # opening stock
            for warehouse in self.rng.sample(self.warehouses, 2):
                counted = Decimal(self.rng.randint(20, 300))
                self.ledger(
                    "Stock Reconciliation",
                    reco,
                    item["name"],
                    warehouse,
                    Decimal(0),
                    counted=counted,
                )

    def add_item(self, number: int) -> None:
        self.begin()
        code = f"BRG-62{number:02d}"
        if number % 4 == 3:
            self.boxed.add(code)
        self.items.append(
            self.insert(
                "tabItem",
                name=code,
                item_code=code,
                item_name=f"Bearing 62{number:02d}-2RS",
                item_group=("Bearings", "Seals", "Belts")[number % 3],
                stock_uom="Nos",
                is_stock_item=1,
                disabled=0,
                has_batch_no=int(number % 5 == 0),
                valuation_rate=Decimal(self.rng.randint(150, 8_000)) / 100,
                min_order_qty=Decimal(self.rng.choice((0, 0, 10, 24))),
                lead_time_days=self.rng.choice((0, 7, 14)),
            )
        )

    # --- manufacturing -------------------------------------------------------------------------

    def add_assembly(self, number: int) -> None:
        """A gearbox built from bearings, with a BOM drafted and submitted."""
        self.begin()
        code = f"GBX-{number}"
        self.insert(
            "tabItem",
            name=code,
            item_code=code,
            item_name=f"Gearbox {number}",
            item_group="Gearboxes",
            stock_uom="Nos",
            is_stock_item=1,
            disabled=0,
            has_batch_no=0,
            valuation_rate=Decimal(self.rng.randint(20_000, 90_000)) / 100,
            min_order_qty=Decimal(0),
            lead_time_days=0,
        )
        self.assemblies.append(code)
        self.submit_bom(self.draft_bom(code, None))

    def draft_bom(self, item_code: str, amended_from: str | None) -> _Order:
        """A BOM drafted: its header and its component rows, docstatus 0."""
        self.tick()
        self.begin()
        number = sum(1 for bom in self.history.rows["tabBOM"].values() if bom["item"] == item_code)
        header = self.insert(
            "tabBOM",
            name=f"BOM-{item_code}-{number + 1:03d}",
            item=item_code,
            quantity=Decimal(self.rng.choice((1, 1, 2, 5))),
            uom="Nos",
            is_active=1,
            is_default=1,
            company="Acme Bearings",
            amended_from=amended_from,
        )
        rows = []
        for idx, item in enumerate(self.rng.sample(self.items, self.rng.randint(2, 4)), 1):
            boxed = item["name"] in self.boxed
            factor = Decimal(12) if boxed else Decimal(1)
            qty = Decimal(self.rng.randint(1, 6)) + self.rng.choice((Decimal(0), Decimal("0.5")))
            rows.append(
                self.insert(
                    "tabBOM Item",
                    parent=header["name"],
                    parenttype="BOM",
                    parentfield="items",
                    idx=idx,
                    item_code=item["name"],
                    qty=qty,
                    uom="Box" if boxed else "Nos",
                    conversion_factor=factor,
                    stock_qty=qty * factor,
                    stock_uom="Nos",
                    rate=item["valuation_rate"],
                    bom_no=None,
                )
            )
        if len(rows) > 2 and self.rng.random() < 0.3:  # the draft corrected before submitting
            self.tick()
            self.begin()
            self.delete("tabBOM Item", rows.pop())
            row = self.rng.choice(rows)
            self.update("tabBOM Item", row, qty=row["qty"] + 1, stock_qty=row["stock_qty"] + 1)
        return _Order(header, rows)

    def submit_bom(self, bom: _Order) -> None:
        self.tick()
        self.begin()
        self.update("tabBOM", bom.header, docstatus=1)
        for row in bom.items:
            self.update("tabBOM Item", row, docstatus=1)
        self.boms[bom.header["item"]] = bom

    def change_bom(self) -> None:
        """A submitted BOM cannot be edited: its costs are updated, or it is cancelled and
        amended with other quantities and components."""
        bom = self.boms[self.rng.choice(self.assemblies)]
        if self.rng.random() < 0.4:  # Update Cost: rates written on the submitted rows
            self.begin()
            for row in bom.items:
                self.update("tabBOM Item", row, rate=row["rate"] + Decimal("0.25"))
            return
        self.begin()
        self.update("tabBOM", bom.header, docstatus=2, is_active=0, is_default=0)
        for row in bom.items:
            self.update("tabBOM Item", row, docstatus=2)
        self.submit_bom(self.draft_bom(bom.header["item"], bom.header["name"]))

    def plan_work_order(self) -> None:
        """A draft work order for an assembly, to start in a few days or weeks."""
        self.begin()
        item_code = self.rng.choice(self.assemblies)
        start = self.clock + timedelta(days=self.rng.randint(1, 30), hours=self.rng.randint(0, 9))
        self.work_orders.append(
            self.insert(
                "tabWork Order",
                name=self.name("MFG-WO"),
                status="Draft",
                production_item=item_code,
                bom_no=self.boms[item_code].header["name"],
                company="Acme Bearings",
                qty=Decimal(self.rng.randint(1, 30)),
                produced_qty=Decimal(0),
                source_warehouse=(
                    self.rng.choice(self.warehouses) if self.rng.random() < 0.6 else None
                ),
                wip_warehouse=f"Work In Progress - {ABBR}",
                fg_warehouse=self.rng.choice(self.warehouses),
                planned_start_date=start,
                expected_delivery_date=(
                    (start + timedelta(days=3)).date() if self.rng.random() < 0.5 else None
                ),
                stock_uom="Nos",
            )
        )

    def advance_work_order(self) -> None:
        """A work order moves on; or is rescheduled, stopped, resumed, cancelled or deleted."""
        if not self.work_orders:
            return
        self.begin()
        order = self.rng.choice(self.work_orders)
        status = order["status"]
        if self.rng.random() < 0.1:
            start = order["planned_start_date"] + timedelta(days=2)
            self.update("tabWork Order", order, planned_start_date=start)
        elif status == "Draft" and self.rng.random() < 0.2:
            self.work_orders.remove(order)
            self.delete("tabWork Order", order)
        elif status == "Draft":
            self.update("tabWork Order", order, docstatus=1, status="Not Started")
        elif status == "Not Started" and self.rng.random() < 0.15:
            self.work_orders.remove(order)
            self.update("tabWork Order", order, docstatus=2, status="Cancelled")
        elif status == "Stopped":
            self.update("tabWork Order", order, status="In Process")
        elif status == "In Process" and self.rng.random() < 0.2:
            self.update("tabWork Order", order, status="Stopped")
        elif status == "Not Started":
            self.update("tabWork Order", order, status="In Process")
        else:
            self.work_orders.remove(order)
            self.update("tabWork Order", order, status="Completed", produced_qty=order["qty"])

    def add_warehouse(self) -> None:
        self.warehouses.append(f"Chengdu DC - {ABBR}")

    def edit_item(self) -> None:
        self.begin()
        item = self.rng.choice(self.items)
        self.update("tabItem", item, valuation_rate=item["valuation_rate"] + Decimal("0.5"))

    # --- buying -------------------------------------------------------------------------------

    def buy(self) -> None:
        self.begin()
        warehouse = self.rng.choice(self.warehouses)
        required = (self.clock + timedelta(days=self.rng.randint(5, 25))).date()
        header = self.insert(
            "tabPurchase Order",
            name=self.name("PUR-ORD"),
            supplier=f"SUP-{self.rng.randint(1, 6):03d}",
            transaction_date=self.clock.date(),
            schedule_date=required,
            set_warehouse=warehouse,
            status="Draft",
        )
        items = []
        for idx, item in enumerate(self.rng.sample(self.items, self.rng.randint(1, 3)), 1):
            boxed = item["name"] in self.boxed
            factor = Decimal(12) if boxed else Decimal(1)
            qty = Decimal(self.rng.randint(2, 12) if boxed else self.rng.randint(20, 200))
            items.append(
                self.insert(
                    "tabPurchase Order Item",
                    parent=header["name"],
                    parenttype="Purchase Order",
                    parentfield="items",
                    idx=idx,
                    item_code=item["name"],
                    qty=qty,
                    uom="Box" if boxed else "Nos",
                    conversion_factor=factor,
                    stock_qty=qty * factor,
                    received_qty=Decimal(0),
                    rate=Decimal(self.rng.randint(100, 5_000)) / 100,
                    warehouse=warehouse,
                    schedule_date=required,
                    expected_delivery_date=(
                        required + timedelta(days=self.rng.randint(-2, 4))
                        if self.rng.random() < 0.4
                        else None
                    ),
                )
            )
        self.draft_purchases.append(_Order(header, items))

    def submit_purchase(self) -> None:
        self.begin()
        order = self.draft_purchases.pop(self.rng.randrange(len(self.draft_purchases)))
        if self.rng.random() < 0.15:  # a draft discarded
            for item in order.items:
                self.delete("tabPurchase Order Item", item)
            self.delete("tabPurchase Order", order.header)
            return
        self.update("tabPurchase Order", order.header, docstatus=1, status="To Receive and Bill")
        for item in order.items:
            self.update("tabPurchase Order Item", item, docstatus=1)
        self.purchases.append(order)

    def receive(self) -> None:
        """A purchase receipt for an open PO line: all of it, or part."""
        open_items = [
            item
            for order in self.purchases
            for item in order.items
            if item["received_qty"] < item["qty"]
        ]
        if not open_items:
            return
        self.begin()
        item = self.rng.choice(open_items)
        rest = item["qty"] - item["received_qty"]
        qty = (
            rest if rest < 2 or self.rng.random() < 0.6 else _quantity(rest / 2).to_integral_value()
        )
        receipt = self.name("MAT-PRE")
        entry = self.ledger(
            "Purchase Receipt",
            receipt,
            item["item_code"],
            item["warehouse"],
            qty * item["conversion_factor"],
            rate=item["rate"] / item["conversion_factor"],
            batch_no=f"B{self.series['MAT-PRE']:04d}" if item["item_code"].endswith("00") else None,
        )
        self.update("tabPurchase Order Item", item, received_qty=item["received_qty"] + qty)
        self.vouchers.append(_Voucher("Purchase Receipt", receipt, [entry], [(item, qty)]))

    def cancel_purchase(self) -> None:
        unreceived = [o for o in self.purchases if all(i["received_qty"] == 0 for i in o.items)]
        if not unreceived:
            return
        self.begin()
        order = self.rng.choice(unreceived)
        self.purchases.remove(order)
        self.update("tabPurchase Order", order.header, docstatus=2, status="Cancelled")
        for item in order.items:
            self.update("tabPurchase Order Item", item, docstatus=2)

    # --- selling ------------------------------------------------------------------------------

    def sell(self) -> None:
        self.begin()
        warehouse = self.rng.choice(self.warehouses)
        due = (self.clock + timedelta(days=self.rng.randint(2, 20))).date()
        header = self.insert(
            "tabSales Order",
            name=self.name("SAL-ORD"),
            customer=f"CUST-{self.rng.randint(1, 30):04d}",
            transaction_date=self.clock.date(),
            delivery_date=due,
            set_warehouse=warehouse,
            status="Draft",
        )
        items = []
        for idx, item in enumerate(self.rng.sample(self.items, self.rng.randint(1, 3)), 1):
            qty = Decimal(self.rng.randint(1, 40)) + self.rng.choice((Decimal(0), Decimal("0.5")))
            rate = Decimal(self.rng.randint(300, 12_000)) / 100
            items.append(
                self.insert(
                    "tabSales Order Item",
                    parent=header["name"],
                    parenttype="Sales Order",
                    parentfield="items",
                    idx=idx,
                    item_code=item["name"],
                    qty=qty,
                    uom="Nos",
                    conversion_factor=Decimal(1),
                    stock_qty=qty,
                    delivered_qty=Decimal(0),
                    rate=rate,
                    base_rate=rate,
                    amount=qty * rate,
                    warehouse=warehouse,
                    delivery_date=due,
                )
            )
        self.draft_sales.append(_Order(header, items))

    def submit_sale(self) -> None:
        self.begin()
        order = self.draft_sales.pop(self.rng.randrange(len(self.draft_sales)))
        if len(order.items) > 1 and self.rng.random() < 0.2:  # a line removed from the draft
            self.delete("tabSales Order Item", order.items.pop())
        if self.rng.random() < 0.12:
            for item in order.items:
                self.delete("tabSales Order Item", item)
            self.delete("tabSales Order", order.header)
            return
        self.update("tabSales Order", order.header, docstatus=1, status="To Deliver and Bill")
        for item in order.items:
            self.update("tabSales Order Item", item, docstatus=1)
        self.sales.append(order)

    def deliver(self) -> None:
        """A delivery note for an open SO line that the warehouse can serve."""
        candidates = [
            item
            for order in self.sales
            for item in order.items
            if item["delivered_qty"] < item["qty"]
            and self.on_hand(item["item_code"], item["warehouse"]) >= item["qty"]
        ]
        if not candidates:
            return
        self.begin()
        item = self.rng.choice(candidates)
        qty = item["qty"] - item["delivered_qty"]
        note = self.name("MAT-DN")
        entry = self.ledger(
            "Delivery Note", note, item["item_code"], item["warehouse"], -qty, rate=item["rate"]
        )
        self.update("tabSales Order Item", item, delivered_qty=item["delivered_qty"] + qty)
        self.vouchers.append(_Voucher("Delivery Note", note, [entry], [(item, qty)]))

    def cancel_sale(self) -> None:
        undelivered = [o for o in self.sales if all(i["delivered_qty"] == 0 for i in o.items)]
        if not undelivered:
            return
        self.begin()
        order = self.rng.choice(undelivered)
        self.sales.remove(order)
        self.update("tabSales Order", order.header, docstatus=2, status="Cancelled")
        for item in order.items:
            self.update("tabSales Order Item", item, docstatus=2)

    def sales_return(self) -> None:
        """A customer brings goods back on a return delivery note (no order line)."""
        self.begin()
        item = self.rng.choice(self.items)
        warehouse = self.rng.choice(self.warehouses)
        note = self.name("MAT-DN")
        qty = Decimal(self.rng.randint(1, 4))
        self.ledger(
            "Delivery Note", note, item["name"], warehouse, qty, rate=item["valuation_rate"]
        )

    # --- stock entries, counts, cancellations, reposting ----------------------------------------

    def transfer(self) -> None:
        """A material transfer: out of one warehouse, into another, one stock entry."""
        source, target = self.rng.sample(self.warehouses, 2)
        stocked = [i for i in self.items if self.on_hand(i["name"], source) >= 4]
        if not stocked:
            return
        self.begin()
        item = self.rng.choice(stocked)
        qty = Decimal(self.rng.randint(1, int(self.on_hand(item["name"], source) / 2)))
        entry_no = self.name("MAT-STE")
        rate = item["valuation_rate"]
        entries = [
            self.ledger("Stock Entry", entry_no, item["name"], source, -qty, rate=rate),
            self.ledger("Stock Entry", entry_no, item["name"], target, qty, rate=rate),
        ]
        self.vouchers.append(_Voucher("Stock Entry", entry_no, entries, []))

    def scrap(self) -> None:
        """A material issue: damaged goods written off."""
        warehouse = self.rng.choice(self.warehouses)
        stocked = [i for i in self.items if self.on_hand(i["name"], warehouse) >= 2]
        if not stocked:
            return
        self.begin()
        item = self.rng.choice(stocked)
        entry_no = self.name("MAT-STE")
        self.ledger("Stock Entry", entry_no, item["name"], warehouse, Decimal(-1))

    def count(self) -> None:
        """A stock reconciliation: the shelf counted, a little off the book."""
        self.begin()
        item = self.rng.choice(self.items)
        warehouse = self.rng.choice(self.warehouses)
        book = self.on_hand(item["name"], warehouse)
        counted = max(book + self.rng.randint(-3, 3), Decimal(0))
        reco = self.name("MAT-RECO")
        self.ledger(
            "Stock Reconciliation", reco, item["name"], warehouse, Decimal(0), counted=counted
        )

    def cancel_voucher_recently_posted(self) -> None:
        """A receipt, delivery or transfer of the last few days cancelled (docstatus 2)."""
        recent = [
            v
            for v in self.vouchers
            if self.clock - v.entries[0]["posting_datetime"] < timedelta(days=5)
            and all(
                self.on_hand(e["item_code"], e["warehouse"]) >= e["actual_qty"] for e in v.entries
            )
        ]
        if not recent:
            return
        self.begin()
        voucher = self.rng.choice(recent)
        self.vouchers.remove(voucher)
        self.cancel_voucher(voucher)
        for item, qty in voucher.lines:
            if voucher.voucher_type == "Delivery Note":
                self.update("tabSales Order Item", item, delivered_qty=item["delivered_qty"] - qty)
            else:
                self.update("tabPurchase Order Item", item, received_qty=item["received_qty"] - qty)

    def repost(self) -> None:
        """Reposting item valuation rewrites the rate columns of existing entries."""
        entries = list(self.history.rows["tabStock Ledger Entry"].values())
        self.begin()
        entry = self.rng.choice(entries)
        rate = entry["valuation_rate"] + Decimal("0.25")
        self.update("tabStock Ledger Entry", entry, valuation_rate=rate)


def erpnext_history(changes: int = 3_000, seed: int = 15) -> ErpnextHistory:
    """At least ``changes`` change events of a company on ERPNext 15, re-snapshotted halfway."""
    company = _Company(seed)
    company.setup()
    actions = [
        (company.buy, 8),
        (company.submit_purchase, 7),
        (company.receive, 12),
        (company.cancel_purchase, 1),
        (company.sell, 12),
        (company.submit_sale, 10),
        (company.deliver, 14),
        (company.cancel_sale, 1),
        (company.sales_return, 1),
        (company.transfer, 4),
        (company.scrap, 2),
        (company.count, 2),
        (company.cancel_voucher_recently_posted, 2),
        (company.repost, 2),
        (company.edit_item, 1),
        (company.change_bom, 2),
        (company.plan_work_order, 3),
        (company.advance_work_order, 6),
    ]
    steps, weights = zip(*actions, strict=True)
    resnapshot_at = changes // 2
    while len(company.history.changes) < changes:
        company.tick()
        action = company.rng.choices(steps, weights)[0]
        if action == company.submit_purchase and not company.draft_purchases:
            continue
        if action == company.submit_sale and not company.draft_sales:
            continue
        action()
        if resnapshot_at and len(company.history.changes) >= resnapshot_at:
            company.tick(60)
            company.resnapshot()
            resnapshot_at = 0
        if len(company.history.changes) > changes * 0.6 and len(company.warehouses) == 3:
            company.add_warehouse()
            company.add_item(10)
    return company.history


# --- what ERPNext says ------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """ERPNext's own figures for one item in one warehouse."""

    on_hand: Decimal = Decimal(0)
    committed: Decimal = Decimal(0)
    in_transit: Decimal = Decimal(0)


def ledger_balances(history: ErpnextHistory) -> dict[tuple[str, str], Decimal]:
    """On hand per (item, warehouse) as ERPNext reposts it from the final ledger rows.

    Entries that are not cancelled, in posting order: a stock reconciliation sets
    the balance to its count, any other entry adds its ``actual_qty``.
    """
    entries = sorted(
        (e for e in history.rows["tabStock Ledger Entry"].values() if e["is_cancelled"] == 0),
        key=lambda e: (e["posting_datetime"], e["creation"], e["name"]),
    )
    balances: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        key = (entry["item_code"], entry["warehouse"])
        if entry["voucher_type"] == "Stock Reconciliation":
            balances[key] = entry["qty_after_transaction"]
        else:
            balances[key] += entry["actual_qty"]
    return dict(balances)


def expected_positions(history: ErpnextHistory) -> dict[tuple[str, str], Position]:
    """On hand, committed and in transit per (item code, warehouse), from the final rows.

    On hand: the ledger reposted (``ledger_balances``). Committed (ERPNext's
    reserved quantity): undelivered quantity of submitted sales order items, in
    stock units. In transit (ERPNext's ordered quantity): unreceived quantity of
    submitted purchase order items, in stock units.
    """
    totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for key, balance in ledger_balances(history).items():
        totals[key]["on_hand"] = balance
    for line in history.rows["tabSales Order Item"].values():
        if line["docstatus"] == 1:
            open_quantity = max(line["qty"] - line["delivered_qty"], Decimal(0))
            key = (line["item_code"], line["warehouse"])
            totals[key]["committed"] += open_quantity * line["conversion_factor"]
    for line in history.rows["tabPurchase Order Item"].values():
        if line["docstatus"] == 1:
            open_quantity = max(line["qty"] - line["received_qty"], Decimal(0))
            key = (line["item_code"], line["warehouse"])
            totals[key]["in_transit"] += open_quantity * line["conversion_factor"]
    return {key: Position(**figures) for key, figures in totals.items()}


def cancelled_reconciliation(seed: int = 15) -> ErpnextHistory:
    """The opening stock reconciliation, then cancelled: its entries marked, no reversal counted."""
    company = _Company(seed)
    company.setup()
    company.tick()
    company.begin()
    opening = list(company.history.rows["tabStock Ledger Entry"].values())[:2]
    voucher = _Voucher("Stock Reconciliation", opening[0]["voucher_no"], opening, [])
    company.cancel_voucher(voucher)
    return company.history


@dataclass(frozen=True)
class OpenOrder:
    """An ERPNext work order that still needs its components."""

    material_id: str
    warehouse_id: str
    quantity: Decimal
    need_date: date


def expected_boms(history: ErpnextHistory) -> dict[tuple[str, str], Decimal]:
    """Component stock quantity per unit of its assembly, per (item, component), from the
    items of submitted BOMs."""
    rows = history.rows
    quantities: dict[tuple[str, str], Decimal] = {}
    for line in rows["tabBOM Item"].values():
        if line["docstatus"] == 1:
            bom = rows["tabBOM"][line["parent"]]
            quantities[(bom["item"], line["item_code"])] = line["stock_qty"] / bom["quantity"]
    return quantities


def expected_open_orders(history: ErpnextHistory) -> dict[str, OpenOrder]:
    """Work orders drafted, not started or in process, by name: what, where, how many, when."""
    return {
        name: OpenOrder(
            material_id=order["production_item"],
            warehouse_id=order["source_warehouse"] or order["fg_warehouse"],
            quantity=order["qty"],
            need_date=order["planned_start_date"].date(),
        )
        for name, order in history.rows["tabWork Order"].items()
        if order["status"] in ("Draft", "Not Started", "In Process")
    }
