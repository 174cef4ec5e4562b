"""Backtest: what stockloop's dynamic policy and alerts would have done over a history, beside
static min/max, in memory and in event time.

A planner trusts alerts after seeing what they would have said last year.
``backtest`` plays a history of material events through the same pure step
the worker runs (``models.step``: receive, advance), material by material,
and through three yardsticks (``models.static_policy``):

- ``stockloop``: the dynamic policy: the core's alerts and purchase requests;
- ``min/max``: the ERP's usual static parameters (minimum = lead-time demand
  at the average before the window, maximum = minimum + a month);
- ``tuned ROP``: a static reorder point tuned on the history before the window;
- ``recorded``: no policy: the history as it happened (it never orders).

The history before ``window_start`` is the warm-up: the core learns demand
and lead times from it, the static policies take their parameters from it,
and nothing in it is counted. From ``window_start`` to the history's end:

- without ``act``, the recorded receipts stand for every policy: one stock
  trajectory, and the policies differ in what they warned about and when
  (for each stock-out: was there a warning, and how many lead times ahead);
- with ``act``, each policy makes its own supply: receipts of orders placed
  in the window, and stock corrections (adjustments, counts), are left out,
  and the purchase requests the core raises (or the static policy's nightly
  orders) arrive after a lead time drawn from the material's learned or
  given distribution at the window start (seeded: the same run gives the
  same figures). A request or transfer needing approval is taken as
  approved at once; transfers the core proposes ship at once and arrive
  after their lane's lead time. So the backtest measures the loop, not
  only the alerts.
  Receipts without a PO line (a production order's output) are replaced
  too: a policy supplies a product made in house with its own orders, as
  it does a purchased one. What the core asked for in the warm-up was never
  acted on (the recorded supply stood), so at the window start its open
  requests and unshipped transfers are cancelled: left open, a request
  waiting for approval would count in the position for good (only
  approved ones expire) and the core would raise nothing more.

Demand is the history's issues and its confirmed sales order lines, each
on its due date (``models.service_metrics``: backordered when short, lost
when the ERP closed the line short). The core itself reads the recorded
events, deliveries included, as the worker would. For each stock-out the
last warning before it counts. Deterministic: nothing here reads a clock or an unseeded
random.
"""

import copy
import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise

from models.alerting import Alert
from models.alerts import TransitionStatus
from models.events import (
    InputEvent,
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    OrderStatus,
    PromotionEvent,
    SalesOrderLine,
    StockMovement,
)
from models.purchasing import PurchaseRequest, RequestStatus
from models.purchasing import cancel as cancel_request
from models.replenishment import AUTOMATIC
from models.rules.spec import builtin_rules
from models.service_metrics import (
    DAYS_PER_MONTH,
    Ledger,
    OrderDemand,
    ServiceMetrics,
    measure,
    warning_leads,
)
from models.state import DEFAULT_CONFIG, MaterialState
from models.static_policy import (
    LeadTimeDraw,
    MinMax,
    erp_min_max,
    run_static,
    tune_reorder_point,
)
from models.step import AppliedEventIds, StepContext, StepResult, advance, receive
from models.transfers import Transfer, TransferStatus
from models.transfers import cancel as cancel_transfer

WARNING_RULE = "stockout_risk"
"""The alert a buyer acts on before the shelf runs empty."""
DEFAULT_TARGET_FILL_RATE = 0.95
MIN_WARM_UP_DAYS = 7
_APPLY_ORDER = {"material": 0, "promotion": 1, "in_transit": 2, "order_line": 3, "movement": 4}
"""Same-time events in the order the step applies them (``models.step``)."""
_ORDERED_ON_REQUEST = {RequestStatus.APPROVED, RequestStatus.PENDING_APPROVAL}
_CORRECTIONS = {MovementType.ADJUSTMENT, MovementType.CYCLE_COUNT}
_CLOSED_SHORT = {OrderStatus.SHIPPED, OrderStatus.CANCELLED}
_UNSHIPPED = {TransferStatus.PROPOSED, TransferStatus.APPROVED}
"""A transfer not shipped yet: with ``act`` it ships at once, held for its approver or not."""
DUE_AT = time(12)
"""An order line is wanted at noon of its due date: after the morning's receipts."""


