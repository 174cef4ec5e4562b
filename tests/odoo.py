"""Odoo 17 as Debezium's Postgres connector captures it: a generated history of change events.

A small company with warehouses, products, purchase and sales orders and stock
moves lives through a few months here, and every write Odoo would make to its
tables becomes the change event the connector writes with its defaults
(``connectors.shapes.odoo_tables``, which ``stockloop simulate --shape odoo``
writes with too).

What happens is what Odoo does: a move is created waiting, becomes done once
(its order line's delivered or received quantity follows in the same
transaction), may be edited after it is done (its note), or is cancelled or
deleted before; quotations and RFQs are confirmed, cancelled or deleted;
inventory adjustments are created done; goods go between warehouses directly or
through a transit location, and within a warehouse between shelves. Assemblies
have bills of materials (one on the template only, for every variant) whose
lines are edited, added and deleted; manufacturing orders are drafted, confirmed,
started, produced, closed, rescheduled, cancelled, or deleted as drafts.

The tables' final rows are kept (``OdooHistory.rows``), so a test computes what
Odoo itself says (``expected_positions``, ``expected_boms``,
``expected_open_orders``) without reading one change event.
Built independently of ``connectors.cdc`` and of the Odoo mapping.
"""

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from connectors.shapes.debezium import Change, ChangeHistory
from connectors.shapes.odoo_tables import OdooTables, Warehouse, add_warehouse
from connectors.shapes.odoo_tables import odoo_number as _number

START = datetime(2026, 9, 1, 6, 0)  # UTC wall clock, as Odoo stores it

USAGES = ("supplier", "customer", "inventory", "production", "transit")

OdooHistory = ChangeHistory
"""Generated changes in commit order, and the rows each table holds at the end."""

__all__ = ["Change", "OdooHistory"]


class _Odoo(OdooTables):
    """The ERP: writes rows from its start, its clock moved by people's pace."""

    def __init__(self, seed: int) -> None:
        super().__init__(random.Random(seed), START)

    def tick(self, minutes: float = 7.0) -> None:
        self.clock += timedelta(minutes=self.rng.expovariate(1 / minutes))


# --- the company ------------------------------------------------------------------------------


