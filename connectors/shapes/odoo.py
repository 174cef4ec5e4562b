"""Plain events written as Odoo 17 would write its tables: the input of the Odoo pack.

``stockloop simulate --shape odoo`` and ``stockloop produce --shape odoo``
turn each plain event into the rows Odoo writes for it, and each row write
into the change event Debezium's Postgres connector sends
(``connectors.shapes.odoo_tables``), on the input topic the documented
``RegexRouter`` transforms route its table to (``ROUTES``). What
``connectors/mappings/odoo17.yaml`` reads back is the same stock, demand and
supply, in Odoo's ids:

- a material is a product variant (``product_product`` with its template,
  written by the material's master): its id is the variant's id, its name the
  internal reference (the plain material id), its category the template's
  ``categ_id``;
- a warehouse is a ``stock_warehouse`` whose code is the plain warehouse id
  (Odoo allows five characters), with its stock location and its receipt and
  manufacturing operation types;
- a stock movement is a ``stock_move`` created waiting and validated (state
  ``done``) at the event's time: a receipt from the supplier location, an issue
  to the customer (an issue for a sales order) or to production, a transfer
  out to and in from the transit location, an adjustment from or to the
  inventory-loss location (created done), a cycle count as the adjustment by
  which the count differs from the stock the shape has written; a receipt of a
  known PO line raises the line's received quantity in the same transaction;
- a sales order line is a ``sale_order_line`` of a ``sale_order`` (named by
  the order id; its warehouse and promised date on the header): quotation
  while ``open``, confirmed (``sale``) with its delivered quantity, or
  cancelled;
- an in-transit line is a ``purchase_order_line`` of its own
  ``purchase_order`` (received at the warehouse's receipt operation);
- a BOM line is an ``mrp_bom_line`` of its parent variant's ``mrp_bom`` (one
  unit); a production order an ``mrp_production`` at the warehouse's
  manufacturing operation, starting on its need date;
- a promotion stays plain, its material and category translated to Odoo's ids.

Row ids are derived from the plain ids (``stable_number``), so that two runs
(``simulate``, then ``produce`` of one more order) name one material, warehouse
or order alike and never reuse a move's id; what one run wrote the next does
not know otherwise (a receipt raises the received quantity of a PO line of its
own run only; a cycle count is the difference from the stock of its own run).

What the Odoo pack does not read is lost: a master's cost, service level and
lead time; a line's customer priority, penalties and rush mark; a BOM line's
scrap.
"""

import random
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from connectors.shapes.debezium import stable_number
from connectors.shapes.odoo_tables import (
    SERVER,
    OdooTables,
    Warehouse,
    add_warehouse,
    odoo_number,
)
from connectors.shapes.shape import ErpShape
from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialMaster,
    MovementType,
    OrderStatus,
    PromotionEvent,
    SalesOrderLine,
    StockMovement,
)
from models.production import BomLine, ProductionOrder, ProductionOrderStatus

ROUTES = {
    "product_product": "erp.materials",
    "product_template": "erp.materials",
    "stock_move": "erp.stock-movements",
    "stock_location": "erp.stock-movements",
    "stock_warehouse": "erp.stock-movements",
    "stock_picking_type": "erp.stock-movements",
    "sale_order": "erp.sales-orders",
    "sale_order_line": "erp.sales-orders",
    "purchase_order": "erp.shipments",
    "purchase_order_line": "erp.shipments",
    "mrp_bom": "erp.boms",
    "mrp_bom_line": "erp.boms",
    "mrp_production": "erp.production-orders",
}
"""The input topic of each table's changes, as docs/connect-your-erp.md routes them."""

_MAX_ID = 2_000_000_000  # Odoo's ids are serial int4
_PARTNER_USAGES = ("supplier", "customer", "inventory", "production", "transit")
_PRODUCTION_STATES = {
    ProductionOrderStatus.PLANNED: "draft",
    ProductionOrderStatus.RELEASED: "confirmed",
    ProductionOrderStatus.CLOSED: "done",
    ProductionOrderStatus.CANCELLED: "cancel",
}


def _template(master: MaterialMaster) -> dict[str, Any]:
    """A product template's name (a jsonb of translations), price and activity."""
    return {
        "name": orjson.dumps({"en_US": master.name}).decode(),
        "list_price": odoo_number(master.unit_cost),
        "active": master.active,
    }


