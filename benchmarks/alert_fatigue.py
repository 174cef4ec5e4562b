"""Alert-fatigue benchmark: alerts per material per simulated month, with and without the lifecycle.

Issue #4 asks for the "alert-fatigue figure": how many alerts a person gets
per material per month from a noisy ERP, when a status-quo system re-sends
every firing condition, against stockloop's lifecycle (one open alert per
key, hysteresis between firing and clear and between severity tiers,
inhibition, updates only on material change, repeats at the rule's interval).
Measured without Kafka, on the pure core, in event time.

The workload is a seeded simulated plant, one deterministic stream per material:

* daily issues to production, gamma-Poisson (negative binomial) sized with a
  weekday pattern; smooth, erratic and intermittent materials; a few whose
  demand level shifts during the run; a few overstocked by a too-large ERP
  order quantity;
* confirmed sales order lines due 2-10 days ahead (some large, some
  cancelled), shipped on their due date as far as stock allows (partial
  shipments stay open);
* replenishment by the ERP's static reorder point on the inventory position
  (on hand + open PO - open orders), with the ERP's own, sometimes wrong,
  demand estimate and a safety factor from 0.3 to 1.65, so stock often hovers
  around stockloop's safety stock; purchase order lines with a promised ETA,
  random actual lead times (10 % late), some advance shipping notices with
  the revised ETA, some split deliveries;
* slow movers: stock received 100-250 days before the warm-up and rarely
  or never issued, so it becomes dead stock and aged batches.

A shipment is two records of one ERP transaction on two topics (goods issue,
order line update); ``--shipments`` says which arrives first, or ``atomic``:
both at one event time, with the rules evaluated once after both (what a
transaction-aware ingest would give).

Each material's events go, in event-time order, to one ``MaterialState``
(``apply``), and the rules are evaluated after every applied event and at
every hourly tick (``replan`` then ``evaluate_alerts``), each time followed by
the state's JSON round trip, as the material agent stores it. After a warm-up
(``--warmup`` days) the next ``--days`` days are counted:

* without lifecycle, what a status-quo system sends: every firing rule at
  every evaluation; at every hourly check only; once per firing rule per
  (material, warehouse) per day (a nightly batch re-sending open conditions).
  These ignore ``for``, inhibition and hysteresis, as such systems do;
* with lifecycle: alert transitions by status, and what a person receives
  (``notify`` true: raised + updated + repeated); among the updates, the
  severity changes per rule (escalations up, de-escalations down): what
  tier hysteresis (``deescalate_after``, a tier's own ``clear_when``) keeps
  from flipping.

All counts are per material per 30 days, summed over its warehouses. Then
the cost of the core per event and per tick, measured inside the same replay,
and the split of one ``evaluate_alerts`` call. ``--rules FILE`` lays a rules
file over the built-in pack, to try other thresholds and repeat intervals.

    .venv/bin/python benchmarks/alert_fatigue.py [--materials 50] [--days 30] [--seed 4]
        [--shipments issue-first|line-first|atomic] [--rules my-rules.yaml]
"""

import hashlib
import math
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.alerting import Alert, evaluate_alerts
from models.alerts import values_changed
from models.events import (
    AbcClass,
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    OrderStatus,
    SalesOrderLine,
    StockMovement,
)
from models.facts import scope_of, warehouse_facts
from models.planning import PlanningConfig
from models.rules.evaluate import evaluate_all
from models.rules.spec import RuleFile, builtin_rules, load_rules
from models.state import MaterialState

console = Console(width=None if sys.stdout.isatty() else 160)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the warm-up begins here
WAREHOUSES = ("W1", "W2")
WEEKDAY = tuple(f * 7 / 6.0 for f in (1.15, 1.1, 1.1, 1.1, 1.05, 0.35, 0.15))
"""Demand by weekday (Monday first), mean 1: a five-day plant with a thin weekend."""
KINDS = (
    *("smooth",) * 7,
    *("erratic",) * 4,
    *("intermittent",) * 3,
    *("overstock",) * 2,
    *("shift",) * 2,
    *("slow",) * 2,
)
"""The material mix, cycled by material index: the same mix for every seed."""
TWO_WAREHOUSES_EVERY = 4  # every 4th material (not a slow mover) is stocked in two warehouses
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MONTH_DAYS = 30


class Shipments(StrEnum):
    """How the ERP's two records of one shipment reach the material.

    A shipment is one ERP transaction that writes two tables: the goods issue
    (``erp.stock-movements``) and the order line's shipped quantity
    (``erp.sales-orders``). They travel on different topics, so either may
    arrive first; between them the stock position counts the shipment twice
    (issue first) or not at all (line first).
    """

    ISSUE_FIRST = "issue-first"  # as connectors/simulator.py sends them
    LINE_FIRST = "line-first"
    ATOMIC = "atomic"  # same event time, rules evaluated once after both


# --- the simulated plant -------------------------------------------------------------------


