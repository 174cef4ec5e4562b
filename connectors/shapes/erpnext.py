"""Plain events written as ERPNext 15 would write its tables: the input of the ERPNext pack.

``stockloop simulate --shape erpnext`` and ``stockloop produce --shape
erpnext`` turn each plain event into the rows ERPNext writes for it, and each
row write into the change event Debezium's MySQL connector sends
(``connectors.shapes.erpnext_tables``), on the input topic the documented
``RegexRouter`` transforms route its table to (``ROUTES``). What
``connectors/mappings/erpnext15.yaml`` reads back is the same stock, demand
and supply; materials keep their ids (ERPNext's item codes), warehouses their
names, sales orders their names:

- a material master is a ``tabItem``;
- a stock movement is a submitted ``tabStock Ledger Entry`` at the event's
  time: a receipt a Purchase Receipt's (a Stock Entry's without a PO line), an
  issue a Delivery Note's (a Stock Entry's without a sales order), a transfer
  or an adjustment a Stock Entry's, signed; a cycle count a Stock
  Reconciliation's counted quantity; a receipt of a known PO line raises the
  item's received quantity;
- a sales order line is a ``tabSales Order Item`` of its ``tabSales Order``,
  a draft while ``open``, submitted (docstatus 1) with its delivered quantity,
  or cancelled (2); an in-transit line a ``tabPurchase Order Item`` of its own
  ``tabPurchase Order``;
- a BOM line is a submitted ``tabBOM Item`` of its parent's ``tabBOM`` (one
  unit), cancelled when the line is deleted; a production order a ``tabWork
  Order``;
- a promotion stays plain.

Row names are derived from the plain ids (``stable_number``), so that two runs
never name two ledger entries alike; what one run wrote the next does not know
otherwise (a receipt raises the received quantity of a PO item of its own run
only).

What the ERPNext pack does not read is lost: a master's service level and lead
time; a line's customer priority, penalties and rush mark; a BOM line's scrap;
a production order's rush mark. An adjustment is read back as a receipt or an
issue (a Stock Entry), a transfer without its counterpart warehouse.
"""

import random
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

from connectors.shapes.debezium import stable_number
from connectors.shapes.erpnext_tables import ErpnextTables, topic_of
from connectors.shapes.shape import ErpShape
from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialMaster,
    MovementType,
    OrderStatus,
    SalesOrderLine,
    StockMovement,
)
from models.production import BomLine, ProductionOrder, ProductionOrderStatus

ROUTES = {
    "tabItem": "erp.materials",
    "tabStock Ledger Entry": "erp.stock-movements",
    "tabSales Order": "erp.sales-orders",
    "tabSales Order Item": "erp.sales-orders",
    "tabPurchase Order": "erp.shipments",
    "tabPurchase Order Item": "erp.shipments",
    "tabBOM": "erp.boms",
    "tabBOM Item": "erp.boms",
    "tabWork Order": "erp.production-orders",
}
"""The input topic of each table's changes, as docs/connect-your-erp.md routes them."""

_COMPANY = "Stockloop Demo"
_VOUCHER_SERIES = {
    "Purchase Receipt": "MAT-PRE",
    "Delivery Note": "MAT-DN",
    "Stock Entry": "MAT-STE",
    "Stock Reconciliation": "MAT-RECO",
}
_WORK_ORDER_STATES = {
    ProductionOrderStatus.PLANNED: ("Draft", 0),
    ProductionOrderStatus.RELEASED: ("Not Started", 1),
    ProductionOrderStatus.CLOSED: ("Completed", 1),
    ProductionOrderStatus.CANCELLED: ("Cancelled", 2),
}


def _name(prefix: str, *parts: str) -> str:
    """A row's name derived from plain ids: a hash name, or a series prefix and that hash.

    The same in every run, so that two runs never name two ledger entries alike.
    """
    digest = f"{stable_number(*parts):010x}"
    return f"{prefix}-{digest}" if prefix else digest


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


