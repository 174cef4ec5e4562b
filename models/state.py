"""Material state: the stock position of one material in every warehouse.

``MaterialState.apply`` is the whole state machine. It takes one validated
event and returns what happened to it (applied or duplicate); it never reads
the wall clock, so replaying the same events gives the same state.

Quantities are floats rounded to micro-units (six decimals) after every
operation, so that sums of ERP quantities stay exact to the decimals an ERP
uses and float noise never turns into phantom stock.
"""

import operator
from collections.abc import Collection, Iterable
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from models.alerts import AlertBook
from models.demand import DailyDemand
from models.events import (
    EventTime,
    InputEvent,
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    OrderStatus,
    PromotionEvent,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
)
from models.lead_time import LeadTimeStats
from models.planning import DemandSource, PlanningConfig, PolicySnapshot, Promotion, plan
from models.replenishment import RequestBook, TransferBook
from models.reviewing import ReviewBook
from models.stock_flow import StockFlow, cents

DEFAULT_CONFIG = PlanningConfig()

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
    received_at: EventTime
    quantity: float
    unit_cost: float

    def age_days(self, now: datetime) -> float:
        """Age of the batch at event time ``now``, in days."""
        return (now - self.received_at).total_seconds() / 86_400


class CommittedLine(BaseModel):
    """Committed demand: a confirmed sales order line not yet fully shipped.

    Its contract's penalties (``SalesOrderLine``) are stored only when set,
    so lines without any keep the stored state as small as before.
    """

    order_id: str
    line_id: str
    quantity: float
    shipped_quantity: float
    due_date: date
    unit_price: float
    customer_id: str | None
    customer_priority: int
    penalty_per_day_late: float = Field(0.0, exclude_if=operator.not_)
    penalty_per_unit_short: float = Field(0.0, exclude_if=operator.not_)

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
    ordered_at: EventTime
    eta: date

    @computed_field
    @property
    def open_quantity(self) -> float:
        """Quantity still to arrive."""
        return _q(max(self.quantity - self.received_quantity, 0.0))


class EarlyReceipt(BaseModel):
    """Goods received against a PO line whose own record has not arrived yet."""

    quantity: float
    first_received_at: EventTime


MAX_EARLY_RECEIPTS = 256
"""Receipts against lines that never show up are forgotten, oldest first, beyond this."""


class WarehouseStock(BaseModel):
    """Stock position of one material in one warehouse."""

    on_hand: float = 0.0
    batches: list[Batch] = Field(default_factory=list)
    committed_lines: dict[str, CommittedLine] = Field(default_factory=dict)
    supply_lines: dict[str, SupplyLine] = Field(default_factory=dict)
    last_issue_at: EventTime | None = None
    last_receipt_at: EventTime | None = None
    demand: DailyDemand = Field(default_factory=DailyDemand)
    policy: PolicySnapshot | None = None
    flow: StockFlow = Field(
        default_factory=StockFlow,
        description="Issued, held and short value of the last days (turnover, fill rate).",
    )

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

    def committed_by_day(self) -> dict[date, float]:
        """Open order quantity by due date."""
        by_day: dict[date, float] = {}
        for line in self.committed_lines.values():
            by_day[line.due_date] = by_day.get(line.due_date, 0.0) + line.open_quantity
        return by_day

    def receipts_by_day(self) -> dict[date, float]:
        """Open inbound quantity by ETA."""
        by_day: dict[date, float] = {}
        for line in self.supply_lines.values():
            by_day[line.eta] = by_day.get(line.eta, 0.0) + line.open_quantity
        return by_day

    def ship_against(self, key: str, quantity: float) -> None:
        """A goods issue for a committed order line: that much is no longer committed."""
        line = self.committed_lines.get(key)
        if line is None:
            return
        line.shipped_quantity = _q(min(line.shipped_quantity + quantity, line.quantity))
        if line.open_quantity <= 0:
            del self.committed_lines[key]

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

    def issue(self, quantity: float) -> float:
        """Take ``quantity`` off the shelf, oldest batches first; the value taken (FIFO cost).

        An ERP may allow negative stock; on hand then goes below zero while
        the batches simply run out.
        """
        self.on_hand = _q(self.on_hand - quantity)
        remaining = quantity
        cost = 0.0
        while remaining > 0 and self.batches:
            oldest = self.batches[0]
            taken = min(oldest.quantity, remaining)
            cost += taken * oldest.unit_cost
            oldest.quantity = _q(oldest.quantity - taken)
            remaining = _q(remaining - taken)
            if oldest.quantity <= 0:
                self.batches.pop(0)
        return cost

    def roll_flow(self, today: date) -> None:
        """Close the flow's days before ``today`` at the stock as it stands (before a change).

        A day closing with nothing on hand is out only if the stock had
        demand to serve: a forecast or open orders.
        """
        expected = (self.policy is not None and self.policy.daily_demand > 0) or bool(
            self.committed_lines
        )
        self.flow.roll_to(today, cents(self.inventory_value), self.on_hand <= 0 and expected)