class _Company(_Odoo):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.partner_locations: dict[str, dict[str, Any]] = {}
        self.warehouses: list[Warehouse] = []
        self.products: list[dict[str, Any]] = []
        self.on_hand: dict[tuple[int, int], Decimal] = defaultdict(Decimal)  # product, location
        self.open_moves: list[dict[str, Any]] = []
        self.done_moves: list[dict[str, Any]] = []
        self.quotations: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.sales: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.rfqs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.purchases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.in_transit_moves: list[tuple[dict[str, Any], Warehouse]] = []
        self.boms: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.productions: list[dict[str, Any]] = []

    def setup(self) -> None:
        root = self.create("stock_location", name="Partners", usage="view", warehouse_id=None)
        for usage in USAGES:
            self.partner_locations[usage] = self.create(
                "stock_location",
                name=usage.title(),
                usage=usage,
                location_id=root["id"],
                warehouse_id=None,
                active=True,
            )
        for code in ("WH", "SHA", "NGB"):
            self.add_warehouse(code)
        for number in range(12):
            self.add_product(number)
        for number in range(4):
            self.add_assembly(number, variant_bom=number != 3)

    def add_warehouse(self, code: str) -> None:
        self.warehouses.append(add_warehouse(self, code))

    def add_product(self, number: int) -> None:
        template = self.create(
            "product_template",
            name=orjson.dumps({"en_US": f"Bearing 62{number:02d}-2RS"}).decode(),  # jsonb
            type="product",
            uom_id=1,
            uom_po_id=1,
            categ_id=1 + number % 3,
            list_price=round(self.rng.uniform(2, 80), 2),
            active=True,
        )
        self.products.append(
            self.create(
                "product_product",
                product_tmpl_id=template["id"],
                default_code=f"BRG-62{number:02d}",
                barcode=None,
                active=True,
            )
        )

    def add_assembly(self, number: int, variant_bom: bool) -> None:
        """A gearbox built from bearings: its variant and a BOM with a few component lines.

        A template-level BOM (``variant_bom`` false) names no variant, as most Odoo BOMs do.
        """
        template = self.create(
            "product_template",
            name=orjson.dumps({"en_US": f"Gearbox GB-{number}"}).decode(),
            type="product",
            uom_id=1,
            uom_po_id=1,
            categ_id=4,
            list_price=round(self.rng.uniform(200, 900), 2),
            active=True,
        )
        variant = self.create(
            "product_product",
            product_tmpl_id=template["id"],
            default_code=f"GB-{number}",
            barcode=None,
            active=True,
        )
        bom = self.create(
            "mrp_bom",
            code=None,
            type="normal",
            product_tmpl_id=template["id"],
            product_id=variant["id"] if variant_bom else None,
            product_qty=_number(self.rng.choice((1, 1, 2, 5))),
            product_uom_id=1,
            sequence=0,
            consumption="warning",
            active=True,
        )
        lines = [
            self.bom_line(bom, component)
            for component in self.rng.sample(self.products, self.rng.randint(2, 4))
        ]
        self.boms.append((bom, lines))

    def bom_line(self, bom: dict[str, Any], component: dict[str, Any]) -> dict[str, Any]:
        return self.create(
            "mrp_bom_line",
            bom_id=bom["id"],
            product_id=component["id"],
            product_tmpl_id=component["product_tmpl_id"],
            product_qty=self.quantity(1, 6),
            product_uom_id=1,
            sequence=10,
            operation_id=None,
        )

    # --- moves -------------------------------------------------------------------------------

    def new_move(
        self,
        product: dict[str, Any],
        source: dict[str, Any],
        destination: dict[str, Any],
        quantity: Decimal,
        state: str = "confirmed",
        **links: Any,
    ) -> dict[str, Any]:
        values = {
            "name": f"Move {self.ids['stock_move'] + 1}",
            "reference": None,
            "sequence": 10,
            "priority": "0",
            "product_id": product["id"],
            "product_uom_qty": quantity,
            "product_qty": quantity,
            "quantity": quantity if state == "done" else Decimal(0),
            "product_uom": 1,
            "location_id": source["id"],
            "location_dest_id": destination["id"],
            "state": state,
            "date": self.clock,
            "date_deadline": None,
            "picking_id": None,
            "warehouse_id": None,
            "sale_line_id": None,
            "purchase_line_id": None,
            "price_unit": Decimal(0),
            "origin": None,
            "is_inventory": False,
            "procure_method": "make_to_stock",
            "picked": False,
        } | links
        move = self.create("stock_move", **values)
        if state == "done":
            self._book(move)
        else:
            self.open_moves.append(move)
        return move

    def finish(self, move: dict[str, Any], quantity: Decimal | None = None) -> None:
        """Validate a move: its quantity, state done and date in one write."""
        self.open_moves.remove(move)
        done = move["product_uom_qty"] if quantity is None else quantity
        self.write("stock_move", move, state="done", quantity=done, date=self.clock, picked=True)
        self._book(move)

    def _book(self, move: dict[str, Any]) -> None:
        self.done_moves.append(move)
        self.on_hand[(move["product_id"], move["location_id"])] -= move["quantity"]
        self.on_hand[(move["product_id"], move["location_dest_id"])] += move["quantity"]

    def available(self, product: dict[str, Any], location: dict[str, Any]) -> Decimal:
        return self.on_hand[(product["id"], location["id"])]

    # --- what people do ------------------------------------------------------------------------

    def quantity(self, low: int = 1, high: int = 60) -> Decimal:
        whole = self.rng.randint(low, high)
        return _number(whole + self.rng.choice((0, 0, 0, 0.5, 0.25, 0.125)))

    def buy(self) -> None:
        warehouse = self.rng.choice(self.warehouses)
        order = self.create(
            "purchase_order",
            name=f"P{self.ids['purchase_order'] + 1:05d}",
            state="draft",
            partner_id=self.rng.randint(100, 106),
            picking_type_id=warehouse.receipts["id"],
            date_order=self.clock,
            date_approve=None,
            date_planned=None,
        )
        lines = []
        for product in self.rng.sample(self.products, self.rng.randint(1, 3)):
            planned = self.clock + timedelta(
                days=self.rng.randint(3, 20), hours=self.rng.randint(0, 23)
            )
            lines.append(
                self.create(
                    "purchase_order_line",
                    order_id=order["id"],
                    name=product["default_code"],
                    product_id=product["id"],
                    product_qty=self.quantity(20, 200),
                    product_uom_qty=None,
                    qty_received=Decimal(0),
                    price_unit=_number(round(self.rng.uniform(1, 50), 2)),
                    date_planned=planned,
                    state="draft",
                    partner_id=order["partner_id"],
                    product_uom=1,
                )
            )
        self.rfqs.append((order, lines))

    def confirm_purchase(self) -> None:
        order, lines = self.rfqs.pop(self.rng.randrange(len(self.rfqs)))
        if self.rng.random() < 0.15:  # the RFQ is dropped
            if self.rng.random() < 0.5:
                for line in lines:
                    self.unlink("purchase_order_line", line)
                self.unlink("purchase_order", order)
            else:
                self.write("purchase_order", order, state="cancel")
                for line in lines:
                    self.write("purchase_order_line", line, state="cancel")
            return
        self.write("purchase_order", order, state="purchase", date_approve=self.clock)
        warehouse = next(w for w in self.warehouses if w.receipts["id"] == order["picking_type_id"])
        for line in lines:
            self.write("purchase_order_line", line, state="purchase")
            self.new_move(
                self.product(line["product_id"]),
                self.partner_locations["supplier"],
                warehouse.stock,
                line["product_qty"],
                purchase_line_id=line["id"],
                price_unit=line["price_unit"],
                origin=order["name"],
            )
        self.purchases.append((order, lines))

    def product(self, product_id: int) -> dict[str, Any]:
        return next(product for product in self.products if product["id"] == product_id)

    def receive(self) -> None:
        moves = [m for m in self.open_moves if m["purchase_line_id"] is not None]
        if not moves:
            return
        move = self.rng.choice(moves)
        line = self.history.rows["purchase_order_line"][move["purchase_line_id"]]
        if self.rng.random() < 0.25 and move["product_uom_qty"] > 2:  # a partial receipt
            part = _number(int(move["product_uom_qty"] / 2))
            rest = move["product_uom_qty"] - part
            self.write("stock_move", move, product_uom_qty=part, product_qty=part)
            self.finish(move)
            self.new_move(
                self.product(move["product_id"]),
                self.partner_locations["supplier"],
                self.history.rows["stock_location"][move["location_dest_id"]],
                rest,
                purchase_line_id=line["id"],
                price_unit=line["price_unit"],
                origin=move["origin"],
            )
        else:
            self.finish(move)
        self.write(
            "purchase_order_line", line, qty_received=line["qty_received"] + move["quantity"]
        )

    def sell(self) -> None:
        warehouse = self.rng.choice(self.warehouses)
        order = self.create(
            "sale_order",
            name=f"S{self.ids['sale_order'] + 1:05d}",
            state="draft",
            partner_id=self.rng.randint(200, 230),
            warehouse_id=warehouse.row["id"],
            date_order=self.clock,
            commitment_date=(
                self.clock + timedelta(days=self.rng.randint(2, 25), hours=15)
                if self.rng.random() < 0.7
                else None
            ),
            validity_date=(self.clock + timedelta(days=30)).date(),
        )
        lines = [
            self.create(
                "sale_order_line",
                order_id=order["id"],
                name=product["default_code"],
                product_id=product["id"],
                product_uom_qty=self.quantity(),
                qty_delivered=Decimal(0),
                price_unit=_number(round(self.rng.uniform(5, 120), 2)),
                customer_lead=Decimal(0),
                state="draft",
                order_partner_id=order["partner_id"],
                product_uom=1,
            )
            for product in self.rng.sample(self.products, self.rng.randint(1, 4))
        ]
        self.quotations.append((order, lines))

    def confirm_sale(self) -> None:
        order, lines = self.quotations.pop(self.rng.randrange(len(self.quotations)))
        if len(lines) > 1 and self.rng.random() < 0.2:  # a quotation line removed
            self.unlink("sale_order_line", lines.pop())
        if self.rng.random() < 0.15:
            self.write("sale_order", order, state="cancel")
            for line in lines:
                self.write("sale_order_line", line, state="cancel")
            return
        self.write("sale_order", order, state="sale")
        warehouse = next(w for w in self.warehouses if w.row["id"] == order["warehouse_id"])
        for line in lines:
            self.write("sale_order_line", line, state="sale")
            self.new_move(
                self.product(line["product_id"]),
                warehouse.stock,
                self.partner_locations["customer"],
                line["product_uom_qty"],
                sale_line_id=line["id"],
                origin=order["name"],
            )
        self.sales.append((order, lines))

    def deliver(self) -> None:
        moves = [
            m
            for m in self.open_moves
            if m["sale_line_id"] is not None
            and self.available(self.product(m["product_id"]), self.location(m["location_id"]))
            >= m["product_uom_qty"]
        ]
        if not moves:
            return
        move = self.rng.choice(moves)
        line = self.history.rows["sale_order_line"][move["sale_line_id"]]
        self.finish(move)
        self.write("sale_order_line", line, qty_delivered=line["qty_delivered"] + move["quantity"])

    def cancel_sale(self) -> None:
        """A confirmed order cancelled: its undelivered moves and its lines with it."""
        candidates = [
            (order, lines)
            for order, lines in self.sales
            if all(line["qty_delivered"] == 0 for line in lines)
        ]
        if not candidates:
            return
        order, lines = self.rng.choice(candidates)
        self.sales.remove((order, lines))
        for move in [
            m for m in self.open_moves if m["sale_line_id"] in {line["id"] for line in lines}
        ]:
            self.open_moves.remove(move)
            self.write("stock_move", move, state="cancel")
        self.write("sale_order", order, state="cancel")
        for line in lines:
            self.write("sale_order_line", line, state="cancel")

    def location(self, location_id: int) -> dict[str, Any]:
        return self.history.rows["stock_location"][location_id]

    def transfer(self) -> None:
        """Goods to another warehouse: directly, or through transit in two moves."""
        source, destination = self.rng.sample(self.warehouses, 2)
        stocked = [p for p in self.products if self.available(p, source.stock) >= 5]
        if not stocked:
            return
        product = self.rng.choice(stocked)
        quantity = _number(self.rng.randint(1, int(self.available(product, source.stock) / 2)))
        if self.rng.random() < 0.5:
            move = self.new_move(product, source.stock, destination.stock, quantity)
            self.tick(30)
            self.finish(move)
        else:
            move = self.new_move(product, source.stock, self.partner_locations["transit"], quantity)
            self.finish(move)
            arrival = self.new_move(
                product, self.partner_locations["transit"], destination.stock, quantity
            )
            self.in_transit_moves.append((arrival, destination))

    def arrive(self) -> None:
        if self.in_transit_moves:
            move, _ = self.in_transit_moves.pop(0)
            self.finish(move)

    def shelve(self) -> None:
        """Put away within a warehouse: stock to shelf, nothing leaves the warehouse."""
        warehouse = self.rng.choice(self.warehouses)
        stocked = [p for p in self.products if self.available(p, warehouse.stock) >= 2]
        if stocked:
            product = self.rng.choice(stocked)
            move = self.new_move(product, warehouse.stock, warehouse.shelf, _number(1), "assigned")
            self.finish(move)

    def count(self) -> None:
        """An inventory adjustment, created done: a gain or a loss at the stock location."""
        warehouse = self.rng.choice(self.warehouses)
        product = self.rng.choice(self.products)
        loss = self.available(product, warehouse.stock) >= 3 and self.rng.random() < 0.6
        quantity = self.quantity(1, 3 if loss else 40)
        adjustment = self.partner_locations["inventory"]
        source, destination = (
            (warehouse.stock, adjustment) if loss else (adjustment, warehouse.stock)
        )
        self.new_move(product, source, destination, quantity, "done", is_inventory=True)

    def edit_done(self) -> None:
        """A done move's note or origin is changed: no movement."""
        if self.done_moves:
            move = self.rng.choice(self.done_moves)
            self.write("stock_move", move, origin=f"{move['origin'] or ''} (checked)")

    def drop_draft(self) -> None:
        """A draft move created by mistake: deleted, or cancelled."""
        warehouse = self.rng.choice(self.warehouses)
        move = self.new_move(
            self.rng.choice(self.products),
            warehouse.stock,
            self.partner_locations["customer"],
            self.quantity(),
            "draft",
        )
        self.open_moves.remove(move)
        if self.rng.random() < 0.5:
            self.unlink("stock_move", move)
        else:
            self.write("stock_move", move, state="cancel")

    # --- manufacturing -------------------------------------------------------------------------

    def edit_bom(self) -> None:
        """An engineer changes a BOM: a line's quantity, a new component, or a line removed."""
        bom, lines = self.rng.choice(self.boms)
        choice = self.rng.random()
        if choice < 0.5:
            line = self.rng.choice(lines)
            self.write("mrp_bom_line", line, product_qty=self.quantity(1, 6))
        elif choice < 0.75 or len(lines) < 2:
            used = {line["product_id"] for line in lines}
            unused = [product for product in self.products if product["id"] not in used]
            if unused:
                lines.append(self.bom_line(bom, self.rng.choice(unused)))
        else:
            self.unlink("mrp_bom_line", lines.pop(self.rng.randrange(len(lines))))

    def plan_production(self) -> None:
        """A draft manufacturing order for an assembly, due in a few days or weeks."""
        bom, _ = self.rng.choice(self.boms)
        warehouse = self.rng.choice(self.warehouses)
        variant = next(
            row
            for row in self.history.rows["product_product"].values()
            if row["product_tmpl_id"] == bom["product_tmpl_id"]
        )
        quantity = _number(self.rng.randint(1, 40))
        start = self.clock + timedelta(days=self.rng.randint(1, 30), hours=self.rng.randint(0, 9))
        self.productions.append(
            self.create(
                "mrp_production",
                name=f"{warehouse.row['code']}/MO/{self.ids['mrp_production'] + 1:05d}",
                priority="1" if self.rng.random() < 0.2 else "0",
                product_id=variant["id"],
                product_qty=quantity,
                product_uom_id=1,
                product_uom_qty=quantity,
                qty_producing=Decimal(0),
                picking_type_id=warehouse.manufacturing["id"],
                location_src_id=warehouse.stock["id"],
                location_dest_id=warehouse.stock["id"],
                date_start=start,
                date_finished=start + timedelta(hours=8),
                date_deadline=None,
                bom_id=bom["id"],
                state="draft",
                reservation_state=None,
                origin=None,
            )
        )

    def advance_production(self) -> None:
        """An order moves on: confirmed, started, produced, closed; or cancelled, deleted, moved."""
        if not self.productions:
            return
        order = self.rng.choice(self.productions)
        state = order["state"]
        if self.rng.random() < 0.1:
            self.write("mrp_production", order, date_start=order["date_start"] + timedelta(days=3))
        elif state == "draft" and self.rng.random() < 0.2:
            self.productions.remove(order)
            self.unlink("mrp_production", order)
        elif state in ("draft", "confirmed") and self.rng.random() < 0.1:
            self.productions.remove(order)
            self.write("mrp_production", order, state="cancel")
        else:
            following = {"draft": "confirmed", "confirmed": "progress", "progress": "to_close"}
            if state in following:
                self.write("mrp_production", order, state=following[state])
            else:
                self.productions.remove(order)
                self.write("mrp_production", order, state="done", date_finished=self.clock)

    def reschedule(self) -> None:
        """A buyer moves a confirmed PO line's planned date."""
        if self.purchases:
            _, lines = self.rng.choice(self.purchases)
            line = self.rng.choice(lines)
            self.write(
                "purchase_order_line", line, date_planned=line["date_planned"] + timedelta(days=2)
            )


