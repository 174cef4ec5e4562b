"""Inventory health: what each material adds to the manager's one-page view of stock.

The article's step 4 dashboard (value on hand, age distribution, dead stock,
risk by warehouse and category, capital tied up) is a sum over materials.
``health_of`` says what one material adds (``MaterialHealth``: one
``Totals`` per warehouse, its open alerts and purchase requests); a
``HealthSummary`` adds these up by cell (warehouse x category x ABC class).

A summary is kept incrementally: when a material changes, its old
contribution is subtracted and its new one added (``HealthSummary.replace``).
That is exact only if the sums are: so ``Totals`` holds integers (money in
cents, quantities in micro-units, as ``models.state`` rounds them), and
incremental, recomputed and merged summaries are equal, in any order
(``tests/unit/models/test_health.py``).

Ages are measured at the material's own event time (``applied_through``,
else its last event), never the wall clock, so a contribution is a pure
function of the stored state: the same state always adds the same numbers.
"""

import math
import operator
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from models.alerting import VALUE_AT_RISK
from models.priority import risk_kind
from models.purchasing import OPEN_STATUSES
from models.state import MaterialState, WarehouseStock
from models.stock_flow import (
    TREND_DAYS,
    FlowSums,
    annualised,
    fill_rate,
    stockout_rate,
    supply_days,
    turnover,
)

AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("0-30", 30.0),
    ("30-90", 90.0),
    ("90-180", 180.0),
    ("180+", math.inf),
)
"""Age buckets of stock on the shelf (days since a batch's receipt), each up to its bound."""

DEAD_AFTER_DAYS = 90.0
"""Stock not issued for this long is dead stock (built-in `dead_stock` rule, `dead_days`)."""

SEVERITIES = ("critical", "warning", "info")
"""Open alert severities, worst first."""

_BOUNDS = tuple(bound for _, bound in AGE_BUCKETS)

REQUEST_STATES = tuple(s.value for s in sorted(OPEN_STATUSES))
"""States of a purchase request still to be ordered (closed ones leave the material's state)."""

NONE = "-"
"""The category or ABC class of a material whose master does not name one."""

CellKey = tuple[str, str, str]
"""A summary cell: (warehouse_id, category, abc_class)."""


def cents(amount: float) -> int:
    """Money as whole cents, the unit summaries add exactly.

    >>> cents(12.35), cents(-0.004)
    (1235, 0)
    """
    return round(amount * 100) + 0


def micro(quantity: float) -> int:
    """A quantity as micro-units (``models.state`` rounds quantities to six decimals).

    >>> micro(2.5)
    2500000
    """
    return round(quantity * 1_000_000) + 0