@dataclass
class Profile:
    """How one material is demanded and how the ERP replenishes it."""

    kind: str
    mean: float  # true mean daily demand, before a shift
    shape: float  # gamma shape of the daily rate: variance = mean + mean^2 / shape
    occurrence: float  # probability that a day has production demand (intermittent < 1)
    order_share: float  # share of demand that comes as sales orders
    order_size_days: float  # mean sales order size, in days of demand
    safety_factor: float  # k of the ERP's static reorder point
    cover_days: float  # ERP order quantity, in days of demand
    lead_time: int  # promised lead time, days
    misestimate: float  # the ERP master's demand estimate / the true mean
    unit_cost: float
    pack: int
    shift_day: int | None = None  # day index from which demand is multiplied by shift_factor
    shift_factor: float = 1.0
    slow_issue_probability: float = 0.0


def make_profile(kind: str, rng: random.Random, warmup: int, days: int) -> Profile:
    """A random material of ``kind``."""
    profile = Profile(
        kind=kind,
        mean=rng.uniform(8, 60),
        shape=rng.uniform(4, 15),
        occurrence=1.0,
        order_share=rng.uniform(0.2, 0.5),
        order_size_days=rng.uniform(1.0, 3.0),
        safety_factor=rng.choice((0.3, 0.6, 1.0, 1.65)),
        cover_days=rng.uniform(10, 25),
        lead_time=rng.choice((5, 7, 10, 14)),
        misestimate=rng.uniform(0.8, 1.25),
        unit_cost=round(rng.uniform(0.5, 60), 2),
        pack=rng.choice((1, 1, 5, 10, 12)),
    )
    match kind:
        case "erratic":
            profile.mean, profile.shape = rng.uniform(3, 25), rng.uniform(0.6, 1.5)
        case "intermittent":
            profile.occurrence = rng.uniform(0.08, 0.3)
            profile.mean = profile.occurrence * rng.uniform(3, 15)
            profile.shape, profile.order_share = rng.uniform(1, 3), 0.25
            profile.pack = 1
        case "overstock":
            profile.cover_days = rng.uniform(70, 120)
        case "shift":
            profile.shift_day = rng.randint(warmup - 10, warmup + days - 7)
            profile.shift_factor = rng.choice((0.35, 2.5))
        case "slow":
            profile.mean, profile.order_share = 0.0, 0.0
            profile.unit_cost = round(rng.uniform(20, 400), 2)
            profile.slow_issue_probability = rng.choice((0.0, 1 / 120, 1 / 45))
    return profile


@dataclass
class PurchaseLine:
    line_id: str
    supplier_id: str
    quantity: float
    ordered_at: datetime
    eta: date
    deliveries: list[tuple[date, float]]
    asn_on: date | None
    received: float = 0.0


@dataclass
class OrderLine:
    order_id: str
    quantity: float
    due: date
    cancel_on: date | None
    shipped: float = 0.0


@dataclass
class Stock:
    """The ERP's view of one material in one warehouse."""

    warehouse_id: str
    reorder_point: float
    order_quantity: float
    on_hand: float = 0.0
    purchases: dict[str, PurchaseLine] = field(default_factory=dict)
    orders: dict[str, OrderLine] = field(default_factory=dict)