def odoo_history(changes: int = 3_000, seed: int = 17) -> OdooHistory:
    """At least ``changes`` change events of a company on Odoo 17, with a re-snapshot halfway."""
    company = _Company(seed)
    company.setup()
    actions = [
        (company.buy, 8),
        (company.confirm_purchase, 7),
        (company.receive, 12),
        (company.sell, 12),
        (company.confirm_sale, 10),
        (company.deliver, 14),
        (company.cancel_sale, 1),
        (company.transfer, 4),
        (company.arrive, 3),
        (company.shelve, 3),
        (company.count, 3),
        (company.edit_done, 3),
        (company.drop_draft, 3),
        (company.reschedule, 2),
        (company.edit_bom, 3),
        (company.plan_production, 3),
        (company.advance_production, 6),
    ]
    steps, weights = zip(*actions, strict=True)
    resnapshot_at = changes // 2
    while len(company.history.changes) < changes:
        company.tick()
        action = company.rng.choices(steps, weights)[0]
        if action == company.confirm_purchase and not company.rfqs:
            continue
        if action == company.confirm_sale and not company.quotations:
            continue
        action()
        if resnapshot_at and len(company.history.changes) >= resnapshot_at:
            company.tick(60)
            company.resnapshot()
            resnapshot_at = 0
        if len(company.history.changes) > changes * 0.6 and len(company.warehouses) == 3:
            company.add_warehouse("CD")
            company.add_product(12)
    return company.history


