"""Static min/max and reorder-point policies: the ERP practice a backtest holds stockloop against.

An ERP's nightly planning run looks at each warehouse's position (on hand
plus open supply) and, when it is at or below the minimum, orders up to the
maximum. The parameters are set once and left alone, which is the point of
the comparison: demand moves, they do not.

Two ways of setting them are compared:

- ``erp_min_max``: the usual rule of thumb, minimum = lead-time demand at the
  average daily demand, maximum = minimum + a month of demand;
- ``tune_reorder_point``: the smallest reorder point (as a multiple of
  lead-time demand, same month-sized lot) that reached the target fill rate
  when simulated on the history before the test window: the best a planner
  could have set it with hindsight of that history.

``run_static`` plays one policy over a material's events in event time. With
``act`` it orders (lead times drawn by the caller's seeded ``LeadTimeDraw``)
and its orders are the only new supply; without, the recorded supply stands
and the policy only warns (an alert raised when the position falls to the
minimum), as a min/max report would.
"""

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from models.events import InputEvent, MovementType, StockMovement
from models.service_metrics import Ledger, WarehouseLedger

LOT_DAYS = 30
"""A static policy's lot: a month of average demand."""
TUNING_MULTIPLIERS = tuple(k / 4 for k in range(1, 17))
"""Reorder points tried when tuning, as multiples of lead-time demand: 0.25 to 4."""
TUNING_LEAD_TIMES = 20
"""A tuning run covers at least this many lead times of the history's demand, repeated."""


@dataclass(frozen=True)
class MinMax:
    """Order up to ``maximum`` when the position is at or below ``minimum``.

    >>> erp_min_max(daily_demand=4, lead_time_days=10)
    MinMax(minimum=40, maximum=160)
    """

    minimum: float
    maximum: float

    @property
    def lot(self) -> float:
        """What an order adds when the position is exactly at the minimum."""
        return self.maximum - self.minimum


def erp_min_max(daily_demand: float, lead_time_days: float) -> MinMax:
    """The ERP's usual parameters: minimum = lead-time demand, maximum = minimum + a month."""
    minimum = daily_demand * lead_time_days
    return MinMax(minimum=minimum, maximum=minimum + daily_demand * LOT_DAYS)


class LeadTimeDraw:
    """Seeded supplier lead times in whole days: normal around the mean, at least one day.

    >>> draw = LeadTimeDraw(10, 0, random.Random(1))
    >>> draw(), draw()
    (10, 10)
    """

    def __init__(self, mean: float, sigma: float, rng: random.Random) -> None:
        self.mean, self.sigma, self.rng = mean, sigma, rng

    def __call__(self) -> int:
        return max(1, round(self.rng.gauss(self.mean, self.sigma)))


@dataclass
class StaticRun:
    """What a static policy did: its shelf, the alerts it would have raised, its orders."""

    ledger: Ledger
    warnings: dict[str, list[datetime]] = field(default_factory=dict)
    alert_events: int = 0
    alerts_raised: int = 0
    orders: int = 0
    order_value: float = 0.0


@dataclass(order=True)
class _Arrival:
    at: datetime
    line_id: str
    warehouse_id: str = field(compare=False)
    quantity: float = field(compare=False)