class MaterialSim:
    """One material of the simulated plant: its events, in event-time order."""

    def __init__(
        self,
        index: int,
        seed: int,
        warmup: int,
        days: int,
        shipments: Shipments = Shipments.ISSUE_FIRST,
    ) -> None:
        self.shipments = shipments
        self.rng = random.Random(seed * 1_000_003 + index)
        kind = KINDS[index % len(KINDS)]
        self.profile = make_profile(kind, self.rng, warmup, days)
        self.material_id = f"M{index:04d}-{kind}"
        self.days = warmup + days
        two = kind != "slow" and index % TWO_WAREHOUSES_EVERY == TWO_WAREHOUSES_EVERY - 1
        self.supplier_id = f"V-{1 + index % 7:02d}"
        self.stocks = [self._stock(w) for w in WAREHOUSES[: 2 if two else 1]]
        self.events: list[MaterialMaster | StockMovement | SalesOrderLine | InTransitLine] = []
        self._n = 0

    def run(self) -> list:
        """Every event of the material over the simulated days, sorted by event time."""
        p = self.profile
        opening = START + timedelta(hours=6)
        if p.kind == "slow":
            opening = START - timedelta(days=self.rng.uniform(100, 250))
        self.events.append(self._master(opening))
        for stock in self.stocks:
            self._opening_stock(stock, opening)
        for day_index in range(self.days):
            today = (START + day_index * DAY).date()
            for stock in self.stocks:
                self._day(stock, day_index, today)
        self.events.sort(key=lambda e: e.event_time)  # stable: same-time events keep their order
        return self.events

    # --- ERP master data and policy

    def _stock(self, warehouse_id: str) -> Stock:
        p = self.profile
        planned = p.mean * p.misestimate  # each warehouse serves its own demand at this level
        sigma = math.sqrt(planned + planned**2 / p.shape) if planned else 0.0
        rop = planned * p.lead_time + p.safety_factor * sigma * math.sqrt(p.lead_time)
        quantity = max(p.pack, math.ceil(planned * p.cover_days / p.pack) * p.pack)
        return Stock(warehouse_id, round(rop), quantity)

    def _master(self, at: datetime) -> MaterialMaster:
        p = self.profile
        value = p.mean * p.unit_cost * 365
        abc = AbcClass.A if value > 100_000 else AbcClass.B if value > 20_000 else AbcClass.C
        return MaterialMaster(
            event_id=self._id(),
            event_time=at,
            material_id=self.material_id,
            name=f"{p.kind} material {self.material_id}",
            category=p.kind.upper(),
            unit_cost=p.unit_cost,
            abc_class=abc,
            default_lead_time_days=p.lead_time if p.kind != "slow" else 30,
            pack_size=p.pack,
            preferred_supplier=self.supplier_id,
        )

    def _opening_stock(self, stock: Stock, at: datetime) -> None:
        p = self.profile
        if p.kind == "slow":
            for batch in range(self.rng.choice((1, 2))):
                quantity = float(self.rng.randint(10, 200))
                self._move(stock, MovementType.RECEIPT, quantity, at + batch * 20 * DAY)
        else:
            self._move(stock, MovementType.RECEIPT, stock.reorder_point + stock.order_quantity, at)

    # --- one day in one warehouse, in the order the plant works

    def _day(self, stock: Stock, day_index: int, today: date) -> None:
        p = self.profile
        base = datetime.combine(today, datetime.min.time(), UTC)
        factor = p.shift_factor if p.shift_day is not None and day_index >= p.shift_day else 1.0
        mean = p.mean * factor * WEEKDAY[today.weekday()]
        for line in list(stock.purchases.values()):  # 07:00 advance shipping notices
            if line.asn_on == today:
                self._supply(line, stock, self._at(base, 7), InTransitStatus.SHIPPED)
        for line in list(stock.purchases.values()):  # 09:00-11:00 goods receipts
            for arrival, quantity in line.deliveries:
                if arrival == today:
                    at = self._at(base, 9, 2)
                    self._move(stock, MovementType.RECEIPT, quantity, at, line.line_id)
                    line.received += quantity
                    done = line.received >= line.quantity
                    status = InTransitStatus.RECEIVED if done else InTransitStatus.SHIPPED
                    self._supply(line, stock, at + timedelta(minutes=5), status)
                    if done:
                        del stock.purchases[line.line_id]
        if p.kind == "slow":
            if stock.on_hand > 0 and self.rng.random() < p.slow_issue_probability:
                quantity = min(stock.on_hand, self.rng.randint(1, 3))
                self._move(stock, MovementType.ISSUE, quantity, self._at(base, 11, 4))
            return
        self._production(stock, mean, base)
        self._ship_due(stock, today, base)
        if today.weekday() < 5:
            self._new_orders(stock, mean, today, base)
        self._reorder(stock, today, base)

    def _production(self, stock: Stock, mean: float, base: datetime) -> None:
        """11:00-15:00: issues to production, never more than is on the shelf."""
        p = self.profile
        if self.rng.random() >= p.occurrence:
            return
        demand = _gamma_poisson(self.rng, mean * (1 - p.order_share) / p.occurrence, p.shape)
        postings = sorted(self._at(base, 11, 4) for _ in range(min(demand, self.rng.randint(1, 3))))
        left = demand
        for n, at in enumerate(postings):
            later = len(postings) - 1 - n  # postings still to come get at least one unit each
            part = left if not later else self.rng.randint(1, left - later)
            left -= part
            quantity = min(float(part), stock.on_hand)
            if quantity > 0:
                self._move(stock, MovementType.ISSUE, quantity, at)

    def _ship_due(self, stock: Stock, today: date, base: datetime) -> None:
        """15:00: cancel what customers cancelled, then ship due lines as far as stock allows."""
        at = self._at(base, 15)
        for line in list(stock.orders.values()):
            if line.cancel_on == today:
                del stock.orders[line.order_id]
                self._order(line, stock, at, OrderStatus.CANCELLED)
        for line in sorted(stock.orders.values(), key=lambda o: o.due):
            if line.due > today or stock.on_hand <= 0:
                continue
            quantity = min(line.quantity - line.shipped, stock.on_hand)
            line.shipped += quantity
            done = line.shipped >= line.quantity
            status = OrderStatus.SHIPPED if done else OrderStatus.PARTIALLY_SHIPPED
            later = at if self.shipments is Shipments.ATOMIC else at + timedelta(minutes=1)
            if self.shipments is Shipments.LINE_FIRST:
                self._order(line, stock, at, status)
                self._move(stock, MovementType.ISSUE, quantity, later)
            else:
                self._move(stock, MovementType.ISSUE, quantity, at)
                self._order(line, stock, later, status)
            if done:
                del stock.orders[line.order_id]
            at += timedelta(minutes=2)

    def _new_orders(self, stock: Stock, mean: float, today: date, base: datetime) -> None:
        """09:00-17:00 on weekdays: confirmed sales order lines due 2-10 days ahead."""
        p = self.profile
        if not p.order_share:
            return
        size = max(1.0, p.mean * p.order_share * p.order_size_days)
        for _ in range(_poisson(self.rng, mean * p.order_share * 7 / 5 / size)):
            quantity = max(1, round(self.rng.gammavariate(1.5, size / 1.5)))
            if self.rng.random() < 0.04:
                quantity *= 4  # a key account's large order
            due = today + self.rng.randint(2, 10) * DAY
            cancel = today + self.rng.randint(1, (due - today).days - 1) * DAY
            line = OrderLine(
                f"SO-{self._n:06d}", quantity, due, cancel if self.rng.random() < 0.03 else None
            )
            stock.orders[line.order_id] = line
            self._order(line, stock, self._at(base, 9, 8), OrderStatus.CONFIRMED)

    def _reorder(self, stock: Stock, today: date, base: datetime) -> None:
        """18:00: the ERP's static reorder point on the inventory position."""
        p = self.profile
        position = (
            stock.on_hand
            + sum(line.quantity - line.received for line in stock.purchases.values())
            - sum(line.quantity - line.shipped for line in stock.orders.values())
        )
        if position > stock.reorder_point:
            return
        shortfall = max(stock.reorder_point - position, 0)
        quantity = stock.order_quantity + math.ceil(shortfall / p.pack) * p.pack
        actual = max(1, round(p.lead_time * self.rng.lognormvariate(0, 0.2)))
        if self.rng.random() < 0.1:
            actual += self.rng.randint(4, 12)  # the supplier runs late
        arrival = today + actual * DAY
        deliveries = [(arrival, float(quantity))]
        if self.rng.random() < 0.1:  # a split delivery
            first = float(math.ceil(quantity * 0.6))
            deliveries = [
                (arrival, first),
                (arrival + self.rng.randint(3, 7) * DAY, quantity - first),
            ]
        asn = arrival - 2 * DAY if actual >= 4 and self.rng.random() < 0.6 else None
        line = PurchaseLine(
            line_id=f"PO-{self.material_id}-{self._n:06d}",
            supplier_id=self.supplier_id,
            quantity=float(quantity),
            ordered_at=self._at(base, 18),
            eta=today + p.lead_time * DAY,
            deliveries=deliveries,
            asn_on=asn,
        )
        stock.purchases[line.line_id] = line
        self._supply(line, stock, line.ordered_at, InTransitStatus.ORDERED)

    # --- events

    def _id(self) -> str:
        self._n += 1
        return f"{self.material_id}-{self._n}"

    def _at(self, base: datetime, hour: int, span_hours: int = 1) -> datetime:
        return base + timedelta(hours=hour, seconds=self.rng.randrange(span_hours * 3600))

    def _move(
        self,
        stock: Stock,
        movement_type: MovementType,
        quantity: float,
        at: datetime,
        po_line_id: str | None = None,
    ) -> None:
        receipt = movement_type is MovementType.RECEIPT
        stock.on_hand += quantity if receipt else -quantity
        event_id = self._id()
        self.events.append(
            StockMovement(
                event_id=event_id,
                event_time=at,
                material_id=self.material_id,
                movement_type=movement_type,
                warehouse_id=stock.warehouse_id,
                quantity=quantity,
                batch_id=f"B{event_id}" if receipt else None,
                unit_cost=self.profile.unit_cost if receipt else None,
                po_line_id=po_line_id,
            )
        )

    def _order(self, line: OrderLine, stock: Stock, at: datetime, status: OrderStatus) -> None:
        self.events.append(
            SalesOrderLine(
                event_id=self._id(),
                event_time=at,
                material_id=self.material_id,
                order_id=line.order_id,
                line_id="10",
                warehouse_id=stock.warehouse_id,
                quantity=line.quantity,
                shipped_quantity=line.shipped,
                due_date=line.due,
                status=status,
                unit_price=round(self.profile.unit_cost * 1.6, 2),
                customer_id="C-1",
            )
        )

    def _supply(
        self, line: PurchaseLine, stock: Stock, at: datetime, status: InTransitStatus
    ) -> None:
        # An ASN or a partial receipt brings the (next) real arrival date as the ETA.
        coming = [day for day, _ in line.deliveries if day > at.date()]
        eta = line.eta if status is InTransitStatus.ORDERED else (coming or [at.date()])[0]
        self.events.append(
            InTransitLine(
                event_id=self._id(),
                event_time=at,
                material_id=self.material_id,
                line_id=line.line_id,
                supplier_id=line.supplier_id,
                warehouse_id=stock.warehouse_id,
                quantity=line.quantity,
                received_quantity=line.received,
                ordered_at=line.ordered_at,
                eta=max(eta, at.date()),
                status=status,
            )
        )


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth below 30, normal above): the stdlib has none."""
    if lam <= 0:
        return 0
    if lam >= 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _gamma_poisson(rng: random.Random, mean: float, shape: float) -> int:
    """Negative-binomial demand: Poisson with a gamma-distributed rate of mean ``mean``."""
    return _poisson(rng, rng.gammavariate(shape, mean / shape)) if mean > 0 else 0


# --- the replay --------------------------------------------------------------------------------


@dataclass
class Window:
    """The measured stretch of event time."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass
