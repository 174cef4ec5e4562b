"""Priority of an alert by value at risk in money: which of ten alerts costs the most.

Money is the one scale every rule shares. A shortage puts orders at risk:
the value of order lines that would not be served on their due date
(supply netted by quantity and date), weighted by the customer's tier, plus
the penalties their contracts carry. Stock that does not move ties up
capital: its holding cost (a yearly rate of its value, for the days it is
held) plus, for dead stock and aged batches, the share expected to be
written off. ``ValueAtRisk`` says what the total is made of; the weights
and rates are settings (``PriorityConfig``). Days of cover breaks ties: of
two alerts with the same value at risk, the one that runs out sooner comes
first.
"""

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.alerts import MATERIAL_CHANGE

if TYPE_CHECKING:
    # models.state imports models.planning, which imports this module.
    from models.state import WarehouseStock

TIE_BREAK = 0.001

CUSTOMER_WEIGHT = {1: 3.0, 2: 2.0, 3: 1.0, 4: 0.75, 5: 0.5}
"""Weight of an unserved order by customer priority (1 = key account)."""


class PriorityConfig(BaseModel):
    """How value at risk is priced: customer weights, holding cost, write-off, update threshold.

    One per deployment (settings: ``STOCKLOOP_PLANNING__PRIORITY__HOLDING_COST_RATE=0.2``,
    ``STOCKLOOP_PLANNING__PRIORITY__CUSTOMER_WEIGHTS='{"1": 4.0}'``).
    """

    model_config = ConfigDict(frozen=True)

    customer_weights: Mapping[Annotated[int, Field(ge=1, le=5)], Annotated[float, Field(ge=0)]] = (
        Field(
            default_factory=lambda: dict(CUSTOMER_WEIGHT),
            description="Weight of an unserved order's value by customer priority "
            "(1 = key account ... 5); tiers not given keep their default weight.",
        )
    )
    holding_cost_rate: float = Field(
        0.25,
        ge=0,
        description="Cost of holding stock per year, as a share of its value "
        "(capital, storage, insurance); prices stock that does not move.",
    )
    write_off_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of the value of dead stock or an aged batch expected to be written off.",
    )
    update_threshold: float = Field(
        MATERIAL_CHANGE,
        ge=MATERIAL_CHANGE,
        description="An open alert's value at risk is published again (updated) when it moves "
        "by more than this share (0.1 = 10 %) since it was last published; at least the alert "
        "lifecycle's own threshold for a material change.",
    )

    @field_validator("customer_weights", mode="after")
    @classmethod
    def _keep_default_tiers(cls, weights: Mapping[int, float]) -> dict[int, float]:
        # A setting that re-weighs the key account alone must not unweigh the other tiers.
        return {**CUSTOMER_WEIGHT, **weights}

    def customer_weight(self, customer_priority: int) -> float:
        """Weight of an unserved order of a customer of this priority."""
        return self.customer_weights.get(customer_priority, 1.0)


class RiskKind(StrEnum):
    """What an alert puts at risk, so what its value at risk counts.

    Picked by the rule's ``action`` label (``risk_kind``), else by its id:
    shortage rules (``stockout_risk``, ``below_safety_stock``,
    ``supply_demand_gap`` and any rule not listed) price the orders that
    would go unserved; the stock rules price the stock that does not move.
    """

    SHORTAGE = "shortage"
    DEAD_STOCK = "dead_stock"
    AGED_BATCH = "aged_batch"
    OVERSTOCK = "overstock"


KIND_BY_ACTION = {
    "dead_stock_review": RiskKind.DEAD_STOCK,
    "batch_review": RiskKind.AGED_BATCH,
    "rebalance": RiskKind.OVERSTOCK,
}
"""Risk kind by the rule's ``action`` label (the response it calls for)."""

KIND_BY_RULE = {
    "dead_stock": RiskKind.DEAD_STOCK,
    "aged_batch": RiskKind.AGED_BATCH,
    "overstock": RiskKind.OVERSTOCK,
}
"""Risk kind of the built-in stock rules by id, for a copy without an ``action`` label."""


def risk_kind(rule_id: str, labels: Mapping[str, str]) -> RiskKind:
    """What a rule's alerts put at risk: by its ``action`` label, else its id, else shortage.

    >>> risk_kind("my_dead_stock", {"action": "dead_stock_review"})
    <RiskKind.DEAD_STOCK: 'dead_stock'>
    >>> risk_kind("supply_demand_gap", {"action": "expedite"})
    <RiskKind.SHORTAGE: 'shortage'>
    """
    return KIND_BY_ACTION.get(
        labels.get("action", ""), KIND_BY_RULE.get(rule_id, RiskKind.SHORTAGE)
    )


