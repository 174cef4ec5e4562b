"""Supplier lead times learned from receipts: order time to receipt time, per supplier.

Until a supplier has delivered ``MIN_RECEIPTS`` times for a material, the
material master's default lead time stands in, with an assumed coefficient of
variation. Lines already past their ETA are counted as provisional samples
(their lead time is at least their age), so a supplier running late raises
the mean and widens σ before the goods arrive, exactly when it matters.

A receipt is planned with from the day after it, like a day of demand, which
the forecast takes in once the day has closed: a lead time is a planning
parameter, and the day's other news (the order a buyer places that evening
for the goods now running down) belongs to the same evaluation. Taken in at
once, the receipt that switched the master's 14 days to the learned 30 raised
a ``stockout_risk`` at 10:00 that the ERP's order cleared at 18:00 (issue
#15); taken in at midnight, the switch is judged with that order in transit.
"""

import math
from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, Field

MIN_RECEIPTS = 3
PRIOR_CV = 0.2  # σ of lead time / mean, until receipts say otherwise


class LeadTimeStats(BaseModel):
    """Running mean and variance (Welford) of one supplier's lead times, in days.

    >>> stats = LeadTimeStats()
    >>> for days in (10, 12, 14):
    ...     stats.learn_one(days)
    >>> stats.mean, round(stats.sigma, 3)
    (12.0, 2.0)
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    last_received_on: date | None = Field(None, description="Day of the latest receipt.")
    received_that_day: list[float] = Field(
        default_factory=list,
        description="Lead times received on last_received_on: planned with from the next day.",
    )

    def learn_one(self, lead_time_days: float, received_on: date | None = None) -> None:
        """Add one observed lead time; with ``received_on``, planned with from the next day."""
        self.count += 1
        delta = lead_time_days - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (lead_time_days - self.mean)
        if received_on is None or (
            self.last_received_on is not None and received_on < self.last_received_on
        ):
            return  # an earlier day's receipt, come late: that day has closed
        if received_on != self.last_received_on:
            self.received_that_day = []
        self.last_received_on = received_on
        self.received_that_day.append(lead_time_days)

    @property
    def sigma(self) -> float:
        """Sample standard deviation; 0 with fewer than two receipts."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0

    def as_of(self, today: date) -> "LeadTimeStats":
        """The statistics to plan with on ``today``: receipts of today not taken in yet.

        >>> stats = LeadTimeStats()
        >>> stats.learn_one(10, date(2026, 3, 1))
        >>> stats.learn_one(30, date(2026, 3, 2))
        >>> stats.as_of(date(2026, 3, 2)).mean, stats.as_of(date(2026, 3, 3)).mean
        (10.0, 20.0)
        """
        if not self.received_that_day or self.last_received_on is None:
            return self
        if self.last_received_on < today:
            return self
        earlier = LeadTimeStats(count=self.count, mean=self.mean, m2=self.m2)
        for days in self.received_that_day:
            earlier._forget(days)
        return earlier

    def _forget(self, lead_time_days: float) -> None:
        """Welford in reverse: the statistics as they were before ``lead_time_days``."""
        if self.count <= 1:
            self.count, self.mean, self.m2 = 0, 0.0, 0.0
            return
        before = (self.count * self.mean - lead_time_days) / (self.count - 1)
        self.m2 = max(self.m2 - (lead_time_days - before) * (lead_time_days - self.mean), 0.0)
        self.count -= 1
        self.mean = before

    def estimate(
        self, default_days: float, overdue_ages: Iterable[float] = ()
    ) -> tuple[float, float]:
        """(mean, σ) of the lead time to plan with.

        ``overdue_ages`` are ages in days of open lines past their ETA: their
        lead time is at least that, so they join the sample provisionally.

        >>> LeadTimeStats().estimate(10)
        (10.0, 2.0)
        >>> s = LeadTimeStats(count=3, mean=12.0, m2=8.0)
        >>> mean, sigma = s.estimate(10, overdue_ages=[20])
        >>> mean, round(sigma, 2)
        (14.0, 4.32)
        """
        extra = list(overdue_ages)
        if self.count + len(extra) < MIN_RECEIPTS:
            base = max(default_days, *extra) if extra else default_days
            return float(base), PRIOR_CV * base
        combined = LeadTimeStats(count=self.count, mean=self.mean, m2=self.m2)
        for age in extra:
            combined.learn_one(age)
        return combined.mean, combined.sigma