class Tally:
    """What the replay counted, over every material."""

    evaluations: Counter = field(default_factory=Counter)  # "event" / "tick", in the window
    naive_every: Counter = field(default_factory=Counter)  # rule -> firing outcomes
    naive_any: int = 0  # evaluations with at least one firing rule
    naive_hourly: Counter = field(default_factory=Counter)
    naive_daily: set = field(default_factory=set)  # (material, warehouse, rule, day)
    fired_ever: Counter = field(default_factory=Counter)  # rule -> firing outcomes, whole run
    raised_ever: Counter = field(default_factory=Counter)
    transitions: Counter = field(default_factory=Counter)  # (rule, status, notify)
    update_causes: Counter = field(default_factory=Counter)  # (rule, cause)
    severity_moves: Counter = field(default_factory=Counter)  # (rule, "a->b")
    updates_per_alert_day: Counter = field(default_factory=Counter)  # (alert id, day)
    reraised_within_day: Counter = field(default_factory=Counter)  # rule
    undone_next_evaluation: Counter = field(default_factory=Counter)  # rule: raised, then resolved
    repeat_reasons: Counter = field(default_factory=Counter)  # (rule, reason), notified
    durations: defaultdict = field(default_factory=lambda: defaultdict(list))  # rule -> hours
    events: Counter = field(default_factory=Counter)  # event kind, in the window
    kinds: Counter = field(default_factory=Counter)  # material kind
    stocks: int = 0
    fingerprint: Any = field(default_factory=hashlib.sha256)  # of every transition, in order
    apply_ns: list = field(default_factory=list)
    event_eval_ns: list = field(default_factory=list)
    event_round_trip_ns: list = field(default_factory=list)
    tick_replan_ns: list = field(default_factory=list)
    tick_eval_ns: list = field(default_factory=list)
    tick_round_trip_ns: list = field(default_factory=list)
    state_bytes: list = field(default_factory=list)