class ErpnextShape(ErpShape):
    """ERPNext's tables written from plain events; each material's item is itself."""

    name = "erpnext"
    routes: ClassVar[Mapping[str, str]] = {
        topic_of(table): topic for table, topic in ROUTES.items()
    }

    def __init__(self, seed: int = 0) -> None:
        self.tables: ErpnextTables = ErpnextTables(random.Random(seed), datetime(1970, 1, 1))
        super().__init__(self.tables)
        self._items: dict[str, dict[str, Any]] = {}  # written by a master in this run
        self._sales: dict[str, dict[str, Any]] = {}
        self._sale_items: dict[tuple[str, str], dict[str, Any]] = {}
        self._purchase_items: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._boms: dict[str, dict[str, Any]] = {}
        self._bom_items: dict[tuple[str, str], dict[str, Any]] = {}
        self._work_orders: dict[str, dict[str, Any]] = {}
        self._bins: dict[tuple[str, str], Decimal] = {}

    def _begin(self) -> None:
        self.tables.begin()

    def _item(self, item_code: str) -> None:
        """An item named by an event: its row is written by its master only."""
        self.material_ids[item_code] = item_code

    def _master(self, master: MaterialMaster) -> None:
        values = {
            "item_name": master.name,
            "item_group": master.category or "All Item Groups",
            "stock_uom": master.unit,
            "disabled": 0 if master.active else 1,
            "valuation_rate": _decimal(master.unit_cost),
            "min_order_qty": _decimal(master.moq),
        }
        if master.material_id in self._items:
            self.tables.update("tabItem", self._items[master.material_id], **values)
        else:
            self.material_ids[master.material_id] = master.material_id
            self._items[master.material_id] = self.tables.insert(
                "tabItem",
                name=master.material_id,
                item_code=master.material_id,
                is_stock_item=1,
                **values,
            )

    # --- the stock ledger ----------------------------------------------------------------------

    def _movement(self, movement: StockMovement) -> None:
        self._item(movement.material_id)
        key = (movement.material_id, movement.warehouse_id)
        balance = self._bins.get(key, Decimal(0))
        quantity = abs(_decimal(movement.quantity))
        purchase = self._purchase_items.get(movement.po_line_id or "")
        match movement.movement_type:
            case MovementType.RECEIPT:
                voucher = "Purchase Receipt" if purchase else "Stock Entry"
                actual = quantity
            case MovementType.ISSUE:
                voucher = "Delivery Note" if movement.sales_order_id else "Stock Entry"
                actual = -quantity
            case MovementType.TRANSFER_OUT:
                voucher, actual = "Stock Entry", -quantity
            case MovementType.TRANSFER_IN:
                voucher, actual = "Stock Entry", quantity
            case MovementType.ADJUSTMENT:
                voucher, actual = "Stock Entry", _decimal(movement.quantity)
            case MovementType.CYCLE_COUNT:
                voucher, actual = "Stock Reconciliation", Decimal(0)
        after = balance + actual
        if movement.movement_type is MovementType.CYCLE_COUNT:
            after = _decimal(movement.quantity)
        self._bins[key] = after
        self.tables.post(
            _name("MAT-SLE", movement.event_id),
            (voucher, _name(_VOUCHER_SERIES[voucher], movement.event_id)),
            movement.material_id,
            movement.warehouse_id,
            (actual, after),
            self.tables.clock,
            _decimal(movement.unit_cost or 0),
            _COMPANY,
            batch_no=movement.batch_id,
        )
        if purchase is not None and movement.movement_type is MovementType.RECEIPT:
            _, item = purchase
            received = item["received_qty"] + quantity
            self.tables.update("tabPurchase Order Item", item, received_qty=received)

    # --- orders --------------------------------------------------------------------------------

    def _sale_line(self, line: SalesOrderLine) -> None:
        self._item(line.material_id)
        docstatus = {OrderStatus.OPEN: 0, OrderStatus.CANCELLED: 2}.get(line.status, 1)
        order = self._sales.get(line.order_id)
        if order is None:
            order = self._sales[line.order_id] = self.tables.insert(
                "tabSales Order",
                name=line.order_id,
                customer=line.customer_id or "Walk-in Customer",
                transaction_date=self.tables.clock.date(),
                delivery_date=line.due_date,
                set_warehouse=line.warehouse_id,
                status="Draft",
            )
        if order["docstatus"] != docstatus:
            status = {0: "Draft", 1: "To Deliver and Bill", 2: "Cancelled"}[docstatus]
            self.tables.update("tabSales Order", order, docstatus=docstatus, status=status)
        quantity, rate = _decimal(line.quantity), _decimal(line.unit_price)
        values = {
            "qty": quantity,
            "stock_qty": quantity,
            "delivered_qty": _decimal(line.shipped_quantity),
            "rate": rate,
            "base_rate": rate,
            "amount": quantity * rate,
            "warehouse": line.warehouse_id,
            "delivery_date": line.due_date,
        }
        key = (line.order_id, line.line_id)
        item = self._sale_items.get(key)
        if item is None:
            item = self._sale_items[key] = self.tables.insert(
                "tabSales Order Item",
                name=_name("", line.order_id, line.line_id),
                parent=line.order_id,
                parenttype="Sales Order",
                parentfield="items",
                idx=len(self._sale_items) + 1,
                item_code=line.material_id,
                uom="Nos",
                conversion_factor=Decimal(1),
                **values,
            )
        self.tables.update("tabSales Order Item", item, docstatus=docstatus, **values)

    def _purchase_line(self, line: InTransitLine) -> None:
        self._item(line.material_id)
        docstatus = 2 if line.status is InTransitStatus.CANCELLED else 1
        received = _decimal(line.received_quantity)
        if line.status is InTransitStatus.RECEIVED:
            received = max(received, _decimal(line.quantity))
        if line.line_id not in self._purchase_items:
            header = self.tables.insert(
                "tabPurchase Order",
                name=f"PUR-ORD-{line.line_id}",
                supplier=line.supplier_id,
                transaction_date=line.ordered_at.astimezone(UTC).date(),
                schedule_date=line.eta,
                set_warehouse=line.warehouse_id,
                status="Draft",
            )
            item = self.tables.insert(
                "tabPurchase Order Item",
                name=_name("", "purchase", line.line_id),
                parent=header["name"],
                parenttype="Purchase Order",
                parentfield="items",
                idx=1,
                item_code=line.material_id,
                qty=_decimal(line.quantity),
                uom="Nos",
                conversion_factor=Decimal(1),
                stock_qty=_decimal(line.quantity),
                received_qty=Decimal(0),
                rate=Decimal(0),
                warehouse=line.warehouse_id,
                schedule_date=line.eta,
                expected_delivery_date=None,
            )
            self._purchase_items[line.line_id] = (header, item)
        header, item = self._purchase_items[line.line_id]
        if header["docstatus"] != docstatus:
            status = "Cancelled" if docstatus == 2 else "To Receive and Bill"
            self.tables.update("tabPurchase Order", header, docstatus=docstatus, status=status)
        self.tables.update(
            "tabPurchase Order Item",
            item,
            docstatus=docstatus,
            qty=_decimal(line.quantity),
            stock_qty=_decimal(line.quantity),
            received_qty=received,
            schedule_date=line.eta,
        )

    # --- manufacturing -------------------------------------------------------------------------

    def _bom_line(self, line: BomLine) -> None:
        self._item(line.parent_id)
        self._item(line.component_id)
        bom = self._boms.get(line.parent_id)
        if bom is None:
            bom = self._boms[line.parent_id] = self.tables.insert(
                "tabBOM",
                name=f"BOM-{line.parent_id}-001",
                docstatus=1,
                item=line.parent_id,
                quantity=Decimal(1),
                uom="Nos",
                is_active=1,
                is_default=1,
                company=_COMPANY,
                amended_from=None,
            )
        quantity = _decimal(line.quantity_per)
        key = (line.parent_id, line.component_id)
        row = self._bom_items.get(key)
        if row is None:
            row = self._bom_items[key] = self.tables.insert(
                "tabBOM Item",
                name=_name("", line.parent_id, line.component_id),
                parent=bom["name"],
                parenttype="BOM",
                parentfield="items",
                idx=len(self._bom_items) + 1,
                item_code=line.component_id,
                qty=quantity,
                uom="Nos",
                conversion_factor=Decimal(1),
                stock_qty=quantity,
                stock_uom="Nos",
                bom_no=None,
            )
        docstatus = 2 if line.deleted else 1
        self.tables.update(
            "tabBOM Item", row, docstatus=docstatus, qty=quantity, stock_qty=quantity
        )

    def _production(self, order: ProductionOrder) -> None:
        self._item(order.material_id)
        status, docstatus = _WORK_ORDER_STATES[order.status]
        values = {
            "status": status,
            "docstatus": docstatus,
            "production_item": order.material_id,
            "qty": _decimal(order.quantity),
            "source_warehouse": order.warehouse_id,
            "fg_warehouse": order.warehouse_id,
            "planned_start_date": datetime.combine(order.need_date, time()),
        }
        row = self._work_orders.get(order.order_id)
        if row is None:
            bom = self._boms.get(order.material_id)
            self._work_orders[order.order_id] = self.tables.insert(
                "tabWork Order",
                name=order.order_id,
                bom_no=bom["name"] if bom else None,
                company=_COMPANY,
                produced_qty=Decimal(0),
                expected_delivery_date=None,
                stock_uom="Nos",
                **values,
            )
        else:
            self.tables.update("tabWork Order", row, **values)
