"""Stock ledger of one material under one policy, and the service it gave: the backtest's yardstick.

A backtest runs several policies over the same demand; each keeps its own
``Ledger`` of what it did to the shelf. The ledger applies stock movements
and supply lines in event time and, for the test window only, counts what a
planner judges a policy by: fill rate, cycle service level, stock-out days,
backordered quantity, stock held and what is left dead at the end.

Demand comes two ways. An issue is demand when it is posted. A confirmed
sales order line is demand on its due date, for its whole quantity
(``OrderDemand``), whenever the ERP shipped it: a line shipped late was not
served on time, which its deliveries' dates alone would hide; its
deliveries then move no stock here (the demand did). Demand that finds the
shelf short is backordered: on hand goes below zero (as an ERP allowing
negative stock posts it, and as ``models.state`` keeps it) and the next
receipt covers it first; except a line the ERP closed short (shipped short
or cancelled), whose missing part was lost. So, in every warehouse,
``opening + receipts - filled - backordered (+ other moves) = closing`` with
nothing lost, and a negative closing is the backlog still owed.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from models.events import InTransitLine, InTransitStatus, MovementType, StockMovement

DEAD_DAYS = 90
"""Stock in a warehouse that issued nothing for this long at the end is dead (built-in rule)."""
DAYS_PER_MONTH = 365.25 / 12

_OPEN_SUPPLY = {InTransitStatus.ORDERED, InTransitStatus.SHIPPED}


@dataclass(frozen=True)
class OrderDemand:
    """A confirmed sales order line falling due: its quantity, wanted from the shelf then.

    ``lost``: the ERP closed the line short, so what the shelf lacked was lost,
    not backordered. ``order_key`` ('order/line') names the line, whose
    deliveries the ledger then leaves alone.
    """

    event_time: datetime
    warehouse_id: str
    quantity: float
    order_key: str
    lost: bool = False


@dataclass
class StockOut:
    """A stretch in one warehouse from the first demand the shelf could not fill to the receipt
    that put stock back on it (``ended`` None: still out at the end)."""

    warehouse_id: str
    started: datetime
    ended: datetime | None = None


@dataclass
class WarehouseLedger:
    """One warehouse's shelf under one policy; the counters cover the test window only."""

    on_hand: float = 0.0
    open_supply: dict[str, float] = field(default_factory=dict)
    opening: float = 0.0
    receipts: float = 0.0
    other_moves: float = 0.0
    demand: float = 0.0
    filled: float = 0.0
    cycles: int = 0
    short_cycles: int = 0
    stockout_days: int = 0
    daily_on_hand: list[float] = field(default_factory=list)
    last_demand_at: datetime | None = None
    _short_today: bool = False
    _cycle_short: bool = False
    _out: StockOut | None = None

    @property
    def position(self) -> float:
        """On hand plus open supply: what an ERP's min/max run compares with its minimum."""
        return self.on_hand + sum(self.open_supply.values())

    @property
    def backordered(self) -> float:
        """Demand the shelf could not fill when it came: backordered, or lost."""
        return round(self.demand - self.filled, 6)


DayEnd = Callable[[date, str, WarehouseLedger], None]
"""Called after each day closes, per warehouse: a nightly planning run."""