def ticks(first: datetime, last: datetime) -> Iterator[datetime]:
    """Hourly ticks from ``first`` to ``last`` (exclusive)."""
    moment = first
    while moment < last:
        yield moment
        moment += HOUR


def replay(
    material_id: str,
    events: list,
    rules: RuleFile,
    config: PlanningConfig,
    window: Window,
    tally: Tally | None,
    round_trip: bool = True,
    per_instant: bool = False,
    transitions: list[Alert] | None = None,
) -> tuple[MaterialState, list[str]]:
    """Feed one material's events and hourly ticks to its state; count what happens.

    The rules are evaluated after every event, or with ``per_instant`` once
    after all events of one event time. Returns the final state and the ids
    of every alert transition, in order; ``transitions`` (if given) receives
    the transitions themselves, for the notification benchmark to route.
    """
    state = MaterialState(material_id=material_id)
    last_values: dict[str, dict] = {}
    last_resolved: dict[str, datetime] = {}
    raised_at_evaluation: dict[str, int] = {}
    evaluation = 0
    emitted: list[str] = []
    clock = ticks(START, window.end)
    tick = next(clock, None)
    pending = iter(events)
    event = next(pending, None)
    while event is not None or tick is not None:
        is_event = event is not None and (tick is None or event.event_time <= tick)
        t0 = time.perf_counter_ns()
        if is_event:
            instant = event.event_time
            while event is not None and event.event_time == instant:
                state.apply(MaterialEvent(event=event), config)
                if tally is not None and instant in window:
                    tally.events[event.kind] += 1
                event = next(pending, None)
                if not per_instant:
                    break
            now = state.last_event_time
        else:
            now = max(tick, state.last_event_time) if state.last_event_time else tick
            state.replan(now, config)
            tick = next(clock, None)
        t1 = time.perf_counter_ns()
        alerts = evaluate_alerts(state, rules, now)
        evaluation += 1
        t2 = time.perf_counter_ns()
        if round_trip:
            stored = state.model_dump_json(exclude_computed_fields=True)
            state = MaterialState.model_validate_json(stored)
        t3 = time.perf_counter_ns()
        emitted.extend(f"{a.id}:{a.status}:{int(a.notify)}" for a in alerts)
        if transitions is not None:
            transitions.extend(alerts)
        if tally is None:
            continue
        inside = now in window
        if inside:
            kind = "event" if is_event else "tick"
            tally.evaluations[kind] += 1
            (tally.apply_ns if is_event else tally.tick_replan_ns).append(t1 - t0)
            (tally.event_eval_ns if is_event else tally.tick_eval_ns).append(t2 - t1)
            (tally.event_round_trip_ns if is_event else tally.tick_round_trip_ns).append(t3 - t2)
            if round_trip and is_event:
                tally.state_bytes.append(len(stored))
        _count_naive(state, rules, now, tally, inside, at_tick=not is_event)
        for alert in alerts:
            _count_alert(alert, tally, inside, last_values, last_resolved)
            if alert.status == "raised":
                raised_at_evaluation[alert.alert_id] = evaluation
            elif alert.status == "resolved":
                if inside and raised_at_evaluation.get(alert.alert_id) == evaluation - 1:
                    tally.undone_next_evaluation[alert.rule_id] += 1
                raised_at_evaluation.pop(alert.alert_id, None)
    return state, emitted


def _count_naive(
    state: MaterialState, rules: RuleFile, now: datetime, tally: Tally, inside: bool, at_tick: bool
) -> None:
    """A status-quo system: every firing rule is a notification, at every check."""
    fired_here = False
    for warehouse_id, stock in state.warehouses.items():
        scope = scope_of(state, warehouse_id)
        for outcome in evaluate_all(rules, warehouse_facts(state, stock, now), scope):
            if not outcome.firing:
                continue
            tally.fired_ever[outcome.rule_id] += 1
            if not inside:
                continue
            fired_here = True
            tally.naive_every[outcome.rule_id] += 1
            if at_tick:
                tally.naive_hourly[outcome.rule_id] += 1
            tally.naive_daily.add((state.material_id, warehouse_id, outcome.rule_id, now.date()))
    tally.naive_any += fired_here