class Totals(NamedTuple):
    """Inventory-health numbers of some stock, as integers that add and subtract exactly.

    Money is in cents, quantities in micro-units, ``daily_demand_value`` in
    cents per day. ``stock_items`` counts (material, warehouse) pairs: a
    material stocked in two warehouses is two items.
    """

    stock_items: int = 0
    value: int = 0
    quantity: int = 0
    value_0_30: int = 0
    value_30_90: int = 0
    value_90_180: int = 0
    value_180_plus: int = 0
    quantity_0_30: int = 0
    quantity_30_90: int = 0
    quantity_90_180: int = 0
    quantity_180_plus: int = 0
    dead_stock_items: int = 0
    dead_stock_value: int = 0
    daily_demand_value: int = 0
    alerts_critical: int = 0
    alerts_warning: int = 0
    alerts_info: int = 0
    value_at_risk: int = 0
    requests_proposed: int = 0
    requests_pending_approval: int = 0
    requests_approved: int = 0
    requested_amount: int = 0
    issued_30d: int = 0
    value_days_30d: int = 0
    short_30d: int = 0
    out_days_30d: int = 0
    stock_days_30d: int = 0
    issued_prev_30d: int = 0
    value_days_prev_30d: int = 0
    short_prev_30d: int = 0
    out_days_prev_30d: int = 0
    stock_days_prev_30d: int = 0
    issued_90d: int = 0
    value_days_90d: int = 0
    issued_365d: int = 0
    value_days_365d: int = 0

    def plus(self, other: "Totals") -> "Totals":
        """The totals of both."""
        return Totals(*map(operator.add, self, other))

    def minus(self, other: "Totals") -> "Totals":
        """These totals without ``other``'s."""
        return Totals(*map(operator.sub, self, other))

    def report(self) -> dict[str, object]:
        """The numbers for people and the dashboard: money in currency units, ages by bucket.

        Days of supply is value on hand over the value of a day's forecast
        demand (None without demand); dead-stock share is of value on hand.
        The flow figures (``models.stock_flow``) are ratios of the summed
        numbers: turnover over 30, 90 and 365 days and the 30 days before
        the last 30; fill rate, stock-out rate and days of supply looking
        back over the last 30 days and the 30 before.

        >>> t = Totals(stock_items=1, value=50_000, quantity=10_000_000, value_0_30=50_000,
        ...     quantity_0_30=10_000_000, daily_demand_value=2_500)
        >>> r = t.report()
        >>> r["value_on_hand"], r["days_of_supply"], r["age"][0]
        (500.0, 20.0, {'bucket': '0-30', 'quantity': 10.0, 'value': 500.0})
        """
        values = (self.value_0_30, self.value_30_90, self.value_90_180, self.value_180_plus)
        quantities = (
            self.quantity_0_30,
            self.quantity_30_90,
            self.quantity_90_180,
            self.quantity_180_plus,
        )
        return {
            "stock_items": self.stock_items,
            "value_on_hand": self.value / 100,
            "quantity_on_hand": self.quantity / 1_000_000,
            "age": [
                {"bucket": bucket, "quantity": q / 1_000_000, "value": v / 100}
                for (bucket, _), q, v in zip(AGE_BUCKETS, quantities, values, strict=True)
            ],
            "dead_stock": {
                "items": self.dead_stock_items,
                "value": self.dead_stock_value / 100,
                "share": round(self.dead_stock_value / self.value, 6) if self.value > 0 else 0.0,
            },
            "days_of_supply": (
                round(self.value / self.daily_demand_value, 2)
                if self.daily_demand_value > 0
                else None
            ),
            "open_alerts": {
                "critical": self.alerts_critical,
                "warning": self.alerts_warning,
                "info": self.alerts_info,
            },
            "value_at_risk": self.value_at_risk / 100,
            "requests": {
                "proposed": self.requests_proposed,
                "pending_approval": self.requests_pending_approval,
                "approved": self.requests_approved,
                "amount": self.requested_amount / 100,
            },
            "turnover": {
                "30d": _turnover(self.issued_30d, self.value_days_30d, 30),
                "90d": _turnover(self.issued_90d, self.value_days_90d, 90),
                "365d": _turnover(self.issued_365d, self.value_days_365d, 365),
                "previous_30d": _turnover(self.issued_prev_30d, self.value_days_prev_30d, 30),
            },
            "fill_rate": {
                "last_30d": _rounded(fill_rate(self.issued_30d, self.short_30d)),
                "previous_30d": _rounded(fill_rate(self.issued_prev_30d, self.short_prev_30d)),
            },
            "stockout_rate": {
                "last_30d": _rounded(stockout_rate(self.out_days_30d, self.stock_days_30d)),
                "previous_30d": _rounded(
                    stockout_rate(self.out_days_prev_30d, self.stock_days_prev_30d)
                ),
                "out_days": self.out_days_30d,
                "stock_days": self.stock_days_30d,
            },
            "supply_days": {
                "last_30d": _rounded(
                    supply_days(self.value_days_30d, self.issued_30d, self.short_30d), 2
                ),
                "previous_30d": _rounded(
                    supply_days(
                        self.value_days_prev_30d, self.issued_prev_30d, self.short_prev_30d
                    ),
                    2,
                ),
            },
        }

    @property
    def worst_severity(self) -> str | None:
        """The worst severity among the open alerts counted here, None without any."""
        counts = (self.alerts_critical, self.alerts_warning, self.alerts_info)
        return next((s for s, n in zip(SEVERITIES, counts, strict=True) if n), None)


ZERO = Totals()


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits) + 0.0


def _turnover(issued: int, value_days: int, days: int) -> dict[str, float | None]:
    """A window's turnover: issued value, average value, turns in the window and per year."""
    return {
        "issued_value": issued / 100,
        "average_value": round(value_days / days / 100, 2),
        "turns": _rounded(turnover(issued, value_days, days)),
        "annualised": _rounded(annualised(issued, value_days)),
    }