class Ledger:
    """Every warehouse's shelf of one material under one policy, kept in event time.

    Feed it events in event-time order (``apply``); it closes each day as time
    passes it, calling ``on_day_end(day, warehouse_id, stock)`` after closing,
    which is when a static policy's nightly run looks at the position.
    """

    def __init__(self, window_start: datetime, order_keys: frozenset[str] = frozenset()) -> None:
        self.window_start = window_start
        self.order_keys = order_keys
        """Order lines whose demand comes as ``OrderDemand``: their deliveries move nothing."""
        self.warehouses: dict[str, WarehouseLedger] = {}
        self.stockouts: list[StockOut] = []
        self.day: date | None = None
        self.in_window = False

    def stock(self, warehouse_id: str) -> WarehouseLedger:
        """A warehouse's shelf; a new one starts empty (with a cycle if the window is open)."""
        stock = self.warehouses.get(warehouse_id)
        if stock is None:
            stock = self.warehouses[warehouse_id] = WarehouseLedger()
            if self.in_window:
                stock.cycles = 1
        return stock

    def roll_to(self, moment: datetime, on_day_end: DayEnd | None = None) -> None:
        """Close every day before ``moment``'s day; open the window when ``moment`` reaches it."""
        if self.day is None:
            self.day = moment.date()
        if not self.in_window and moment >= self.window_start:
            self._open_window()
        while self.day < moment.date():
            self._close_day(self.day)
            if on_day_end is not None:
                for warehouse_id in sorted(self.warehouses):
                    on_day_end(self.day, warehouse_id, self.warehouses[warehouse_id])
            self.day += timedelta(days=1)

    def apply(self, event: object) -> None:
        """Take one stock movement or supply line onto the shelf; other events move no stock."""
        if isinstance(event, StockMovement):
            self._move(event)
        elif isinstance(event, OrderDemand):
            if event.lost:
                self.lose(event.warehouse_id, event.quantity, event.event_time)
            else:
                self.issue(event.warehouse_id, event.quantity, event.event_time)
        elif isinstance(event, InTransitLine):
            stock = self.stock(event.warehouse_id)
            open_quantity = event.quantity - event.received_quantity
            if event.status in _OPEN_SUPPLY and open_quantity > 0:
                stock.open_supply[event.line_id] = open_quantity
            else:
                stock.open_supply.pop(event.line_id, None)

    def receive(
        self, warehouse_id: str, quantity: float, at: datetime, line_id: str | None
    ) -> None:
        """Goods in: they cover the backlog first, end a stock-out, and start a new cycle."""
        stock = self.stock(warehouse_id)
        if line_id is not None and line_id in stock.open_supply:
            left = stock.open_supply[line_id] - quantity
            if left > 1e-9:
                stock.open_supply[line_id] = left
            else:
                del stock.open_supply[line_id]
        stock.on_hand = round(stock.on_hand + quantity, 6)
        if self.in_window:
            stock.receipts += quantity
            stock.cycles += 1
            stock._cycle_short = False
        if stock._out is not None and stock.on_hand > 0:
            stock._out.ended = at
            stock._out = None

    def issue(self, warehouse_id: str, quantity: float, at: datetime) -> None:
        """Demand: filled from what is on the shelf, the rest backordered (on hand below zero)."""
        self._demand(warehouse_id, quantity, at, backordered=True)

    def lose(self, warehouse_id: str, quantity: float, at: datetime) -> None:
        """Demand that does not wait: served from what is on the shelf, the rest lost."""
        self._demand(warehouse_id, quantity, at, backordered=False)

    def _demand(self, warehouse_id: str, quantity: float, at: datetime, backordered: bool) -> None:
        stock = self.stock(warehouse_id)
        filled = min(quantity, max(stock.on_hand, 0.0))
        stock.on_hand = round(stock.on_hand - (quantity if backordered else filled), 6)
        if not self.in_window:
            return
        stock.demand += quantity
        stock.filled += filled
        stock.last_demand_at = at
        if filled < quantity:
            self._short(stock, warehouse_id, at)

    def _short(self, stock: WarehouseLedger, warehouse_id: str, at: datetime) -> None:
        stock._short_today = True
        if not stock._cycle_short:
            stock._cycle_short = True
            stock.short_cycles += 1
        if stock._out is None:
            stock._out = StockOut(warehouse_id=warehouse_id, started=at)
            self.stockouts.append(stock._out)

    def _move(self, movement: StockMovement) -> None:
        quantity = abs(movement.quantity)
        at = movement.event_time
        match movement.movement_type:
            case MovementType.RECEIPT:
                self.receive(movement.warehouse_id, quantity, at, movement.po_line_id)
            case MovementType.ISSUE:
                key = f"{movement.sales_order_id}/{movement.sales_order_line_id}"
                if key not in self.order_keys:
                    self.issue(movement.warehouse_id, quantity, at)
            case _:
                stock = self.stock(movement.warehouse_id)
                delta = {
                    MovementType.TRANSFER_IN: quantity,
                    MovementType.TRANSFER_OUT: -quantity,
                    MovementType.ADJUSTMENT: movement.quantity,
                }.get(movement.movement_type, movement.quantity - stock.on_hand)
                stock.on_hand = round(stock.on_hand + delta, 6)
                if self.in_window:
                    stock.other_moves += delta
                if stock._out is not None and stock.on_hand > 0:
                    stock._out.ended = at
                    stock._out = None

    def _open_window(self) -> None:
        self.in_window = True
        for stock in self.warehouses.values():
            stock.opening = stock.on_hand
            stock.cycles = 1

    def _close_day(self, day: date) -> None:
        if not self.in_window or day < self.window_start.date():
            return
        for stock in self.warehouses.values():
            stock.daily_on_hand.append(stock.on_hand)
            if stock.on_hand <= 0 or stock._short_today:
                stock.stockout_days += 1
            stock._short_today = False