def _count_alert(
    alert: Alert,
    tally: Tally,
    inside: bool,
    last_values: dict[str, dict],
    last_resolved: dict[str, datetime],
) -> None:
    """The lifecycle's transitions, and why each update happened."""
    rule, status, values = alert.rule_id, alert.status, alert.explanation.values
    tally.fingerprint.update(f"{alert.id}:{status}:{alert.notify};".encode())
    previous = last_values.get(alert.alert_id, {})
    if status == "raised":
        tally.raised_ever[rule] += 1
    if inside:
        tally.transitions[rule, status, alert.notify] += 1
        if status == "repeated" and alert.notify:
            tally.repeat_reasons[rule, alert.reason] += 1
        if status == "updated":
            tally.updates_per_alert_day[alert.alert_id, alert.at.date()] += 1
            if alert.reason == "severity":
                tally.severity_moves[rule, f"{alert.previous_severity}->{alert.severity}"] += 1
                tally.update_causes[rule, "severity"] += 1
            else:
                moved = [n for n in values if values_changed(previous, values, [n])]
                tally.update_causes[rule, "+".join(sorted(moved)) or "?"] += 1
        if status == "raised":
            resolved_at = last_resolved.get(alert.key)
            if resolved_at is not None and alert.at - resolved_at < DAY:
                tally.reraised_within_day[rule] += 1
        if status == "resolved":
            tally.durations[rule].append((alert.at - alert.raised_at).total_seconds() / 3600)
    if status == "resolved":
        last_resolved[alert.key] = alert.at
        last_values.pop(alert.alert_id, None)
    else:
        last_values[alert.alert_id] = dict(values)


# --- cost of one evaluation --------------------------------------------------------------------


def per_call_us(fn: Callable[[], object], rounds: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of the mean time of one call, in µs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter_ns() - start) / rounds / 1_000)
    return min(samples)


def evaluation_split(state: MaterialState, rules: RuleFile, now: datetime) -> dict[str, float]:
    """µs of one ``evaluate_alerts`` call on ``state`` and of its parts, steady state."""
    state = MaterialState.model_validate_json(state.model_dump_json(exclude_computed_fields=True))
    evaluate_alerts(state, rules, now)  # settle: later calls at the same time change nothing
    warehouse_id, stock = next(iter(state.warehouses.items()))
    scope = scope_of(state, warehouse_id)
    facts = warehouse_facts(state, stock, now)
    outcomes = evaluate_all(rules, facts, scope)
    book = state.alerts.model_copy(deep=True)
    settings = rules.alert_settings()
    rounds = 2_000
    total = per_call_us(lambda: evaluate_alerts(state, rules, now), rounds)
    parts = {
        "warehouse_facts": per_call_us(lambda: warehouse_facts(state, stock, now), rounds),
        "evaluate_all": per_call_us(lambda: evaluate_all(rules, facts, scope), rounds),
        "AlertBook.step": per_call_us(
            lambda: book.step(outcomes, scope, now, settings, rules.inhibit), rounds
        ),
    }
    parts["rest (settings, retire_rules, Alert objects)"] = max(total - sum(parts.values()), 0.0)
    return {"evaluate_alerts": total, **parts}


# --- report --------------------------------------------------------------------------------------


