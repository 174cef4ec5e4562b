"""Material state: the stock position of one material in every warehouse.

``MaterialState.apply`` is the whole state machine. It takes one validated
event and returns what happened to it (applied or duplicate); it never reads
the wall clock, so replaying the same events gives the same state.

Quantities are floats rounded to micro-units (six decimals) after every
operation, so that sums of ERP quantities stay exact to the decimals an ERP
uses and float noise never turns into phantom stock.
"""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    OrderStatus,
    SalesOrderLine,
    StockMovement,
)

_OPEN_ORDER_STATUSES = {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}
_OPEN_SUPPLY_STATUSES = {InTransitStatus.ORDERED, InTransitStatus.SHIPPED}


def _q(quantity: float) -> float:
    """Round to micro-units; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    return round(quantity, 6) + 0.0


class Outcome(StrEnum):
    """What applying an event did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"


class Batch(BaseModel):
    """A receipt still (partly) on the shelf; issues consume batches first in, first out."""

    batch_id: str | None
    received_at: datetime
    quantity: float
    unit_cost: float

    def age_days(self, now: datetime) -> float:
        """Age of the batch at event time ``now``, in days."""
        return (now - self.received_at).total_seconds() / 86_400


class CommittedLine(BaseModel):
    """Committed demand: a confirmed sales order line not yet fully shipped."""

    order_id: str
    line_id: str
    quantity: float
    shipped_quantity: float
    due_date: date
    unit_price: float
    customer_id: str | None
    customer_priority: int

    @computed_field
    @property
    def open_quantity(self) -> float:
        """Quantity still to ship."""
        return _q(self.quantity - self.shipped_quantity)


class SupplyLine(BaseModel):
    """Open inbound supply: a PO line or ASN not yet fully received."""

    line_id: str
    supplier_id: str
    quantity: float
    received_quantity: float
    ordered_at: datetime
    eta: date

    @computed_field
    @property
    def open_quantity(self) -> float:
        """Quantity still to arrive."""
        return _q(max(self.quantity - self.received_quantity, 0.0))


class WarehouseStock(BaseModel):
    """Stock position of one material in one warehouse."""

    on_hand: float = 0.0
    batches: list[Batch] = Field(default_factory=list)
    committed_lines: dict[str, CommittedLine] = Field(default_factory=dict)
    supply_lines: dict[str, SupplyLine] = Field(default_factory=dict)
    last_issue_at: datetime | None = None
    last_receipt_at: datetime | None = None

    @computed_field
    @property
    def committed(self) -> float:
        """Open quantity of confirmed order lines."""
        return _q(sum(line.open_quantity for line in self.committed_lines.values()))

    @computed_field
    @property
    def in_transit(self) -> float:
        """Open quantity of inbound supply."""
        return _q(sum(line.open_quantity for line in self.supply_lines.values()))

    @computed_field
    @property
    def available(self) -> float:
        """On hand minus committed demand; negative means orders exceed stock."""
        return _q(self.on_hand - self.committed)

    @computed_field
    @property
    def inventory_value(self) -> float:
        """Value of the batches on the shelf at their receipt cost."""
        return round(sum(b.quantity * b.unit_cost for b in self.batches), 2) + 0.0

    def receive(
        self, quantity: float, at: datetime, batch_id: str | None, unit_cost: float
    ) -> None:
        """Put ``quantity`` on the shelf as a new batch; it first covers any negative stock."""
        shelved = _q(quantity - min(quantity, max(-self.on_hand, 0.0)))
        self.on_hand = _q(self.on_hand + quantity)
        if shelved > 0:
            self.batches.append(
                Batch(batch_id=batch_id, received_at=at, quantity=shelved, unit_cost=unit_cost)
            )

    def issue(self, quantity: float) -> None:
        """Take ``quantity`` off the shelf, oldest batches first.

        An ERP may allow negative stock; on hand then goes below zero while
        the batches simply run out.
        """
        self.on_hand = _q(self.on_hand - quantity)
        remaining = quantity
        while remaining > 0 and self.batches:
            oldest = self.batches[0]
            taken = min(oldest.quantity, remaining)
            oldest.quantity = _q(oldest.quantity - taken)
            remaining = _q(remaining - taken)
            if oldest.quantity <= 0:
                self.batches.pop(0)


