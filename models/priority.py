"""Priority of an alert by value at risk: which of ten alerts costs the most.

Value at risk is the value of confirmed order lines that would go unserved
before the next receipt, served earliest due date first from what is on
hand, each weighted by its customer's priority. Days of cover breaks ties:
of two alerts with the same value at risk, the one that runs out sooner
comes first.
"""

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
        0.1,
        ge=0,
        description="An open alert's value at risk is published again when it moves by more "
        "than this share (0.1 = 10 %) since it was last published.",
    )

    @field_validator("customer_weights", mode="after")
    @classmethod
    def _keep_default_tiers(cls, weights: Mapping[int, float]) -> dict[int, float]:
        # A setting that re-weighs the key account alone must not unweigh the other tiers.
        return {**CUSTOMER_WEIGHT, **weights}

    def customer_weight(self, customer_priority: int) -> float:
        """Weight of an unserved order of a customer of this priority."""
        return self.customer_weights.get(customer_priority, 1.0)


class Priority(BaseModel):
    """How much an alert matters, and the numbers behind it."""

    value_at_risk: float
    unserved_quantity: float
    next_receipt: date | None
    score: float


def priority_of(stock: "WarehouseStock", days_of_cover: float | None) -> Priority:
    """Value at risk of one material in one warehouse, and a sortable score.

    >>> from models.state import CommittedLine, WarehouseStock
    >>> stock = WarehouseStock(on_hand=10)
    >>> stock.committed_lines["SO1/1"] = CommittedLine(order_id="SO1", line_id="1",
    ...     quantity=30, shipped_quantity=0, due_date=date(2026, 5, 2), unit_price=4.0,
    ...     customer_id="C1", customer_priority=1)
    >>> p = priority_of(stock, days_of_cover=2.0)
    >>> p.unserved_quantity, p.value_at_risk
    (20.0, 240.0)
    """
    next_receipt = min((line.eta for line in stock.supply_lines.values()), default=None)
    remaining = max(stock.on_hand, 0.0)
    unserved = value = 0.0
    for line in sorted(stock.committed_lines.values(), key=lambda line: line.due_date):
        if next_receipt is not None and line.due_date >= next_receipt:
            continue
        short = max(line.open_quantity - remaining, 0.0)
        remaining = max(remaining - line.open_quantity, 0.0)
        unserved += short
        value += short * line.unit_price * CUSTOMER_WEIGHT.get(line.customer_priority, 1.0)
    value_at_risk = round(value, 2)
    cover = days_of_cover if days_of_cover is not None else 365.0
    return Priority(
        value_at_risk=value_at_risk,
        unserved_quantity=round(unserved, 6),
        next_receipt=next_receipt,
        # Value at risk moves in cents; the cover term stays below a tenth of a cent,
        # so it only ever orders alerts whose values at risk are equal.
        score=round(value_at_risk + TIE_BREAK / (1.0 + max(cover, 0.0)), 6),
    )