def _stats(samples_ns: list[int]) -> tuple[float, float, float]:
    """Mean, median and 99th percentile, in µs."""
    if not samples_ns:
        return math.nan, math.nan, math.nan
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return statistics.fmean(ordered) / 1e3, ordered[len(ordered) // 2] / 1e3, p99 / 1e3


@dataclass(frozen=True)
class Run:
    """The arguments of one run, for the report."""

    materials: int
    days: int
    warmup: int
    seed: int
    shipments: Shipments
    rules: str


def report(
    tally: Tally,
    rules: RuleFile,
    run: Run,
    split: dict[str, float],
    typical: str,
    round_trip_check: str,
    elapsed: float,
) -> None:
    """Print the tables."""
    materials, days = run.materials, run.days
    scale = MONTH_DAYS / days / materials

    def per(count: float) -> str:
        return f"{count * scale:,.1f}"

    workload = Table(
        title=f"Workload: {materials} materials, seed {run.seed}, shipments {run.shipments}, "
        f"rules {run.rules}",
        title_justify="left",
    )
    workload.add_column("what")
    workload.add_column("value", justify="right")
    mix = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.kinds.items()))
    workload.add_row("materials by kind", mix)
    workload.add_row("stocks (material, warehouse)", str(tally.stocks))
    workload.add_row(
        "event time", f"{run.warmup} days warm-up + {days} days measured from {START:%Y-%m-%d}"
    )
    for kind, count in sorted(tally.events.items()):
        workload.add_row(f"{kind} events / material / month", per(count))
    workload.add_row(
        "evaluations after an event / material / month", per(tally.evaluations["event"])
    )
    workload.add_row(
        "evaluations at an hourly tick / material / month", per(tally.evaluations["tick"])
    )
    console.print(workload)

    table = Table(
        title="Alerts per material per month: without lifecycle (status quo) and with it",
        title_justify="left",
        caption="naive: every firing rule at every evaluation / at every hourly check / once "
        "per day; lifecycle: transitions with notify; received = raised + updated + repeated; "
        "suppr.: transitions not notified (inhibited or silenced)",
        caption_justify="left",
    )
    for column in (
        "rule",
        "naive\nper eval",
        "naive\nhourly",
        "naive\nper day",
        "raised",
        "updated",
        "repeated",
        "resolved",
        "received",
        "suppr.",
        "per eval\n÷ received",
        "per day\n÷ received",
    ):
        table.add_column(column, justify="left" if column == "rule" else "right")
    daily = Counter(rule for _, _, rule, _ in tally.naive_daily)
    totals: Counter = Counter()
    for rule in [r.id for r in rules.enabled_rules]:
        row = {
            "every": tally.naive_every[rule],
            "hourly": tally.naive_hourly[rule],
            "daily": daily[rule],
            **{s: tally.transitions[rule, s, True] for s in ("raised", "updated", "repeated")},
            "resolved": tally.transitions[rule, "resolved", True],
            "suppressed": sum(tally.transitions[rule, s, False] for s in _STATUSES),
        }
        row["received"] = row["raised"] + row["updated"] + row["repeated"]
        totals.update(row)
        table.add_row(rule, *_cells(row, per))
    table.add_section()
    table.add_row("all rules", *_cells(totals, per), style="bold")
    console.print(table)
    console.print(
        f"evaluations with at least one firing rule: {per(tally.naive_any)} / material / month "
        f"(of {per(sum(tally.evaluations.values()))} evaluations)"
    )

    diagnostics = Table(title="Lifecycle behaviour in the measured month", title_justify="left")
    diagnostics.caption = (
        "fired / raised: whole run incl. warm-up; the rest: measured month. undone: raised, then "
        "resolved at the very next evaluation; repeated: after the repeat interval / when an "
        "inhibition or silence ended; updated because of: the facts that moved > 10 % "
        "(severity changes in parentheses)"
    )
    diagnostics.caption_justify = "left"
    for column in (
        "rule",
        "fired\nevaluations",
        "raised\nalerts",
        "re-raised\n< 24 h",
        "undone",
        "resolved\nalerts",
        "median\nopen h",
        "open\n< 1 h",
        "repeated\ninterval/unsupp.",
        "updated because of",
    ):
        justify = "left" if column in ("rule", "updated because of") else "right"
        diagnostics.add_column(column, justify=justify)
    for rule in [r.id for r in rules.enabled_rules]:
        durations = tally.durations[rule]
        causes = sorted(
            ((cause, n) for (r, cause), n in tally.update_causes.items() if r == rule),
            key=lambda item: -item[1],
        )
        moves = [f"{m} {n}" for (r, m), n in sorted(tally.severity_moves.items()) if r == rule]
        text = ", ".join(f"{cause} {n}" for cause, n in causes[:4])
        if moves:
            text += f" ({', '.join(moves)})"
        text = escape(text)
        diagnostics.add_row(
            rule,
            f"{tally.fired_ever[rule]:,}",
            f"{tally.raised_ever[rule]:,}",
            f"{tally.reraised_within_day[rule]:,}",
            f"{tally.undone_next_evaluation[rule]:,}",
            f"{len(durations):,}",
            f"{statistics.median(durations):,.1f}" if durations else "-",
            f"{sum(d < 1 for d in durations):,}",
            f"{tally.repeat_reasons[rule, 'repeat_interval']:,}"
            f"/{tally.repeat_reasons[rule, 'unsuppressed']:,}",
            text or "-",
        )
    console.print(diagnostics)
    flips = []
    for rule in [r.id for r in rules.enabled_rules]:
        up = down = 0
        for (r, move), n in tally.severity_moves.items():
            if r != rule:
                continue
            before, after = move.split("->")
            if _TIERS.index(after) > _TIERS.index(before):
                up += n
            else:
                down += n
        if up or down:
            flips.append(f"{rule} {up + down} (up {up}, down {down}; {per(up + down)} / material)")
    console.print(
        "severity changes in the measured month, all materials: "
        + ("; ".join(flips) if flips else "none")
    )
    per_day = tally.updates_per_alert_day.values()
    if per_day:
        busiest = tally.updates_per_alert_day.most_common(1)[0]
        console.print(
            f"updates per alert per day: mean {statistics.fmean(per_day):.2f}, max {busiest[1]} "
            f"(alert {busiest[0][0]} on {busiest[0][1]}); alert-days with >= 3 updates: "
            f"{sum(n >= 3 for n in per_day)} of {len(per_day)}"
        )

    unit = (
        "instant (all events of one event time)" if run.shipments is Shipments.ATOMIC else "event"
    )
    cost = Table(
        title=f"Cost of the core in the replay, µs per {unit} and per hourly tick",
        title_justify="left",
    )
    for column in ("step", "mean", "p50", "p99", "calls"):
        cost.add_column(column, justify="left" if column == "step" else "right")
    event_total = [
        a + b + c
        for a, b, c in zip(
            tally.apply_ns, tally.event_eval_ns, tally.event_round_trip_ns, strict=True
        )
    ]
    tick_total = [
        a + b + c
        for a, b, c in zip(
            tally.tick_replan_ns, tally.tick_eval_ns, tally.tick_round_trip_ns, strict=True
        )
    ]
    for name, samples in (
        ("event: apply (incl. replan)", tally.apply_ns),
        ("event: evaluate_alerts", tally.event_eval_ns),
        ("event: state JSON round trip", tally.event_round_trip_ns),
        ("event: whole core", event_total),
        ("tick: replan", tally.tick_replan_ns),
        ("tick: evaluate_alerts", tally.tick_eval_ns),
        ("tick: state JSON round trip", tally.tick_round_trip_ns),
        ("tick: whole core", tick_total),
    ):
        mean, p50, p99 = _stats(samples)
        style = "bold" if name.endswith("whole core") else None
        cost.add_row(
            name, f"{mean:,.0f}", f"{p50:,.0f}", f"{p99:,.0f}", f"{len(samples):,}", style=style
        )
    console.print(cost)
    if tally.state_bytes:
        console.print(
            f"stored state: mean {statistics.fmean(tally.state_bytes):,.0f} B, "
            f"max {max(tally.state_bytes):,} B per material"
        )

    parts = Table(
        title=f"One evaluate_alerts call on a typical material ({typical}), steady state",
        title_justify="left",
    )
    parts.add_column("part")
    parts.add_column("µs / call", justify="right")
    parts.add_column("share", justify="right")
    total = split["evaluate_alerts"]
    for name, value in split.items():
        parts.add_row(
            name,
            f"{value:.1f}",
            f"{value / total:.0%}",
            style="bold" if name == "evaluate_alerts" else None,
        )
    console.print(parts)
    console.print(round_trip_check)
    console.print(
        f"alert transitions fingerprint: {tally.fingerprint.hexdigest()[:16]} "
        f"(same seed and arguments give the same); {elapsed:.0f} s"
    )


