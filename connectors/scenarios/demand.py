"""Daily demand of the patterns a plant sees, drawn from a seeded generator.

Each pattern aims at one Syntetos–Boylan class with a margin from the
cut-offs (ADI 1.32, CV² 0.49), so that a few hundred days of it land in
that class whatever the seed: smooth and seasonal demand every day with
sizes varying little (CV² about 0.05 and 0.2); erratic every day with
sizes varying a lot (lognormal, CV² about 1.2); intermittent on about one
day in three with steady sizes; lumpy on about one day in four with sizes
varying a lot. Sizes are whole units, at least one.

>>> import random
>>> days = smooth(random.Random(1), 365, mean=20)
>>> len(days), min(days) > 0, 18 < sum(days) / 365 < 22
(365, True, True)
"""

import math
import random

ERRATIC_SIGMA = 0.89
"""σ of log sizes of erratic and lumpy demand: CV² = exp(σ²) - 1 ≈ 1.2."""


def _size(rng: random.Random, mean: float, cv: float) -> float:
    return float(max(1, round(rng.gauss(mean, cv * mean))))


def _lognormal_size(rng: random.Random, mean: float) -> float:
    mu = math.log(mean) - ERRATIC_SIGMA**2 / 2
    return float(max(1, round(rng.lognormvariate(mu, ERRATIC_SIGMA))))


def smooth(rng: random.Random, days: int, mean: float, cv: float = 0.22) -> list[float]:
    """Demand every day around ``mean``, varying by ``cv`` (its coefficient of variation)."""
    return [_size(rng, mean, cv) for _ in range(days)]


def seasonal(
    rng: random.Random, days: int, mean: float, amplitude: float = 0.5, peak_day: int = 0
) -> list[float]:
    """Smooth demand whose level swings ``amplitude`` either side of ``mean`` over a year.

    The level peaks on ``peak_day`` (counted from the first day). The swing
    adds its own variance to the sizes: amplitude 0.5 gives CV² about
    0.5²/2 + 0.05 ≈ 0.17, still smooth to Syntetos–Boylan.
    """
    return [
        _size(rng, mean * (1 + amplitude * math.cos(2 * math.pi * (day - peak_day) / 365)), 0.2)
        for day in range(days)
    ]


def erratic(rng: random.Random, days: int, mean: float) -> list[float]:
    """Demand every day, sizes lognormal around ``mean`` with CV² about 1.2."""
    return [_lognormal_size(rng, mean) for _ in range(days)]


def intermittent(
    rng: random.Random, days: int, probability: float, size: float, cv: float = 0.25
) -> list[float]:
    """Demand on a share ``probability`` of days, sizes around ``size`` varying by ``cv``."""
    return [_size(rng, size, cv) if rng.random() < probability else 0.0 for _ in range(days)]


def lumpy(rng: random.Random, days: int, probability: float, size: float) -> list[float]:
    """Demand on a share ``probability`` of days, sizes lognormal around ``size`` (CV² ≈ 1.2)."""
    return [_lognormal_size(rng, size) if rng.random() < probability else 0.0 for _ in range(days)]