def run_static(
    events: Sequence[InputEvent],
    ledger: Ledger,
    levels: dict[str, MinMax],
    act: bool,
    draw: LeadTimeDraw,
    end: datetime,
    unit_cost: float = 0.0,
    pack_size: float = 1.0,
) -> StaticRun:
    """Play ``events`` (in event-time order) through ``ledger`` under one static policy.

    The nightly run looks at every warehouse that has ``levels``; with
    ``act`` it orders ``maximum - position`` rounded up to ``pack_size``,
    received ``draw()`` days later at half past midnight.
    """
    run = StaticRun(ledger=ledger)
    arrivals: list[_Arrival] = []
    open_alerts: set[str] = set()
    zone = end.tzinfo

    def nightly(day: date, warehouse_id: str, stock: WarehouseLedger) -> None:
        level = levels.get(warehouse_id)
        if level is None or level.maximum <= 0:
            return
        night = datetime.combine(day + timedelta(days=1), time(), zone)
        position = stock.position
        if position <= level.minimum:
            if warehouse_id not in open_alerts:
                open_alerts.add(warehouse_id)
                if ledger.in_window:
                    run.alert_events += 1
                    run.alerts_raised += 1
                    run.warnings.setdefault(warehouse_id, []).append(night)
            quantity = math.ceil((level.maximum - position) / pack_size - 1e-9) * pack_size
            if act and quantity > 0 and ledger.in_window:
                run.orders += 1
                run.order_value += quantity * unit_cost
                line_id = f"static-{warehouse_id}-{run.orders}"
                stock.open_supply[line_id] = quantity
                arrival = night + timedelta(days=draw(), minutes=30)
                heapq.heappush(arrivals, _Arrival(arrival, line_id, warehouse_id, quantity))
        elif warehouse_id in open_alerts:
            open_alerts.discard(warehouse_id)
            run.alert_events += ledger.in_window

    def advance(moment: datetime) -> None:
        while True:
            target = arrivals[0].at if arrivals and arrivals[0].at <= moment else moment
            if ledger.day is not None:
                midnight = datetime.combine(ledger.day + timedelta(days=1), time(), zone)
                if target > midnight:
                    ledger.roll_to(midnight, nightly)
                    continue
            ledger.roll_to(target, nightly)
            if arrivals and arrivals[0].at <= moment:
                arrival = heapq.heappop(arrivals)
                ledger.receive(arrival.warehouse_id, arrival.quantity, arrival.at, arrival.line_id)
                continue
            return

    for event in events:
        advance(event.event_time)
        ledger.apply(event)
    advance(end)
    return run


def tune_reorder_point(
    demand: Sequence[StockMovement],
    warehouse_id: str,
    daily_demand: float,
    lead_time_days: float,
    target_fill_rate: float,
    draw_seed: str,
    lead_time_sigma: float,
) -> MinMax:
    """The smallest reorder point that met ``target_fill_rate`` on the history's demand.

    The history's issues are played again and again until they cover
    ``TUNING_LEAD_TIMES`` lead times (a short warm-up would otherwise be
    served from the opening stock alone), starting at the reorder point, with
    the same seeded lead times for every candidate, so that candidates differ
    by their reorder point only. If none reaches the target, the largest.
    """
    issues = [
        m
        for m in demand
        if m.warehouse_id == warehouse_id and m.movement_type is MovementType.ISSUE
    ]
    lead_time_demand = daily_demand * lead_time_days
    if not issues or lead_time_demand <= 0:
        return MinMax(0.0, 0.0)
    candidates = [
        MinMax(k * lead_time_demand, k * lead_time_demand + daily_demand * LOT_DAYS)
        for k in TUNING_MULTIPLIERS
    ]
    played = _repeated(issues, TUNING_LEAD_TIMES * lead_time_days)
    start, end = played[0].event_time, played[-1].event_time
    for level in candidates:
        ledger = Ledger(window_start=start)
        ledger.roll_to(start)
        ledger.receive(warehouse_id, level.minimum, start, None)
        draw = LeadTimeDraw(lead_time_days, lead_time_sigma, random.Random(draw_seed))
        run = run_static(played, ledger, {warehouse_id: level}, True, draw, end)
        stock = run.ledger.warehouses[warehouse_id]
        if stock.demand <= 0 or stock.filled / stock.demand >= target_fill_rate:
            return level
    return candidates[-1]


def _repeated(issues: list[StockMovement], days: float) -> list[StockMovement]:
    """The issues, then again shifted by their span (plus a day), until they cover ``days``."""
    first = issues[0].event_time
    span = issues[-1].event_time.date() - first.date() + timedelta(days=1)
    played, shift = list(issues), span
    while (played[-1].event_time - first).days < days:
        played += [m.model_copy(update={"event_time": m.event_time + shift}) for m in issues]
        shift += span
    return played