_STATUSES = ("raised", "updated", "repeated", "resolved")
_TIERS = ("info", "warning", "critical")


def _cells(row: dict, per: Callable[[float], str]) -> list[str]:
    ratios = [row[k] / row["received"] if row["received"] else math.nan for k in ("every", "daily")]
    return [
        per(row["every"]),
        per(row["hourly"]),
        per(row["daily"]),
        per(row["raised"]),
        per(row["updated"]),
        per(row["repeated"]),
        per(row["resolved"]),
        per(row["received"]),
        per(row["suppressed"]),
        *("-" if math.isnan(ratio) else f"{ratio:,.1f}x" for ratio in ratios),
    ]


def main(
    materials: Annotated[int, typer.Option(min=1, help="Materials to simulate.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Measured days (a month: 30).")] = 30,
    warmup: Annotated[int, typer.Option(min=14, help="Days before the measured ones.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 4,
    shipments: Annotated[
        Shipments, typer.Option(help="Order of a shipment's goods issue and order line update.")
    ] = Shipments.ISSUE_FIRST,
    rules_file: Annotated[
        Path | None,
        typer.Option("--rules", help="A rules file laid over the built-in pack (what-if)."),
    ] = None,
    check_round_trip: Annotated[
        int, typer.Option(min=0, help="Materials replayed again without the JSON round trip.")
    ] = 2,
) -> None:
    """Alerts per material per simulated month, with and without the alert lifecycle."""
    started = time.perf_counter()
    rules = load_rules(rules_file, base=builtin_rules()) if rules_file else builtin_rules()
    config = PlanningConfig()
    window = Window(START + warmup * DAY, START + (warmup + days) * DAY)
    per_instant = shipments is Shipments.ATOMIC
    tally = Tally()
    typical: tuple[MaterialState, datetime] | None = None
    streams: list[tuple[str, list]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("replaying materials", total=materials)
        for index in range(materials):
            sim = MaterialSim(index, seed, warmup, days, shipments)
            events = sim.run()
            tally.kinds[sim.profile.kind] += 1
            tally.stocks += len(sim.stocks)
            state, _ = replay(
                sim.material_id, events, rules, config, window, tally, per_instant=per_instant
            )
            if typical is None and sim.profile.kind == "smooth" and len(sim.stocks) == 1:
                typical = (state, window.end)
            if len(streams) < check_round_trip:
                streams.append((sim.material_id, events))
            progress.advance(task)
    same = all(
        replay(m, e, rules, config, window, None, per_instant=per_instant)[1]
        == replay(m, e, rules, config, window, None, False, per_instant)[1]
        for m, e in streams
    )
    check = (
        f"round-trip check: {len(streams)} material(s) replayed with and without the state's "
        f"JSON round trip give {'identical' if same else 'DIFFERENT'} alert transitions"
    )
    split = (
        evaluation_split(typical[0], rules, typical[1])
        if typical
        else {"evaluate_alerts": math.nan}
    )
    report(
        tally,
        rules,
        Run(materials, days, warmup, seed, shipments, str(rules_file or "built-in")),
        split,
        typical[0].material_id if typical else "-",
        check,
        time.perf_counter() - started,
    )


if __name__ == "__main__":
    typer.run(main)