class ValueAtRisk(BaseModel):
    """What a value at risk is made of, in money: the parts add up to the total.

    ``capital_tied_up`` is the stock's value that holding cost and write-off
    are shares of; it is stated, not added.
    """

    unserved_orders: float = Field(
        0.0, description="Order value not served on its due date, weighted by customer tier."
    )
    penalties: float = Field(
        0.0, description="Contractual penalties: per day late, per unit short."
    )
    holding_cost: float = Field(
        0.0, description="Capital tied up x holding-cost rate x days held / 365."
    )
    write_off: float = Field(0.0, description="Write-off share x capital (dead stock, aged batch).")
    capital_tied_up: float = Field(0.0, description="Value of the stock in question; not added.")

    @property
    def total(self) -> float:
        """The value at risk: the sum of the parts."""
        return round(self.unserved_orders + self.penalties + self.holding_cost + self.write_off, 2)

    def describe(self) -> str:
        """The parts for a person, largest meaning first.

        >>> ValueAtRisk(holding_cost=3099.32, write_off=12500, capital_tied_up=25000).describe()
        'holding 3,099 + write-off 12,500 of 25,000 tied up'
        >>> ValueAtRisk(unserved_orders=2280, penalties=37500).describe()
        'orders 2,280 + penalties 37,500'
        >>> ValueAtRisk().describe()
        'nothing at risk'
        """
        parts = [
            f"{name} {value:,.0f}"
            for name, value in (
                ("orders", self.unserved_orders),
                ("penalties", self.penalties),
                ("holding", self.holding_cost),
                ("write-off", self.write_off),
            )
            if value
        ]
        text = " + ".join(parts) or "nothing at risk"
        if self.capital_tied_up:
            text += f" of {self.capital_tied_up:,.0f} tied up"
        return text


class Priority(BaseModel):
    """How much an alert matters, and the numbers behind it.

    ``kind`` and ``made_of`` default so that alerts published before they
    existed still read.
    """

    value_at_risk: float
    unserved_quantity: float
    next_receipt: date | None
    score: float
    kind: RiskKind = RiskKind.SHORTAGE
    made_of: ValueAtRisk = Field(default_factory=ValueAtRisk)


DEFAULT_PRIORITY = PriorityConfig()


def priority_of(
    stock: "WarehouseStock",
    days_of_cover: float | None,
    now: datetime,
    kind: RiskKind = RiskKind.SHORTAGE,
    config: PriorityConfig = DEFAULT_PRIORITY,
) -> Priority:
    """Value at risk of one material in one warehouse, in money, and a sortable score.

    ``now`` is the event time of the evaluation; ``kind`` says what the
    alert puts at risk (``risk_kind``). Shortage: the netted unserved order
    value and penalties (``shortage_value``). Dead stock: the whole shelf,
    held since its last issue (or oldest receipt). Aged batch: the oldest
    batch, held since its receipt. Both cost ``capital x holding_cost_rate x
    days / 365`` plus ``write_off_share x capital``. Overstock: the excess
    over the order-up-to level, valued at the shelf's average cost, for a
    year's holding cost (``capital x holding_cost_rate``), no write-off.

    >>> from datetime import UTC
    >>> from models.state import Batch, CommittedLine, WarehouseStock
    >>> stock = WarehouseStock(on_hand=10)
    >>> stock.committed_lines["SO1/1"] = CommittedLine(order_id="SO1", line_id="1",
    ...     quantity=30, shipped_quantity=0, due_date=date(2026, 5, 2), unit_price=4.0,
    ...     customer_id="C1", customer_priority=1)
    >>> now = datetime(2026, 5, 1, tzinfo=UTC)
    >>> p = priority_of(stock, days_of_cover=2.0, now=now)
    >>> p.unserved_quantity, p.value_at_risk
    (20.0, 240.0)
    >>> spare = WarehouseStock(on_hand=100, batches=[Batch(batch_id=None,
    ...     received_at=now - timedelta(days=181), quantity=100, unit_cost=250)])
    >>> dead = priority_of(spare, None, now, RiskKind.DEAD_STOCK)
    >>> dead.value_at_risk, dead.made_of.describe()
    (15599.32, 'holding 3,099 + write-off 12,500 of 25,000 tied up')
    """
    next_receipt = min((line.eta for line in stock.supply_lines.values()), default=None)
    unserved = 0.0
    match kind:
        case RiskKind.SHORTAGE:
            unserved, made_of = shortage_value(stock, now.date(), config)
        case RiskKind.DEAD_STOCK:
            quiet_since = stock.last_issue_at or (
                stock.batches[0].received_at if stock.batches else None
            )
            made_of = _tied_up(stock.inventory_value, _days(now, quiet_since), config, True)
        case RiskKind.AGED_BATCH:
            oldest = stock.batches[0] if stock.batches else None
            capital = oldest.quantity * oldest.unit_cost if oldest else 0.0
            made_of = _tied_up(capital, oldest.age_days(now) if oldest else 0.0, config, True)
        case RiskKind.OVERSTOCK:
            made_of = _excess(stock, config)
    value_at_risk = made_of.total
    cover = days_of_cover if days_of_cover is not None else 365.0
    return Priority(
        value_at_risk=value_at_risk,
        unserved_quantity=round(unserved, 6),
        next_receipt=next_receipt,
        # Value at risk moves in cents; the cover term stays below a tenth of a cent,
        # so it only ever orders alerts whose values at risk are equal.
        score=round(value_at_risk + TIE_BREAK / (1.0 + max(cover, 0.0)), 6),
        kind=kind,
        made_of=made_of,
    )