class MaterialState(BaseModel):
    """Everything stockloop knows about one material, across warehouses."""

    material_id: str
    master: MaterialMaster | None = None
    warehouses: dict[str, WarehouseStock] = Field(default_factory=dict)
    source_offsets: dict[str, int] = Field(
        default_factory=dict,
        description="Highest applied offset per source topic-partition: exact redelivery check.",
    )
    recent_event_ids: list[str] = Field(
        default_factory=list,
        description="Bounded memory of recent event ids: catches an ERP sending an event twice.",
    )
    events_applied: int = 0
    last_event_time: datetime | None = None

    @computed_field
    @property
    def on_hand(self) -> float:
        """On hand over all warehouses."""
        return _q(sum(w.on_hand for w in self.warehouses.values()))

    @computed_field
    @property
    def available(self) -> float:
        """Available over all warehouses."""
        return _q(sum(w.available for w in self.warehouses.values()))

    def apply(self, envelope: MaterialEvent, dedup_window: int = 64) -> Outcome:
        """Apply one event unless it was seen before.

        Two checks make redelivery a no-op: the source offset (exact for a
        record read twice after a crash) and a bounded window of recent event
        ids (for an ERP that sends the same event twice).
        """
        event = envelope.event
        if event.material_id != self.material_id:
            raise ValueError(f"event for {event.material_id} applied to {self.material_id}")
        source = envelope.source
        position = f"{source.topic}:{source.partition}" if source else None
        if position is not None and source.offset <= self.source_offsets.get(position, -1):
            return Outcome.DUPLICATE
        if event.event_id in self.recent_event_ids:
            return Outcome.DUPLICATE

        match event:
            case MaterialMaster():
                self.master = event
            case StockMovement():
                self._apply_movement(event)
            case SalesOrderLine():
                self._apply_order_line(event)
            case InTransitLine():
                self._apply_supply_line(event)

        if position is not None:
            self.source_offsets[position] = source.offset
        if dedup_window:
            self.recent_event_ids.append(event.event_id)
            del self.recent_event_ids[:-dedup_window]
        self.events_applied += 1
        if self.last_event_time is None or event.event_time > self.last_event_time:
            self.last_event_time = event.event_time
        return Outcome.APPLIED

    def _warehouse(self, warehouse_id: str) -> WarehouseStock:
        return self.warehouses.setdefault(warehouse_id, WarehouseStock())

    def _unit_cost(self, movement: StockMovement) -> float:
        if movement.unit_cost is not None:
            return movement.unit_cost
        return self.master.unit_cost if self.master else 0.0

    def _apply_movement(self, movement: StockMovement) -> None:
        stock = self._warehouse(movement.warehouse_id)
        at = movement.event_time
        quantity = abs(movement.quantity)
        match movement.movement_type:
            case MovementType.RECEIPT | MovementType.TRANSFER_IN:
                stock.receive(quantity, at, movement.batch_id, self._unit_cost(movement))
                stock.last_receipt_at = at
                if movement.po_line_id in stock.supply_lines:
                    self._receive_against(stock, movement.po_line_id, quantity)
            case MovementType.ISSUE:
                stock.issue(quantity)
                stock.last_issue_at = at
            case MovementType.TRANSFER_OUT:
                stock.issue(quantity)
            case MovementType.ADJUSTMENT | MovementType.CYCLE_COUNT:
                delta = (
                    movement.quantity
                    if movement.movement_type is MovementType.ADJUSTMENT
                    else _q(movement.quantity - stock.on_hand)
                )
                if delta > 0:
                    stock.receive(delta, at, movement.batch_id, self._unit_cost(movement))
                elif delta < 0:
                    stock.issue(-delta)

    @staticmethod
    def _receive_against(stock: WarehouseStock, line_id: str, quantity: float) -> None:
        """A receipt against a PO line or ASN: that much is no longer in transit."""
        line = stock.supply_lines[line_id]
        line.received_quantity = _q(line.received_quantity + quantity)
        if line.open_quantity <= 0:
            del stock.supply_lines[line_id]

    def _apply_order_line(self, line: SalesOrderLine) -> None:
        """Replace the previous version of the line; only open confirmed quantity is committed."""
        key = f"{line.order_id}/{line.line_id}"
        for stock in self.warehouses.values():
            stock.committed_lines.pop(key, None)
        if line.status in _OPEN_ORDER_STATUSES and line.shipped_quantity < line.quantity:
            self._warehouse(line.warehouse_id).committed_lines[key] = CommittedLine(
                order_id=line.order_id,
                line_id=line.line_id,
                quantity=line.quantity,
                shipped_quantity=line.shipped_quantity,
                due_date=line.due_date,
                unit_price=line.unit_price,
                customer_id=line.customer_id,
                customer_priority=line.customer_priority,
            )

    def _apply_supply_line(self, line: InTransitLine) -> None:
        """Replace the previous version; receipts already booked against it still count."""
        previous = None
        for stock in self.warehouses.values():
            previous = stock.supply_lines.pop(line.line_id, None) or previous
        received = max(line.received_quantity, previous.received_quantity if previous else 0.0)
        if line.status in _OPEN_SUPPLY_STATUSES and received < line.quantity:
            self._warehouse(line.warehouse_id).supply_lines[line.line_id] = SupplyLine(
                line_id=line.line_id,
                supplier_id=line.supplier_id,
                quantity=line.quantity,
                received_quantity=received,
                ordered_at=line.ordered_at,
                eta=line.eta,
            )
