"""Daily demand in event time: buckets that close as time passes, zeros included.

A day closes once event time has moved ``grace_days`` past its end; its total
is then fed to the forecaster. Every calendar day between the first event
and the last closed day is fed exactly once, so a quiet spell counts as the
zeros it was rather than being skipped. Demand that arrives for a day already
closed is late: it still moves stock, but the model has moved on, so it is
only counted.
"""

from datetime import date, timedelta

from pydantic import BaseModel, Field

from models.drift import PageHinkley
from models.forecast import DemandForecaster

SHIFT_DETECTOR = {"delta": 0.5, "threshold": 8.0}
"""Page-Hinkley on demand in units of its own standard deviation, so one setting fits a
bolt and a motor: tolerance 0.5 σ a day, alarm at 8 σ of accumulated drift (CUSUM-like
k = 0.5, h = 8). After half a year of steady Poisson demand, a 75 % level rise is flagged
in a median of 4 days at 20 units a day (90 % within 5), 8 days at 5 a day (90 % within 12)
and 20 days at 1 a day, where 28 % go unflagged for 60 days; steady demand raises 0.1-0.2
false alarms per material-year (``benchmarks/demand_shift.py``, 200 materials per rate;
``tests/unit/models/test_demand_shift.py`` keeps it so)."""

MAX_CATCH_UP_DAYS = 730
"""A jump in event time longer than this feeds only its last two years of zeros."""


class DailyDemand(BaseModel):
    """Demand buckets of one material in one warehouse, and the forecaster they feed."""

    first_day: date | None = None
    closed_through: date | None = Field(None, description="Last day fed to the forecaster.")
    open_days: dict[date, float] = Field(default_factory=dict)
    late_quantity: float = 0.0
    late_events: int = 0
    forecaster: DemandForecaster = Field(default_factory=DemandForecaster.new)
    drift: PageHinkley = Field(default_factory=lambda: PageHinkley(**SHIFT_DETECTOR))
    last_shift_on: date | None = Field(None, description="Last day a demand shift was flagged.")

    def start(self, day: date) -> None:
        """Begin counting days at ``day`` (the first event seen for this stock)."""
        if self.first_day is None:
            self.first_day = day
            self.closed_through = day - timedelta(days=1)

    def next_day_to_learn(self, today: date) -> date:
        """The day the forecaster's next forecast is for."""
        if self.closed_through is None:
            return today
        return self.closed_through + timedelta(days=1)

    def record(self, day: date, quantity: float) -> bool:
        """Add demand to its day; False (and counted as late) if that day is already closed."""
        self.start(day)
        if self.closed_through is not None and day <= self.closed_through:
            self.late_events += 1
            self.late_quantity = round(self.late_quantity + quantity, 6)
            return False
        self.open_days[day] = round(self.open_days.get(day, 0.0) + quantity, 6)
        return True

    def advance(self, today: date, grace_days: int) -> int:
        """Close every day that ended more than ``grace_days`` before ``today``; return how many."""
        if self.closed_through is None:
            return 0
        last_closable = today - timedelta(days=grace_days + 1)
        earliest = last_closable - timedelta(days=MAX_CATCH_UP_DAYS)
        if self.closed_through < earliest:
            self.closed_through = earliest
            self.open_days = {d: q for d, q in self.open_days.items() if d > earliest}
        closed = 0
        while self.closed_through < last_closable:
            day = self.closed_through + timedelta(days=1)
            demand = self.open_days.pop(day, 0.0)
            self.forecaster.learn_one(demand)
            spread = self.forecaster.profile.demand_std
            if spread > 0 and self.drift.update(demand / spread):
                self.last_shift_on = day
            self.closed_through = day
            closed += 1
        return closed