class AlertRow(BaseModel):
    """An open alert as the dashboard and ``stockloop alerts open`` list it: ranked by money.

    ``why`` and ``made_of`` are its last transition's explanation and value
    at risk in parts (``models.priority.ValueAtRisk``), ``updated_at`` the
    event time its numbers were last published; an alert opened before the
    book kept them has them empty.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    material_id: str
    warehouse_id: str
    rule_id: str
    severity: str
    value_at_risk: float = Field(description="As last published on the alert.")
    active_since: datetime
    updated_at: datetime | None = None
    values: dict[str, float | None] = Field(default_factory=dict)
    why: str = ""
    made_of: dict[str, float] = Field(default_factory=dict)
    acknowledged_by: str | None = None
    silenced: bool = False
    inhibited: bool = False


class RequestRow(BaseModel):
    """A purchase request still to be ordered, as the dashboard lists it."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    material_id: str
    warehouse_id: str
    status: str
    quantity: float
    amount: float
    needed_by: date | None
    at: datetime
    approver: str | None = None
    explanation: str = ""


class MaterialHealth(BaseModel):
    """What one material adds to the inventory-health summary: a ``Totals`` per warehouse.

    Also the row behind any summary cell: its category, ABC class, alerts
    and requests say which filters it matches.
    """

    model_config = ConfigDict(frozen=True)

    material_id: str
    name: str | None = None
    category: str = NONE
    abc_class: str = NONE
    as_of: datetime | None = Field(None, description="Event time its ages are measured at.")
    stocks: dict[str, Totals] = Field(default_factory=dict)
    alerts: tuple[AlertRow, ...] = ()
    requests: tuple[RequestRow, ...] = ()

    def cells(self) -> dict[CellKey, Totals]:
        """Its totals by summary cell (one per warehouse)."""
        return {(w, self.category, self.abc_class): t for w, t in self.stocks.items()}

    def totals(self, warehouse_id: str | None = None) -> Totals:
        """Its totals over every warehouse, or one."""
        if warehouse_id is not None:
            return self.stocks.get(warehouse_id, ZERO)
        total = ZERO
        for totals in self.stocks.values():
            total = total.plus(totals)
        return total


def health_of(state: MaterialState, dead_after_days: float = DEAD_AFTER_DAYS) -> MaterialHealth:
    """What a material adds to the inventory-health summary, at its own event time.

    Value and age come from the FIFO batches on the shelf at their receipt
    cost; quantity on hand is the position's (it may be negative). Dead
    stock: stock on hand whose last issue (else oldest receipt) is at least
    ``dead_after_days`` old, the whole shelf's value. Value at risk: per
    warehouse, the largest open alert's of each risk kind, added over kinds
    (two shortage rules price the same unserved orders; count them once).

    >>> from datetime import UTC, timedelta
    >>> from models.state import Batch
    >>> now = datetime(2026, 6, 1, tzinfo=UTC)
    >>> state = MaterialState(material_id="M1", applied_through=now)
    >>> state.warehouses["W1"] = WarehouseStock(on_hand=30, batches=[
    ...     Batch(batch_id=None, received_at=now - timedelta(days=200), quantity=10, unit_cost=2),
    ...     Batch(batch_id=None, received_at=now - timedelta(days=5), quantity=20, unit_cost=3)])
    >>> r = health_of(state).totals().report()
    >>> r["value_on_hand"], [a["value"] for a in r["age"]], r["dead_stock"]["value"]
    (80.0, [60.0, 0.0, 0.0, 20.0], 80.0)
    """
    master = state.master
    now = state.applied_through or state.last_event_time
    stocks = {
        warehouse_id: _stock_totals(state, warehouse_id, stock, now, dead_after_days)
        for warehouse_id, stock in state.warehouses.items()
    }
    return MaterialHealth(
        material_id=state.material_id,
        name=master.name if master else None,
        category=(master.category if master else None) or NONE,
        abc_class=(master.abc_class if master and master.abc_class else None) or NONE,
        as_of=now,
        stocks=stocks,
        alerts=tuple(
            AlertRow(
                key=key,
                material_id=state.material_id,
                warehouse_id=alert.warehouse_id,
                rule_id=alert.rule_id,
                severity=alert.severity,
                value_at_risk=alert.values.get(VALUE_AT_RISK) or 0.0,
                active_since=alert.active_since,
                updated_at=alert.updated_at,
                values=alert.values,
                why=alert.why,
                made_of=alert.made_of,
                acknowledged_by=alert.acknowledged_by,
                silenced=alert.silenced,
                inhibited=alert.inhibited,
            )
            for key, alert in sorted(state.alerts.alerts.items())
        ),
        requests=tuple(
            RequestRow(
                request_id=r.request_id,
                material_id=state.material_id,
                warehouse_id=r.warehouse_id,
                status=r.status.value,
                quantity=r.quantity,
                amount=r.amount,
                needed_by=r.needed_by,
                at=r.at,
                approver=r.approver,
                explanation=r.explanation,
            )
            for _, r in sorted(state.requests.open.items())
        ),
    )


