"""What a scenario promises: its story, its materials' demand classes, and the outcome to check.

A scenario is a small story told in ERP records. The promises live beside
the records so that a test can hold the records to them: each material's
demand class (Syntetos–Boylan, from its daily issues) in ``tests/unit``, the
story's outcome in the backtest, which reads ``expected`` and ``facts``.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from connectors.simulator import Record
from models.forecast import DemandClass


@dataclass(frozen=True)
class DemandClaim:
    """The demand class a material's daily demand has, in every warehouse where it has demand.

    The series is what was asked for, per day, zero days included, over days
    ``first_day`` to ``last_day`` of the history (counted from 0, both
    included; None: the last day): the quantity of sales order lines on
    their due date, plus issues that ship no order (to production, a shop's
    sales). It is what the worker's forecaster learns from issues as long as
    stock lasts; in a stock-out the ERP issues less, or later, than was
    asked, so a class read from issues would depend on the policy that ran
    out. ``pattern`` names what the generator drew, which can say more than
    the class: seasonal demand is smooth to Syntetos–Boylan.
    """

    demand_class: DemandClass
    pattern: str
    first_day: int = 0
    last_day: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A seeded story of ERP traffic, with the numbers a reader or a test can check.

    ``expected`` says in words and numbers what should happen: what
    stockloop does and what the static min/max of the recorded history did.
    ``facts`` are the story's fixed numbers (dates, lead times, quantities),
    the same for every seed, for the backtest to assert on.
    """

    name: str
    story: str
    start: date
    days: int
    warehouses: tuple[str, ...]
    demand: Mapping[str, DemandClaim]
    expected: str
    facts: Mapping[str, str | int | float]
    build: Callable[[int], Iterator[Record]]

    @property
    def end(self) -> date:
        """The last day of the history."""
        return self.start + timedelta(days=self.days - 1)

    def records(self, seed: int = 42) -> Iterator[Record]:
        """The story's records, each topic in event-time order; the same seed, the same bytes."""
        return self.build(seed)