class Outgoing(BaseModel):
    """An output record of this material not yet known to be on its topic.

    The state and the outputs go to different topics, so a crash can keep
    the one and lose the other; the input is then not read again (the state
    says it was applied) and the output would be lost for good. So the
    worker keeps each output here with the offset of the input record that
    caused it, sends the outputs again when it takes over the material's
    partition, and drops them once the broker has acknowledged them, or once
    that offset is committed (Faust flushes every send before it commits).
    At least once: consumers deduplicate by id.
    """

    offset: int = Field(description="Offset on stockloop.material-events of the cause.")
    topic: str = Field(description="Output topic, without the prefix.")
    key: str
    value: str = Field(description="The record as JSON text.")

    @property
    def identity(self) -> tuple[int, str, str, str]:
        """What tells this record from every other output of the material."""
        return (self.offset, self.topic, self.key, self.value)


def still_outgoing(
    outbox: list[Outgoing],
    new: list[Outgoing],
    committed: int | None,
    latest_only: Collection[str],
    acknowledged: Collection[tuple[int, str, str, str]] = frozenset(),
) -> list[Outgoing]:
    """The outbox after a step: what is not known to be delivered, then the step's outputs.

    An output the broker has acknowledged (``acknowledged``: identities) or
    whose cause is committed (``committed``: the first offset not yet
    committed, None if none is) is on its topic. Acknowledgements keep the
    outbox as small as the sends in flight when commits fail for a while
    (a group rebalancing again and again under load): kept until a commit,
    it grew with every output and the state outgrew the largest record
    Kafka takes. On a ``latest_only`` topic a record replaces the previous
    one of its key (a material's availability), so an older one the step
    supersedes is not kept either.

    >>> out = lambda offset, topic, key: Outgoing(offset=offset, topic=topic, key=key, value="{}")
    >>> kept = [out(5, "availability", "M1"), out(6, "alerts", "a1"), out(3, "alerts", "a0")]
    >>> after = still_outgoing(kept, [out(7, "availability", "M1")], 4, {"availability"})
    >>> [(o.offset, o.topic) for o in after]
    [(6, 'alerts'), (7, 'availability')]
    >>> [o.offset for o in still_outgoing(kept, [], None, (), {kept[1].identity})]
    [5, 3]
    """
    replaced = {(o.topic, o.key) for o in new if o.topic in latest_only}
    return [
        o
        for o in outbox
        if (committed is None or o.offset >= committed)
        and (o.topic, o.key) not in replaced
        and o.identity not in acknowledged
    ] + new