def _stock_totals(
    state: MaterialState,
    warehouse_id: str,
    stock: WarehouseStock,
    now: datetime | None,
    dead_after_days: float,
) -> Totals:
    ages = [0] * 8
    shelved = 0.0
    for batch in stock.batches:
        age = batch.age_days(now) if now else 0.0
        bucket = 0
        while age >= _BOUNDS[bucket]:
            bucket += 1
        ages[bucket] += cents(batch.quantity * batch.unit_cost)
        ages[4 + bucket] += micro(batch.quantity)
        shelved += batch.quantity
    value = ages[0] + ages[1] + ages[2] + ages[3]
    idle_since = stock.last_issue_at or (stock.batches[0].received_at if stock.batches else None)
    dead = (
        stock.on_hand > 0
        and now is not None
        and idle_since is not None
        and (now - idle_since).total_seconds() / 86_400 >= dead_after_days
    )
    unit_cost = (state.master.unit_cost if state.master else 0.0) or (
        value / 100 / shelved if shelved > 0 else 0.0
    )
    daily_demand = stock.policy.daily_demand if stock.policy else 0.0
    severities = dict.fromkeys(SEVERITIES, 0)
    at_risk: dict[str, float] = {}
    for alert in state.alerts.alerts.values():
        if alert.warehouse_id != warehouse_id:
            continue
        severities[alert.severity] = severities.get(alert.severity, 0) + 1
        kind = risk_kind(alert.rule_id, alert.labels)
        at_risk[kind] = max(at_risk.get(kind, 0.0), alert.values.get(VALUE_AT_RISK) or 0.0)
    requests = dict.fromkeys(REQUEST_STATES, 0)
    amount = 0
    for request in state.requests.open.values():
        if request.warehouse_id == warehouse_id and request.status.value in requests:
            requests[request.status.value] += 1
            amount += cents(request.amount)
    last, previous, quarter, year = _flow_windows(stock, now)
    return Totals(
        1,
        value,
        micro(stock.on_hand),
        *ages,
        int(dead),
        value if dead else 0,
        cents(max(daily_demand, 0.0) * unit_cost),
        severities["critical"],
        severities["warning"],
        severities["info"],
        sum(cents(v) for v in at_risk.values()),
        requests["proposed"],
        requests["pending_approval"],
        requests["approved"],
        amount,
        *last,
        *previous,
        quarter.issued,
        quarter.value_days,
        year.issued,
        year.value_days,
    )


def _flow_windows(
    stock: WarehouseStock, now: datetime | None
) -> tuple[FlowSums, FlowSums, FlowSums, FlowSums]:
    """The stock's flow over the last 30 days, the 30 before, 90 and 365 days, at ``now``."""
    if now is None:
        return FlowSums(), FlowSums(), FlowSums(), FlowSums()
    flow = stock.flow
    if flow.day is not None and now.date() > flow.day:
        # Days since the stock's last change close at the stock as it stands; on a copy.
        stock = stock.model_copy(update={"flow": flow.model_copy(deep=True)})
        stock.roll_flow(now.date())
        flow = stock.flow
    return (
        flow.window(TREND_DAYS),
        flow.window(TREND_DAYS, skip=TREND_DAYS),
        flow.window(90),
        flow.window(365),
    )


