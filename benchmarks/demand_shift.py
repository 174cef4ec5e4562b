"""Demand-shift benchmark: how fast the Page-Hinkley detector flags a level rise, how often it errs.

``models.demand.SHIFT_DETECTOR`` states a detection speed and a false-alarm
rate; this measures both on the path a material's demand takes in the
worker (``DailyDemand``: closed days feed the forecaster, and the detector
sees each day's demand in units of its standard deviation so far). Pure
core, no Kafka, seeded.

* Detection: Poisson demand at a steady rate for half a year, then 75 %
  higher for 60 days; the delay is the number of days from the first higher
  day to the first flag, counting that day (a flag on it is a delay of 1).
* False alarms: two years of steady Poisson demand; flags after the first
  60 days (while the detector still learns its mean) per material-year.

    .venv/bin/python benchmarks/demand_shift.py [--materials 200]
"""

import argparse
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from models.demand import DailyDemand

STEADY_DAYS = 182
SHIFTED_DAYS = 60
RISE = 1.75
FALSE_ALARM_DAYS = 730
LEARNING_DAYS = 60
START = date(2025, 1, 5)


@dataclass(frozen=True)
class Detection:
    """Delays (days) of the materials whose shift was flagged, and how many were not."""

    delays: list[int]
    missed: int

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the delays, in days (inclusive method)."""
        return float(np.quantile(self.delays, q))


def flag_days(daily_rates: list[float], seed: int) -> list[int]:
    """Days (0-based) on which a material with Poisson demand at these daily rates is flagged."""
    rng = np.random.default_rng(seed)
    demand = DailyDemand()
    flags = []
    for index, rate in enumerate(daily_rates):
        day = START + timedelta(days=index)
        demand.record(day, float(rng.poisson(rate)))
        flagged_before = demand.last_shift_on
        demand.advance(day + timedelta(days=1), grace_days=0)
        if demand.last_shift_on != flagged_before:
            flags.append((demand.last_shift_on - START).days)
    return flags


def detection(rate: float, materials: int, first_seed: int = 0) -> Detection:
    """Delays to flag a 75 % rise after half a year at ``rate`` a day, over ``materials``."""
    rates = [rate] * STEADY_DAYS + [rate * RISE] * SHIFTED_DAYS
    delays, missed = [], 0
    for seed in range(first_seed, first_seed + materials):
        after = [day for day in flag_days(rates, seed) if day >= STEADY_DAYS]
        if after:
            delays.append(after[0] - STEADY_DAYS + 1)
        else:
            missed += 1
    return Detection(delays, missed)


def false_alarms_per_year(rate: float, materials: int, first_seed: int = 10_000) -> float:
    """Flags per material-year on steady demand at ``rate`` a day, after the learning days."""
    flags = sum(
        sum(1 for day in flag_days([rate] * FALSE_ALARM_DAYS, seed) if day >= LEARNING_DAYS)
        for seed in range(first_seed, first_seed + materials)
    )
    return flags / (materials * (FALSE_ALARM_DAYS - LEARNING_DAYS) / 365)


def main(materials: int) -> None:
    print(f"{materials} materials per rate; 75 % rise after {STEADY_DAYS} steady days")
    print("rate/day  delay p25  median  p75  p90  missed in 60 d  false alarms/material-year")
    for rate in (1.0, 5.0, 20.0):
        found = detection(rate, materials)
        quartiles = [found.quantile(q) for q in (0.25, 0.5, 0.75, 0.9)]
        print(
            f"{rate:8.0f}  {quartiles[0]:9.1f}  {quartiles[1]:6.1f}  {quartiles[2]:3.0f}  "
            f"{quartiles[3]:3.0f}  {found.missed / materials:14.0%}  "
            f"{false_alarms_per_year(rate, materials):26.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", type=int, default=200, help="Seeded materials per rate.")
    main(parser.parse_args().materials)
