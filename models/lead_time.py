"""Supplier lead times learned from receipts: order time to receipt time, per supplier.

Until a supplier has delivered ``MIN_RECEIPTS`` times for a material, the
material master's default lead time stands in, with an assumed coefficient of
variation. Lines already past their ETA are counted as provisional samples
(their lead time is at least their age), so a supplier running late raises
the mean and widens σ before the goods arrive, exactly when it matters.
"""

import math
from collections.abc import Iterable

from pydantic import BaseModel

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

    def learn_one(self, lead_time_days: float) -> None:
        """Add one observed lead time."""
        self.count += 1
        delta = lead_time_days - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (lead_time_days - self.mean)

    @property
    def sigma(self) -> float:
        """Sample standard deviation; 0 with fewer than two receipts."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0

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
        combined = self.model_copy()
        for age in extra:
            combined.learn_one(age)
        return combined.mean, combined.sigma