# --- what Odoo says ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Odoo's own figures for one product in one warehouse."""

    on_hand: Decimal = Decimal(0)
    committed: Decimal = Decimal(0)
    in_transit: Decimal = Decimal(0)


def expected_positions(history: OdooHistory) -> dict[tuple[str, str], Position]:
    """On hand, committed and in transit per (product id, warehouse code), from the final rows.

    On hand: done moves into a warehouse's internal locations minus those out of
    them (moves within one warehouse cancel out). Committed: undelivered
    quantity of confirmed sales order lines at their order's warehouse. In
    transit: unreceived quantity of confirmed purchase order lines at the
    warehouse of their order's receipt operation.
    """
    rows = history.rows
    codes = {wid: warehouse["code"] for wid, warehouse in rows["stock_warehouse"].items()}
    locations = rows["stock_location"]
    totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))

    def internal_warehouse(location_id: int) -> int | None:
        location = locations[location_id]
        return location["warehouse_id"] if location["usage"] == "internal" else None

    for move in rows["stock_move"].values():
        if move["state"] != "done":
            continue
        source = internal_warehouse(move["location_id"])
        destination = internal_warehouse(move["location_dest_id"])
        if source == destination:
            continue
        product = str(move["product_id"])
        if source is not None:
            totals[(product, codes[source])]["on_hand"] -= move["quantity"]
        if destination is not None:
            totals[(product, codes[destination])]["on_hand"] += move["quantity"]
    for line in rows["sale_order_line"].values():
        if line["state"] in ("sale", "done"):
            order = rows["sale_order"][line["order_id"]]
            open_quantity = max(line["product_uom_qty"] - line["qty_delivered"], Decimal(0))
            totals[(str(line["product_id"]), codes[order["warehouse_id"]])]["committed"] += (
                open_quantity
            )
    for line in rows["purchase_order_line"].values():
        if line["state"] in ("purchase", "done"):
            order = rows["purchase_order"][line["order_id"]]
            receipts = rows["stock_picking_type"][order["picking_type_id"]]
            open_quantity = max(line["product_qty"] - line["qty_received"], Decimal(0))
            totals[(str(line["product_id"]), codes[receipts["warehouse_id"]])]["in_transit"] += (
                open_quantity
            )
    return {key: Position(**figures) for key, figures in totals.items()}