def shortage_value(
    stock: "WarehouseStock", today: date, config: PriorityConfig = DEFAULT_PRIORITY
) -> tuple[float, ValueAtRisk]:
    """Order quantity not served on its due date, and what it costs.

    Supply nets by quantity and date: on hand serves the open order lines
    earliest due date first (key accounts first within a day), and each open
    receipt joins the stock on its ETA, so it serves only the lines due on
    or after that day, and only as far as its quantity goes: a 64-unit
    receipt before a 474-unit line covers 64 units of it. A shortfall is
    not carried to a later receipt: that receipt serves the lines due after
    it (the unserved total is then what demand exceeds supply by, on time).

    The cost of a line's shortfall is its value times its customer's weight,
    plus its penalties: ``penalty_per_unit_short`` per unit short and
    ``penalty_per_day_late`` per day from its due date until supply can come:
    the first receipt due after it or an order placed today (after the lead
    time), whichever is sooner (late days never below 0).

    >>> from models.state import CommittedLine, SupplyLine, WarehouseStock
    >>> from datetime import UTC
    >>> stock = WarehouseStock(on_hand=0)
    >>> stock.committed_lines["SO7/1"] = CommittedLine(order_id="SO7", line_id="1",
    ...     quantity=474, shipped_quantity=0, due_date=date(2026, 3, 7), unit_price=19.0,
    ...     customer_id="KEY", customer_priority=1)
    >>> stock.supply_lines["PO1"] = SupplyLine(line_id="PO1", supplier_id="S1", quantity=64,
    ...     received_quantity=0, ordered_at=datetime(2026, 2, 25, tzinfo=UTC),
    ...     eta=date(2026, 3, 4))
    >>> unserved, made_of = shortage_value(stock, date(2026, 3, 2))
    >>> unserved, made_of.unserved_orders
    (410.0, 23370.0)
    """
    receipts = sorted(
        (line.eta, quantity)
        for line in stock.supply_lines.values()
        if (quantity := line.open_quantity) > 0
    )
    lead_days = math.ceil(stock.policy.lead_time_days) if stock.policy else 0
    replenished_on = today + timedelta(days=lead_days)
    pool = max(stock.on_hand, 0.0)
    arrived = 0
    unserved = orders = penalties = 0.0
    lines = sorted(
        stock.committed_lines.values(),
        key=lambda line: (line.due_date, line.customer_priority, line.order_id, line.line_id),
    )
    for line in lines:
        while arrived < len(receipts) and receipts[arrived][0] <= line.due_date:
            pool += receipts[arrived][1]
            arrived += 1
        open_quantity = line.open_quantity
        served = min(pool, open_quantity)
        pool -= served
        short = open_quantity - served
        if short <= 1e-9:
            continue
        unserved += short
        orders += short * line.unit_price * config.customer_weight(line.customer_priority)
        penalties += short * line.penalty_per_unit_short
        if line.penalty_per_day_late:
            supplied_on = replenished_on
            if arrived < len(receipts):
                supplied_on = min(receipts[arrived][0], replenished_on)
            penalties += line.penalty_per_day_late * max((supplied_on - line.due_date).days, 0)
    return unserved, ValueAtRisk(unserved_orders=round(orders, 2), penalties=round(penalties, 2))


def _days(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds() / 86_400, 0.0) if since else 0.0


def _tied_up(capital: float, days: float, config: PriorityConfig, written_off: bool) -> ValueAtRisk:
    """Holding cost of ``capital`` for ``days``, and its write-off exposure if it may not sell."""
    capital = max(capital, 0.0)
    return ValueAtRisk(
        holding_cost=round(capital * config.holding_cost_rate * days / 365, 2),
        write_off=round(capital * config.write_off_share, 2) if written_off else 0.0,
        capital_tied_up=round(capital, 2),
    )


def _excess(stock: "WarehouseStock", config: PriorityConfig) -> ValueAtRisk:
    """A year's holding cost of the stock above the order-up-to level.

    A year, not the days the forecast would take to use the excess up: that
    makes the cost grow with the square of the excess and jump with every
    nightly forecast, and each jump would be published as news.
    """
    policy = stock.policy
    shelved = sum(batch.quantity for batch in stock.batches)
    if policy is None or shelved <= 0:
        return ValueAtRisk()
    excess = max(stock.available - policy.order_up_to, 0.0)
    unit_cost = stock.inventory_value / shelved
    return _tied_up(excess * unit_cost, 365.0, config, written_off=False)