@dataclass
class ServiceMetrics:
    """What one policy did for one material (or for all, summed) over the test window."""

    demand: float = 0.0
    filled: float = 0.0
    backordered: float = 0.0
    cycles: int = 0
    short_cycles: int = 0
    stockout_days: int = 0
    average_on_hand: float = 0.0
    average_value: float = 0.0
    dead_stock_value: float = 0.0
    closing_on_hand: float = 0.0
    material_months: float = 0.0
    alert_events: int = 0
    alerts_raised: int = 0
    notifications: int = 0
    stockouts: int = 0
    warned: int = 0
    warned_in_time: int = 0
    warning_leads: list[float] = field(default_factory=list)
    """Days from the last warning to each warned stock-out, over the lead time (1.0: one lead
    time ahead, the least a supplier needs to deliver before the shelf runs empty)."""
    requests: int = 0
    request_value: float = 0.0
    auto_approved: int = 0

    @property
    def fill_rate(self) -> float:
        """Share of demand filled from the shelf when it came (1.0 without demand).

        >>> ServiceMetrics(demand=200, filled=190).fill_rate
        0.95
        """
        return self.filled / self.demand if self.demand > 0 else 1.0

    @property
    def cycle_service_level(self) -> float:
        """Share of replenishment cycles (receipt to receipt) without a backorder.

        >>> ServiceMetrics(cycles=20, short_cycles=1).cycle_service_level
        0.95
        """
        return 1.0 - self.short_cycles / self.cycles if self.cycles else 1.0

    def turnover(self, window_days: int) -> float | None:
        """Demand over average stock, per year; None when no stock was held.

        >>> round(ServiceMetrics(demand=1200, average_on_hand=100).turnover(365), 2)
        12.0
        """
        if self.average_on_hand <= 0 or window_days <= 0:
            return None
        return self.demand / self.average_on_hand * 365 / window_days

    @property
    def alerts_per_material_month(self) -> float:
        """Alerts raised per material and month: how often a person is asked to look."""
        return self.alerts_raised / self.material_months if self.material_months else 0.0

    @property
    def median_warning_lead(self) -> float | None:
        """Median warning lead over the lead time, of the warned stock-outs."""
        leads = sorted(self.warning_leads)
        if not leads:
            return None
        middle = len(leads) // 2
        return leads[middle] if len(leads) % 2 else (leads[middle - 1] + leads[middle]) / 2

    def add(self, other: "ServiceMetrics") -> None:
        """Sum another material's figures into these (totals of a run)."""
        for name in self.__dataclass_fields__:
            mine = getattr(self, name)
            if isinstance(mine, list):
                mine.extend(getattr(other, name))
            else:
                setattr(self, name, mine + getattr(other, name))


def measure(ledger: Ledger, unit_cost: float, end: datetime) -> ServiceMetrics:
    """The service figures of a ledger over its window, which closes at ``end``."""
    metrics = ServiceMetrics()
    dead_since = end - timedelta(days=DEAD_DAYS)
    for stock in ledger.warehouses.values():
        metrics.demand += stock.demand
        metrics.filled += stock.filled
        metrics.backordered += stock.backordered
        metrics.cycles += stock.cycles
        metrics.short_cycles += stock.short_cycles
        if stock.demand > 0:
            metrics.stockout_days += stock.stockout_days
        days = stock.daily_on_hand
        average = sum(max(q, 0.0) for q in days) / len(days) if days else 0.0
        metrics.average_on_hand += average
        metrics.closing_on_hand += stock.on_hand
        if stock.on_hand > 0 and (
            stock.last_demand_at is None or stock.last_demand_at < dead_since
        ):
            metrics.dead_stock_value += stock.on_hand * unit_cost
    metrics.average_value = metrics.average_on_hand * unit_cost
    metrics.stockouts = len(ledger.stockouts)
    return metrics


def warning_leads(
    stockouts: list[StockOut], warnings: dict[str, list[datetime]], lead_time_days: float
) -> tuple[int, int, list[float]]:
    """For each stock-out, the last warning raised before it (the alert open when the shelf ran
    empty, or the latest one), since the previous stock-out in its warehouse ended.

    A warning counts if it came at most two lead times before the stock-out
    (an older one was about another cycle); the last one, not the first,
    because a warning that was raised and then resolved told the buyer all
    was well again. Returns (warned, warned at least
    one lead time ahead, each warned stock-out's lead over the lead time).

    >>> t0 = datetime(2026, 1, 1)
    >>> outs = [StockOut("W1", t0 + timedelta(days=20)), StockOut("W1", t0 + timedelta(days=50))]
    >>> warning_leads(outs, {"W1": [t0 + timedelta(days=8), t0 + timedelta(days=45)]}, 10)
    (2, 1, [1.2, 0.5])
    """
    warned = in_time = 0
    leads: list[float] = []
    previous_end: dict[str, datetime] = {}
    horizon = timedelta(days=2 * lead_time_days)
    for out in sorted(stockouts, key=lambda s: s.started):
        since = max(
            previous_end.get(out.warehouse_id, out.started - horizon), out.started - horizon
        )
        raised = [t for t in warnings.get(out.warehouse_id, ()) if since <= t <= out.started]
        last = max(raised, default=None)
        if out.ended is not None:
            previous_end[out.warehouse_id] = out.ended
        if last is None:
            continue
        lead = (out.started - last).total_seconds() / 86_400
        warned += 1
        in_time += lead >= lead_time_days
        leads.append(round(lead / lead_time_days, 3) if lead_time_days else 0.0)
    return warned, in_time, leads