class Policy(StrEnum):
    """The policies a backtest compares, in the order its tables show them."""

    DYNAMIC = "stockloop"
    MIN_MAX = "min/max"
    TUNED = "tuned ROP"
    RECORDED = "recorded"


class BacktestError(ValueError):
    """A history the backtest cannot run on; the message is one line saying why."""


@dataclass(frozen=True)
class BacktestConfig:
    """How to run a backtest.

    ``window_start``: the first instant counted (default: a quarter of the
    way from the history's first demand to its end, ``MIN_WARM_UP_DAYS`` at least);
    ``service_level``: target cycle service level for every material (it
    overrides the masters' and is the tuned policy's fill-rate target);
    ``seed``: of the lead-time draws; ``static_multipliers``: also run min/max
    with its minimum scaled by each (the static side of the efficient frontier).
    """

    window_start: datetime | None = None
    act: bool = False
    service_level: float | None = None
    seed: int = 42
    static_multipliers: tuple[float, ...] = ()
    context: StepContext = field(default_factory=lambda: StepContext(rules=builtin_rules()))


@dataclass
class MaterialBacktest:
    """One material's figures under every policy, and what the HTML report draws."""

    material_id: str
    unit_cost: float
    lead_time_days: float
    policies: dict[Policy, ServiceMetrics]
    levels: dict[Policy, dict[str, MinMax]]
    daily_on_hand: dict[Policy, list[float]]
    """End-of-day on hand over all warehouses, one value per window day."""
    safety_stock: list[float]
    reorder_point: list[float]
    """The dynamic policy's safety stock and reorder point, summed over warehouses, per day."""
    forecast: list[float]
    """The dynamic policy's forecast daily demand (over the lead time), summed over warehouses,
    as it stood at the end of each window day: what its plan expected."""
    demand: list[float]
    """The demand that came on each window day, over all warehouses: issues when posted and
    confirmed order lines on their due date, as every policy's ledger counts it."""
    warnings: dict[Policy, list[datetime]]
    stockouts: dict[Policy, list[datetime]]
    static_frontier: dict[float, ServiceMetrics] = field(default_factory=dict)
    """min/max with its minimum scaled by each of ``BacktestConfig.static_multipliers``."""


@dataclass
class BacktestResult:
    """A backtest's figures: per material, and summed over materials per policy."""

    window_start: datetime
    end: datetime
    act: bool
    events: int
    materials: list[MaterialBacktest]
    totals: dict[Policy, ServiceMetrics]
    static_frontier: dict[float, ServiceMetrics] = field(default_factory=dict)

    @property
    def window_days(self) -> int:
        return (self.end.date() - self.window_start.date()).days


def backtest(
    history: Iterable[MaterialEvent],
    config: BacktestConfig = BacktestConfig(),
    on_material: Callable[[str, int], None] = lambda material_id, events: None,
) -> BacktestResult:
    """Run every policy over the history, material by material (``on_material`` after each).

    Raises ``BacktestError`` for an empty history or a window that leaves no
    warm-up or no test period.
    """
    by_material: dict[str, list[MaterialEvent]] = {}
    category_promotions: dict[str, list[PromotionEvent]] = {}
    count = 0
    for envelope in history:
        count += 1
        event = envelope.event
        if isinstance(event, PromotionEvent) and event.category is not None:
            category_promotions.setdefault(event.category, []).append(event)
        elif event.material_id is not None:
            by_material.setdefault(event.material_id, []).append(envelope)
    if not by_material:
        raise BacktestError("no material events in the history")
    times = [e.event.event_time for events in by_material.values() for e in events]
    first, end = min(times), max(times)
    demand = [
        e.event.event_time
        for events in by_material.values()
        for e in events
        if isinstance(e.event, StockMovement) and e.event.movement_type is MovementType.ISSUE
    ]
    window_start = config.window_start or _default_window_start(min(demand, default=first), end)
    if window_start <= first or window_start >= end:
        raise BacktestError(
            f"window_start={window_start.isoformat()}: must lie after the history's first event "
            f"({first.isoformat()}) and before its last ({end.isoformat()})"
        )
    config = replace(
        config, context=replace(config.context, category_promotions=category_promotions)
    )
    materials = []
    for material_id in sorted(by_material):
        events = sorted(by_material[material_id], key=_order)
        if config.service_level is not None:
            events = [_with_service_level(e, config.service_level) for e in events]
        materials.append(_material(material_id, events, window_start, end, config))
        on_material(material_id, len(events))
    totals = {policy: ServiceMetrics() for policy in Policy}
    for material in materials:
        for policy, metrics in material.policies.items():
            totals[policy].add(metrics)
    static_frontier = {k: ServiceMetrics() for k in config.static_multipliers}
    for material in materials:
        for k, metrics in material.static_frontier.items():
            static_frontier[k].add(metrics)
    return BacktestResult(window_start, end, config.act, count, materials, totals, static_frontier)