class OdooShape(ErpShape):
    """Odoo's tables written from plain events; ``category_ids`` says which ``categ_id``
    each plain category became."""

    name = "odoo"
    routes: ClassVar[Mapping[str, str]] = {
        f"{SERVER}.public.{table}": topic for table, topic in ROUTES.items()
    }

    def __init__(self, seed: int = 0) -> None:
        self.tables: OdooTables = OdooTables(random.Random(seed), datetime(1970, 1, 1))
        super().__init__(self.tables)
        self.category_ids: dict[str, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._taken: set[tuple[str, int]] = set()
        self._locations: dict[str, dict[str, Any]] = {}
        self._warehouses: dict[str, Warehouse] = {}
        self._products: dict[str, dict[str, Any]] = {}
        self._templates: dict[str, dict[str, Any]] = {}
        self._sale_orders: dict[str, dict[str, Any]] = {}
        self._sale_lines: dict[tuple[str, str], dict[str, Any]] = {}
        self._purchase_lines: dict[str, dict[str, Any]] = {}
        self._boms: dict[str, dict[str, Any]] = {}
        self._bom_lines: dict[tuple[str, str], dict[str, Any]] = {}
        self._productions: dict[str, dict[str, Any]] = {}
        self._on_hand: dict[tuple[str, str], Decimal] = {}

    def material_id_of(self, material_id: str) -> str:
        """A material's variant id."""
        return str(self._product_id(material_id))

    def order_id_of(self, order_id: str) -> str:
        """A production order's ``mrp_production`` id."""
        return str(self._id("mrp_production", order_id))

    def _begin(self) -> None:
        if not self._locations:
            self._setup()

    def _id(self, table: str, key: str) -> int:
        """The id of the row of ``table`` that stands for ``key``: the same in every run."""
        if (table, key) not in self._ids:
            row_id = stable_number(table, key) % _MAX_ID + 1
            while (table, row_id) in self._taken:  # another key's row has it in this run
                row_id = row_id % _MAX_ID + 1
            self._taken.add((table, row_id))
            self._ids[(table, key)] = row_id
        return self._ids[(table, key)]

    def _create(self, table: str, key: str, **values: Any) -> dict[str, Any]:
        return self.tables.create(table, id=self._id(table, key), **values)

    # --- masters -------------------------------------------------------------------------------

    def _setup(self) -> None:
        root = self._create(
            "stock_location", "Partners", name="Partners", usage="view", warehouse_id=None
        )
        for usage in _PARTNER_USAGES:
            self._locations[usage] = self._create(
                "stock_location",
                f"Partners/{usage}",
                name=usage.title(),
                usage=usage,
                location_id=root["id"],
                warehouse_id=None,
                active=True,
            )

    def _warehouse(self, code: str) -> Warehouse:
        if code not in self._warehouses:
            self._warehouses[code] = add_warehouse(self.tables, code, self._create)
        return self._warehouses[code]

    def _category(self, name: str | None) -> int:
        category_id = self._id("product_category", name or "All")
        self.category_ids[name or "All"] = str(category_id)
        return category_id

    def _product_id(self, material_id: str) -> int:
        """A material's variant id; the variant's row is written by its master only."""
        product_id = self._id("product_product", material_id)
        self.material_ids[material_id] = str(product_id)
        return product_id

    def _master(self, master: MaterialMaster) -> None:
        material_id = master.material_id
        template = self._templates.get(material_id)
        if template is None:
            self._templates[material_id] = self._create(
                "product_template",
                material_id,
                type="product",
                uom_id=1,
                uom_po_id=1,
                categ_id=self._category(master.category),
                **_template(master),
            )
            self._products[material_id] = self.tables.create(
                "product_product",
                id=self._product_id(material_id),
                product_tmpl_id=self._templates[material_id]["id"],
                default_code=material_id,
                barcode=None,
                active=master.active,
            )
            return
        self.tables.write(
            "product_template",
            template,
            categ_id=self._category(master.category),
            **_template(master),
        )
        self.tables.write("product_product", self._products[material_id], active=master.active)

    def _partner(self, name: str | None) -> int | None:
        return None if name is None else self._id("res_partner", name)

    def _promoted(self, promotion: PromotionEvent) -> dict[str, Any]:
        """A promotion's material and category in Odoo's ids."""
        fields: dict[str, Any] = {}
        if promotion.material_id is not None:
            fields["material_id"] = str(self._product_id(promotion.material_id))
        if promotion.category is not None:
            fields["category"] = str(self._category(promotion.category))
        return fields

    # --- stock moves ---------------------------------------------------------------------------

    def _movement(self, movement: StockMovement) -> None:
        warehouse = self._warehouse(movement.warehouse_id)
        key = (movement.material_id, movement.warehouse_id)
        on_hand = self._on_hand.get(key, Decimal(0))
        quantity = odoo_number(abs(movement.quantity))
        locations = self._locations
        match movement.movement_type:
            case MovementType.RECEIPT:
                pair, delta = (locations["supplier"], warehouse.stock), quantity
            case MovementType.ISSUE:
                outside = locations["customer" if movement.sales_order_id else "production"]
                pair, delta = (warehouse.stock, outside), -quantity
            case MovementType.TRANSFER_OUT:
                pair, delta = (warehouse.stock, locations["transit"]), -quantity
            case MovementType.TRANSFER_IN:
                pair, delta = (locations["transit"], warehouse.stock), quantity
            case MovementType.ADJUSTMENT | MovementType.CYCLE_COUNT:
                delta = odoo_number(movement.quantity)
                if movement.movement_type is MovementType.CYCLE_COUNT:
                    delta = odoo_number(movement.quantity) - on_hand
                if not delta:
                    return
                inventory = locations["inventory"]
                pair = (inventory, warehouse.stock) if delta > 0 else (warehouse.stock, inventory)
        self._on_hand[key] = on_hand + delta
        inventory_move = movement.movement_type in (
            MovementType.ADJUSTMENT,
            MovementType.CYCLE_COUNT,
        )
        sale_line = self._sale_lines.get(
            (movement.sales_order_id or "", movement.sales_order_line_id or "")
        )
        purchase_line = self._purchase_lines.get(movement.po_line_id or "")
        move = self._create(
            "stock_move",
            movement.event_id,
            name=f"{movement.movement_type} {movement.event_id}",
            reference=None,
            priority="0",
            product_id=self._product_id(movement.material_id),
            product_uom_qty=abs(delta),
            product_qty=abs(delta),
            quantity=abs(delta) if inventory_move else Decimal(0),
            product_uom=1,
            location_id=pair[0]["id"],
            location_dest_id=pair[1]["id"],
            state="done" if inventory_move else "confirmed",
            date=self.tables.clock,
            sale_line_id=sale_line["id"] if sale_line else None,
            purchase_line_id=purchase_line["id"] if purchase_line else None,
            price_unit=odoo_number(movement.unit_cost or 0),
            origin=movement.sales_order_id,
            is_inventory=inventory_move,
            picked=inventory_move,
        )
        if inventory_move:
            return
        self.tables.write("stock_move", move, state="done", quantity=abs(delta), picked=True)
        if purchase_line is not None:
            received = purchase_line["qty_received"] + abs(delta)
            self.tables.write("purchase_order_line", purchase_line, qty_received=received)

    # --- orders --------------------------------------------------------------------------------

    def _sale_line(self, line: SalesOrderLine) -> None:
        warehouse = self._warehouse(line.warehouse_id)
        promised = datetime.combine(line.due_date, time())
        state = {OrderStatus.OPEN: "draft", OrderStatus.CANCELLED: "cancel"}.get(
            line.status, "sale"
        )
        order = self._sale_orders.get(line.order_id)
        if order is None:
            order = self._create(
                "sale_order",
                line.order_id,
                name=line.order_id,
                partner_id=self._partner(line.customer_id),
                warehouse_id=warehouse.row["id"],
                commitment_date=promised,
                date_order=self.tables.clock,
                state="draft",
            )
            self._sale_orders[line.order_id] = order
        header = {"warehouse_id": warehouse.row["id"], "commitment_date": promised}
        if state != "draft":
            header["state"] = state
        if any(order[name] != value for name, value in header.items()):
            self.tables.write("sale_order", order, **header)
        key = (line.order_id, line.line_id)
        row = self._sale_lines.get(key)
        if row is None:
            row = self._create(
                "sale_order_line",
                f"{line.order_id}/{line.line_id}",
                order_id=order["id"],
                name=f"{line.order_id}/{line.line_id}",
                sequence=10,
                product_id=self._product_id(line.material_id),
                product_uom_qty=odoo_number(line.quantity),
                qty_delivered=Decimal(0),
                price_unit=odoo_number(line.unit_price),
                customer_lead=Decimal(0),
                order_partner_id=order["partner_id"],
                state="draft",
            )
            self._sale_lines[key] = row
        self.tables.write(
            "sale_order_line",
            row,
            product_uom_qty=odoo_number(line.quantity),
            qty_delivered=odoo_number(line.shipped_quantity),
            price_unit=odoo_number(line.unit_price),
            state=state,
        )

    def _purchase_line(self, line: InTransitLine) -> None:
        warehouse = self._warehouse(line.warehouse_id)
        state = "cancel" if line.status is InTransitStatus.CANCELLED else "purchase"
        received = line.received_quantity
        if line.status is InTransitStatus.RECEIVED:
            received = max(received, line.quantity)
        row = self._purchase_lines.get(line.line_id)
        if row is None:
            order = self._create(
                "purchase_order",
                line.line_id,
                name=f"P{line.line_id}",
                partner_id=self._partner(line.supplier_id),
                picking_type_id=warehouse.receipts["id"],
                date_order=line.ordered_at.astimezone(UTC).replace(tzinfo=None),
                state="draft",
            )
            row = self._create(
                "purchase_order_line",
                line.line_id,
                order_id=order["id"],
                name=line.line_id,
                product_id=self._product_id(line.material_id),
                product_qty=odoo_number(line.quantity),
                qty_received=Decimal(0),
                price_unit=Decimal(0),
                partner_id=order["partner_id"],
                date_planned=datetime.combine(line.eta, time()),
                state="draft",
            )
            self._purchase_lines[line.line_id] = row
            self.tables.write("purchase_order", order, state=state)
        self.tables.write(
            "purchase_order_line",
            row,
            product_qty=odoo_number(line.quantity),
            qty_received=odoo_number(received),
            date_planned=datetime.combine(line.eta, time()),
            state=state,
        )

    # --- manufacturing -------------------------------------------------------------------------

    def _bom_line(self, line: BomLine) -> None:
        bom = self._boms.get(line.parent_id)
        if bom is None:
            bom = self._create(
                "mrp_bom",
                line.parent_id,
                code=None,
                type="normal",
                product_tmpl_id=self._id("product_template", line.parent_id),
                product_id=self._product_id(line.parent_id),
                product_qty=Decimal(1),
                product_uom_id=1,
                sequence=0,
                consumption="warning",
                active=True,
            )
            self._boms[line.parent_id] = bom
        key = (line.parent_id, line.component_id)
        row = self._bom_lines.get(key)
        if line.deleted:
            if row is not None:
                self.tables.unlink("mrp_bom_line", self._bom_lines.pop(key))
        elif row is None:
            self._bom_lines[key] = self._create(
                "mrp_bom_line",
                f"{line.parent_id}/{line.component_id}",
                bom_id=bom["id"],
                product_id=self._product_id(line.component_id),
                product_tmpl_id=self._id("product_template", line.component_id),
                product_qty=odoo_number(line.quantity_per),
                product_uom_id=1,
                sequence=10,
                operation_id=None,
            )
        else:
            self.tables.write("mrp_bom_line", row, product_qty=odoo_number(line.quantity_per))

    def _production(self, order: ProductionOrder) -> None:
        warehouse = self._warehouse(order.warehouse_id)
        values = {
            "product_id": self._product_id(order.material_id),
            "product_qty": odoo_number(order.quantity),
            "product_uom_qty": odoo_number(order.quantity),
            "picking_type_id": warehouse.manufacturing["id"],
            "location_src_id": warehouse.stock["id"],
            "location_dest_id": warehouse.stock["id"],
            "date_start": datetime.combine(order.need_date, time()),
            "priority": "1" if order.rush else "0",
            "state": _PRODUCTION_STATES[order.status],
        }
        row = self._productions.get(order.order_id)
        if row is None:
            self._productions[order.order_id] = self._create(
                "mrp_production",
                order.order_id,
                name=order.order_id,
                product_uom_id=1,
                qty_producing=Decimal(0),
                date_deadline=None,
                bom_id=self._boms[order.material_id]["id"]
                if order.material_id in self._boms
                else None,
                **values,
            )
        else:
            self.tables.write("mrp_production", row, **values)