@dataclass(frozen=True)
class OpenOrder:
    """An Odoo manufacturing order that still needs its components."""

    material_id: str
    warehouse_id: str
    quantity: Decimal
    need_date: date
    rush: bool


def expected_boms(history: OdooHistory) -> dict[tuple[str, str], Decimal]:
    """Component quantity per unit of its parent variant, per (parent, component) product id.

    Lines of a template-level BOM (no variant on the BOM) are left out, as the pack does.
    """
    rows = history.rows
    quantities: dict[tuple[str, str], Decimal] = {}
    for line in rows["mrp_bom_line"].values():
        bom = rows["mrp_bom"][line["bom_id"]]
        if bom["product_id"] is not None:
            key = (str(bom["product_id"]), str(line["product_id"]))
            quantities[key] = line["product_qty"] / bom["product_qty"]
    return quantities


def expected_open_orders(history: OdooHistory) -> dict[str, OpenOrder]:
    """Manufacturing orders not done, cancelled or deleted, by id: what they build, where, when."""
    rows = history.rows
    codes = {wid: warehouse["code"] for wid, warehouse in rows["stock_warehouse"].items()}
    return {
        str(order_id): OpenOrder(
            material_id=str(order["product_id"]),
            warehouse_id=codes[
                rows["stock_picking_type"][order["picking_type_id"]]["warehouse_id"]
            ],
            quantity=order["product_uom_qty"],
            need_date=order["date_start"].date(),
            rush=order["priority"] == "1",
        )
        for order_id, order in rows["mrp_production"].items()
        if order["state"] in ("draft", "confirmed", "progress", "to_close")
    }


def changes_by_table(history: OdooHistory) -> Iterator[tuple[str, int]]:
    """How many change events each table's topic holds (tombstones included)."""
    counts: dict[str, int] = defaultdict(int)
    for change in history.changes:
        counts[change.topic.rsplit(".", 1)[-1]] += 1
    yield from sorted(counts.items())