def notifications_per_material_month(metrics: ServiceMetrics) -> float:
    """Notifications per material and month: how often a person is told, not only asked to look.

    stockloop's are the alert transitions its rules send (``Alert.notify``), before
    routing, digests and inhibition; a static policy's are its alerts, one report line each.

    >>> notifications_per_material_month(ServiceMetrics(notifications=6, material_months=4.0))
    1.5
    """
    return metrics.notifications / metrics.material_months if metrics.material_months else 0.0


def _default_window_start(first: datetime, end: datetime) -> datetime:
    """A quarter of the way from the first demand to the end, on a midnight, a week at least."""
    days = (end.date() - first.date()).days
    warm_up = max(days // 4, MIN_WARM_UP_DAYS)
    return datetime.combine(first.date() + timedelta(days=warm_up), time(), first.tzinfo)


def _order(envelope: MaterialEvent) -> tuple[datetime, int, str]:
    event = envelope.event
    return (event.event_time, _APPLY_ORDER[event.kind], event.event_id)


def _with_service_level(envelope: MaterialEvent, service_level: float) -> MaterialEvent:
    if not isinstance(envelope.event, MaterialMaster):
        return envelope
    master = envelope.event.model_copy(update={"service_level": service_level})
    return envelope.model_copy(update={"event": master})


def _in_window_supply(
    events: Sequence[MaterialEvent], window_start: datetime
) -> list[MaterialEvent]:
    """With ``act``: the window's events without the recorded supply the policies replace.

    PO lines ordered in the window and their receipts go (each policy orders
    its own); lines ordered before it, and their receipts, stay: that
    pipeline was there whatever the policy. Receipts naming no PO line go
    too: production output, which the policies' own orders replace (the
    static ones' and the core's alike). Adjustments and counts go too: they
    correct the recorded shelf, not the simulated one.
    """
    before = {
        e.event.line_id
        for e in events
        if isinstance(e.event, InTransitLine) and e.event.ordered_at < window_start
    }
    kept = []
    for envelope in events:
        event = envelope.event
        if event.event_time >= window_start:
            if isinstance(event, InTransitLine) and event.line_id not in before:
                continue
            if isinstance(event, StockMovement) and (
                event.movement_type in _CORRECTIONS
                or (event.movement_type is MovementType.RECEIPT and event.po_line_id not in before)
            ):
                continue
        kept.append(envelope)
    return kept


@dataclass
class _DynamicRun:
    """The core's run over one material: its shelf, alerts, requests and daily plan."""

    ledger: Ledger
    alerts: list[Alert] = field(default_factory=list)
    warnings: list[Alert] = field(default_factory=list)
    requests: dict[str, PurchaseRequest] = field(default_factory=dict)
    auto_approved: set[str] = field(default_factory=set)
    lead_times: dict[str, tuple[float, float]] = field(default_factory=dict)
    plan_by_day: dict[date, dict[str, tuple[float, float, float]]] = field(default_factory=dict)
    """Per day and warehouse: safety stock, reorder point and forecast daily demand."""


def _run_dynamic(
    material_id: str,
    events: Sequence[MaterialEvent],
    lost: list[OrderDemand],
    window_start: datetime,
    end: datetime,
    config: BacktestConfig,
    default_lead_time: float,
) -> _DynamicRun:
    """Feed the events to the pure step as a worker would, acting on its requests with ``act``."""
    context = config.context
    state = MaterialState(material_id=material_id)
    applied = AppliedEventIds()
    keys = frozenset(entry.order_key for entry in lost)
    run = _DynamicRun(ledger=Ledger(window_start, keys))
    unserved = list(lost)

    def lose_until(moment: datetime) -> None:
        while unserved and unserved[0].event_time <= moment:
            run.ledger.roll_to(unserved[0].event_time)
            run.ledger.apply(unserved.pop(0))

    future: list[tuple[tuple[datetime, int, str], MaterialEvent]] = []
    draws: dict[str, LeadTimeDraw] = {}
    ordered: set[str] = set()
    shipped: set[str] = set()

    def take(result: StepResult, now: datetime) -> None:
        for envelope in result.applied:
            lose_until(envelope.event.event_time)
            run.ledger.roll_to(envelope.event.event_time)
            run.ledger.apply(envelope.event)
        for warehouse_id, stock in state.warehouses.items():
            if stock.policy is not None and now >= window_start:
                plans = run.plan_by_day.setdefault(now.date(), {})
                policy = stock.policy
                plans[warehouse_id] = (
                    policy.safety_stock,
                    policy.reorder_point,
                    policy.daily_demand,
                )
        run.alerts += [a for a in result.alerts if a.at >= window_start]
        # A warning raised in the warm-up and still open warns of a stock-out in the window.
        run.warnings += [a for a in result.alerts if a.rule_id == WARNING_RULE]
        if now < window_start:
            return
        for request in result.requests:
            if request.created_at < window_start:
                continue
            run.requests.setdefault(request.request_id, request)
            if request.status is RequestStatus.APPROVED and request.decided_by == AUTOMATIC:
                run.auto_approved.add(request.request_id)
            new = request.request_id not in ordered
            if config.act and new and request.status in _ORDERED_ON_REQUEST:
                ordered.add(request.request_id)
                for envelope in _order_events(request, draws):
                    heapq.heappush(future, (_order(envelope), envelope))
        if config.act:
            for transfer in result.transfers:
                if transfer.status in _UNSHIPPED and transfer.transfer_id not in shipped:
                    shipped.add(transfer.transfer_id)
                    for envelope in _transfer_events(transfer):
                        heapq.heappush(future, (_order(envelope), envelope))

    def open_window() -> None:
        """The policy takes over: lead-time draws as the core plans them now, and (with ``act``)
        a clean slate of what it asked for in the warm-up."""
        run.lead_times.update(_lead_times(state, default_lead_time))
        for warehouse_id, (mean, sigma) in sorted(run.lead_times.items()):
            rng = random.Random(f"{config.seed}/{material_id}/{Policy.DYNAMIC}/{warehouse_id}")
            draws[warehouse_id] = LeadTimeDraw(mean, sigma, rng)
        if config.act:
            _cancel_warm_up(state, window_start)

    def settle(at: datetime) -> None:
        """Bring the core to ``at``; what it requests there is ordered there, before time moves."""
        if at >= window_start and not run.lead_times:
            open_window()
        take(advance(state, at, context), at)
        while future and future[0][0][0] <= at:
            _, simulated = heapq.heappop(future)
            receive(state, simulated, applied, context.planning)
            take(advance(state, at, context), at)

    def feed(envelope: MaterialEvent) -> None:
        receive(state, envelope, applied, context.planning)
        settle(envelope.event.event_time)

    def catch_up(before: tuple[datetime, int, str] | None) -> None:
        """Each midnight and simulated event before ``before`` (None: up to the end), in time.

        Midnight by midnight, so a request the core raises on a quiet night is
        ordered that night, not when the next recorded event comes; a midnight
        comes before the events at its instant, as in ``advance``.
        """
        limit = before[0] if before is not None else end
        while True:
            midnight = _next_midnight(state.applied_through)
            head = future[0][0] if future else None
            if midnight is not None and midnight <= limit and (head is None or midnight <= head[0]):
                settle(midnight)
            elif head is not None and (head < before if before is not None else head[0] <= end):
                feed(heapq.heappop(future)[1])
            else:
                return

    for envelope in events:
        catch_up(_order(envelope))
        feed(envelope)
    catch_up(None)
    settle(end)
    lose_until(end)
    run.ledger.roll_to(end)
    if not run.lead_times:
        run.lead_times.update(_lead_times(state, default_lead_time))
    return run


def _next_midnight(applied_through: datetime | None) -> datetime | None:
    """The first midnight after a material's clock (None before its first event)."""
    if applied_through is None:
        return None
    day = applied_through.date() + timedelta(days=1)
    return datetime.combine(day, time(), applied_through.tzinfo)


def _cancel_warm_up(state: MaterialState, at: datetime) -> None:
    """Cancel the requests and unshipped transfers the core raised in the warm-up.

    Nobody acted on them: the recorded supply stood for the warm-up. Left
    open they count in the position (a request waiting for approval never
    expires), so the core would raise nothing for the window; cancelled, the
    need, if it is still there, raises a request with fresh numbers at once,
    and the supply alerts they answered are unanswered again.
    """
    book = state.requests
    reason = "backtest window opens: the warm-up's requests were never acted on"
    for request in sorted(book.open.values(), key=lambda r: r.request_id):
        book.record(cancel_request(request, max(at, request.at), reason))
    book.answered.clear()
    moves = state.transfers
    for transfer in sorted(moves.open.values(), key=lambda t: t.transfer_id):
        if transfer.status in _UNSHIPPED:
            moves.record(
                cancel_transfer(transfer, by=AUTOMATIC, at=max(at, transfer.at), reason=reason)
            )


def _ledger_order(event: InputEvent | OrderDemand) -> tuple[datetime, int]:
    """Ledger streams in time; at the same time events first, the demand falling due after."""
    rank = 5 if isinstance(event, OrderDemand) else _APPLY_ORDER[event.kind]
    return (event.event_time, rank)


def _order_demand(
    events: Sequence[MaterialEvent], window_start: datetime, end: datetime
) -> list[OrderDemand]:
    """The confirmed sales order lines falling due in the window, at noon of their due date.

    An order line's last version says how it ended: its quantity is the
    demand, and closed short (shipped with less, or cancelled: how an ERP
    closes a line it could not serve) its missing part was lost. A line
    never confirmed is no demand.
    """
    last: dict[str, SalesOrderLine] = {}
    confirmed: set[str] = set()
    for envelope in events:
        event = envelope.event
        if isinstance(event, SalesOrderLine):
            key = f"{event.order_id}/{event.line_id}"
            last[key] = event
            if event.status is not OrderStatus.OPEN:
                confirmed.add(key)
    demand = []
    for key, line in last.items():
        due = datetime.combine(line.due_date, DUE_AT, window_start.tzinfo)
        if key not in confirmed or not window_start <= due <= end or line.quantity <= 0:
            continue
        lost = line.status in _CLOSED_SHORT and line.shipped_quantity < line.quantity
        demand.append(OrderDemand(due, line.warehouse_id, line.quantity, key, lost))
    return sorted(demand, key=lambda entry: (entry.event_time, entry.order_key))


def _lead_times(state: MaterialState, default: float) -> dict[str, tuple[float, float]]:
    """(mean, σ) of the lead time per warehouse, as the core plans with it now."""
    times = {
        warehouse_id: (stock.policy.lead_time_days, stock.policy.sigma_lead_time_days)
        for warehouse_id, stock in state.warehouses.items()
        if stock.policy is not None
    }
    return times or {"": (default, 0.0)}


def _order_events(request: PurchaseRequest, draws: dict[str, LeadTimeDraw]) -> list[MaterialEvent]:
    """The PO line a buyer places for a request at once, and its receipt a lead time later."""
    draw = draws.get(request.warehouse_id) or next(iter(draws.values()))
    eta = request.at + timedelta(days=draw())
    arrival = datetime.combine(eta.date(), time(0, 30), eta.tzinfo)
    line_id = f"BT-{request.request_id}"
    line = InTransitLine(
        event_id=f"backtest-po-{request.request_id}",
        event_time=request.at,
        material_id=request.material_id,
        line_id=line_id,
        supplier_id=request.supplier_id or "BACKTEST",
        warehouse_id=request.warehouse_id,
        quantity=request.quantity,
        ordered_at=request.at,
        eta=arrival.date(),
        status=InTransitStatus.ORDERED,
        purchase_request_id=request.request_id,
    )
    receipt = StockMovement(
        event_id=f"backtest-gr-{request.request_id}",
        event_time=arrival,
        material_id=request.material_id,
        movement_type=MovementType.RECEIPT,
        warehouse_id=request.warehouse_id,
        quantity=request.quantity,
        unit_cost=request.unit_cost,
        po_line_id=line_id,
    )
    return [MaterialEvent(event=line), MaterialEvent(event=receipt)]


def _transfer_events(transfer: Transfer) -> list[MaterialEvent]:
    """An approved transfer ships at once and arrives after its lane's lead time."""
    common = {"material_id": transfer.material_id, "quantity": transfer.quantity}
    out = StockMovement(
        event_id=f"backtest-tout-{transfer.transfer_id}",
        event_time=transfer.at,
        movement_type=MovementType.TRANSFER_OUT,
        warehouse_id=transfer.from_warehouse,
        counterpart_warehouse_id=transfer.to_warehouse,
        **common,
    )
    arrives = transfer.at + timedelta(days=max(transfer.lead_time_days, 1 / 24))
    into = StockMovement(
        event_id=f"backtest-tin-{transfer.transfer_id}",
        event_time=arrives,
        movement_type=MovementType.TRANSFER_IN,
        warehouse_id=transfer.to_warehouse,
        counterpart_warehouse_id=transfer.from_warehouse,
        **common,
    )
    return [MaterialEvent(event=out), MaterialEvent(event=into)]


def _material(
    material_id: str,
    events: list[MaterialEvent],
    window_start: datetime,
    end: datetime,
    config: BacktestConfig,
) -> MaterialBacktest:
    masters = [e.event for e in events if isinstance(e.event, MaterialMaster)]
    master = masters[-1] if masters else None
    unit_cost = master.unit_cost if master else 0.0
    pack_size = master.pack_size if master else 1.0
    default_lead_time = (
        master.default_lead_time_days
        if master and master.default_lead_time_days
        else DEFAULT_CONFIG.default_lead_time_days
    )
    played = _in_window_supply(events, window_start) if config.act else events
    lost = _order_demand(events, window_start, end)
    keys = frozenset(entry.order_key for entry in lost)
    dynamic = _run_dynamic(material_id, played, lost, window_start, end, config, default_lead_time)

    warm_up = [e.event for e in events if e.event.event_time < window_start]
    window = sorted(
        [e.event for e in played if e.event.event_time >= window_start] + lost,
        key=_ledger_order,
    )
    recorded = Ledger(window_start, keys)
    for event in warm_up:
        recorded.roll_to(event.event_time)
        recorded.apply(event)
    recorded.roll_to(window_start)
    at_start = copy.deepcopy(recorded)
    history = [e.event for e in events if e.event.event_time >= window_start] + lost
    for event in sorted(history, key=_ledger_order):
        recorded.roll_to(event.event_time)
        recorded.apply(event)
    recorded.roll_to(end)

    lead_times = dynamic.lead_times
    first_day = min(e.event_time for e in warm_up).date() if warm_up else window_start.date()
    warm_up_days = max((window_start.date() - first_day).days, 1)
    issues = [
        e for e in warm_up if isinstance(e, StockMovement) and e.movement_type is MovementType.ISSUE
    ]
    target = config.service_level or _target(master, config)
    levels: dict[Policy, dict[str, MinMax]] = {Policy.MIN_MAX: {}, Policy.TUNED: {}}
    warehouses = sorted(set(at_start.warehouses) | {e.warehouse_id for e in issues})
    for warehouse_id in warehouses:
        mean, sigma = lead_times.get(warehouse_id) or _typical(lead_times)
        daily = sum(abs(e.quantity) for e in issues if e.warehouse_id == warehouse_id)
        daily /= warm_up_days
        levels[Policy.MIN_MAX][warehouse_id] = erp_min_max(daily, mean)
        seed = f"{config.seed}/{material_id}/tuning/{warehouse_id}"
        levels[Policy.TUNED][warehouse_id] = tune_reorder_point(
            issues, warehouse_id, daily, mean, target, seed, sigma
        )

    metrics: dict[Policy, ServiceMetrics] = {}
    ledgers: dict[Policy, Ledger] = {Policy.DYNAMIC: dynamic.ledger, Policy.RECORDED: recorded}
    warnings: dict[Policy, dict[str, list[datetime]]] = {
        Policy.DYNAMIC: _warnings(dynamic.warnings),
        Policy.RECORDED: {},
    }
    for policy in (Policy.MIN_MAX, Policy.TUNED):
        mean, sigma = _typical(lead_times)
        rng = random.Random(f"{config.seed}/{material_id}/{policy}")
        run = run_static(
            window,
            copy.deepcopy(at_start),
            levels[policy],
            config.act,
            LeadTimeDraw(mean, sigma, rng),
            end,
            unit_cost,
            pack_size,
        )
        ledgers[policy] = run.ledger
        warnings[policy] = run.warnings
        metrics[policy] = measure(run.ledger, unit_cost, end)
        metrics[policy].alert_events = run.alert_events
        metrics[policy].alerts_raised = run.alerts_raised
        metrics[policy].notifications = run.alerts_raised
        metrics[policy].requests = run.orders
        metrics[policy].request_value = run.order_value
    static_frontier = {}
    for k in config.static_multipliers:
        scaled = {
            warehouse_id: MinMax(k * level.minimum, k * level.minimum + level.lot)
            for warehouse_id, level in levels[Policy.MIN_MAX].items()
        }
        rng = random.Random(f"{config.seed}/{material_id}/{Policy.MIN_MAX}")
        run = run_static(
            window,
            copy.deepcopy(at_start),
            scaled,
            config.act,
            LeadTimeDraw(*_typical(lead_times), rng),
            end,
            unit_cost,
            pack_size,
        )
        static_frontier[k] = measure(run.ledger, unit_cost, end)
    for policy in (Policy.DYNAMIC, Policy.RECORDED):
        metrics[policy] = measure(ledgers[policy], unit_cost, end)
    dynamic_metrics = metrics[Policy.DYNAMIC]
    dynamic_metrics.alert_events = len(dynamic.alerts)
    dynamic_metrics.alerts_raised = sum(a.status is TransitionStatus.RAISED for a in dynamic.alerts)
    dynamic_metrics.notifications = sum(a.notify for a in dynamic.alerts)
    dynamic_metrics.requests = len(dynamic.requests)
    dynamic_metrics.request_value = sum(r.amount for r in dynamic.requests.values())
    dynamic_metrics.auto_approved = len(dynamic.auto_approved)

    window_days = (end.date() - window_start.date()).days
    for policy, policy_metrics in metrics.items():
        policy_metrics.material_months = window_days / DAYS_PER_MONTH
        ledger = ledgers[policy]
        for warehouse_id in sorted(ledger.warehouses):
            outs = [s for s in ledger.stockouts if s.warehouse_id == warehouse_id]
            lead = (lead_times.get(warehouse_id) or _typical(lead_times))[0]
            warned, in_time, leads = warning_leads(outs, warnings[policy], lead)
            policy_metrics.warned += warned
            policy_metrics.warned_in_time += in_time
            policy_metrics.warning_leads += leads

    return MaterialBacktest(
        material_id=material_id,
        unit_cost=unit_cost,
        lead_time_days=_typical(lead_times)[0],
        policies={policy: metrics[policy] for policy in Policy},
        levels=levels,
        daily_on_hand={policy: _daily(ledgers[policy], window_days) for policy in Policy},
        safety_stock=_plan_series(dynamic.plan_by_day, window_start, window_days, 0),
        reorder_point=_plan_series(dynamic.plan_by_day, window_start, window_days, 1),
        forecast=_plan_series(dynamic.plan_by_day, window_start, window_days, 2),
        demand=_daily_demand(history, keys, window_start, window_days),
        warnings={
            policy: sorted(t for times in warnings[policy].values() for t in times)
            for policy in Policy
        },
        stockouts={policy: [s.started for s in ledgers[policy].stockouts] for policy in Policy},
        static_frontier=static_frontier,
    )


def _target(master: MaterialMaster | None, config: BacktestConfig) -> float:
    if master and master.service_level:
        return master.service_level
    if master and master.abc_class:
        return config.context.planning.service_levels.get(master.abc_class, 0.95)
    return DEFAULT_TARGET_FILL_RATE


def _typical(lead_times: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """The longest of the warehouses' lead times: a static policy's one setting for all."""
    return max(lead_times.values())


def _warnings(alerts: list[Alert]) -> dict[str, list[datetime]]:
    warnings: dict[str, list[datetime]] = {}
    for alert in alerts:
        if alert.rule_id == WARNING_RULE and alert.status is TransitionStatus.RAISED:
            warnings.setdefault(alert.warehouse_id, []).append(alert.at)
    return warnings


def _daily(ledger: Ledger, days: int) -> list[float]:
    total = [0.0] * days
    for stock in ledger.warehouses.values():
        series = stock.daily_on_hand[-days:] if days else []
        offset = days - len(series)
        for i, quantity in enumerate(series):
            total[offset + i] += quantity
    return total


def _daily_demand(
    history: Sequence[InputEvent | OrderDemand],
    order_keys: frozenset[str],
    window_start: datetime,
    days: int,
) -> list[float]:
    """Demand per window day as the ledgers count it: an issue of a line falling due in the
    window is not demand (its due date is), the line is."""
    demand = [0.0] * days
    for event in history:
        if isinstance(event, OrderDemand):
            quantity = event.quantity
        elif isinstance(event, StockMovement) and event.movement_type is MovementType.ISSUE:
            key = f"{event.sales_order_id}/{event.sales_order_line_id}"
            quantity = 0.0 if key in order_keys else abs(event.quantity)
        else:
            continue
        day = (event.event_time.date() - window_start.date()).days
        if 0 <= day < days:
            demand[day] += quantity
    return demand


def _plan_series(
    plan_by_day: dict[date, dict[str, tuple[float, float, float]]],
    window_start: datetime,
    days: int,
    index: int,
) -> list[float]:
    """One of the dynamic plan's numbers per window day, as it stood at the end of the day."""
    series, latest = [], 0.0
    for n in range(days):
        plans = plan_by_day.get(window_start.date() + timedelta(days=n))
        if plans:
            latest = sum(plan[index] for plan in plans.values())
        series.append(latest)
    return series


DEFAULT_FRONTIER_LEVELS = (0.8, 0.9, 0.95, 0.98, 0.995)
DEFAULT_FRONTIER_MULTIPLIERS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


@dataclass(frozen=True)
class FrontierPoint:
    """One policy setting's service and the stock it took (its value, over all materials)."""

    setting: float
    fill_rate: float
    average_value: float


@dataclass
class Frontier:
    """Average stock against fill rate: the dynamic policy at several service levels, min/max
    at several multiples of its minimum, each run with ``act``."""

    dynamic: list[FrontierPoint]
    static: list[FrontierPoint]

    def static_value_at(self, fill_rate: float) -> float | None:
        """The stock min/max needs for ``fill_rate``, between its two nearest points.

        None outside the fill rates min/max reached (no extrapolation).

        >>> f = Frontier([], [FrontierPoint(1, 0.90, 100.0), FrontierPoint(2, 0.95, 200.0)])
        >>> round(f.static_value_at(0.925), 6), f.static_value_at(0.99)
        (150.0, None)
        """
        points = sorted(self.static, key=lambda p: (p.fill_rate, p.average_value))
        for low, high in pairwise(points):
            if low.fill_rate <= fill_rate <= high.fill_rate:
                if high.fill_rate == low.fill_rate:
                    return min(low.average_value, high.average_value)
                share = (fill_rate - low.fill_rate) / (high.fill_rate - low.fill_rate)
                return low.average_value + share * (high.average_value - low.average_value)
        return None

    def savings(self) -> list[tuple[FrontierPoint, float | None]]:
        """Per dynamic point, the share of min/max's stock at the same fill rate it saves."""
        out = []
        for point in self.dynamic:
            static = self.static_value_at(point.fill_rate)
            saved = 1 - point.average_value / static if static else None
            out.append((point, saved))
        return out


def efficient_frontier(
    history: Sequence[MaterialEvent],
    config: BacktestConfig = BacktestConfig(),
    service_levels: Sequence[float] = DEFAULT_FRONTIER_LEVELS,
    multipliers: Sequence[float] = DEFAULT_FRONTIER_MULTIPLIERS,
    on_material: Callable[[str, int], None] = lambda material_id, events: None,
) -> tuple[Frontier, list[BacktestResult]]:
    """Backtest with ``act`` once per service level; min/max's multiples ride along the first.

    Returns the frontier and every run (``on_material`` after each material of each run).
    """
    dynamic, static, runs = [], [], []
    for n, level in enumerate(service_levels):
        run_config = replace(
            config,
            act=True,
            service_level=level,
            static_multipliers=tuple(multipliers) if n == 0 else (),
        )
        result = backtest(history, run_config, on_material)
        runs.append(result)
        totals = result.totals[Policy.DYNAMIC]
        dynamic.append(FrontierPoint(level, totals.fill_rate, totals.average_value))
        for k, metrics in result.static_frontier.items():
            static.append(FrontierPoint(k, metrics.fill_rate, metrics.average_value))
    return Frontier(dynamic, static), runs