class HealthFilter(BaseModel):
    """Which stock a summary or list covers: by warehouse, category, ABC class, alert severity.

    ``None`` is no filter; ``severity`` applies to lists (materials with an
    open alert of that severity).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse: str | None = None
    category: str | None = None
    abc: str | None = None
    severity: str | None = None

    def covers(self, cell: CellKey) -> bool:
        """Whether a summary cell is inside the filter."""
        warehouse, category, abc = cell
        return (
            (self.warehouse is None or warehouse == self.warehouse)
            and (self.category is None or category == self.category)
            and (self.abc is None or abc == self.abc)
        )

    def warehouses_of(self, health: MaterialHealth) -> list[str]:
        """The warehouses of a material inside the filter (none: the material is not)."""
        if (self.category is not None and health.category != self.category) or (
            self.abc is not None and health.abc_class != self.abc
        ):
            return []
        warehouses = [w for w in health.stocks if self.warehouse in (None, w)]
        if self.severity is not None:
            alerting = {a.warehouse_id for a in health.alerts if a.severity == self.severity}
            warehouses = [w for w in warehouses if w in alerting]
        return warehouses


class HealthSummary:
    """Inventory-health totals by cell (warehouse x category x ABC class), over many materials.

    Add and subtract materials' contributions, merge summaries of several
    partitions: all exact, so the order never matters. Cells whose totals
    come to zero are dropped, so equal stock gives equal summaries.
    """

    __slots__ = ("cells",)

    def __init__(self, cells: Mapping[CellKey, Totals] | None = None) -> None:
        self.cells: dict[CellKey, Totals] = {k: v for k, v in (cells or {}).items() if any(v)}

    @classmethod
    def of(cls, healths: Iterable[MaterialHealth]) -> "HealthSummary":
        """The summary of these materials, recomputed from scratch."""
        summary = cls()
        for health in healths:
            summary.replace(None, health)
        return summary

    def replace(self, old: MaterialHealth | None, new: MaterialHealth | None) -> set[CellKey]:
        """Swap a material's old contribution for its new one; the cells that changed."""
        old_cells = old.cells() if old else {}
        new_cells = new.cells() if new else {}
        changed = set()
        for key in old_cells.keys() | new_cells.keys():
            before, after = old_cells.get(key, ZERO), new_cells.get(key, ZERO)
            if before != after:
                self.add(key, after.minus(before))
                changed.add(key)
        return changed

    def merge(self, other: "HealthSummary") -> "HealthSummary":
        """A new summary of both (e.g. two partitions)."""
        merged = HealthSummary(self.cells)
        for key, totals in other.cells.items():
            merged.add(key, totals)
        return merged

    def filtered(self, health_filter: HealthFilter) -> "HealthSummary":
        """The cells inside the filter."""
        return HealthSummary({k: v for k, v in self.cells.items() if health_filter.covers(k)})

    def total(self) -> Totals:
        """Totals over every cell."""
        total = ZERO
        for totals in self.cells.values():
            total = total.plus(totals)
        return total

    def by(self, *dimensions: str) -> dict[tuple[str, ...], Totals]:
        """Totals by some of ``warehouse``, ``category``, ``abc`` (the risk map: the first two)."""
        index = [("warehouse", "category", "abc").index(d) for d in dimensions]
        grouped: dict[tuple[str, ...], Totals] = {}
        for key, totals in self.cells.items():
            group = tuple(key[i] for i in index)
            grouped[group] = grouped.get(group, ZERO).plus(totals)
        return grouped

    def __iter__(self) -> Iterator[tuple[CellKey, Totals]]:
        return iter(self.cells.items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HealthSummary) and self.cells == other.cells

    def __repr__(self) -> str:
        return f"HealthSummary({len(self.cells)} cells)"

    def add(self, key: CellKey, delta: Totals) -> None:
        """Add totals to one cell (another worker's, or a material's change)."""
        totals = self.cells.get(key, ZERO).plus(delta)
        if any(totals):
            self.cells[key] = totals
        else:
            self.cells.pop(key, None)


def summary_report(summary: HealthSummary, health_filter: HealthFilter) -> dict[str, object]:
    """The dashboard's summary: totals, and totals by warehouse, category, ABC class and cell.

    ``risk_map`` has one entry per warehouse x category: its worst open
    severity colours the cell, its value at risk sizes it.
    """
    inside = summary.filtered(health_filter)

    def grouped(*dimensions: str) -> list[dict[str, object]]:
        return [
            {**dict(zip(dimensions, group, strict=True)), **totals.report()}
            for group, totals in sorted(inside.by(*dimensions).items())
        ]

    return {
        "filters": health_filter.model_dump(exclude_none=True, exclude={"severity"}),
        "totals": inside.total().report(),
        "by_warehouse": grouped("warehouse"),
        "by_category": grouped("category"),
        "by_abc": grouped("abc"),
        "risk_map": [
            {
                "warehouse": warehouse,
                "category": category,
                "worst_severity": totals.worst_severity,
                "value_at_risk": totals.value_at_risk / 100,
                "stock_items": totals.stock_items,
            }
            for (warehouse, category), totals in sorted(inside.by("warehouse", "category").items())
        ],
    }