class MaterialState(BaseModel):
    """Everything stockloop knows about one material, across warehouses."""

    material_id: str
    master: MaterialMaster | None = None
    warehouses: dict[str, WarehouseStock] = Field(default_factory=dict)
    lead_times: dict[str, LeadTimeStats] = Field(
        default_factory=dict, description="Lead-time statistics per supplier, from receipts."
    )
    promotions: dict[str, Promotion] = Field(
        default_factory=dict, description="Promotions planned for this material, by id."
    )
    early_receipts: dict[str, EarlyReceipt] = Field(
        default_factory=dict,
        description="Receipts against PO lines not seen yet (topics interleave), by line id.",
    )
    source_offsets: dict[str, int] = Field(
        default_factory=dict,
        description="Highest applied offset per source topic-partition: exact redelivery check.",
    )
    pending: list[MaterialEvent] = Field(
        default_factory=list,
        description="Events received but not applied yet, in event-time order: they wait until "
        "every input has passed their time (models.step).",
    )
    events_applied: int = 0
    last_event_time: EventTime | None = None
    applied_through: EventTime | None = Field(
        None, description="Event time of the last event applied or midnight ticked."
    )
    _touched: tuple[str, ...] = PrivateAttr(default=())
    alerts: AlertBook = Field(
        default_factory=lambda data: AlertBook(material_id=data["material_id"]),
        description="Open and pending alerts of this material.",
    )
    requests: RequestBook = Field(
        default_factory=RequestBook, description="Open purchase requests of this material."
    )
    transfers: TransferBook = Field(
        default_factory=TransferBook, description="Open transfers between its warehouses."
    )
    reviews: ReviewBook = Field(
        default_factory=ReviewBook, description="Dead-stock reviews waiting for a decision."
    )
    outbox: list[Outgoing] = Field(
        default_factory=list,
        description="Outputs sent since the last committed input offset (see Outgoing).",
    )

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

    @property
    def touched_warehouses(self) -> tuple[str, ...]:
        """Warehouses whose plan the last ``apply`` or ``replan`` brought up to date."""
        return self._touched

    def touch(self, warehouses: Iterable[str]) -> None:
        """Name the warehouses the next rule evaluation covers (all that an instant touched)."""
        self._touched = tuple(warehouses)

    @property
    def late_demand_events(self) -> int:
        """Demand that arrived after its day had closed: it moved stock, not the forecast."""
        return sum(w.demand.late_events for w in self.warehouses.values())

    def apply(
        self,
        envelope: MaterialEvent,
        config: PlanningConfig = DEFAULT_CONFIG,
        category_promotions: Iterable[Promotion] = (),
    ) -> Outcome:
        """Apply one event now, unless its record was read before; then bring the plan up to date.

        This applies in arrival order; ``models.step`` receives events into
        ``pending`` and applies them in event-time order, with exact
        de-duplication by event id.
        """
        if not self.accept(envelope):
            return Outcome.DUPLICATE
        self.apply_event(envelope.event, config, category_promotions)
        return Outcome.APPLIED

    def accept(self, envelope: MaterialEvent, delivery: SourcePosition | None = None) -> bool:
        """Note the record's source offset; False if that record was read before.

        Exact for a record read twice after a crash: offsets of one input
        partition only grow. An event without a source (one of several a
        record made, or a change released after its reference row came) is
        noted by ``delivery``, its own record on material-events, whose
        offsets for one material only grow as well.
        """
        if envelope.event.material_id != self.material_id:
            raise ValueError(
                f"event for {envelope.event.material_id} applied to {self.material_id}"
            )
        source = envelope.source or delivery
        if source is None:
            return True
        position = f"{source.topic}:{source.partition}"
        if source.offset <= self.source_offsets.get(position, -1):
            return False
        self.source_offsets[position] = source.offset
        return True

    def apply_event(
        self,
        event: InputEvent,
        config: PlanningConfig = DEFAULT_CONFIG,
        category_promotions: Iterable[Promotion] = (),
    ) -> None:
        """Apply one event to the stock position and bring the touched plans up to date."""
        match event:
            case MaterialMaster():
                self.master = event
                touched = None
            case StockMovement():
                self._apply_movement(event, config)
                touched = {event.warehouse_id}
            case SalesOrderLine():
                touched = self._apply_order_line(event, config)
            case InTransitLine():
                touched = self._apply_supply_line(event, config)
            case PromotionEvent():
                self._apply_promotion(event)
                touched = None

        self.events_applied += 1
        if self.last_event_time is None or event.event_time > self.last_event_time:
            self.last_event_time = event.event_time
        self.replan(self.last_event_time, config, category_promotions, touched)

    def replan(
        self,
        now: datetime,
        config: PlanningConfig = DEFAULT_CONFIG,
        category_promotions: Iterable[Promotion] = (),
        warehouses: Collection[str] | None = None,
    ) -> None:
        """Close demand days up to event time ``now`` and recompute the policy.

        ``warehouses`` limits the work to the stocks an event touched (None:
        all, as for a tick or a master change); ``touched_warehouses`` then
        tells the caller which ones to evaluate rules for.
        """
        today = now.date()
        self._touched = tuple(self.warehouses if warehouses is None else warehouses)
        promotions = [
            p for p in (*self.promotions.values(), *category_promotions) if p.ends_on >= today
        ]
        self.promotions = {k: p for k, p in self.promotions.items() if p.ends_on >= today}
        supplier_id = self._planning_supplier()
        lead_time = self.lead_times.get(supplier_id, LeadTimeStats()) if supplier_id else None
        for warehouse_id in self._touched:
            stock = self.warehouses[warehouse_id]
            stock.roll_flow(today)
            stock.demand.advance(today, config.grace_days)
            # A line ordered after today (its ERP dates disagree) has no age yet.
            overdue = [
                age
                for line in stock.supply_lines.values()
                if line.eta < today
                and line.supplier_id == supplier_id
                and (age := (today - line.ordered_at.date()).days) >= 0
            ]
            stock.policy = plan(
                today=today,
                on_hand=stock.on_hand,
                available=stock.available,
                forecaster=stock.demand.forecaster,
                first_forecast_day=stock.demand.next_day_to_learn(today),
                committed_by_day=stock.committed_by_day(),
                receipts_by_day=stock.receipts_by_day(),
                supplier_id=supplier_id,
                lead_time=lead_time or LeadTimeStats(),
                overdue_ages=overdue,
                master=self.master,
                promotions=promotions,
                config=config,
                demand_today=stock.demand.open_days.get(today, 0.0),
            )

    def _planning_supplier(self) -> str | None:
        """The preferred supplier, else whoever supplied most recently."""
        if self.master and self.master.preferred_supplier:
            return self.master.preferred_supplier
        lines = [line for s in self.warehouses.values() for line in s.supply_lines.values()]
        if lines:
            return max(lines, key=lambda line: line.ordered_at).supplier_id
        return next(reversed(self.lead_times), None) if self.lead_times else None

    def _warehouse(self, warehouse_id: str, at: datetime, config: PlanningConfig) -> WarehouseStock:
        """The stock of a warehouse; a new one starts its forecast from the category profile."""
        stock = self.warehouses.get(warehouse_id)
        if stock is None:
            category = self.master.category if self.master else None
            profile = config.category_profiles.get(category) if category else None
            demand = DailyDemand(forecaster=profile.new_forecaster()) if profile else DailyDemand()
            stock = self.warehouses[warehouse_id] = WarehouseStock(demand=demand)
        stock.demand.start(at.date())
        stock.roll_flow(at.date())
        return stock

    def _unit_cost(self, movement: StockMovement) -> float:
        if movement.unit_cost is not None:
            return movement.unit_cost
        return self.master.unit_cost if self.master else 0.0

    def _apply_movement(self, movement: StockMovement, config: PlanningConfig) -> None:
        at = movement.event_time
        stock = self._warehouse(movement.warehouse_id, at, config)
        quantity = abs(movement.quantity)
        match movement.movement_type:
            case MovementType.RECEIPT | MovementType.TRANSFER_IN:
                stock.receive(quantity, at, movement.batch_id, self._unit_cost(movement))
                stock.last_receipt_at = at
                if movement.po_line_id in stock.supply_lines:
                    self._receive_against(stock, movement.po_line_id, quantity, at)
                elif movement.po_line_id is not None:
                    self._remember_early_receipt(movement.po_line_id, quantity, at)
            case MovementType.ISSUE | MovementType.TRANSFER_OUT:
                held = max(stock.on_hand, 0.0)
                cost = stock.issue(quantity)
                if movement.movement_type is MovementType.ISSUE:
                    filled = min(quantity, held)
                    price = self._unit_cost(movement) or (cost / filled if filled > 0 else 0.0)
                    stock.flow.add_issue(cents(cost), cents((quantity - filled) * price))
                    stock.last_issue_at = at
                    if movement.sales_order_id and movement.sales_order_line_id:
                        key = f"{movement.sales_order_id}/{movement.sales_order_line_id}"
                        stock.ship_against(key, quantity)
                if DemandSource(movement.movement_type.value) in config.demand_sources:
                    self._record_demand(stock, at.date(), quantity)
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
    def _record_demand(stock: WarehouseStock, day: date, quantity: float) -> None:
        """Demand for the forecast, and for the flow's demand history if its day is still open."""
        if stock.demand.record(day, quantity):
            stock.flow.add_demand(day, quantity)

    def _receive_against(
        self, stock: WarehouseStock, line_id: str, quantity: float, at: datetime
    ) -> None:
        """A receipt against a PO line or ASN: less in transit; the first one times the supplier."""
        line = stock.supply_lines[line_id]
        if line.received_quantity == 0:
            self._learn_lead_time(line, at)
        line.received_quantity = _q(line.received_quantity + quantity)
        if line.open_quantity <= 0:
            del stock.supply_lines[line_id]

    def _remember_early_receipt(self, line_id: str, quantity: float, at: datetime) -> None:
        """Keep a receipt for a line not seen yet: movements and PO lines travel on
        different topics, so the receipt can overtake its own PO line."""
        early = self.early_receipts.get(line_id)
        if early is None:
            self.early_receipts[line_id] = EarlyReceipt(quantity=quantity, first_received_at=at)
            while len(self.early_receipts) > MAX_EARLY_RECEIPTS:
                del self.early_receipts[next(iter(self.early_receipts))]
        else:
            early.quantity = _q(early.quantity + quantity)

    def _learn_lead_time(self, line: SupplyLine | InTransitLine, received_at: datetime) -> None:
        days = (received_at - line.ordered_at).total_seconds() / 86_400
        if days >= 0:
            stats = self.lead_times.setdefault(line.supplier_id, LeadTimeStats())
            stats.learn_one(days, received_at.date())

    def _apply_order_line(self, line: SalesOrderLine, config: PlanningConfig) -> set[str]:
        """Replace the previous version of the line; only open confirmed quantity is committed."""
        key = f"{line.order_id}/{line.line_id}"
        previous = None
        touched = {line.warehouse_id}
        for warehouse_id, stock in self.warehouses.items():
            if (popped := stock.committed_lines.pop(key, None)) is not None:
                previous = popped
                touched.add(warehouse_id)
        stock = self._warehouse(line.warehouse_id, line.event_time, config)
        shipped_now = line.shipped_quantity - (previous.shipped_quantity if previous else 0.0)
        if DemandSource.SHIPMENT in config.demand_sources and shipped_now > 0:
            self._record_demand(stock, line.event_time.date(), _q(shipped_now))
        if line.status in _OPEN_ORDER_STATUSES and line.shipped_quantity < line.quantity:
            stock.committed_lines[key] = CommittedLine(
                order_id=line.order_id,
                line_id=line.line_id,
                quantity=line.quantity,
                shipped_quantity=line.shipped_quantity,
                due_date=line.due_date,
                unit_price=line.unit_price,
                customer_id=line.customer_id,
                customer_priority=line.customer_priority,
                penalty_per_day_late=line.penalty_per_day_late,
                penalty_per_unit_short=line.penalty_per_unit_short,
            )
        return touched

    def _apply_supply_line(self, line: InTransitLine, config: PlanningConfig) -> set[str]:
        """Replace the previous version; receipts already booked against it still count."""
        previous = None
        touched = {line.warehouse_id}
        for warehouse_id, stock in self.warehouses.items():
            if (popped := stock.supply_lines.pop(line.line_id, None)) is not None:
                previous = popped
                touched.add(warehouse_id)
        early = self.early_receipts.pop(line.line_id, None)
        received = max(
            line.received_quantity,
            previous.received_quantity if previous else 0.0,
            early.quantity if early else 0.0,
        )
        if early is not None:
            self._learn_lead_time(line, early.first_received_at)
        elif previous is not None and previous.received_quantity == 0 and received > 0:
            self._learn_lead_time(previous, line.event_time)
        stock = self._warehouse(line.warehouse_id, line.event_time, config)
        if line.status in _OPEN_SUPPLY_STATUSES and received < line.quantity:
            stock.supply_lines[line.line_id] = SupplyLine(
                line_id=line.line_id,
                supplier_id=line.supplier_id,
                quantity=line.quantity,
                received_quantity=received,
                ordered_at=line.ordered_at,
                eta=line.eta,
            )
        return touched

    def _apply_promotion(self, promotion: PromotionEvent) -> None:
        if promotion.cancelled:
            self.promotions.pop(promotion.promotion_id, None)
            return
        self.promotions[promotion.promotion_id] = Promotion(
            promotion_id=promotion.promotion_id,
            starts_on=promotion.starts_on,
            ends_on=promotion.ends_on,
            uplift=promotion.uplift,
        )
